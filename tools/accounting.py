"""What a model call cost in machine time, measured where the work runs: wall seconds, CPU seconds, the device.

The meaning of every figure is documented in docs/accounting.md; the ledger (tools/ledger.py) writes them and
graphs/assemble.py sums them into summary.json. The planner reads exactly these fields.

CPU time is measured in one of two scopes, named on each ledger row (`cpu_scope`):
- "thread": `time.thread_time()` of the calling thread. Right for work done in that thread alone (the storyboard
  renderer, the QC scorers): exact even while other shots render in parallel threads.
- "process": this process's CPU time (all its threads) plus that of the child processes it waited for (ffmpeg,
  espeak-ng). Needed where the work runs on threads or processes the caller does not own (llama.cpp's compute
  threads, onnxruntime's, an encoder subprocess). It includes any other work the process did at the same time;
  the CLI runs one production, the service may run several in one process (docs/accounting.md says so).
"""

from __future__ import annotations

import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from dramafactory.prices import Pricing

CpuScope = Literal["thread", "process"]


def _process_cpu() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


_CLOCKS = {"thread": time.thread_time, "process": _process_cpu}


@dataclass
class Measured:
    """One measured span: wall and CPU seconds, filled in when the `measure` block ends."""

    scope: CpuScope
    started_at: float = 0.0  # epoch seconds
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0


class measure:  # noqa: N801 - used as a context manager, read like a verb
    """`with measure("thread") as m: work()` then m.wall_seconds, m.cpu_seconds, m.started_at."""

    def __init__(self, scope: CpuScope):
        self.result = Measured(scope)
        self._clock = _CLOCKS[scope]

    def __enter__(self) -> Measured:
        self.result.started_at = time.time()
        self._wall = time.perf_counter()
        self._cpu = self._clock()
        return self.result

    def __exit__(self, *exc: object) -> None:
        # CPU is read inside the wall span on both ends, so one thread's CPU can never exceed its wall time.
        cpu = self._clock()
        self.result.wall_seconds = time.perf_counter() - self._wall
        self.result.cpu_seconds = max(0.0, cpu - self._cpu)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _gpu_names() -> list[str]:
    """GPU names without importing torch just to ask: torch if it is already loaded, else nvidia-smi if present."""
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            if torch.cuda.is_available():
                return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        except Exception:  # noqa: BLE001 - a broken CUDA install must not break accounting
            return []
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run([smi, "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True,
                                 timeout=5, check=False).stdout
            return [line.strip() for line in out.splitlines() if line.strip()]
        except (OSError, subprocess.SubprocessError):
            return []
    return []


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity: a container limited to 2 CPUs on a big host has 2)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


@lru_cache(maxsize=1)
def device_info() -> dict[str, object]:
    """The machine this process runs on: CPU model, the cores it may use, GPU names (empty: none)."""
    return {"host": platform.node(), "cpu": _cpu_model(), "cores": usable_cores(), "gpus": _gpu_names()}


@dataclass(frozen=True)
class Costs:
    """Ledger rows priced by what actually did the work (docs/accounting.md)."""

    cpu_seconds: float  # this process's CPU seconds, every row that measured them
    gpu_seconds: float  # local GPU seconds
    remote_calls: int
    unpriced_calls: int  # calls with no price (remote text with no per-token price): left out of usd, counted here
    usd: float  # the exact sum of the rows' costs (math.fsum of nano-dollar amounts, rounded to the nano-dollar)


TEXT_STAGES = ("director", "writer", "cinematographer")  # the stages whose calls go to the text model


def is_call(row: dict) -> bool:
    """A model or tool call, not a load, a failed call or a mark (rows written before kinds existed are calls)."""
    return row.get("kind", "call") == "call"


def is_text_call(row: dict) -> bool:
    return is_call(row) and str(row.get("stage", "")).split(".")[0] in TEXT_STAGES


def total(rows: list[dict], field: str) -> float:
    """The sum of a ledger field over rows, leaving out rows where it is null (not measured)."""
    return sum(r[field] for r in rows if r.get(field) is not None)


def sum_usd(amounts: Iterable[float]) -> float:
    """Costs summed exactly: each is a whole number of nano-dollars, fsum adds them without drift."""
    return round(math.fsum(amounts), 9)


def price_rows(rows: list[dict], pricing: Pricing | None = None, *, cpu_hour_usd: float | None = None,
               gpu_hour_usd: float | None = None, remote_usd_per_mtok: float | None = None) -> Costs:
    """The rows' machine time and cost. With `pricing` (the run's prices), each row costs what it recorded
    (`cost_usd`), and a row recorded before costs existed is priced by `pricing`. With hourly rates instead (the
    form from before price profiles), every row is priced at those rates under the `local` profile, whatever it
    recorded. Either way the one formula is dramafactory/prices.py's."""
    if pricing is None:
        if cpu_hour_usd is None or gpu_hour_usd is None:
            raise TypeError("price_rows needs a Pricing or both hourly rates")
        local = Pricing.for_profile("local", cpu_hour_usd=cpu_hour_usd, gpu_hour_usd=gpu_hour_usd,
                                    remote_text_usd_per_mtok=remote_usd_per_mtok)
        amounts = [local.cost(r) for r in rows]
        priced = local.is_priced
    else:
        amounts = [pricing.charge(r) for r in rows]
        priced = pricing.is_priced
    # A row without a cpu_scope is not a CPU measurement: ledgers written before the scopes existed put the wall
    # time in cpu_seconds, and a resumed old run must not bill that as CPU.
    measured = [r for r in rows if r.get("cpu_scope")]
    local_rows = [r for r in rows if not r.get("remote")]
    remote = [r for r in rows if r.get("remote") and is_call(r)]
    unpriced = sum(1 for r in rows if is_call(r) and not priced(r))
    return Costs(cpu_seconds=total(measured, "cpu_seconds"), gpu_seconds=total(local_rows, "gpu_seconds"),
                 remote_calls=len(remote), unpriced_calls=unpriced, usd=sum_usd(amounts))
