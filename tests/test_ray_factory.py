"""The factory on a real Ray cluster and the real PostgreSQL: each take committed exactly once whatever dies.

One cluster for the module (tests/ray_cluster.py: a head and two worker nodes started with `ray start` on this
machine, each worker node with a GPU slot, `--num-gpus=1`); the image role runs as Ray tasks that ask for that slot
(ROLES), so renders land on the worker nodes and a node's death or a stopped render has somewhere else to go. The
run lease and the shot ledger are in a fresh schema of the local PostgreSQL per test. Each orchestrator is a real
process (tests/test_exactly_once.py's forkserver) that connects to the cluster as a Ray driver, so killing it kills
a driver; its Ray workers build their image backend with tests/scale_support.py's builder (a sleeping fake that
logs each render's pid and node: how it reaches the workers is said there). Text and speech are fakes in the
orchestrator; render_take, the shot ledger, the leases and QC are the project's own code.

(a) a worker node killed mid-render: the take is rendered again on the other node and committed once;
(b) the orchestrator killed with SIGKILL at 5 random points and resumed each time: every take committed once, no
    committed take rendered again, the approved bible kept;
(c) a Ray worker stopped (SIGSTOP) past its claim's lease: the take is committed by another attempt, and when the
    stopped worker wakes its commit is refused and its file deleted;
(d) two orchestrators on one run: the second is refused; it takes over once the first is killed and its lease ran
    out; stopped past its own lease while its Ray worker renders, it is taken over by a third, and its worker's late
    commit and its own late checkpoint are refused.
The same lease tests on SQLite and without Ray are tests/test_lease_runs.py and tests/test_exactly_once.py.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import time
from pathlib import Path

import pytest

from dramafactory.schemas import RunSummary
from dramafactory.tools.durable import CoordinationDB, file_sha256

from .ray_cluster import RayCluster, RayNode, ray_cluster_fixture, session_of  # noqa: F401 - the cluster fixture
from .scale_support import PAUSE, RELEASE, read_log, write_config
from .test_exactly_once import (  # noqa: F401 - fixtures used by name
    EXIT_BUSY,
    EXIT_TAKEN_OVER,
    POSTGRES,
    Orchestrators,
    approved_bible,
    final_takes,
    fresh_run,
    ledger_rows,
    output_of,
    postgres_url,
    prepared,
    process_context,
    shot_count,
    shot_rows,
    wait_until,
)
from .test_lease_runs import checkpoint_counts, holds_no_lock, lease_row

# The image role as Ray tasks that need a worker node's GPU slot (num_cpus 0: QC's CPU tasks can run beside it).
# A task, not an actor: a task whose node dies is rerun by Ray on another node, and a resubmitted one goes to any
# free slot; the actor form of the same failures is tests/test_engine.py's.
ROLES = {"image": {"num_cpus": 0, "num_gpus": 1, "actor": False}}
LEASE_TTL_S = 2  # the run's lease: a killed orchestrator's run is taken over after this
SHOT_TTL_S = 2  # a render's claim: a stopped worker's take is submitted again after this
# Resubmissions of a stalled take (and Ray's reruns of a task whose worker died): the default. A stall is submitted
# again once, not once per SHOT_TTL_S while the new attempt waits for a slot (a new attempt took up to 12 s to claim
# here: a node declared dead after ~3 s, a cold worker process on the surviving node, its one GPU slot), so the
# default is enough; this once had to be 10 to survive that wait.
RESUBMITS = 3
DELAY = 0.3  # seconds per fake render: a kill chosen inside a render lands there
TAKE = re.compile(r"(?P<shot>.+)_a(?P<take>\d+)\.c(?P<attempt>\d+)\.png$")  # graphs/work.py's attempt-specific path


class RayOrchestrators(Orchestrators):
    """Orchestrator processes on the Ray cluster (tests/scale_support.py:orchestrate), each cleaned up by its pid.
    `data`: the fake backend's folder (its config and render log), shared by every orchestrator of a test."""

    def __init__(self, root: Path, db_url: str, cluster: RayCluster, data: Path, *, wait_busy: float = 0.0):
        env = {**cluster.env, "DRAMAFACTORY_RAY_ADDRESS": cluster.address,
               "DRAMAFACTORY_RAY_ROLES": json.dumps(ROLES), "DRAMAFACTORY_DATA_DIR": str(data),
               "DRAMAFACTORY_LEASE_TTL_S": str(LEASE_TTL_S), "DRAMAFACTORY_SHOT_LEASE_TTL_S": str(SHOT_TTL_S),
               "DRAMAFACTORY_RAY_TASK_RETRIES": str(RESUBMITS)}
        root.mkdir(parents=True, exist_ok=True)
        super().__init__(root, db_url, delay=DELAY, env=env, wait_busy=wait_busy)
        self.log = data / "renders.log"  # the fake's log: Orchestrators.renders() reads it

    def start(self, run_dir: Path):  # noqa: ANN201 - a multiprocessing Process
        from .scale_support import orchestrate

        output = self.root / f"orchestrator-{len(self.started)}.out"
        proc = process_context().Process(target=orchestrate, args=(str(run_dir), self.db_url, str(output),
                                                                    self.env, self.wait_busy))
        proc.start()
        proc.output = output
        self.started.append(proc)
        return proc


