"""One worker thread per pipeline: the only thread that calls it, and where batching happens.

A diffusers pipeline is not thread-safe, and the graph renders shots in parallel branches (LangGraph's Send). Each
branch submits its job here and waits; the worker takes the jobs that arrive together (within `window_s`) and share
a batch key (same size, steps, references), up to `max_batch`, and makes one pipeline call for them. CUDA out of
memory halves the batch and retries each half; at one job it is a `GPUOutOfMemory`, and later batches stay at the
size that worked.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from dramafactory.tools.accounting import measure

from .device import empty_cache, is_out_of_memory
from .errors import GPUOutOfMemory


@dataclass(frozen=True)
class Share:
    """One job's share of the batch call that made it: the call's figures divided by its batch size."""

    started_at: float
    wall_seconds: float
    cpu_seconds: float
    cpu_scope: str
    gpu_seconds: float | None  # None on the CPU device: no GPU did the work (0.0 is written to the ledger)
    batch: int
    notes: tuple[str, ...] = ()


@dataclass
class _Job:
    key: Hashable
    payload: Any
    future: Future = field(default_factory=Future)
    notes: list[str] = field(default_factory=list)


class PipelineWorker:
    def __init__(self, name: str, run_batch: Callable[[list[Any]], list[Any]], *, device: str, max_batch: int = 4,
                 window_s: float = 0.05):
        self.name = name
        self._run_batch = run_batch
        self.device = device
        self.max_batch = max(1, max_batch)
        self.window_s = window_s
        self.batches: list[int] = []  # sizes of the calls made, for tests and benchmarks
        self._queue: queue.Queue[_Job] = queue.Queue()
        self._held: list[_Job] = []  # taken from the queue for another key: first in the next batch
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(self, key: Hashable, payload: Any) -> tuple[Any, Share]:
        """Run one job (blocking) and return its result and its share of the call."""
        job = _Job(key, payload)
        self._ensure_started()
        self._queue.put(job)
        return job.future.result()

    def _ensure_started(self) -> None:
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name=f"pipeline-{self.name}", daemon=True)
                self._thread.start()

    def _next_batch(self) -> list[_Job]:
        first = self._held.pop(0) if self._held else self._queue.get()
        batch = [first]
        for job in list(self._held):
            if len(batch) < self.max_batch and job.key == first.key:
                self._held.remove(job)
                batch.append(job)
        deadline = time.monotonic() + self.window_s
        while len(batch) < self.max_batch:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                job = self._queue.get(timeout=remaining)
            except queue.Empty:
                break
            (batch if job.key == first.key else self._held).append(job)
        return batch

    def _loop(self) -> None:
        while True:
            self._run(self._next_batch())

    def _run(self, jobs: list[_Job]) -> None:
        scope = "thread" if self.device == "cuda" else "process"  # torch's CPU kernels run on its own threads
        try:
            with measure(scope) as spent:  # type: ignore[arg-type]
                results = self._run_batch([j.payload for j in jobs])
                if self.device == "cuda":
                    import torch

                    torch.cuda.synchronize()  # the call's GPU work is done inside the measured span
        except Exception as exc:  # noqa: BLE001 - every error reaches the waiting branch
            if is_out_of_memory(exc):
                empty_cache(self.device)
                if len(jobs) == 1:
                    jobs[0].future.set_exception(GPUOutOfMemory(
                        f"{self.name}: CUDA out of memory on a batch of one; lower the resolution or frame count, "
                        f"set DRAMAFACTORY_VRAM_GB lower so the pipeline is offloaded, or use a smaller model"))
                    return
                half = len(jobs) // 2
                self.max_batch = min(self.max_batch, half)
                note = f"CUDA out of memory at batch {len(jobs)}: halved to {half}"
                for job in jobs:
                    job.notes.append(note)
                self._run(jobs[:half])
                self._run(jobs[half:])
                return
            for job in jobs:
                job.future.set_exception(exc)
            return
        self.batches.append(len(jobs))
        n = len(jobs)
        for job, result in zip(jobs, results, strict=True):
            share = Share(started_at=spent.started_at, wall_seconds=spent.wall_seconds / n,
                          cpu_seconds=spent.cpu_seconds / n, cpu_scope=scope,
                          gpu_seconds=spent.wall_seconds / n if self.device == "cuda" else None, batch=n,
                          notes=tuple(job.notes))
            job.future.set_result((result, share))
