"""QC suite: run the QC agent over the labelled set and measure how well it tells bad shots from good ones.

Per defect kind: recall (bad frames of that kind flagged) and precision on that kind's frames paired with the good
frames they were made from (each bad frame is a good frame broken one way, so the pair is the fair comparison).
Overall precision and recall over the whole set are reported too, with the good frames flagged by mistake listed
so a person can look at them.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from pathlib import Path

from dramafactory.agents.qc.agent import QCAgent, TakeUnderReview
from dramafactory.config import QCThresholds, Settings
from dramafactory.schemas import Character, Location, QCReport, Shot
from dramafactory.tools.assembly.contact_sheet import make_contact_sheet

from .qc_set import DEFECTS, Case, build, load

TARGET = 0.9
# scorer -> (the QCThresholds field it sets, whether good frames score high, the defect kinds it is meant to catch)
CALIBRATED = {
    "not_flat": ("min_contrast", True, ("black",)),
    "noise": ("max_grain", False, ("noise",)),
    "sharpness": ("min_sharpness", True, ("blurred",)),  # spans decades: the suggestion is a geometric midpoint
    "duplicate": ("max_duplicate", False, ("duplicate",)),
    "palette": ("max_palette_drift", False, ("palette_drift",)),
}


def _midpoint(scorer: str, a: float, b: float) -> float:
    return math.sqrt(max(a, 1e-6) * max(b, 1e-6)) if scorer == "sharpness" else (a + b) / 2


def calibrate(rows: list[dict], limits: dict) -> dict:
    """For each thresholded scorer: the range of scores on good frames and on the bad frames it should catch, the
    threshold in use, and the midpoint between the worst good and the least-bad bad score (the suggested one)."""
    out = {}
    for scorer, (field, high_is_good, kinds) in CALIBRATED.items():
        good = [r["scores"][scorer] for r in rows if not r["bad"] and scorer in r["scores"]]
        bad = [r["scores"][scorer] for r in rows if r["kind"] in kinds and scorer in r["scores"]]
        if not good or not bad:
            continue
        worst_good, best_bad = (min(good), max(bad)) if high_is_good else (max(good), min(bad))
        separable = best_bad < worst_good if high_is_good else best_bad > worst_good
        out[scorer] = {"setting": field, "in_use": limits[field], "good": [min(good), max(good)],
                       "bad": [min(bad), max(bad)], "separable": separable,
                       "suggested": round(_midpoint(scorer, worst_good, best_bad), 4) if separable else None}
    return out


def _take(folder: Path, case: Case, image: str) -> TakeUnderReview:
    cast = {n: Character.model_validate(c) for n, c in case.cast.items()}
    return TakeUnderReview(path=folder / image, shot=Shot.model_validate(case.shot),
                           location=Location.model_validate(case.location), cast=cast, references=dict(cast))


def judge(agent: QCAgent, folder: Path, case: Case, previous: Case | None = None) -> QCReport:
    take = _take(folder, case, case.image)
    report = agent.score(take)
    if previous is not None:  # always, so the sequence scorers are measured even where another scorer failed first
        extra = agent.score_sequence(take, _take(folder, previous, previous.image))
        report = QCReport(passed=all(s.passed for s in report.scores + extra), scores=report.scores + extra)
    return report


def run(out: Path, *, series: int = 6, shots_per_series: int = 16, width: int = 360, height: int = 640,
        set_dir: Path | None = None, limits: QCThresholds | None = None) -> dict:
    """Score the labelled set with the QC agent at `limits` (the configured thresholds; default: the defaults)."""
    folder = set_dir or out / "qc_set"
    started = time.perf_counter()
    # an existing set is reused as it is (its own size and casts), so runs can be compared on the same frames
    cases = load(folder) if (folder / "cases.jsonl").is_file() else build(
        folder, series=series, shots_per_series=shots_per_series, width=width, height=height)
    built = time.perf_counter() - started
    agent = QCAgent(Settings(_env_file=None, width=width, height=height, qc=limits or QCThresholds()))
    rows = []
    started = time.perf_counter()
    good_by_image = {c.image: c for c in cases if not c.bad}
    for case in cases:
        report = judge(agent, folder, case, good_by_image.get(case.previous) if case.previous else None)
        failed = sorted({s.scorer.split(":")[0] for s in report.scores if not s.passed})
        scores: dict[str, float] = {}
        for score in report.scores:  # one number per scorer: the worst over its characters
            name = score.scorer.split(":")[0]
            worse = min if CALIBRATED.get(name, ("", True))[1] else max
            scores[name] = worse(scores[name], score.score) if name in scores else score.score
        rows.append({"id": case.id, "kind": case.kind, "bad": case.bad, "flagged": not report.passed,
                     "failed_scorers": failed, "reason": report.reason, "scores": scores,
                     "image": str(folder / case.image)})
    scoring = time.perf_counter() - started
    good = [r for r in rows if not r["bad"]]
    false_alarms = [r for r in good if r["flagged"]]
    per_kind = {}
    for kind in DEFECTS:
        bad = [r for r in rows if r["kind"] == kind]
        if not bad:
            continue
        caught = sum(r["flagged"] for r in bad)
        partners = {r["id"][: -len(kind) - 1] + "_good" for r in bad}  # kinds contain "_": strip the whole kind
        fp = sum(1 for r in good if r["flagged"] and r["id"] in partners)
        per_kind[kind] = {
            "cases": len(bad), "caught": caught, "recall": round(caught / len(bad), 4),
            "precision": round(caught / (caught + fp), 4) if caught + fp else 0.0,
            "caught_by": dict(Counter(s for r in bad if r["flagged"] for s in r["failed_scorers"]).most_common(4)),
        }
    bad_rows = [r for r in rows if r["bad"]]
    tp = sum(r["flagged"] for r in bad_rows)
    results = {
        "suite": "qc", "cases": len(rows), "good": len(good), "bad": len(bad_rows),
        "precision": round(tp / (tp + len(false_alarms)), 4) if tp + len(false_alarms) else 0.0,
        "recall": round(tp / len(bad_rows), 4) if bad_rows else 0.0,
        "false_alarm_rate": round(len(false_alarms) / len(good), 4) if good else 0.0,
        "per_kind": per_kind,
        "false_alarms": [{k: r[k] for k in ("id", "reason")} for r in false_alarms],
        "missed": [r["id"] for r in bad_rows if not r["flagged"]],
        "calibration": calibrate(rows, agent.limits.model_dump()),
        "target": TARGET,
        "passed": all(k["precision"] >= TARGET and k["recall"] >= TARGET for k in per_kind.values()),
        "seconds": {"build": round(built, 2), "score": round(scoring, 2),
                    "per_frame": round(scoring / max(1, len(rows)), 4)},
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    (out / "cases.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    mistakes = [(Path(r["image"]), f"{r['id']}\n{'MISSED' if r['bad'] else 'FALSE ALARM'}: "
                 f"{', '.join(r['failed_scorers']) or 'passed'}")
                for r in rows if r["bad"] != r["flagged"]]
    if mistakes:  # the frames QC got wrong, for a person to look at
        make_contact_sheet(mistakes, out / "mistakes.png", columns=4, title="QC mistakes on the labelled set")
    return results
