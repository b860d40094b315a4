"""The work the graph hands to its engine (tools/engine): render one take, score one take, speak one line, animate
one clip. These functions run where the engine puts them (the graph's own thread, or a Ray worker on another host),
so everything they are given travels as JSON in the payload, and everything they need beyond it comes from the
role's resident object (the image backend, the QC agent) or from the coordination database named in the payload.

Exactly once: a take is content-addressed (take_id: the hash of everything that changes the picture), claimed in
the shot ledger (the claim's attempt number is the fencing token), rendered to a file of its own attempt, and
committed only while that attempt is still the current one; a stale or retried attempt's commit is refused and its
file deleted, so a committed take is never overwritten, and a committed take whose file is intact is reused.
"""

from __future__ import annotations

import errno
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from dramafactory.config import Settings
from dramafactory.errors import DramaError
from dramafactory.schemas import Character, Location, QCReport, Shot, Voice
from dramafactory.tools.accounting import Measured, measure
from dramafactory.tools.image.base import FigureBox, ImageRequest, ImageResult
from dramafactory.tools.speech.base import SpeechRequest, SpeechResult
from dramafactory.tools.video.base import ClipRequest, ClipResult

BUILDER = "dramafactory.graphs.work:build_role"  # the Ray engine builds each worker's residents with this
RENDER = "dramafactory.graphs.work:render_take"
SCORE = "dramafactory.graphs.work:score_take"
SPEAK = "dramafactory.graphs.work:speak_line"
ANIMATE = "dramafactory.graphs.work:animate_clip"


def build_role(role: str, settings: Settings) -> Any:
    """A role's resident object, built once per Ray worker or actor from the settings (the registry chooses the
    backend, as it does for the orchestrator)."""
    from dramafactory.tools import registry

    if role == "qc":
        from dramafactory.agents.qc.agent import QCAgent

        # QC asks the image backend for its people-scorer: the same backend the renderer uses
        return QCAgent(settings, image=registry.build("image", settings))
    if role in ("image", "speech", "video"):
        return registry.build(role, settings)
    raise ValueError(f"no resident for role {role!r}")


# --- the runs of this process: an engine shared by many runs (the service) is given no resident of its own; work
# that runs here uses its run's own backends, shot ledger and memory (found by the payload's run id) ------------

@dataclass
class LocalRun:
    resident: Any  # role -> the run's backend (a callable)
    shots: Any = None  # the run's ShotLedger (its epoch included)
    memory: Any = None  # the run's CharacterMemory (QC reads face references from it)


_LOCAL: dict[str, LocalRun] = {}
_LOCAL_LOCK = threading.Lock()


@contextmanager
def local_run(run_id: str, run: LocalRun) -> Iterator[None]:
    with _LOCAL_LOCK:
        previous = _LOCAL.get(run_id)
        _LOCAL[run_id] = run
    try:
        yield
    finally:
        with _LOCAL_LOCK:  # nested (an inline call inside a registered run): the outer registration comes back
            if _LOCAL.get(run_id) is run:
                if previous is None:
                    del _LOCAL[run_id]
                else:
                    _LOCAL[run_id] = previous


def resident_for(given: Any, role: str, payload: dict) -> Any:
    """The backend a work function uses: the engine's resident (a Ray worker's own), else, for an engine shared by
    the runs of this process (the service's, given no residents), the run's own by the payload's run_id."""
    if given is not None:
        return given
    local = _LOCAL.get(payload.get("run_id", ""))
    if local is None:
        raise RuntimeError(f"no {role} backend for run {payload.get('run_id')!r} in this process")
    return local.resident(role)


# --- JSON forms of the request and the result (the payload may cross a process boundary) -------------------------

def request_to_json(request: ImageRequest, root: Path) -> dict:
    """Paths relative to the run folder where they lie in it, so a worker that mounts it elsewhere can resolve
    them against its own root."""
    def rel(path: Path) -> str:
        path = Path(path)
        return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)

    return {"shot": request.shot.model_dump(mode="json"),
            "cast": {n: c.model_dump(mode="json") for n, c in request.cast.items()},
            "location": request.location.model_dump(mode="json"), "seed": request.seed,
            "out_path": rel(request.out_path), "width": request.width, "height": request.height,
            "feedback": request.feedback, "references": {n: rel(p) for n, p in request.references.items()}}


