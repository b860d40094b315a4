"""Each take committed exactly once: content-addressed takes in the shot ledger, reused on resume, rendered again
when the file on disk no longer matches its hash, and an orchestrator killed with kill -9 at random points and
resumed until it finishes, on SQLite (the run folder's coordination.sqlite) and on the real PostgreSQL.

Orchestrators run as real processes (multiprocessing's forkserver: a fresh interpreter that imported the project
once and forks each orchestrator from it, so a restart costs a fork, not a 3 s import)."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import re
import shutil
import signal
import sqlite3
import sys
import time
import traceback
import uuid
from pathlib import Path

import pytest

from dramafactory.config import Settings
from dramafactory.graphs.backends import build_context
from dramafactory.graphs.runner import RunBusy, TakenOver, produce
from dramafactory.schemas import RunSummary, SeriesConcept
from dramafactory.tools.durable import CoordinationDB, file_sha256

from .fakes import FakeImage, FakeSpeech, FakeText

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
CONCEPT = SeriesConcept(logline="A night-shift nurse discovers the billionaire patient she saved is her runaway "
                                "father.", genre="family", episodes=1, seconds_per_episode=20)
EXIT_PAUSED, EXIT_BUSY, EXIT_TAKEN_OVER = 3, 75, 76


def fast_settings(**extra) -> Settings:
    # one render in flight at a time, so a kill lands inside a known render; DRAMAFACTORY_* variables still apply
    return Settings(_env_file=None, width=180, height=320, fps=8, music=False, qc_people="off",
                    engine_max_in_flight={"image": 1}, **extra)


class LoggedFakeImage(FakeImage):
    """A fake renderer that takes `delay` seconds and logs each render's start and end (with its output file and
    the time) to a file shared by every process of the test, so renders can be counted across kills."""

    def __init__(self, log: Path | None = None, delay: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.log, self.delay = log, delay

    def _note(self, event: str, out: Path) -> None:
        if self.log is not None:
            with self.log.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps({"event": event, "out": out.name, "t": time.time(), "pid": os.getpid()})
                             + "\n")

    def render(self, request):  # noqa: ANN001, ANN201 - the ImageBackend protocol
        self._note("start", request.out_path)
        time.sleep(self.delay)
        result = super().render(request)
        self._note("end", request.out_path)
        return result


def make_context(run_dir: Path, image: FakeImage | None = None, settings: Settings | None = None):
    return build_context(run_dir, settings or fast_settings(), text=FakeText(), image=image or LoggedFakeImage(),
                         speech=FakeSpeech())


# --- the orchestrator process --------------------------------------------------------------------------------------

def orchestrate(run_dir: str, db_url: str | None, log: str, delay: float, output: str, env: dict,
                wait_busy: float) -> None:
    """One orchestrator process: resume the run in run_dir until it finishes. Exit 0 finished, 3 paused, 75 the
    run is held by another process (after trying again for `wait_busy` seconds, as an operator would once the dead
    holder's lease runs out), 76 taken over while running, 1 anything else."""
    out = open(output, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - the process's own stdout/stderr
    sys.stdout = sys.stderr = out
    os.environ.update(env)
    code = 1
    try:
        ctx = make_context(Path(run_dir), LoggedFakeImage(Path(log), delay), fast_settings())
        coordination = CoordinationDB(db_url) if db_url else None
        deadline = time.monotonic() + wait_busy
        while True:
            try:
                outcome = produce(ctx, concept=None, resume=True, coordination=coordination)
                break
            except RunBusy:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        out.write(f"outcome {outcome.status}\n")
        code = 0 if outcome.status == "finished" else EXIT_PAUSED
    except RunBusy as exc:
        out.write(f"busy: {exc}\n")
        code = EXIT_BUSY
    except TakenOver as exc:
        out.write(f"taken over: {exc}\n")
        code = EXIT_TAKEN_OVER
    except BaseException:  # noqa: BLE001 - the test reads the trace from the output file
        traceback.print_exc()
    finally:
        out.flush()
    os._exit(code)  # no atexit or pool teardown: the exit code is the whole answer


_FORKSERVER = None


def process_context():
    global _FORKSERVER
    if _FORKSERVER is None:
        _FORKSERVER = multiprocessing.get_context("forkserver")
        _FORKSERVER.set_forkserver_preload(["dramafactory.graphs.runner", "dramafactory.graphs.backends",
                                            "dramafactory.memory.characters", "chromadb", "tests.fakes",
                                            "tests.test_exactly_once"])
    return _FORKSERVER


class Orchestrators:
    """The orchestrator processes a test starts, each cleaned up by its pid when the test ends."""

    def __init__(self, root: Path, db_url: str | None, *, delay: float, env: dict | None = None,
                 wait_busy: float = 0.0):
        self.root, self.db_url, self.delay, self.env, self.wait_busy = root, db_url, delay, env or {}, wait_busy
        self.log = root / "renders.log"
        self.started: list = []

    def start(self, run_dir: Path):  # noqa: ANN201 - a multiprocessing Process
        output = self.root / f"orchestrator-{len(self.started)}.out"
        proc = process_context().Process(target=orchestrate, args=(str(run_dir), self.db_url, str(self.log),
                                                                    self.delay, str(output), self.env,
                                                                    self.wait_busy))
        proc.start()
        proc.output = output
        self.started.append(proc)
        return proc

    def renders(self, event: str = "start") -> list[dict]:
        if not self.log.is_file():
            return []
        rows = []
        for line in self.log.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:  # a line being written right now
                continue
            if row["event"] == event:
                rows.append(row)
        return rows

    def cleanup(self) -> None:
        for proc in self.started:
            if proc.exitcode is None:
                os.kill(proc.pid, signal.SIGCONT)  # a stopped process must be able to die
                os.kill(proc.pid, signal.SIGKILL)
            proc.join(timeout=10)


def wait_until(check, timeout: float, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def output_of(proc) -> str:  # noqa: ANN001
    return Path(proc.output).read_text() if Path(proc.output).is_file() else ""


# --- fixtures --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def prepared(tmp_path_factory) -> Path:
    """A run whose bible a person approved (the checkpoint's review is in its state), stopped before its shots."""
    run_dir = tmp_path_factory.mktemp("prepared") / "run"
    outcome = produce(make_context(run_dir), concept=CONCEPT, seed=7, checkpoints={"bible": True})
    assert outcome.status == "paused" and outcome.next_nodes == ("review_bible",)
    outcome = produce(make_context(run_dir), concept=None, resume=True, decisions={"action": "approve"},
                      stop_after="cinematographer")
    assert outcome.status == "paused" and set(outcome.next_nodes) == {"shot"}
    return run_dir


def fresh_run(prepared: Path, where: Path) -> Path:
    run_dir = where / "run"
    shutil.copytree(prepared, run_dir)
    return run_dir


def postgres_url() -> tuple[str, str]:
    import psycopg

    schema = f"df_once_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(POSTGRES, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no PostgreSQL at {POSTGRES}: {exc}")
    return f"{POSTGRES}?options=-csearch_path%3D{schema}", schema


@pytest.fixture(params=["sqlite", "postgres"])
def coordination_url(request, tmp_path):
    """None: the run folder's own coordination.sqlite; else a fresh schema in the local PostgreSQL."""
    if request.param == "sqlite":
        yield None
        return
    import psycopg

    url, schema = postgres_url()
    yield url
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def coordination_of(run_dir: Path, url: str | None) -> CoordinationDB:
    return CoordinationDB(url) if url else CoordinationDB.for_run_dir(run_dir)


def shot_rows(db: CoordinationDB) -> list[dict]:
    from sqlalchemy import select

    from dramafactory.tools.durable.db import shots

    with db.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(shots)).mappings()]


