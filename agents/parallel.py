"""Run independent model calls side by side, as many at once as the text backend takes.

A server backend (vLLM, llama-server with slots) batches the requests in flight, so calls that do not depend on
each other (the cast's profiles, an episode's beat actions, a shot list's scene looks) finish in about the time of
one. The embedded model answers one call at a time (`max_in_flight` 1): there the calls run inline, in order, on
the caller's thread, so the call sequence, and with it llama.cpp's KV-cache reuse of the shared prompt prefix, is
exactly what it was before this module existed.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")


def in_flight_limit(backend: object) -> int:
    """How many calls the backend takes at once (an optional attribute: fakes and the embedded model have 1)."""
    return max(1, int(getattr(backend, "max_in_flight", 1) or 1))


def run_all(backend: object, calls: Sequence[Callable[[], T]]) -> list[T]:
    """Run zero-argument callables, at most `in_flight_limit(backend)` at once; results in input order.

    Every call has finished (or was never started) when this returns or raises: no thread is left running, so a
    failure cannot keep writing to the ledger after the node has stopped. The first exception in input order is
    re-raised (a TextBackendError must stop the node, as it would inline); once one call has failed, the calls not
    yet started are cancelled rather than sent to a backend that is likely down.
    """
    limit = min(in_flight_limit(backend), len(calls))
    if limit <= 1:
        return [call() for call in calls]
    with ThreadPoolExecutor(max_workers=limit, thread_name_prefix="text-call") as pool:
        # One copy of the context per call: LangGraph keeps the stream writer and the run config in contextvars,
        # and a Context cannot be entered by two threads at once.
        futures = [pool.submit(contextvars.copy_context().run, call) for call in calls]
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        if pending and any(f.exception() is not None for f in done):
            for future in pending:
                future.cancel()
        wait(futures)
    for future in futures:
        if not future.cancelled() and future.exception() is not None:
            raise future.exception()  # type: ignore[misc]
    return [future.result() for future in futures]
