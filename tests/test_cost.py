"""The cost ledger and budgets (docs/accounting.md "Prices, budgets"): each row's cost recomputed independently from
its seconds and the catalogue's figures under every profile, summary.json's totals the exact sum of the rows, the
on-prem rate the planner's own figure, a budget cap that stops a fake production and a raised cap that finishes it
without redoing finished work, and `dramafactory cost` over run folders."""

from __future__ import annotations

import json
import math
import threading

import pytest
import typer
from typer.testing import CliRunner

from dramafactory.catalogue import catalogue
from dramafactory.config import Settings
from dramafactory.errors import DramaError
from dramafactory.graphs.assemble import write_summary
from dramafactory.graphs.backends import build_context
from dramafactory.graphs.budget import Budget, BudgetReached
from dramafactory.graphs.runner import has_run, produce
from dramafactory.prices import Pricing, UnknownPriceProfile
from dramafactory.schemas import RunSummary, SeriesConcept
from dramafactory.tools.accounting import price_rows
from dramafactory.tools.ledger import Ledger

from .fakes import FakeImage, FakeSpeech, FakeText

CAT = catalogue()
EXPENSIVE_CPU = 3600.0  # $1 per CPU-second: a fake production's milliseconds become visible cents


def fast(**overrides) -> Settings:
    return Settings(_env_file=None, width=180, height=320, fps=8, music=False, qc_people="off", **overrides)


def context(run_dir, settings: Settings, **kwargs):
    return build_context(run_dir, settings, text=FakeText(), image=FakeImage(), speech=FakeSpeech(), **kwargs)


def rows_of(run_dir) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "ledger.jsonl").read_text().splitlines()]


# --- independent prices: straight from the catalogue's figures, not through prices.py or the planner ------------

def gpu_hour(profile: str, settings: Settings) -> float:
    kind, _, rest = profile.partition(":")
    if kind == "local":
        return settings.gpu_hour_usd
    gpu_id, _, share = rest.partition("@")
    gpu, onprem = CAT.gpus[gpu_id], CAT.onprem
    if kind == "cloud-on-demand":
        return gpu.cloud_on_demand_usd_h.value
    if kind == "cloud-reserved":
        return gpu.cloud_reserved_usd_h.value
    kw = gpu.board_power_w.value * onprem.server_power_factor.value / 1000
    monthly = (gpu.purchase_usd.value / (onprem.life_years.value * 12) + kw * onprem.hosting_usd_per_kw_month.value
               + onprem.staff_usd_per_gpu_month.value)
    busy_hours = 8760 / 12 * (float(share) if share else 0.7)
    return monthly / busy_hours + kw * onprem.pue.value * onprem.usd_per_kwh.value


def expected_cost(row: dict, profile: str, settings: Settings) -> float:
    if row["kind"] == "mark":
        return 0.0
    if row.get("api") == "flux-schnell-replicate":
        return 0.003
    if row.get("api") == "seedance-1.0-pro-fast-720p":  # 0.43 CNY per 5 s clip: a 7 s shot takes two
        return 2 * 0.43 / CAT.exchange_rates["CNY"].value
    if row["remote"]:
        if row["kind"] != "call":
            return 0.0
        if settings.remote_text_usd_per_mtok is not None:
            return row["tokens"] * settings.remote_text_usd_per_mtok / 1e6
        if row["model"].startswith("gpt-4.1-mini"):
            return (row["prompt_tokens"] * 0.40 + row["completion_tokens"] * 1.60) / 1e6
        return 0.0
    cpu = row["cpu_seconds"] if row["cpu_scope"] else 0.0
    return ((cpu or 0.0) * settings.cpu_hour_usd + (row["gpu_seconds"] or 0.0) * gpu_hour(profile, settings)) / 3600