def ledger_rows(run_dir: Path, stage: str = "render") -> list[dict]:
    rows = [json.loads(x) for x in (run_dir / "ledger.jsonl").read_text().splitlines() if x.strip()]
    return [r for r in rows if r["stage"] == stage]


def shot_count(run_dir: Path) -> int:
    return len(json.loads((run_dir / "episodes/01/shotlist.json").read_text())["shots"])


def final_takes(run_dir: Path) -> list[dict]:
    return [t for s in json.loads((run_dir / "episodes/01/shots.json").read_text())["shots"] for t in s["takes"]]


# --- in one process ----------------------------------------------------------------------------------------------

def test_every_take_is_committed_once_with_its_take_id(prepared, tmp_path):
    run_dir = fresh_run(prepared, tmp_path)
    image = LoggedFakeImage(fail_first={"e01s02": 1})  # one retake: a second take of the same shot
    outcome = produce(make_context(run_dir, image), concept=None, resume=True)
    assert outcome.status == "finished"
    calls = [r for r in ledger_rows(run_dir) if r["kind"] == "call"]
    assert len(calls) == len(image.rendered) == shot_count(run_dir) + 1
    assert outcome.summary.takes_rendered == len(image.rendered) and outcome.summary.takes_reused == 0
    assert all(r["take_id"] for r in calls) and len({r["take_id"] for r in calls}) == len(calls)
    rows = shot_rows(CoordinationDB.for_run_dir(run_dir))
    assert {(r["shot_id"], r["take"]) for r in rows} == {(t["shot_id"], t["attempt"]) for t in final_takes(run_dir)}
    assert all(r["state"] == "done" and r["attempt"] == 1 for r in rows)
    assert {r["take_id"] for r in rows} == {r["take_id"] for r in calls}
    for take in final_takes(run_dir):  # the take is the committed file, intact
        row = next(r for r in rows if (r["shot_id"], r["take"]) == (take["shot_id"], take["attempt"]))
        assert take["asset"] == row["output"] and file_sha256(run_dir / take["asset"]) == row["sha256"]


