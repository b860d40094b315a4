"""What every text-server backend shares: the per-server in-flight limit and what a failure means.

In-flight limit: one `ServerSlots` per server base URL for the whole process, so several runs in one service process
(and several backend objects built from the same settings) together never keep more requests in flight at one server
than allowed. When backends ask for different limits, the smallest wins: the limit protects the server (e.g. a
llama.cpp server started with `-np 2` has two slots), and whoever asked for less had a reason.

Failures, the same for every server kind (docs/text-servers.md):
- the server is not serving (connection refused, timeout, a reply cut off mid-body, 429 and 5xx once the client's own
  retries are spent): TextBackendError, which the graph node retries and then stops the run resumably;
- the server refused this request (400, 422) or the reply is not usable (cut off by the token limit): UnusableReply,
  a content failure the agent re-asks;
- a wrong model, key or path (401, 403, 404): DramaError, a configuration error no retry fixes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from dramafactory.errors import DramaError
from dramafactory.tools.accounting import Measured, measure

from .base import TextBackendError, UnusableReply


class ServerSlots:
    """A counting limit whose size can only shrink (a semaphore cannot be resized while requests hold it)."""

    def __init__(self, limit: int):
        self.limit = max(1, int(limit))
        self.in_flight = 0
        self._cond = threading.Condition()

    def lower_to(self, limit: int) -> None:
        with self._cond:
            self.limit = min(self.limit, max(1, int(limit)))

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._cond:
            while self.in_flight >= self.limit:
                self._cond.wait()
            self.in_flight += 1
        try:
            yield
        finally:
            with self._cond:
                self.in_flight -= 1
                self._cond.notify()


_SLOTS: dict[str, ServerSlots] = {}
_SLOTS_LOCK = threading.Lock()


R = TypeVar("R")


def send(slots: ServerSlots, request: Callable[[], R],
         classify: Callable[[Exception, float, float | None], Exception]) -> tuple[R, Measured]:
    """One request to a server: in one of its slots (waiting for a slot is not part of the call, so the measured
    span is the request itself), timed in this thread's scope (only this process's share, the HTTP client; the
    model's time is the server's). A failure is raised as what `classify(exc, wall_seconds, cpu_seconds)` makes
    of it: content, configuration or transport."""
    with slots.slot():
        with measure("thread") as call:
            try:
                reply = request()
            except Exception as exc:  # noqa: BLE001 - every failure is sorted by `classify`
                failure: Exception | None = exc
            else:
                failure = None
    if failure is not None:
        raise classify(failure, call.wall_seconds, call.cpu_seconds) from failure
    return reply, call


def server_key(base_url: str) -> str:
    return base_url.rstrip("/")


def slots_for(base_url: str, limit: int) -> ServerSlots:
    """The process-wide slots of the server at `base_url`, lowered to `limit` if that is smaller."""
    with _SLOTS_LOCK:
        slots = _SLOTS.get(server_key(base_url))
        if slots is None:
            slots = _SLOTS[server_key(base_url)] = ServerSlots(limit)
        else:
            slots.lower_to(limit)
        return slots


def describe(exc: BaseException) -> str:
    """The exception's type and message on one line, with the underlying cause (the client wraps the real one)."""
    text = f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
    cause = exc.__cause__ or exc.__context__
    # A status error says it all (the cause is the HTTP library's restatement); a connection error's message is
    # generic ("Connection error.") and the cause says what happened (refused, a body cut off mid-way).
    if cause is not None and str(cause) and str(cause) not in text and getattr(exc, "status_code", None) is None:
        text += f" ({type(cause).__name__}: {' '.join(str(cause).split())[:160]})"
    return text


def server_down(where: str, base_url: str, detail: str, *, backend: str, timed_out: bool = False) -> TextBackendError:
    fix = f"start the server at {base_url} or point DRAMAFACTORY_OPENAI_BASE_URL at a running one"
    if timed_out:
        fix += ("; if it is only slow or busy (requests queue on a server that answers one at a time), raise "
                "DRAMAFACTORY_OPENAI_TIMEOUT_S or lower DRAMAFACTORY_OPENAI_MAX_IN_FLIGHT to the server's slots")
    return TextBackendError(f"{where} failed: {detail}", backend=f"{backend} at {base_url}", fix=fix)


def refused(where: str, detail: str, seconds: float, cpu_seconds: float | None) -> UnusableReply:
    return UnusableReply(f"{where} refused the request: {detail}", seconds=seconds, cpu_seconds=cpu_seconds,
                         cpu_scope="thread", gpu_seconds=None, remote=True)


def cut_off(where: str, max_tokens: int, seconds: float, cpu_seconds: float | None, *, prompt_tokens: int,
            completion_tokens: int, server_seconds: float | None) -> UnusableReply:
    # The partial JSON is not handed on: a prefix of an answer may even parse (a closed object with a field missing
    # is still caught by pydantic, but a number cut from 120 to 1 is not), so it is never used as one.
    return UnusableReply(f"{where} cut the reply off at the token limit (max_tokens={max_tokens}) before the JSON "
                         "was complete", seconds=seconds, cpu_seconds=cpu_seconds,
                         cpu_scope="thread", gpu_seconds=None, remote=True, prompt_tokens=prompt_tokens,
                         completion_tokens=completion_tokens, server_seconds=server_seconds,
                         hint="keep every field short: the whole answer must be complete within the length allowed")


def misconfigured(where: str, detail: str, fix: str) -> DramaError:
    return DramaError(f"{where} rejected the factory's configuration: {detail}", fix)
