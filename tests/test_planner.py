"""The capacity and cost planner: its arithmetic on hand-computed cases, whole plans on small hand-written bench
results, run folders and a catalogue with round numbers, the scaling properties, and every kind of bad input
refused with the field named and nothing written."""

from __future__ import annotations

import copy
import json
import math
import os
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from dramafactory.catalogue import (
    CATALOGUE_FILE,
    ApiWork,
    CatalogueError,
    PerClip,
    PerMTok,
    api_usd,
    catalogue,
    load_catalogue,
)
from dramafactory.cli import app
from dramafactory.config import Settings
from dramafactory.planner import PlanInputError, PlanRequest, make_plan
from dramafactory.planner import model as m

runner = CliRunner()
PACKAGED = yaml.safe_load(CATALOGUE_FILE.read_text(encoding="utf-8"))


# --- the arithmetic, by hand -----------------------------------------------------------------------------------------

def test_amortisation_power_and_hosting():
    assert m.amortised_monthly(36_000, 3) == pytest.approx(1000.0)  # 36,000 over 36 months
    # 700 W board x 2.0 server factor = 1.4 kW; x PUE 1.5 = 2.1 kW at the meter; x $0.10 = $0.21 per busy hour
    assert m.power_usd_per_gpu_hour(700, 2.0, 1.5, 0.10) == pytest.approx(0.21)
    assert m.hosting_monthly(500, 2.0, 200) == pytest.approx(200.0)  # 1 kW of critical load at $200/kW-month
    with pytest.raises(ValueError):
        m.amortised_monthly(1000, 0)


def test_fleet_at_a_utilisation():
    assert m.fleet_size(730, 1.0) == 1
    assert m.fleet_size(731, 1.0) == 2
    assert m.fleet_size(730 * 0.7, 0.7) == 1  # exactly full at 70%: float noise must not add a GPU
    assert m.fleet_size(730 * 0.7 + 1, 0.7) == 2
    assert m.fleet_size(7300, 0.5) == 20
    assert m.fleet_size(0, 0.5) == 0
    with pytest.raises(ValueError):
        m.fleet_size(10, 0)


def test_retries_are_cost():
    assert m.renders_per_usable_shot(1.5, 0.75) == pytest.approx(2.0)
    assert m.geometric_attempts(0.5, 3) == pytest.approx(1.75)  # 1 + 0.5 + 0.25
    assert m.geometric_usable(0.5, 3) == pytest.approx(0.875)
    # with any cap on attempts, takes per usable shot is 1/p
    for p, n in ((0.5, 3), (0.8, 2), (0.3, 10)):
        assert m.geometric_attempts(p, n) / m.geometric_usable(p, n) == pytest.approx(1 / p)
    with pytest.raises(ValueError):
        m.renders_per_usable_shot(1.0, 0.0)


def test_scaling_a_speed_between_cards():
    assert m.scaled_seconds(324, 165, 989) == pytest.approx(54.05, abs=0.01)


def test_break_even_owned_against_pay_per_use_by_hand():
    # owned: $100 per unit-month, a title needs 0.1 unit (73 of 730 h at 100%), no running cost; rented: $15/title.
    # On the k-th unit owning wins from V = 100k/15; it loses somewhere on unit k while k < 15/(15-10) = 3, so the
    # last losing step is k = 2 and owning is never dearer from ceil(200/15) = 14 titles a month.
    owned = m.CostShape(fixed_per_unit_month=100, unit_hours_per_title=73, utilisation=1.0)
    rented = m.CostShape(per_title=15)
    assert m.break_even(owned, rented).titles == 14
    titles = list(range(1, 400))
    dearer = [v for v in titles if owned.monthly(v) > rented.monthly(v)]
    assert max(dearer) == 13  # the exhaustive check agrees
    assert m.break_even(owned, m.CostShape(per_title=10)).titles is None  # its fixed cost per title is 10: never
    assert m.break_even(m.CostShape(fixed_per_unit_month=100, unit_hours_per_title=73, per_title=20),
                        rented).titles is None  # dearer per title before any fixed cost
    assert m.break_even(rented, m.CostShape(per_title=16)).titles == 1


def test_break_even_counts_whole_titles_by_hand():
    # owned: $10 per unit-month, 0.4 unit per title (292 of 730 h), no running cost; pay-per-use $5 a title.
    # V = 1: 1 unit, $10 > $5; V = 3: 2 units, $20 > $15; from V = 4 on, ceil(0.4 V) x 10 <= 5 V at every whole V.
    # A continuous formula puts the last loss on the 4th unit (V in (7.5, 8)), where no whole title lies, and said 8.
    owned = m.CostShape(fixed_per_unit_month=10, unit_hours_per_title=292, utilisation=1.0)
    rented = m.CostShape(per_title=5)
    assert [v for v in range(1, 100) if owned.monthly(v) > rented.monthly(v)] == [1, 3]
    crossing = m.break_even(owned, rented)
    assert crossing.titles == 4 and "dearer at 3" in crossing.finding
    # equal cost per title at full fleets ($4 + $1 running = $5): it ties at whole fleets and is dearer between
    tie = m.CostShape(fixed_per_unit_month=10, unit_hours_per_title=292, utilisation=1.0, per_title=1)
    assert m.break_even(tie, rented).titles is None
    # dearer per title at full fleets: never for good, even where the range shows a stretch it is not
    dear = m.CostShape(fixed_per_unit_month=1000, unit_hours_per_title=0.0073, utilisation=1.0, per_title=4.9)
    assert m.break_even(dear, m.CostShape(per_title=5), max_titles=1000).titles is None


def _brute_break_even(fixed_a, units_a, run_a, fixed_b, units_b, run_b, n):
    """The definition, by brute force: the smallest V with a(W) <= b(W) for every whole W in V..n; None where a is
    dearer at n, or where a's cost per title at full fleets is not below b's (and a is dearer somewhere)."""
    volumes = np.arange(1, n + 1)
    cost_a = np.ceil(volumes * units_a - 1e-9) * fixed_a + volumes * run_a
    cost_b = np.ceil(volumes * units_b - 1e-9) * fixed_b + volumes * run_b
    dearer = [int(v) for v in volumes[cost_a > cost_b * (1 + 1e-12)]]
    if not dearer:
        crossing = 1
    elif dearer[-1] == n:
        return None
    else:
        crossing = dearer[-1] + 1
    slope_a, slope_b = units_a * fixed_a + run_a, units_b * fixed_b + run_b
    if slope_a > slope_b * (1 + 1e-9) or (slope_a >= slope_b * (1 - 1e-9) and crossing != 1):
        return None
    return crossing