def _finish_then_lose_the_checkpoints(prepared: Path, where: Path) -> tuple[Path, list[dict]]:
    """Render every take, then put back the checkpoints of before the shots: what a process killed after its
    commits and before its checkpoint writes leaves behind (the takes are in the ledger; the graph must run the
    render nodes again)."""
    run_dir = fresh_run(prepared, where)
    before = (run_dir / "state.sqlite").read_bytes()
    first = LoggedFakeImage()
    assert produce(make_context(run_dir, first), concept=None, resume=True).status == "finished"
    (run_dir / "state.sqlite").write_bytes(before)
    (run_dir / "summary.json").unlink()
    return run_dir, [r for r in ledger_rows(run_dir) if r["kind"] == "call"]


def test_a_render_node_run_again_reuses_its_committed_take(prepared, tmp_path):
    run_dir, calls = _finish_then_lose_the_checkpoints(prepared, tmp_path)
    again = LoggedFakeImage()
    outcome = produce(make_context(run_dir, again), concept=None, resume=True)
    assert outcome.status == "finished"
    assert again.rendered == [], "a committed take must not be rendered again"
    reused = [r for r in ledger_rows(run_dir) if r["kind"] == "reuse"]
    assert sorted(r["take_id"] for r in reused) == sorted(r["take_id"] for r in calls)
    assert all(r["seconds"] == 0 for r in reused)
    assert outcome.summary.takes_reused == len(calls) and outcome.summary.takes_rendered == len(calls)
    assert {t["asset"] for t in final_takes(run_dir)} == {r["output"] for r in shot_rows(
        CoordinationDB.for_run_dir(run_dir))}


