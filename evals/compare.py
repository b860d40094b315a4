"""Compare eval results with a baseline: per-metric deltas, and regressions past the configured tolerances."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

TOLERANCES_FILE = Path(__file__).parent / "tolerances.yaml"
BASELINE_KEYS = ("suite", "label", "created", "settings", "metrics")


def load_tolerances(path: Path = TOLERANCES_FILE) -> dict:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {"defaults": data.get("defaults", {}), "metrics": data.get("metrics", {}) or {}}


def tolerance_for(name: str, better: str, tolerances: dict) -> float | None:
    if name in tolerances["metrics"]:
        return tolerances["metrics"][name]
    return tolerances["defaults"].get(better, 0.05)


def status_of(delta: float, better: str, tolerance: float | None) -> str:
    if tolerance is None:
        return "report only"
    if better == "band":
        return "regressed" if abs(delta) > tolerance else "ok"
    signed = delta if better == "higher" else -delta  # positive: moved the better way
    if signed < -tolerance:
        return "regressed"
    if signed > tolerance:
        return "improved"
    return "ok"


def compare(results: dict, baseline: dict, tolerances: dict | None = None) -> dict:
    """Deltas of every metric's mean; a metric the baseline has and these results lack is a regression (a suite
    that stopped measuring must not pass silently)."""
    tolerances = tolerances or load_tolerances()
    now, before = results["metrics"], baseline["metrics"]
    deltas = {}
    for name in sorted(set(now) | set(before)):
        if name not in now:
            deltas[name] = {"baseline": before[name]["mean"], "now": None, "delta": None, "tolerance": None,
                            "status": "missing"}
            continue
        if name not in before:
            deltas[name] = {"baseline": None, "now": now[name]["mean"], "delta": None, "tolerance": None,
                            "status": "new"}
            continue
        delta = round(now[name]["mean"] - before[name]["mean"], 4)
        tolerance = tolerance_for(name, now[name]["better"], tolerances)
        deltas[name] = {"baseline": before[name]["mean"], "now": now[name]["mean"], "delta": delta,
                        "tolerance": tolerance, "status": status_of(delta, now[name]["better"], tolerance)}
    bad = [n for n, d in deltas.items() if d["status"] in ("regressed", "missing")]
    return {"baseline_created": baseline.get("created"), "passed": not bad, "regressions": bad, "deltas": deltas}


def baseline_of(results: dict) -> dict:
    """What a committed baseline keeps: the aggregate figures, not the per-case details or paths."""
    return {k: results[k] for k in BASELINE_KEYS if k in results}


def read_baseline(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read the baseline {path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict):
        raise ValueError(f"{path} is not an eval baseline (no 'metrics' mapping): write one with --save-baseline")
    return data
