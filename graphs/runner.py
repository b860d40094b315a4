"""Run or resume a series production in a folder: the folder holds the checkpoints, so it is the run.

The SQLite checkpointer lives at DIR/state.sqlite; LangGraph saves every finished step (durability "sync"), so a
crash, a Ctrl-C or a failed backend leaves a run that `--resume` continues without redoing finished work.
LangGraph does not lock a run (two processes on one thread both write checkpoints), and a file lock serves one
host only, so a run is held by a lease in the coordination database (the folder's coordination.sqlite, or the
service's database shared by many hosts): one orchestrator per run, its checkpoint writes and take commits fenced
by the lease's epoch, and a dead holder's lease taken over once it expires (tools/durable).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.errors import GraphDrained
from langgraph.runtime import RunControl
from langgraph.types import Command
from sqlalchemy.exc import SQLAlchemyError

from dramafactory.agents.context import AgentContext
from dramafactory.errors import DramaError
from dramafactory.schemas import RunSummary, SeriesConcept
from dramafactory.tools.durable import CoordinationDB, FencedSaver, LeaseLost, RunBusy, RunLease, ShotLedger

from .graph import build_series_graph
from .work import LocalRun, local_run

__all__ = ["RunBusy", "RunOutcome", "TakenOver", "checkpointer", "has_run", "produce"]

STATE_FILE = "state.sqlite"
Event = Callable[[tuple, str, object], None]


@dataclass
class RunOutcome:
    status: str  # "finished" or "paused" (stopped at a requested node; resume to continue)
    next_nodes: tuple[str, ...]
    summary: RunSummary | None
    waiting: tuple = ()  # what each pending review shows the person (the interrupt values)


@contextmanager
def checkpointer(run_dir: Path) -> Iterator[SqliteSaver]:
    conn = sqlite3.connect(run_dir / STATE_FILE, check_same_thread=False)
    # WAL with synchronous=NORMAL: a commit is not fsynced, yet a killed process (kill -9, a crash) loses no
    # committed checkpoint; only an OS crash or power cut may roll back the last ones (which a resume redoes, the
    # shot ledger's takes being reused). Full fsync per checkpoint was a large share of the per-shot time.
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    try:
        yield SqliteSaver(conn)
    finally:
        conn.close()


def has_run(run_dir: Path) -> bool:
    return (run_dir / STATE_FILE).is_file()


# A lost lease means another process took the run over, or that this one could not renew it for a lease period
# (its database was unreachable): the fix covers both, since only the second needs a person.
TAKEN_OVER_FIX = ("nothing to do if another process is producing the run now; if none is (the coordination "
                  "database was unreachable for a lease period), continue it with --resume")


class TakenOver(LeaseLost):
    """Another process took this run over (this one stalled or lost its database past the lease): it stopped
    without writing; the run goes on under its new holder."""


def produce(ctx: AgentContext, *, concept: SeriesConcept | None, seed: int = 0, resume: bool = False,
            stop_after: str | None = None, on_event: Event | None = None,
            decisions: dict | None = None, checkpoints: dict | None = None,
            saver: BaseCheckpointSaver | None = None, thread_id: str = "series",
            control: RunControl | None = None, coordination: CoordinationDB | None = None) -> RunOutcome:
    """Run (or resume) the series in ctx.run_dir. `decisions` answers a paused review (resume=True): for shots,
    {shot_id: "approve"} (shots left out stay flagged) or a graphs.review.Decision as a dict. `checkpoints` (a
    graphs.review.Checkpoints dict) says where a new run pauses for a person. `saver` and `thread_id`: the API keeps
    every run in one database; by default the folder's own SQLite file holds the run. `control`: a LangGraph
    RunControl whose drain request stops the run after the nodes in flight (GraphDrained; resume continues).
    `coordination`: the database of the run lease and the shot ledger (default: the folder's coordination.sqlite;
    the service passes its own, so that processes on several hosts share the runs). RunBusy when another process
    holds the run; TakenOver when this one lost it while running."""
    run_dir = ctx.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    # DRAMAFACTORY_DATABASE_URL (PostgreSQL) when set: Ray workers on other hosts must reach the shot ledger, and a
    # SQLite file on a network mount is no lock; else the folder's own file (one host)
    if coordination is None and (ctx.settings.database_url or "").startswith(("postgresql://", "postgres://")):
        coordination = CoordinationDB(ctx.settings.database_url.replace("postgres://", "postgresql://", 1))
        own_db = True
    else:
        own_db = coordination is None
    db = coordination or CoordinationDB.for_run_dir(run_dir)
    # Keyed by the run's id (the service's thread ids are run ids; the CLI's default thread takes the id kept in
    # the folder), never by the fixed default thread name: the in-process table of runs (graphs/work.py) and the
    # engine's fair slots tell runs apart by this key, and a factory runs many folders in one process.
    key = ctx.ledger.run_id if thread_id == "series" else thread_id
    ttl = ctx.settings.lease_ttl_s
    lease = RunLease(db, key, ttl_s=ttl, heartbeat_s=min(ctx.settings.lease_heartbeat_s, ttl / 3))
    with ExitStack() as stack:
        stack.callback(ctx.ledger.close)  # its append handle; a later row opens it again
        if own_db:
            stack.callback(db.close)
        try:
            lease.acquire()  # RunBusy before anything of the run is written
        except SQLAlchemyError as exc:  # unreachable, a full disk, a read-only folder: nothing was written yet
            raise DramaError(f"the run's coordination database {db!r} failed: {exc}".split("\n")[0],
                             "check that it is reachable and its disk has space, then run again") from exc
        stack.callback(lease.release)  # also on errors: the next process need not wait for the lease to expire
        control = control or RunControl()
        lost = threading.Event()
        lost_reason: list[str] = []

        def on_lost(reason: str) -> None:  # stop at once: every write from now on would be refused anyway
            lost_reason.append(reason)
            lost.set()
            control.request_drain(f"lease lost: {reason}")

        lease.start_heartbeat(on_lost)
        _attach(stack, ctx, key, lease, db)
        try:
            active = stack.enter_context(nullcontext(saver) if saver is not None else checkpointer(run_dir))
            return _produce(ctx, FencedSaver(active, lease), concept=concept, seed=seed, resume=resume,
                            stop_after=stop_after, on_event=on_event, decisions=decisions, checkpoints=checkpoints,
                            thread_id=thread_id, control=control)
        except LeaseLost as exc:
            raise TakenOver(f"this process lost the run's lease ({exc.cause}); it stopped without writing",
                            TAKEN_OVER_FIX) from exc
        except GraphDrained:
            if lost.is_set():
                raise TakenOver(f"this process lost the run's lease ({lost_reason[0] if lost_reason else 'not renewed'}); "
                                "it stopped without writing", TAKEN_OVER_FIX) from None
            raise


def _attach(stack: ExitStack, ctx: AgentContext, key: str, lease: RunLease, db: CoordinationDB) -> None:
    """Give the context its share of the factory for this run (the lease, the shot ledger at the lease's epoch,
    an engine) where the caller set none, and take it back when the run stops: a context used again gets a fresh
    lease and epoch."""
    from dramafactory.tools.engine import build_engine

    before = (ctx.lease, ctx.shots, ctx.engine)

    def restore() -> None:
        ctx.lease, ctx.shots, ctx.engine = before

    stack.callback(restore)

    def resident(role: str) -> object:
        if role == "qc":
            return ctx.qc_agent()
        return {"image": ctx.image, "speech": ctx.speech, "video": ctx.video}[role]

    ctx.lease = ctx.lease or lease
    ctx.shots = ctx.shots or ShotLedger(db, key, epoch=lease.epoch)
    if ctx.engine is None:
        ctx.engine = build_engine(ctx.settings, resident)
        stack.callback(ctx.engine.close)  # runs before restore(): the callbacks unwind last first
    stack.enter_context(local_run(key, LocalRun(resident=resident, shots=ctx.shots, memory=ctx.memory)))


def _produce(ctx: AgentContext, active: BaseCheckpointSaver, *, concept: SeriesConcept | None, seed: int,
             resume: bool, stop_after: str | None, on_event: Event | None, decisions: dict | None,
             checkpoints: dict | None, thread_id: str, control: RunControl) -> RunOutcome:
    run_dir = ctx.run_dir
    graph = build_series_graph().compile(checkpointer=active, interrupt_after=[stop_after] if stop_after else None)
    config: dict = {"configurable": {"thread_id": thread_id}}
    if ctx.settings.parallel_nodes is not None:  # else LangGraph's thread pool default (see Settings)
        config["max_concurrency"] = ctx.settings.parallel_nodes
    state = graph.get_state(config)
    if resume:
        if not state.values:
            raise DramaError(f"{run_dir} holds no run to resume", "run without --resume to start one")
        if state.interrupts and decisions is None:  # still waiting for a person: nothing to run
            return RunOutcome("paused", tuple(state.next), None, tuple(i.value for i in state.interrupts))
        payload = Command(resume=decisions) if state.interrupts else None
    else:
        if state.values:
            raise DramaError(f"{run_dir} already holds a run",
                             "pass --resume to continue it, or choose another --out folder")
        if concept is None:
            raise DramaError("no concept given", "pass a concept text or --concept FILE.yaml")
        (run_dir / "concept.json").write_text(concept.model_dump_json(indent=2), encoding="utf-8")
        payload = {"concept": concept.model_dump(mode="json"), "seed": seed, "takes": [], "stage_times": [],
                   "episodes_done": [], "checkpoints": checkpoints or {}}
    if resume and state.values and not state.next and not state.tasks:  # tasks: written, not yet applied
        return RunOutcome("finished", (), _summary(run_dir))
    ctx.ledger.mark("resume" if resume else "start")  # the run's first timestamp, and each process's
    for ns, mode, data in graph.stream(payload, config, context=ctx, stream_mode=["custom", "updates"],
                                       subgraphs=True, durability="sync", control=control):
        if on_event:
            on_event(ns, mode, data)
    final = graph.get_state(config)
    if final.next:
        return RunOutcome("paused", tuple(final.next), None, tuple(i.value for i in final.interrupts))
    return RunOutcome("finished", (), _summary(run_dir))


def _summary(run_dir: Path) -> RunSummary | None:
    path = run_dir / "summary.json"
    return RunSummary.model_validate(json.loads(path.read_text())) if path.is_file() else None
