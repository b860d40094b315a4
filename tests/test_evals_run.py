"""The eval runner, compare, A/B and judge mechanics on fake backends (the real smoke eval is in test_eval_smoke)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dramafactory.cli import app
from dramafactory.evals import suites
from dramafactory.evals.ab import compare_sides, load_config, winner
from dramafactory.evals.compare import baseline_of, compare
from dramafactory.evals.golden import load_golden
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
        return build_context(run_dir, fast_settings, text=text, image=FakeImage(), speech=FakeSpeech())

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
    assert {"bible.distinct_looks", "script.hook_first", "shotlist.lines_covered", "e2e.final_usable"} <= names
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
    assert all(m["name"].startswith("bible.") for m in results["cases"][0]["metrics"])


def test_the_judge_scores_with_several_seeds_and_hides_which_side_is_which(tmp_path, fast_settings, fake_make):
    suites.run_eval(plan(["script"]), tmp_path, fast_settings, make_context=fake_make)
    scripts = Production.load(tmp_path / "runs" / "family-s0").scripts
    judged = judge_scripts(FakeText(), Ledger(tmp_path / "j.jsonl"), scripts, seeds=[1, 2, 3])
    assert judged["hook_strength"] == {"mean": 5.0, "agreement": 1.0}
    assert agreement([1, 3, 3]) == pytest.approx(1 / 3, abs=1e-3)
    # the fake judge always prefers "version 1": across seeds both sides win, because the order is shuffled
    picks = {judge_pair(FakeText(), Ledger(tmp_path / "j.jsonl"), scripts[0], scripts[0], seed)["hook_strength"]
             for seed in range(12)}
    assert picks == {"a", "b"}


def test_ab_winner_needs_a_difference_beyond_the_seed_spread():
    assert winner([1.0, 1.0, 1.0], [0.8, 0.8, 0.8], "higher", 1.0) == "a"
    assert winner([0.5, 0.9, 0.7], [0.6, 1.0, 0.8], "higher", 1.0) == "tie"  # 0.1 apart, spread 0.2
    assert winner([3, 3, 3], [2, 2, 2], "lower", 2) == "b"
    sides = compare_sides({"cases": [{"metrics": [{"name": "m", "value": v, "better": "higher", "threshold": 1}]}
                                     for v in (1, 1)]},
                          {"cases": [{"metrics": [{"name": "m", "value": v, "better": "higher", "threshold": 1}]}
                                     for v in (0, 0)]})
    assert sides["m"]["winner"] == "a" and sides["m"]["delta"] == -1


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
    assert (tmp_path / "ab/a/runs/family-s1/summary.json").is_file()
    assert ab["metrics"]["script.hook_first"]["a"]["values"] == [1.0, 1.0]


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