def test_break_even_matches_a_brute_force_scan_on_random_cases():
    """Random owned/reserved/rented/API shapes (fixed seed): break_even agrees with the definition evaluated at
    every whole volume, including where a fleet step holds no whole title."""
    rng = np.random.default_rng(20261201)
    n, crossings = 3000, 0
    for case in range(300):
        hours = rng.uniform(0.5, 400)  # unit-hours per title
        utilisation = rng.uniform(0.3, 1.0)
        units = hours / (730 * utilisation)
        fixed = rng.uniform(50, 5000)
        run_a = rng.uniform(0, 3) * hours * 0.05
        kind = case % 3
        if kind == 0:  # a fleet against pay-per-use, priced around the fleet's full cost per title
            a = m.CostShape(fixed_per_unit_month=fixed, unit_hours_per_title=hours, utilisation=utilisation,
                            per_title=run_a)
            b = m.CostShape(per_title=(units * fixed + run_a) * rng.uniform(0.8, 2.0))
            args = (fixed, units, run_a, 0.0, 0.0, b.per_title)
        elif kind == 1:  # two fleets (owned against reserved) of the same work
            fixed_b = fixed * rng.uniform(0.4, 1.6)
            run_b = rng.uniform(0, 2) * hours * 0.05
            a = m.CostShape(fixed_per_unit_month=fixed, unit_hours_per_title=hours, utilisation=utilisation,
                            per_title=run_a)
            b = m.CostShape(fixed_per_unit_month=fixed_b, unit_hours_per_title=hours, utilisation=utilisation,
                            per_title=run_b)
            args = (fixed, units, run_a, fixed_b, units, run_b)
        else:  # pay-per-use against a fleet
            a = m.CostShape(per_title=(units * fixed) * rng.uniform(0.5, 1.5))
            b = m.CostShape(fixed_per_unit_month=fixed, unit_hours_per_title=hours, utilisation=utilisation)
            args = (0.0, 0.0, a.per_title, fixed, units, 0.0)
        expected = _brute_break_even(*args, n)
        assert m.break_even(a, b, max_titles=n).titles == expected, (case, args)
        crossings += expected not in (None, 1)
    assert crossings > 50  # most cases cross inside the range: the test compares real crossings, not edge cases


def test_break_even_between_two_fleets_by_hand():
    # the same fleet (0.1 unit per title): a = 100 N, b = 50 N + 6 V. a <= b when 50 N <= 6 V: on unit N=k it fails
    # below V = 8.33 k, which reaches into the unit's range (10(k-1), 10k] while k < 6: the last failure is V = 41.
    a = m.CostShape(fixed_per_unit_month=100, unit_hours_per_title=73, utilisation=1.0)
    b = m.CostShape(fixed_per_unit_month=50, unit_hours_per_title=73, utilisation=1.0, per_title=6)
    assert m.break_even(a, b, max_titles=10_000).titles == 42
    assert [v for v in range(1, 200) if a.monthly(v) > b.monthly(v)][-1] == 41


def test_api_prices_by_kind():
    rates = {"CNY": catalogue().exchange_rates["CNY"].model_copy(update={"value": 5.0})}
    clip = PerClip(kind="per_clip", price=0.5, currency="CNY", clip_seconds=5)
    # two clips of 6 s each need two 5 s calls: 4 calls x 0.5 CNY = 2 CNY = $0.40 at 5 CNY/USD
    assert api_usd(clip, ApiWork(clip_takes=2, clip_seconds=6), rates) == pytest.approx(0.4)
    llm = PerMTok(kind="per_mtok", input=0.4, output=1.6, currency="USD")
    assert api_usd(llm, ApiWork(prompt_tokens=1e6, completion_tokens=5e5), {}) == pytest.approx(1.2)


# --- the catalogue ---------------------------------------------------------------------------------------------------

def test_packaged_catalogue_is_valid_and_is_the_ledgers_price_table():
    cat = catalogue()
    assert {"h100-sxm", "h200", "l40s", "rtx-4090"} <= set(cat.gpus)
    assert {a.service for a in cat.apis.values()} == {"video", "image", "tts", "llm"}
    settings = Settings(_env_file=None)
    assert settings.gpu_hour_usd == cat.gpus["h100-sxm"].cloud_reserved_usd_h.value
    assert settings.cpu_hour_usd == cat.cpus["vcpu"].usd_per_core_hour.value
    assert Settings(_env_file=None, gpu_hour_usd=3.0).gpu_hour_usd == 3.0  # a setting still overrides it


def _write_catalogue(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "catalogue.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.mark.parametrize("field, expected", [("source", "gpus.h100-sxm.purchase_usd.source"),
                                             ("date", "gpus.h100-sxm.purchase_usd.date")])
def test_catalogue_entry_without_source_or_date_is_refused(tmp_path, field, expected):
    data = copy.deepcopy(PACKAGED)
    del data["gpus"]["h100-sxm"]["purchase_usd"][field]
    with pytest.raises(CatalogueError, match=expected.replace(".", r"\.")):
        load_catalogue(_write_catalogue(tmp_path, data))


def test_catalogue_figures_the_arithmetic_cannot_use_are_refused(tmp_path):
    data = copy.deepcopy(PACKAGED)
    data["work_defaults"]["clip_attempts_per_shot"]["value"] = 0.5
    with pytest.raises(CatalogueError, match=r"work_defaults\.clip_attempts_per_shot\.value: must be at least 1"):
        load_catalogue(_write_catalogue(tmp_path, data))
    data = copy.deepcopy(PACKAGED)
    data["exchange_rates"]["CNY"]["value"] = 0
    with pytest.raises(CatalogueError, match=r"exchange_rates\.CNY\.value: must be positive"):
        load_catalogue(_write_catalogue(tmp_path, data))


def test_catalogue_bad_date_and_dangling_reference(tmp_path):
    data = copy.deepcopy(PACKAGED)
    data["apis"]["gpt-4.1"]["date"] = "last spring"
    with pytest.raises(CatalogueError, match=r"apis\.gpt-4\.1\.date"):
        load_catalogue(_write_catalogue(tmp_path, data))
    data = copy.deepcopy(PACKAGED)
    data["api_stacks"]["budget"]["video"] = "gpt-4.1"
    with pytest.raises(CatalogueError, match=r"api_stacks\.budget\.video: 'gpt-4\.1' is a llm API"):
        load_catalogue(_write_catalogue(tmp_path, data))


# --- whole plans on hand-written inputs ------------------------------------------------------------------------------

