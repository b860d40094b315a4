"""End-to-end suite: what a finished production cost and how much of it was usable.

Usable rates and attempts per shot are the factory's quality; episode length against the target is the contract;
seconds and cost per finished minute are throughput. Those two depend on the machine, so they are reported with no
threshold (and `--compare` gives them no tolerance unless one is configured).
"""

from __future__ import annotations

from dramafactory.schemas import RunSummary

from .metrics import MetricResult, at_most, not_measured, within

FIRST_PASS, FINAL, MAX_ATTEMPTS_PER_SHOT = 0.8, 0.9, 1.5
METRICS = ["e2e.first_pass_usable", "e2e.final_usable", "e2e.attempts_per_shot", "e2e.length_fit",
           "e2e.seconds_per_finished_minute", "e2e.cost_per_finished_minute_usd"]


def _rate(name: str, value: float, threshold: float) -> MetricResult:
    return MetricResult(name=name, value=round(value, 4), passed=value >= threshold, threshold=threshold)


def score_e2e(summary: RunSummary | None) -> list[MetricResult]:
    if summary is None or not summary.episode_seconds or sum(summary.episode_seconds) <= 0:
        return not_measured(METRICS, "the production did not finish (no summary.json, or no episode cut)")
    minutes = sum(summary.episode_seconds) / 60
    length = (sum(summary.episode_seconds) / len(summary.episode_seconds)) / summary.target_seconds_per_episode
    return [
        _rate("e2e.first_pass_usable", summary.first_pass_usable_rate, FIRST_PASS),
        _rate("e2e.final_usable", summary.final_usable_rate, FINAL),
        at_most("e2e.attempts_per_shot", summary.attempts_per_shot, MAX_ATTEMPTS_PER_SHOT),
        within("e2e.length_fit", length, 0.9, 1.2),
        MetricResult(name="e2e.seconds_per_finished_minute", value=round(summary.wall_seconds / minutes, 1),
                     passed=True, better="lower"),
        MetricResult(name="e2e.cost_per_finished_minute_usd", value=round(summary.cost_per_finished_minute_usd, 5),
                     passed=True, better="lower"),
    ]
