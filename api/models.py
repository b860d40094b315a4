"""The API's request and response bodies (the domain schemas live in dramafactory.schemas)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from dramafactory.graphs.review import Checkpoints
from dramafactory.schemas import SeriesConcept

RunStatus = Literal["queued", "running", "waiting_review", "cancelling", "cancelled", "finished", "failed"]


class SeriesRequest(SeriesConcept):
    """A series concept (the CLI's schema) plus where the run should pause for a person."""

    checkpoints: Checkpoints = Field(default_factory=Checkpoints)
    seed: int = Field(default=0, ge=0, le=2**31 - 1, description="Same concept and seed: same series.")


def concept_of(request: dict) -> SeriesConcept:
    """The concept part of a stored SeriesRequest (without its checkpoints and seed)."""
    return SeriesConcept.model_validate({k: v for k, v in request.items() if k in SeriesConcept.model_fields})


class RunCreated(BaseModel):
    id: str
    status: RunStatus
    links: dict[str, str]


class EpisodeProgress(BaseModel):
    episode: int
    shots: int = Field(description="Shots planned.")
    passed: int = Field(description="Shots with a take that passed QC.")
    retried: int = Field(description="Takes that were retries.")
    flagged: int = Field(description="Shots QC could not fix (sent to people).")
    assembled: bool


class Figures(BaseModel):
    tokens: int
    text_calls: int
    renders: int
    cpu_seconds: float
    gpu_seconds: float
    cost_usd: float
    unpriced_calls: int = 0  # remote text calls with no configured price (not in cost_usd)


class StageSpan(BaseModel):
    stage: str
    episode: int | None
    started: float
    seconds: float | None = Field(description="None while the stage runs.")


class LogLine(BaseModel):
    seq: int
    ts: float
    text: str


class RunPublic(BaseModel):
    id: str
    status: RunStatus
    title: str | None
    created_at: float
    updated_at: float
    error: str | None
    request: dict
    stage: str | None = Field(description="What the run is doing now.")
    working: dict | None = Field(description="The agent and model at work now (from the ledger's last call).")
    episodes: list[EpisodeProgress]
    timeline: list[StageSpan]
    figures: Figures
    log: list[LogLine]
    review: str | None = Field(description="The id of the review this run waits for, if any.")
    summary: dict | None


class RunListItem(BaseModel):
    id: str
    status: RunStatus
    title: str | None
    logline: str
    created_at: float
    updated_at: float


class ReviewPublic(BaseModel):
    id: str
    run_id: str
    kind: str
    episode: int | None
    status: Literal["pending", "decided", "withdrawn"]
    payload: dict = Field(description="What to review: the bible, the script, or the shots with their takes.")
    decision: dict | None
    created_at: float
    decided_at: float | None


class Artifact(BaseModel):
    path: str
    bytes: int
    content_type: str


class Problem(BaseModel):
    """An error the service answers (401, 403, 404, 409, 400, 413): what went wrong, in words. A 422 names the
    fields instead (FastAPI's HTTPValidationError)."""

    detail: str


# Errors are declared by reference to the one Problem component: inline copies of its schema are one model per
# operation and status to a client generator (and collide on their shared title).
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def problem(description: str) -> dict:
    """An error response with the Problem body, for a route that answers JSON."""
    return {"model": Problem, "description": description}


def problem_json(description: str) -> dict:
    """The same for a route whose own media type is not JSON (the event stream): FastAPI declares a `model` in the
    route's media type, but its errors are JSON. The component is registered by the routes that use `problem`."""
    return {"description": description, "content": {"application/json": {"schema": PROBLEM_REF}}}
