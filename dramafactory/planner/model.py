"""The planner's arithmetic: pure functions of numbers, so each can be checked against a hand computation.

Monthly cost of an option at V titles a month has one shape (`CostShape`):
    cost(V) = fleet(V) * fixed_per_unit_month + V * per_title
with fleet(V) = ceil(V * unit_hours_per_title / (hours_per_month * utilisation)) for options that pay per unit
whether it works or not (owned GPUs, reserved cloud GPUs), and no fleet term for those billed per use (on-demand
cloud, APIs, the laptop at the ledger's CPU rate). Whole GPUs make the fixed options' cost per finished minute a
saw-tooth in volume: it falls as a fleet fills, steps up by at most one unit's fixed cost when a GPU is added, and at
k times the volume is never higher (ceil(k x) <= k ceil(x)).

Break-even volumes are whole titles: `break_even` evaluates both costs at every whole volume up to its range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

HOURS_PER_MONTH = 8760 / 12  # 730: a year's hours over twelve months
EPS = 1e-9  # float slack for ceilings: 2.0000000001 GPUs is two GPUs


def amortised_monthly(purchase_usd: float, life_years: float) -> float:
    """Straight-line: the purchase spread evenly over the months of its life."""
    if life_years <= 0:
        raise ValueError("life_years must be positive")
    return purchase_usd / (life_years * 12)


def system_kw(board_power_w: float, server_power_factor: float) -> float:
    """A GPU's share of its server's power draw: board power times the server's watts per GPU watt."""
    return board_power_w * server_power_factor / 1000


def power_usd_per_gpu_hour(board_power_w: float, server_power_factor: float, pue: float, usd_per_kwh: float) -> float:
    """Energy of one busy GPU-hour at the meter: its system share, times the facility's PUE, times the tariff."""
    return system_kw(board_power_w, server_power_factor) * pue * usd_per_kwh


def hosting_monthly(board_power_w: float, server_power_factor: float, usd_per_kw_month: float) -> float:
    """Colocation billed per kW of critical load: the GPU's system share of it."""
    return system_kw(board_power_w, server_power_factor) * usd_per_kw_month


def fleet_size(unit_hours_per_month: float, utilisation: float, hours_per_month: float = HOURS_PER_MONTH) -> int:
    """Whole units needed so the work fills them at most to `utilisation`."""
    if not 0 < utilisation <= 1:
        raise ValueError("utilisation must be in (0, 1]")
    if unit_hours_per_month <= 0:
        return 0
    return math.ceil(unit_hours_per_month / (hours_per_month * utilisation) - EPS)


def renders_per_usable_shot(attempts_per_shot: float, usable_rate: float) -> float:
    """Retries are cost: takes made per shot, and only `usable_rate` of the shots end usable, so each usable shot
    costs attempts / usable takes."""
    if usable_rate <= 0:
        raise ValueError("usable_rate must be positive")
    return attempts_per_shot / usable_rate


def geometric_attempts(first_pass: float, max_attempts: int) -> float:
    """Expected takes per shot when each take passes with probability `first_pass`, up to `max_attempts`."""
    miss = 1 - first_pass
    return sum(miss**k for k in range(max_attempts))


def geometric_usable(first_pass: float, max_attempts: int) -> float:
    """Share of shots with a passing take within `max_attempts`."""
    return 1 - (1 - first_pass) ** max_attempts


def scaled_seconds(seconds: float, reference_metric: float, target_metric: float) -> float:
    """A time measured on one card, on another: inversely to the metric that limits it (TFLOPS, bandwidth)."""
    return seconds * reference_metric / target_metric


