"""Compare eval results with a baseline: per-metric deltas, and regressions past the configured tolerances."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from .invariants import is_invariant, violated

TOLERANCES_FILE = Path(__file__).parent / "tolerances.yaml"
BASELINE_KEYS = ("suite", "label", "created", "settings", "metrics")


def load_tolerances(path: Path = TOLERANCES_FILE) -> dict:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {"defaults": data.get("defaults", {}), "metrics": data.get("metrics", {}) or {}}


def tolerance_for(name: str, better: str, tolerances: dict) -> float | None:
    if name in tolerances["metrics"]:
        return tolerances["metrics"][name]
    return tolerances["defaults"].get(better, 0.05)


def outside(value: float, band: list[float]) -> float:
    """How far a value lies outside its band (0 inside it)."""
    low, high = band
    return max(low - value, 0.0, value - high)


def status_of(delta: float, better: str, tolerance: float | None) -> str:
    """`delta` is the move the better way round for 'higher', the worse way for 'lower'; for a band metric pass
    the change of its distance outside the band (moving inside the band is no change)."""
    if tolerance is None:
        return "report only"
    signed = -delta if better in ("lower", "band") else delta  # positive: moved the better way
    if signed < -tolerance:
        return "regressed"
    if signed > tolerance:
        return "improved"
    return "ok"


PLAN_KEYS = ("concepts", "episodes", "seconds_per_episode", "seeds", "text_backend", "image_backend")


def plan_mismatch(results: dict, baseline: dict) -> list[str]:
    """What makes two eval runs incomparable: other concepts, lengths, seeds or backends."""
    now, before = results.get("settings", {}), baseline.get("settings", {})
    return [f"{k}: baseline {before.get(k)!r}, now {now.get(k)!r}" for k in PLAN_KEYS
            if k in before and before.get(k) != now.get(k)]


def compare(results: dict, baseline: dict, tolerances: dict | None = None) -> dict:
    """Deltas of every metric's mean; a metric the baseline has and these results lack is a regression (a suite
    that stopped measuring must not pass silently), and so is a baseline made from another plan. Invariants are
    no metrics (evals/invariants.py): a baseline written before they moved out still lists them, and they are
    ignored there, but one violated now fails the comparison whatever the baseline says."""
    tolerances = tolerances or load_tolerances()
    now, before = results["metrics"], baseline["metrics"]
    deltas = {}
    for name in sorted(n for n in set(now) | set(before) if not is_invariant(n)):
        base_mean = (before.get(name) or {}).get("mean")
        if name not in now or now[name].get("mean") is None:
            deltas[name] = {"baseline": base_mean, "now": None, "delta": None, "tolerance": None,
                            "status": "missing"}
            continue
        if base_mean is None:
            deltas[name] = {"baseline": None, "now": now[name]["mean"], "delta": None, "tolerance": None,
                            "status": "new"}
            continue
        better, threshold = now[name]["better"], now[name].get("threshold")
        delta = round(now[name]["mean"] - base_mean, 4)
        moved = delta
        if better == "band" and isinstance(threshold, list):
            moved = outside(now[name]["mean"], threshold) - outside(base_mean, threshold)
        tolerance = tolerance_for(name, better, tolerances)
        deltas[name] = {"baseline": base_mean, "now": now[name]["mean"], "delta": delta, "tolerance": tolerance,
                        "status": status_of(moved, better, tolerance)}
    broken = violated(results)
    bad = [n for n, d in deltas.items() if d["status"] in ("regressed", "missing")] + \
        [f"{n} (invariant violated)" for n in broken]
    mismatch = plan_mismatch(results, baseline)
    return {"baseline_created": baseline.get("created"), "passed": not bad and not mismatch, "regressions": bad,
            "plan_mismatch": mismatch, "invariants_violated": broken, "deltas": deltas,
            "ignored_invariants": sorted(n for n in before if is_invariant(n))}


def baseline_of(results: dict) -> dict:
    """What a committed baseline keeps: the aggregate figures, not the per-case details or paths (nor the
    invariants: they are checked on every run, never compared)."""
    baseline = {k: results[k] for k in BASELINE_KEYS if k in results}
    if "metrics" in baseline:
        baseline["metrics"] = {n: m for n, m in baseline["metrics"].items() if not is_invariant(n)}
    return baseline


def read_baseline(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read the baseline {path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict):
        raise ValueError(f"{path} is not an eval baseline (no 'metrics' mapping): write one with --save-baseline")
    return data
