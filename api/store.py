"""The service's database: the run registry (runs and reviews, each owned by a tenant) and the LangGraph
checkpointer, side by side in one database. SQLite (a file in the data folder) by default; PostgreSQL when
DRAMAFACTORY_DATABASE_URL names one. A restarted service finds its runs and waiting reviews here.

The registry uses SQLAlchemy Core, so one set of queries serves both databases; the checkpointer is LangGraph's
own saver for each (SqliteSaver, PostgresSaver over a psycopg pool, as the saver is shared by the worker threads).
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from sqlalchemy import (
    JSON,
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine

from dramafactory.tools.durable.db import serialised

ACTIVE = ("queued", "running", "cancelling")  # a restarted service picks these up again
TERMINAL = ("finished", "failed", "cancelled")

metadata = MetaData()
runs = Table(
    "df_runs", metadata,
    Column("id", String(32), primary_key=True),
    Column("tenant", String(64), nullable=False, index=True),
    Column("status", String(20), nullable=False),  # queued running waiting_review cancelling + TERMINAL
    Column("title", String(300)),
    Column("request", JSON, nullable=False),  # the concept, checkpoints and seed, as posted
    Column("run_dir", Text, nullable=False),
    Column("error", Text),
    Column("summary", JSON),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)
reviews = Table(
    "df_reviews", metadata,
    Column("id", String(32), primary_key=True),
    Column("run_id", String(32), nullable=False, index=True),
    Column("tenant", String(64), nullable=False, index=True),
    Column("kind", String(10), nullable=False),  # bible, script, shots
    Column("episode", Integer),
    Column("payload", JSON, nullable=False),  # what the person is shown (the interrupt's value)
    Column("status", String(12), nullable=False),  # pending, decided, withdrawn (the run was cancelled)
    Column("decision", JSON),
    Column("created_at", Float, nullable=False),
    Column("decided_at", Float),
    Column("applied_at", Float),  # when the run resumed with the decision (a decision outlives a restart)
)

# Which replicas are alive, and which one holds each queued run (api/replicas.py): a queued run waits in one
# replica's worker pool, and no run lease says so until it starts.
replicas = Table(
    "df_replicas", metadata,
    Column("id", String(200), primary_key=True),  # host:pid:random, as a run lease's owner
    Column("alive_until", Float, nullable=False),  # on the lease clock (CoordinationDB.now), renewed by a heartbeat
    Column("started_at", Float, nullable=False),
)
run_queue = Table(
    "df_run_queue", metadata,
    Column("run_id", String(32), primary_key=True),
    Column("replica", String(200), nullable=False),  # the replica that last accepted the run into its pool
    Column("accepted_at", Float, nullable=False),
)


def new_id() -> str:
    return uuid.uuid4().hex


class Store:
    def __init__(self, engine: Engine, saver: BaseCheckpointSaver, closers: Iterable = ()):
        self.engine = engine
        self.saver = saver
        self._closers = list(closers)

    def close(self) -> None:
        for close in self._closers:
            close()
        self.engine.dispose()

    # --- runs -------------------------------------------------------------------------------------------------
    def create_run(self, *, tenant: str, request: dict, run_dir: Path, run_id: str | None = None) -> dict:
        now = time.time()
        row = {"id": run_id or new_id(), "tenant": tenant, "status": "queued", "title": None, "request": request,
               "run_dir": str(run_dir), "error": None, "summary": None, "created_at": now, "updated_at": now}
        with self.engine.begin() as conn:
            conn.execute(insert(runs).values(**row))
        return row

    def run(self, run_id: str, tenant: str | None = None) -> dict | None:
        query = select(runs).where(runs.c.id == run_id)
        if tenant is not None:
            query = query.where(runs.c.tenant == tenant)
        with self.engine.connect() as conn:
            found = conn.execute(query).mappings().first()
        return dict(found) if found else None

    def list_runs(self, tenant: str, status: str | None = None, limit: int = 100) -> list[dict]:
        query = select(runs).where(runs.c.tenant == tenant).order_by(runs.c.created_at.desc()).limit(limit)
        if status:
            query = query.where(runs.c.status == status)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def active_runs(self) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(select(runs).where(runs.c.status.in_(ACTIVE))
                                                  .order_by(runs.c.created_at)).mappings()]

    def update_run(self, run_id: str, *, only_if: tuple[str, ...] | None = None, **fields: Any) -> bool:
        """Change a run; with `only_if`, only while its status is one of those (a compare-and-set, so two
        requests racing on one run cannot both win)."""
        query = update(runs).where(runs.c.id == run_id).values(updated_at=time.time(), **fields)
        if only_if:
            query = query.where(runs.c.status.in_(only_if))
        with self.engine.begin() as conn:
            return conn.execute(query).rowcount == 1

    # --- reviews ----------------------------------------------------------------------------------------------
    def open_review(self, *, run_id: str, tenant: str, payload: dict) -> dict:
        """A run paused for a person. One review per pause: a pause seen again (a resumed run that paused at the
        same interrupt, or a restarted service) keeps its existing review."""
        with self.engine.begin() as conn:
            existing = conn.execute(select(reviews).where(reviews.c.run_id == run_id,
                                                          reviews.c.status == "pending")).mappings().first()
            if existing and existing["payload"] == payload:
                return dict(existing)
            if existing:
                conn.execute(update(reviews).where(reviews.c.id == existing["id"]).values(status="withdrawn"))
            row = {"id": new_id(), "run_id": run_id, "tenant": tenant, "kind": payload.get("kind", "unknown"),
                   "episode": payload.get("episode"), "payload": payload, "status": "pending", "decision": None,
                   "created_at": time.time(), "decided_at": None}
            conn.execute(insert(reviews).values(**row))
        return row

    def review(self, review_id: str, tenant: str) -> dict | None:
        with self.engine.connect() as conn:
            found = conn.execute(select(reviews).where(reviews.c.id == review_id,
                                                       reviews.c.tenant == tenant)).mappings().first()
        return dict(found) if found else None

    def list_reviews(self, tenant: str, status: str | None = "pending", run_id: str | None = None) -> list[dict]:
        query = select(reviews).where(reviews.c.tenant == tenant).order_by(reviews.c.created_at)
        if status:
            query = query.where(reviews.c.status == status)
        if run_id:
            query = query.where(reviews.c.run_id == run_id)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def decide_review(self, review_id: str, decision: dict) -> bool:
        """Record a decision once: False when the review was already decided (or withdrawn)."""
        with self.engine.begin() as conn:
            return conn.execute(update(reviews).where(reviews.c.id == review_id, reviews.c.status == "pending")
                                .values(status="decided", decision=decision, decided_at=time.time())).rowcount == 1

    def unapplied_decision(self, run_id: str) -> dict | None:
        """The decision a run must resume with: decided, not yet applied. The review row is its only copy, so a
        decision survives a stop or crash of the service between the person's answer and the resume."""
        with self.engine.connect() as conn:
            found = conn.execute(select(reviews).where(reviews.c.run_id == run_id, reviews.c.status == "decided",
                                                       reviews.c.applied_at.is_(None))
                                 .order_by(reviews.c.decided_at.desc())).mappings().first()
        return dict(found) if found else None

    def mark_applied(self, review_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(reviews).where(reviews.c.id == review_id).values(applied_at=time.time()))

    def withdraw_reviews(self, run_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(reviews).where(reviews.c.run_id == run_id, reviews.c.status == "pending")
                         .values(status="withdrawn"))


