"""tools/durable on SQLite (a file) and on the real PostgreSQL at 127.0.0.1:5432 (a fresh schema per test): run
leases with takeover and fencing, the shot ledger's conditional claims and commits, races between threads and
between processes, and FencedSaver under a real LangGraph graph."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import TypedDict

import pytest
from sqlalchemy import select, update

from dramafactory.tools.durable import (
    CoordinationDB,
    FencedSaver,
    LeaseLost,
    RunBusy,
    RunLease,
    ShotLedger,
    file_sha256,
    take_id,
)
from dramafactory.tools.durable.db import run_leases, shots

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def _postgres_or_skip():
    import psycopg

    try:
        return psycopg.connect(POSTGRES, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            raise  # CI has PostgreSQL: its absence is a failure there
        pytest.skip(f"no PostgreSQL at {POSTGRES}: {exc}")


@pytest.fixture(params=["sqlite", "postgres"])
def url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'coordination.sqlite'}"
        return
    schema = f"df_durable_{uuid.uuid4().hex[:12]}"
    with _postgres_or_skip() as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield f"{POSTGRES}?options=-csearch_path%3D{schema}"
    with _postgres_or_skip() as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def db(url):
    coordination = CoordinationDB(url)
    coordination.setup()
    yield coordination
    coordination.close()


def eventually(predicate, timeout: float = 30.0):
    """Poll until predicate() is truthy (a lease or claim running out); fail after a generous timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{predicate} never became true")


def expire_soon(lease: RunLease) -> None:
    """Make a holder's lease run out shortly: no more heartbeat, and its last renewal with a tiny ttl (a holder
    that stalled or died right after renewing)."""
    lease.stop_heartbeat()
    lease.ttl_s, lease.heartbeat_s = 0.2, 0.1
    assert lease.renew()


def take_over(db: CoordinationDB, run_id: str, owner: str) -> RunLease:
    new = RunLease(db, run_id, owner=owner, ttl_s=30, heartbeat_s=1)

    def attempt() -> bool:
        try:
            new.acquire()
        except RunBusy:
            return False
        return True

    eventually(attempt)
    return new


# --- run leases -------------------------------------------------------------------------------------------------
def test_a_second_orchestrator_is_refused_then_takes_over_an_expired_lease(db):
    first = RunLease(db, "run-a", owner="first-host:1", ttl_s=30, heartbeat_s=1)
    epoch = first.acquire()
    first.check()
    with pytest.raises(RunBusy) as busy:
        RunLease(db, "run-a", owner="second-host:2", ttl_s=30, heartbeat_s=1).acquire()
    assert "first-host:1" in busy.value.cause and "expires in" in busy.value.cause
    assert "taken over automatically" in busy.value.fix and "30 s" in busy.value.fix

    expire_soon(first)
    second = take_over(db, "run-a", "second-host:2")
    assert second.epoch == epoch + 1
    assert not first.renew()  # the old holder's late heartbeat is refused
    with pytest.raises(LeaseLost, match="second-host:2"):
        first.check()
    second.check()

    second.release()  # a released lease is free at once, no waiting for its ttl
    third = RunLease(db, "run-a", owner="third", ttl_s=30, heartbeat_s=1)
    assert third.acquire() == epoch + 2
    first.release()  # an old holder's release leaves the new lease alone
    third.check()
    third.release()


def test_the_heartbeat_reports_a_lost_lease_once_and_stops(db):
    lease = RunLease(db, "run-b", owner="holder", ttl_s=10, heartbeat_s=0.05)
    epoch = lease.acquire()
    reasons: list[str] = []
    lost = threading.Event()
    lease.start_heartbeat(on_lost=lambda reason: (reasons.append(reason), lost.set()))
    # another owner takes the run over behind the holder's back (the holder was partitioned from the database)
    with db.engine.begin() as conn:
        conn.execute(update(run_leases).where(run_leases.c.run_id == "run-b")
                     .values(epoch=epoch + 1, owner="intruder"))
    assert lost.wait(30)
    thread = lease._thread
    assert thread is not None
    thread.join(30)
    assert not thread.is_alive() and len(reasons) == 1 and "taken over" in reasons[0]
    with pytest.raises(LeaseLost):
        lease.check()
    lease.release()


