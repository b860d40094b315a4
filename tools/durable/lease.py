"""One orchestrator per run, across processes and hosts: a run lease with an epoch and a heartbeat.

A file lock serves one host, and a lock alone is not a fence anyway: a holder's connection can drop (or the holder
can stall under SIGSTOP) while it keeps running, so two orchestrators would write. Hence a row (run_id, epoch,
owner, lease_until): acquiring is one conditional UPDATE that increments the epoch, and only when the lease is free
or expired, so of any number of acquirers exactly one wins; the holder renews `WHERE epoch = mine` every few
seconds; a holder killed with `kill -9` stops renewing and its lease is taken over `ttl_s` after its last renewal.
The epoch is the fencing token: the shot ledger's writes carry it in their WHERE, and FencedSaver checks it
before each checkpoint write, so an old holder's late writes are refused.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable

from sqlalchemy import or_, select, update

from dramafactory.errors import DramaError

from .db import CoordinationDB, run_leases

log = logging.getLogger(__name__)


class RunBusy(DramaError):
    """Another orchestrator holds the run's lease."""


class LeaseLost(DramaError):
    """This process no longer holds the run's lease (taken over, released, or not renewed in time): it must stop
    writing."""


def default_owner() -> str:
    """host:pid:random — readable in RunBusy, and unique even when a pid is reused after a crash."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class RunLease:
    def __init__(self, db: CoordinationDB, run_id: str, *, owner: str | None = None, ttl_s: float = 15.0,
                 heartbeat_s: float = 3.0):
        if heartbeat_s >= ttl_s:
            raise ValueError(f"heartbeat_s ({heartbeat_s}) must be shorter than ttl_s ({ttl_s})")
        self.db = db
        self.run_id = run_id
        self.owner = owner or default_owner()
        self.ttl_s = ttl_s
        self.heartbeat_s = heartbeat_s
        self.epoch: int | None = None
        self._lost: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._confirmed_at: float | None = None  # time.monotonic() when a statement last found the lease ours

    # --- acquire / renew / check / release ------------------------------------------------------------------
    def acquire(self) -> int:
        """Take the lease and return the new epoch; RunBusy when another owner's lease is still live."""
        self.db.setup()
        c = run_leases.c
        with self.db.begin() as conn:
            # the row may not exist yet: insert it free (epoch 0) so that the UPDATE below is the only decision,
            # even when two acquirers arrive at once (the second insert does nothing)
            self.db.insert_absent(conn, run_leases, {"run_id": self.run_id, "epoch": 0, "owner": None,
                                                     "lease_until": None, "updated_at": time.time()})
            now = self.db.now_sql()
            stmt = (update(run_leases)
                    .where(c.run_id == self.run_id,
                           or_(c.owner.is_(None), c.lease_until.is_(None), c.lease_until < now))
                    .values(epoch=c.epoch + 1, owner=self.owner, lease_until=now + self.ttl_s, updated_at=now))
            epoch = self.db.update_returning(conn, stmt, c.epoch, select(c.epoch).where(c.run_id == self.run_id))
            if epoch is None:
                row = conn.execute(select(c.owner, c.lease_until).where(c.run_id == self.run_id)).one()
                left = max(0.0, row.lease_until - self.db.now(conn))
        if epoch is None:
            raise RunBusy(f"run {self.run_id} is being produced by {row.owner} (its lease expires in {left:.1f} s "
                          "unless renewed)",
                          f"wait for it to finish; if that process died, its lease is taken over automatically "
                          f"{self.ttl_s:g} s after its last heartbeat, so run again then")
        self.epoch = int(epoch)
        self._lost = None
        return self.epoch

    def renew(self) -> bool:
        """Extend the lease; False when the epoch is no longer ours (another owner took the run over). A lease that
        ran out but was not taken over is renewed: nobody else wrote in between."""
        if self.epoch is None:
            return False
        c = run_leases.c
        now = self.db.now_sql()
        asked = time.monotonic()
        with self.db.begin() as conn:
            done = conn.execute(update(run_leases)
                                .where(c.run_id == self.run_id, c.epoch == self.epoch, c.owner == self.owner)
                                .values(lease_until=now + self.ttl_s, updated_at=now)).rowcount == 1
        if done:
            self._confirmed_at = asked
        return done

    def check(self) -> None:
        """Raise LeaseLost unless the row still carries our epoch and our lease has not run out. Called before
        every checkpoint write: a lease that ran out may be taken over at any moment, so stop writing now."""
        if self._lost:
            raise LeaseLost(self._lost, "this process must stop; the run continues under its new holder")
        if self.epoch is None:
            raise LeaseLost(f"run {self.run_id}: the lease was never acquired", "call acquire() first")
        c = run_leases.c
        asked = time.monotonic()
        with self.db.engine.connect() as conn:
            row = conn.execute(select(c.epoch, c.owner, c.lease_until, self.db.now_sql().label("now"))
                               .where(c.run_id == self.run_id)).first()
        if row is None or row.epoch != self.epoch or row.owner != self.owner:
            holder = "nobody" if row is None or row.owner is None else f"{row.owner} (epoch {row.epoch})"
            raise LeaseLost(f"run {self.run_id}: epoch {self.epoch} is no longer current; held by {holder}",
                            "this process must stop; the run continues under its new holder")
        if row.lease_until is None or row.lease_until < row.now:
            raise LeaseLost(f"run {self.run_id}: the lease of epoch {self.epoch} ran out "
                            f"{row.now - (row.lease_until or row.now):.1f} s ago without renewal",
                            "the heartbeat could not reach the database; resume the run")
        if row.lease_until - row.now >= self._trust_s():  # live for longer than check_recent would trust it
            self._confirmed_at = asked

    def _trust_s(self) -> float:
        return min(self.heartbeat_s, self.ttl_s / 4)

    def check_recent(self) -> None:
        """check(), without the database round trip while this process confirmed the lease (acquired, renewed or
        checked it) less than min(heartbeat_s, ttl_s / 4) ago. Sound because nobody can take a live lease over:
        acquire() needs it expired, and a confirmation counts only when it found the lease live for at least that
        window from the moment its statement was sent (a renewal: ttl_s; a check: what was left of it); the window
        is also no longer than the heartbeat already takes to notice a loss. For the
        checkpointer's per-task writes (FencedSaver.put_writes): a thousand shots meant a thousand reads of
        the lease row per step, about a tenth of the framework's time per shot."""
        if self._lost:
            raise LeaseLost(self._lost, "this process must stop; the run continues under its new holder")
        confirmed = self._confirmed_at
        if confirmed is not None and time.monotonic() - confirmed < self._trust_s():
            return
        self.check()

    def release(self) -> None:
        """Stop the heartbeat and free the lease, so the next orchestrator need not wait for it to expire. Only our
        own epoch is freed: a lease already taken over is left alone."""
        self.stop_heartbeat()
        if self.epoch is None:
            return
        c = run_leases.c
        with self.db.begin() as conn:
            conn.execute(update(run_leases).where(c.run_id == self.run_id, c.epoch == self.epoch,
                                                  c.owner == self.owner)
                         .values(owner=None, lease_until=None, updated_at=time.time()))
        self._lost = f"run {self.run_id}: the lease of epoch {self.epoch} was released"

    # --- heartbeat ------------------------------------------------------------------------------------------
    def start_heartbeat(self, on_lost: Callable[[str], None] | None = None) -> None:
        """Renew every heartbeat_s in a daemon thread (a daemon so that a crashed orchestrator does not linger).
        On a lost lease (another owner took over, or no renewal reached the database for ttl_s, so one may have)
        it records the reason for check(), calls on_lost(reason) once and stops."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat, args=(on_lost,), daemon=True,
                                        name=f"lease-{self.run_id}")
        self._thread.start()

    def stop_heartbeat(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.heartbeat_s + 35)  # a renewal may wait out SQLite's busy timeout
        self._thread = None

    def _beat(self, on_lost: Callable[[str], None] | None) -> None:
        last_ok = time.monotonic()
        while not self._stop.wait(self.heartbeat_s):
            try:
                if self.renew():
                    last_ok = time.monotonic()
                    continue
                reason = f"run {self.run_id}: the lease of epoch {self.epoch} was taken over by another owner"
            except Exception as exc:  # noqa: BLE001 - a database hiccup: retry until the lease would have run out
                if time.monotonic() - last_ok < self.ttl_s:
                    log.warning("lease renewal for run %s failed, retrying: %s", self.run_id, exc)
                    continue
                reason = f"run {self.run_id}: the lease could not be renewed for {self.ttl_s:g} s ({exc})"
            if self._stop.is_set():
                return  # released meanwhile: not a loss
            self._lost = reason
            log.error("%s", reason)
            if on_lost is not None:
                try:
                    on_lost(reason)
                except Exception:  # noqa: BLE001 - the callback's failure must not hide the loss
                    log.exception("on_lost callback failed")
            return

    # --- context manager --------------------------------------------------------------------------------------
    def __enter__(self) -> RunLease:
        self.acquire()
        self.start_heartbeat()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
