"""A/B evaluation: the same concepts and seeds produced under two configurations, scored alike, compared per
metric with the spread across seeds, so a change is judged on evidence rather than one lucky sample.

A configuration is a YAML file of settings (any `Settings` field, e.g. `text_model_path`, `qc: {min_sharpness:
80}`, `max_attempts`) and an optional `label`.
"""

from __future__ import annotations

import statistics
from datetime import UTC, datetime
from pathlib import Path

import yaml
from pydantic import ValidationError

from dramafactory.config import Settings
from dramafactory.graphs.backends import build_text
from dramafactory.tools.ledger import Ledger

from .compare import outside
from .invariants import is_invariant, violated
from .judge import CRITERIA, judge_pair
from .production import Production
from .suites import EvalPlan, MakeContext, Progress, run_dir_for, run_eval


def load_config(path: Path) -> tuple[str, Settings]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read the configuration {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a YAML mapping of settings")
    label = str(data.pop("label", path.stem))
    unknown = sorted(set(data) - set(Settings.model_fields))
    if unknown:
        raise ValueError(f"{path}: unknown settings {unknown}; see dramafactory/config.py")
    try:
        return label, Settings(**data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ValueError(f"{path}: setting '{'.'.join(map(str, first['loc']))}': {first['msg']}") from exc


def spread(values: list[float]) -> float:
    return round(statistics.stdev(values), 4) if len(values) > 1 else 0.0


def winner(deltas: list[float], better: str) -> str:
    """Decide on paired differences (B - A on the same concept and seed, so the concepts' own differences cancel):
    a side wins when the mean difference is larger than the differences' spread across seeds; otherwise 'tie'."""
    if not deltas:
        return "tie"
    mean = statistics.fmean(deltas)
    if abs(mean) <= max(spread(deltas), 1e-9):
        return "tie"
    return "b" if (mean > 0) == (better == "higher") else "a"


def _goodness(value: float, better: str, threshold) -> float:
    """A band metric is as good as it is close to its band (inside is perfect): compare distances, not values."""
    if better == "band" and isinstance(threshold, list):
        return -outside(value, threshold)
    return value


def compare_sides(results_a: dict, results_b: dict) -> dict:
    """Per metric, both sides' values and a verdict. Invariants get none (results written before they moved out of
    the metrics still list them there): code guarantees them, so a difference is a broken guarantee on one side,
    reported by `invariant_violations`, not evidence that one configuration is better."""
    values: dict[str, dict[str, dict[str, float]]] = {}
    meta: dict[str, dict] = {}
    for side, results in (("a", results_a), ("b", results_b)):
        for case in results["cases"]:
            for m in case["metrics"]:
                if is_invariant(m["name"]):
                    continue
                values.setdefault(m["name"], {"a": {}, "b": {}})[side][case["id"]] = m["value"]
                meta[m["name"]] = m
    out = {}
    for name, sides in sorted(values.items()):
        paired = sorted(set(sides["a"]) & set(sides["b"]))
        if not paired:
            continue
        better, threshold = meta[name]["better"], meta[name]["threshold"]
        deltas = [_goodness(sides["b"][c], better, threshold) - _goodness(sides["a"][c], better, threshold)
                  for c in paired]
        a, b = [sides["a"][c] for c in paired], [sides["b"][c] for c in paired]
        out[name] = {"better": better, "cases": paired,
                     "a": {"mean": round(statistics.fmean(a), 4), "std": spread(a), "values": a},
                     "b": {"mean": round(statistics.fmean(b), 4), "std": spread(b), "values": b},
                     "delta": round(statistics.fmean(b) - statistics.fmean(a), 4),
                     "winner": winner(deltas, "lower" if better == "lower" else "higher")}
    return out


def invariant_violations(results_a: dict, results_b: dict) -> dict[str, list[str]]:
    """Per side, the invariants its productions broke (each one is an error in that configuration's run)."""
    return {"a": violated(results_a), "b": violated(results_b)}


def judge_sides(plan: EvalPlan, out: Path, progress: Progress) -> dict:
    """The judge (the evaluator's configured text backend) compares each pair of same-concept, same-seed
    episodes, shown unlabelled in a random order."""
    settings = Settings()
    text = build_text(settings)
    ledger = Ledger(out / "judge_ledger.jsonl")
    tally = {c: {"a_wins": 0, "b_wins": 0, "ties": 0} for c in CRITERIA}
    for concept in plan.concepts:
        for seed in plan.seeds:
            progress(f"judging {concept.id} seed {seed}")
            a = Production.load(run_dir_for(out / "a", concept, seed)).scripts
            b = Production.load(run_dir_for(out / "b", concept, seed)).scripts
            for index, (script_a, script_b) in enumerate(zip(a, b, strict=False)):
                verdict = judge_pair(text, ledger, script_a, script_b, seed=seed * 100 + index)
                for c, who in verdict.items():
                    tally[c]["ties" if who == "tie" else f"{who}_wins"] += 1
    return tally


def run_ab(config_a: Path, config_b: Path, plan: EvalPlan, out: Path, *, judge: bool = False,
           progress: Progress = lambda _: None, make_context: MakeContext | None = None) -> dict:
    (label_a, settings_a), (label_b, settings_b) = load_config(config_a), load_config(config_b)
    results = {}
    for side, label, settings in (("a", label_a, settings_a), ("b", label_b, settings_b)):
        progress(f"configuration {side.upper()}: {label}")
        results[side] = run_eval(plan, out / side, settings, label=label, progress=progress,
                                 make_context=make_context)
    ab = {"a": label_a, "b": label_b, "concepts": [c.id for c in plan.concepts], "seeds": plan.seeds,
          "suites": plan.suites, "created": datetime.now(UTC).isoformat(timespec="seconds"),
          "metrics": compare_sides(results["a"], results["b"]),
          "invariants_violated": invariant_violations(results["a"], results["b"])}
    if judge and plan.needs_production:  # the judge reads scripts
        ab["judge"] = judge_sides(plan, out, progress)
    return ab