def test_a_recent_confirmation_spares_the_per_task_lease_read_but_never_hides_a_loss(db, monkeypatch):
    lease = RunLease(db, "run-r", owner="holder", ttl_s=30, heartbeat_s=2)
    epoch = lease.acquire()
    reads = []
    real_check = RunLease.check
    monkeypatch.setattr(RunLease, "check", lambda self: (reads.append(1), real_check(self))[1])
    lease.check_recent()  # nothing confirmed since acquire: asks the database
    assert len(reads) == 1
    for _ in range(50):
        lease.check_recent()  # confirmed just now: no read
    assert len(reads) == 1
    assert lease.renew()  # a renewal is a confirmation too
    monkeypatch.setattr("dramafactory.tools.durable.lease.time.monotonic", lambda: 10**9)  # the window passed
    lease.check_recent()
    assert len(reads) == 2
    # a loss the heartbeat recorded is raised at once, however recent the last confirmation
    lease._confirmed_at = 10**9
    lease._lost = f"run run-r: the lease of epoch {epoch} was taken over by another owner"
    with pytest.raises(LeaseLost, match="taken over"):
        lease.check_recent()
    lease._lost = None
    # taken over behind the holder's back (as the heartbeat test does): check_recent finds it once the window
    # ends, while check() finds it at once
    with db.begin() as conn:
        conn.execute(update(run_leases).where(run_leases.c.run_id == "run-r").values(epoch=epoch + 1, owner="intruder"))
    with pytest.raises(LeaseLost, match="intruder"):
        lease.check()
    lease._confirmed_at = None
    with pytest.raises(LeaseLost, match="intruder"):
        lease.check_recent()


def test_the_context_manager_holds_and_frees_the_lease(db):
    with RunLease(db, "run-c", owner="holder", ttl_s=30, heartbeat_s=0.05) as lease:
        lease.check()
        with pytest.raises(RunBusy):
            RunLease(db, "run-c", ttl_s=30, heartbeat_s=1).acquire()
    with pytest.raises(LeaseLost):
        lease.check()
    after = RunLease(db, "run-c", ttl_s=30, heartbeat_s=1)
    assert after.acquire() == lease.epoch + 1
    after.release()