def record_every_kind(ledger: Ledger) -> None:
    ledger.mark("start")
    ledger.record(stage="render", backend="diffusers", model="m", seconds=10.0, cpu_seconds=2.5, cpu_scope="thread",
                  gpu_seconds=8.25, shot="e02s03", attempt=1)
    ledger.record(stage="render.load", backend="diffusers", model="m", seconds=30.0, kind="load", cpu_seconds=12.0,
                  cpu_scope="process", gpu_seconds=4.0)
    ledger.record(stage="clip", backend="diffusers", model="v", seconds=5.0, kind="error", cpu_seconds=1.0,
                  cpu_scope="thread", gpu_seconds=3.5, shot="e01s01", error="boom")
    ledger.record(stage="render", backend="diffusers", model="m", seconds=6.0, kind="discarded", cpu_seconds=0.5,
                  cpu_scope="thread", gpu_seconds=5.0, shot="e01s02")
    ledger.record(stage="render", backend="diffusers", model="m", seconds=0.0, kind="reuse", cpu_seconds=0.0,
                  cpu_scope="thread", shot="e01s04")
    ledger.record(stage="writer.line", backend="openai", model="Qwen/Qwen2.5-7B-Instruct", seconds=2.0,
                  prompt_tokens=900, completion_tokens=100, cpu_seconds=0.02, cpu_scope="thread", gpu_seconds=None,
                  remote=True)
    ledger.record(stage="writer.line", backend="openai", model="gpt-4.1-mini-2025-04-14", seconds=2.0,
                  prompt_tokens=1200, completion_tokens=300, cpu_seconds=0.02, cpu_scope="thread", gpu_seconds=None,
                  remote=True)
    ledger.record(stage="writer.line", backend="openai", model="gpt-4.1-mini", seconds=0.0, kind="error",
                  remote=True, gpu_seconds=None)
    ledger.record(stage="memory", backend="chroma", model="minilm", seconds=3.0, cpu_seconds=3.0, cpu_scope=None)
    ledger.record(stage="render", backend="hosted", model="flux", seconds=1.0, api="flux-schnell-replicate")
    ledger.record(stage="clip", backend="hosted", model="seedance", seconds=40.0, api="seedance-1.0-pro-fast-720p",
                  clip_seconds=7.0)


@pytest.mark.parametrize("profile", ["local", "on-prem:h100-sxm", "on-prem:l40s@0.35", "cloud-on-demand:h200",
                                     "cloud-reserved:a100-80gb"])
@pytest.mark.parametrize("remote_price", [None, 2.5])
def test_each_row_costs_its_seconds_at_the_profile_s_rates(tmp_path, profile, remote_price):
    settings = Settings(_env_file=None, price_profile=profile, remote_text_usd_per_mtok=remote_price)
    ledger = Ledger(tmp_path / "ledger.jsonl", pricing=Pricing.from_settings(settings))
    record_every_kind(ledger)
    rows = rows_of(tmp_path)
    assert len(rows) == 12
    for row in rows:
        assert row["price_profile"] == profile
        assert row["cost_usd"] == round(row["cost_usd"], 9)
        # rounded to the nano-dollar at record time: within half of one of the independent figure
        assert row["cost_usd"] == pytest.approx(expected_cost(row, profile, settings), abs=5.0001e-10), row
    by = {(r["stage"], r["kind"], r.get("model")): r for r in rows}
    assert by[("render", "call", "m")]["cost_usd"] > 0 and by[("render", "discarded", "m")]["cost_usd"] > 0
    assert by[("memory", "call", "minilm")]["cost_usd"] == 0.0  # no cpu_scope: not a CPU measurement
    start = rows[0]
    assert start["prices"]["price_profile"] == profile and start["prices"]["gpu_hour_usd"] == pytest.approx(
        gpu_hour(profile, settings), rel=1e-12)
    costs = price_rows(rows, ledger.pricing)
    assert costs.usd == round(math.fsum(r["cost_usd"] for r in rows), 9) == round(ledger.spent_usd, 9)
    unpriced = 1 if remote_price is None else 0  # the self-hosted Qwen without a per-token price
    assert costs.unpriced_calls == unpriced


def test_the_on_prem_rate_is_the_planner_s_figure_for_each_gpu(tmp_path):
    from dramafactory.planner.gpus import check_preset
    from dramafactory.planner.inputs import essential, gather
    from dramafactory.planner.options import gpu_options
    from dramafactory.planner.schema import PlanRequest
    from dramafactory.planner.work import work_of

    from .test_planner import bench_dir

    request = PlanRequest(titles_per_month=50, episodes_per_title=10, minutes_per_episode=1.0)
    figs = CAT.presets[request.preset]
    inputs = gather(CAT, bench_dir(tmp_path), [])
    essential(inputs)
    compared = 0
    for gpu_id in CAT.gpus:
        priced = {p.option.id: p for p in gpu_options(request, gpu_id, CAT, figs, check_preset(request.preset, figs),
                                                      inputs, work_of(inputs))}
        shape = priced[f"on-prem:{gpu_id}"].shape
        if shape is None:  # the preset does not fit this card: the planner costs no hour of it
            continue
        planner_hour = shape.full_fleet_per_title / shape.unit_hours_per_title  # $ per busy GPU-hour, full fleet
        ours = Pricing.for_profile(f"on-prem:{gpu_id}", cpu_hour_usd=0.04, gpu_hour_usd=0.0).gpu_hour_usd
        assert ours == pytest.approx(planner_hour, rel=1e-12)
        assert ours == pytest.approx(gpu_hour(f"on-prem:{gpu_id}", fast()), rel=1e-12)
        compared += 1
    assert compared >= 3
    # by hand for an H100: (35,000/48 + 1.274 kW x $180 + $65) / (730 h x 0.7) + 1.274 kW x 1.56 x $0.09
    h100 = Pricing.for_profile("on-prem:h100-sxm", cpu_hour_usd=0.04, gpu_hour_usd=0.0).gpu_hour_usd
    assert h100 == pytest.approx((35000 / 48 + 1.274 * 180 + 65) / (730 * 0.7) + 1.274 * 1.56 * 0.09, rel=1e-9)


