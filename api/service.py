"""Runs in the background: a pool of worker threads executes series productions on the same graph as the CLI
(graphs.runner.produce), each run a thread of the shared checkpointer keyed by its run id, in its own folder.

A run pauses where its checkpoints ask for a person; the pause becomes a review row. A decision resumes the run
with the answer (LangGraph Command(resume=...)). Cancel asks LangGraph to drain (RunControl): the nodes in flight
finish and are saved, nothing else starts; resume continues from there. A service that stopped (or crashed) finds
its queued and running runs in the registry when it starts, and resumes them from the checkpointer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from langgraph.errors import GraphDrained
from langgraph.runtime import RunControl

from dramafactory.agents.context import AgentContext
from dramafactory.config import Settings
from dramafactory.errors import DramaError
from dramafactory.graphs.runner import produce
from dramafactory.schemas import SeriesConcept

from .events import EventLog
from .store import Store

log = logging.getLogger("dramafactory.api")
ContextFactory = Callable[[Path, Settings], AgentContext]


def default_context(run_dir: Path, settings: Settings) -> AgentContext:
    from dramafactory.graphs.backends import build_context

    return build_context(run_dir, settings)


class RunService:
    def __init__(self, store: Store, settings: Settings, data_dir: Path, *, workers: int = 2,
                 context_factory: ContextFactory = default_context):
        self.store = store
        self.settings = settings
        self.data_dir = Path(data_dir)
        self.context_factory = context_factory
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="run")
        self._controls: dict[str, RunControl] = {}
        self._lock = threading.Lock()
        self._closed = False

    # --- lifecycle ----------------------------------------------------------------------------------------------
    def recover(self) -> list[str]:
        """Queued and running runs of a service that stopped: resume each from its last checkpoint."""
        resumed = []
        for row in self.store.active_runs():
            if row["status"] == "cancelling":  # the drain did not finish before the stop: it is cancelled now
                self.store.update_run(row["id"], status="cancelled")
                continue
            self.store.update_run(row["id"], status="queued")
            self.resume_queued(row["id"])
            resumed.append(row["id"])
        if resumed:
            log.info("resumed %d run(s) after a restart: %s", len(resumed), ", ".join(resumed))
        return resumed

    def close(self, wait: bool = True) -> None:
        """Stop taking work; drain the runs in flight (they finish their current nodes and stay resumable)."""
        self._closed = True
        with self._lock:
            for control in self._controls.values():
                control.request_drain("service stopping")
        self._pool.shutdown(wait=wait, cancel_futures=True)

    # --- requests -----------------------------------------------------------------------------------------------
    def run_dir(self, tenant: str, run_id: str) -> Path:
        return self.data_dir / "tenants" / tenant / "runs" / run_id

    def start(self, tenant: str, request: dict) -> dict:
        from .store import new_id

        run_id = new_id()
        run_dir = self.run_dir(tenant, run_id)
        run_dir.mkdir(parents=True, exist_ok=True)
        row = self.store.create_run(tenant=tenant, request=request, run_dir=run_dir, run_id=run_id)
        EventLog(run_dir).append(stage="queued", status="start", message="waiting for a worker")
        self._submit(run_id, resume=False)
        return row

    def answer(self, run_id: str, decision: dict) -> None:
        """A review was decided: resume the paused run with the answer."""
        self.store.update_run(run_id, status="queued", only_if=("waiting_review",))
        self._queued(run_id)
        self._submit(run_id, resume=True, decision=decision)

    def cancel(self, run_id: str) -> str:
        with self._lock:
            control = self._controls.get(run_id)
            if control is not None:
                control.request_drain("cancelled")
                self.store.update_run(run_id, status="cancelling", only_if=("running", "queued"))
                return "cancelling"
        # not executing: queued (its task will see the status and stop) or paused for a review
        self.store.update_run(run_id, status="cancelled", only_if=("queued", "waiting_review"))
        self.store.withdraw_reviews(run_id)
        return "cancelled"

    def resume_queued(self, run_id: str) -> None:
        """A cancelled or failed run (set back to queued by the caller) continues from its last checkpoint; one
        that never reached its first checkpoint starts again."""
        started = bool(self.store.saver.get_tuple({"configurable": {"thread_id": run_id}}))
        self._queued(run_id)
        self._submit(run_id, resume=started)

    def _queued(self, run_id: str) -> None:
        row = self.store.run(run_id)
        if row:
            EventLog(Path(row["run_dir"])).append(stage="queued", status="start", message="waiting for a worker")

    # --- the worker -----------------------------------------------------------------------------------------------
    def _submit(self, run_id: str, *, resume: bool, decision: dict | None = None) -> None:
        if self._closed:
            return  # left queued in the registry: the next start of the service picks it up
        self._pool.submit(self._execute, run_id, resume, decision)

    def _execute(self, run_id: str, resume: bool, decision: dict | None) -> None:
        row = self.store.run(run_id)
        if row is None or row["status"] != "queued" or self._closed:
            return  # cancelled while it waited for a worker, or the service is stopping
        run_dir = Path(row["run_dir"])
        events = EventLog(run_dir)
        control = RunControl()
        with self._lock:
            self._controls[run_id] = control
        self.store.update_run(run_id, status="running", only_if=("queued",))
        events.append(stage="queued", status="done")
        request = row["request"]
        try:
            ctx = self.context_factory(run_dir, self.settings)
            concept = SeriesConcept.model_validate({k: v for k, v in request.items()
                                                    if k in SeriesConcept.model_fields})
            outcome = produce(ctx, concept=None if resume else concept, seed=request.get("seed", 0),
                              resume=resume, decisions=decision, checkpoints=request.get("checkpoints"),
                              saver=self.store.saver, thread_id=run_id, control=control,
                              on_event=events.graph_event)
        except GraphDrained:
            stopping = self._closed and self.store.run(run_id)["status"] == "running"
            # a service that stops leaves its runs queued (the next start resumes them); a cancel is final
            self.store.update_run(run_id, status="queued" if stopping else "cancelled")
            events.append(stage="run", status="queued" if stopping else "cancelled")
            return
        except (DramaError, Exception) as exc:  # noqa: BLE001 - any failure is recorded on the run, never lost
            log.exception("run %s failed", run_id)
            message = str(exc) if isinstance(exc, DramaError) else f"{type(exc).__name__}: {exc}"
            self.store.update_run(run_id, status="failed", error=message[:2000])
            events.append(stage="run", status="failed", message=message[:300])
            return
        finally:
            with self._lock:
                self._controls.pop(run_id, None)
        title = _title(run_dir)
        if outcome.status == "paused" and outcome.waiting:
            review = self.store.open_review(run_id=run_id, tenant=row["tenant"], payload=outcome.waiting[0])
            if not self.store.update_run(run_id, status="waiting_review", title=title, only_if=("running",)):
                # cancelled while it ran up to the pause: the cancel wins, the review is withdrawn
                self.store.update_run(run_id, status="cancelled", title=title)
                self.store.withdraw_reviews(run_id)
            else:
                events.append(stage="review", status="opened", kind=review["kind"], review=review["id"])
        elif outcome.status == "finished":
            summary = outcome.summary.model_dump(mode="json") if outcome.summary else None
            self.store.update_run(run_id, status="finished", title=title, summary=summary)
            events.append(stage="run", status="finished")
        else:
            self.store.update_run(run_id, status="failed", error=f"stopped at {outcome.next_nodes}")


def _title(run_dir: Path) -> str | None:
    import json

    path = run_dir / "bible.json"
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("title") if path.is_file() else None
    except (OSError, ValueError):
        return None