def round_catalogue(tmp_path: Path) -> Path:
    """The packaged catalogue's structure with round numbers on one card ('testgpu') and a second card ('half') of
    half its compute and bandwidth, so every figure of a plan can be computed by hand."""
    data = copy.deepcopy(PACKAGED)

    def fig(value: float) -> dict:
        return {"value": value, "source": "test figure", "date": "2026-12", "basis": "assumption"}

    def card(name: str, tflops: float, tbs: float, alias: str) -> dict:
        return {"name": name, "aliases": [alias], "memory_gb": fig(100), "board_power_w": fig(500),
                "bf16_dense_tflops": fig(tflops), "memory_bandwidth_tbs": fig(tbs), "purchase_usd": fig(48_000),
                "cloud_on_demand_usd_h": fig(3.0), "cloud_reserved_usd_h": fig(2.0)}

    data["gpus"] = {"testgpu": card("Test GPU 100GB", 1000, 4, "TestGPU"), "half": card("Half GPU", 500, 2, "HalfGPU")}
    data["ledger"]["gpu_hour_usd"] = {"gpu": "testgpu", "rate": "reserved"}
    data["onprem"] = {"life_years": fig(4), "pue": fig(1.5), "usd_per_kwh": fig(0.10), "server_power_factor": fig(2.0),
                      "hosting_usd_per_kw_month": fig(100), "staff_usd_per_gpu_month": fig(50)}
    data["cpus"]["vcpu"]["usd_per_core_hour"] = fig(0.04)
    data["presets"] = {"throughput": data["presets"]["throughput"]}
    preset = data["presets"]["throughput"]
    preset["image"]["speed"].update(value=1.0, gpu="testgpu")
    preset["video"]["speed"].update(value=60.0, gpu="testgpu", clip_seconds=5)
    preset["text"]["speed"].update(value=10_000, gpu="testgpu")
    for role in ("text", "image", "video"):
        preset[role]["vram_gb"] = fig(20)
    data["apis"] = {
        "v": {"service": "video", "name": "V", "pricing": {"kind": "per_clip", "price": 0.5, "currency": "USD",
                                                           "clip_seconds": 5}, **fig(0)},
        "i": {"service": "image", "name": "I", "pricing": {"kind": "per_image", "price": 0.01, "currency": "USD"},
              **fig(0)},
        "t": {"service": "tts", "name": "T", "pricing": {"kind": "per_mchar", "price": 10.0, "currency": "USD"},
              **fig(0)},
        "l": {"service": "llm", "name": "L", "pricing": {"kind": "per_mtok", "input": 1.0, "output": 2.0,
                                                         "currency": "USD"}, **fig(0)}}
    for api in data["apis"].values():
        del api["value"]
    data["api_stacks"] = {"test": {"name": "test APIs", "video": "v", "image": "i", "tts": "t", "llm": "l"}}
    data["work_defaults"] = {"speech_seconds_per_minute": fig(30), "speech_chars_per_second": fig(10),
                             "clip_attempts_per_shot": fig(1.0)}
    return _write_catalogue(tmp_path, data)


RECORDED = {"measured_at": "2026-12-04T09:30:00+00:00",
            "models": {"text": "tiny-gguf", "image": "storyboard", "speech": "voicebank"}}


def bench_dir(tmp_path: Path, *, attempts: float = 1.5, usable: float = 0.75, episode: bool = True,
              drill: bool = True, recorded: bool = False) -> Path:
    """One 60 s episode in 120 s on 2 cores with 10,000 prompt tokens; 20 shots a minute, 1.5 takes a shot, 75%
    usable in the end. `recorded`: the episode bench as bench/episode.py now writes it (date, CPU model, models);
    else the older format, which records none of them."""
    folder = tmp_path / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    if episode:
        machine = {"cpus": 2, "platform": "test-linux"} | ({"cpu": "Test CPU 9000"} if recorded else {})
        (folder / "episode.json").write_text(json.dumps({
            "machine": machine, "episode_seconds": [60.0], "run_s": 120.0,
            "stages_s": {"director": 20, "writer": 30, "render": 12, "qc": 10, "voices": 3, "assemble": 30},
            "prompt_tokens": 10_000, "completion_tokens": 0} | (RECORDED if recorded else {})))
    if drill:
        (folder / "qc_drill.json").write_text(json.dumps({
            "episodes": 1, "seconds_per_episode": 60, "fault_rate": 0.3,
            "arms": {"feedback": {"shots": 20, "attempts_per_shot": attempts, "first_pass_rate": 0.5,
                                  "final_usable_rate": usable}}}))
    return folder


@pytest.fixture
def plan_of(tmp_path):
    """A plan on the round catalogue: 100 titles of 10 one-minute episodes on 'testgpu' unless overridden."""
    cat = load_catalogue(round_catalogue(tmp_path))

    def make(bench: Path | None = None, runs: list[Path] | None = None, **overrides):
        values = {"titles_per_month": 100, "episodes_per_title": 10, "minutes_per_episode": 1.0, "gpus": ["testgpu"],
                  "apis": ["test"]} | overrides
        request = PlanRequest.model_validate(values, context={"catalogue": cat})
        return make_plan(request, cat=cat, bench_dir=bench or bench_dir(tmp_path), runs=runs)

    return make


def option(plan, option_id: str):
    return next(o for o in plan.options if o.id == option_id)