@pytest.fixture
def pg():
    """A fresh schema in the local PostgreSQL: the coordination database of the test's runs."""
    import psycopg

    url, schema = postgres_url()
    yield url
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def stopped(ray_cluster):
    """Ray worker pids a test stopped with SIGSTOP: continued at the end whatever happened, so that the cluster can
    end them (a stopped process does not act on SIGTERM). Only while the pid is still one of the cluster's
    processes: once Ray ended it, the number may belong to someone else."""
    pids: list[int] = []
    yield pids
    sessions = {n.session for n in ray_cluster.nodes}
    for pid in pids:
        if session_of(pid) in sessions:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass


def node_of(cluster: RayCluster, pid: int) -> RayNode | None:
    """The node a process belongs to: every process of a node keeps the session of its `ray start`."""
    sid = session_of(pid)
    return next((n for n in cluster.nodes if n.session == sid), None)


def held_render(data: Path) -> dict | None:
    rows = [r for r in read_log(data, "start") if r.get("held")]
    return rows[0] if rows else None


def row_of(db: CoordinationDB, shot: str, take: int) -> dict | None:
    return next((r for r in shot_rows(db) if (r["shot_id"], r["take"]) == (shot, take)), None)


def assert_committed_once(run_dir: Path, db: CoordinationDB) -> list[dict]:
    """Every take of the run's final state has one row in df_shots, done, and it is the file committed (intact)."""
    rows = shot_rows(db)
    takes = final_takes(run_dir)
    assert sorted((r["shot_id"], r["take"]) for r in rows) == sorted((t["shot_id"], t["attempt"]) for t in takes)
    assert all(r["state"] == "done" for r in rows), [r for r in rows if r["state"] != "done"]
    for take in takes:
        row = next(r for r in rows if (r["shot_id"], r["take"]) == (take["shot_id"], take["attempt"]))
        assert take["asset"] == row["output"] and file_sha256(run_dir / row["output"]) == row["sha256"]
    return rows


# --- (b) the orchestrator killed at random points -------------------------------------------------------------------

KILLS = 5


