"""GPU memory in one place: which pipelines are resident on the card, moves between GPU and CPU, and offload when
the VRAM budget is short.

Every GPU backend of a process registers its pipelines here and calls them inside `use(name)`. A pipeline that fits
the budget is kept resident (on an 80-140 GB card offload saves memory, never time); when the next one does not fit
beside the others, the least recently used idle one moves to the CPU; one that does not fit the budget even alone
runs with accelerate's model offload (components on the card only while they compute). A pipeline in use is never
moved: another backend waits for it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache

from .pipelines import LoadedPipeline

GIB = 1024**3


@dataclass
class _Entry:
    loaded: LoadedPipeline
    placement: str = "cpu"  # "cpu" (parked), "gpu" (resident), "offload" (model offload), "cpu-device"
    users: int = 0


@dataclass
class GPUMemory:
    device: str  # "cuda" or "cpu"
    budget_bytes: float  # what the pipelines may hold on the card
    events: list[str] = field(default_factory=list)  # moves and offloads, for the run's log and `backends`
    _entries: OrderedDict[str, _Entry] = field(default_factory=OrderedDict)
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def register(self, name: str, loaded: LoadedPipeline) -> None:
        with self._changed:
            self._entries[name] = _Entry(loaded, placement="cpu-device" if self.device == "cpu" else "cpu")

    def resident(self) -> dict[str, str]:
        """Each registered pipeline and where it is now."""
        with self._changed:
            return {name: entry.placement for name, entry in self._entries.items()}

    def _on_card(self, but: str) -> float:
        return sum(e.loaded.bytes for n, e in self._entries.items() if n != but and e.placement == "gpu")

    def _note(self, text: str) -> None:
        self.events.append(f"{time.strftime('%H:%M:%S')} {text}")

    def _place(self, name: str) -> None:
        """Called with the lock held: make `name` callable on the device, moving idle others off the card."""
        entry = self._entries[name]
        if entry.placement in ("gpu", "offload", "cpu-device"):
            return
        size = entry.loaded.bytes
        if size > self.budget_bytes:
            entry.loaded.pipe.enable_model_cpu_offload(device=self.device)
            entry.placement = "offload"
            self._note(f"{name} ({size / GIB:.1f} GiB) exceeds the VRAM budget ({self.budget_bytes / GIB:.1f} GiB): "
                       "model offload (components move to the card only while they compute)")
            return
        while self._on_card(name) + size > self.budget_bytes:
            idle = [n for n, e in self._entries.items() if n != name and e.placement == "gpu" and e.users == 0]
            if not idle:  # the others are busy: wait until one finishes, then look again
                self._changed.wait(timeout=1.0)
                continue
            victim = idle[0]  # least recently used first (the dict keeps use order)
            self._entries[victim].loaded.pipe.to("cpu")
            self._entries[victim].placement = "cpu"
            self._note(f"moved {victim} to the CPU to make room for {name}")
        entry.loaded.pipe.to(self.device)
        entry.placement = "gpu"
        self._note(f"{name} resident on the card ({size / GIB:.2f} GiB)")

    @contextmanager
    def use(self, name: str) -> Iterator[LoadedPipeline]:
        with self._changed:
            self._place(name)
            entry = self._entries[name]
            entry.users += 1
            self._entries.move_to_end(name)
        try:
            yield entry.loaded
        finally:
            with self._changed:
                entry.users -= 1
                self._changed.notify_all()


def card_bytes() -> float:
    """What is free on the card now (a vLLM server sharing it holds its share already), not its total."""
    import torch

    free, _total = torch.cuda.mem_get_info()
    return float(free)


@lru_cache(maxsize=4)
def gpu_memory(device: str, vram_gb: float | None) -> GPUMemory:
    """The process's one memory manager per device and budget (DRAMAFACTORY_VRAM_GB; default: 90% of what is free
    on the card when the first GPU backend is built, leaving room for activations)."""
    if device == "cpu":
        return GPUMemory(device="cpu", budget_bytes=float("inf"))
    budget = vram_gb * GIB if vram_gb is not None else 0.9 * card_bytes()
    return GPUMemory(device=device, budget_bytes=budget)
