"""What every metric returns, and the small helpers the metric modules share.

A metric is computed on one production (one concept, one seed) and says its value, whether it passed its own
threshold, which way is better (so `--compare` knows what a regression is) and, when it failed, what failed in
words a writer or an operator can act on.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field

Better = Literal["higher", "lower", "band"]  # band: inside [low, high] is right, both ways out are wrong


class MetricResult(BaseModel):
    name: str = Field(description="suite.metric, e.g. 'script.hook_first'.")
    value: float
    passed: bool
    threshold: float | list[float] | None = None
    better: Better = "higher"
    detail: list[str] = Field(default_factory=list, description="What failed, at most a few examples.")


MAX_DETAIL = 5


def share(name: str, failures: list[str], total: int, threshold: float = 1.0, *,
          none_means: str | None = None) -> MetricResult:
    """The share of `total` items that did not fail. No items is a failure (nothing was measured: a script with no
    lines), unless `none_means` says why there was rightly nothing to check (a monologue has no exchange to cover
    with a reverse shot): then the metric passes and says so."""
    if total == 0:
        if none_means:
            return MetricResult(name=name, value=1.0, passed=True, threshold=threshold,
                                detail=[f"not applicable: {none_means}"])
        return MetricResult(name=name, value=0.0, passed=False, threshold=threshold, detail=["nothing to measure"])
    value = round(1 - len(failures) / total, 4)
    return MetricResult(name=name, value=value, passed=value >= threshold, threshold=threshold,
                        detail=failures[:MAX_DETAIL])


def at_most(name: str, value: float, limit: float, detail: list[str] | None = None) -> MetricResult:
    return MetricResult(name=name, value=round(value, 4), passed=value <= limit, threshold=limit, better="lower",
                        detail=(detail or [])[:MAX_DETAIL])


def within(name: str, value: float, low: float, high: float, detail: list[str] | None = None) -> MetricResult:
    return MetricResult(name=name, value=round(value, 4), passed=low <= value <= high, threshold=[low, high],
                        better="band", detail=(detail or [])[:MAX_DETAIL])


def similar(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.lower(), b.lower()).ratio()


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def hex_rgb(colour: str) -> tuple[int, int, int]:
    value = int(colour.lstrip("#")[:6], 16)
    return (value >> 16) & 255, (value >> 8) & 255, value & 255


def rgb_distance(a: str, b: str) -> float:
    return sum((x - y) ** 2 for x, y in zip(hex_rgb(a), hex_rgb(b), strict=True)) ** 0.5


def mean_of(results: Sequence[MetricResult]) -> MetricResult:
    """One figure for a series from its episodes' results: the mean value; passed only if every episode passed."""
    first = results[0]
    value = round(sum(r.value for r in results) / len(results), 4)
    detail = [d for r in results for d in r.detail][:5]
    return first.model_copy(update={"value": value, "passed": all(r.passed for r in results), "detail": detail})


def not_measured(names: list[str], why: str) -> list[MetricResult]:
    """Failed placeholders for metrics whose input is missing, so a suite that measured nothing never reads as a
    pass (and `--compare` still finds the metric)."""
    return [MetricResult(name=n, value=0.0, passed=False, detail=[why]) for n in names]
