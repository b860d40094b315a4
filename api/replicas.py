"""Which replicas of the service are alive, and which one holds each queued run.

A run waits "queued" in one replica's worker pool until a worker is free, and no run lease says so (the lease is
taken when the run starts), so a replica killed with kill -9 used to leave its queued runs queued until it was
started again. Now each replica keeps a row in df_replicas alive with a heartbeat (on the database's clock, as the
run lease is, so hosts whose clocks disagree still agree on who is alive) and records in df_run_queue that it
accepted a run. Another replica takes over a queued run whose replica's heartbeat has run out, or whose row is gone
(a replica that stops deletes its row, so its queued runs move at once); a queued run of a live replica is left
alone. Taking over is one conditional UPDATE (WHERE replica = the dead one), so of several replicas exactly one
wins. A run another replica also submitted is still executed once: the service's queued -> running compare-and-set
picks one, and the run lease fences the rest.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import delete, select, update

from dramafactory.tools.durable import CoordinationDB
from dramafactory.tools.durable.lease import default_owner

from .store import replicas, run_queue

log = logging.getLogger("dramafactory.api")
NOBODY = ""  # the holder recorded for a queued run no replica accepted (written by a service before this table)
BATCH = 500  # run ids per query: well under SQLite's and PostgreSQL's bound-parameter limits


class Replicas:
    """This replica's heartbeat, and the queued runs it accepted. `ttl_s`: how long after its last heartbeat a
    replica counts as dead."""

    def __init__(self, db: CoordinationDB, *, ttl_s: float, heartbeat_s: float, replica_id: str | None = None):
        if heartbeat_s >= ttl_s:
            raise ValueError(f"heartbeat_s ({heartbeat_s}) must be shorter than ttl_s ({ttl_s})")
        self.db = db
        self.id = replica_id or default_owner()
        self.ttl_s = ttl_s
        self.heartbeat_s = heartbeat_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- this replica's heartbeat ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Announce this replica and keep it alive in a daemon thread (a daemon, so a crash leaves no heartbeat)."""
        with self.db.begin() as conn:
            # rows of replicas that died: a missing row and an expired one mean the same (dead), so drop them
            conn.execute(delete(replicas).where(replicas.c.alive_until < self.db.now_sql()))
        self.beat()
        self._thread = threading.Thread(target=self._beat, daemon=True, name="replica-heartbeat")
        self._thread.start()

    def beat(self) -> None:
        c = replicas.c
        with self.db.begin() as conn:
            self.db.insert_absent(conn, replicas, {"id": self.id, "alive_until": 0.0, "started_at": time.time()})
            conn.execute(update(replicas).where(c.id == self.id).values(alive_until=self.db.now_sql() + self.ttl_s))

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            try:
                self.beat()
            except Exception:  # noqa: BLE001 - a database hiccup: the next beat may get through before the ttl
                log.exception("replica heartbeat failed")

    def stop(self) -> None:
        """A clean stop: this replica's queued runs are left to the others at once."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.heartbeat_s + 35)  # a beat may wait out SQLite's busy timeout
        with self.db.begin() as conn:
            conn.execute(delete(replicas).where(replicas.c.id == self.id))

    # --- queued runs ----------------------------------------------------------------------------------------------
    def accept(self, run_id: str) -> None:
        """This replica put the run in its worker pool: the run is its own until it starts or this replica dies."""
        c = run_queue.c
        with self.db.begin() as conn:
            self.db.insert_absent(conn, run_queue, {"run_id": run_id, "replica": self.id, "accepted_at": time.time()})
            conn.execute(update(run_queue).where(c.run_id == run_id).values(replica=self.id, accepted_at=time.time()))

    def orphans(self, run_ids: list[str]) -> list[str]:
        """Those of these (queued) runs held by no live replica: their replica's heartbeat ran out or its row is
        gone, or none ever accepted them. Reads only: take() decides."""
        held: dict[str, str] = {}
        with self.db.engine.connect() as conn:
            alive = set(conn.execute(select(replicas.c.id).where(replicas.c.alive_until > self.db.now_sql()))
                        .scalars())
            for i in range(0, len(run_ids), BATCH):
                held.update(conn.execute(select(run_queue.c.run_id, run_queue.c.replica)
                                         .where(run_queue.c.run_id.in_(run_ids[i:i + BATCH]))).all())
        return [run_id for run_id in run_ids if held.get(run_id, NOBODY) not in alive]

    def take(self, run_id: str) -> bool:
        """Take over a queued run whose replica is dead; False when its replica is alive (this one included) or
        another replica took it first."""
        c = run_queue.c
        with self.db.begin() as conn:
            self.db.insert_absent(conn, run_queue, {"run_id": run_id, "replica": NOBODY, "accepted_at": time.time()})
            holder = conn.execute(select(c.replica).where(c.run_id == run_id)).scalar_one()
            if holder == self.id or conn.execute(select(replicas.c.id).where(
                    replicas.c.id == holder, replicas.c.alive_until > self.db.now_sql())).first() is not None:
                return False
            return conn.execute(update(run_queue).where(c.run_id == run_id, c.replica == holder)
                                .values(replica=self.id, accepted_at=time.time())).rowcount == 1
