"""One worker thread per pipeline: the only thread that calls it, and where batching happens.

A diffusers pipeline is not thread-safe, and the graph renders shots in parallel branches (LangGraph's Send). Each
branch submits its job here and waits; the worker takes the jobs that arrive together (within `window_s`) and share
a batch key (the reference images; size and steps are the backend's own), up to `max_batch`, and makes one pipeline
call for them. CUDA out of memory halves the batch and retries each half; at one job it is a `GPUOutOfMemory`, and
later batches stay at the size that worked. One worker per pipeline per process: the backends are shared by every
run the process makes (tools/gpu/hosted.shared_backend), so two runs never call one pipeline from two threads.
"""

from __future__ import annotations

import gc
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
            batch = self._next_batch()
            try:
                self._run(batch)
            except BaseException as exc:  # noqa: BLE001 - the worker must never die with callers waiting
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(exc if isinstance(exc, Exception) else RuntimeError(
                            f"{self.name} worker interrupted: {exc!r}"))
                if not isinstance(exc, Exception):
                    raise

    def _run(self, jobs: list[_Job]) -> None:
        scope = "thread" if self.device == "cuda" else "process"  # torch's CPU kernels run on its own threads
        failure: Exception | None = None
        spent = None
        try:
            with measure(scope) as spent:  # type: ignore[arg-type]
                results = self._run_batch([j.payload for j in jobs])
                if self.device == "cuda":
                    import torch

                    torch.cuda.synchronize()  # the call's GPU work is done inside the measured span
            if len(results) != len(jobs):
                raise RuntimeError(f"{self.name}: the pipeline call returned {len(results)} results for "
                                   f"{len(jobs)} jobs")
        except Exception as exc:  # noqa: BLE001 - every error reaches the waiting branch
            failure = exc
        if failure is not None:
            oom = is_out_of_memory(failure)
            if not oom:
                for job in jobs:
                    job.future.set_exception(failure)
                return
            # Retry outside the except block, the failed call's frames (and the tensors they hold) released first:
            # inside it the traceback keeps them alive and the halves would run out of memory again.
            failure = None
            gc.collect()
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
        assert spent is not None
        self.batches.append(len(jobs))
        n = len(jobs)
        for job, result in zip(jobs, results, strict=True):
            share = Share(started_at=spent.started_at, wall_seconds=spent.wall_seconds / n,
                          cpu_seconds=spent.cpu_seconds / n, cpu_scope=scope,
                          gpu_seconds=spent.wall_seconds / n if self.device == "cuda" else None, batch=n,
                          notes=tuple(job.notes))
            job.future.set_result((result, share))