def request_from_json(data: dict, root: Path) -> ImageRequest:
    return ImageRequest(shot=Shot.model_validate(data["shot"]),
                        cast={n: Character.model_validate(c) for n, c in data["cast"].items()},
                        location=Location.model_validate(data["location"]), seed=data["seed"],
                        out_path=root / data["out_path"], width=data["width"], height=data["height"],
                        feedback=data["feedback"], references={n: root / p for n, p in data["references"].items()})


def result_to_json(result: ImageResult) -> dict:
    data = asdict(result)
    data["path"] = str(result.path)
    data["figures"] = [{"name": f.name, "box": list(f.box), "face_box": list(f.face_box)} for f in result.figures]
    return data


def result_from_json(data: dict) -> ImageResult:
    figures = [FigureBox(f["name"], tuple(f["box"]), tuple(f["face_box"])) for f in data.get("figures", [])]
    known = set(ImageResult.__dataclass_fields__)
    return ImageResult(**{**{k: v for k, v in data.items() if k in known}, "path": Path(data["path"]),
                          "figures": figures})


def measured_from(figures: dict) -> Measured:
    """The Measured a work function's figures stand for (the ledger helpers take one)."""
    return Measured(figures.get("cpu_scope") or "thread", started_at=figures.get("started", time.time()),
                    wall_seconds=figures.get("wall_seconds", 0.0), cpu_seconds=figures.get("cpu_seconds", 0.0))


def _figures(measured: Measured) -> dict:
    return {"wall_seconds": measured.wall_seconds, "cpu_seconds": measured.cpu_seconds,
            "cpu_scope": measured.scope, "started": measured.started_at}


def take_parts(request: ImageRequest, backend: Any) -> dict:
    """Everything that changes the picture, nothing that does not (not the run folder, not a time): the shot spec
    (prompt, seed, framing, who is in it), the backend and its model and version, the size, the feedback, the
    reference sheets' contents and the looks and location the request carries."""
    from dramafactory.tools.durable.shots import file_sha256

    references = {}
    for name, path in sorted(request.references.items()):
        references[name] = file_sha256(path) if Path(path).is_file() else "missing"
    return {"shot": request.shot.model_dump(mode="json"), "seed": request.seed,
            "backend": backend.name, "model": getattr(backend, "model", backend.name),
            "version": getattr(backend, "version", ""), "width": request.width, "height": request.height,
            "options": _options(backend), "feedback": request.feedback, "references": references,
            "cast": {n: c.model_dump(mode="json") for n, c in sorted(request.cast.items())},
            "location": request.location.model_dump(mode="json")}


def _options(backend: Any) -> dict | None:
    """The generation settings a backend renders with (a diffusers backend's steps, guidance, dtype, size): a
    resumed run with more steps must not reuse the takes of fewer. Batch size changes no picture: left out."""
    options = getattr(backend, "options", None)
    if options is None or not hasattr(options, "model_dump"):
        return None
    return options.model_dump(mode="json", exclude={"max_batch"})


# --- the shot ledger as seen by a worker ---------------------------------------------------------------------------

_DBS: dict[str, Any] = {}
_DBS_LOCK = threading.Lock()
POLL_S = 0.5  # how often a worker waiting on another's live claim looks again


def _ledger(payload: dict) -> Any:
    """The run's ShotLedger: the orchestrator's own in this process, else one opened on the payload's database
    (once per process: a Ray worker renders many takes)."""
    if not payload.get("db_url"):
        return None
    local = _LOCAL.get(payload["run_id"])
    if local is not None and local.shots is not None and getattr(local.shots, "epoch", None) == payload["epoch"]:
        return local.shots
    from dramafactory.tools.durable.db import CoordinationDB
    from dramafactory.tools.durable.shots import ShotLedger

    with _DBS_LOCK:
        db = _DBS.get(payload["db_url"])
        if db is None:
            db = _DBS[payload["db_url"]] = CoordinationDB(payload["db_url"])
            db.setup()
    return ShotLedger(db, payload["run_id"], epoch=payload["epoch"])


_HOST = socket.gethostname()  # once per process: a claim per take asked the system for it every time


def worker_name() -> str:
    return f"{_HOST}:{os.getpid()}:{threading.get_ident()}"


