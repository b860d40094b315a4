"""Run or resume a series production in a folder: the folder holds the checkpoints, so it is the run.

The SQLite checkpointer lives at DIR/state.sqlite; LangGraph saves every finished step (durability "sync"), so a
crash, a Ctrl-C or a failed backend leaves a run that `--resume` continues without redoing finished work.
LangGraph does not lock a run (two processes on one thread both write checkpoints), so a lock file keeps two
processes off one folder.
"""

from __future__ import annotations

import fcntl
import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.runtime import RunControl
from langgraph.types import Command

from dramafactory.agents.context import AgentContext
from dramafactory.errors import DramaError
from dramafactory.schemas import RunSummary, SeriesConcept

from .graph import build_series_graph

STATE_FILE = "state.sqlite"
Event = Callable[[tuple, str, object], None]


@dataclass
class RunOutcome:
    status: str  # "finished" or "paused" (stopped at a requested node; resume to continue)
    next_nodes: tuple[str, ...]
    summary: RunSummary | None
    waiting: tuple = ()  # what each pending review shows the person (the interrupt values)


class RunBusy(DramaError):
    """The run folder is locked by a producer that is still running."""


@contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    run_dir.mkdir(parents=True, exist_ok=True)
    handle = (run_dir / ".lock").open("w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        raise RunBusy(f"another process is producing in {run_dir}", "wait for it, or use another --out") from exc
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


@contextmanager
def checkpointer(run_dir: Path) -> Iterator[SqliteSaver]:
    conn = sqlite3.connect(run_dir / STATE_FILE, check_same_thread=False)
    try:
        yield SqliteSaver(conn)
    finally:
        conn.close()


def has_run(run_dir: Path) -> bool:
    return (run_dir / STATE_FILE).is_file()


def produce(ctx: AgentContext, *, concept: SeriesConcept | None, seed: int = 0, resume: bool = False,
            stop_after: str | None = None, on_event: Event | None = None,
            decisions: dict | None = None, checkpoints: dict | None = None,
            saver: BaseCheckpointSaver | None = None, thread_id: str = "series",
            control: RunControl | None = None) -> RunOutcome:
    """Run (or resume) the series in ctx.run_dir. `decisions` answers a paused review (resume=True): for shots,
    {shot_id: "approve"} (shots left out stay flagged) or a graphs.review.Decision as a dict. `checkpoints` (a
    graphs.review.Checkpoints dict) says where a new run pauses for a person. `saver` and `thread_id`: the API keeps
    every run in one database; by default the folder's own SQLite file holds the run. `control`: a LangGraph
    RunControl whose drain request stops the run after the nodes in flight (GraphDrained; resume continues)."""
    run_dir = ctx.run_dir
    with run_lock(run_dir), (nullcontext(saver) if saver is not None else checkpointer(run_dir)) as active:
        graph = build_series_graph().compile(checkpointer=active,
                                             interrupt_after=[stop_after] if stop_after else None)
        config = {"configurable": {"thread_id": thread_id}}
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
            return RunOutcome("paused", tuple(final.next), None,
                              tuple(i.value for i in final.interrupts))
        return RunOutcome("finished", (), _summary(run_dir))


def _summary(run_dir: Path) -> RunSummary | None:
    path = run_dir / "summary.json"
    return RunSummary.model_validate(json.loads(path.read_text())) if path.is_file() else None