def test_a_plan_by_hand(plan_of):
    plan = plan_of(titles_per_month=200, utilisation=0.5)
    # per finished minute: S = 20 shots, R = 1.5/0.75 = 2 takes and Rc = 1/0.75 clips per usable shot; a shot
    # is 3 s, so a clip costs 60 x 3/5 = 36 s; text: 10,000 tokens at 10,000 tok/s = 1 s
    per_minute = {"text": 1.0, "keyframes": 20 * 1.0, "clips": 20 * 36.0,
                  "retries": 20 * (1 * 1.0 + (1 / 0.75 - 1) * 36)}
    minutes = 200 * 10 * 1.0
    onprem = option(plan, "on-prem:testgpu")
    for stage, seconds in per_minute.items():
        assert onprem.hours_per_month[stage] == pytest.approx(seconds * minutes / 3600, abs=0.01)
    gpu_hours = sum(per_minute.values()) * minutes / 3600  # 1,001 s a minute x 2,000 minutes = 556.1 h
    assert onprem.hours_per_month["total"] == pytest.approx(gpu_hours, abs=0.01)
    assert onprem.fleet == 2  # 556.1 h over 730 h at 50% = 1.52 GPUs
    # owned: 48,000 / 48 months + 1 kW x $100 hosting + $50 staff = $1,150 per GPU-month; power 1 kW x 1.5 x $0.10
    fixed, power = 1000 + 100 + 50, 0.15
    assert onprem.monthly_usd == pytest.approx(2 * fixed + gpu_hours * power, abs=0.01)
    assert onprem.cost_per_finished_minute_usd == pytest.approx(onprem.monthly_usd / minutes, rel=1e-5)
    assert onprem.cost_per_title_usd == pytest.approx(onprem.monthly_usd / 200, rel=1e-5)
    assert option(plan, "cloud-reserved:testgpu").monthly_usd == pytest.approx(2 * 730 * 2.0, abs=0.01)
    # on-demand GPUs are released when idle: busy GPU-hours only, whatever the utilisation
    on_demand = option(plan, "cloud-on-demand:testgpu")
    assert on_demand.monthly_usd == pytest.approx(gpu_hours * 3.0, abs=0.01)
    assert any("busy GPU-hours only" in n for n in on_demand.notes)
    # wall-clock per title (10 minutes): on one GPU every stage one after another, the host CPU's too (speech 3 s,
    # QC 10 s for the first takes and 10 s for the retakes, assembly 30 s a minute); on the fleet of 2, text,
    # speech and assembly one episode after another plus the shots' 1,000 GPU seconds a minute over 2 GPUs
    assert onprem.title_hours_one_unit == pytest.approx((1001 + 3 + 10 + 10 + 30) * 10 / 3600, rel=1e-3)
    assert onprem.title_hours_fleet == pytest.approx(((1 + 3 + 30) + 1000 / 2) * 10 / 3600, rel=1e-3)
    assert any("lower bound" in n for n in onprem.notes)
    assert onprem.utilisation_actual == pytest.approx(gpu_hours / (2 * 730), rel=1e-3)
    # speech, QC and assembly are host-CPU work: QC 10 s/min over 20 shots = 0.5 s a take, 2 takes a usable shot
    assert onprem.cpu_core_hours_per_month["qc"] == pytest.approx(20 * 0.5 * minutes / 3600, abs=0.01)
    assert onprem.cpu_core_hours_per_month["retries"] == pytest.approx(20 * 0.5 * minutes / 3600, abs=0.01)
    # the API stack: 26.67 clips x $0.50 + 40 images x $0.01 + 300 chars x $10/1M + 10,000 tokens x $1/1M + the
    # rented CPUs' QC and assembly (20 + 30 s at $0.04/h)
    api = option(plan, "api:test")
    per_min = 20 / 0.75 * 0.5 + 40 * 0.01 + 30 * 10 * 10 / 1e6 + 10_000 / 1e6 + 50 / 3600 * 0.04
    assert api.cost_per_finished_minute_usd == pytest.approx(per_min, rel=1e-5)
    assert api.fleet is None and not api.hours_per_month


def test_the_laptop_row_is_the_embedded_benchs_measured_figure(plan_of):
    laptop = option(plan_of(), "laptop")
    seconds = laptop.figures[0]
    assert seconds.value == pytest.approx(120.0)  # run_s / episode minutes of the bench file
    assert seconds.provenance.measured
    assert seconds.provenance.machine == "test-linux, 2 CPUs (CPU model not recorded in the file)"
    assert "episode.json" in seconds.provenance.source
    # priced as the ledger prices CPU time: 2 cores x $0.04 an hour
    assert laptop.cost_per_finished_minute_usd == pytest.approx(120 / 3600 * 2 * 0.04, rel=1e-4)
    assert laptop.fleet == math.ceil(120 * 1000 / 3600 / (730 * 0.7))


def test_twice_the_titles_twice_the_gpu_hours(plan_of):
    one, two = plan_of(titles_per_month=300), plan_of(titles_per_month=600)
    for a, b in zip(one.options, two.options, strict=True):
        for stage, hours in a.hours_per_month.items():
            assert b.hours_per_month[stage] == pytest.approx(2 * hours, rel=1e-3, abs=0.02), (a.id, stage)


def test_owned_cost_per_minute_at_k_times_a_volume_is_never_higher(plan_of, monkeypatch):
    """Whole GPUs: at many random volumes V the owned cost per finished minute at k x V (k = 2..10) is never above
    its cost at V; between such volumes it saw-tooths (one title more can add a GPU and raise it), and the plan says
    so where it matters (docs/planner.md)."""
    import dramafactory.planner.plan as planning

    monkeypatch.setattr(planning, "BREAK_EVEN_MAX_TITLES", 1000)  # costs do not depend on it; plans are faster

    def onprem(volume: int):
        return option(plan_of(titles_per_month=int(volume)), "on-prem:testgpu")

    rng = np.random.default_rng(11)
    for volume in rng.integers(1, 2000, size=30):
        base = onprem(volume).cost_per_finished_minute_usd
        for k in range(2, 11):
            assert onprem(k * volume).cost_per_finished_minute_usd <= base * (1 + 1e-5), (volume, k)
    # the saw-tooth: a GPU holds ~183 titles (2.78 GPU-hours each at 70% of 730 h); the 184th needs a second one
    full = next(v for v in range(150, 250) if onprem(v + 1).fleet > onprem(v).fleet)
    assert onprem(full + 1).cost_per_finished_minute_usd > 1.5 * onprem(full).cost_per_finished_minute_usd
    note = next(n for n in onprem(full).notes if "saw-tooth" in n)
    assert f"at {full + 1:,} titles a month the fleet needs 2 GPUs" in note
    assert not any("saw-tooth" in n for n in onprem(full + 1).notes)  # a half-empty second GPU: the next is far
    sweep = plan_of(titles_per_month=7).sweeps["volume"].cost_per_finished_minute_usd["on-prem:testgpu"]
    assert max(sweep) == sweep[0]  # one title a month on a whole GPU is the dearest the owned option gets


def test_on_demand_pays_busy_hours_whatever_the_utilisation(plan_of):
    low, high = plan_of(utilisation=0.3), plan_of(utilisation=0.9)
    assert option(low, "cloud-on-demand:testgpu").monthly_usd == option(high, "cloud-on-demand:testgpu").monthly_usd
    assert option(low, "on-prem:testgpu").fleet > option(high, "on-prem:testgpu").fleet
    sweep = low.sweeps["utilisation"].cost_per_finished_minute_usd
    assert len(set(sweep["cloud-on-demand:testgpu"])) == 1 and len(set(sweep["cloud-reserved:testgpu"])) > 1


def test_api_options_show_the_exchange_rate_they_convert_at():
    cat = catalogue()
    plan = make_plan(PlanRequest(titles_per_month=10, episodes_per_title=10, minutes_per_episode=1,
                                 gpus=["h100-sxm"]))
    rate = cat.exchange_rates["CNY"]
    priced_in_cny = [o for o in plan.options if o.kind == "api" and any(f.unit.startswith("CNY/") for f in o.figures)]
    assert priced_in_cny
    for o in plan.options:
        if o.kind != "api":
            continue
        shown = [f for f in o.figures if f.name == "exchange rate CNY per USD"]
        assert (o in priced_in_cny) == bool(shown), o.id
        if shown:
            assert shown[0].value == rate.value and shown[0].unit == "CNY/USD"
            assert shown[0].provenance.date == rate.date and rate.source in shown[0].provenance.source
    assert any(q.name == "exchange rate CNY per USD" for q in plan.declared)


