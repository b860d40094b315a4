"""The operators' view: factory-wide figures for Prometheus (GET /metrics, the text format, from prometheus-client)
and for the dashboard (GET /factory, the same figures as JSON).

Every figure is read from what is already durable, at scrape time, so any replica of the service answers the
same: runs by state from the registry (df_runs); committed takes, reused takes and retries from the shot ledger
(df_shots, tools/durable; 0 before that table exists); queue depth per backend role from the service's shared
engine; CPU and GPU seconds and cost from finished runs' summaries plus, for every other run, its ledger.jsonl,
read incrementally (only the bytes appended since the last scrape).

A scrape stays cheap with a long history: a run in a terminal state (finished, failed, cancelled) has its totals
computed once and kept in memory, keyed by its id and the registry's updated_at (any change of the run, a resume
included, moves updated_at, so the run is counted fresh again); only the other runs' df_shots rows and ledgers are
read per scrape. The shot figures are those of the registry's runs (df_shots rows of a run the registry does not
know, e.g. a CLI run pointed at the service's database, are not the service's work).

The collector is registered on a registry of the app's own (not prometheus-client's global one), so two apps in
one process (tests, a worker per app) never collide.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request, status
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import BaseModel, Field
from sqlalchemy import Integer, Select, case, cast, distinct, func, inspect, select
from sqlalchemy.engine import Connection

from dramafactory.tools.accounting import price_rows
from dramafactory.tools.durable.db import shots

from .deps import Tenant
from .models import problem
from .store import ACTIVE, TERMINAL, runs

STATES = (*ACTIVE, "waiting_review", *TERMINAL)
ROLES = ("image", "qc", "speech", "video")  # the engine's roles (tools/engine), listed even when idle
SHOT_KEYS = ("shots_committed", "takes_committed", "takes_rendering", "takes_reused", "takes_corrupt", "retries_qc",
             "retries_claim")
IN_BATCH = 500  # run ids per df_shots query: well under SQLite's and PostgreSQL's bound-parameter limits


def _shot_query() -> Select:
    """The shot ledger's figures per run, one row per run id (the caller adds the run ids it wants)."""
    c = shots.c

    def count(condition: Any, value: Any = 1) -> Any:
        return func.coalesce(func.sum(case((condition, value), else_=0)), 0)

    return (select(c.run_id,
                   func.count(distinct(case((c.state == "done", c.shot_id)))).label("shots_committed"),
                   count(c.state == "done").label("takes_committed"),
                   count(c.state == "rendering").label("takes_rendering"),
                   func.coalesce(func.sum(cast(c.reused, Integer)), 0).label("takes_reused"),
                   func.coalesce(func.sum(cast(c.corrupt, Integer)), 0).label("takes_corrupt"),
                   count(c.take > 1).label("retries_qc"),
                   count(c.attempt > 1, c.attempt - 1).label("retries_claim"))
            .where(~c.shot_id.startswith("clip:"))  # a shot's clips share the ledger (graphs/work.clip_ledger_key)
            .group_by(c.run_id))


class QueueDepth(BaseModel):
    waiting: int = 0
    running: int = 0


class FactoryFigures(BaseModel):
    """The factory-wide figures (all tenants together): what GET /metrics exposes, as JSON for the dashboard."""

    runs: dict[str, int] = Field(description="Runs per state (queued, running, waiting_review, finished, ...).")
    shots_committed: int = Field(description="Shots with a committed take in the shot ledger.")
    takes_committed: int = Field(description="Takes committed in the shot ledger (each exactly once).")
    takes_rendering: int = Field(description="Takes claimed and rendering now.")
    takes_reused: int = Field(description="Committed takes a resumed run reused instead of rendering again.")
    takes_corrupt: int = Field(description="Committed takes found truncated or corrupt on disk (rendered again).")
    retries_qc: int = Field(description="Takes after a shot's first (QC failed the earlier take).")
    retries_claim: int = Field(description="Renders claimed again after a worker died or stalled.")
    queue: dict[str, QueueDepth] = Field(description="Work waiting and running per backend role.")
    cpu_seconds: float
    gpu_seconds: float
    cost_usd: float


@dataclass
class _Tally:
    offset: int = 0  # bytes of the ledger read so far (complete lines only)
    cpu_seconds: float = 0.0
    gpu_seconds: float = 0.0
    cost_usd: float = 0.0


@dataclass(frozen=True)
class _RunTotals:
    """What one run adds to the factory's figures."""

    shots: dict[str, int]  # SHOT_KEYS
    machine: tuple[float, float, float]  # cpu seconds, gpu seconds, cost