@dataclass(frozen=True)
class CostShape:
    """cost(V) = fleet(V) * fixed_per_unit_month + V * per_title; see the module docstring."""

    fixed_per_unit_month: float = 0.0
    unit_hours_per_title: float = 0.0
    utilisation: float = 1.0
    per_title: float = 0.0
    hours_per_month: float = HOURS_PER_MONTH

    @property
    def units_per_title(self) -> float:
        """a: fleet units one title a month needs, before rounding up."""
        return self.unit_hours_per_title / (self.hours_per_month * self.utilisation)

    @property
    def full_fleet_per_title(self) -> float:
        """Cost per title when every unit is full: the slope cost(V) approaches as V grows."""
        return (self.units_per_title * self.fixed_per_unit_month if self.stepped else 0.0) + self.per_title

    @property
    def stepped(self) -> bool:
        return self.fixed_per_unit_month > 0 and self.unit_hours_per_title > 0

    def fleet(self, titles: float) -> int:
        return fleet_size(titles * self.unit_hours_per_title, self.utilisation, self.hours_per_month)

    def monthly(self, titles: float) -> float:
        fleet = self.fleet(titles) if self.stepped else 0
        return fleet * self.fixed_per_unit_month + titles * self.per_title

    def monthly_array(self, titles: np.ndarray) -> np.ndarray:
        titles = np.asarray(titles, dtype=float)
        fleet = np.ceil(titles * self.units_per_title - EPS) if self.stepped else np.zeros_like(titles)
        return np.maximum(fleet, 0) * self.fixed_per_unit_month + titles * self.per_title


@dataclass(frozen=True)
class Crossing:
    titles: int | None  # from here on, a costs no more than b (within the range); None: never
    finding: str


def break_even(a: CostShape, b: CostShape, max_titles: int = 1_000_000) -> Crossing:
    """The smallest whole volume V from which a never costs more than b: a(W) <= b(W) at every whole W from V up to
    max_titles (the scan's end). None where there is no such volume for good:
    - a still costs more at max_titles; or
    - a's cost per title at full fleets (fixed cost per title + running cost per title, the slope its cost
      approaches) is above b's: then a is dearer at every volume beyond some point, whatever the range shows; or
    - the two are equal and a costs more somewhere in the range: whole GPUs then make it dearer at some volumes
      however large.

    Volumes are whole titles, so V is found by evaluating both costs at every whole volume 1..max_titles (numpy: a
    million volumes take milliseconds), not by a continuous formula: with whole GPUs a fleet option can be cheaper
    on part of a fleet step and dearer on the rest of it, and only whole volumes count."""
    if not a.stepped and not b.stepped:  # both linear through zero: exact in closed form
        if a.per_title <= b.per_title:
            return Crossing(1, "always cheaper: costs no more per title")
        return Crossing(None, "never cheaper: costs more per title")
    found = _scan(a, b, max_titles)
    slope_a, slope_b = a.full_fleet_per_title, b.full_fleet_per_title
    slopes = f"its cost per title at full fleets (${slope_a:,.4g}) is {{}} the other's (${slope_b:,.4g})"
    if slope_a > slope_b * (1 + 1e-9):
        window = f"it costs no more from {found.titles:,} to {max_titles:,} titles/month, but " if found.titles else ""
        return Crossing(None, f"never cheaper for good: {window}{slopes.format('above')}, so it is dearer at every "
                              "volume beyond some point")
    if slope_a >= slope_b * (1 - 1e-9) and found.titles != 1:
        return Crossing(None, f"never cheaper for good: {slopes.format('the same as')}, and whole GPUs make it "
                              "dearer at some volumes however large")
    return found


def _scan(a: CostShape, b: CostShape, max_titles: int) -> Crossing:
    titles = np.arange(1, max_titles + 1, dtype=float)
    worse = a.monthly_array(titles) > b.monthly_array(titles) * (1 + 1e-12)
    if not worse.any():
        return Crossing(1, "always cheaper in the range")
    last = int(np.flatnonzero(worse)[-1]) + 1  # the volume itself (titles start at 1)
    if last >= max_titles:
        return Crossing(None, f"still dearer at {max_titles:,} titles/month, the end of the range searched")
    return Crossing(last + 1, f"cheaper from {last + 1:,} titles/month (dearer at {last:,})")