def test_a_better_usable_rate_costs_less(tmp_path, plan_of):
    worse = plan_of(bench=bench_dir(tmp_path, usable=0.6))
    better = plan_of(bench=bench_dir(tmp_path, usable=0.95))
    for option_id in ("on-prem:testgpu", "cloud-on-demand:testgpu", "api:test"):
        assert option(better, option_id).cost_per_finished_minute_usd < \
            option(worse, option_id).cost_per_finished_minute_usd
    usable = better.sweeps["usable"].cost_per_finished_minute_usd["cloud-on-demand:testgpu"]
    assert usable == sorted(usable, reverse=True)  # falls as the clips' usable rate rises


def test_break_even_in_a_plan_matches_the_exhaustive_check(plan_of):
    plan = plan_of(titles_per_month=50)
    found = next(b for b in plan.break_even if b.a == "on-prem:testgpu" and b.b == "cloud-on-demand:testgpu")
    onprem = option(plan, "on-prem:testgpu")
    hours = onprem.hours_per_month["total"] / 50  # per title
    owned = m.CostShape(fixed_per_unit_month=1150, unit_hours_per_title=hours, utilisation=0.7,
                        per_title=hours * 0.15)
    rented = m.CostShape(per_title=hours * 3.0)  # on-demand: busy hours only
    dearer = [v for v in range(1, 5000) if owned.monthly(v) > rented.monthly(v) + 1e-9]
    assert found.titles_per_month == dearer[-1] + 1


GPU_BENCH = {
    "skipped": False, "mode": "full", "weights": "random weights at full size", "started_at": "2026-12-03T10:00:00",
    "device": {"name": "NVIDIA TestGPU", "torch": "2.13.0", "cuda": "12.8"},
    "keyframes": {"klein": {"measured": True, "model": "FLUX.2 [klein] 4B", "seconds_per_image": 0.4, "steps": 4,
                            "batch": {"seconds_per_image": 0.3}}},
    "clip": {"measured": True, "model": "Wan2.2-TI2V-5B", "seconds_per_clip": 40.0, "clip_seconds": 5.0, "steps": 30}}


def test_declared_figures_say_so_and_a_measurement_replaces_them(tmp_path, plan_of):
    plan = plan_of(gpus=["testgpu", "half"])
    assert any("no GPU measurement" in w for w in plan.warnings)
    speeds = [f for f in option(plan, "on-prem:half").figures if f.unit in ("s/image", "s/clip", "tokens/s")]
    assert speeds and not any(f.provenance.measured for f in speeds)
    assert all(f.provenance.basis == "scaled" and "Test GPU 100GB" in f.provenance.note for f in speeds)
    assert speeds[0].value == pytest.approx(2.0)  # half the TFLOPS: twice the seconds per image
    assert any(q.name == "seconds per keyframe" for q in plan.declared)
    bench = bench_dir(tmp_path)
    (bench / "gpu.json").write_text(json.dumps({"skipped": True, "reason": "no CUDA device"}))
    skipped = plan_of(bench=bench, gpus=["testgpu"])
    assert any("not a full GPU measurement (no CUDA device)" in w for w in skipped.warnings)
    (bench / "gpu.json").write_text(json.dumps(GPU_BENCH))
    measured = plan_of(bench=bench, gpus=["testgpu", "half"])
    image = next(f for f in option(measured, "on-prem:testgpu").figures if f.unit == "s/image")
    assert image.value == pytest.approx(0.3) and image.provenance.measured
    assert image.provenance.machine.startswith("NVIDIA TestGPU") and image.provenance.date == "2026-12-03"
    half = next(f for f in option(measured, "on-prem:half").figures if f.unit == "s/clip")
    assert half.value == pytest.approx(80.0) and not half.provenance.measured and "measured on" in half.provenance.source


def test_missing_measurements_are_reported_not_defaulted(tmp_path, plan_of):
    plan = plan_of(bench=bench_dir(tmp_path, episode=False))
    laptop = option(plan, "laptop")
    assert not laptop.costed and laptop.cost_per_finished_minute_usd is None and "not measured" in laptop.reason
    assert any(line.startswith("laptop seconds per finished minute: not measured") for line in plan.missing)
    assert any(line.startswith("prompt tokens per minute: not measured") for line in plan.missing)
    onprem = option(plan, "on-prem:testgpu")
    assert onprem.hours_per_month["text"] == 0 and any("text GPU-hours not counted" in n for n in onprem.notes)
    with pytest.raises(PlanInputError, match="cannot plan without shots per minute"):
        plan_of(bench=bench_dir(tmp_path / "empty", episode=False, drill=False))


def write_run(folder: Path, *, shots: int = 10, takes: int = 12, seconds: float = 30.0, rows: list[dict] = (),
              **fields) -> Path:
    """A hand-written finished run: summary.json (`fields` override its figures), a ledger with voiced lines (and
    `rows`), one episode script."""
    folder.mkdir(parents=True)
    summary = {"title": "T", "episodes": 1, "target_seconds_per_episode": int(seconds), "episode_seconds": [seconds],
               "stages": [{"stage": "writer", "seconds": 9.0, "calls": 3, "cpu_seconds": 8.0},
                          {"stage": "voices", "seconds": 1.0, "calls": 2, "cpu_seconds": 1.5},
                          {"stage": "qc", "seconds": 6.0, "calls": 12, "cpu_seconds": 6.0},
                          {"stage": "assemble", "seconds": 4.0, "calls": 1, "cpu_seconds": 5.0}],
               "shots": shots, "takes": takes, "first_pass_usable_rate": 0.8, "final_usable_rate": 0.9,
               "attempts_per_shot": takes / shots, "model_calls": 3, "prompt_tokens": 3000, "completion_tokens": 300,
               "fallback_lines": 0, "device": {"cpu": "Test CPU", "cores": 4, "gpus": []}, "cpu_seconds": 20.5,
               "wall_seconds": 25.0, "finished_at": 1796191791.7} | fields
    (folder / "summary.json").write_text(json.dumps(summary))
    rows = [{"stage": "voices", "kind": "call", "backend": "voicebank", "model": "piper", "audio_seconds": 6.0},
            {"stage": "voices", "kind": "call", "backend": "voicebank", "model": "piper", "audio_seconds": 4.5},
            {"stage": "writer.line", "kind": "call", "backend": "llama-cpp", "model": "tiny-gguf"}, *rows]
    (folder / "ledger.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    script = {"episode": 1, "title": "E1", "scenes": [{"number": 1, "location": "ward", "time_of_day": "night",
                                                       "characters": ["A"], "beats": [{"kind": "hook", "action": "a",
                                                                                       "lines": [{"id": "s1b1l1",
                                                                                                  "speaker": "A",
                                                                                                  "text": "x" * 60}]}]}]}
    (folder / "episodes" / "01").mkdir(parents=True)
    (folder / "episodes" / "01" / "script.json").write_text(json.dumps(script))
    return folder