class FactoryCollector(Collector):
    """Reads the figures on each scrape; `service()` gives the app's RunService (None while it starts)."""

    def __init__(self, service: Callable[[], Any]):
        self._service = service
        self._lock = threading.Lock()  # scrapes may overlap (FastAPI runs sync routes in a thread pool)
        self._ledgers: dict[str, _Tally] = {}  # run_dir -> what a live run's ledger added up to so far
        # run id -> (the registry's updated_at when cached, the totals) of a run in a terminal state
        self._terminal: dict[str, tuple[float, _RunTotals]] = {}
        self._has_shots = False  # df_shots exists (it never goes away once created)
        self._pricing: Any = None

    # --- the figures ---------------------------------------------------------------------------------------------
    def figures(self) -> FactoryFigures | None:
        service = self._service()
        if service is None:
            return None
        with self._lock:  # one scrape at a time: the caches are filled and read as one step
            with service.store.engine.connect() as conn:
                rows = conn.execute(select(runs.c.id, runs.c.status, runs.c.run_dir, runs.c.updated_at)).all()
                self._forget_changed(rows)
                fresh = [r for r in rows if r.id not in self._terminal]  # live runs, and terminal ones not cached
                shot_figures = self._shot_figures(conn, [r.id for r in fresh])
                summaries = self._summaries(conn, [r.id for r in fresh if r.status == "finished"])
            totals = [cached for _, cached in self._terminal.values()]
            for row in fresh:
                run = _RunTotals(shot_figures.get(row.id, dict.fromkeys(SHOT_KEYS, 0)),
                                 self._machine(row, summaries.get(row.id), service.settings))
                if row.status in TERMINAL:  # its final word: kept, and its ledger's tally is no longer needed
                    self._terminal[row.id] = (row.updated_at, run)
                    self._ledgers.pop(row.run_dir, None)
                totals.append(run)
        figures = {key: sum(t.shots[key] for t in totals) for key in SHOT_KEYS}
        cpu, gpu, cost = (sum(t.machine[i] for t in totals) for i in range(3))
        counts = Counter(row.status for row in rows)
        return FactoryFigures(runs={state: counts.get(state, 0) for state in sorted({*STATES, *counts})},
                              **figures, queue=_queue(service), cpu_seconds=round(cpu, 4), gpu_seconds=round(gpu, 4),
                              cost_usd=round(cost, 9))

    def _forget_changed(self, rows: list[Any]) -> None:
        """Drop the kept totals of runs that are gone, no longer terminal (resumed), or changed since (a resume
        and a new ending between two scrapes moves updated_at too): they are counted fresh on this scrape."""
        current = {row.id: row for row in rows}
        for run_id, (stamp, _) in list(self._terminal.items()):
            row = current.get(run_id)
            if row is None or row.status not in TERMINAL or row.updated_at != stamp:
                del self._terminal[run_id]

    def _shot_figures(self, conn: Connection, run_ids: list[str]) -> dict[str, dict[str, int]]:
        """The shot ledger's figures of these runs only (its rows of cached runs are not read again)."""
        if not run_ids or not (self._has_shots or inspect(conn).has_table("df_shots")):
            return {}
        self._has_shots = True
        out: dict[str, dict[str, int]] = {}
        for i in range(0, len(run_ids), IN_BATCH):
            query = _shot_query().where(shots.c.run_id.in_(run_ids[i:i + IN_BATCH]))
            for row in conn.execute(query).mappings():
                out[row["run_id"]] = {key: int(row[key] or 0) for key in SHOT_KEYS}
        return out

    @staticmethod
    def _summaries(conn: Connection, run_ids: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for i in range(0, len(run_ids), IN_BATCH):
            out.update(conn.execute(select(runs.c.id, runs.c.summary)
                                    .where(runs.c.id.in_(run_ids[i:i + IN_BATCH]))).all())
        return out

    def _machine(self, row: Any, summary: Any, settings: Any) -> tuple[float, float, float]:
        """A finished run's summary is its final word; any other run's figures are its ledger's, summed."""
        if isinstance(summary, str):  # a JSON column read back as text by some drivers
            summary = json.loads(summary)
        if isinstance(summary, dict) and "cpu_seconds" in summary:
            return (float(summary.get("cpu_seconds") or 0.0), float(summary.get("gpu_seconds") or 0.0),
                    float(summary.get("cost_usd") or 0.0))
        tally = self._tally(Path(row.run_dir), settings)
        return tally.cpu_seconds, tally.gpu_seconds, tally.cost_usd

    def _tally(self, run_dir: Path, settings: Any) -> _Tally:
        """The run's ledger summed, reading only what was appended since the last scrape; a file that shrank (it
        was replaced) is read again from the start."""
        path = run_dir / "ledger.jsonl"
        tally = self._ledgers.setdefault(str(run_dir), _Tally())
        try:
            size = path.stat().st_size
        except OSError:
            return tally
        if size < tally.offset:
            tally = self._ledgers[str(run_dir)] = _Tally()
        if size == tally.offset:
            return tally
        with path.open("rb") as handle:
            handle.seek(tally.offset)
            chunk = handle.read(size - tally.offset)
        complete = chunk[:chunk.rfind(b"\n") + 1]  # a row still being written is read on a later scrape
        rows = []
        for line in complete.decode("utf-8", errors="replace").splitlines():
            try:  # a line a crash tore is skipped, as the summary skips it
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict) and "stage" in row:
                rows.append(row)
        if rows:
            costs = price_rows(rows, self._prices(settings))
            tally.cpu_seconds += costs.cpu_seconds
            tally.gpu_seconds += costs.gpu_seconds
            tally.cost_usd += costs.usd
        tally.offset += len(complete)
        return tally

    def _prices(self, settings: Any) -> Any:
        if self._pricing is None:  # the rows carry their cost; the prices only price rows written before costs
            from dramafactory.prices import Pricing

            self._pricing = Pricing.from_settings(settings)
        return self._pricing

    # --- Prometheus ----------------------------------------------------------------------------------------------
    def collect(self) -> Iterator[Metric]:
        f = self.figures()
        if f is None:  # the service is starting: nothing to report yet
            return
        states = GaugeMetricFamily("dramafactory_runs", "Series runs per state (all tenants).", labels=["state"])
        for state, n in f.runs.items():
            states.add_metric([state], n)
        yield states
        for name, value, help_text in (
                ("shots_committed", f.shots_committed, "Shots with a committed take in the shot ledger."),
                ("takes_committed", f.takes_committed, "Takes committed in the shot ledger (each exactly once)."),
                ("takes_rendering", f.takes_rendering, "Takes claimed by a worker and rendering now."),
                ("takes_reused", f.takes_reused, "Committed takes reused by a resumed run instead of rendered."),
                ("takes_corrupt", f.takes_corrupt, "Committed takes found corrupt on disk and rendered again.")):
            yield GaugeMetricFamily(f"dramafactory_{name}", help_text, value=value)
        retries = GaugeMetricFamily("dramafactory_retries", "Retries in the shot ledger: qc = takes after a "
                                    "shot's first (QC failed the earlier one); claim = renders claimed again after "
                                    "a worker died or stalled.", labels=["kind"])
        retries.add_metric(["qc"], f.retries_qc)
        retries.add_metric(["claim"], f.retries_claim)
        yield retries
        queue = GaugeMetricFamily("dramafactory_queue_depth", "Work items per backend role in the service's "
                                  "engine: waiting for a slot, or running.", labels=["role", "state"])
        for role, depth in f.queue.items():
            queue.add_metric([role, "waiting"], depth.waiting)
            queue.add_metric([role, "running"], depth.running)
        yield queue
        yield CounterMetricFamily("dramafactory_cpu_seconds", "CPU seconds of every run's work (finished runs' "
                                  "summaries plus the other runs' ledgers).", value=f.cpu_seconds)
        yield CounterMetricFamily("dramafactory_gpu_seconds", "GPU seconds of every run's work.", value=f.gpu_seconds)
        yield CounterMetricFamily("dramafactory_cost_usd", "Cost in US dollars of every run's work, as the ledger "
                                  "priced it.", value=f.cost_usd)


