"""One orchestrator per run, across processes: a second orchestrator on a held run is refused; it takes the run
over once the first is killed and its lease has run out; an orchestrator stalled past its lease (SIGSTOP) and woken
after a third took over has its late writes refused (its commit and its next checkpoint) and stops without
touching the run. On SQLite (the run folder's coordination.sqlite) and on the real PostgreSQL. And the claim of
one render, the lease of a take: kept while the render runs, and worth nothing once the run changed hands."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select, text

from dramafactory.graphs.work import render_take, request_to_json, take_parts
from dramafactory.schemas import Location, Shot
from dramafactory.tools.durable import CoordinationDB, RunLease, ShotLedger, take_id
from dramafactory.tools.durable.db import run_leases
from dramafactory.tools.image.base import ImageRequest

from .fakes import FakeImage
from .test_exactly_once import (  # noqa: F401 - fixtures used by name
    EXIT_BUSY,
    EXIT_TAKEN_OVER,
    Orchestrators,
    coordination_of,
    coordination_url,
    final_takes,
    fresh_run,
    ledger_rows,
    output_of,
    prepared,
    shot_rows,
    wait_until,
)

ENV = {"DRAMAFACTORY_LEASE_TTL_S": "2", "DRAMAFACTORY_SHOT_LEASE_TTL_S": "1"}
DELAY = 0.4  # seconds per fake render: long enough that the first orchestrator is still rendering when killed


def lease_row(db) -> dict:  # noqa: ANN001 - a CoordinationDB
    with db.engine.connect() as conn:
        [row] = conn.execute(select(run_leases)).mappings().all()  # the folder's (or the schema's) one run
        return {**row, "now": db.now(conn)}


def checkpoint_counts(run_dir: Path) -> tuple[int, int, str]:
    conn = sqlite3.connect(run_dir / "state.sqlite")
    try:
        latest = conn.execute("SELECT max(checkpoint_id) FROM checkpoints WHERE checkpoint_ns = ''").fetchone()[0]
        return (conn.execute("SELECT count(*) FROM checkpoints").fetchone()[0],
                conn.execute("SELECT count(*) FROM writes").fetchone()[0], latest)
    finally:
        conn.close()


def holds_no_lock(run_dir: Path, db) -> bool:  # noqa: ANN001
    """True when no process sits inside a transaction on the run's databases: a process stopped inside one would
    block everyone (a database lock is no lease), so the test stops the orchestrator between transactions."""
    state = sqlite3.connect(run_dir / "state.sqlite", timeout=0.2)
    try:
        state.execute("BEGIN EXCLUSIVE")
        state.rollback()
    except sqlite3.OperationalError:
        return False
    finally:
        state.close()
    try:
        with db.engine.connect() as conn:
            if db.kind == "postgresql":
                conn.execute(text("SET LOCAL lock_timeout = '200ms'"))
                conn.execute(text("SELECT 1 FROM df_run_leases FOR UPDATE"))
                conn.execute(text("SELECT 1 FROM df_shots FOR UPDATE"))
            else:
                conn.execute(text("UPDATE df_run_leases SET run_id = run_id"))  # takes the write lock, or waits
            conn.rollback()
    except Exception:  # noqa: BLE001 - locked
        return False
    return True


def in_flight(procs: Orchestrators) -> str | None:
    """The render that started and has not ended (one image in flight at a time), if any."""
    started = procs.renders("start")
    ended = {r["out"] for r in procs.renders("end")}
    return started[-1]["out"] if started and started[-1]["out"] not in ended else None


def stop_inside_a_render(proc, procs: Orchestrators, run_dir: Path, db) -> str:  # noqa: ANN001
    """SIGSTOP the orchestrator while it renders and holds no database lock; returns the render it stalled in."""
    for _ in range(100):
        wait_until(lambda: in_flight(procs) is not None, 30, "a render in flight")
        os.kill(proc.pid, signal.SIGSTOP)
        time.sleep(0.05)  # the stop has landed
        stalled = in_flight(procs)
        if stalled is not None and holds_no_lock(run_dir, db):
            return stalled
        os.kill(proc.pid, signal.SIGCONT)
        time.sleep(0.02)
    raise AssertionError("the orchestrator never stopped inside a render and outside a transaction")


def test_two_orchestrators_on_one_run(prepared, tmp_path, coordination_url):  # noqa: F811
    run_dir = fresh_run(prepared, tmp_path)
    db = coordination_of(run_dir, coordination_url)
    procs = Orchestrators(tmp_path, coordination_url, delay=DELAY, env=ENV)
    waiting = Orchestrators(tmp_path / "w", coordination_url, delay=DELAY, env=ENV, wait_busy=30)
    waiting.log = procs.log  # one render log for all
    (tmp_path / "w").mkdir()
    try:
        first = procs.start(run_dir)
        wait_until(lambda: len(procs.renders()) >= 1, 60, "the first orchestrator to render")
        epoch_first = lease_row(db)["epoch"]

        # (1) a second orchestrator on the held run is refused, and says by whom and for how long
        second = procs.start(run_dir)
        second.join(60)
        assert second.exitcode == EXIT_BUSY, output_of(second)
        assert "is being produced by" in output_of(second) and "lease expires in" in output_of(second)
        assert first.exitcode is None and lease_row(db)["epoch"] == epoch_first  # refused without touching it

        # (2) the first killed mid-run: the next one takes the run over once the lease has run out
        os.kill(first.pid, signal.SIGKILL)
        first.join(10)
        killed_at = lease_row(db)
        takeover = waiting.start(run_dir)
        started = len(procs.renders())
        wait_until(lambda: len(procs.renders()) > started, 60, "the second orchestrator to render")
        row = lease_row(db)
        assert row["epoch"] == epoch_first + 1 and row["owner"] != killed_at["owner"]
        assert row["updated_at"] >= killed_at["lease_until"] - 0.05  # not before the dead holder's lease ran out

        # (3) the new holder stalls past its lease; a third takes over and finishes
        stalled_render = stop_inside_a_render(takeover, procs, run_dir, db)
        wait_until(lambda: (lambda r: r["lease_until"] < r["now"])(lease_row(db)), 30, "the stalled lease to expire")
        third = waiting.start(run_dir)
        third.join(120)
        assert third.exitcode == 0, output_of(third)
        assert lease_row(db)["epoch"] == epoch_first + 2
        before = (checkpoint_counts(run_dir), shot_rows(db), (run_dir / "summary.json").read_bytes(),
                  lease_row(db)["epoch"])

        # (4) the stalled one wakes up: its late commit and its next checkpoint are refused, and it stops
        os.kill(takeover.pid, signal.SIGCONT)
        takeover.join(60)
        assert takeover.exitcode == EXIT_TAKEN_OVER, output_of(takeover)
        assert "lost the run's lease" in output_of(takeover) and "taken over" in output_of(takeover)
        after = (checkpoint_counts(run_dir), shot_rows(db), (run_dir / "summary.json").read_bytes(),
                 lease_row(db)["epoch"])
        assert after == before, "the stalled orchestrator wrote to the run after it was taken over"
        assert not (run_dir / "episodes/01/takes" / stalled_render).exists()  # its late render was discarded
        shot, take = stalled_render.split("_a")[0], int(stalled_render.split("_a")[1].split(".")[0])
        assert [r for r in ledger_rows(run_dir) if r["kind"] == "discarded" and r["shot"] == shot
                and r["attempt"] == take], "the refused commit's machine time is not in the ledger"
    finally:
        procs.cleanup()
        waiting.cleanup()
    # the run is the third's, whole: every take of its final state committed once, with its file intact
    rows = shot_rows(db)
    assert sorted((r["shot_id"], r["take"]) for r in rows) == sorted((t["shot_id"], t["attempt"])
                                                                      for t in final_takes(run_dir))
    assert all(r["state"] == "done" and (run_dir / r["output"]).is_file() for r in rows)


# --- one render, as a worker runs it -------------------------------------------------------------------------------

class SlowFakeRender(FakeImage):
    """A fake renderer that calls `during()` once the render is under way, then takes `seconds` to finish."""

    def __init__(self, seconds: float, during=None):  # noqa: ANN001
        super().__init__()
        self.seconds, self.during = seconds, during

    def render(self, request):  # noqa: ANN001, ANN201
        if self.during is not None:
            self.during()
        time.sleep(self.seconds)
        return super().render(request)


def one_take(root: Path, db: CoordinationDB, lease, backend, ttl_s: float) -> dict:  # noqa: ANN001
    """The payload of one take's render, as the render node sends it."""
    shot = Shot(id="e01s01", episode=1, scene=1, index=0, framing="wide", duration_s=2.0, location="Ward",
                time_of_day="night", action="She waits.", prompt="a ward at night", seed=3)
    request = ImageRequest(shot=shot, cast={}, location=Location(name="Ward", kind="interior", description="ward"),
                           seed=3, out_path=root / "unused.png", width=180, height=320)
    return {"run_id": lease.run_id, "epoch": lease.epoch, "db_url": db.url, "root": str(root), "shot_id": shot.id,
            "take": 1, "take_id": take_id(take_parts(request, backend)), "stem": "takes/e01s01_a1",
            "request": request_to_json(request, root), "ttl_s": ttl_s}