def test_two_threads_racing_for_a_run_exactly_one_wins(db):
    for round_ in range(5):
        run_id = f"race-{round_}"
        barrier = threading.Barrier(2)
        outcome: dict[str, object] = {}

        def contend(name: str, run_id: str = run_id, barrier: threading.Barrier = barrier,
                    outcome: dict = outcome) -> None:
            lease = RunLease(db, run_id, owner=name, ttl_s=30, heartbeat_s=1)
            barrier.wait()
            try:
                outcome[name] = lease.acquire()
            except RunBusy as exc:
                outcome[name] = exc

        threads = [threading.Thread(target=contend, args=(n,)) for n in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        epochs = [v for v in outcome.values() if isinstance(v, int)]
        assert epochs == [1] and sum(isinstance(v, RunBusy) for v in outcome.values()) == 1, outcome


# --- the shot ledger --------------------------------------------------------------------------------------------
def test_claims_increment_the_attempt_and_only_the_current_attempt_commits(db):
    ledger = ShotLedger(db, "run-d")
    tid = take_id({"prompt": "a door", "seed": 7, "backend": "fake", "model": "m"})
    assert tid == take_id({"model": "m", "backend": "fake", "seed": 7, "prompt": "a door"})  # key order irrelevant
    first = ledger.claim("s1", 1, tid, worker="w1", ttl_s=30)
    assert first == 1
    assert ledger.claim("s1", 1, tid, worker="w2", ttl_s=30) is None  # w1's claim is live
    assert not ledger.claim_expired("s1", 1)
    assert ledger.renew("s1", 1, first, ttl_s=0.2)  # w1's last renewal before it stalled
    eventually(lambda: ledger.claim_expired("s1", 1))
    second = ledger.claim("s1", 1, tid, worker="w2", ttl_s=30)
    assert second == 2 and ledger.claim("s1", 1, tid, worker="w3", ttl_s=30) is None  # w2's claim is live
    assert ledger.renew("s1", 1, second, ttl_s=30) and not ledger.renew("s1", 1, first, ttl_s=30)

    result = {"path": "s1.a2.png", "width": 8}
    assert not ledger.commit("s1", 1, first, output="s1.a1.png", sha256="x" * 64, result={})  # stale: refused
    assert ledger.commit("s1", 1, second, output="s1.a2.png", sha256="y" * 64, result=result)
    assert not ledger.commit("s1", 1, second, output="s1.a2.png", sha256="y" * 64, result=result)  # once only
    assert ledger.claim("s1", 1, tid, worker="w4", ttl_s=30) is None  # done: never rendered again
    assert not ledger.claim_expired("s1", 1)
    ledger.mark_reused("s1", 1)
    assert ledger.stats() == {"committed": 1, "rendering": 0, "claims": 2, "reused": 1, "corrupt": 0}
    with db.engine.connect() as conn:
        row = conn.execute(select(shots).where(shots.c.shot_id == "s1")).mappings().one()
    assert row["result"] == result and row["output"] == "s1.a2.png" and row["state"] == "done"


def test_claims_expire_so_a_dead_workers_take_is_claimed_again(db):
    ledger = ShotLedger(db, "run-e")
    tid = take_id({"prompt": "p"})
    assert ledger.claim("s1", 1, tid, worker="dead", ttl_s=0.2) == 1
    assert eventually(lambda: ledger.claim("s1", 1, tid, worker="alive", ttl_s=30)) == 2
    assert ledger.stats()["rendering"] == 1


def _commit_file(ledger: ShotLedger, root: Path, shot: str, take: int, tid: str, data: bytes) -> Path:
    attempt = ledger.claim(shot, take, tid, worker="w", ttl_s=30)
    path = root / f"{shot}.t{take}.a{attempt}.png"
    path.write_bytes(data)
    assert ledger.commit(shot, take, attempt, output=path.name, sha256=file_sha256(path), result={"ok": 1})
    return path


def test_a_corrupt_or_missing_committed_file_is_rendered_again(db, tmp_path):
    ledger = ShotLedger(db, "run-f")
    tid = take_id({"prompt": "p"})
    path = _commit_file(ledger, tmp_path, "s1", 1, tid, b"\x89PNG" + os.urandom(3 << 20))  # > one 1 MiB block
    found = ledger.committed("s1", 1, tid, tmp_path)
    assert found is not None and found["output"] == path.name and found["result"] == {"ok": 1}
    assert ledger.committed("s1", 1, take_id({"prompt": "other"}), tmp_path) is None  # other content: not reused
    assert ledger.stats()["committed"] == 1  # ... and the committed row is left as it was

    path.write_bytes(path.read_bytes()[:1000])  # truncated, as by a full disk
    assert ledger.committed("s1", 1, tid, tmp_path) is None
    assert ledger.stats() == {"committed": 0, "rendering": 0, "claims": 1, "reused": 0, "corrupt": 1}
    with db.engine.connect() as conn:
        assert conn.execute(select(shots.c.state).where(shots.c.shot_id == "s1")).scalar_one() == "pending"
    again = _commit_file(ledger, tmp_path, "s1", 1, tid, b"good")
    assert ledger.committed("s1", 1, tid, tmp_path)["attempt"] == 2

    again.unlink()
    assert ledger.committed("s1", 1, tid, tmp_path) is None
    assert ledger.stats()["corrupt"] == 2


def test_a_done_take_for_other_content_is_claimed_again(db, tmp_path):
    ledger = ShotLedger(db, "run-g")
    old, new = take_id({"backend": "storyboard"}), take_id({"backend": "diffusers"})
    _commit_file(ledger, tmp_path, "s1", 1, old, b"old")
    assert ledger.claim("s1", 1, new, worker="w", ttl_s=30) == 2  # resumed with another backend: render anew
    assert ledger.committed("s1", 1, old, tmp_path) is None
    # a live claim for other content is taken over too: its result is no longer wanted, and its commit is refused
    assert ledger.claim("s1", 1, old, worker="w", ttl_s=30) == 3
    assert not ledger.commit("s1", 1, 2, output="x", sha256="x", result={})


def test_the_epoch_fences_claims_and_commits_of_an_old_orchestrator(db):
    first = RunLease(db, "run-h", owner="first", ttl_s=30, heartbeat_s=1)
    first.acquire()
    old = ShotLedger(db, "run-h", epoch=first.epoch)
    tid = take_id({"prompt": "p"})
    attempt = old.claim("s1", 1, tid, worker="w", ttl_s=30)
    assert attempt == 1
    expire_soon(first)
    second = take_over(db, "run-h", "second")
    new = ShotLedger(db, "run-h", epoch=second.epoch)
    assert not old.commit("s1", 1, attempt, output="x", sha256="x", result={})  # the old epoch's worker
    assert old.claim("s2", 1, tid, worker="w", ttl_s=30) is None
    assert not old.renew("s1", 1, attempt, ttl_s=30)
    assert new.claim("s2", 1, tid, worker="w", ttl_s=30) == 1
    assert new.commit("s2", 1, 1, output="y", sha256="y", result={})
    assert new.stats()["committed"] == 1
    # s1 is still claimed by the old orchestrator, its claim's lease live for 30 s more: void all the same (its
    # commit is refused), so the new holder claims it at once instead of waiting the lease out
    assert new.claim("s1", 1, tid, worker="w", ttl_s=30) == attempt + 1
    second.release()


def test_eight_threads_racing_to_claim_one_take_make_one_attempt(db):
    ledger = ShotLedger(db, "run-i")
    tid = take_id({"prompt": "p"})
    barrier = threading.Barrier(8)
    got: list[int | None] = []
    lock = threading.Lock()

    def claim(n: int) -> None:
        barrier.wait()
        attempt = ledger.claim("s1", 1, tid, worker=f"w{n}", ttl_s=60)
        with lock:
            got.append(attempt)

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(got) == 8 and sorted(got, key=lambda a: a or 0) == [None] * 7 + [1]
    assert ledger.stats()["claims"] == 1


# --- FencedSaver under a real LangGraph graph -------------------------------------------------------------------
class Count(TypedDict):
    n: int


def _graph(saver):
    from langgraph.graph import END, START, StateGraph

    builder = StateGraph(Count)
    builder.add_node("inc", lambda state: {"n": state["n"] + 1})
    builder.add_edge(START, "inc")
    builder.add_edge("inc", END)
    return builder.compile(checkpointer=saver)


def test_a_taken_over_orchestrators_next_checkpoint_write_raises(db, tmp_path):
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(tmp_path / "state.sqlite", check_same_thread=False)
    try:
        inner = SqliteSaver(conn)
        first = RunLease(db, "run-j", owner="first", ttl_s=30, heartbeat_s=0.1)
        first.acquire()
        first.start_heartbeat()
        config = {"configurable": {"thread_id": "series"}}
        graph = _graph(FencedSaver(inner, first))
        assert graph.invoke({"n": 0}, config, durability="sync") == {"n": 1}
        memory = InMemorySaver()
        agraph = _graph(FencedSaver(memory, first))
        assert asyncio.run(agraph.ainvoke({"n": 0}, config, durability="sync")) == {"n": 1}
        saved = len(list(inner.list(config)))

        expire_soon(first)
        second = take_over(db, "run-j", "second")
        with pytest.raises(LeaseLost):
            graph.invoke({"n": 10}, config, durability="sync")
        with pytest.raises(LeaseLost):
            asyncio.run(agraph.ainvoke({"n": 10}, config, durability="sync"))
        assert len(list(inner.list(config))) == saved  # the stale orchestrator wrote nothing

        resumed = _graph(FencedSaver(inner, second))
        assert resumed.get_state(config).values == {"n": 1}
        assert resumed.invoke({"n": 5}, config, durability="sync") == {"n": 6}
        second.release()
        first.release()
    finally:
        conn.close()


# --- processes: schema set-up and acquire at once ---------------------------------------------------------------
CHILD = """
import sys
from dramafactory.tools.durable import CoordinationDB, RunBusy, RunLease
url = sys.argv[1]
print("ready", flush=True)
sys.stdin.readline()  # the parent releases both processes together
db = CoordinationDB(url)
db.setup()
if url.startswith("postgresql"):
    from dramafactory.api.store import _open_postgres
    _open_postgres(url, 2).close()  # the service's set-up: LangGraph's checkpointer tables and the registry
try:
    print("won", RunLease(db, "race", ttl_s=30, heartbeat_s=1).acquire(), flush=True)
except RunBusy:
    print("busy", flush=True)
db.close()
"""


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_database(request, tmp_path):
    """A database nothing has set up yet: a new SQLite path, or CREATE DATABASE on the server (dropped after)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.sqlite'}"
        return
    name = f"df_setup_{uuid.uuid4().hex[:12]}"
    with _postgres_or_skip() as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield POSTGRES.rsplit("/", 1)[0] + f"/{name}"
    with _postgres_or_skip() as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def test_two_processes_setting_up_a_fresh_database_at_once_both_succeed(fresh_database):
    children = [subprocess.Popen([sys.executable, "-c", CHILD, fresh_database], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        for child in children:
            assert child.stdout.readline().strip() == "ready"
        for child in children:
            child.stdin.write("go\n")
            child.stdin.flush()
        results = [child.communicate(timeout=180) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    for child, (_out, err) in zip(children, results, strict=True):
        assert child.returncode == 0, err
    lines = sorted(out.strip() for out, _ in results)
    assert lines == ["busy", "won 1"], lines  # and across processes, exactly one took the run