def test_b_orchestrator_killed_at_random_points_commits_each_take_once(ray_cluster, prepared, tmp_path, pg):  # noqa: F811
    run_dir = fresh_run(prepared, tmp_path)
    assert approved_bible(run_dir), "the prepared run has no approved bible to lose"
    total = shot_count(run_dir)
    data = tmp_path / "fake"
    write_config(data, delay=DELAY)
    rng = random.Random(1616)  # the kill points are random, and the same on every machine
    points = sorted(rng.sample(range(1, total), KILLS))  # kill inside the render that is the n-th to start
    procs = RayOrchestrators(tmp_path / "procs", pg, ray_cluster, data, wait_busy=60)
    kills = []
    try:
        for point in points:
            target = max(point, len(procs.renders()) + 1)  # at least one new render per process
            proc = procs.start(run_dir)
            wait_until(lambda t=target, p=proc: len(procs.renders()) >= t or p.exitcode is not None, 120,
                       f"render {target} to start")
            assert proc.exitcode is None, f"finished before kill point {point}: {output_of(proc)}"
            # inside that render, in its commit-to-checkpoint window just after it, or in the next render
            time.sleep(rng.uniform(0, DELAY * 1.3))
            os.kill(proc.pid, signal.SIGKILL)
            proc.join(10)
            kills.append(len(procs.renders()))
        last = procs.start(run_dir)
        last.join(180)
        assert last.exitcode == 0, output_of(last)
    finally:
        procs.cleanup()
    assert len(kills) == KILLS

    summary = RunSummary.model_validate_json((run_dir / "summary.json").read_text())
    assert summary.shots == total
    assert approved_bible(run_dir), "the approved bible checkpoint was lost"
    db = CoordinationDB(pg)
    try:
        rows = assert_committed_once(run_dir, db)
    finally:
        db.close()
    # a render killed before its commit may run again; a committed take never does
    calls = [r for r in ledger_rows(run_dir) if r["kind"] == "call"]
    per_take: dict[str, int] = {}
    for call in calls:
        per_take[call["take_id"]] = per_take.get(call["take_id"], 0) + 1
    assert {r["take_id"] for r in rows} <= set(per_take) | {r["take_id"] for r in ledger_rows(run_dir)
                                                           if r["kind"] == "reuse"}
    assert all(per_take.get(r["take_id"], 0) <= 1 for r in rows), "a committed take was rendered (and billed) twice"
    for row in rows:
        started = [r for r in procs.renders() if re.match(rf"{row['shot_id']}_a{row['take']}\.c\d+\.png", r["out"])]
        assert started, f"no render of {row['shot_id']} take {row['take']} was logged"
        assert not [r for r in started if r["t"] > row["committed_at"]], f"{row['shot_id']} rendered after commit"
        assert all(r["node"] != "local" and r["pid"] not in [p.pid for p in procs.started] for r in started)
    assert summary.takes_rendered == len(calls)


# --- (c) a stalled worker -------------------------------------------------------------------------------------------

def test_c_stalled_worker_replaced_and_its_late_commit_refused(ray_cluster, prepared, tmp_path, pg, stopped):  # noqa: F811
    run_dir = fresh_run(prepared, tmp_path)
    data = tmp_path / "fake"
    write_config(data, delay=DELAY, hold=True)  # the first render waits for RELEASE: the one this test stalls
    procs = RayOrchestrators(tmp_path / "procs", pg, ray_cluster, data)
    db = CoordinationDB(pg)
    try:
        proc = procs.start(run_dir)
        wait_until(lambda: held_render(data) is not None or proc.exitcode is not None, 120, "the held render")
        held = held_render(data)
        assert held is not None, output_of(proc)
        node = node_of(ray_cluster, held["pid"])
        assert node is not None and not node.head, "the render did not run on a GPU-slot node"
        os.kill(held["pid"], signal.SIGSTOP)  # the Ray worker stalls, its claim keeper with it
        stopped.append(held["pid"])
        (data / RELEASE).touch()  # nothing holds it any more but the stop
        shot, take, attempt = (lambda m: (m["shot"], int(m["take"]), int(m["attempt"])))(TAKE.match(held["out"]))
        stale = run_dir / "episodes" / f"{int(shot[1:3]):02d}" / "takes" / held["out"]

        # its claim runs out: the engine submits the take again, and another attempt commits it elsewhere
        wait_until(lambda: (lambda r: r is not None and r["state"] == "done")(row_of(db, shot, take)), 60,
                   f"{shot} take {take} to be committed by another attempt")
        committed = row_of(db, shot, take)
        assert committed["attempt"] > attempt and committed["output"] != f"{stale.relative_to(run_dir)}"
        [winner] = [r for r in read_log(data, "start") if r["out"] == Path(committed["output"]).name]
        assert winner["pid"] != held["pid"] and winner["node"] != held["node"]
        assert not stale.exists()  # the stopped attempt has not written yet

        # the stopped worker wakes (renders after this one wait, so the run and its Ray job stay up meanwhile):
        # it writes its file, its commit is refused, and it deletes the file; the committed row is untouched
        (data / PAUSE).touch()
        os.kill(held["pid"], signal.SIGCONT)
        wait_until(lambda: any(r["pid"] == held["pid"] and r["out"] == held["out"]
                               for r in read_log(data, "end")), 60, "the woken worker to finish its render")
        wait_until(lambda: not stale.exists(), 30, "the refused attempt's file to be deleted")
        keys = ("state", "attempt", "output", "sha256", "committed_at", "take_id")
        assert {k: row_of(db, shot, take)[k] for k in keys} == {k: committed[k] for k in keys}
        (data / PAUSE).unlink()
        proc.join(180)
        assert proc.exitcode == 0, output_of(proc)
    finally:
        procs.cleanup()
        db.close()
    db = CoordinationDB(pg)
    try:
        assert_committed_once(run_dir, db)
        assert not stale.exists() and (run_dir / committed["output"]).is_file()
    finally:
        db.close()


