"""The run's policies, apart from the nodes that follow them: what is retried (transient failures), how a step
redone after a person's rejection draws again, how a person is asked until the answer is valid, how many renders
an episode may spend, whether the series' spending cap lets new work start, and when the series is done."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar

from langgraph.types import RetryPolicy, interrupt

from dramafactory.agents.context import AgentContext
from dramafactory.agents.structured import stable_seed
from dramafactory.schemas import SeriesConcept
from dramafactory.tools.text.base import TextBackendError

from .review import Decision, EditRejected
from .state import SeriesState

T = TypeVar("T")

# Transient failures are retried by LangGraph; a QC failure is not an exception and loops through the episode's QC review (graphs/shots.py).
TRANSIENT = RetryPolicy(max_attempts=3, initial_interval=1.0, retry_on=(TextBackendError, TimeoutError,
                                                                          ConnectionError))


def redo(state: SeriesState, step: str) -> tuple[int, str | None]:
    """The seed and reviewer's note for a step: a step redone after a rejection draws again (another seed) with
    the note in every ask."""
    revision = state.get("revisions", {}).get(step, 0)
    seed = stable_seed(state["seed"], step, revision) if revision else state["seed"]
    return seed, state.get("notes", {}).get(step)


def ask_person(payload: dict) -> Decision:
    """Pause the run for a person (LangGraph interrupt); the answer is validated here too, so a resume from any
    client (API, CLI, a test) gets the same checks."""
    return Decision.model_validate(interrupt(payload))


def ask_until_valid(payload: dict, check_edit: Callable[[Decision], T]) -> tuple[Decision, T | None]:
    """Ask a person; an edit must pass `check_edit` (the checks the API runs first), else it is asked again with
    the reason, so a client that skipped the checks cannot break the run. Returns the decision and, for an edit,
    the checked artifact."""
    while True:
        decision = ask_person(payload)
        if decision.action != "edit":
            return decision, None
        try:
            return decision, check_edit(decision)
        except EditRejected as exc:
            payload = {**payload, "error": {"field": exc.field, "message": exc.message}}


def rejected(state: SeriesState, step: str, decision: Decision) -> dict:
    revisions = dict(state.get("revisions", {}))
    revisions[step] = revisions.get(step, 0) + 1
    return {"notes": {**state.get("notes", {}), step: decision.note}, "revisions": revisions}


def render_budget(ctx: AgentContext, shots: int) -> int:
    """Renders an episode may spend (settings.render_budget times its shots, at least one per shot)."""
    return max(shots, math.ceil(ctx.settings.render_budget * shots))


def check_budget(ctx: AgentContext, stage: str) -> None:
    """Before a node starts new work: stop the run (graphs.budget.BudgetReached, resumable) once the series has
    spent its cap. No cap (ctx.budget None): nothing to check."""
    if ctx.budget is not None:
        ctx.budget.check(stage)


def next_episode(state: SeriesState) -> str:
    total = SeriesConcept.model_validate(state["concept"]).episodes
    return "writer" if state["episode"] <= total else "summary"
