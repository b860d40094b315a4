"""Capacity and TCO planner: what a target output (titles a month x episodes x minutes) needs in GPU-hours, fleet
and wall-clock time, and what it costs on owned GPUs, rented GPUs, hosted APIs and the laptop, from the factory's
own measurements (bench results, run folders) and the sourced catalogue (dramafactory/catalogue.yaml).

Layering: it reads tools.presets and tools.ledger (like evals), so it sits above tools; the CLI and the API call it.
"""

from .plan import make_plan
from .schema import Plan, PlanRequest
from .sources import PlanInputError

__all__ = ["Plan", "PlanInputError", "PlanRequest", "make_plan"]