def open_store(database_url: str | None, data_dir: Path, workers: int = 2) -> Store:
    """SQLite in DATA_DIR/dramafactory.sqlite unless a PostgreSQL URL is given (postgresql://user@host/db; a
    `?options=-csearch_path%3Dschema` parameter keeps the tables in one schema)."""
    if database_url and database_url.startswith(("postgresql://", "postgres://")):
        return _open_postgres(database_url, pool_size=workers + 4)
    if database_url and not database_url.startswith("sqlite:///"):
        raise ValueError(f"unsupported database URL {database_url.split('://')[0]}://...: use sqlite:///PATH or "
                         "postgresql://...")
    path = Path(database_url.removeprefix("sqlite:///")) if database_url else data_dir / "dramafactory.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    return _open_sqlite(path)


def _open_sqlite(path: Path) -> Store:
    from langgraph.checkpoint.sqlite import SqliteSaver

    # Two connections share the file (the registry's engine and the checkpointer's): WAL lets readers go on while
    # one writes, and the timeout makes a writer wait for the other instead of failing with "database is locked".
    conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    saver = SqliteSaver(conn)
    saver.setup()
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _wal(dbapi_conn, _record):  # noqa: ANN001 - SQLAlchemy's callback signature
        dbapi_conn.execute("PRAGMA journal_mode=WAL")

    metadata.create_all(engine)
    return Store(engine, saver, closers=[conn.close])


def _open_postgres(url: str, pool_size: int) -> Store:
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool

    url = url.replace("postgres://", "postgresql://", 1)
    # every worker writes checkpoints through the pool; a few more for the API's reads of the saver
    pool = ConnectionPool(url, min_size=1, max_size=pool_size, open=True,
                          kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row})
    saver = PostgresSaver(pool)
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1), pool_pre_ping=True)
    # Two services starting together on a fresh database would both create the same tables and one fails with
    # UniqueViolation (checkpoint_migrations): an advisory lock makes the set-up one process at a time.
    with serialised(engine, "dramafactory.store.setup"):
        saver.setup()
        metadata.create_all(engine)
    return Store(engine, saver, closers=[pool.close])
