"""What every engine offers the graph: run one work item of a role, blocking, and say how deep the queues are.

A work item is a dotted function path ("module:function") and a JSON-able payload; the engine calls
fn(resident, payload) where `resident` is the role's long-lived object (a backend, the QC agent) and returns the
function's dict. Where it runs (this thread, a Ray worker, a GPU actor) is the engine's business, chosen by
configuration (tools/engine/__init__.py: build_engine), never by the caller.

FairSlots bounds the work in flight per role and hands freed slots round-robin between series, so a series that
queued 1,000 shots first cannot starve one that queued two after it.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import pickle
import socket
import threading
import traceback
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

from dramafactory.errors import DramaError


class EngineUnavailable(DramaError):
    """The engine cannot run work at all (cluster unreachable, no node offers what a role asks for). Raised before
    the work is spent, so the run stops with its state kept and resumes once the cause is fixed."""


class WorkLost(ConnectionError):
    """The engine lost a work item for good: its worker, actor or node died on every retry. A ConnectionError on
    purpose: the graph's retry policy (graphs/policy.py TRANSIENT) treats it as transient and tries again, then stops
    the run resumable, exactly as it does for a text server that went away."""


class WorkTimedOut(WorkLost):
    """Every attempt of a work item ran past the work time limit (DRAMAFACTORY_WORK_TIMEOUT_S) and was killed. A
    WorkLost: the graph retries it as transient, then stops the run resumable. Carries (cause, fix) like a
    DramaError, so whoever reports it can say what to change."""

    def __init__(self, cause: str, fix: str):
        super().__init__(f"{cause} (fix: {fix})")
        self.cause, self.fix = cause, fix


@runtime_checkable
class Engine(Protocol):
    name: str

    def run(self, role: str, fn: str, payload: dict, *, series: str = "",
            stalled: Callable[[], bool] | None = None) -> dict:
        """Run fn(resident(role), payload) somewhere and return its dict; exceptions surface as the function raised
        them. `stalled`, polled while waiting: True abandons the attempt in flight (left running: the shot ledger
        fences its late commit) and submits the work again."""
        ...

    def queue_depth(self) -> dict[str, dict]:
        """Per role: {"waiting": items waiting for a slot, "running": items submitted and not yet done}."""
        ...

    def close(self) -> None: ...


@lru_cache(maxsize=256)
def resolve(path: str) -> Callable[..., Any]:
    """The function a dotted path names ("package.module:function"). Cached: the graph calls the same few functions
    thousands of times, and a Ray worker resolves each once per process."""
    module, sep, attr = path.partition(":")
    if not sep or not module or not attr:
        raise ValueError(f"not a 'module:function' path: {path!r}")
    target: Any = importlib.import_module(module)
    for part in attr.split("."):
        target = getattr(target, part)
    if not callable(target):
        raise TypeError(f"{path!r} is not callable")
    return target


# --- carrying a worker's exception back as itself (any engine that runs work in another process) ----------------------

class RemoteWorkError(RuntimeError):
    """A worker's exception that could not be carried back as itself (its class does not import here)."""


def _rebuild_exception(cls: type, args: tuple, state: dict) -> BaseException:
    # without calling __init__: DramaError-style classes take (cause, fix) but keep one message in args, so the
    # default pickling (cls(*args)) cannot rebuild them
    exc = cls.__new__(cls)
    exc.args = args
    exc.__dict__.update(state)
    return exc


@dataclass
class Failure:
    """An exception raised by fn in a worker, returned as a value. Ray would retry nothing for it anyway
    (retry_exceptions=False), and carrying it ourselves makes its type survive even where Ray's own pickling of the
    exception fails; the driver raises it as the very type the worker raised."""

    blob: bytes
    summary: str
    where: str
    trace: str

    @classmethod
    def of(cls, exc: Exception) -> Failure:
        where = f"Ray worker pid {os.getpid()} on {socket.gethostname()}"
        try:
            blob = pickle.dumps(exc)
            pickle.loads(blob)
        except Exception:  # noqa: BLE001 - fall back to rebuilding it from its class, args and attributes
            state = {}
            for key, value in vars(exc).items():
                try:
                    pickle.dumps(value)
                    state[key] = value
                except Exception:  # noqa: BLE001 - an attribute that cannot travel is left behind
                    continue
            try:
                blob = pickle.dumps((type(exc), exc.args, state))
            except Exception:  # noqa: BLE001
                blob = b""
        return cls(blob, f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}", where,
                   "".join(traceback.format_exception(exc)))

    def exception(self) -> BaseException:
        try:
            value = pickle.loads(self.blob) if self.blob else None
            exc = _rebuild_exception(*value) if isinstance(value, tuple) else value
        except Exception:  # noqa: BLE001 - its class does not import in this process
            exc = None
        if not isinstance(exc, BaseException):
            exc = RemoteWorkError(self.summary)
        exc.add_note(f"raised in {self.where}:\n{self.trace}")
        return exc


