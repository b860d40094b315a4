"""Replicas of the service on one database: a run another replica accepted but had not started (queued in its
worker pool) is left to it while it lives, and taken over once it is killed with kill -9; the replica heartbeat
and the queue claims themselves (api/replicas.py). On SQLite and on the real PostgreSQL."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dramafactory.api.app import create_app
from dramafactory.api.replicas import Replicas
from dramafactory.api.store import open_store, run_queue
from dramafactory.tools.durable import CoordinationDB

from .api_support import CONCEPT, api_settings, auth, fake_factory, free_port, start_server_process, wait_for
from .test_api import database_url  # noqa: F401 - the fixture, used by name

ROOT = Path(__file__).resolve().parents[1]
TTL, HEARTBEAT = 2.0, 0.5  # seconds: a dead replica's runs move within about three seconds
# Replica A: one worker and slow renders, so its second run waits queued in its pool for as long as the test needs.
SLOW_REPLICA = f"""
import sys
from pathlib import Path
import uvicorn
from dramafactory.api.app import create_app
from tests.api_support import api_settings, fake_factory
settings = api_settings(Path(sys.argv[1]), database_url=sys.argv[3] or None, api_workers=1, lease_ttl_s={TTL},
                        lease_heartbeat_s={HEARTBEAT})
uvicorn.run(create_app(settings, context_factory=fake_factory(delay=2.0)), host="127.0.0.1", port=int(sys.argv[2]),
            log_level="warning")
"""


def start_slow_replica(data_dir: Path, port: int, url: str | None) -> subprocess.Popen:
    return start_server_process([sys.executable, "-c", SLOW_REPLICA, str(data_dir), str(port), url or ""], port,
                                "replica A")


def holder(store, run_id: str) -> str | None:  # noqa: ANN001 - a Store
    with store.engine.connect() as conn:
        return conn.execute(select(run_queue.c.replica).where(run_queue.c.run_id == run_id)).scalar()


def test_a_queued_run_of_a_killed_replica_is_taken_over_and_a_live_ones_is_not(tmp_path, database_url):  # noqa: F811
    data_dir, port = tmp_path / "data", free_port()
    settings = api_settings(data_dir, database_url=database_url, lease_ttl_s=TTL, lease_heartbeat_s=HEARTBEAT)
    with TestClient(create_app(settings, context_factory=fake_factory())) as client:  # replica B, already up
        b = client.app.state.service
        looked: list[tuple[list[str], list[str]]] = []  # (queued runs B's watcher considered, the orphans found)
        orphans = b.replicas.orphans

        def spy(run_ids: list[str]) -> list[str]:
            found = orphans(run_ids)
            looked.append((run_ids, found))
            return found

        b.replicas.orphans = spy
        a = start_slow_replica(data_dir, port, database_url)
        try:
            base = f"http://127.0.0.1:{port}"
            first, second = (httpx.post(f"{base}/series", json=CONCEPT, headers=auth(), timeout=10).json()["id"]
                             for _ in range(2))
            a_id = holder(b.store, second)
            assert a_id and a_id != b.replicas.id

            # (1) A lives: its queued run is left to it for several of B's watch periods (every TTL / 3), past the
            # lease period a freshly queued run is given
            time.sleep(3 * TTL)
            assert b.store.run(second)["status"] == "queued" and holder(b.store, second) == a_id
            assert b.store.run(first)["status"] == "running"
            looked_while_alive = [found for ids, found in looked if second in ids]
        finally:
            a.send_signal(signal.SIGKILL)  # (2) kill -9: no clean stop, its heartbeat just ends
            a.wait()

        # (3) once A's heartbeat has run out, B takes over its queued run (and, as before, its running one)
        run = wait_for(client, second, {"finished", "failed"}, auth(), timeout=60)
        assert run["status"] == "finished", run["error"]
        assert holder(b.store, second) == b.replicas.id
        assert looked_while_alive and not any(looked_while_alive)  # B did look, and found it held by a live A
        assert wait_for(client, first, {"finished", "failed"}, auth(), timeout=60)["status"] == "finished"


@pytest.fixture
def coordination(tmp_path):
    store = open_store(None, tmp_path)  # creates df_replicas and df_run_queue
    db = CoordinationDB(store.engine.url.render_as_string(hide_password=False))
    yield db
    db.close()
    store.close()


def test_a_queued_run_moves_only_when_its_replica_is_dead(coordination):
    ttl = 0.6
    a, b, c = (Replicas(coordination, ttl_s=ttl, heartbeat_s=0.1, replica_id=name) for name in "abc")
    for replica in (a, b, c):
        replica.start()
    try:
        a.accept("r1")
        assert b.orphans(["r1"]) == [] and not b.take("r1") and not a.take("r1")  # alive: nobody steals it
        assert b.orphans(["r0"]) == ["r0"] and b.take("r0")  # accepted by no replica (an older service's run)

        a._stop.set()  # killed: the heartbeat ends without a clean stop
        a._thread.join()
        time.sleep(ttl + 0.2)
        assert b.orphans(["r1", "r0"]) == ["r1"]  # r0 is b's, and b is alive
        assert b.take("r1") and not c.take("r1")  # one replica wins; the winner is alive, so the run stays its

        b.accept("r2")
        b.stop()  # a clean stop leaves its queued runs to the others at once
        assert c.orphans(["r2"]) == ["r2"] and c.take("r2")
    finally:
        c.stop()