@pytest.mark.parametrize("profile, named", [("gpu-farm", "unknown kind"), ("on-prem:h900", "no GPU 'h900'"),
                                            ("on-prem:h100-sxm@1.5", "not in (0, 1]"),
                                            ("cloud-on-demand:h200@0.5", "on-prem only"),
                                            ("local:h100-sxm", "local names no GPU")])
def test_an_unknown_profile_is_refused_at_start_up_naming_the_choices(tmp_path, profile, named):
    with pytest.raises(UnknownPriceProfile) as info:
        context(tmp_path / "run", fast(price_profile=profile))
    assert named in info.value.cause and profile in info.value.cause
    assert "cloud-reserved:<gpu>" in info.value.fix and all(gpu in info.value.fix for gpu in CAT.gpus)
    assert not (tmp_path / "run").exists()  # refused before anything was made


def test_the_running_total_is_exact_across_threads_and_a_resumed_ledger(tmp_path):
    path = tmp_path / "ledger.jsonl"
    ledger = Ledger(path, pricing=Pricing.from_settings(fast(cpu_hour_usd=EXPENSIVE_CPU)))

    def work(n: int) -> None:
        for k in range(40):
            ledger.record(stage="qc", backend="qc", model="scorers", seconds=0.01, cpu_seconds=0.0001 * (n + k + 1),
                          cpu_scope="thread", shot=f"e0{1 + n % 2}s01")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = ledger.rows()
    assert len(rows) == 240 and ledger.spent_usd == round(math.fsum(r["cost_usd"] for r in rows), 9)
    later = Ledger(path, pricing=ledger.pricing)  # a resumed run's process: starts from what is on file
    assert later.spent_usd == ledger.spent_usd
    later.record(stage="qc", backend="qc", model="scorers", seconds=1.0, cpu_seconds=0.5, cpu_scope="thread")
    assert later.spent_usd == pytest.approx(ledger.spent_usd + 0.5, abs=1e-9)
    assert {r["episode"] for r in rows} == {1, 2}  # from the shot ids


def test_a_budget_check_names_the_series_the_spending_and_the_fix(tmp_path):
    ledger = Ledger(tmp_path / "ledger.jsonl", pricing=Pricing.from_settings(fast(cpu_hour_usd=EXPENSIVE_CPU)))
    budget = Budget(1.0, ledger)
    ledger.record(stage="render", backend="b", model="m", seconds=1.0, cpu_seconds=0.75, cpu_scope="thread")
    budget.check("render")  # $0.75 of $1: goes on
    assert budget.left_usd == pytest.approx(0.25)
    (tmp_path / "bible.json").write_text(json.dumps({"title": "The Nurse's Secret"}))
    ledger.record(stage="render", backend="b", model="m", seconds=1.0, cpu_seconds=0.25, cpu_scope="thread")
    with pytest.raises(BudgetReached) as info:
        budget.check("voices")
    assert str(info.value.cause) == ("series \"The Nurse's Secret\" has spent $1.00 of its $1.00 budget; stopped "
                                     "before voices")
    assert "--budget-usd" in info.value.fix and "--resume" in info.value.fix
    assert isinstance(info.value, DramaError)
    with pytest.raises(DramaError):
        Budget(0.0, ledger)


# --- a fake production, costed -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """Two 20 s episodes with the fakes, finished."""
    run_dir = tmp_path_factory.mktemp("finished") / "run"
    ctx = context(run_dir, fast())
    concept = SeriesConcept(logline="A night-shift nurse discovers the billionaire patient she saved is her runaway "
                                    "father.", genre="family", episodes=2, seconds_per_episode=20)
    assert produce(ctx, concept=concept, seed=7).status == "finished"
    return ctx