def test_run_folders_replace_the_bench_work(tmp_path, plan_of):
    run = write_run(tmp_path / "run")
    plan = plan_of(runs=[run])
    work = {q.name: q for q in plan.work}
    assert work["shots per finished minute"].value == pytest.approx(10 / 0.5)  # 10 shots in 30 s
    assert work["attempts per shot"].value == pytest.approx(1.2)
    assert work["final usable rate"].value == pytest.approx(0.9)
    assert work["voiced seconds per finished minute"].value == pytest.approx(10.5 / 0.5)
    assert work["prompt tokens per finished minute"].value == pytest.approx(3000 / 0.5)
    assert work["QC CPU seconds per take"].value == pytest.approx(6.0 / 12)
    prov = work["attempts per shot"].provenance
    assert prov.measured and prov.date == "2026-12-02" and "Test CPU, 4 cores" in prov.machine
    assert "tiny-gguf" in prov.model
    assert work["spoken characters per finished minute"].value == pytest.approx(60 / 0.5)
    # the retries measured in the run are the plan's: R = 1.2 / 0.9
    onprem = option(plan, "on-prem:testgpu")
    r = 1.2 / 0.9
    assert onprem.hours_per_month["retries"] == pytest.approx(20 * ((r - 1) * 1.0 + (1 / 0.9 - 1) * 36) * 1000 / 3600,
                                                              abs=0.01)
    assert option(plan, "laptop").figures[0].value == pytest.approx(120.0)  # still the bench's embedded figure


CLIP = {"stage": "clip", "kind": "call", "backend": "wan", "model": "wan"}


@pytest.mark.parametrize("fields, rows, expected", [
    ({"final_usable_rate": 0.0}, [], "summary.json field 'final_usable_rate' is a share of shots and must be in "
                                     "(0, 1], got 0.0"),
    ({"final_usable_rate": 5}, [], "summary.json field 'final_usable_rate' is a share of shots and must be in "
                                   "(0, 1], got 5.0"),
    ({"first_pass_usable_rate": 1.5}, [], "summary.json field 'first_pass_usable_rate'"),
    ({"first_pass_usable_rate": -0.1}, [], "summary.json field 'first_pass_usable_rate'"),
    ({"takes": 8}, [], "summary.json field 'takes' is 8, fewer than its 10 shots"),
    ({}, [CLIP] * 3, "ledger.jsonl has 3 'clip' calls, fewer than summary.json field 'shots' (10)"),
    ({}, [{**CLIP, "stage": "render", "gpu_seconds": "fast"}], "ledger.jsonl row 4 (stage 'render') field "
                                                               "'gpu_seconds' must be a non-negative number"),
    ({}, [{"stage": "voices", "kind": "call", "audio_seconds": "long"}], "field 'audio_seconds'"),
])
def test_run_folder_figures_out_of_range_are_refused(tmp_path, plan_of, fields, rows, expected):
    """Rates are checked, never clamped: a usable rate of 0 would divide by zero, of 5 make retries negative; fewer
    takes or clip calls than shots make retries negative; a ledger row's seconds must be numbers."""
    run = write_run(tmp_path / "run", rows=rows, **fields)
    with pytest.raises(PlanInputError) as refused:
        plan_of(runs=[run])
    assert expected in str(refused.value) and str(run) in str(refused.value)
    result = plan_cli(*BASE, "--runs", str(run), "--bench", str(bench_dir(tmp_path)), "--json",
                      str(tmp_path / "plan.json"))
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert expected in " ".join(result.output.split()) and "Traceback" not in result.output
    assert not (tmp_path / "plan.json").exists()


def test_a_run_with_clips_for_every_shot_is_used(tmp_path, plan_of):
    plan = plan_of(runs=[write_run(tmp_path / "run", rows=[CLIP] * 12)])  # 12 clips for 10 shots
    work = {q.name: q for q in plan.work}
    clips = work["clip attempts per shot"]
    assert clips.value == pytest.approx(1.2) and clips.provenance.measured


def test_cli_maps_any_other_value_error_to_a_clean_error(tmp_path, monkeypatch):
    import dramafactory.planner as planner

    def refuses(*args, **kwargs):
        raise ValueError("usable_rate must be positive")

    monkeypatch.setattr(planner, "make_plan", refuses)
    result = plan_cli(*BASE, "--bench", str(bench_dir(tmp_path)), "--json", str(tmp_path / "plan.json"))
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert "cannot plan from these inputs: usable_rate must be positive" in " ".join(result.output.split())
    assert not (tmp_path / "plan.json").exists()


# --- provenance of the bench figures -----------------------------------------------------------------------------

def test_bench_provenance_is_what_the_file_records(tmp_path, plan_of):
    plan = plan_of(bench=bench_dir(tmp_path, recorded=True))
    laptop = option(plan, "laptop").figures[0].provenance
    assert laptop.date == "2026-12-04" and laptop.machine == "Test CPU 9000, test-linux, 2 CPUs"
    assert laptop.model == "text: tiny-gguf; image: storyboard; speech: voicebank"
    tokens = next(q for q in plan.work if q.name == "prompt tokens per finished minute").provenance
    assert tokens.date == "2026-12-04" and tokens.model == laptop.model
    drill = next(q for q in plan.work if q.name == "shots per minute").provenance
    assert drill.model == "not recorded in the file" and drill.machine == "not recorded in the file"
    assert drill.date.startswith("not recorded in the file; file modified 20")  # the mtime, flagged


def test_old_bench_files_say_what_they_do_not_record(tmp_path, plan_of):
    laptop = option(plan_of(), "laptop").figures[0].provenance
    assert laptop.date.startswith("not recorded in the file; file modified ")
    assert laptop.model.startswith("not recorded in the file (bench/episode.py runs the Settings() defaults")
    assert "CPU model not recorded in the file" in laptop.machine


