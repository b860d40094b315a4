"""Errors of the GPU backends, each naming the role it stops and the fix (the CLI prints them on one line)."""

from __future__ import annotations

from dramafactory.errors import DramaError


class BackendUnavailable(DramaError):
    """A configured backend cannot run here (missing model, wrong pipeline kind, missing package, no CUDA). Raised
    when the run's context is built, before any work is spent."""

    def __init__(self, role: str, cause: str, fix: str):
        self.role = role
        super().__init__(cause, fix)  # the registry names the role and backend in front of it


class GPUOutOfMemory(RuntimeError):
    """CUDA ran out of memory on a batch of one: halving cannot help. Not transient (the same call fails again)."""
