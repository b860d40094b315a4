"""A plan: the work per finished minute (measured), each option's hours, fleet, cost and wall-clock per title, the
break-even volumes between owning, renting and paying per call, and the sweeps the report plots.

Per finished minute, with S shots, A takes per shot, Ac clips per shot and U the final usable rate (retries are
cost: each usable shot costs R = A/U keyframe takes and Rc = Ac/U clips):
    keyframes = S x s_image            clips = S x s_clip(shot length)
    retries   = S x (R - 1) x s_image + S x (Rc - 1) x s_clip
    text      = (prompt + completion tokens) / tokens_per_second   (prompt tokens at the output rate: an upper bound)
Speech (voicebank), QC (the scorers) and assembly (ffmpeg) run on the host CPU in every preset: their measured CPU
seconds are reported as host CPU hours, not GPU-hours, and cost nothing extra on a GPU server (its CPUs are in its
price); an API option rents CPUs for QC and assembly at the catalogue's vCPU rate.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dramafactory.catalogue import Api, ApiWork, Catalogue, Figure, PresetFigures, api_usd, catalogue

from . import model as m
from .inputs import STAGE_OF, Inputs, MeasuredSpeed, PlanInputError, RunFigures, essential, gather, read_run
from .schema import BreakEven, Fit, Option, Plan, PlanRequest, Provenance, Quantity, Sweep

if TYPE_CHECKING:
    from dramafactory.tools.presets import Preset

GPU_STAGES = ("text", "keyframes", "clips", "retries")
CPU_STAGES = ("speech", "qc", "assembly")
STAGES = ("text", "keyframes", "clips", "speech", "qc", "retries", "assembly")
VRAM_BUDGET = 0.9  # the pipelines' default share of a card (tools/gpu/memory.py, DRAMAFACTORY_VRAM_GB unset)
BREAK_EVEN_MAX_TITLES = 1_000_000
USABLE_SWEEP = [round(x, 2) for x in np.linspace(0.3, 1.0, 15)]
UTILISATION_SWEEP = [round(x, 2) for x in np.linspace(0.2, 1.0, 17)]


def _price(name: str, figure: Figure, unit: str, entry: str) -> Quantity:
    return Quantity(name=name, value=figure.value, unit=unit, provenance=Provenance(
        measured=False, basis=figure.basis, source=f"catalogue {entry}: {figure.source}", date=figure.date))


# --- per-GPU speeds and fit -----------------------------------------------------------------------------------------

def check_preset(name: str, figs: PresetFigures) -> Preset:
    """The catalogue's figures must be for the models and steps tools/presets.yaml runs, or they are stale."""
    from dramafactory.tools.presets import preset

    run = preset(name)
    pairs = [("text.model", figs.text.model, run.text.model), ("image.model", figs.image.model, run.image.model),
             ("video.model", figs.video.model, run.video.model),
             ("image.speed.steps", figs.image.speed.steps, run.image.steps),
             ("video.speed.steps", figs.video.speed.steps, run.video.steps)]
    for field_name, ours, theirs in pairs:
        if ours != theirs:
            raise PlanInputError(f"catalogue presets.{name}.{field_name} is {ours!r} but tools/presets.yaml's "
                                 f"{name} preset uses {theirs!r}: the catalogue's figures are for another setup; "
                                 "update them (with their source and date)")
    return run


def _model_matches(measured: str, *names: str | None) -> bool:
    tail = measured.rstrip("/").split("/")[-1]
    return any(n and (measured == n or tail == n.rstrip("/").split("/")[-1]) for n in names)


