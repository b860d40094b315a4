"""The eval runner, compare, A/B and judge mechanics on fake backends (the real smoke eval is in test_eval_smoke)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dramafactory.cli import app
from dramafactory.evals import suites
from dramafactory.evals.ab import compare_sides, invariant_violations, load_config, winner
from dramafactory.evals.compare import baseline_of, compare
from dramafactory.evals.golden import load_golden
from dramafactory.evals.invariants import INVARIANTS
from dramafactory.evals.judge import agreement, judge_pair, judge_scripts
from dramafactory.evals.production import Production
from dramafactory.graphs.backends import build_context
from dramafactory.tools.ledger import Ledger

from .fakes import FakeImage, FakeSpeech, FakeText


@pytest.fixture
def fake_make(fast_settings):
    made = []

    def make(run_dir: Path, settings):
        text = FakeText()
        made.append(text)
        return build_context(run_dir, settings, text=text, image=FakeImage(), speech=FakeSpeech())

    make.made = made
    return make


def plan(suites_: list[str]) -> suites.EvalPlan:
    return suites.EvalPlan("test", suites_, load_golden().pick(["family"]), episodes=1, seconds=30, seeds=[0])


def test_the_golden_set_covers_six_genres_and_its_presets_are_valid():
    golden = load_golden()
    assert {c.genre for c in golden.concepts} == {"revenge", "romance", "family", "workplace", "fantasy", "thriller"}
    assert {"smoke", "golden"} <= set(golden.presets)
    with pytest.raises(ValueError, match="unknown golden concept"):
        golden.pick(["western"])


def test_run_eval_produces_scores_and_resumes_instead_of_producing_again(tmp_path, fast_settings, fake_make):
    results = suites.run_eval(plan(["bible", "script", "shotlist", "e2e"]), tmp_path, fast_settings,
                              make_context=fake_make)
    (case,) = results["cases"]
    names = {m["name"] for m in case["metrics"]}
    assert {"bible.distinct_looks", "script.speech", "shotlist.duration_fit", "e2e.final_usable"} <= names
    # what code guarantees is checked beside the metrics, never among them
    assert not names & set(INVARIANTS) and {m["name"] for m in case["invariants"]} == set(INVARIANTS)
    assert all(row["held"] and row["cases"] == 1 for row in results["invariants"].values())
    calls = next(m for m in case["metrics"] if m["name"] == "cost.text_calls")
    assert calls["value"] == fake_make.made[0].calls > 0  # every text call of the production, from its ledger
    assert set(results["metrics"]) == names
    assert (tmp_path / case["run_dir"] / "summary.json").is_file() and case["contact_sheets"]
    calls = fake_make.made[0].calls
    again = suites.run_eval(plan(["bible", "script", "shotlist", "e2e"]), tmp_path, fast_settings,
                            make_context=fake_make)
    assert fake_make.made[1].calls == 0 and fake_make.made[0].calls == calls  # scored again, not produced again
    assert again["metrics"] == results["metrics"]


def test_a_bible_only_eval_stops_after_the_director(tmp_path, fast_settings, fake_make):
    results = suites.run_eval(plan(["bible"]), tmp_path, fast_settings, make_context=fake_make)
    run = tmp_path / results["cases"][0]["run_dir"]
    assert (run / "bible.json").is_file() and not (run / "episodes").exists()
    assert all(m["name"].split(".")[0] in ("bible", "cost") for m in results["cases"][0]["metrics"])


def test_a_later_eval_that_needs_more_resumes_the_production(tmp_path, fast_settings, fake_make):
    suites.run_eval(plan(["script"]), tmp_path, fast_settings, make_context=fake_make)
    run = tmp_path / "runs" / "family-s0"
    assert (run / "episodes/01/shotlist.json").is_file() and not (run / "summary.json").exists()
    script_before = (run / "episodes/01/script.json").read_text()
    results = suites.run_eval(plan(["e2e"]), tmp_path, fast_settings, make_context=fake_make)
    assert (run / "summary.json").is_file() and results["metrics"]["e2e.final_usable"]["cases"] == 1
    assert (run / "episodes/01/script.json").read_text() == script_before  # resumed, not rewritten


def test_the_judge_scores_with_several_seeds_and_hides_which_side_is_which(tmp_path, fast_settings, fake_make):
    suites.run_eval(plan(["script"]), tmp_path, fast_settings, make_context=fake_make)
    scripts = Production.load(tmp_path / "runs" / "family-s0").scripts
    judged = judge_scripts(FakeText(), Ledger(tmp_path / "j.jsonl"), scripts, seeds=[1, 2, 3])
    assert judged["hook_strength"] == {"mean": 5.0, "agreement": 1.0}
    assert agreement([1, 3, 3]) == pytest.approx(1 / 3, abs=1e-3)
    # the fake judge always prefers "version 1": asked in both orders, that is a tie, never a win
    picks = {judge_pair(FakeText(), Ledger(tmp_path / "j.jsonl"), scripts[0], scripts[0], seed)["hook_strength"]
             for seed in range(3)}
    assert picks == {"tie"}
    marked = scripts[0].model_copy(deep=True)
    marked.scenes[0].beats[0].action = "MARKED " + marked.scenes[0].beats[0].action
    assert judge_pair(PrefersMarked(), Ledger(tmp_path / "j.jsonl"), scripts[0], marked, 1) == {
        "hook_strength": "b", "dialogue_naturalness": "b"}
    assert judge_pair(PrefersMarked(), Ledger(tmp_path / "j.jsonl"), marked, scripts[0], 1)["hook_strength"] == "a"


class PrefersMarked:
    """A judge with a real preference: the version whose text carries MARKED, wherever it is shown."""

    name, model = "marked-judge", "fake"

    def complete_json(self, request):
        from dramafactory.tools.text.base import TextResult

        ask = request.messages[-1][1]
        first = ask.split("Version 1:")[1].split("Version 2:")[0]
        pick = 1 if "MARKED" in first else 2
        return TextResult(json.dumps({"hook_strength": pick, "dialogue_naturalness": pick}), 10, 5, 0.001, "fake",
                          self.name)


def test_ab_winner_decides_on_paired_differences_beyond_their_spread():
    assert winner([-0.2, -0.2, -0.2], "higher") == "a"
    assert winner([0.1, -0.1, 0.2], "higher") == "tie"  # mean 0.067, spread 0.15
    assert winner([-1, -1, -1], "lower") == "b"
    case = {"metrics": [{"name": "m", "value": 1, "better": "higher", "threshold": 1}]}

    def side(values):
        return {"cases": [{"id": f"c{i}", "metrics": [{**case["metrics"][0], "value": v}]}
                          for i, v in enumerate(values)]}

    # two concepts far apart (0.2 and 0.9): pooled they would look like noise; paired, B is better on both
    sides = compare_sides(side([0.2, 0.9]), side([0.3, 1.0]))
    assert sides["m"]["winner"] == "b" and sides["m"]["delta"] == 0.1
    band = {"name": "fit", "better": "band", "threshold": [0.35, 0.9]}
    inside = compare_sides({"cases": [{"id": "c", "metrics": [{**band, "value": 0.4}]}]},
                           {"cases": [{"id": "c", "metrics": [{**band, "value": 0.8}]}]})
    assert inside["fit"]["winner"] == "tie"  # both inside the band: neither is better
    out = compare_sides({"cases": [{"id": "c", "metrics": [{**band, "value": 1.3}]}]},
                        {"cases": [{"id": "c", "metrics": [{**band, "value": 0.8}]}]})
    assert out["fit"]["winner"] == "b"


def test_ab_config_errors_name_the_setting(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("max_attempts: 99\n")
    with pytest.raises(ValueError, match="max_attempts"):
        load_config(bad)
    bad.write_text("no_such_setting: 1\n")
    with pytest.raises(ValueError, match="unknown settings"):
        load_config(bad)
    good = tmp_path / "strict.yaml"
    good.write_text("label: strict\nqc:\n  min_sharpness: 150\n")
    label, settings = load_config(good)
    assert label == "strict" and settings.qc.min_sharpness == 150


def test_run_ab_produces_both_sides_and_compares_them(tmp_path, fast_settings, fake_make):
    from dramafactory.evals.ab import run_ab

    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("label: three tries\nmax_attempts: 3\n")
    b.write_text("label: one try\nmax_attempts: 1\n")
    ab = run_ab(a, b, suites.EvalPlan("ab", ["script"], load_golden().pick(["family"]), 1, 30, [0, 1]),
                tmp_path / "ab", make_context=fake_make)
    assert (ab["a"], ab["b"]) == ("three tries", "one try")
    run = tmp_path / "ab/a/runs/family-s1"  # a one-episode script suite needs no render: it stops at the shot list
    assert (run / "episodes/01/shotlist.json").is_file() and not (run / "summary.json").exists()
    assert ab["metrics"]["script.speech"]["a"]["values"] == [1.0, 1.0]
    assert "script.hook_first" not in ab["metrics"] and ab["invariants_violated"] == {"a": [], "b": []}


def test_compare_of_a_run_with_its_own_baseline_passes(tmp_path, fast_settings, fake_make):
    results = suites.run_eval(plan(["bible"]), tmp_path, fast_settings, make_context=fake_make)
    baseline = json.loads(json.dumps(baseline_of(results)))
    assert "cases" not in baseline
    assert compare(results, baseline)["passed"]


def test_eval_cli_rejects_a_broken_baseline_and_unknown_concepts(tmp_path):
    broken = tmp_path / "baseline.json"
    broken.write_text("[1, 2]")
    result = CliRunner().invoke(app, ["eval", "bible", "--out", str(tmp_path / "o"), "--compare", str(broken)])
    assert result.exit_code == 2 and "not an eval baseline" in result.output
    result = CliRunner().invoke(app, ["eval", "bible", "--out", str(tmp_path / "o"), "--concepts", "western"])
    assert result.exit_code == 2 and "unknown golden concept" in result.output
    result = CliRunner().invoke(app, ["eval", "bible", "--out", str(tmp_path / "o"), "--seeds", "a,b"])
    assert result.exit_code == 2 and "--seeds" in result.output


def test_an_eval_refuses_to_score_a_production_of_another_plan(tmp_path, fast_settings, fake_make):
    suites.run_eval(plan(["bible"]), tmp_path, fast_settings, make_context=fake_make)
    longer = plan(["bible"])
    longer.seconds = 45
    with pytest.raises(suites.PlanMismatch, match="seconds_per_episode"):
        suites.run_eval(longer, tmp_path, fast_settings, make_context=fake_make)
    stricter = fast_settings.model_copy(update={"max_attempts": 1})
    with pytest.raises(suites.PlanMismatch, match="max_attempts"):
        suites.run_eval(plan(["bible"]), tmp_path, stricter, make_context=fake_make)


class ExplodingText(FakeText):
    def complete_json(self, request):
        raise RuntimeError("the model server crashed")


def test_a_case_that_breaks_is_recorded_and_the_others_are_still_scored(tmp_path, fast_settings, fake_make):
    two = suites.EvalPlan("test", ["bible"], load_golden().pick(["family", "romance"]), 1, 30, [0])

    def broken_for_family(run_dir, settings):
        if "family" in run_dir.name:
            return build_context(run_dir, fast_settings, text=ExplodingText(), image=FakeImage(),
                                 speech=FakeSpeech())
        return fake_make(run_dir, settings)

    results = suites.run_eval(two, tmp_path, fast_settings, make_context=broken_for_family)
    by_id = {c["id"]: c for c in results["cases"]}
    assert by_id["family-s0"]["metrics"][0]["name"] == "case.produced"
    assert not by_id["family-s0"]["metrics"][0]["passed"]
    assert any(m["name"] == "bible.distinct_looks" for m in by_id["romance-s0"]["metrics"])
    assert not results["metrics"]["case.produced"]["passed"]
    assert "the model server crashed" in by_id["family-s0"]["metrics"][0]["detail"][0]


def test_the_example_ab_configurations_load():
    folder = Path(__file__).resolve().parents[1] / "evals" / "configs"
    labels = {load_config(path)[0] for path in folder.glob("*.yaml")}
    assert {"embedded default", "one re-ask"} <= labels


def test_a_violated_invariant_is_reported_fails_the_eval_and_fails_compare(tmp_path, fast_settings, fake_make):
    """The hook is guaranteed by the writer; a script whose first beat is no hook (here edited on disk, as a
    broken writer or a reviewer's edit would leave it) is an error shown loudly, not a 0.0 among the metrics."""
    good = suites.run_eval(plan(["script"]), tmp_path, fast_settings, make_context=fake_make)
    path = tmp_path / "runs" / "family-s0" / "episodes" / "01" / "script.json"
    script = json.loads(path.read_text())
    script["scenes"][0]["beats"][0]["kind"] = "pressure"
    path.write_text(json.dumps(script))
    said: list[str] = []
    results = suites.run_eval(plan(["script"]), tmp_path, fast_settings, make_context=fake_make,
                              progress=said.append)
    row = results["invariants"]["script.hook_first"]
    assert not row["held"] and "family-s0: the first beat is a pressure, not a hook" in row["violations"]
    assert "agents/writer" in row["guaranteed_by"] and results["invariants"]["script.known_speakers"]["held"]
    assert not results["passed"] and "script.hook_first" not in results["metrics"]
    assert any(m.startswith("INVARIANT VIOLATED: script.hook_first in family-s0") for m in said)
    against = compare(results, baseline_of(good))
    assert not against["passed"] and against["invariants_violated"] == ["script.hook_first"]
    assert "script.hook_first (invariant violated)" in against["regressions"]
    assert not set(against["deltas"]) & set(INVARIANTS)


def test_an_old_baseline_that_still_lists_the_invariants_compares_without_them():
    """Baselines written before the invariants moved out list them as metrics: they are ignored, neither missing
    nor compared (here one even reads 0.5 in the old results)."""
    old = {"metrics": {"script.speech": {"mean": 1.0, "better": "higher"},
                       "script.valid": {"mean": 1.0, "better": "higher"},
                       "shotlist.screen_direction": {"mean": 1.0, "better": "higher"}}}
    now = {"metrics": {"script.speech": {"mean": 1.0, "better": "higher"},
                       "shotlist.screen_direction": {"mean": 0.5, "better": "higher"}},
           "invariants": {"script.valid": {"held": True, "cases": 1, "violations": []}}}
    result = compare(now, old)
    assert result["passed"] and not result["regressions"] and set(result["deltas"]) == {"script.speech"}
    assert result["ignored_invariants"] == ["script.valid", "shotlist.screen_direction"]
    assert set(baseline_of({"metrics": old["metrics"]})["metrics"]) == {"script.speech"}


def test_ab_gives_no_verdict_on_an_invariant_and_names_the_side_that_broke_it():
    def side(valid: list[float], speech: list[float]) -> dict:
        return {"cases": [{"id": f"c{i}", "metrics": [
            {"name": "script.valid", "value": v, "passed": v == 1.0, "better": "higher", "threshold": 1.0,
             "detail": ["scene 1: nobody speaks"] if v < 1 else []},
            {"name": "script.speech", "value": s, "passed": True, "better": "higher", "threshold": 1.0}]}
            for i, (v, s) in enumerate(zip(valid, speech, strict=True))]}

    # results written before invariants left the metrics: script.valid differs on every pair, far past its spread
    a, b = side([1.0, 1.0, 1.0], [0.8, 0.8, 0.8]), side([0.5, 0.5, 0.5], [1.0, 1.0, 1.0])
    sides = compare_sides(a, b)
    assert "script.valid" not in sides and sides["script.speech"]["winner"] == "b"
    assert invariant_violations(a, b) == {"a": [], "b": ["script.valid"]}
    # and as run_eval writes them now: beside the metrics, read from the results' invariants
    b_now = {"cases": [], "invariants": {"script.valid": {"held": False, "cases": 3, "violations": ["c0: x"]}}}
    assert invariant_violations({"cases": [], "invariants": {}}, b_now) == {"a": [], "b": ["script.valid"]}