def _rewrite(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("file, change, expected", [
    ("episode.json", lambda d: d.update(measured_at="soon"), "episode.json: field 'measured_at' must be an ISO date"),
    ("episode.json", lambda d: d.update(models=["tiny"]), "episode.json: field 'models' must map roles"),
    ("qc_drill.json", lambda d: d.update(arms=[1, 2]), "qc_drill.json: field 'arms' must be a JSON object"),
    ("qc_drill.json", lambda d: d["arms"]["feedback"].update(final_usable_rate=1.5),
     "qc_drill.json: field 'arms.feedback.final_usable_rate' is a share of shots"),
    ("qc_drill.json", lambda d: d["arms"]["feedback"].update(attempts_per_shot=0.5),
     "qc_drill.json: field 'arms.feedback.attempts_per_shot' must be at least 1"),
    ("qc_drill.json", lambda d: d["arms"]["feedback"].update(shots="many"),
     "qc_drill.json: field 'arms.feedback.shots' must be a positive number"),
    ("gpu.json", lambda d: d.update(keyframes=[1]), "gpu.json: field 'keyframes' must be a JSON object"),
    ("gpu.json", lambda d: d["keyframes"]["klein"].update(batch=[0.3]),
     "gpu.json: field 'keyframes.klein.batch' must be a JSON object"),
    ("gpu.json", lambda d: d["clip"].update(seconds_per_clip="40"),
     "gpu.json: field 'clip.seconds_per_clip' must be a positive number"),
])
def test_malformed_bench_files_name_the_file_and_field(tmp_path, plan_of, file, change, expected):
    bench = bench_dir(tmp_path)
    (bench / "gpu.json").write_text(json.dumps(GPU_BENCH))
    _rewrite(bench / file, change)
    with pytest.raises(PlanInputError, match=re.escape(expected)):
        plan_of(bench=bench)


def test_fit_problems_are_reported_with_the_fix():
    plan = make_plan(PlanRequest(titles_per_month=10, episodes_per_title=10, minutes_per_episode=1, preset="quality",
                                 gpus=["rtx-4090", "h200", "h100-sxm"]))
    fits = {f.gpu: f for f in plan.fits}
    assert fits["rtx-4090"].status == "offload" and "at least" in fits["rtx-4090"].fix
    assert not option(plan, "on-prem:rtx-4090").costed and "does not fit" in option(plan, "on-prem:rtx-4090").reason
    assert fits["h200"].status == "swaps" and option(plan, "on-prem:h200").costed
    assert fits["h100-sxm"].status == "offload" and "h200" in fits["h100-sxm"].fix
    throughput = make_plan(PlanRequest(titles_per_month=10, episodes_per_title=10, minutes_per_episode=1,
                                       gpus=["h100-sxm", "l40s"]))
    assert {f.gpu: f.status for f in throughput.fits} == {"h100-sxm": "fits", "l40s": "swaps"}


def test_a_stale_catalogue_preset_is_refused(tmp_path):
    data = copy.deepcopy(PACKAGED)
    data["presets"]["throughput"]["video"]["model"] = "someone/else"
    cat = load_catalogue(_write_catalogue(tmp_path, data))
    req = PlanRequest.model_validate({"titles_per_month": 1, "episodes_per_title": 1, "minutes_per_episode": 1},
                                     context={"catalogue": cat})
    with pytest.raises(PlanInputError, match=r"presets\.throughput\.video\.model is 'someone/else'"):
        make_plan(req, cat=cat)


# --- the CLI: a plan, and bad input ----------------------------------------------------------------------------------

def plan_cli(*args: str):
    return runner.invoke(app, ["plan", *args], env={"COLUMNS": "200"})


BASE = ["--titles-per-month", "20", "--episodes-per-title", "10", "--minutes-per-episode", "1.5"]


def test_cli_writes_json_and_html(tmp_path):
    out = tmp_path / "out"
    result = plan_cli(*BASE, "--gpu", "h100-sxm", "--bench", str(bench_dir(tmp_path)), "--json",
                      str(out / "plan.json"), "--html", str(out / "plan.html"))
    assert result.exit_code == 0, result.output
    assert "on-prem NVIDIA H100 80GB SXM" in result.output and "break-even" in result.output
    plan = json.loads((out / "plan.json").read_text())
    assert plan["request"]["titles_per_month"] == 20 and plan["declared"]
    assert (out / "plan.html").read_text().count("data:image/png;base64,") == 3
    assert sorted(p.name for p in out.iterdir()) == ["plan.html", "plan.json"]  # no temporary files left
    umask = os.umask(0o022)
    os.umask(umask)
    for name in ("plan.json", "plan.html"):  # a new file's permissions, not the temporary file's 0600
        assert (out / name).stat().st_mode & 0o777 == 0o666 & ~umask


def test_cli_checks_every_target_before_writing_any(tmp_path):
    folder = tmp_path / "a-folder"
    folder.mkdir()
    bench = str(bench_dir(tmp_path))
    result = plan_cli(*BASE, "--bench", bench, "--json", str(tmp_path / "new" / "plan.json"), "--html", str(folder))
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert f"--html {folder}: is a folder" in " ".join(result.output.split())
    assert not (tmp_path / "new").exists()  # nothing written, no folder made
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    result = plan_cli(*BASE, "--bench", bench, "--json", str(afile / "out.json"))
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert f"--json {afile / 'out.json'}: {afile} is a file, not a folder" in " ".join(result.output.split())
    assert afile.read_text() == "not a folder"
    same = str(tmp_path / "plan.out")
    result = plan_cli(*BASE, "--bench", bench, "--json", same, "--html", same)
    assert result.exit_code == 2 and "given twice" in result.output and not (tmp_path / "plan.out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-folder", "afile", "bench"]


def test_a_failed_write_leaves_no_file_and_no_folder_made_for_it(tmp_path, monkeypatch):
    import dramafactory.planner.report as report

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report.os, "replace", full_disk)
    with pytest.raises(report.OutputError, match="No space left on device"):
        report.write_atomic({tmp_path / "new" / "deeper" / "plan.json": "{}", tmp_path / "plan.html": "<p>"})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args, expected", [
    (["--titles-per-month", "-5"], "--titles-per-month (titles_per_month)"),
    (["--titles-per-month", "5000000"], "--titles-per-month (titles_per_month)"),
    (["--minutes-per-episode", "0"], "--minutes-per-episode (minutes_per_episode)"),
    (["--utilisation", "1.5"], "--utilisation (utilisation)"),
    (["--titles-per-month", "1000000", "--episodes-per-title", "500"], "finished minutes a month"),
    (["--gpu", "tpu-v9"], "--gpu (gpus): unknown GPU 'tpu-v9'; the catalogue has: h100-sxm"),
    (["--preset", "cinematic"], "--preset (preset): unknown preset 'cinematic'"),
    (["--api", "free"], "--api (apis): unknown API stack 'free'"),
])
def test_cli_refuses_bad_targets_naming_the_field(tmp_path, args, expected):
    values = dict(zip(BASE[::2], BASE[1::2], strict=True))
    values.update(dict(zip(args[::2], args[1::2], strict=True)))
    flat = [x for pair in values.items() for x in pair]
    result = plan_cli(*flat, "--json", str(tmp_path / "plan.json"), "--html", str(tmp_path / "plan.html"))
    assert result.exit_code == 2, result.output
    assert expected in " ".join(result.output.split()), result.output
    assert not (tmp_path / "plan.json").exists() and not (tmp_path / "plan.html").exists()


