"""Many series at once in one process: one orchestrating thread per series (LangGraph runs each in its own run
folder, resumable with `produce --resume --out DIR/<slug>`), ONE set of backends and ONE engine shared by all.

Why share: the embedded text model is ~0.5 GB loaded, the QC agent holds scorer models, diffusers pipelines hold a
GPU; one copy each serves every series. What sharing needs:
- text: llama.cpp contexts are not thread-safe; tools/text/llamacpp.py already serialises every call behind its own
  lock (and says max_in_flight = 1), so the shared backend is safe as it is. The OpenAI-compatible backends use a
  thread-safe pooled client, bounded per server (tools/text/servers.py).
- image: the storyboard renderer is already called from the parallel shot branches of one run (its caches are
  filled idempotently); the diffusers backends run every call on their own pipeline worker thread.
- speech: the voice bank keeps per-call state on the object (the seconds spent loading a voice, read back by the
  caller), and the in-process engine hands the one shared object to every series' voices node (which speaks a
  run's lines one after another in process): the shared one is serialised here.
- QC: one QCAgent (already shared by the shot branches of one run), given to every series' context.
The engine (tools/engine) bounds work in flight per role across all series, granted round-robin between series, so
every series is admitted and all make progress.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from langgraph.errors import GraphDrained
from langgraph.runtime import RunControl

from dramafactory.config import Settings
from dramafactory.errors import DramaError
from dramafactory.schemas import SeriesConcept

from .concepts import ConceptEntry
from .progress import SeriesProgress

FACTORY_FILE = "factory.json"
MAX_ADMITTED = 32  # orchestrating threads at once; more series wait their turn (each thread holds a graph)
FINAL = ("finished", "failed", "budget", "paused", "stopped", "invalid")


def default_parallel() -> int:
    return max(1, os.cpu_count() or 2)


def factory_limits(parallel: int) -> dict[str, int]:
    """Work in flight per role for all series together: renders and QC scoring `parallel` at once (one per core on
    the CPU default), speech and clips one at a time (one voice model, one video pipeline)."""
    return {"image": parallel, "qc": parallel, "speech": 1, "video": 1}


def factory_settings(settings: Settings, parallel: int, budget_usd: float | None = None) -> Settings:
    """The settings of factory mode: the engine's limits (explicit DRAMAFACTORY_ENGINE_MAX_IN_FLIGHT entries win)
    and the per-series budget cap."""
    update: dict[str, Any] = {"engine_max_in_flight": {**factory_limits(parallel), **settings.engine_max_in_flight}}
    if budget_usd is not None:
        update["budget_usd"] = budget_usd
    return settings.model_copy(update=update)


class SerialisedSpeech:
    """A speech backend called by one thread at a time (see the module docstring); everything else passes
    through."""

    def __init__(self, inner: Any):
        self.inner = inner
        self._lock = threading.Lock()

    def synthesize(self, request):  # noqa: ANN001, ANN201 - the SpeechBackend protocol
        with self._lock:
            return self.inner.synthesize(request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@dataclass
class SharedBackends:
    """The backends every series of the factory uses (built once)."""

    settings: Settings
    text: Any
    image: Any
    speech: Any
    video: Any = None
    _qc: Any = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.speech, SerialisedSpeech):
            self.speech = SerialisedSpeech(self.speech)

    @classmethod
    def build(cls, settings: Settings) -> SharedBackends:
        """Every configured backend checked (the reason and the fix when one cannot run here), then built once."""
        from dramafactory.tools import registry

        entries = {role: registry.preflight(role, settings) for role in registry.ROLES}
        built = {role: entry.build(settings) for role, entry in entries.items()}
        return cls(settings, built["text"], built["image"], built["speech"], built["video"])

    def qc(self) -> Any:
        from dramafactory.agents.qc.agent import QCAgent

        with self._lock:
            if self._qc is None:
                self._qc = QCAgent(self.settings, image=self.image)
        return self._qc

    def resident(self, role: str) -> Any:
        """What the engine runs a role's work on (tools/engine's `resident` contract)."""
        residents: dict[str, Callable[[], Any]] = {"image": lambda: self.image, "qc": self.qc,
                                                   "speech": lambda: self.speech, "video": lambda: self.video}
        if role not in residents:
            raise KeyError(f"no resident backend for role {role!r}")
        return residents[role]()


def build_shared_engine(settings: Settings, shared: SharedBackends) -> Any:
    """ONE engine for all series (tools.engine.build_engine: in-process unless DRAMAFACTORY_RAY_ADDRESS is set);
    None where tools.engine is not installed, and the work then runs inline in each series' threads."""
    try:
        from dramafactory.tools.engine import build_engine
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("dramafactory.tools.engine"):
            return None
        raise
    return build_engine(settings, shared.resident)


