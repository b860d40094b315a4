"""Runs in the background: a pool of worker threads executes series productions on the same graph as the CLI
(graphs.runner.produce), each run a thread of the shared checkpointer keyed by its run id, in its own folder.

A run pauses where its checkpoints ask for a person; the pause becomes a review row. A decision resumes the run
with the answer (LangGraph Command(resume=...)). Cancel asks LangGraph to drain (RunControl): the nodes in flight
finish and are saved, nothing else starts; resume continues from there. A service that stopped (or crashed) finds
its queued and running runs in the registry when it starts, and resumes them from the checkpointer.

Several service processes (on several hosts) may share one PostgreSQL: each run is held by a lease in that
database (graphs.runner.produce), so a run another process is producing is left to it (RunBusy), and a run whose
process died (its lease expired, the registry still says "running") is picked up by a watcher that looks every
lease period. So is a run a dead process had accepted but not started (still "queued" in its worker pool): each
replica keeps a heartbeat and records the queued runs it holds (api/replicas.py), and a queued run of a live
replica is left to it. One engine serves all the runs of a process, so its in-flight bounds hold for the process and are
shared fairly between the runs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from langgraph.errors import GraphDrained
from langgraph.runtime import RunControl
from sqlalchemy import select

from dramafactory.agents.context import AgentContext
from dramafactory.config import Settings
from dramafactory.errors import DramaError
from dramafactory.graphs.runner import RunBusy, produce
from dramafactory.tools.durable import CoordinationDB, LeaseLost
from dramafactory.tools.durable.db import run_leases
from dramafactory.tools.engine import Engine, build_engine
from dramafactory.tools.text.base import TextBackendError

from .events import EventLog
from .models import concept_of
from .replicas import Replicas
from .store import Store

log = logging.getLogger("dramafactory.api")
ContextFactory = Callable[[Path, Settings], AgentContext]


def default_context(run_dir: Path, settings: Settings) -> AgentContext:
    from dramafactory.graphs.backends import build_context

    return build_context(run_dir, settings, run_id=run_dir.name)  # the service names run folders by run id


class RunService:
    def __init__(self, store: Store, settings: Settings, data_dir: Path, *, workers: int = 2,
                 context_factory: ContextFactory = default_context, engine: Engine | None = None):
        self.store = store
        self.settings = settings
        self.data_dir = Path(data_dir)
        self.context_factory = context_factory
        # the leases and the shot ledger live in the service's own database, so every process against it shares
        # them (the store's URL with its password: render_as_string hides it by default)
        self.coordination = CoordinationDB(store.engine.url.render_as_string(hide_password=False))
        self.coordination.setup()
        ttl = settings.lease_ttl_s
        self.replicas = Replicas(self.coordination, ttl_s=ttl, heartbeat_s=min(settings.lease_heartbeat_s, ttl / 3))
        self.replicas.start()
        # no resident of its own: work run in this process uses its run's backends (graphs.work.local_run), so
        # each run keeps the backends its context was built with; a Ray engine's workers build their own
        self._own_engine = engine is None
        self.engine = engine or build_engine(settings, lambda _role: None)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="run")
        self._controls: dict[str, RunControl] = {}
        self._logs: dict[str, EventLog] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------------------------------
    def recover(self, *, watch: bool = True) -> list[str]:
        """Queued and running runs of a service that stopped: resume each from its last checkpoint (with the
        decision a person made, if it was not applied yet). A run whose lease another live process holds, and a
        queued run waiting in a live replica's pool, is that process's run: left alone. `watch`: keep looking every lease period for runs whose process died."""
        resumed = []
        rows = self.store.active_runs()
        orphans = set(self.replicas.orphans([r["id"] for r in rows if r["status"] == "queued"]))
        for row in rows:
            if row["id"] in self._controls or self._lease_live(row["id"], grace=row["status"] != "queued"):
                continue  # executing here, or held by another process
            if row["status"] == "queued" and not (row["id"] in orphans and self.replicas.take(row["id"])):
                continue  # waiting in a live replica's pool: its run
            if row["status"] == "running" and row["updated_at"] > time.time() - self.settings.lease_ttl_s:
                continue  # set running a moment ago by a replica that may not hold its lease yet: the watcher looks later
            if row["status"] == "cancelling":  # the drain did not finish before the stop: it is cancelled now
                self.store.update_run(row["id"], status="cancelled", only_if=("cancelling",))
                continue
            if self.store.update_run(row["id"], status="queued", only_if=("queued", "running")):
                self.resume_queued(row["id"])
                resumed.append(row["id"])
        if resumed:
            log.info("resumed %d run(s) after a restart: %s", len(resumed), ", ".join(resumed))
        if watch and self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, daemon=True, name="run-watcher")
            self._watcher.start()
        return resumed

    def _watch(self) -> None:
        """A process that died mid-run leaves its runs "running" with a lease nobody renews: once the lease has
        expired, take them over (a run that merely changed hands is skipped: its new holder renews). A process
        that died before it started a run it accepted leaves it "queued": take it over once that process's
        heartbeat has run out."""
        ttl = self.settings.lease_ttl_s
        while not self._stopping.wait(max(0.5, ttl / 3)):  # found within a third of a lease after it expired
            try:
                # a run set running a moment ago may not hold its lease yet, and one queued a moment ago may not
                # be recorded as accepted yet: leave either a lease period
                rows = [row for row in self.store.active_runs()
                        if row["id"] not in self._controls and row["updated_at"] <= time.time() - ttl]
                self._adopt_queued([row["id"] for row in rows if row["status"] == "queued"])
                for row in rows:
                    if row["status"] == "queued" or self._lease_live(row["id"], grace=True):
                        continue
                    if row["status"] == "cancelling":  # its drain died with its process: cancelled now
                        self.store.update_run(row["id"], status="cancelled", only_if=("cancelling",))
                    elif self.store.update_run(row["id"], status="queued", only_if=("running",)):
                        log.warning("run %s: its process stopped renewing the lease; resuming it here", row["id"])
                        self.resume_queued(row["id"])
            except Exception:  # noqa: BLE001 - a database hiccup: look again next period
                log.exception("looking for abandoned runs failed")

    def _adopt_queued(self, run_ids: list[str]) -> None:
        """Queued runs whose replica died before it started them: this replica's now."""
        for run_id in self.replicas.orphans(run_ids):
            if not self._lease_live(run_id) and self.replicas.take(run_id):
                log.warning("run %s: the replica that queued it stopped its heartbeat; running it here", run_id)
                self.resume_queued(run_id)

    def _lease_live(self, run_id: str, *, grace: bool = False) -> bool:
        """True while a process holds the run's lease; with `grace` (for a run still marked running), also for a
        lease period after its holder released it: a holder releases the lease before it writes the run's new
        status (finished, waiting for review), and in that moment the run must not look abandoned to another
        replica. A queued run whose lease was released is nobody's: no grace."""
        c = run_leases.c
        ttl = self.settings.lease_ttl_s
        with self.coordination.engine.connect() as conn:
            row = conn.execute(select(c.owner, c.lease_until, c.updated_at).where(c.run_id == run_id)).first()
            now = self.coordination.now(conn)
        if row is None:
            return False
        if row.owner is not None:
            return row.lease_until is not None and row.lease_until > now
        return grace and row.updated_at is not None and row.updated_at > time.time() - ttl

    def close(self, wait: bool = True) -> None:
        """Stop taking work; drain the runs in flight (they finish their current nodes and stay resumable)."""
        self._stopping.set()
        with self._lock:
            self._closed = True
            for control in self._controls.values():
                control.request_drain("service stopping")
        self._pool.shutdown(wait=wait, cancel_futures=True)
        if self._own_engine:
            self.engine.close()
        try:  # its queued runs (left queued by the drain) go to the other replicas at once
            self.replicas.stop()
        except Exception:  # noqa: BLE001 - unreachable database: its heartbeat runs out instead
            log.exception("could not remove this replica's heartbeat")
        self.coordination.close()

    # --- requests -----------------------------------------------------------------------------------------------
    def run_dir(self, tenant: str, run_id: str) -> Path:
        return self.data_dir / "tenants" / tenant / "runs" / run_id

    def events(self, run_id: str, run_dir: Path) -> EventLog:
        with self._lock:
            if run_id not in self._logs:
                self._logs[run_id] = EventLog(run_dir)
            return self._logs[run_id]

    def start(self, tenant: str, request: dict) -> dict:
        from .store import new_id

        run_id = new_id()
        run_dir = self.run_dir(tenant, run_id)
        run_dir.mkdir(parents=True, exist_ok=True)
        row = self.store.create_run(tenant=tenant, request=request, run_dir=run_dir, run_id=run_id)
        self.events(run_id, run_dir).append(stage="queued", status="start", message="waiting for a worker")
        self._submit(run_id)
        return row

    def answer(self, run_id: str) -> bool:
        """A review was decided: resume the paused run, which reads the decision from the review row. False when
        the run no longer waits (cancelled meanwhile): the decision is kept and applied if it is resumed."""
        if not self.store.update_run(run_id, status="queued", only_if=("waiting_review",)):
            return False
        self._queued(run_id)
        self._submit(run_id)
        return True

    def cancel(self, run_id: str) -> str | None:
        """'cancelling' (a drain was asked of the running graph), 'cancelled', or None when the run's state
        allowed neither (it ended, or is already cancelling)."""
        with self._lock:
            control = self._controls.get(run_id)
        if control is not None and self.store.update_run(run_id, status="cancelling", only_if=("running",)):
            control.request_drain("cancelled")
            return "cancelling"
        # not executing: queued (its task will see the status and stop) or paused for a review
        if self.store.update_run(run_id, status="cancelled", only_if=("queued", "waiting_review")):
            self.store.withdraw_reviews(run_id)
            row = self.store.run(run_id)
            self.events(run_id, Path(row["run_dir"])).append(stage="run", status="cancelled")
            return "cancelled"
        return None

    def resume_queued(self, run_id: str) -> None:
        """A run set back to queued by the caller (cancelled, failed, or found after a restart) continues from
        its last checkpoint; one that never reached its first checkpoint starts again."""
        self._queued(run_id)
        self._submit(run_id)

    def _queued(self, run_id: str) -> None:
        row = self.store.run(run_id)
        if row:
            self.events(run_id, Path(row["run_dir"])).append(stage="queued", status="start",
                                                             message="waiting for a worker")

    # --- the worker -----------------------------------------------------------------------------------------------
    def _submit(self, run_id: str) -> None:
        try:  # recorded before it waits in the pool, so a replica that sees this one die can take it over
            self.replicas.accept(run_id)
        except Exception:  # noqa: BLE001 - not fatal: unrecorded, the run may be taken over once it waited a lease
            log.exception("could not record run %s as queued here", run_id)
        try:
            self._pool.submit(self._execute, run_id)
        except RuntimeError:  # the service is stopping: the run stays queued and the next start picks it up
            log.info("run %s stays queued: the service is stopping", run_id)

    def _execute(self, run_id: str) -> None:
        with self._lock:  # claim the run: one task executes it, and a stopping service starts nothing new
            if self._closed or not self.store.update_run(run_id, status="running", only_if=("queued",)):
                return  # cancelled while it waited, taken by another task, or the service is stopping
            control = self._controls[run_id] = RunControl()
        row = self.store.run(run_id)
        run_dir = Path(row["run_dir"])
        events = self.events(run_id, run_dir)
        events.append(stage="queued", status="done")
        try:
            self._produce(row, run_dir, events, control)
        except Exception as exc:  # noqa: BLE001 - a failure is recorded on the run, never lost in a Future
            log.exception("run %s failed", run_id)
            if isinstance(exc, DramaError):
                message = str(exc)
            elif isinstance(exc, TextBackendError):  # the text server failed: name it and the fix; resume works
                message = f"{exc} (fix: {exc.fix}, then resume the run)"
            else:
                message = f"{type(exc).__name__}: {exc}"
            events.append(stage="run", status="failed", message=message[:300])
            self.store.update_run(run_id, status="failed", error=message[:2000])
        finally:
            with self._lock:
                self._controls.pop(run_id, None)

    def _produce(self, row: dict, run_dir: Path, events: EventLog, control: RunControl) -> None:
        run_id, request = row["id"], row["request"]
        started = bool(self.store.saver.get_tuple({"configurable": {"thread_id": run_id}}))
        decided = self.store.unapplied_decision(run_id) if started else None
        ctx = self.context_factory(run_dir, self.settings)
        if ctx.engine is None:
            ctx.engine = self.engine
        concept = concept_of(request)
        try:
            outcome = produce(ctx, concept=None if started else concept, seed=request.get("seed", 0),
                              resume=started, decisions=decided["decision"] if decided else None,
                              checkpoints=request.get("checkpoints"), saver=self.store.saver, thread_id=run_id,
                              control=control, on_event=events.graph_event, coordination=self.coordination)
        except RunBusy:  # another process holds the run's lease: it is that process's run now
            log.warning("run %s is being produced by another process", run_id)
            return
        except LeaseLost:  # taken over while it ran (this process stalled): the new holder owns its status
            log.warning("run %s was taken over by another process", run_id)
            return
        except GraphDrained:
            if decided:
                self.store.mark_applied(decided["id"])
            stopping = self._closed and self.store.run(run_id)["status"] == "running"
            # a service that stops leaves its runs queued (the next start resumes them); a cancel is final
            events.append(stage="run", status="queued" if stopping else "cancelled")
            self.store.update_run(run_id, status="queued" if stopping else "cancelled")
            return
        if decided:
            self.store.mark_applied(decided["id"])
        title = (_title(run_dir) or "")[:300] or None
        if outcome.status == "paused" and outcome.waiting:
            # the run waits before its review opens, so a pending review always belongs to a waiting run
            if self.store.update_run(run_id, status="waiting_review", title=title, only_if=("running",)):
                review = self.store.open_review(run_id=run_id, tenant=row["tenant"], payload=outcome.waiting[0])
                events.append(stage="review", status="opened", kind=review["kind"], review=review["id"])
            else:  # cancelled while it ran up to the pause: the cancel wins
                events.append(stage="run", status="cancelled")
                self.store.update_run(run_id, status="cancelled", title=title)
        elif outcome.status == "finished":
            events.append(stage="run", status="finished")
            summary = outcome.summary.model_dump(mode="json") if outcome.summary else None
            self.store.update_run(run_id, status="finished", title=title, summary=summary)
        else:
            raise DramaError(f"the run stopped at {outcome.next_nodes} without a review to wait for")


def _title(run_dir: Path) -> str | None:
    import json

    path = run_dir / "bible.json"
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("title") if path.is_file() else None
    except (OSError, ValueError):
        return None