def test_summary_costs_are_the_exact_sum_of_the_rows(finished):
    ctx, settings = finished, finished.settings
    rows = rows_of(ctx.run_dir)
    summary = RunSummary.model_validate_json((ctx.run_dir / "summary.json").read_text())
    for row in rows:
        assert row["cost_usd"] == pytest.approx(expected_cost(row, "local", settings), abs=5.0001e-10), row
    assert summary.cost_usd == round(math.fsum(r["cost_usd"] for r in rows), 9) and summary.cost_usd > 0
    independent = math.fsum(expected_cost(r, "local", settings) for r in rows)
    assert summary.cost_usd == pytest.approx(independent, abs=len(rows) * 5e-10)
    minutes = sum(summary.episode_seconds) / 60
    assert summary.cost_per_finished_minute_usd == pytest.approx(summary.cost_usd / minutes, abs=1e-9)
    # every episode's own rows: its text, shots, voices and assembly; the bible and memory are series-wide
    assert len(summary.episode_costs_usd) == summary.episodes == 2
    for number, cost in enumerate(summary.episode_costs_usd, start=1):
        assert cost == round(math.fsum(r["cost_usd"] for r in rows if r.get("episode") == number), 9) > 0
        stages = {r["stage"].split(".")[0] for r in rows if r.get("episode") == number}
        assert {"writer", "cinematographer", "render", "qc", "voices", "assemble"} <= stages
    assert all(r.get("episode") is None for r in rows if r["stage"].startswith(("director", "memory", "run")))
    assert all(r["episode"] == int(r["shot"][1:3]) for r in rows if r["stage"] in ("render", "qc"))
    assert sum(summary.episode_costs_usd) <= summary.cost_usd + 1e-9
    assert summary.budget_usd is None


def test_takes_are_counted_from_the_render_rows(finished, tmp_path):
    """The orchestrator's render rows: a committed take ("call" with take_id), a reused one, a discarded one."""
    bible = json.loads((finished.run_dir / "bible.json").read_text())
    ctx = context(tmp_path / "run", fast(), budget_usd=50.0)
    for kind, take in [("call", "t1"), ("call", "t2"), ("reuse", "t3"), ("discarded", "t4"), ("discarded", "t5")]:
        ctx.ledger.record(stage="render", backend="b", model="m", seconds=0.5, kind=kind, take_id=take,
                          cpu_seconds=0.25, cpu_scope="thread", shot="e01s01")
    ctx.ledger.record(stage="render", backend="b", model="m", seconds=0.5, shot="e01s02")  # a take before take ids
    state = {"bible": bible, "concept": json.loads((finished.run_dir / "concept.json").read_text()),
             "stage_times": [], "episodes_done": [{"episode": 1, "seconds": 30.0, "shots": 2, "takes": 2,
                                                   "first_pass_usable": 2, "final_usable": 2}]}
    summary = write_summary(ctx, state)
    assert (summary.takes_rendered, summary.takes_reused, summary.takes_discarded) == (2, 1, 2)
    assert summary.budget_usd == 50.0
    rows = ctx.ledger.rows()
    assert summary.cost_usd == round(math.fsum(r["cost_usd"] for r in rows), 9)
    assert summary.episode_costs_usd == [summary.cost_usd]  # every row here is episode 1's


# --- budgets: a cap halts a production, a raised cap finishes it --------------------------------------------------

def test_a_budget_cap_halts_before_new_work_and_a_raised_cap_finishes_it(tmp_path, concept):
    run_dir = tmp_path / "capped"
    settings = fast(cpu_hour_usd=EXPENSIVE_CPU)
    assert produce(context(run_dir, settings), concept=concept, seed=5, stop_after="cinematographer").status == "paused"
    spent = Ledger(run_dir / "ledger.jsonl", pricing=Pricing.from_settings(settings)).spent_usd
    capped = context(run_dir, settings, budget_usd=spent + 1e-9)  # the shots' first renders pass the cap
    with pytest.raises(BudgetReached) as info:
        produce(capped, concept=None, resume=True)
    assert info.value.stage in ("render", "voices") and info.value.spent_usd >= info.value.cap_usd
    assert has_run(run_dir) and not (run_dir / "summary.json").exists()
    before = [r for r in rows_of(run_dir) if r["kind"] != "mark"]
    assert any(r["stage"] == "render" for r in before)  # the renders in flight at the cap finished and were billed

    again = context(run_dir, settings, budget_usd=spent + 1000.0)
    outcome = produce(again, concept=None, resume=True)
    assert outcome.status == "finished" and outcome.summary.budget_usd == spent + 1000.0
    after = [r for r in rows_of(run_dir) if r["kind"] != "mark"]
    assert after[:len(before)] == before  # the ledger only grew
    added = after[len(before):]
    assert again.text.calls == 0 and not any(r["stage"].startswith(("director", "writer", "cinematographer",
                                                                     "memory")) for r in added)
    done = {(r["shot"], r["attempt"]) for r in before if r["stage"] == "render" and r["kind"] == "call"}
    redone = {(r["shot"], r["attempt"]) for r in added if r["stage"] == "render" and r["kind"] == "call"}
    assert not done & redone, f"takes rendered twice: {sorted(done & redone)}"
    everything = rows_of(run_dir)
    assert outcome.summary.cost_usd == round(math.fsum(r["cost_usd"] for r in everything), 9)
    assert [r["budget_usd"] for r in everything if r["kind"] == "mark"][-2:] == [spent + 1000.0] * 2


