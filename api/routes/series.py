"""/series: start a run, list runs, status, progress events, cancel and resume."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, status
from fastapi.sse import EventSourceResponse, ServerSentEvent

from dramafactory.config import Settings
from dramafactory.prices import Pricing
from dramafactory.tools.accounting import is_call, is_text_call, price_rows
from dramafactory.tools.ledger import Ledger

from ..deps import Service, StoreDep, Tenant
from ..events import fold, read_events, tail_events
from ..models import (
    Figures,
    RunCreated,
    RunListItem,
    RunPublic,
    RunStatus,
    SeriesRequest,
    problem,
    problem_json,
)
from ..store import TERMINAL, Store

router = APIRouter(prefix="/series", tags=["series"])
NOT_FOUND = {404: problem("No run with this id for this tenant.")}
# The event stream's own media type is text/event-stream, so its errors (all JSON) are declared one by one.
STREAM_ERRORS = {401: problem_json("No API key (Authorization: Bearer KEY)."),
                 403: problem_json("The API key is not valid."),
                 400: problem_json("The body is not JSON."),
                 413: problem_json("The body is larger than the service accepts."),
                 404: problem_json("No run with this id for this tenant.")}


def plausible_id(value: str) -> bool:
    """Could this be an id the store made (uuid4 hex, see store.new_id)? Anything else is not looked up: no id is
    that long or holds a NUL, and a NUL in a query is an error on PostgreSQL, not 'no row'."""
    return 0 < len(value) <= 64 and value.isascii() and value.replace("-", "").replace("_", "").isalnum()


def owned_run(store: Store, run_id: str, tenant: str) -> dict:
    """A run of this tenant; another tenant's run is 'not found' (its existence is not revealed)."""
    row = store.run(run_id, tenant) if plausible_id(run_id) else None
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no run {run_id[:64]!r}")  # the id may be any length
    return row


def figures(run_dir: Path, settings: Settings) -> tuple[Figures, dict | None]:
    """Figures so far, priced as summary.json prices them (docs/accounting.md)."""
    rows = Ledger(run_dir / "ledger.jsonl").rows()
    costs = price_rows(rows, Pricing.from_settings(settings))  # the rows' recorded costs, as summary.json sums them
    calls = [r for r in rows if is_call(r)]
    text = [r for r in calls if is_text_call(r)]
    last = calls[-1] if calls else None
    working = {"stage": last["stage"], "backend": last["backend"], "model": last["model"]} if last else None
    return Figures(tokens=sum(r.get("tokens", 0) for r in rows), text_calls=len(text),
                   renders=sum(1 for r in calls if r["stage"] == "render"), cpu_seconds=round(costs.cpu_seconds, 3),
                   gpu_seconds=round(costs.gpu_seconds, 3), cost_usd=round(costs.usd, 9),
                   unpriced_calls=costs.unpriced_calls), working


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=RunCreated,
             summary="Start producing a series from a concept")
def create_series(body: SeriesRequest, tenant: Tenant, service: Service) -> RunCreated:
    row = service.start(tenant, body.model_dump(mode="json"))
    base = f"/series/{row['id']}"
    return RunCreated(id=row["id"], status=row["status"],
                      links={"self": base, "events": f"{base}/events", "artifacts": f"{base}/artifacts"})