def _queue(service: Any) -> dict[str, QueueDepth]:
    engine = getattr(service, "engine", None)  # the service's shared engine (tools/engine), when it has one
    depth = engine.queue_depth() if engine is not None and hasattr(engine, "queue_depth") else {}
    return {role: QueueDepth(waiting=int((depth.get(role) or {}).get("waiting", 0)),
                             running=int((depth.get(role) or {}).get("running", 0)))
            for role in sorted({*ROLES, *depth})}


router = APIRouter(prefix="/factory", tags=["factory"])


@router.get("", response_model=FactoryFigures, responses={503: problem("The service is starting.")},
            summary="Factory-wide figures (all tenants): runs by state, shots committed, reuse, retries, queue "
                    "depth, machine time, cost")
def factory_figures(request: Request, tenant: Tenant) -> FactoryFigures:
    """The dashboard's view of GET /metrics. Any valid key may read it: the figures are counts and sums over the
    whole service, with no run, title or tenant in them."""
    figures = request.app.state.metrics.figures()
    if figures is None:  # the lifespan has not started the service yet
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the service is starting")
    return figures


def install_metrics(app: FastAPI) -> FactoryCollector:
    """Register the collector on the app's own registry and mount GET /metrics."""
    registry = CollectorRegistry()
    collector = FactoryCollector(lambda: getattr(app.state, "service", None))
    registry.register(collector)
    app.state.metrics = collector

    @app.get("/metrics", include_in_schema=False)
    def metrics(tenant: Tenant) -> Response:
        """Prometheus text format. Authentication follows the service's: with DRAMAFACTORY_API_KEYS set, a scraper
        sends one of the keys (Prometheus: `authorization: {credentials: KEY}` in the scrape config), as every
        non-public route needs; without keys the service listens on 127.0.0.1 only and /metrics is open to this
        machine, like the rest of the API. The figures are factory-wide counts and sums (no run ids, titles or
        tenants), so any tenant's key may read them."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return collector
