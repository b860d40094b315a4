"""Where render, QC, speech and clip work runs: in this process (the default) or on a Ray cluster.

`build_engine(settings, resident)` chooses by configuration: DRAMAFACTORY_RAY_ADDRESS unset → InProcessEngine
(the graph's threads call the role's resident directly, as before); set → RayEngine (docs/scale.md). Ray is an
optional dependency (the `scale` extra) and is imported only when a Ray engine is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dramafactory.config import Settings

from .base import Engine, EngineUnavailable, Failure, FairSlots, RemoteWorkError, WorkLost, WorkTimedOut, resolve
from .local import InProcessEngine

__all__ = ["Engine", "EngineUnavailable", "FairSlots", "Failure", "InProcessEngine", "RemoteWorkError", "WorkLost",
           "WorkTimedOut", "build_engine", "resolve"]


def build_engine(settings: Settings, resident: Callable[[str], Any]) -> Engine:
    """The engine the settings ask for. `resident(role)` gives this process's resident for a role (used in
    process only: a Ray worker builds its own from the settings with dramafactory.graphs.work:build_role)."""
    if not settings.ray_address:
        return InProcessEngine(resident, settings.engine_max_in_flight)
    from .ray_engine import DEFAULT_BUILDER, RayEngine  # imports ray: only when a cluster is configured

    return RayEngine(settings.ray_address, settings, DEFAULT_BUILDER)