def test_produce_exits_with_its_own_code_and_one_line_when_the_budget_is_reached(tmp_path, monkeypatch):
    import dramafactory.graphs.backends as backends
    from dramafactory.cli import EXIT_BUDGET, app

    real = backends.build_context
    monkeypatch.setattr(backends, "build_context", lambda out, settings: real(  # the CLI's settings carry the cap
        out, fast(cpu_hour_usd=EXPENSIVE_CPU, budget_usd=settings.budget_usd), text=FakeText(), image=FakeImage(),
        speech=FakeSpeech()))
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["produce", "A nurse finds her father.", "--out", str(out), "--episodes", "1",
                                      "--seconds", "20", "--budget-usd", "0.000001"])
    assert result.exit_code == EXIT_BUDGET == 5, result.output
    message = " ".join(result.output.split())
    assert "budget; stopped before" in message and "--resume" in message and "Traceback" not in result.output
    assert has_run(out) and not (out / "summary.json").exists()


# --- dramafactory cost --------------------------------------------------------------------------------------------

def cost_app() -> typer.Typer:
    """`dramafactory cost` as the CLI registers it (a command of a multi-command app)."""
    from dramafactory.cli_cost import cost_command

    app = typer.Typer()
    app.callback()(lambda: None)
    app.command("cost")(cost_command)
    return app


def test_cost_lists_each_run_and_the_total_from_the_ledgers(finished, tmp_path, concept):
    stopped = tmp_path / "stopped"
    produce(context(stopped, fast(), budget_usd=5.0), concept=concept, seed=3, stop_after="director")
    not_a_run = tmp_path / "photos"
    not_a_run.mkdir()
    result = CliRunner().invoke(cost_app(), ["cost", str(finished.run_dir), str(stopped), str(not_a_run), "--json"])
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert [e["path"] for e in report["errors"]] == [str(not_a_run)] and "ledger.jsonl" in report["errors"][0]["error"]
    done, partial = report["runs"]
    summary = RunSummary.model_validate_json((finished.run_dir / "summary.json").read_text())
    assert done["cost_usd"] == summary.cost_usd and done["episodes"] == 2 and done["finished"]
    assert done["finished_minutes"] == pytest.approx(sum(summary.episode_seconds) / 60, abs=1e-4)
    assert done["cpu_seconds"] == pytest.approx(summary.cpu_seconds, abs=1e-3) and done["budget_usd"] is None
    assert done["title"] == summary.title and done["tokens"] == sum(r["tokens"] for r in rows_of(finished.run_dir))
    stopped_rows = rows_of(stopped)
    assert not partial["finished"] and partial["episodes"] == 0 and partial["cost_per_finished_minute_usd"] is None
    assert partial["cost_usd"] == round(math.fsum(r["cost_usd"] for r in stopped_rows), 9) > 0
    assert partial["budget_usd"] == 5.0 and partial["left_usd"] == pytest.approx(5.0 - partial["cost_usd"], abs=1e-9)
    total = report["total"]
    assert total["cost_usd"] == round(math.fsum([done["cost_usd"], partial["cost_usd"]]), 9)
    assert total["episodes"] == 2 and total["runs"] == 2 and total["budget_usd"] == 5.0

    table = CliRunner().invoke(cost_app(), ["cost", str(finished.run_dir), str(stopped)])
    assert table.exit_code == 0, table.output
    assert summary.title in table.stdout and "total" in table.stdout and "unfinished" in table.stdout


def test_cost_names_a_folder_that_is_not_a_run(tmp_path):
    result = CliRunner().invoke(cost_app(), ["cost", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "nowhere is not a folder" in " ".join(result.output.split())
