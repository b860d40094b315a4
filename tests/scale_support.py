"""What the Ray factory tests (tests/test_ray_factory.py) run in other processes: a fake image backend that Ray
workers build, and the orchestrator process that drives a run on the Ray cluster.

How the fake reaches the Ray workers. A worker never sees the orchestrator's backend objects: RayEngine hands it a
*builder* by dotted path ("module:function"), and the worker calls builder(role, settings) once per process to make
the role's resident (tools/engine/ray_engine.py; production passes dramafactory.graphs.work:build_role, which asks
the registry). RayEngine takes that path as a constructor argument, and produce() uses a context's engine when the
caller set one (as the service does), so the orchestrator below builds RayEngine(address, settings, BUILDER) with
BUILDER = this module's build_role: "image" gets SleepyFakeImage, "qc" the real QCAgent (judging with the fake, as
the in-process context's qc_agent() does), anything else the production builder. Nothing in the registry or the
project changes for the tests, and no sitecustomize is involved. Ray workers import `tests.scale_support` because
ray.init() puts the driver's working directory (the checkout, where pytest runs) on every worker's sys.path for
the job (ray/_private/worker.py, `_py_driver_sys_path`); `tests` is a package there. Everything else a render runs
(render_take, the shot ledger, the claim keeper, the QC agent) is the project's own code.

The fake's knobs travel the way every setting does: the orchestrator's settings go to the workers as JSON, and
DRAMAFACTORY_DATA_DIR (unused by production runs, which get their folder from --out) names the test's folder, where
the fake reads fake-image.json at each render and appends one JSON line per render start and end to renders.log,
with its pid and Ray node id (the log format of tests/test_exactly_once.py's LoggedFakeImage, so its helpers read
it).

Module-level imports stay light: every Ray worker imports this module.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from dramafactory.config import Settings

from .fakes import FakeImage

BUILDER = "tests.scale_support:build_role"
CONFIG = "fake-image.json"
LOG = "renders.log"
HELD, RELEASE, PAUSE = "held", "release", "pause"
GATE_LIMIT_S = 90.0  # a held or paused render never outlives a failed test by long
EXIT_PAUSED, EXIT_BUSY, EXIT_TAKEN_OVER = 3, 75, 76  # as tests/test_exactly_once.py's orchestrator


def write_config(folder: Path, *, delay: float, hold: bool = False) -> None:
    """What the fake does from its next render on: sleep `delay` seconds per render; `hold`: the first render to
    start afterwards (the one that creates `held`) waits until the test creates `release`."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"{CONFIG}.tmp"
    tmp.write_text(json.dumps({"delay": delay, "hold": hold}))
    tmp.replace(folder / CONFIG)  # atomic: a worker reading it mid-write would otherwise see half a file


def read_log(folder: Path, event: str | None = None) -> list[dict]:
    path = folder / LOG
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:  # a line being written right now
            continue
        if event is None or row["event"] == event:
            rows.append(row)
    return rows


def _node_id() -> str:
    # the Ray node this process runs on; "local" outside Ray (the fake is also usable in process)
    if "ray" in sys.modules:
        import ray

        if ray.is_initialized():
            return ray.get_runtime_context().get_node_id()
    return "local"


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + GATE_LIMIT_S
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)


