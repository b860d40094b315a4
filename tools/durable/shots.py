"""The shot ledger: each take committed exactly once, although its render may run more than once.

Ray executes a task at least once (a worker node killed mid-render reruns the task elsewhere while the first
attempt may still write), a kill -9 mid-render must redo the render, and a stalled worker (SIGSTOP) can wake up
after its claim was given away. So "never rendered twice" is enforced at the commit, not at the start:
- claiming increments `attempt` (the fencing token) and leases the take for ttl_s;
- the worker writes to an attempt-specific path;
- the commit is `UPDATE ... WHERE attempt = :a AND state <> 'done'`: a stale or duplicate attempt updates 0 rows
  and deletes its output, so a committed take is never overwritten;
- given the run's epoch, claim and commit also require `EXISTS (df_run_leases WHERE epoch = :epoch)`, so the
  workers of an orchestrator that lost its run cannot claim or commit either.
Takes are content-addressed (take_id: the hash of prompt, seed, backend, model, conditioning), so a resumed run
reuses a committed take whose take_id matches, after checking its file's sha256 (a truncated or damaged file is
rendered again).
"""

from __future__ import annotations

import hashlib
import json
import time
from functools import cache
from pathlib import Path

from sqlalchemy import TextClause, exists, func, select, text, update

from .db import CoordinationDB, run_leases, shots

BLOCK = 1 << 20  # 1 MiB: hash big clips without holding them in memory