class _ClaimKeeper:
    """Renews the claims of the renders in flight in this process every ttl/4, so a long render keeps its claim and
    a dead worker's claim runs out (and is taken over) a ttl after its last renewal. One thread for all renders: a
    thread started and joined per take would cost more than the bookkeeping of an instant render."""

    def __init__(self) -> None:
        self._claims: dict[int, list] = {}  # token -> [ledger, shot, take, attempt, ttl_s, next renewal]
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._tokens = iter(range(1 << 62))

    @contextmanager
    def holding(self, ledger: Any, shot: str, take: int, attempt: int, ttl_s: float) -> Iterator[None]:
        with self._cond:
            token = next(self._tokens)
            self._claims[token] = [ledger, shot, take, attempt, ttl_s, time.monotonic() + ttl_s / 4]
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, daemon=True, name="claim-keeper")
                self._thread.start()
            self._cond.notify()
        try:
            yield
        finally:
            with self._cond:
                self._claims.pop(token, None)

    def _run(self) -> None:
        while True:
            with self._cond:
                now = time.monotonic()
                due = [(t, c) for t, c in self._claims.items() if c[5] <= now]
                for _, claim in due:
                    claim[5] = now + claim[4] / 4
                if not due:
                    wait = min((c[5] for c in self._claims.values()), default=now + 1.0) - now
                    self._cond.wait(timeout=max(0.01, wait))
                    continue
            for token, (ledger, shot, take, attempt, ttl_s, _) in due:  # outside the lock: database round trips
                try:
                    if not ledger.renew(shot, take, attempt, ttl_s):
                        with self._cond:  # taken over: the commit will be refused, nothing to keep alive
                            self._claims.pop(token, None)
                except Exception:  # noqa: BLE001 - a database hiccup: the next round tries again
                    continue


_KEEPER = _ClaimKeeper()


def _fresh_keeper() -> None:
    global _KEEPER
    _KEEPER = _ClaimKeeper()  # a forked child has none of the parent's threads, and maybe a lock held by one


os.register_at_fork(after_in_child=_fresh_keeper)


def render_take(image_backend: Any, payload: dict) -> dict:
    """Render one take exactly once (see the module's docstring). Payload: run_id, epoch, db_url (None: no shot
    ledger, render straight to the take's path as before the ledger), root (the run folder), shot_id, take (the
    QC take number), take_id, stem (the take's path without suffix, run-relative), request (request_to_json),
    ttl_s (the claim's lease). Returns {"status": "rendered" | "reused" | "discarded", "output", "sha256",
    "take_id", "attempt", "result" (result_to_json), and for a render its wall/CPU figures}."""
    from dramafactory.tools.durable.shots import file_sha256

    backend = resident_for(image_backend, "image", payload)
    root = Path(payload["root"])
    request = request_from_json(payload["request"], root)
    shot, take, take_id = payload["shot_id"], payload["take"], payload["take_id"]
    ledger = _ledger(payload)
    if ledger is None:
        output = f"{payload['stem']}.png"
        result, figures = _render(backend, replace(request, out_path=root / output))
        return {"status": "rendered", "output": output, "sha256": file_sha256(root / output), "take_id": take_id,
                "attempt": 0, "result": result_to_json(result), "version": getattr(backend, "version", ""),
                **figures}
    ttl = float(payload.get("ttl_s", 60.0))
    attempt, row = _claim_or_committed(ledger, shot, take, take_id, root, ttl)
    if row is not None:
        return {"status": "reused", "output": row["output"], "sha256": row["sha256"], "take_id": take_id,
                "attempt": row["attempt"], "result": row["result"]}
    output = f"{payload['stem']}.c{attempt}.png"  # attempt-specific: a stale attempt never writes over this one
    with _KEEPER.holding(ledger, shot, take, attempt, ttl):
        try:
            with _disk_full_is_clear(root):
                result, figures = _render(backend, replace(request, out_path=root / output))
                digest = file_sha256(root / output)
        except BaseException:
            _abandon(ledger, shot, take, attempt)
            (root / output).unlink(missing_ok=True)  # a half-written file is nobody's take
            raise
    answer = {"output": output, "sha256": digest, "take_id": take_id, "attempt": attempt,
              "result": result_to_json(result), "version": getattr(backend, "version", ""), **figures}
    if _commit(ledger, shot, take, attempt, root, output, digest, answer["result"], figures):
        return {"status": "rendered", **answer}
    return {"status": "discarded", **answer, "output": None}


