"""Append-only ledger of model calls (ledger.jsonl): one line per call, written when the call returns.

Every row carries the run id, the device it ran on, and the accounting fields whose meaning docs/accounting.md
defines (wall `seconds`, `cpu_seconds` with its `cpu_scope`, `gpu_seconds`, `remote`, `kind`), its `cost_usd` priced
when it is recorded (dramafactory/prices.py, the run's price profile in `price_profile`) and, for an episode's work,
its `episode`. A crash can tear the last line; readers skip a torn line and count it (`torn_lines`) instead of
failing.

The ledger keeps a running total of what the run has spent (`spent_usd`, in whole nano-dollars so it is exact),
started from the file, so a resumed run's budget counts what earlier processes spent.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from .accounting import Measured, device_info

if TYPE_CHECKING:
    from dramafactory.prices import Pricing

RUN_ID_FILE = "run_id"
# Nodes that work for the episode being made and whose rows name no shot: a run makes its episodes one after
# another (graphs/graph.py: writer -> ... -> assemble -> next episode), so their episode is the one after the last
# assembled. The other stages are series-wide (the bible, memory, reference sheets) or name their shot.
EPISODE_STAGES = ("writer", "cinematographer", "voices")
SHOT_EPISODE = re.compile(r"^e(\d+)s\d")  # shot ids are e01s03: episode 1, shot 3 (schemas.Shot.id)
NANO = 10**9
BILLED_TAKE_KINDS = ("call", "discarded")  # rows that bill a take's render


def episode_of(row: dict, last_assembled: int = 0) -> int | None:
    """The episode a row's work was for: the caller's `episode`, else its shot's, else (EPISODE_STAGES) the episode
    after the last one assembled; None for series-wide work."""
    if isinstance(row.get("episode"), int):
        return row["episode"]
    match = SHOT_EPISODE.match(str(row.get("shot") or ""))
    if match:
        return int(match.group(1))
    if str(row.get("stage", "")).split(".")[0] in EPISODE_STAGES:
        return last_assembled + 1
    return None


def run_id_for(run_dir: Path, preferred: str | None = None) -> str:
    """The run's id, kept in the run folder so a resumed run (another process) writes the same id. `preferred`
    (the service's own run id) is used when the folder has none yet."""
    path = Path(run_dir) / RUN_ID_FILE
    try:
        existing = path.read_text(encoding="utf-8").strip()
    except OSError:
        existing = ""
    if existing:
        return existing
    new = preferred or uuid.uuid4().hex
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written whole to a temporary file, then linked into place: the link fails if another process got there first
    # (two `produce` on a fresh folder must agree on one id, since the run's lease and shot ledger are keyed by it),
    # and a kill mid-write never leaves an empty id behind.
    temporary = path.with_name(f".{RUN_ID_FILE}.{uuid.uuid4().hex}")
    temporary.write_text(new, encoding="utf-8")
    try:
        os.link(temporary, path)
    except FileExistsError:
        new = path.read_text(encoding="utf-8").strip() or new
    finally:
        temporary.unlink(missing_ok=True)
    return new


class Ledger:
    def __init__(self, path: Path, run_id: str | None = None, pricing: Pricing | None = None):
        """`pricing`: the run's prices (graphs/backends.build_context passes the settings' profile); by default the
        settings of the environment, made on first use."""
        self.path = Path(path)
        self._preferred = run_id
        self._run_id: str | None = None
        self._pricing = pricing
        self.torn_lines = 0  # lines skipped by the last rows() because a crash cut them short
        self.budget_usd: float | None = None  # the cap in force (graphs.budget.Budget sets it): on the mark rows
        self._lock = threading.Lock()
        self._spent_nano: int | None = None  # None: the file not read yet
        self._last_assembled = 0
        self._billed_takes: set[str] = set()  # take ids with a render row (billed())
        self._handle = None  # the file kept open for appending (_append_handle)
        self._end = -1  # the file's size after our last row: another size means another writer appended

    @property
    def pricing(self) -> Pricing:
        if self._pricing is None:
            from dramafactory.config import Settings
            from dramafactory.prices import Pricing

            with self._lock:
                if self._pricing is None:
                    self._pricing = Pricing.from_settings(Settings())
        return self._pricing

    @property
    def spent_usd(self) -> float:
        """What the run's rows cost so far, every process's (exact: a sum of nano-dollars)."""
        pricing = self.pricing
        with self._lock:
            self._load_totals(pricing)
            return self._spent_nano / NANO  # type: ignore[operator]

    def _load_totals(self, pricing: Pricing) -> None:
        """Read once, under the lock: then every recorded row is added as it is written."""
        if self._spent_nano is not None:
            return
        rows = self.rows()
        self._spent_nano = sum(round(pricing.charge(r) * NANO) for r in rows)
        self._billed_takes = {r["take_id"] for r in rows if r.get("take_id") and r.get("kind") in BILLED_TAKE_KINDS}
        self._last_assembled = max((r["episode"] for r in rows if str(r.get("stage")) == "assemble"
                                    and isinstance(r.get("episode"), int)), default=0)

    @property
    def run_id(self) -> str:
        """Resolved on first use, so a ledger opened only to read writes nothing."""
        if self._run_id is None:
            with self._lock:  # rows may come from several threads at once: they must agree on one id
                if self._run_id is None:
                    self._run_id = run_id_for(self.path.parent, self._preferred)
        return self._run_id

    def record(self, *, stage: str, backend: str, model: str, seconds: float, prompt_tokens: int = 0,
               completion_tokens: int = 0, cpu_seconds: float | None = None, cpu_scope: str | None = None,
               gpu_seconds: float | None = 0.0, remote: bool = False, version: str = "", kind: str = "call",
               started: float | None = None, **extra: object) -> None:
        """`seconds` is the call's wall time; `started` its start (epoch), by default now minus `seconds`."""
        run_id, pricing = self.run_id, self.pricing  # both take the lock themselves on first use
        now = time.time()
        row = {
            "ts": round(now, 3),
            "started": round(started if started is not None else now - seconds, 3),
            "run_id": run_id,
            "kind": kind,
            "stage": stage,
            "backend": backend,
            "model": model,
            "version": version,
            "seconds": round(seconds, 4),
            "cpu_seconds": None if cpu_seconds is None else round(cpu_seconds, 4),
            "cpu_scope": cpu_scope if cpu_seconds is not None else None,
            "gpu_seconds": None if gpu_seconds is None else round(gpu_seconds, 4),
            "remote": remote,
            "device": device_info(),
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "tokens": prompt_tokens + completion_tokens,
            **extra,
        }
        row["cost_usd"] = pricing.cost(row)
        row["price_profile"] = pricing.profile
        with self._lock:
            self._load_totals(pricing)  # before this row is written, so it is counted once
            episode = episode_of(row, self._last_assembled)
            if episode is not None:
                row["episode"] = episode
            line = json.dumps(row, sort_keys=True) + "\n"
            handle = self._append_handle()
            try:
                # unbuffered: a write that fails (a full disk) leaves nothing behind to land later uncounted
                handle.write(line.encode("utf-8"))
            except OSError:
                self._drop_handle()
                raise
            self._end = handle.tell()  # O_APPEND: where this row ended, without asking the file system again
            self._spent_nano += round(row["cost_usd"] * NANO)  # type: ignore[operator]
            if row.get("take_id") and kind in BILLED_TAKE_KINDS:
                self._billed_takes.add(str(row["take_id"]))
            if row["stage"] == "assemble" and episode is not None:
                self._last_assembled = max(self._last_assembled, episode)

    def billed(self, take_id: str) -> bool:
        """Whether a render of this take (a call, or one whose commit was refused) has a row: a committed take
        without one was rendered by a process killed before it wrote the row."""
        pricing = self.pricing
        with self._lock:
            self._load_totals(pricing)
            return take_id in self._billed_takes

    def _append_handle(self):  # noqa: ANN202 - a binary file object
        """The ledger file, kept open for appending (under self._lock): opened once, not per row. A row per call
        and two per shot made the open, the folder check and the torn-line check most of a row's cost. The
        torn-line check runs again when the file grew by another writer's hand. O_APPEND: rows of other processes
        (a resumed run's earlier holder) never interleave within a line. A file moved away while the run writes is
        not followed: the rows go on into it (close() and the next row open the path again)."""
        handle = self._handle
        if handle is not None:
            try:
                size = os.fstat(handle.fileno()).st_size
                if size != self._end:  # another writer appended since our last row: it may have torn its line
                    self._keep_apart(handle, size)
                return handle
            except OSError:
                self._drop_handle()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self._handle = self.path.open("a+b", buffering=0)
        self._keep_apart(handle, os.fstat(handle.fileno()).st_size)
        return handle

    @staticmethod
    def _keep_apart(handle, size: int) -> None:  # noqa: ANN001 - a binary file object
        """A crash tore the last line (it has no newline): start a new one, so the next row stays readable."""
        if size and os.pread(handle.fileno(), 1, size - 1) != b"\n":
            handle.write(b"\n")

    def _drop_handle(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            try:
                handle.close()
            except OSError:  # unbuffered: nothing is left to flush, so nothing is lost here
                pass

    def close(self) -> None:
        with self._lock:
            self._drop_handle()

    def record_measured(self, measured: Measured, *, stage: str, backend: str, model: str, **fields: object) -> None:
        """A row for work timed with tools.accounting.measure (a local CPU backend: no GPU time)."""
        self.record(stage=stage, backend=backend, model=model, seconds=measured.wall_seconds,
                    cpu_seconds=measured.cpu_seconds, cpu_scope=measured.scope, started=measured.started_at,
                    **fields)

    def mark(self, event: str) -> None:
        """A zero-length row that only marks a moment of the run (its start, a resume), for wall-time spans. It records
        the price inputs in force and the budget cap, so `dramafactory cost` can say what each process charged."""
        self.record(stage="run", backend="dramafactory", model="-", seconds=0.0, cpu_seconds=0.0,
                    cpu_scope="process", kind="mark", event=event, prices=self.pricing.rates(),
                    budget_usd=self.budget_usd)

    def rows(self) -> list[dict]:
        if not self.path.is_file():
            return []
        rows, torn = [], 0
        for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                torn += 1
                continue
            if isinstance(row, dict) and "stage" in row:
                rows.append(row)
            else:
                torn += 1
        self.torn_lines = torn
        return rows