def settings_key(settings_json: dict) -> str:
    return hashlib.sha256(json.dumps(settings_json, sort_keys=True).encode()).hexdigest()[:16]


class _Ticket:
    __slots__ = ("granted",)

    def __init__(self) -> None:
        self.granted = False


class _RoleQueue:
    """One role's slots: how many are held, the limit, and its waiters per series in round-robin order."""

    def __init__(self, limit: int | None):
        self.limit = limit
        self.running = 0
        self.waiters: OrderedDict[str, deque[_Ticket]] = OrderedDict()  # series -> its waiters, oldest first
        self.turns: deque[str] = deque()  # series with waiters, in the order their next grant comes

    def waiting(self) -> int:
        return sum(len(q) for q in self.waiters.values())


class FairSlots:
    """Per-role bounded work in flight, shared fairly between series.

    A role without a limit never waits (the graph bounds it). With a limit, a caller takes a free slot at once only
    when nobody waits (no barging past the queue); otherwise it queues under its series, and each freed slot goes to
    the next series in turn, oldest waiter of that series first. One Condition guards everything: grants are made by
    the releasing thread, so the order is decided in one place and does not depend on which waiter wakes first."""

    def __init__(self, limits: dict[str, int] | None = None):
        for role, limit in (limits or {}).items():
            if limit < 1:
                raise ValueError(f"in-flight limit for {role!r} must be at least 1, got {limit}")
        self._limits: dict[str, int | None] = dict(limits or {})
        self._roles: dict[str, _RoleQueue] = {}
        self._cond = threading.Condition()

    def _queue(self, role: str) -> _RoleQueue:
        queue = self._roles.get(role)
        if queue is None:
            queue = self._roles[role] = _RoleQueue(self._limits.get(role))
        return queue

    def limit(self, role: str) -> int | None:
        with self._cond:
            return self._queue(role).limit

    def set_limit(self, role: str, limit: int | None) -> None:
        """Change a role's limit (the Ray engine derives a default from the cluster's capacity once it has seen
        it); a raised limit grants waiting callers at once."""
        if limit is not None and limit < 1:
            raise ValueError(f"in-flight limit for {role!r} must be at least 1, got {limit}")
        with self._cond:
            self._limits[role] = limit
            queue = self._queue(role)
            queue.limit = limit
            self._grant(queue)

    def acquire(self, role: str, series: str = "") -> None:
        with self._cond:
            queue = self._queue(role)
            if queue.limit is None or (queue.running < queue.limit and not queue.turns):
                queue.running += 1
                return
            ticket = _Ticket()
            if series not in queue.waiters:
                queue.waiters[series] = deque()
                queue.turns.append(series)  # a series new to the queue takes its turn after those already waiting
            queue.waiters[series].append(ticket)
            try:
                while not ticket.granted:
                    self._cond.wait()
            except BaseException:
                # interrupted while waiting: leave the queue, or hand back a slot granted in the meantime
                if ticket.granted:
                    self._release(queue)
                else:
                    self._withdraw(queue, series, ticket)
                raise

    def release(self, role: str) -> None:
        with self._cond:
            self._release(self._queue(role))

    @contextmanager
    def slot(self, role: str, series: str = "") -> Iterator[None]:
        self.acquire(role, series)
        try:
            yield
        finally:
            self.release(role)

    def depth(self) -> dict[str, dict]:
        with self._cond:
            return {role: {"waiting": q.waiting(), "running": q.running} for role, q in self._roles.items()}

    # --- under the condition -------------------------------------------------------------------------------------
    def _release(self, queue: _RoleQueue) -> None:
        if queue.running <= 0:
            raise RuntimeError("FairSlots.release without a matching acquire")
        queue.running -= 1
        self._grant(queue)

    def _grant(self, queue: _RoleQueue) -> None:
        granted = False
        while queue.turns and (queue.limit is None or queue.running < queue.limit):
            series = queue.turns.popleft()
            waiters = queue.waiters[series]
            waiters.popleft().granted = True
            queue.running += 1
            granted = True
            if waiters:
                queue.turns.append(series)  # its next waiter goes to the back of the rotation
            else:
                del queue.waiters[series]
        if granted:
            self._cond.notify_all()

    def _withdraw(self, queue: _RoleQueue, series: str, ticket: _Ticket) -> None:
        waiters = queue.waiters.get(series)
        if waiters is None:
            return
        waiters.remove(ticket)
        if not waiters:
            del queue.waiters[series]
            queue.turns.remove(series)