def test_cli_refuses_a_catalogue_entry_without_a_source(tmp_path):
    data = copy.deepcopy(PACKAGED)
    del data["gpus"]["l40s"]["board_power_w"]["source"]
    path = _write_catalogue(tmp_path, data)
    result = plan_cli(*BASE, "--catalogue", str(path), "--json", str(tmp_path / "plan.json"))
    assert result.exit_code == 2
    assert "gpus.l40s.board_power_w.source" in " ".join(result.output.split())
    assert not (tmp_path / "plan.json").exists()


@pytest.mark.parametrize("make, expected", [
    (lambda p: p, "not a folder"),
    (lambda p: p.mkdir() or p, "no summary.json, so not a finished run"),
    (lambda p: p.mkdir() or (p / "summary.json").write_text("{\"title\": 3}") and p, "summary.json field"),
    (lambda p: p.mkdir() or (p / "summary.json").write_text("[1, 2]") and p, "not a JSON object"),
])
def test_cli_refuses_a_folder_that_is_not_a_run(tmp_path, make, expected):
    folder = make(tmp_path / "notarun")
    result = plan_cli(*BASE, "--runs", str(folder), "--bench", str(bench_dir(tmp_path)), "--json",
                      str(tmp_path / "plan.json"))
    assert result.exit_code == 2, result.output
    assert expected in " ".join(result.output.split()) and "notarun" in result.output
    assert not (tmp_path / "plan.json").exists()


def test_nothing_half_written_when_the_page_fails(tmp_path, monkeypatch):
    import dramafactory.planner.report as report

    def broken(plan):
        raise RuntimeError("the page could not be drawn")

    monkeypatch.setattr(report, "render_html", broken)
    result = plan_cli(*BASE, "--bench", str(bench_dir(tmp_path)), "--json", str(tmp_path / "plan.json"), "--html",
                      str(tmp_path / "plan.html"))
    assert result.exit_code != 0
    assert list(tmp_path.glob("plan*")) == [] and not list(tmp_path.glob(".plan*"))


# --- the API ---------------------------------------------------------------------------------------------------------

@pytest.fixture
def client(tmp_path):
    from fastapi.testclient import TestClient

    from dramafactory.api.app import create_app

    from .api_support import api_settings, fake_factory

    with TestClient(create_app(api_settings(tmp_path / "data"), context_factory=fake_factory())) as client:
        yield client


def test_api_plan(client):
    from .api_support import auth

    body = {"titles_per_month": 28_800, "episodes_per_title": 60, "minutes_per_episode": 1.5,
            "gpus": ["h100-sxm", "l40s"], "apis": ["budget"]}
    response = client.post("/plan", json=body, headers=auth("acme"))
    assert response.status_code == 200, response.text
    plan = response.json()
    assert {o["id"] for o in plan["options"]} >= {"on-prem:h100-sxm", "cloud-on-demand:l40s", "api:budget", "laptop"}
    assert plan["finished_minutes_per_month"] == 28_800 * 60 * 1.5
    bad = client.post("/plan", json={**body, "gpus": ["tpu-v9"]}, headers=auth("acme"))
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "gpus"]
    missing = client.post("/plan", json={**body, "runs": ["0123abcd"]}, headers=auth("acme"))
    assert missing.status_code == 404
    assert client.post("/plan", json=body).status_code == 401


def test_api_plan_does_not_depend_on_the_working_directory(client, tmp_path, monkeypatch):
    from dramafactory.planner.inputs import default_bench_dir

    from .api_support import auth

    body = {"titles_per_month": 100, "episodes_per_title": 10, "minutes_per_episode": 1.0, "gpus": ["h100-sxm"]}
    here = client.post("/plan", json=body, headers=auth("acme")).json()
    monkeypatch.chdir(tmp_path)  # no bench/results here
    there = client.post("/plan", json=body, headers=auth("acme"))
    assert there.status_code == 200, there.text
    assert there.json()["options"] == here["options"]
    assert default_bench_dir() == Path(__file__).resolve().parents[1] / "bench" / "results"
    sources = [q["provenance"]["source"] for q in there.json()["work"]]
    assert any(s.startswith("bench/results/") for s in sources) and str(tmp_path) not in there.text
    assert str(Path(__file__).resolve().parents[1]) not in there.text  # no server path in the answer


def test_api_maps_any_other_value_error_to_a_409_problem(client, monkeypatch):
    import dramafactory.api.routes.plan as route

    from .api_support import auth

    def refuses(*args, **kwargs):
        raise ValueError("usable_rate must be positive")

    monkeypatch.setattr(route, "make_plan", refuses)
    body = {"titles_per_month": 100, "episodes_per_title": 10, "minutes_per_episode": 1.0}
    response = client.post("/plan", json=body, headers=auth("acme"))
    assert response.status_code == 409
    assert response.json() == {"detail": "cannot plan from the service's measurements: usable_rate must be positive"}


def test_api_plans_from_the_tenants_own_finished_run(client, tmp_path):
    from .api_support import CONCEPT, auth, wait_for

    started = client.post("/series", json=CONCEPT, headers=auth("acme"))
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    body = {"titles_per_month": 100, "episodes_per_title": 10, "minutes_per_episode": 1.0, "gpus": ["h100-sxm"],
            "runs": [run_id]}
    if wait_for(client, run_id, {"running", "finished", "failed"}, auth("acme"))["status"] == "running":
        early = client.post("/plan", json=body, headers=auth("acme"))
        assert early.status_code in (200, 409)  # 409 while it runs; it may finish between the two calls
    assert wait_for(client, run_id, {"finished", "failed"}, auth("acme"))["status"] == "finished"
    plan = client.post("/plan", json=body, headers=auth("acme"))
    assert plan.status_code == 200, plan.text
    shots = next(q for q in plan.json()["work"] if q["name"] == "shots per finished minute")
    assert shots["provenance"]["measured"] and shots["provenance"]["source"] == f"run {run_id}"
    assert str(tmp_path) not in plan.text  # the run is named by its id, not by the server's folder
    assert client.post("/plan", json=body, headers=auth("globex")).status_code == 404  # another tenant's run
    summary = next((tmp_path / "data").rglob(f"{run_id}/summary.json"))
    _rewrite(summary, lambda d: d.update(final_usable_rate=0))
    refused = client.post("/plan", json=body, headers=auth("acme"))
    assert refused.status_code == 409, refused.text
    detail = refused.json()["detail"]
    assert detail.startswith(f"run {run_id}: summary.json field 'final_usable_rate'") and str(tmp_path) not in detail
    assert "--runs" not in detail

