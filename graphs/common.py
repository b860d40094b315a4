"""What the graph's nodes share: progress events, stage timings, ledger rows of image and clip calls, and the
audit trail of reviews."""

from __future__ import annotations

import time

from langgraph.config import get_stream_writer

from dramafactory.agents.context import AgentContext

from .review import Checkpoints, Decision
from .state import SeriesState


def emit(**event) -> None:
    try:
        get_stream_writer()(event)
    except RuntimeError:  # not running under a stream (e.g. a plain invoke in a test)
        pass


def timed(stage: str, episode: int | None, start: float) -> list[dict]:
    return [{"stage": stage, "episode": episode, "seconds": round(time.perf_counter() - start, 3)}]


def record_call(ctx: AgentContext, result, measured, *, stage: str, version: str, load_seconds: float = 0.0,  # noqa: ANN001
                own: dict | None = None, **fields: object) -> None:
    """The ledger row of one image or clip call: the backend's own figures where it measured them (a pipeline
    worker does the work off the calling thread; `own` are the fields only such a row carries), else the caller's
    thread measurement; and a load row when a model was loaded for this call."""
    model = result.model or result.backend
    if load_seconds:
        ctx.ledger.record(stage=f"{stage}.load", backend=result.backend, model=model, kind="load",
                          seconds=load_seconds, version=version)
    if result.cpu_seconds is not None:
        ctx.ledger.record(stage=stage, backend=result.backend, model=model, seconds=result.seconds,
                          cpu_seconds=result.cpu_seconds, cpu_scope=result.cpu_scope,
                          gpu_seconds=result.gpu_seconds if result.gpu_seconds is not None else 0.0, version=version,
                          **(own or {}), **fields)
    else:
        ctx.ledger.record_measured(measured, stage=stage, backend=result.backend, model=model, version=version,
                                   **fields)


def record_image_call(ctx: AgentContext, result, measured, *, stage: str, **fields: object) -> None:  # noqa: ANN001
    record_call(ctx, result, measured, stage=stage, version=getattr(ctx.image, "version", ""),
                load_seconds=result.load_seconds, own={"batch": result.batch}, **fields)


def record_failed_call(ctx: AgentContext, measured, exc: BaseException, *, stage: str, backend: str,  # noqa: ANN001
                       model: str, version: str, **fields: object) -> str:
    """A call that raised is still machine time spent: its own error row (wall and CPU). Returns the reason."""
    reason = f"{type(exc).__name__}: {exc}"
    ctx.ledger.record(stage=stage, backend=backend, model=model, kind="error", seconds=measured.wall_seconds,
                      cpu_seconds=measured.cpu_seconds, cpu_scope=measured.scope, version=version,
                      error=reason[:500], **fields)
    return reason


def checkpoint(state: SeriesState, name: str) -> bool:
    return getattr(Checkpoints.model_validate(state.get("checkpoints") or {}), name)


def audit(step: str, decision: Decision, **extra) -> list[dict]:
    return [{"step": step, "action": decision.action, "note": decision.note, "at": round(time.time(), 3), **extra}]
