"""Append-only ledger of model calls (ledger.jsonl): one line per call, written when the call returns.

Every row carries the run id, the device it ran on, and the accounting fields whose meaning docs/accounting.md
defines (wall `seconds`, `cpu_seconds` with its `cpu_scope`, `gpu_seconds`, `remote`, `kind`). A crash can tear the
last line; readers skip a torn line and count it (`torn_lines`) instead of failing.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

from .accounting import Measured, device_info

RUN_ID_FILE = "run_id"


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
    path.write_text(new, encoding="utf-8")
    return new


class Ledger:
    def __init__(self, path: Path, run_id: str | None = None):
        self.path = Path(path)
        self._preferred = run_id
        self._run_id: str | None = None
        self.torn_lines = 0  # lines skipped by the last rows() because a crash cut them short
        self._lock = threading.Lock()

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
        now = time.time()
        row = {
            "ts": round(now, 3),
            "started": round(started if started is not None else now - seconds, 3),
            "run_id": self.run_id,
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
        line = json.dumps(row, sort_keys=True) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a+b") as handle:
                end = handle.seek(0, 2)
                if end and handle.seek(end - 1) is not None and handle.read(1) != b"\n":
                    handle.write(b"\n")  # a crash tore the last line: keep it apart so this row stays readable
                handle.write(line.encode("utf-8"))
                handle.flush()

    def record_measured(self, measured: Measured, *, stage: str, backend: str, model: str, **fields: object) -> None:
        """A row for work timed with tools.accounting.measure (a local CPU backend: no GPU time)."""
        self.record(stage=stage, backend=backend, model=model, seconds=measured.wall_seconds,
                    cpu_seconds=measured.cpu_seconds, cpu_scope=measured.scope, started=measured.started_at,
                    **fields)

    def mark(self, event: str) -> None:
        """A zero-length row that only marks a moment of the run (its start, a resume), for wall-time spans."""
        self.record(stage="run", backend="dramafactory", model="-", seconds=0.0, cpu_seconds=0.0,
                    cpu_scope="process", kind="mark", event=event)

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