def test_a_take_committed_by_a_process_killed_before_its_row_is_billed_once_on_resume(prepared, tmp_path):
    """kill -9 between a take's commit and its ledger row: the resumed run finds the take committed and reuses it,
    and records the render's machine time from the figures committed with it, once."""
    run_dir, calls = _finish_then_lose_the_checkpoints(prepared, tmp_path)
    lost = {calls[0]["take_id"], calls[1]["take_id"]}
    ledger = run_dir / "ledger.jsonl"
    kept = [line for line in ledger.read_text().splitlines() if json.loads(line).get("take_id") not in lost]
    ledger.write_text("\n".join(kept) + "\n")
    again = LoggedFakeImage()
    assert produce(make_context(run_dir, again), concept=None, resume=True).status == "finished"
    assert again.rendered == []
    recovered = [r for r in ledger_rows(run_dir) if r.get("recovered")]
    assert {r["take_id"] for r in recovered} == lost and len(recovered) == 2
    assert all(r["kind"] == "call" and r["seconds"] > 0 and r["cpu_seconds"] > 0 for r in recovered)
    now_calls = [r for r in ledger_rows(run_dir) if r["kind"] == "call"]
    assert sorted(r["take_id"] for r in now_calls) == sorted(r["take_id"] for r in calls)  # each billed once


def test_a_truncated_take_is_found_by_its_hash_and_rendered_again(prepared, tmp_path):
    run_dir, calls = _finish_then_lose_the_checkpoints(prepared, tmp_path)
    db = CoordinationDB.for_run_dir(run_dir)
    damaged = next(r for r in shot_rows(db) if r["shot_id"] == "e01s03")
    path = run_dir / damaged["output"]
    path.write_bytes(path.read_bytes()[:100])  # a crash or a full disk cut it short
    again = LoggedFakeImage()
    assert produce(make_context(run_dir, again), concept=None, resume=True).status == "finished"
    assert [shot for shot, _ in again.rendered] == ["e01s03"]  # that one only, the others reused
    row = next(r for r in shot_rows(db) if r["shot_id"] == "e01s03")
    assert row["corrupt"] == 1 and row["attempt"] == damaged["attempt"] + 1 and row["output"] != damaged["output"]
    take = next(t for t in final_takes(run_dir) if t["shot_id"] == "e01s03")
    assert take["asset"] == row["output"] and file_sha256(run_dir / take["asset"]) == row["sha256"]
    renders = [r for r in ledger_rows(run_dir) if r["shot"] == "e01s03" and r["kind"] == "call"]
    assert len(renders) == 2 and renders[0]["take_id"] == renders[1]["take_id"]  # the same content, rendered anew


# --- kill -9 at random points, resumed each time ---------------------------------------------------------------

KILLS = 5
DELAY = 0.3  # seconds per fake render: a kill chosen inside a render lands there


def approved_bible(run_dir: Path) -> list[dict]:
    from langgraph.checkpoint.sqlite import SqliteSaver

    from dramafactory.graphs.graph import build_series_graph

    conn = sqlite3.connect(run_dir / "state.sqlite", check_same_thread=False)
    try:
        state = build_series_graph().compile(checkpointer=SqliteSaver(conn)).get_state(
            {"configurable": {"thread_id": "series"}})
    finally:
        conn.close()
    return [r for r in state.values.get("reviews", []) if r["step"] == "bible" and r["action"] == "approve"]


