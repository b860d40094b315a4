"""Each option priced: its hours, fleet, cost and wall-clock per title, with the figures it was priced from, for
owned, reserved and on-demand GPUs (gpu_options), hosted API stacks (api_options) and the laptop (laptop_option).
Speech, QC and assembly run on the host CPU: their CPU seconds are reported as host CPU hours, not GPU-hours, and
cost nothing extra on a GPU server (its CPUs are in its price); an API option rents CPUs for QC and assembly at the
catalogue's vCPU rate. Each option keeps its cost shape and how to rebuild it for other work and utilisation, which
the break-evens and sweeps (plan.py) need.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dramafactory.catalogue import Api, ApiWork, Catalogue, PresetFigures, api_usd

from . import model as m
from .gpus import fit_of, resolve_speed
from .inputs import Inputs, declared
from .schema import Option, PlanRequest, Provenance, Quantity
from .sources import STAGE_OF
from .work import (
    STAGES,
    WALL_CLOCK_NOTE,
    GpuSpeeds,
    WallClock,
    Work,
    cpu_seconds_per_minute,
    gpu_seconds_per_minute,
    gpu_wall_clock,
)

if TYPE_CHECKING:
    from dramafactory.tools.presets import Preset


# --- options --------------------------------------------------------------------------------------------------------

@dataclass
class Priced:
    option: Option
    shape: m.CostShape | None
    rebuild: Callable[[Work, float], m.CostShape] | None = None  # (work, utilisation) -> shape, for the sweeps


def sig(value: float, digits: int = 6) -> float:
    """Rounded to significant digits: a laptop's $0.0027 a minute keeps its figures, a fleet's millions their cents."""
    return float(f"{value:.{digits}g}")


def _round(values: dict[str, float], digits: int = 4) -> dict[str, float]:
    return {k: round(v, digits) for k, v in values.items()}


def sawtooth_note(shape: m.CostShape, request: PlanRequest, fleet: int, unit: str) -> str | None:
    """Where one title more adds a whole GPU and that raises the cost per finished minute by 1% or more: say so."""
    if not shape.stepped or fleet < 1:
        return None
    titles = request.titles_per_month
    step = max(titles + 1, math.floor(fleet / shape.units_per_title))
    while shape.fleet(step) <= fleet:  # the first whole volume on the next fleet step
        step += 1
    while step - 1 > titles and shape.fleet(step - 1) > fleet:
        step -= 1
    here = shape.monthly(titles) / titles
    there = shape.monthly(step) / step
    if there < here * 1.01:
        return None
    per_minute = there / request.minutes_per_title
    return (f"whole {unit}: the cost per finished minute is a saw-tooth in volume: at {step:,} titles a month the "
            f"fleet needs {shape.fleet(step):,} {unit} and it rises {100 * (there / here - 1):.0f}% to "
            f"${sig(per_minute, 4):g}; at k times this volume (k = 2, 3, ...) it is never higher than here")


def _finish(option: Option, shape: m.CostShape, request: PlanRequest, unit_hours_per_title: float,
            breakdown: dict[str, float], fleet: int | None, wall: WallClock | None = None) -> Option:
    monthly = shape.monthly(request.titles_per_month)
    option.monthly_usd = round(monthly, 2)
    option.cost_per_finished_minute_usd = sig(monthly / request.minutes_per_month)
    option.cost_per_title_usd = sig(monthly / request.titles_per_month)
    option.cost_breakdown_usd = _round(breakdown, 2)
    option.fleet = fleet
    if unit_hours_per_title:
        if wall is not None:
            option.title_hours_one_unit = round(wall.one_unit, 4)
            if fleet:
                option.title_hours_fleet = round(wall.on_fleet(fleet), 6)
        if fleet:
            option.utilisation_actual = round(unit_hours_per_title * request.titles_per_month
                                              / (fleet * m.HOURS_PER_MONTH), 4)
    return option


def gpu_options(request: PlanRequest, gpu_id: str, cat: Catalogue, figs: PresetFigures, run_preset: Preset,
                inputs: Inputs, work: Work) -> list[Priced]:
    gpu = cat.gpus[gpu_id]
    fit = fit_of(request.preset, figs, gpu_id, cat)
    name = request.preset
    image, _ = resolve_speed("image", figs, gpu_id, cat, inputs.speeds, run_preset.image.steps, name)
    clip, clip_ref = resolve_speed("video", figs, gpu_id, cat, inputs.speeds, run_preset.video.steps, name)
    text, _ = resolve_speed("text", figs, gpu_id, cat, inputs.speeds, 1, name)
    video = run_preset.video
    cap = (video.max_frames - 1) / video.fps if video.max_frames and video.fps else work.shot_seconds
    clip_len = min(work.shot_seconds, cap)
    # a clip's compute grows with its frames: the figure for a clip_ref-second clip, at the average shot's length
    speeds = GpuSpeeds(image.value, clip.value * clip_len / (clip_ref or clip_len), text.value)
    onprem = cat.onprem
    amort = m.amortised_monthly(gpu.purchase_usd.value, onprem.life_years.value)
    hosting = m.hosting_monthly(gpu.board_power_w.value, onprem.server_power_factor.value,
                                onprem.hosting_usd_per_kw_month.value)
    staff = onprem.staff_usd_per_gpu_month.value
    power = m.power_usd_per_gpu_hour(gpu.board_power_w.value, onprem.server_power_factor.value, onprem.pue.value,
                                     onprem.usd_per_kwh.value)
    on_demand, reserved = gpu.cloud_on_demand_usd_h.value, gpu.cloud_reserved_usd_h.value
    entry = f"gpus.{gpu_id}"
    speed_figs = [image, clip.model_copy(update={"name": f"seconds per {clip_ref or clip_len:g} s clip"}), text]
    prices = {
        "on-prem": [declared("purchase", gpu.purchase_usd, "USD/GPU", f"{entry}.purchase_usd"),
                    declared("life", onprem.life_years, "years", "onprem.life_years"),
                    declared("board power", gpu.board_power_w, "W", f"{entry}.board_power_w"),
                    declared("server power factor", onprem.server_power_factor, "x", "onprem.server_power_factor"),
                    declared("PUE", onprem.pue, "x", "onprem.pue"),
                    declared("electricity", onprem.usd_per_kwh, "USD/kWh", "onprem.usd_per_kwh"),
                    declared("hosting", onprem.hosting_usd_per_kw_month, "USD/kW-month",
                           "onprem.hosting_usd_per_kw_month"),
                    declared("staff", onprem.staff_usd_per_gpu_month, "USD/GPU-month", "onprem.staff_usd_per_gpu_month")],
        "cloud on-demand": [declared("on-demand rate", gpu.cloud_on_demand_usd_h, "USD/GPU-h",
                                   f"{entry}.cloud_on_demand_usd_h")],
        "cloud reserved": [declared("reserved rate", gpu.cloud_reserved_usd_h, "USD/GPU-h",
                                  f"{entry}.cloud_reserved_usd_h")],
    }
    measured = all(q.provenance.measured for q in [image, clip, text]) and all(
        q.provenance.measured for q in inputs.work.values())

    def shape_of(kind: str, w: Work, utilisation: float) -> tuple[m.CostShape, float, dict[str, float]]:
        per_minute = gpu_seconds_per_minute(w, speeds)
        hours_per_title = sum(per_minute.values()) * request.minutes_per_title / 3600
        if kind == "on-prem":
            shape = m.CostShape(fixed_per_unit_month=amort + hosting + staff, unit_hours_per_title=hours_per_title,
                                utilisation=utilisation, per_title=hours_per_title * power)
        elif kind == "cloud reserved":
            shape = m.CostShape(fixed_per_unit_month=reserved * m.HOURS_PER_MONTH,
                                unit_hours_per_title=hours_per_title, utilisation=utilisation)
        else:  # on-demand GPUs are released when idle: billed for busy GPU-hours only, whatever the utilisation
            shape = m.CostShape(unit_hours_per_title=hours_per_title, utilisation=utilisation,
                                per_title=hours_per_title * on_demand)
        return shape, hours_per_title, per_minute

    out = []
    for kind in ("on-prem", "cloud reserved", "cloud on-demand"):
        option_id = f"{kind.replace(' ', '-')}:{gpu_id}"
        option = Option(id=option_id, kind=kind, label=f"{kind} {gpu.name}", gpu=gpu_id, costed=False, fit=fit,
                        hours_unit="GPU-hours", measured=measured, figures=[*speed_figs, *prices[kind]],
                        fleet_unit="GPUs")
        if fit.status == "offload":
            option.reason = f"does not fit: {fit.detail}; fix: {fit.fix}"
            out.append(Priced(option, None))
            continue
        shape, hours_per_title, per_minute = shape_of(kind, work, request.utilisation)
        minutes = request.minutes_per_month
        option.hours_per_month = _round({**{s: per_minute.get(s, 0.0) * minutes / 3600 for s in STAGES},
                                         "total": hours_per_title * request.titles_per_month}, 2)
        option.cpu_core_hours_per_month = _round({s: v * minutes / 3600
                                                  for s, v in cpu_seconds_per_minute(work).items()}, 2)
        fleet = m.fleet_size(hours_per_title * request.titles_per_month, request.utilisation)
        gpu_hours = hours_per_title * request.titles_per_month
        if kind == "on-prem":
            breakdown = {"amortisation": fleet * amort, "hosting": fleet * hosting, "staff": fleet * staff,
                         "power": gpu_hours * power}
        elif kind == "cloud reserved":
            breakdown = {"reserved rental": fleet * reserved * m.HOURS_PER_MONTH}
        else:
            breakdown = {"on-demand rental": gpu_hours * on_demand}
        option.costed = True
        if work.tokens is None:
            option.notes.append("text GPU-hours not counted: text tokens per minute not measured (see missing)")
        if fit.status != "fits":
            option.notes.append(f"{fit.status}: {fit.detail}; fix: {fit.fix}")
        if kind == "cloud on-demand":
            option.notes.append("billed for busy GPU-hours only: on-demand GPUs are released when idle, so the "
                                "utilisation does not raise the bill (it applies to the owned and reserved fleets); "
                                "fleet: the GPUs rented at once at the plan's utilisation, as the fleets are sized")
        else:
            note = sawtooth_note(shape, request, fleet, "GPUs")
            if note:
                option.notes.append(note)
        option.notes.append(WALL_CLOCK_NOTE)
        wall = gpu_wall_clock(per_minute, cpu_seconds_per_minute(work), request.minutes_per_title)
        out.append(Priced(_finish(option, shape, request, hours_per_title, breakdown, fleet, wall), shape,
                          rebuild=lambda w, u, kind=kind: shape_of(kind, w, u)[0]))
    return out


def api_options(request: PlanRequest, cat: Catalogue, inputs: Inputs, work: Work) -> list[Priced]:
    w = inputs.work
    cpu = cat.cpus[cat.ledger["cpu_hour_usd"].cpu]
    out = []
    stacks = request.apis or list(cat.api_stacks)
    for stack_id in stacks:
        stack = cat.api_stacks[stack_id]
        services = {role: cat.apis[getattr(stack, role)] for role in ("video", "image", "tts", "llm")}

        def per_minute(wk: Work, services: dict = services) -> tuple[dict[str, float], ApiWork]:
            units = ApiWork(clip_takes=wk.shots * wk.clip_renders, clip_seconds=wk.shot_seconds,
                            image_takes=wk.shots * wk.renders, speech_chars=w["speech_chars_per_minute"].value,
                            prompt_tokens=w["prompt_tokens_per_minute"].value if "prompt_tokens_per_minute" in w
                            else 0.0, completion_tokens=w["completion_tokens_per_minute"].value
                            if "completion_tokens_per_minute" in w else 0.0)
            usd = {role: api_usd(api.pricing, units, cat.exchange_rates) for role, api in services.items()}
            cpu_s = sum(v for k, v in cpu_seconds_per_minute(wk).items() if k != "speech")
            usd["host CPU (QC, assembly)"] = cpu_s / 3600 * cpu.usd_per_core_hour.value
            return usd, units

        usd, units = per_minute(work)
        per_title = sum(usd.values()) * request.minutes_per_title
        figures = [Quantity(name=f"{role}: {api.name}", value=_apideclared(api), unit=_api_unit(api),
                            provenance=Provenance(measured=False, basis=api.basis, date=api.date,
                                                  source=f"catalogue apis.{getattr(stack, role)}: {api.source}"))
                   for role, api in services.items()]
        for currency in dict.fromkeys(api.pricing.currency for api in services.values()):
            if currency != "USD":  # the rate every price in it was converted at
                figures.append(declared(f"exchange rate {currency} per USD", cat.exchange_rates[currency],
                                      f"{currency}/USD", f"exchange_rates.{currency}"))
        figures.append(declared("vCPU rate", cpu.usd_per_core_hour, "USD/core-hour", "cpus.vcpu.usd_per_core_hour"))
        minutes = request.minutes_per_month
        option = Option(id=f"api:{stack_id}", kind="api", label=stack.name, costed=True, hours_unit="GPU-hours",
                        measured=all(q.provenance.measured for q in w.values()), figures=figures,
                        api_units_per_month=_round({
                            "video calls": units.clip_takes * _calls_per_clip(services["video"], units) * minutes,
                            "images": units.image_takes * minutes, "speech characters": units.speech_chars * minutes,
                            "LLM tokens": (units.prompt_tokens + units.completion_tokens) * minutes}, 0),
                        cpu_core_hours_per_month=_round({s: v * minutes / 3600 for s, v in
                                                         cpu_seconds_per_minute(work).items() if s != "speech"}, 2),
                        notes=["no fleet of ours: the provider's; wall-clock per title depends on its queues and rate "
                               "limits (not modelled)", "hosted video APIs may refuse realistic faces "
                               "(../shared/field-notes.md)"])
        shape = m.CostShape(per_title=per_title)
        breakdown = {k: v * minutes for k, v in usd.items()}
        out.append(Priced(_finish(option, shape, request, 0.0, breakdown, None), shape,
                          rebuild=lambda wk, u, f=per_minute: m.CostShape(
                              per_title=sum(f(wk)[0].values()) * request.minutes_per_title)))
    return out


def _apideclared(api: Api) -> float:
    p = api.pricing
    return p.input if p.kind == "per_mtok" else p.price


def _api_unit(api: Api) -> str:
    p = api.pricing
    return {"per_clip": f"{p.currency}/clip of {getattr(p, 'clip_seconds', 0):g} s", "per_second": f"{p.currency}/s",
            "per_image": f"{p.currency}/image", "per_mchar": f"{p.currency}/1M chars",
            "per_mtok": f"{p.currency}/1M input tokens ({getattr(p, 'output', 0):g} output)"}[p.kind]


def _calls_per_clip(api: Api, units: ApiWork) -> float:
    p = api.pricing
    return max(1, math.ceil(units.clip_seconds / p.clip_seconds - m.EPS)) if p.kind == "per_clip" else 1


def laptop_option(request: PlanRequest, cat: Catalogue, inputs: Inputs) -> Priced:
    cpu = cat.cpus[cat.ledger["cpu_hour_usd"].cpu]
    option = Option(id="laptop", kind="laptop", label="laptop: the embedded default (storyboard animatics, CPU)",
                    costed=False, hours_unit="machine-hours", measured=True, fleet_unit="machines")
    laptop = inputs.laptop
    if laptop is None:
        option.measured = False
        option.reason = "not measured: bench/results/episode.json is absent (run bench/episode.py); not defaulted"
        return Priced(option, None)
    per_minute = laptop.seconds_per_minute.value
    hours_per_title = per_minute * request.minutes_per_title / 3600
    # priced as the cost ledger prices local work: the machine's cores at the ledger's CPU-hour rate
    rate = laptop.cores * cpu.usd_per_core_hour.value
    shape = m.CostShape(per_title=hours_per_title * rate)
    minutes = request.minutes_per_month
    stages: dict[str, float] = {}
    for stage, seconds in laptop.stage_seconds_per_minute.items():
        name = STAGE_OF.get(stage, "other")
        stages[name] = stages.get(name, 0.0) + seconds * minutes / 3600
    option.hours_per_month = _round({**stages, "total": hours_per_title * request.titles_per_month}, 2)
    option.figures = [laptop.seconds_per_minute,
                      declared(f"{laptop.cores} cores at the ledger's CPU rate", cpu.usd_per_core_hour,
                             "USD/core-hour", "cpus.vcpu.usd_per_core_hour")]
    option.costed = True
    option.fleet_unit = f"machines of {laptop.cores} cores"
    option.notes = ["storyboard animatics drawn on the CPU, not generated footage: the bottom of the range, another "
                    "product", "its own QC loop and retries are inside the measured seconds; stages overlap (render "
                    "and QC run in parallel branches), so their hours add up to more than the total",
                    "wall-clock per title: 'on one' is the measured seconds on one machine; 'on the fleet' is a lower "
                    "bound: the text, speech and assembly stages' measured seconds one episode after another on one "
                    "machine, the rest spread over the whole fleet"]
    fleet = m.fleet_size(hours_per_title * request.titles_per_month, request.utilisation)
    breakdown = {"CPU time": hours_per_title * request.titles_per_month * rate}
    serial_stages = {"text", "speech", "assembly"}
    serial = min(hours_per_title, sum(v for k, v in laptop.stage_seconds_per_minute.items()
                                      if STAGE_OF.get(k) in serial_stages) * request.minutes_per_title / 3600)
    wall = WallClock(one_unit=hours_per_title, serial=serial, parallel=hours_per_title - serial)
    return Priced(_finish(option, shape, request, hours_per_title, breakdown, fleet, wall), shape)