def resolve_speed(role: str, figs: PresetFigures, gpu_id: str, cat: Catalogue, measured: list[MeasuredSpeed],
                  steps: int, preset_name: str = "") -> tuple[Quantity, float | None]:
    """Seconds per image / per clip (and the clip's length), or tokens per second, on this GPU. Measured on this
    card first, then declared for this card, then scaled from a measurement on another card, then scaled from the
    declared figure; a scaled figure is never marked measured."""
    spec = getattr(figs, role)
    declared = spec.speed
    metric = "bf16_dense_tflops" if declared.scale == "compute" else "memory_bandwidth_tbs"
    unit = {"image": "s/image", "video": "s/clip", "text": "tokens/s"}[role]
    label = {"image": "seconds per keyframe", "video": "seconds per clip", "text": "text tokens per second"}[role]
    target = cat.gpus[gpu_id]
    ours = [s for s in measured if s.role == role and _model_matches(s.model, getattr(spec, "bench_name", None),
                                                                     spec.model) and s.steps in (None, steps)]
    here = next((s for s in ours if s.gpu == gpu_id), None)
    if here is not None:
        return Quantity(name=label, value=here.seconds, unit=unit, provenance=here.provenance), here.clip_seconds
    clip_seconds = getattr(declared, "clip_seconds", None)
    base = Provenance(measured=False, basis=declared.basis, date=declared.date,
                      source=f"catalogue presets.{preset_name}.{role}.speed: {declared.source}")
    if declared.gpu == gpu_id:
        return Quantity(name=label, value=declared.value, unit=unit, provenance=base), clip_seconds
    source_gpu, value, prov = declared.gpu, declared.value, base
    if ours:  # a measurement on another card beats a declared figure on another card
        first = ours[0]
        source_gpu, value, clip_seconds = first.gpu, first.seconds, first.clip_seconds
        prov = first.provenance.model_copy(update={"measured": False, "source": (
            f"{first.provenance.source} (measured on {first.provenance.machine}, {first.provenance.date})")})
    ref = getattr(cat.gpus[source_gpu], metric).value
    there = getattr(target, metric).value
    scaled = value * there / ref if role == "text" else m.scaled_seconds(value, ref, there)
    how = "dense BF16 TFLOPS" if metric == "bf16_dense_tflops" else "memory bandwidth"
    prov = prov.model_copy(update={"basis": "scaled", "note": (
        f"scaled from {cat.gpus[source_gpu].name} to {target.name} by {how} ({ref:g} -> {there:g}): an inference")})
    return Quantity(name=label, value=scaled, unit=unit, provenance=prov), clip_seconds


def fit_of(preset_name: str, figs: PresetFigures, gpu_id: str, cat: Catalogue) -> Fit:
    gpu = cat.gpus[gpu_id]
    card = gpu.memory_gb.value
    budget = VRAM_BUDGET * card
    needs = {role: getattr(figs, role).vram_gb.value for role in ("text", "image", "video")}
    base = {"gpu": gpu_id, "preset": preset_name, "card_gb": card, "budget_gb": round(budget, 1), "needs_gb": needs}
    too_big = [role for role in ("image", "video") if needs[role] > budget]
    if too_big:
        largest = max(needs[r] for r in too_big)
        bigger = [g for g, spec in cat.gpus.items() if VRAM_BUDGET * spec.memory_gb.value >= largest]
        alt = " or the throughput preset" if preset_name != "throughput" else ""
        return Fit(**base, status="offload", detail=(
            f"{' and '.join(f'the {r} model (~{needs[r]:g} GB)' for r in too_big)} "
            f"{'exceeds' if len(too_big) == 1 else 'exceed'} this card's budget of "
            f"{budget:g} GB (90% of {card:g} GB): it would run only with model offload, far slower than any speed "
            "planned here, so this card is not costed"),
            fix=f"a card with at least {math.ceil(largest / VRAM_BUDGET)} GB ({', '.join(bigger) or 'none in the catalogue'}){alt}")
    if needs["text"] > budget:
        cards = math.ceil(needs["text"] / budget)
        return Fit(**base, status="tensor_parallel", detail=(
            f"the text model (~{needs['text']:g} GB) exceeds one card's budget of {budget:g} GB"),
            fix=f"vllm serve ... --tensor-parallel-size {cards} (the text server on {cards} cards), or a "
                "quantised text model")
    total = sum(needs.values())
    if total > budget:
        return Fit(**base, status="swaps", detail=(
            f"each model fits alone, all three (~{total:g} GB) do not fit {budget:g} GB together: the memory manager "
            "moves the idle pipeline to the CPU between stages (tools/gpu/memory.py) and the text server needs its "
            "own share; swap time is not in the speeds planned"),
            fix=f"run the text server on other cards, or a card with at least {math.ceil(total / VRAM_BUDGET)} GB")
    return Fit(**base, status="fits", detail=f"all three models (~{total:g} GB) stay resident within {budget:g} GB")