# --- (d) two orchestrators on one run -------------------------------------------------------------------------------

def _stop_outside_a_transaction(proc, run_dir: Path, db: CoordinationDB) -> None:  # noqa: ANN001
    """SIGSTOP the orchestrator while it holds no database lock (a process stopped inside a transaction would block
    every other one: a database lock is no lease)."""
    for _ in range(100):
        os.kill(proc.pid, signal.SIGSTOP)
        time.sleep(0.05)  # the stop has landed
        if holds_no_lock(run_dir, db):
            return
        os.kill(proc.pid, signal.SIGCONT)
        time.sleep(0.02)
    raise AssertionError("the orchestrator never stopped outside a transaction")


def test_d_two_orchestrators_on_one_run_on_ray(ray_cluster, prepared, tmp_path, pg):  # noqa: F811
    run_dir = fresh_run(prepared, tmp_path)
    data = tmp_path / "fake"
    write_config(data, delay=DELAY)
    procs = RayOrchestrators(tmp_path / "procs", pg, ray_cluster, data)
    waiting = RayOrchestrators(tmp_path / "waiting", pg, ray_cluster, data, wait_busy=60)
    db = CoordinationDB(pg)
    try:
        first = procs.start(run_dir)
        wait_until(lambda: len(procs.renders()) >= 1 or first.exitcode is not None, 120, "the first to render")
        assert first.exitcode is None, output_of(first)
        epoch_first = lease_row(db)["epoch"]

        # (1) a second orchestrator, connected to the cluster too, is refused and says by whom and for how long
        second = procs.start(run_dir)
        second.join(90)
        assert second.exitcode == EXIT_BUSY, output_of(second)
        assert "is being produced by" in output_of(second) and "lease expires in" in output_of(second)
        assert "engine ray" in output_of(second)
        assert first.exitcode is None and lease_row(db)["epoch"] == epoch_first  # refused without touching it

        # (2) the first killed mid-run: the next one takes the run over once the lease has run out
        os.kill(first.pid, signal.SIGKILL)
        first.join(10)
        killed_at = lease_row(db)
        takeover = waiting.start(run_dir)
        started = len(procs.renders())
        wait_until(lambda: len(procs.renders()) > started or takeover.exitcode is not None, 120,
                   "the taking-over orchestrator to render")
        assert takeover.exitcode is None, output_of(takeover)
        row = lease_row(db)
        assert row["epoch"] == epoch_first + 1 and row["owner"] != killed_at["owner"]
        assert row["updated_at"] >= killed_at["lease_until"] - 0.05  # not before the dead holder's lease ran out

        # (3) the new holder stalls past its lease while its Ray worker holds a render; a third takes over
        write_config(data, delay=DELAY, hold=True)
        wait_until(lambda: held_render(data) is not None or takeover.exitcode is not None, 60, "a held render")
        assert takeover.exitcode is None, output_of(takeover)
        held = held_render(data)
        shot, take = (lambda m: (m["shot"], int(m["take"])))(TAKE.match(held["out"]))
        stale = run_dir / "episodes" / f"{int(shot[1:3]):02d}" / "takes" / held["out"]
        _stop_outside_a_transaction(takeover, run_dir, db)
        wait_until(lambda: (lambda r: r["lease_until"] < r["now"])(lease_row(db)), 30, "the stalled lease to expire")
        third = waiting.start(run_dir)
        wait_until(lambda: lease_row(db)["epoch"] == epoch_first + 2 or third.exitcode is not None, 120,
                   "the third to take the run")
        # the stalled holder's worker goes on: its commit carries the old epoch, so the database refuses it
        (data / RELEASE).touch()
        wait_until(lambda: any(r["out"] == held["out"] for r in read_log(data, "end")), 60, "the held render to end")
        wait_until(lambda: not stale.exists(), 30, "the refused commit's file to be deleted")
        third.join(180)
        assert third.exitcode == 0, output_of(third)
        assert lease_row(db)["epoch"] == epoch_first + 2
        before = (checkpoint_counts(run_dir), shot_rows(db), (run_dir / "summary.json").read_bytes(),
                  lease_row(db)["epoch"])

        # (4) the stalled holder wakes up: its next checkpoint is refused and it stops without touching the run
        os.kill(takeover.pid, signal.SIGCONT)
        takeover.join(90)
        assert takeover.exitcode == EXIT_TAKEN_OVER, output_of(takeover)
        assert "taken over:" in output_of(takeover) and "without writing" in output_of(takeover)
        after = (checkpoint_counts(run_dir), shot_rows(db), (run_dir / "summary.json").read_bytes(),
                 lease_row(db)["epoch"])
        assert after == before, "the stalled orchestrator wrote to the run after it was taken over"
        committed = row_of(db, shot, take)
        assert committed["state"] == "done" and Path(committed["output"]).name != held["out"]
        assert not stale.exists()
        held_attempt = int(TAKE.match(held["out"])["attempt"])
        assert [r for r in ledger_rows(run_dir) if r["kind"] == "discarded" and r["shot"] == shot
                and r["claim"] == held_attempt], "the refused commit's machine time is not in the ledger"
    finally:
        procs.cleanup()
        waiting.cleanup()
        db.close()
    db = CoordinationDB(pg)
    try:
        assert_committed_once(run_dir, db)
    finally:
        db.close()


