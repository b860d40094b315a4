"""Append-only ledger of model calls (ledger.jsonl): one line per call, written when the call returns."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path


class Ledger:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    def record(self, *, stage: str, backend: str, model: str, seconds: float, prompt_tokens: int = 0,
               completion_tokens: int = 0, **extra: object) -> None:
        row = {
            "ts": round(time.time(), 3),
            "stage": stage,
            "backend": backend,
            "model": model,
            "seconds": round(seconds, 4),
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "tokens": prompt_tokens + completion_tokens,
            **extra,
        }
        line = json.dumps(row, sort_keys=True) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()

    def rows(self) -> list[dict]:
        if not self.path.is_file():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]