@router.get("", response_model=list[RunListItem], summary="This tenant's runs, newest first")
def list_series(tenant: Tenant, store: StoreDep, status_filter: Annotated[
        RunStatus | None, Query(alias="status")] = None,
                limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[RunListItem]:
    return [RunListItem(id=r["id"], status=r["status"], title=r["title"], logline=r["request"].get("logline", ""),
                        created_at=r["created_at"], updated_at=r["updated_at"])
            for r in store.list_runs(tenant, status_filter, limit)]


@router.get("/{run_id}", response_model=RunPublic, responses=NOT_FOUND, summary="Status, stage and progress")
def get_series(run_id: str, tenant: Tenant, service: Service) -> RunPublic:
    row = owned_run(service.store, run_id, tenant)
    run_dir = Path(row["run_dir"])
    progress = fold(read_events(run_dir), int(row["request"].get("episodes", 1)))
    figs, working = figures(run_dir, service.settings)
    pending = service.store.list_reviews(tenant, "pending", run_id)
    return RunPublic(
        id=row["id"], status=row["status"], title=row["title"], created_at=row["created_at"],
        updated_at=row["updated_at"], error=row["error"], request=row["request"], stage=progress["stage"],
        working=({"agent": progress["stage"], **working} if working and row["status"] == "running" else None),
        episodes=progress["episodes"], timeline=progress["timeline"], figures=figs, log=progress["log"],
        review=pending[0]["id"] if pending else None, summary=row["summary"])


def stream_run(run_id: str, tenant: Tenant, store: StoreDep) -> dict:
    """The run of an event stream, found before the stream starts: once a streaming endpoint runs, its 200 and
    headers are sent, so a 404 must come from a dependency."""
    return owned_run(store, run_id, tenant)


@router.get("/{run_id}/events", response_class=EventSourceResponse, responses=STREAM_ERRORS,
            summary="Progress as server-sent events (resumable with Last-Event-ID)")
async def stream_events(run_id: str, row: Annotated[dict, Depends(stream_run)], service: Service,
                        request: Request, last_event_id: Annotated[str | None, Header(max_length=40)] = None,
                        follow: Annotated[bool, Query(description="Keep the stream open until the run ends.")]
                        = True) -> AsyncIterator[ServerSentEvent]:
    run_dir = Path(row["run_dir"])
    # a Last-Event-ID that is not a plain event number (a browser sends what it was given) restarts the stream
    after = int(last_event_id) if last_event_id and last_event_id.isascii() and last_event_id.isdigit() else 0
    offset = 0
    while True:
        events, offset = await asyncio.to_thread(tail_events, run_dir, offset, after)
        for event in events:
            after = event["seq"]
            yield ServerSentEvent(data=event, event="progress", id=str(event["seq"]))
        current = await asyncio.to_thread(service.store.run, run_id)
        if not follow or current is None or current["status"] in TERMINAL or await request.is_disconnected():
            yield ServerSentEvent(data={"status": current["status"] if current else "gone"}, event="status")
            return
        await asyncio.sleep(0.5)


@router.post("/{run_id}/cancel", response_model=RunCreated, status_code=status.HTTP_202_ACCEPTED,
             responses={**NOT_FOUND, 409: problem("The run has already ended.")},
             summary="Cancel a run (finished work is kept; resume continues it)")
def cancel_series(run_id: str, tenant: Tenant, service: Service) -> RunCreated:
    row = owned_run(service.store, run_id, tenant)
    if row["status"] in TERMINAL:
        raise HTTPException(status.HTTP_409_CONFLICT, f"the run is {row['status']}; nothing to cancel")
    outcome = service.cancel(run_id)
    if outcome is None:
        raise HTTPException(status.HTTP_409_CONFLICT, "the run changed state meanwhile; read it again")
    return RunCreated(id=run_id, status=outcome, links={"self": f"/series/{run_id}"})


@router.post("/{run_id}/resume", response_model=RunCreated, status_code=status.HTTP_202_ACCEPTED,
             responses={**NOT_FOUND, 409: problem("Only a cancelled or failed run can be resumed.")},
             summary="Resume a cancelled or failed run from its last checkpoint")
def resume_series(run_id: str, tenant: Tenant, service: Service) -> RunCreated:
    row = owned_run(service.store, run_id, tenant)
    if row["status"] not in ("cancelled", "failed"):
        hint = " (answer its review to go on)" if row["status"] == "waiting_review" else ""
        raise HTTPException(status.HTTP_409_CONFLICT, f"the run is {row['status']}{hint}")
    if not service.store.update_run(run_id, status="queued", error=None, only_if=("cancelled", "failed")):
        raise HTTPException(status.HTTP_409_CONFLICT, "the run changed state; read it again")
    service.resume_queued(run_id)
    return RunCreated(id=run_id, status="queued", links={"self": f"/series/{run_id}"})