@dataclass
class SeriesResult:
    slug: str
    source: str
    status: str  # finished, failed, budget (stopped by the budget cap), paused (waits for a person), stopped
    #              (interrupted; resumable), invalid (the concept failed its checks)
    reason: str = ""
    title: str = ""
    run_dir: str = ""
    resumed: bool = False  # the folder held a run already
    already_finished: bool = False  # ... a finished one: nothing was made this time
    episodes: int = 0  # episodes the series has now
    episodes_made: int = 0  # of them, made by this invocation
    minutes: float = 0.0  # finished minutes the series has now
    minutes_made: float = 0.0  # of them, made by this invocation
    wall_seconds: float = 0.0  # this invocation's time on the series
    cost_usd: float | None = None  # from summary.json, when the series finished
    retries: int = 0


def episodes_on_disk(run_dir: Path) -> int:
    return sum(1 for _ in run_dir.glob("episodes/*/episode.mp4")) if run_dir.is_dir() else 0


def _concept_conflict(run_dir: Path, concept: SeriesConcept) -> DramaError | None:
    """A folder that holds another concept's run is not continued as if it were this one."""
    path = run_dir / "concept.json"
    try:
        saved = SeriesConcept.model_validate_json(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (OSError, ValueError):
        return None  # unreadable: the checkpoint is the run's truth, resume it
    if saved is None or saved == concept:
        return None
    return DramaError(f"{run_dir} holds a run of another concept ({saved.logline[:60]!r}, {saved.episodes} "
                      f"episode(s) of {saved.seconds_per_episode} s)",
                      "give this concept another id or --out, or remove that folder")


def run_series(entry: ConceptEntry, out: Path, settings: Settings, shared: SharedBackends, engine: Any,
               progress: SeriesProgress, control: RunControl, seed: int) -> SeriesResult:
    """Produce (or resume) one series; never raises: every failure becomes the result's status and reason."""
    from dramafactory.graphs.budget import BudgetReached

    run_dir = out / entry.slug
    result = SeriesResult(entry.slug, entry.source, "failed", run_dir=str(run_dir))
    before = episodes_on_disk(run_dir)
    previous = _read_summary(run_dir)
    started = time.monotonic()
    progress.begin(before)
    try:
        from dramafactory.graphs.backends import build_context  # the series' budget cap comes with it
        from dramafactory.graphs.runner import has_run, produce

        result.resumed = has_run(run_dir)
        if control.drain_requested:  # stopped before its turn came: nothing was started
            raise GraphDrained(control.drain_reason)
        conflict = _concept_conflict(run_dir, entry.concept) if result.resumed else None
        if conflict is not None:
            raise conflict
        ctx = build_context(run_dir, settings, text=shared.text, image=shared.image, speech=shared.speech,
                            video=shared.video)
        ctx.engine = engine
        ctx._qc = shared.qc()  # one QC agent (its scorer models) for every series, as for the branches of one run
        # produce() chooses the coordination database (DRAMAFACTORY_DATABASE_URL's PostgreSQL when set, for Ray
        # workers on other hosts; else the folder's file) and keys the run by its id, so the series of this
        # process stay apart in the shared engine and the in-process table of runs (graphs/work.py)
        outcome = produce(ctx, concept=None if result.resumed else entry.concept, seed=seed,
                          resume=result.resumed, on_event=progress, control=control)
        if outcome.status == "finished":
            result.status = "finished"
            result.already_finished = previous is not None and result.resumed and episodes_on_disk(run_dir) == before
        elif outcome.status == "paused":
            result.status = "paused"
            result.reason = (f"waits for a person before {', '.join(outcome.next_nodes)} (fix: look at "
                             f"{run_dir}/review_queue.json, then dramafactory produce --resume --out {run_dir})")
        else:
            result.status, result.reason = "stopped", f"the run stopped at {outcome.next_nodes}"
    except GraphDrained:
        result.status = "stopped"
        result.reason = f"interrupted; finished work is saved (fix: run the factory again, or produce --resume --out {run_dir})"
    except Exception as exc:  # noqa: BLE001 - one series failing must not stop the others; its reason is kept
        # a busy folder (RunBusy), a bad backend (DramaError), a text server that kept failing: all say their fix
        result.reason = _reason(exc, run_dir)
        result.status = "budget" if isinstance(exc, BudgetReached) else "failed"
    result.wall_seconds = round(time.monotonic() - started, 3)
    summary = _read_summary(run_dir) if result.status == "finished" else None
    if summary is not None:
        seconds = list(summary.get("episode_seconds") or [])
        result.title = str(summary.get("title") or "")
        result.episodes = int(summary.get("episodes") or len(seconds))
        result.minutes = round(sum(seconds) / 60, 4)
        result.episodes_made = 0 if result.already_finished else max(0, result.episodes - before)
        result.minutes_made = 0.0 if result.already_finished else round(sum(seconds[before:]) / 60, 4)
        result.cost_usd = summary.get("cost_usd")
    else:
        result.episodes = episodes_on_disk(run_dir)
        result.episodes_made = max(0, result.episodes - before)
    snap = progress.snapshot()
    result.title = result.title or snap["title"]
    result.retries = snap["retries"]
    progress.finish(result.status, result.reason)
    return result


def _reason(exc: BaseException, run_dir: Path) -> str:
    if isinstance(exc, DramaError):
        return f"{exc.cause} (fix: {exc.fix})" if exc.fix else exc.cause
    fix = getattr(exc, "fix", None)  # a text server that kept failing names its own fix
    text = f"{type(exc).__name__}: {exc}"
    return (f"{text} (fix: {fix}, then run the factory again)" if fix
            else f"{text} (fix: see the cause, then run the factory again; finished work is saved in {run_dir})")


def _read_summary(run_dir: Path) -> dict | None:
    path = run_dir / "summary.json"
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (OSError, ValueError):
        return None


@dataclass
class FactoryRun:
    """A factory invocation in progress: the progress of every concept (good and bad), and the controls that stop
    the running series cleanly (Ctrl-C: the nodes in flight finish and are saved)."""

    entries: list[ConceptEntry]
    progress: dict[str, SeriesProgress] = field(default_factory=dict)
    controls: dict[str, RunControl] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for entry in self.entries:
            key = entry.slug if entry.ok else f"!{entry.source}"
            self.progress[key] = SeriesProgress(entry.slug or "-", entry.source,
                                                entry.concept.episodes if entry.concept else 0)
            if entry.ok:
                self.controls[entry.slug] = RunControl()
            else:
                self.progress[key].finish("invalid", entry.error or "")

    def stop(self, reason: str = "interrupted") -> None:
        for control in self.controls.values():
            control.request_drain(reason)


def run_factory(run: FactoryRun, out: Path, settings: Settings, shared: SharedBackends, *, seed: int = 0,
                engine: Any = None, parallel: int | None = None) -> dict:
    """Run every good concept of `run` (all admitted, up to MAX_ADMITTED threads at once), write DIR/factory.json
    and return it. `engine`: a prepared engine (else one is built from the settings and the shared backends)."""
    out.mkdir(parents=True, exist_ok=True)
    good = [e for e in run.entries if e.ok]
    own_engine = engine is None
    engine = build_shared_engine(settings, shared) if own_engine else engine
    started_at, started = time.time(), time.monotonic()
    results: dict[str, SeriesResult] = {}
    interrupted = False
    try:
        with ThreadPoolExecutor(max_workers=max(1, min(len(good), MAX_ADMITTED)),
                                thread_name_prefix="series") as pool:
            futures = {e.slug: pool.submit(run_series, e, out, settings, shared, engine, run.progress[e.slug],
                                           run.controls[e.slug], seed) for e in good}
            while len(results) < len(futures):
                try:
                    for slug, future in futures.items():
                        results[slug] = future.result()
                except KeyboardInterrupt:
                    # the first Ctrl-C drains every series (nodes in flight finish and are saved, then each
                    # stops, resumable); a second one while they drain stops waiting
                    if interrupted:
                        raise
                    interrupted = True
                    run.stop("interrupted")
    finally:
        if own_engine and engine is not None:
            engine.close()
    wall = time.monotonic() - started
    rows = []
    for entry in run.entries:
        if entry.ok:
            rows.append(asdict(results[entry.slug]))
        else:
            rows.append(asdict(SeriesResult(entry.slug, entry.source, "invalid", reason=entry.error or "")))
    report = factory_report(rows, wall, started_at, parallel=parallel, engine=getattr(engine, "name", None))
    report["interrupted"] = interrupted
    (out / FACTORY_FILE).write_text(json.dumps(report, indent=2), encoding="utf-8")
    return report


def factory_report(rows: list[dict], wall_seconds: float, started_at: float, *, parallel: int | None,
                   engine: str | None) -> dict:
    """factory.json: every series' result and the throughput of this invocation (episodes and finished minutes
    made per wall-clock hour; series that were already finished add nothing)."""
    episodes = sum(r["episodes_made"] for r in rows)
    minutes = sum(r["minutes_made"] for r in rows)
    hours = wall_seconds / 3600
    costs = [r["cost_usd"] for r in rows if r["cost_usd"] is not None]
    counts = {status: sum(1 for r in rows if r["status"] == status) for status in FINAL}
    return {
        "started_at": round(started_at, 3),
        "wall_seconds": round(wall_seconds, 3),
        "parallel": parallel,
        "engine": engine,
        "series": rows,
        "totals": {"concepts": len(rows), **counts, "episodes_made": episodes, "minutes_made": round(minutes, 4),
                   "cost_usd": round(math.fsum(costs), 9) if costs else None,
                   "episodes_per_hour": round(episodes / hours, 3) if hours else 0.0,
                   "finished_minutes_per_hour": round(minutes / hours, 3) if hours else 0.0},
    }