def take_id(parts: dict) -> str:
    """The content address of a take: sha256 of canonical JSON (sorted keys, no whitespace), so the same content
    gives the same id in any process and on any host."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while block := handle.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()


_CLEARED = {"output": None, "sha256": None, "result": None, "committed_at": None}


def _sql_parts(kind: str, fenced: bool) -> tuple[str, str, str]:
    """The clock, the run id and the epoch fence, as SQL text for the prepared statements below."""
    now = ("CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS DOUBLE PRECISION)" if kind == "postgresql"
           else "CAST(:now AS DOUBLE PRECISION)")
    # Every parameter is cast: PostgreSQL cannot deduce one type for a parameter used both as a selected value and
    # in a comparison.
    run = "CAST(:run_id AS VARCHAR)"
    # The fence lives in the database's WHERE, not in a check before it. On SQLite (one writer at a time) it is
    # exact; on PostgreSQL the EXISTS reads the statement's snapshot, so a claim or commit that began just before
    # a takeover committed may still pass under the old epoch: harmless, since the attempt fence (row-locked,
    # re-checked) still admits one commit per take and that take has the same content address.
    fence = (f"EXISTS (SELECT 1 FROM df_run_leases WHERE run_id = {run} AND epoch = CAST(:epoch AS INTEGER))"
             if fenced else "1 = 1")
    return now, run, fence


@cache
def _claim_sql(kind: str, fenced: bool) -> TextClause:
    now, run, fence = _sql_parts(kind, fenced)
    shot, take_id, worker = (f"CAST(:{n} AS VARCHAR)" for n in ("shot_id", "take_id", "worker"))
    take, ttl = "CAST(:take AS INTEGER)", "CAST(:ttl AS DOUBLE PRECISION)"
    epoch = "CAST(:epoch AS INTEGER)"
    # A claim made under an older epoch belongs to an orchestrator that lost the run (killed, or taken over): its
    # commit is refused by the fence, so the take is claimable at once instead of after its lease runs out (a
    # resumed run would otherwise wait shot_lease_ttl_s for every take that was in flight at the kill).
    older = f"\n{' ' * 46}OR df_shots.epoch IS NULL OR df_shots.epoch <> {epoch}" if fenced else ""
    cleared = ", ".join(f"{c} = CASE WHEN df_shots.state = 'done' THEN NULL ELSE df_shots.{c} END"
                        for c in _CLEARED)
    return text(f"""
        INSERT INTO df_shots (run_id, shot_id, take, take_id, state, attempt, worker, epoch, lease_until, reused,
                              corrupt)
        SELECT {run}, {shot}, {take}, {take_id}, 'rendering', 1, {worker}, {epoch}, {now} + {ttl}, 0, 0
        WHERE {fence}
        ON CONFLICT (run_id, shot_id, take) DO UPDATE SET
            attempt = df_shots.attempt + 1, state = 'rendering', worker = excluded.worker, epoch = excluded.epoch,
            lease_until = excluded.lease_until, take_id = excluded.take_id, {cleared}
        WHERE {fence} AND (
            (df_shots.state = 'done' AND df_shots.take_id <> excluded.take_id)
            OR (df_shots.state <> 'done' AND (df_shots.state = 'pending' OR df_shots.lease_until IS NULL
                                              OR df_shots.lease_until < {now}{older}
                                              OR df_shots.take_id <> excluded.take_id)))
        RETURNING attempt""")


@cache
def _commit_sql(kind: str, fenced: bool) -> TextClause:
    now, run, fence = _sql_parts(kind, fenced)
    result = "CAST(:result AS JSON)" if kind == "postgresql" else ":result"
    return text(f"""
        UPDATE df_shots SET state = 'done', output = :output, sha256 = :sha256, result = {result},
                            committed_at = {now}, lease_until = NULL
        WHERE run_id = {run} AND shot_id = :shot_id AND take = :take AND attempt = :attempt AND state <> 'done'
          AND {fence}""")


class ShotLedger:
    """The takes of one run. `epoch`: the run lease's epoch, fencing every write to it (None: unfenced)."""

    def __init__(self, db: CoordinationDB, run_id: str, *, epoch: int | None = None):
        self.db = db
        self.run_id = run_id
        self.epoch = epoch
        db.setup()

    def _key(self, shot_id: str, take: int) -> list:
        c = shots.c
        keys = [c.run_id == self.run_id, c.shot_id == shot_id, c.take == take]
        if self.epoch is not None:
            # The fence lives in the database's WHERE, not in a check before it. On SQLite (one writer at a time) it is
    # exact; on PostgreSQL the EXISTS reads the statement's snapshot, so a claim or commit that began just before
    # a takeover committed may still pass under the old epoch: harmless, since the attempt fence (row-locked,
    # re-checked) still admits one commit per take and that take has the same content address.
            keys.append(exists(select(1).where(run_leases.c.run_id == self.run_id,
                                               run_leases.c.epoch == self.epoch)))
        return keys

    def _row(self, conn, shot_id: str, take: int):  # noqa: ANN001, ANN202 - a SQLAlchemy Connection and Row
        c = shots.c
        return conn.execute(select(shots).where(c.run_id == self.run_id, c.shot_id == shot_id,
                                                c.take == take)).mappings().first()

    def committed(self, shot_id: str, take: int, take_id: str, root: Path) -> dict | None:
        """The committed row when it holds this take_id and root/output still has the recorded sha256; None
        otherwise. A missing or corrupt file resets the row to pending (corrupt + 1): the caller renders again."""
        with self.db.engine.connect() as conn:
            row = self._row(conn, shot_id, take)
        if row is None or row["state"] != "done" or row["take_id"] != take_id:
            return None
        path = Path(root) / row["output"]
        try:
            intact = path.is_file() and file_sha256(path) == row["sha256"]
        except OSError:  # unreadable counts as damaged: render again rather than ship it
            intact = False
        if intact:
            return dict(row)
        with self.db.begin() as conn:
            # conditional on the attempt we inspected, so two callers finding the damage count it once
            conn.execute(update(shots).where(*self._key(shot_id, take), shots.c.state == "done",
                                             shots.c.attempt == row["attempt"])
                         .values(state="pending", corrupt=shots.c.corrupt + 1, **_CLEARED))
        return None

    def claim(self, shot_id: str, take: int, take_id: str, *, worker: str, ttl_s: float) -> int | None:
        """Claim the take for rendering: the new attempt, or None when it is done, a live claim holds it, or the
        run's epoch moved on. Claimable: absent, pending, a claim whose lease ran out (its worker died or stalled),
        a claim for other content (a changed take_id: its result is not wanted, and the bumped attempt refuses its
        commit), or a done row for other content (e.g. resumed with another backend or model: the key is the QC
        take slot, and its committed file is not this content). `attempt` is never reset, so that a stale worker
        of an older attempt still cannot commit.

        One statement (INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING, the same text on SQLite >= 3.35
        and PostgreSQL) instead of an insert, a reset and an update: a claim per take is on the path of every shot,
        and three statements were most of the ledger's cost per shot."""
        params = {"run_id": self.run_id, "shot_id": shot_id, "take": take, "take_id": take_id, "worker": worker,
                  "ttl": ttl_s, "epoch": self.epoch}
        if self.db.kind != "postgresql":
            params["now"] = time.time()
        attempt = self.db.write_one(_claim_sql(self.db.kind, self.epoch is not None), params, returning=True)
        return None if attempt is None else int(attempt)

    def renew(self, shot_id: str, take: int, attempt: int, ttl_s: float) -> bool:
        """Extend a claim while rendering; False: the claim was taken over (stop, the commit would be refused)."""
        c = shots.c
        now = self.db.now_sql()
        with self.db.begin() as conn:
            return conn.execute(update(shots).where(*self._key(shot_id, take), c.attempt == attempt,
                                                    c.state == "rendering")
                                .values(lease_until=now + ttl_s)).rowcount == 1

    def commit(self, shot_id: str, take: int, attempt: int, *, output: str, sha256: str, result: dict) -> bool:
        """Record the take as done, only for the current attempt and only once. False: a newer attempt claimed it,
        it was committed already, or the run's epoch moved on; the caller deletes its output. (A prepared text
        statement, as claim's: it is on every shot's path.)"""
        params = {"run_id": self.run_id, "shot_id": shot_id, "take": take, "attempt": attempt, "output": output,
                  "sha256": sha256, "result": json.dumps(result), "epoch": self.epoch}
        if self.db.kind != "postgresql":
            params["now"] = time.time()
        return self.db.write_one(_commit_sql(self.db.kind, self.epoch is not None), params) == 1

    def _claim_state(self, shot_id: str, take: int):  # noqa: ANN202 - a SQLAlchemy Row or None
        c = shots.c
        with self.db.engine.connect() as conn:
            return conn.execute(select(c.state, c.lease_until, c.epoch, self.db.now_sql().label("now"))
                                .where(c.run_id == self.run_id, c.shot_id == shot_id, c.take == take)).first()

    def claim_expired(self, shot_id: str, take: int) -> bool:
        """True when no live claim holds the take and it is not done, so claim() would take it now: a waiting
        caller polls this while another worker renders."""
        row = self._claim_state(shot_id, take)
        if row is None:
            return True
        if row.state == "done":
            return False
        return row.state == "pending" or row.lease_until is None or row.lease_until < row.now

    def claim_lapsed(self, shot_id: str, take: int) -> bool:
        """For the engine's `stalled`: True only when a worker of this epoch claimed the take and its claim ran
        out (the worker died or stalled), so the work should be submitted again. Not claim_expired, which is also
        True before any claim (the work may still wait in the cluster's queue: submitting it again would only
        duplicate it), nor a claim given back (pending) or left by an older orchestrator."""
        row = self._claim_state(shot_id, take)
        return (row is not None and row.state == "rendering" and row.lease_until is not None
                and row.lease_until < row.now and (self.epoch is None or row.epoch == self.epoch))

    def release(self, shot_id: str, take: int, attempt: int) -> None:
        """Give a claim back (a render that raised): pending again, so a retry claims it at once."""
        c = shots.c
        with self.db.begin() as conn:
            conn.execute(update(shots).where(*self._key(shot_id, take), c.attempt == attempt, c.state == "rendering")
                         .values(state="pending", lease_until=None))

    def mark_reused(self, shot_id: str, take: int) -> None:
        c = shots.c
        with self.db.begin() as conn:
            conn.execute(update(shots).where(*self._key(shot_id, take)).values(reused=c.reused + 1))

    def stats(self) -> dict:
        """Figures for the run: takes committed, claims rendering now, claims made (sum of attempts), reuses, and
        committed files found corrupt."""
        c = shots.c
        query = select(func.count().filter(c.state == "done"), func.count().filter(c.state == "rendering"),
                       func.coalesce(func.sum(c.attempt), 0), func.coalesce(func.sum(c.reused), 0),
                       func.coalesce(func.sum(c.corrupt), 0)).where(c.run_id == self.run_id)
        with self.db.engine.connect() as conn:
            done, rendering, claims, reused, corrupt = conn.execute(query).one()
        return {"committed": int(done), "rendering": int(rendering), "claims": int(claims), "reused": int(reused),
                "corrupt": int(corrupt)}