# --- per-minute work ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Work:
    shots: float  # S
    renders: float  # R: keyframe takes per usable shot
    clip_renders: float  # Rc: clips per usable shot
    shot_seconds: float
    tokens: float | None  # prompt + completion per finished minute
    qc_cpu_per_take: float | None
    speech_cpu: float | None
    assembly_cpu: float | None

    def with_renders(self, renders: float, clip_renders: float) -> Work:
        return Work(self.shots, renders, clip_renders, self.shot_seconds, self.tokens, self.qc_cpu_per_take,
                    self.speech_cpu, self.assembly_cpu)


def work_of(inputs: Inputs) -> Work:
    w = inputs.work
    final = w["final_usable_rate"].value
    tokens = None
    if "prompt_tokens_per_minute" in w:
        tokens = w["prompt_tokens_per_minute"].value + w["completion_tokens_per_minute"].value
    value = (lambda key: w[key].value if key in w else None)  # noqa: E731 - a local accessor
    return Work(shots=w["shots_per_minute"].value,
                renders=m.renders_per_usable_shot(w["attempts_per_shot"].value, final),
                clip_renders=m.renders_per_usable_shot(w["clip_attempts_per_shot"].value, final),
                shot_seconds=60 / w["shots_per_minute"].value, tokens=tokens,
                qc_cpu_per_take=value("qc_cpu_seconds_per_take"), speech_cpu=value("speech_cpu_seconds_per_minute"),
                assembly_cpu=value("assembly_cpu_seconds_per_minute"))


@dataclass(frozen=True)
class GpuSpeeds:
    image_s: float
    clip_s: float  # one clip at the average shot's length
    tokens_per_s: float


def gpu_seconds_per_minute(work: Work, speeds: GpuSpeeds) -> dict[str, float]:
    first = {"keyframes": work.shots * speeds.image_s, "clips": work.shots * speeds.clip_s}
    retries = work.shots * ((work.renders - 1) * speeds.image_s + (work.clip_renders - 1) * speeds.clip_s)
    text = (work.tokens or 0.0) / speeds.tokens_per_s
    return {"text": text, **first, "retries": retries}


def cpu_seconds_per_minute(work: Work) -> dict[str, float]:
    qc = work.qc_cpu_per_take or 0.0
    return {"speech": work.speech_cpu or 0.0, "qc": work.shots * qc,
            "retries": work.shots * (work.renders - 1) * qc, "assembly": work.assembly_cpu or 0.0}


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


WALL_CLOCK_NOTE = ("wall-clock per title: 'on one' runs every stage one after another on one GPU and its host (the "
                   "host-CPU speech, QC and assembly included); 'on the fleet' is a lower bound that respects the "
                   "serial stages: the text (director -> writer -> cinematographer, the episodes of a title written "
                   "one after another), speech and assembly of each episode on one host CPU, one episode after "
                   "another, plus the shots' GPU work (keyframes, clips, retries) spread over the whole fleet; QC "
                   "runs beside the renders and is not added; queueing behind other titles is not modelled")


@dataclass(frozen=True)
class WallClock:
    """Hours for one title: every stage one after another on one unit, and the least it can take on the fleet."""

    one_unit: float
    serial: float  # stages that do not spread over the fleet (text, speech, assembly), one after another
    parallel: float  # work that spreads over the fleet (the shots'), in unit-hours

    def on_fleet(self, fleet: int) -> float:
        return self.serial + self.parallel / max(fleet, 1)