def test_a_long_render_keeps_its_claim_and_commits(tmp_path):
    db = CoordinationDB.for_run_dir(tmp_path)
    lease = RunLease(db, "run", ttl_s=30, heartbeat_s=5)
    lease.acquire()
    other = ShotLedger(db, "run", epoch=lease.epoch)
    stolen = []
    backend = SlowFakeRender(1.0)
    payload = one_take(tmp_path, db, lease, backend, ttl_s=0.3)  # the claim runs out 3x during the render...

    def try_to_steal() -> None:
        for _ in range(15):
            stolen.append(other.claim("e01s01", 1, payload["take_id"], worker="thief", ttl_s=5))
            time.sleep(0.06)

    thief = threading.Thread(target=try_to_steal)
    backend.during = thief.start
    done = render_take(backend, payload)
    thief.join()
    assert stolen and stolen == [None] * len(stolen), "...unless renewed while it renders"
    assert done["status"] == "rendered" and (tmp_path / done["output"]).is_file()
    assert render_take(backend, payload)["status"] == "reused"


def test_a_commit_after_the_run_changed_hands_is_refused_and_its_file_deleted(tmp_path):
    db = CoordinationDB.for_run_dir(tmp_path)
    old = RunLease(db, "run", ttl_s=0.2, heartbeat_s=0.1)
    old.acquire()  # no heartbeat: its holder stalls
    new = RunLease(db, "run", ttl_s=30, heartbeat_s=5)

    def taken_over() -> None:
        time.sleep(0.3)
        new.acquire()  # the stalled holder's lease ran out: another orchestrator takes the run

    backend = SlowFakeRender(0.0, during=taken_over)
    done = render_take(backend, one_take(tmp_path, db, old, backend, ttl_s=30))
    assert done["status"] == "discarded" and new.epoch == old.epoch + 1
    assert not list((tmp_path / "takes").glob("*.png")), "the refused render's file must be deleted"
    assert [r["state"] for r in shot_rows(db)] == ["rendering"]  # not committed: the new holder renders it


def test_an_unreachable_coordination_database_stops_the_run_before_it_writes(tmp_path):
    from dramafactory.errors import DramaError
    from dramafactory.graphs.runner import produce

    from .test_exactly_once import CONCEPT, make_context

    run_dir = tmp_path / "run"
    nowhere = CoordinationDB("postgresql://postgres@127.0.0.1:9/nowhere?connect_timeout=2")
    with pytest.raises(DramaError) as failed:
        produce(make_context(run_dir), concept=CONCEPT, coordination=nowhere)
    assert "coordination database" in failed.value.cause and "reachable" in failed.value.fix
    assert not (run_dir / "concept.json").exists() and not (run_dir / "state.sqlite").exists()