def _commit(ledger: Any, shot: str, take: int, attempt: int, root: Path, output: str, digest: str, result: dict,
            figures: dict) -> bool:
    """Commit a take or clip for its claim; False (its file deleted) when refused: another attempt committed first,
    or the run's epoch moved on (this orchestrator lost the run). The figures go into the committed row too: a
    resumed run that finds it committed but no call row for it (the orchestrator was killed between the commit and
    its row) records the machine time from there. A database too full to take the commit is DiskFull, the claim
    given back and the file deleted: the work is not ours to keep."""
    try:
        with _disk_full_is_clear(root):
            done = ledger.commit(shot, take, attempt, output=output, sha256=digest,
                                 result={**result, "df_figures": figures})
    except DiskFull:
        _abandon(ledger, shot, take, attempt)
        (root / output).unlink(missing_ok=True)
        raise
    if not done:
        (root / output).unlink(missing_ok=True)
    return done


def _claim_or_committed(ledger: Any, shot: str, take: int, take_id: str, root: Path,
                        ttl: float) -> tuple[int, dict | None]:
    """(the new claim's attempt, None), or (0, the committed row) when the take is committed already with its file
    intact (marked reused). Claim first: a take made for the first time (the common case) costs one statement; only
    a refused claim asks whether it is committed (a resumed run's reuse) or held by a live claim, which is waited
    for until it commits or runs out."""
    while True:
        attempt = ledger.claim(shot, take, take_id, worker=worker_name(), ttl_s=ttl)
        if attempt is not None:
            return attempt, None
        row = ledger.committed(shot, take, take_id, root)
        if row is not None:
            _check_epoch(ledger)  # an orchestrator that lost its run takes nothing more from it
            ledger.mark_reused(shot, take)
            return 0, row
        _check_epoch(ledger)  # refused for a moved-on epoch: waiting would never end
        if ledger.claim_expired(shot, take):  # found damaged (reset to pending) or lapsed just now: claim again
            continue
        time.sleep(min(POLL_S, ttl / 4))  # another worker's live claim: wait for it to commit or run out


def claim_lapsed(ledger: Any, shot_id: str, take: int) -> bool:
    """For the engine's `stalled` (tools.durable.shots.ShotLedger.claim_lapsed)."""
    return ledger.claim_lapsed(shot_id, take)


def _check_epoch(ledger: Any) -> None:
    """LeaseLost when the run's lease has moved to another epoch than the one this work was dispatched under (its
    claims and commits are refused by the database already; this stops the work instead of waiting on them)."""
    if ledger.epoch is None:
        return
    from sqlalchemy import select

    from dramafactory.tools.durable import LeaseLost
    from dramafactory.tools.durable.db import run_leases

    with ledger.db.engine.connect() as conn:
        epoch = conn.execute(select(run_leases.c.epoch).where(run_leases.c.run_id == ledger.run_id)).scalar()
    if epoch != ledger.epoch:
        raise LeaseLost(f"run {ledger.run_id}: epoch {ledger.epoch} is no longer current (now {epoch})",
                        "this orchestrator must stop; the run continues under its new holder")


class DiskFull(DramaError):
    """The run folder's disk has no space for a take: the run stops with every committed take kept (the take that
    was being written is released and its partial file removed), resumable once there is space."""


def is_disk_full(exc: BaseException) -> bool:
    """ENOSPC or EDQUOT from a write, or SQLite's "database or disk is full" (through the driver or SQLAlchemy)."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    return "disk is full" in str(exc)


def disk_full(root: Path, exc: BaseException) -> DiskFull:
    return DiskFull(f"no space left on the disk of {root} while writing a take ({getattr(exc, 'strerror', None) or exc})",
                    "free space there (or point --out at a bigger disk), then run again with --resume: committed "
                    "takes are kept")


@contextmanager
def _disk_full_is_clear(root: Path) -> Iterator[None]:
    """A backend's ENOSPC (PIL, ffmpeg or torch writing the take) or the ledger's full database as a DiskFull that
    says where and what to do, instead of an OSError from deep inside an image library."""
    try:
        yield
    except DiskFull:
        raise
    except Exception as exc:
        if not is_disk_full(exc):
            raise
        raise disk_full(root, exc) from exc


def _render(backend: Any, request: ImageRequest) -> tuple[ImageResult, dict]:
    try:
        with measure("thread") as rendered:  # the storyboard draws in this thread; parallel shots do not blur it
            result = backend.render(request)
    except Exception as exc:
        exc.df_figures = _figures(rendered)  # the caller's error row: a failed call is machine time spent too
        raise
    return result, _figures(rendered)


def _abandon(ledger: Any, shot: str, take: int, attempt: int) -> None:
    """A render that raised gives its claim up at once (back to pending), so the graph's retry claims again without
    waiting out the lease, and the engine does not take the abandoned claim for a dead worker's."""
    try:
        ledger.release(shot, take, attempt)
    except Exception:  # noqa: BLE001 - the claim then runs out on its own
        pass