class SleepyFakeImage(FakeImage):
    """A fake renderer for Ray workers: it sleeps so that a kill or a stop lands inside a render, can hold one render
    until released (the test then knows exactly which process renders what), waits at its start while `pause`
    exists, and logs each render's start and end with its pid and node."""

    name = "fake-image"

    def __init__(self, folder: Path):
        super().__init__()
        self.folder = Path(folder)

    def _config(self) -> dict:
        path = self.folder / CONFIG
        if not path.is_file():
            raise RuntimeError(f"the fake image backend has no {path}: the test writes it (write_config) and names "
                               "its folder in DRAMAFACTORY_DATA_DIR")
        return json.loads(path.read_text())

    def _note(self, event: str, out: Path, **extra: Any) -> None:
        line = json.dumps({"event": event, "out": out.name, "t": time.time(), "pid": os.getpid(),
                           "node": _node_id(), **extra})
        # one write() of one short line with O_APPEND: lines from many processes do not interleave
        with (self.folder / LOG).open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    def render(self, request):  # noqa: ANN001, ANN201 - the ImageBackend protocol
        config = self._config()
        held = False
        if config.get("hold"):
            try:
                os.close(os.open(self.folder / HELD, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                held = True
            except FileExistsError:
                pass
        if not held and (self.folder / PAUSE).exists():
            _wait_for_gone(self.folder / PAUSE)
        self._note("start", request.out_path, held=held)
        if held:
            _wait_for(self.folder / RELEASE)
        time.sleep(float(config.get("delay", 0.0)))
        result = super().render(request)
        self._note("end", request.out_path, held=held)
        return result


def _wait_for_gone(path: Path) -> None:
    deadline = time.monotonic() + GATE_LIMIT_S
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)


def build_role(role: str, settings: Settings) -> Any:
    """The Ray workers' builder in these tests (see the module docstring): the sleepy fake for image, the real QC
    agent judging with it, the production builder for any other role."""
    if role == "image":
        return SleepyFakeImage(settings.data_dir)
    if role == "qc":
        from dramafactory.agents.qc.agent import QCAgent

        return QCAgent(settings, image=SleepyFakeImage(settings.data_dir))
    from dramafactory.graphs.work import build_role as production

    return production(role, settings)


def orchestrator_settings() -> Settings:
    # One render in flight at a time, so a kill or a stop lands inside a known render. One QC score at a time too:
    # a Ray owner that is stopped (SIGSTOP) cannot hand back the worker leases of its tasks that finish meanwhile,
    # so each keeps its CPU slot until the owner wakes (seen with Ray 2.60: a second driver's one-CPU task stayed
    # pending while a stopped driver's three finished tasks held this cluster's three slots); a burst of QC tasks
    # (a resumed run scores its reused takes at once) could leave the orchestrator that took over with no CPU.
    # DRAMAFACTORY_* variables (the Ray address and roles, the lease times, the data dir) apply on top.
    return Settings(_env_file=None, width=180, height=320, fps=8, music=False, qc_people="off",
                    engine_max_in_flight={"image": 1, "qc": 1})


def orchestrate(run_dir: str, db_url: str, output: str, env: dict, wait_busy: float) -> None:
    """One orchestrator process on the Ray cluster: resume the run in run_dir until it finishes. Exit 0 finished,
    3 paused, 75 the run is held by another process (after trying again for `wait_busy` seconds, as an operator
    would once the dead holder's lease runs out), 76 taken over while running, 1 anything else."""
    out = open(output, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - the process's own stdout/stderr
    sys.stdout = sys.stderr = out
    os.environ.update(env)  # before Ray is imported: it reads RAY_AUTH_MODE and the token at import
    code, engine = 1, None
    try:
        from dramafactory.graphs.backends import build_context
        from dramafactory.graphs.runner import RunBusy, TakenOver, produce
        from dramafactory.tools.durable import CoordinationDB
        from dramafactory.tools.engine.ray_engine import RayEngine

        from .fakes import FakeSpeech, FakeText

        settings = orchestrator_settings()
        if not settings.ray_address:
            raise RuntimeError("DRAMAFACTORY_RAY_ADDRESS is not set: this orchestrator runs on a Ray cluster")
        ctx = build_context(Path(run_dir), settings, text=FakeText(), image=SleepyFakeImage(settings.data_dir),
                            speech=FakeSpeech())
        engine = ctx.engine = RayEngine(settings.ray_address, settings, BUILDER)
        out.write(f"engine {engine.name} at {settings.ray_address}, pid {os.getpid()}\n")
        coordination = CoordinationDB(db_url)  # one for every try: each holds a connection pool
        deadline = time.monotonic() + wait_busy
        try:
            while True:
                try:
                    outcome = produce(ctx, concept=None, resume=True, coordination=coordination)
                    break
                except RunBusy:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            out.write(f"outcome {outcome.status}\n")
            code = 0 if outcome.status == "finished" else EXIT_PAUSED
        except RunBusy as exc:
            out.write(f"busy: {exc}\n")
            code = EXIT_BUSY
        except TakenOver as exc:
            out.write(f"taken over: {exc}\n")
            code = EXIT_TAKEN_OVER
    except BaseException:  # noqa: BLE001 - the test reads the trace from the output file
        traceback.print_exc()
    finally:
        if engine is not None:
            try:
                engine.close()  # ray.shutdown: the job ends now rather than when the raylet notices the exit
            except BaseException:  # noqa: BLE001 - the exit code is the answer either way
                traceback.print_exc()
        out.flush()
    os._exit(code)  # no atexit or pool teardown: the exit code is the whole answer