def gpu_wall_clock(gpu_per_minute: dict[str, float], cpu_per_minute: dict[str, float],
                   minutes_per_title: float) -> WallClock:
    """Per title, from the stages' seconds per finished minute (GPU stages and host-CPU stages)."""
    hours = minutes_per_title / 3600
    serial = (gpu_per_minute.get("text", 0.0) + cpu_per_minute.get("speech", 0.0)
              + cpu_per_minute.get("assembly", 0.0)) * hours
    parallel = sum(gpu_per_minute.get(s, 0.0) for s in ("keyframes", "clips", "retries")) * hours
    one = (sum(gpu_per_minute.values()) + sum(cpu_per_minute.values())) * hours
    return WallClock(one_unit=one, serial=serial, parallel=parallel)


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
        "on-prem": [_price("purchase", gpu.purchase_usd, "USD/GPU", f"{entry}.purchase_usd"),
                    _price("life", onprem.life_years, "years", "onprem.life_years"),
                    _price("board power", gpu.board_power_w, "W", f"{entry}.board_power_w"),
                    _price("server power factor", onprem.server_power_factor, "x", "onprem.server_power_factor"),
                    _price("PUE", onprem.pue, "x", "onprem.pue"),
                    _price("electricity", onprem.usd_per_kwh, "USD/kWh", "onprem.usd_per_kwh"),
                    _price("hosting", onprem.hosting_usd_per_kw_month, "USD/kW-month",
                           "onprem.hosting_usd_per_kw_month"),
                    _price("staff", onprem.staff_usd_per_gpu_month, "USD/GPU-month", "onprem.staff_usd_per_gpu_month")],
        "cloud on-demand": [_price("on-demand rate", gpu.cloud_on_demand_usd_h, "USD/GPU-h",
                                   f"{entry}.cloud_on_demand_usd_h")],
        "cloud reserved": [_price("reserved rate", gpu.cloud_reserved_usd_h, "USD/GPU-h",
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
        figures = [Quantity(name=f"{role}: {api.name}", value=_api_price(api), unit=_api_unit(api),
                            provenance=Provenance(measured=False, basis=api.basis, date=api.date,
                                                  source=f"catalogue apis.{getattr(stack, role)}: {api.source}"))
                   for role, api in services.items()]
        for currency in dict.fromkeys(api.pricing.currency for api in services.values()):
            if currency != "USD":  # the rate every price in it was converted at
                figures.append(_price(f"exchange rate {currency} per USD", cat.exchange_rates[currency],
                                      f"{currency}/USD", f"exchange_rates.{currency}"))
        figures.append(_price("vCPU rate", cpu.usd_per_core_hour, "USD/core-hour", "cpus.vcpu.usd_per_core_hour"))
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


def _api_price(api: Api) -> float:
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
                      _price(f"{laptop.cores} cores at the ledger's CPU rate", cpu.usd_per_core_hour,
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


# --- break-even and sweeps ------------------------------------------------------------------------------------------

def break_evens(priced: dict[str, Priced], gpus: list[str], apis: list[str]) -> list[BreakEven]:
    pairs = []
    for gpu in gpus:
        onprem, reserved, on_demand = f"on-prem:{gpu}", f"cloud-reserved:{gpu}", f"cloud-on-demand:{gpu}"
        pairs += [(onprem, on_demand), (onprem, reserved), (reserved, on_demand),
                  *((onprem, f"api:{a}") for a in apis)]
    out = []
    for a, b in pairs:
        if a not in priced or b not in priced or priced[a].shape is None or priced[b].shape is None:
            continue
        crossing = m.break_even(priced[a].shape, priced[b].shape, BREAK_EVEN_MAX_TITLES)
        out.append(BreakEven(a=a, b=b, titles_per_month=crossing.titles, finding=crossing.finding))
    return out


def volume_sweep(priced: dict[str, Priced], request: PlanRequest) -> Sweep:
    top = max(10 * request.titles_per_month, 1000)
    x = np.unique(np.round(np.logspace(0, math.log10(top), 240)).astype(int))
    costs = {}
    for option_id, p in priced.items():
        if p.shape is not None:
            per_minute = p.shape.monthly_array(x) / (x * request.minutes_per_title)
            costs[option_id] = [sig(float(v)) for v in per_minute]
    return Sweep(x=[float(v) for v in x], cost_per_finished_minute_usd=costs, marked=request.titles_per_month)


def _at(p: Priced, work: Work, utilisation: float, request: PlanRequest) -> float | None:
    if p.rebuild is None:
        return None
    return sig(p.rebuild(work, utilisation).monthly(request.titles_per_month) / request.minutes_per_month)


def usable_sweep(priced: dict[str, Priced], work: Work, request: PlanRequest) -> Sweep:
    """Each clip passes QC with probability p: a usable shot costs 1/p clips (with any cap on attempts, attempts /
    usable = 1/p); keyframe retries stay as measured. Clips are most of the GPU time and of an API's bill, so this
    is the lever: a better QC loop (fewer bad clips, fewer false rejections) shows as a lower cost per finished
    minute. The plan's own point is marked at 1 / its clips per usable shot."""
    costs = {pid: [_at(p, work.with_renders(work.renders, 1 / x), request.utilisation, request)
                   for x in USABLE_SWEEP] for pid, p in priced.items() if p.rebuild is not None}
    return Sweep(x=USABLE_SWEEP, cost_per_finished_minute_usd=costs, marked=round(1 / work.clip_renders, 4))


def utilisation_sweep(priced: dict[str, Priced], work: Work, request: PlanRequest) -> Sweep:
    costs = {pid: [_at(p, work, x, request) for x in UTILISATION_SWEEP]
             for pid, p in priced.items() if p.rebuild is not None and p.option.kind != "api"}
    return Sweep(x=UTILISATION_SWEEP, cost_per_finished_minute_usd=costs, marked=request.utilisation)


# --- the plan -------------------------------------------------------------------------------------------------------

def make_plan(request: PlanRequest, *, cat: Catalogue | None = None, catalogue_path: Path | None = None,
              bench_dir: Path | None = None, runs: list[Path | RunFigures] | None = None,
              bench_label: str | None = None) -> Plan:
    """The plan for a request from what has been measured; PlanInputError names what cannot be used. `runs` are run
    folders or runs already read (`read_run`, which names a run by id for the API); `bench_label` is how the bench
    folder is named in provenance and messages (default: its path, relative to the checkout when inside it)."""
    cat = cat or catalogue()
    figs = cat.presets[request.preset]
    run_preset = check_preset(request.preset, figs)
    inputs = gather(cat, bench_dir, [r if isinstance(r, RunFigures) else read_run(r, cat) for r in runs or []],
                    bench_label=bench_label)
    essential(inputs)
    work = work_of(inputs)
    gpus = request.gpus or list(cat.gpus)
    apis = request.apis or list(cat.api_stacks)
    priced: dict[str, Priced] = {}
    for gpu_id in gpus:
        for p in gpu_options(request, gpu_id, cat, figs, run_preset, inputs, work):
            priced[p.option.id] = p
    for p in api_options(request, cat, inputs, work):
        priced[p.option.id] = p
    laptop = laptop_option(request, cat, inputs)
    priced[laptop.option.id] = laptop
    options = [p.option for p in priced.values()]
    declared: dict[tuple[str, str, float], Quantity] = {}
    for q in [*inputs.work.values(), *(f for o in options for f in o.figures)]:
        if not q.provenance.measured:
            declared.setdefault((q.name, q.provenance.source, q.value), q)
    warnings = list(inputs.notes)
    if not inputs.speeds:
        warnings.append("no GPU measurement: every GPU speed in this plan is a declared public figure (catalogue "
                        "presets.*.speed, its source and date in each option's figures), scaled across cards by "
                        "TFLOPS or bandwidth where it was stated for another card; measured: false")
    fits = [fit_of(request.preset, figs, g, cat) for g in gpus]
    warnings += [f"{f.preset} on {f.gpu}: {f.status}: {f.detail}; fix: {f.fix}" for f in fits if f.status != "fits"]
    sweeps = {"volume": volume_sweep(priced, request), "usable": usable_sweep(priced, work, request),
              "utilisation": utilisation_sweep(priced, work, request)}
    return Plan(request=request, created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                catalogue=str(catalogue_path) if catalogue_path else "dramafactory/catalogue.yaml (packaged)",
                finished_minutes_per_month=request.minutes_per_month,
                minutes_per_title=request.minutes_per_title, hours_per_month=m.HOURS_PER_MONTH,
                work=list(inputs.work.values()), options=options,
                break_even=break_evens(priced, gpus, apis), fits=fits, sweeps=sweeps,
                declared=list(declared.values()), missing=inputs.missing, warnings=warnings)
