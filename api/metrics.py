"""The operators' view: factory-wide figures for Prometheus (GET /metrics, the text format, from prometheus-client)
and for the dashboard (GET /factory, the same figures as JSON).

Every figure is read from what is already durable, at scrape time, so any replica of the service answers the
same: runs by state from the registry (df_runs); committed takes, reused takes and retries from the shot ledger
(df_shots, tools/durable; 0 before that table exists); queue depth per backend role from the service's shared
engine; CPU and GPU seconds and cost from finished runs' summaries plus, for every other run, its ledger.jsonl,
read incrementally (only the bytes appended since the last scrape), so a scrape stays cheap with many runs.

The collector is registered on a registry of the app's own (not prometheus-client's global one), so two apps in
one process (tests, a worker per app) never collide.
"""

from __future__ import annotations

import json
import threading
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
from sqlalchemy import func, inspect, select, text

from dramafactory.tools.accounting import price_rows

from .deps import Tenant
from .models import problem
from .store import ACTIVE, TERMINAL, runs

STATES = (*ACTIVE, "waiting_review", *TERMINAL)
ROLES = ("image", "qc", "speech", "video")  # the engine's roles (tools/engine), listed even when idle
SHOT_FIGURES = """
SELECT COALESCE(SUM(CASE WHEN state = 'done' THEN 1 ELSE 0 END), 0) AS takes_committed,
       COALESCE(SUM(CASE WHEN state = 'rendering' THEN 1 ELSE 0 END), 0) AS takes_rendering,
       COALESCE(SUM(CAST(reused AS INTEGER)), 0) AS takes_reused,
       COALESCE(SUM(CAST(corrupt AS INTEGER)), 0) AS takes_corrupt,
       COALESCE(SUM(CASE WHEN take > 1 THEN 1 ELSE 0 END), 0) AS retries_qc,
       COALESCE(SUM(CASE WHEN attempt > 1 THEN attempt - 1 ELSE 0 END), 0) AS retries_claim
FROM df_shots"""
SHOTS_COMMITTED = "SELECT COUNT(*) FROM (SELECT DISTINCT run_id, shot_id FROM df_shots WHERE state = 'done') AS d"


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


class FactoryCollector(Collector):
    """Reads the figures on each scrape; `service()` gives the app's RunService (None while it starts)."""

    def __init__(self, service: Callable[[], Any]):
        self._service = service
        self._lock = threading.Lock()  # scrapes may overlap (FastAPI runs sync routes in a thread pool)
        self._ledgers: dict[str, _Tally] = {}  # run_dir -> what its ledger added up to so far
        self._finished: dict[str, tuple[float, float, float]] = {}  # run id -> a finished run's summary figures
        self._pricing: Any = None

    # --- the figures ---------------------------------------------------------------------------------------------
    def figures(self) -> FactoryFigures | None:
        service = self._service()
        if service is None:
            return None
        engine = service.store.engine
        with engine.connect() as conn:
            counts = dict(conn.execute(select(runs.c.status, func.count()).group_by(runs.c.status)).all())
        shots = {"shots_committed": 0, "takes_committed": 0, "takes_rendering": 0, "takes_reused": 0,
                 "takes_corrupt": 0, "retries_qc": 0, "retries_claim": 0}
        if inspect(engine).has_table("df_shots"):
            with engine.connect() as conn:
                shots.update({k: int(v or 0) for k, v in conn.execute(text(SHOT_FIGURES)).mappings().one().items()})
                shots["shots_committed"] = int(conn.execute(text(SHOTS_COMMITTED)).scalar() or 0)
        cpu, gpu, cost = self._machine_figures(service)
        return FactoryFigures(runs={state: int(counts.get(state, 0)) for state in sorted({*STATES, *counts})},
                              **shots, queue=_queue(service), cpu_seconds=round(cpu, 4), gpu_seconds=round(gpu, 4),
                              cost_usd=round(cost, 9))

    def _machine_figures(self, service: Any) -> tuple[float, float, float]:
        with service.store.engine.connect() as conn:
            rows = conn.execute(select(runs.c.id, runs.c.status, runs.c.run_dir)).all()
            new = [r.id for r in rows if r.status == "finished" and r.id not in self._finished]
            summaries = dict(conn.execute(select(runs.c.id, runs.c.summary).where(runs.c.id.in_(new))).all()) \
                if new else {}
        with self._lock:
            for run_id, summary in summaries.items():
                if isinstance(summary, str):  # a JSON column read back as text by some drivers
                    summary = json.loads(summary)
                if isinstance(summary, dict) and "cpu_seconds" in summary:
                    self._finished[run_id] = (float(summary.get("cpu_seconds") or 0.0),
                                              float(summary.get("gpu_seconds") or 0.0),
                                              float(summary.get("cost_usd") or 0.0))
            cpu = gpu = cost = 0.0
            for row in rows:
                if row.id in self._finished:  # a finished run's summary is its final word (and never changes)
                    figures = self._finished[row.id]
                    self._ledgers.pop(row.run_dir, None)
                else:
                    tally = self._tally(Path(row.run_dir), service.settings)
                    figures = (tally.cpu_seconds, tally.gpu_seconds, tally.cost_usd)
                cpu, gpu, cost = cpu + figures[0], gpu + figures[1], cost + figures[2]
        return cpu, gpu, cost

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