def score_take(qc_agent: Any, payload: dict) -> dict:
    """Score one take with the QC agent. Pure: it reads the take's file and writes nothing, so running it twice is
    harmless and it needs no ledger. Payload: run_id, root, path (run-relative), shot, location, cast, references
    (name -> Character or None), backend, series. Returns {"report": QCReport JSON, wall/CPU figures}."""
    from dramafactory.agents.qc.agent import TakeUnderReview

    agent = resident_for(qc_agent, "qc", payload)
    root = Path(payload["root"])
    local = _LOCAL.get(payload.get("run_id", ""))
    if local is not None and local.memory is not None:
        faces: Any = local.memory.references
    else:  # a worker elsewhere opens the run's memory only if a face is read
        def faces() -> Any:
            from dramafactory.memory.characters import CharacterMemory

            return CharacterMemory(root / "memory").references()
    review = TakeUnderReview(
        path=root / payload["path"], shot=Shot.model_validate(payload["shot"]),
        location=Location.model_validate(payload["location"]),
        cast={n: Character.model_validate(c) for n, c in payload["cast"].items()},
        references={n: None if c is None else Character.model_validate(c) for n, c in payload["references"].items()},
        backend=payload["backend"], series=payload["series"], faces=faces)
    with measure("thread") as scored:
        report: QCReport = agent.score(review)
    return {"report": report.model_dump(mode="json"), **_figures(scored)}


# --- speech and clips: one line spoken, one clip attempt animated. A voice line needs no shot ledger (it is cheap
# and its file is simply written again); a clip attempt goes through it as a take does (animate_clip). -------------

def _relative(path: Path, root: Path) -> str:
    """Run-relative where the path lies in the run folder (as request_to_json does), so a worker that mounts the
    folder elsewhere resolves it against its own root; else as given."""
    path = Path(path)
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def speech_request_to_json(request: SpeechRequest, root: Path) -> dict:
    return {"text": request.text, "voice": request.voice.model_dump(mode="json"),
            "out_path": _relative(request.out_path, root), "emotion": request.emotion}


def speech_request_from_json(data: dict, root: Path) -> SpeechRequest:
    return SpeechRequest(text=data["text"], voice=Voice.model_validate(data["voice"]), out_path=root / data["out_path"],
                         emotion=data["emotion"])


def speech_result_to_json(result: SpeechResult, root: Path) -> dict:
    return {**asdict(result), "path": _relative(result.path, root)}


def speech_result_from_json(data: dict, root: Path) -> SpeechResult:
    known = set(SpeechResult.__dataclass_fields__)
    return SpeechResult(**{**{k: v for k, v in data.items() if k in known}, "path": root / data["path"]})


def clip_request_to_json(request: ClipRequest, root: Path) -> dict:
    return {"shot": request.shot.model_dump(mode="json"), "keyframe": _relative(request.keyframe, root),
            "prompt": request.prompt, "seed": request.seed, "duration_s": request.duration_s,
            "out_path": _relative(request.out_path, root), "width": request.width, "height": request.height}


def clip_request_from_json(data: dict, root: Path) -> ClipRequest:
    return ClipRequest(shot=Shot.model_validate(data["shot"]), keyframe=root / data["keyframe"],
                       prompt=data["prompt"], seed=data["seed"], duration_s=data["duration_s"],
                       out_path=root / data["out_path"], width=data["width"], height=data["height"])


def clip_result_to_json(result: ClipResult, root: Path) -> dict:
    return {**asdict(result), "path": _relative(result.path, root), "notes": list(result.notes)}


def clip_result_from_json(data: dict, root: Path) -> ClipResult:
    known = set(ClipResult.__dataclass_fields__)
    return ClipResult(**{**{k: v for k, v in data.items() if k in known}, "path": root / data["path"],
                         "notes": list(data.get("notes", []))})


def speak_line(speech_backend: Any, payload: dict) -> dict:
    """Speak one dialogue line. Payload: run_id, root (the run folder), line (its id), request
    (speech_request_to_json). Returns {"result": speech_result_to_json, wall/CPU figures}; the orchestrator writes
    the ledger rows (graphs/nodes.py voices), so they read as they did before the engine."""
    backend = resident_for(speech_backend, "speech", payload)
    root = Path(payload["root"])
    request = speech_request_from_json(payload["request"], root)
    # Process scope: piper runs on onnxruntime's threads, espeak-ng in a child process. Right on a Ray worker too
    # (a pooled worker runs one task at a time); the orchestrator runs lines in parallel only there.
    with measure("process") as spoken:
        result = backend.synthesize(request)
    return {"result": speech_result_to_json(result, root), **_figures(spoken)}


