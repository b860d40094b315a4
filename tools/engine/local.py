"""The in-process engine: work runs in the calling graph thread, as it always did without a cluster.

It still goes through FairSlots, so DRAMAFACTORY_ENGINE_MAX_IN_FLIGHT bounds a role (one GPU pipeline, the CPU QC
scorers) for all the runs of a process together, shared fairly between series.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .base import FairSlots, resolve


class InProcessEngine:
    name = "in-process"

    def __init__(self, resident: Callable[[str], Any], limits: dict[str, int] | None = None):
        self._resident = resident  # role -> its resident object; the caller caches (ctx holds the backends)
        self.slots = FairSlots(limits)

    def run(self, role: str, fn: str, payload: dict, *, series: str = "",
            stalled: Callable[[], bool] | None = None) -> dict:
        # `stalled` is not polled here: the work runs in this very thread, so there is no other attempt to abandon
        # it for (a stuck in-process render is the caller's thread, and the run lease covers the process).
        # Nor is a work time limit (DRAMAFACTORY_WORK_TIMEOUT_S, the Ray engine's): a Python thread cannot be killed,
        # and raising in it would leave the hung backend call running and holding its GPU. A render hung in this
        # process keeps its claim until the process is stopped; docs/scale.md says so.
        func = resolve(fn)
        with self.slots.slot(role, series):
            # exceptions propagate unchanged: the graph's retry policy decides what is transient
            return func(self._resident(role), payload)

    def queue_depth(self) -> dict[str, dict]:
        return self.slots.depth()

    def close(self) -> None:
        """Nothing to release: the residents belong to the caller."""