def test_an_orchestrator_killed_at_random_points_commits_every_take_once(prepared, tmp_path, coordination_url):
    run_dir = fresh_run(prepared, tmp_path)
    assert approved_bible(run_dir)
    total = shot_count(run_dir)
    rng = random.Random(16)  # the kill points are random, and the same on every machine
    points = sorted(rng.sample(range(1, total), KILLS))  # kill inside the render that is the n-th to start
    env = {"DRAMAFACTORY_SHOT_LEASE_TTL_S": "1", "DRAMAFACTORY_LEASE_TTL_S": "2"}
    procs = Orchestrators(tmp_path, coordination_url, delay=DELAY, env=env, wait_busy=30)
    kills = []
    try:
        for point in points:
            target = max(point, len(procs.renders()) + 1)  # at least one new render per process
            proc = procs.start(run_dir)
            wait_until(lambda t=target, p=proc: len(procs.renders()) >= t or p.exitcode is not None, 60,
                       f"render {target} to start")
            assert proc.exitcode is None, f"finished before kill point {point}: {output_of(proc)}"
            # inside that render, in its commit-to-checkpoint window just after it, or in the next render
            time.sleep(rng.uniform(0, DELAY * 1.3))
            os.kill(proc.pid, signal.SIGKILL)
            proc.join(10)
            kills.append(len(procs.renders()))
        last = procs.start(run_dir)
        last.join(120)
        assert last.exitcode == 0, output_of(last)
    finally:
        procs.cleanup()
    assert len(kills) == KILLS

    summary = RunSummary.model_validate_json((run_dir / "summary.json").read_text())
    assert summary.shots == total
    assert approved_bible(run_dir), "the approved bible checkpoint was lost"
    rows = shot_rows(coordination_of(run_dir, coordination_url))
    takes = final_takes(run_dir)
    # every take of the final state committed, once, and it is the file that was committed
    assert sorted((r["shot_id"], r["take"]) for r in rows) == sorted((t["shot_id"], t["attempt"]) for t in takes)
    assert all(r["state"] == "done" for r in rows)
    for take in takes:
        row = next(r for r in rows if (r["shot_id"], r["take"]) == (take["shot_id"], take["attempt"]))
        assert take["asset"] == row["output"] and file_sha256(run_dir / row["output"]) == row["sha256"]
    # a render killed before its commit may run again; a committed take never does
    calls = [r for r in ledger_rows(run_dir) if r["kind"] == "call"]
    assert len({r["take_id"] for r in calls}) == len(calls), "a committed take was rendered (and billed) twice"
    assert {r["take_id"] for r in calls} <= {r["take_id"] for r in rows}
    for row in rows:
        started = [r for r in procs.renders() if re.match(rf"{row['shot_id']}_a{row['take']}\.c\d+\.png", r["out"])]
        assert not [r for r in started if r["t"] > row["committed_at"]], f"{row['shot_id']} rendered after commit"
    assert summary.takes_rendered == len(calls)
    assert summary.takes_rendered + summary.takes_reused >= len(rows)



class _DiskFillsUp(FakeImage):
    """A fake renderer whose disk fills up at the `full_at`-th render: it writes half a file, then fails with
    ENOSPC as PIL does (a test double)."""

    def __init__(self, full_at: int):
        super().__init__()
        self.full_at, self.calls = full_at, 0

    def render(self, request):  # noqa: ANN001, ANN201
        self.calls += 1
        if self.calls == self.full_at:
            request.out_path.parent.mkdir(parents=True, exist_ok=True)
            request.out_path.write_bytes(b"\x89PNG half")
            raise OSError(28, "No space left on device")
        return super().render(request)


def test_a_full_disk_stops_the_run_clearly_and_it_resumes_without_rendering_a_committed_take_again(tmp_path):
    from dramafactory.graphs.work import DiskFull

    run_dir = tmp_path / "run"
    full = _DiskFillsUp(full_at=3)
    with pytest.raises(DiskFull) as stopped:
        produce(make_context(run_dir, image=full), concept=CONCEPT, seed=3)
    assert "no space left" in stopped.value.cause and "--resume" in stopped.value.fix
    assert not [p for p in (run_dir / "episodes").rglob("*.png") if p.read_bytes().startswith(b"\x89PNG half")]
    before = {shot for shot, _ in full.rendered[:2]}  # the two takes committed before the disk filled
    healthy = FakeImage()
    outcome = produce(make_context(run_dir, image=healthy), concept=None, seed=3, resume=True)
    assert outcome.status == "finished"
    assert not before & {shot for shot, _ in healthy.rendered}  # committed takes reused, not rendered again
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["final_usable_rate"] == 1.0 and summary["takes_rendered"] == len(full.rendered) + len(
        healthy.rendered) - summary["takes_discarded"]


def test_a_full_database_while_committing_a_take_is_a_disk_full_too(tmp_path):
    import sqlite3

    from dramafactory.graphs.work import is_disk_full

    assert is_disk_full(OSError(28, "No space left on device"))
    assert is_disk_full(sqlite3.OperationalError("database or disk is full"))
    assert not is_disk_full(sqlite3.OperationalError("database is locked"))
    assert not is_disk_full(OSError(13, "Permission denied"))