def clip_parts(request: ClipRequest, backend: Any) -> dict:
    """Everything that changes a clip, nothing that does not (not the run folder, not its path): the keyframe's
    contents, the shot spec (its negative prompt is the pipeline's), the motion prompt, the seed, the length, the
    size, and the backend with its model, version and generation settings."""
    from dramafactory.tools.durable.shots import file_sha256

    keyframe = Path(request.keyframe)
    return {"keyframe": file_sha256(keyframe) if keyframe.is_file() else "missing",
            "shot": request.shot.model_dump(mode="json"), "prompt": request.prompt, "seed": request.seed,
            "duration_s": request.duration_s, "width": request.width, "height": request.height,
            "backend": backend.name, "model": getattr(backend, "model", backend.name),
            "version": getattr(backend, "version", ""), "options": _options(backend)}


def clip_ledger_key(shot_id: str, keyframe_attempt: int) -> str:
    """The shot ledger's shot_id for the clips of one keyframe take (its `take` is the clip attempt): a prefix no
    keyframe take's shot id has, so a clip never shares a row with a take."""
    return f"clip:{shot_id}/a{keyframe_attempt}"


def animate_clip(video_backend: Any, payload: dict) -> dict:
    """Animate one clip attempt exactly once, as render_take renders a take (see the module's docstring). Payload:
    run_id, root, request (clip_request_to_json), and for the shot ledger epoch, db_url (None or absent: no ledger,
    the clip is written straight to the request's out_path as before it), shot_id (clip_ledger_key), take (the clip
    attempt), take_id (of clip_parts), stem (the clip's path without suffix, run-relative), ttl_s. Returns
    {"status": "animated" | "reused" | "discarded", "output" (run-relative; None when discarded), "attempt" (the
    claim; 0 without a ledger), "take_id", "result": clip_result_to_json, "load_seconds" (the pipeline's load not yet
    reported: only the process that loaded it knows), and for an animation the caller's-thread wall/CPU figures (the
    ledger's fallback where the backend measured nothing)}. A failure carries those figures as `df_figures`, as a
    render's does: a failed clip is machine time spent too."""
    from dramafactory.tools.durable.shots import file_sha256

    backend = resident_for(video_backend, "video", payload)
    root = Path(payload["root"])
    request = clip_request_from_json(payload["request"], root)
    ledger = _ledger(payload)
    if ledger is None:
        done = _animate(backend, request, root)
        return {"status": "animated", "output": payload["request"]["out_path"], "attempt": 0,
                "take_id": payload.get("take_id"), **done}
    shot, take, take_id = payload["shot_id"], payload["take"], payload["take_id"]
    ttl = float(payload.get("ttl_s", 60.0))
    attempt, row = _claim_or_committed(ledger, shot, take, take_id, root, ttl)
    if row is not None:
        return {"status": "reused", "output": row["output"], "sha256": row["sha256"], "take_id": take_id,
                "attempt": row["attempt"], "result": row["result"], "load_seconds": 0.0}
    output = f"{payload['stem']}.c{attempt}.mp4"  # attempt-specific: a stale attempt never writes over this one
    with _KEEPER.holding(ledger, shot, take, attempt, ttl):
        try:
            with _disk_full_is_clear(root):
                done = _animate(backend, replace(request, out_path=root / output), root)
                digest = file_sha256(root / output)
        except BaseException:
            _abandon(ledger, shot, take, attempt)
            (root / output).unlink(missing_ok=True)  # a half-written clip is nobody's
            raise
    answer = {"output": output, "sha256": digest, "take_id": take_id, "attempt": attempt, **done}
    figures = {k: done[k] for k in ("wall_seconds", "cpu_seconds", "cpu_scope", "started")}
    if _commit(ledger, shot, take, attempt, root, output, digest, done["result"], figures):
        return {"status": "animated", **answer}
    return {"status": "discarded", **answer, "output": None}


def _animate(backend: Any, request: ClipRequest, root: Path) -> dict:
    try:
        with measure("thread") as spent:
            result = backend.animate(request)
    except Exception as exc:
        exc.df_figures = _figures(spent)
        raise
    load = getattr(backend, "take_load_seconds", lambda: 0.0)()
    return {"result": clip_result_to_json(result, root), "load_seconds": load, **_figures(spent)}