# --- (a) a worker node killed mid-render: last, it restarts the node it killed ---------------------------------------

def test_a_worker_node_killed_mid_render_take_committed_once_elsewhere(ray_cluster, prepared, tmp_path, pg):  # noqa: F811
    run_dir = fresh_run(prepared, tmp_path)
    data = tmp_path / "fake"
    write_config(data, delay=DELAY, hold=True)  # the first render waits: the kill lands inside it, on its node
    procs = RayOrchestrators(tmp_path / "procs", pg, ray_cluster, data)
    node = None
    try:
        proc = procs.start(run_dir)
        wait_until(lambda: held_render(data) is not None or proc.exitcode is not None, 120, "the held render")
        held = held_render(data)
        assert held is not None, output_of(proc)
        node = node_of(ray_cluster, held["pid"])
        assert node is not None and not node.head and node.alive
        killed = ray_cluster.kill(node)  # its raylet, agents and the rendering worker, by pid: the node dies
        assert held["pid"] in killed
        (data / RELEASE).touch()
        proc.join(180)
        assert proc.exitcode == 0, output_of(proc)
        assert not node.alive
    finally:
        procs.cleanup()
        if node is not None:
            ray_cluster.restart(node)  # the module's cluster whole again for whatever runs after
    shot, take, attempt = (lambda m: (m["shot"], int(m["take"]), int(m["attempt"])))(TAKE.match(held["out"]))
    db = CoordinationDB(pg)
    try:
        rows = assert_committed_once(run_dir, db)
    finally:
        db.close()
    [row] = [r for r in rows if (r["shot_id"], r["take"]) == (shot, take)]
    assert row["attempt"] > attempt, "the killed attempt cannot have committed"
    starts = [r for r in read_log(data, "start") if TAKE.match(r["out"])["shot"] == shot
              and int(TAKE.match(r["out"])["take"]) == take]
    [winner] = [r for r in starts if r["out"] == Path(row["output"]).name]
    assert winner["node"] != held["node"] and winner["pid"] != held["pid"]  # rendered again on the other node
    summary = RunSummary.model_validate_json((run_dir / "summary.json").read_text())
    assert summary.shots == shot_count(run_dir)
