"""The work engines (tools/engine): FairSlots' limits and fairness, the in-process engine, and the Ray engine on a
real three-node cluster started from the command line (tests/ray_cluster.py): a head and two worker nodes with
GPU slots, one cluster shared by this module's Ray tests.

The functions below the helpers run inside Ray workers: the engine calls them by dotted path, so they live at
module level here (Ray workers import this module from the driver's working directory).
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from dramafactory.config import Settings
from dramafactory.errors import DramaError
from dramafactory.tools.engine import (
    EngineUnavailable,
    Failure,
    FairSlots,
    InProcessEngine,
    build_engine,
    resolve,
)
from dramafactory.tools.text.base import TextBackendError

from .ray_cluster import ray_cluster_fixture  # noqa: F401 - the module-scoped cluster fixture

HERE = "tests.test_engine"


def wait_until(predicate, timeout_s: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


# --- FairSlots -----------------------------------------------------------------------------------------------------

def test_fair_slots_grant_round_robin_between_series_not_fifo():
    slots = FairSlots({"image": 1})
    slots.acquire("image", "holder")
    order: list[str] = []
    threads = []

    def worker(series: str, index: int) -> None:
        with slots.slot("image", series):
            order.append(f"{series}{index}")  # one slot: the next grant waits for this release

    # series A queues ten items first, B two after; each thread is queued before the next starts (FIFO within A)
    for series, count in (("A", 10), ("B", 2)):
        for i in range(count):
            t = threading.Thread(target=worker, args=(series, i))
            t.start()
            threads.append(t)
            waiting = len(threads)
            wait_until(lambda w=waiting: slots.depth()["image"]["waiting"] == w, what=f"{waiting} waiters")
    assert slots.depth()["image"] == {"waiting": 12, "running": 1}
    slots.release("image")
    for t in threads:
        t.join(10)
    # B's two items go second and fourth, not after A's ten
    assert order == ["A0", "B0", "A1", "B1", "A2", "A3", "A4", "A5", "A6", "A7", "A8", "A9"]
    assert slots.depth()["image"] == {"waiting": 0, "running": 0}


def test_fair_slots_bound_in_flight_and_a_raised_limit_grants_waiters():
    slots = FairSlots({"qc": 2})
    inside, peak, lock, go = [0], [0], threading.Lock(), threading.Event()

    def worker(series: str) -> None:
        with slots.slot("qc", series):
            with lock:
                inside[0] += 1
                peak[0] = max(peak[0], inside[0])
            go.wait(10)
            with lock:
                inside[0] -= 1

    threads = [threading.Thread(target=worker, args=(f"s{i % 2}",)) for i in range(5)]
    for t in threads:
        t.start()
    wait_until(lambda: slots.depth()["qc"] == {"waiting": 3, "running": 2}, what="2 running, 3 waiting")
    assert peak[0] == 2
    slots.set_limit("qc", 5)  # the engine raises a limit once it has seen the cluster: waiters go in at once
    wait_until(lambda: inside[0] == 5, what="all five inside")
    go.set()
    for t in threads:
        t.join(10)
    assert slots.depth()["qc"] == {"waiting": 0, "running": 0}


def test_fair_slots_without_a_limit_never_wait():
    slots = FairSlots({"image": 1})
    barrier = threading.Barrier(4, timeout=10)  # broken (BrokenBarrierError) if any of the four had to wait
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with slots.slot("speech", "s"):
                barrier.wait()
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    assert errors == []
    with pytest.raises(RuntimeError, match="without a matching acquire"):
        slots.release("speech")
    with pytest.raises(ValueError):
        FairSlots({"image": 0})


# --- in process ----------------------------------------------------------------------------------------------------

def echo(resident, payload: dict) -> dict:
    return {"resident": resident, "payload": payload, "thread": threading.get_ident()}


def blocking(resident, payload: dict) -> dict:
    payload["entered"].set()
    payload["go"].wait(10)
    return {"resident": resident}


class FakeRenderError(RuntimeError):
    """A fake backend failure, for checking that exceptions travel as themselves."""


def raising(resident, payload: dict) -> dict:
    raise payload["error"]


def test_in_process_engine_calls_fn_with_the_resident_in_the_calling_thread():
    built: list[str] = []

    def resident(role: str) -> str:
        built.append(role)
        return f"{role}-backend"

    engine = build_engine(Settings(_env_file=None), resident)
    assert isinstance(engine, InProcessEngine) and engine.name == "in-process"
    out = engine.run("image", f"{HERE}:echo", {"shot": 3}, series="s1")
    assert out == {"resident": "image-backend", "payload": {"shot": 3}, "thread": threading.get_ident()}
    error = FakeRenderError("boom")
    with pytest.raises(FakeRenderError) as caught:
        engine.run("image", f"{HERE}:raising", {"error": error})
    assert caught.value is error  # unchanged: the graph's retry policy sees what the backend raised
    assert built == ["image", "image"]
    engine.close()


def test_in_process_engine_respects_its_limit():
    engine = InProcessEngine(lambda role: role, limits={"image": 1})
    first = {"entered": threading.Event(), "go": threading.Event()}
    second = {"entered": threading.Event(), "go": threading.Event()}
    threads = [threading.Thread(target=engine.run, args=("image", f"{HERE}:blocking", p), kwargs={"series": s})
               for p, s in ((first, "a"), (second, "b"))]
    threads[0].start()
    assert first["entered"].wait(10)
    threads[1].start()
    wait_until(lambda: engine.queue_depth()["image"] == {"waiting": 1, "running": 1}, what="one waiting")
    assert not second["entered"].is_set()
    first["go"].set()
    assert second["entered"].wait(10)
    second["go"].set()
    for t in threads:
        t.join(10)
    assert engine.queue_depth()["image"] == {"waiting": 0, "running": 0}


def test_resolve_rejects_a_path_that_is_not_module_function():
    with pytest.raises(ValueError, match="module:function"):
        resolve("tests.test_engine.echo")
    assert resolve(f"{HERE}:echo") is echo


def test_failures_travel_as_their_own_type_even_when_plain_pickling_cannot_rebuild_them():
    # DramaError takes (cause, fix) but keeps one message in args: pickle's cls(*args) cannot rebuild it
    try:
        raise DramaError("no model here", "download it")
    except DramaError as exc:
        back = Failure.of(exc).exception()
    assert type(back) is DramaError and (back.cause, back.fix) == ("no model here", "download it")
    assert any("raised in Ray worker pid" in note for note in back.__notes__)
    try:
        raise TextBackendError("server down", backend="openai", fix="start vLLM")
    except TextBackendError as exc:
        back = Failure.of(exc).exception()
    assert type(back) is TextBackendError and (back.backend, back.fix) == ("openai", "start vLLM")


# --- Ray: functions that run in the workers ------------------------------------------------------------------------

def build_probe(role: str, settings: Settings) -> dict:
    """The test builder: a 'resident' that records where and with which settings it was built."""
    import ray

    return {"role": role, "pid": os.getpid(), "node": ray.get_runtime_context().get_node_id(),
            "width": settings.width, "data_dir": str(settings.data_dir)}


def where(resident: dict, payload: dict) -> dict:
    import ray

    return {"pid": os.getpid(), "node": ray.get_runtime_context().get_node_id(), "resident": resident,
            "payload": payload}


def fail(resident: dict, payload: dict) -> dict:
    kind = payload["kind"]
    if kind == "text":
        raise TextBackendError("server went away", backend="openai", fix="start the server")
    if kind == "drama":
        raise DramaError("no pipeline on this node", "install it there")
    raise TimeoutError("render took too long")


def first_or_retry(resident: dict, payload: dict) -> dict:
    """The first execution of this payload (whoever creates `first` exclusively) blocks until `release` appears;
    any later one returns at once. Each execution leaves a marker with its pid and node."""
    import ray

    folder = Path(payload["dir"])
    me = {"pid": os.getpid(), "node": ray.get_runtime_context().get_node_id()}
    try:
        os.close(os.open(folder / "first", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return {"attempt": "retry", **me}
    (folder / "first.json").write_text(json.dumps(me))
    deadline = time.monotonic() + 60  # never outlive the test by long, even if it fails before releasing
    while not (folder / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    (folder / "first-done").write_text("done")
    return {"attempt": "first", **me}


def first_holds_its_slot(resident: dict, payload: dict) -> dict:
    """As first_or_retry, and a later execution marks `retry` before it returns (where the stalled predicate of the
    test reads that the new attempt started: its claim, in a render)."""
    folder = Path(payload["dir"])
    try:
        os.close(os.open(folder / "first", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        (folder / "retry").write_text(str(os.getpid()))
        return {"attempt": "retry", "pid": os.getpid()}
    (folder / "first.json").write_text(json.dumps({"pid": os.getpid()}))
    deadline = time.monotonic() + 60
    while not (folder / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    (folder / "first-done").write_text("done")
    return {"attempt": "first", "pid": os.getpid()}


def hang(resident: dict, payload: dict) -> dict:
    """A render that never returns (well: after a minute, so a failed test does not leave it for long)."""
    Path(payload["dir"], f"hung-{os.getpid()}").write_text("")
    time.sleep(60)
    return {"woke": os.getpid()}


def db_url_seen(resident: dict, payload: dict) -> dict:
    return {"db_url": payload.get("db_url"), "keys": sorted(payload)}


# --- Ray: the engine on the cluster --------------------------------------------------------------------------------

ROLES = {
    "cpu": {"num_cpus": 1, "actor": False},  # tasks in pooled workers, anywhere
    "render": {"num_gpus": 1, "resources": {"render_node": 1}},  # a GPU role: an actor on a worker node
    "huge": {"num_gpus": 4},  # no node has four GPU slots
}


def ray_settings(tmp_path: Path, **extra) -> Settings:
    return Settings(_env_file=None, width=321, data_dir=tmp_path / "data", ray_task_retries=3,
                    **{"ray_roles": ROLES, **extra})


def test_ray_unreachable_cluster_is_engine_unavailable_fast(tmp_path):
    pytest.importorskip("ray")
    import ray

    from dramafactory.tools.engine.ray_engine import RayEngine

    if ray.is_initialized():
        pytest.skip("this process is already connected to a Ray cluster")
    with pytest.raises(EngineUnavailable) as caught:
        RayEngine("127.0.0.1:1", ray_settings(tmp_path), f"{HERE}:build_probe", connect_timeout_s=10)
    assert "127.0.0.1:1" in caught.value.cause
    assert "DRAMAFACTORY_RAY_ADDRESS" in caught.value.fix
    assert not ray.is_initialized()


@pytest.fixture(scope="module")
def engine(ray_cluster, tmp_path_factory):
    from dramafactory.tools.engine.ray_engine import RayEngine

    settings = ray_settings(tmp_path_factory.mktemp("ray-engine"))
    engine = RayEngine(ray_cluster.address, settings, f"{HERE}:build_probe", poll_s=0.1)
    yield engine
    engine.close()


def test_ray_task_and_actor_run_fn_in_another_process_with_the_resident_built_there(engine, ray_cluster):
    out = engine.run("cpu", f"{HERE}:where", {"shot": 1}, series="s1")
    assert out["pid"] != os.getpid() and out["payload"] == {"shot": 1}
    resident = out["resident"]
    assert (resident["role"], resident["pid"], resident["width"]) == ("cpu", out["pid"], 321)
    assert resident["data_dir"] == str(engine.settings.data_dir)  # a Path setting survived the JSON round trip
    first = engine.run("render", f"{HERE}:where", {"shot": 2})
    again = engine.run("render", f"{HERE}:where", {"shot": 3})
    assert first["pid"] != os.getpid() and not ray_cluster.node_for(first["node"]).head  # on a GPU node
    assert again["pid"] == first["pid"] and again["resident"] == first["resident"]  # the actor kept its resident
    assert engine.queue_depth()["render"] == {"waiting": 0, "running": 0}


def test_ray_exception_types_survive(engine):
    with pytest.raises(TextBackendError) as text:
        engine.run("cpu", f"{HERE}:fail", {"kind": "text"})
    assert (text.value.backend, text.value.fix) == ("openai", "start the server")
    with pytest.raises(DramaError) as drama:
        engine.run("cpu", f"{HERE}:fail", {"kind": "drama"})
    assert (drama.value.cause, drama.value.fix) == ("no pipeline on this node", "install it there")
    with pytest.raises(TimeoutError, match="too long"):
        engine.run("render", f"{HERE}:fail", {"kind": "timeout"})


def test_ray_role_no_node_offers_is_engine_unavailable_naming_it(engine):
    with pytest.raises(EngineUnavailable) as caught:
        engine.run("huge", f"{HERE}:where", {})
    assert "num_gpus=4" in caught.value.cause and "huge" in caught.value.cause
    assert "--num-gpus=4" in caught.value.fix
    assert "huge" not in engine.queue_depth() or engine.queue_depth()["huge"]["running"] == 0


def test_ray_stalled_attempt_is_left_running_and_the_work_submitted_again(engine, tmp_path):
    fired = []

    def stalled() -> bool:
        if (tmp_path / "first.json").exists() and not fired:
            fired.append(True)
            return True
        return False

    out = engine.run("cpu", f"{HERE}:first_or_retry", {"dir": str(tmp_path)}, series="s2", stalled=stalled)
    assert out["attempt"] == "retry"
    first = json.loads((tmp_path / "first.json").read_text())
    assert not (tmp_path / "first-done").exists()  # the first attempt is still running: not cancelled
    os.kill(first["pid"], 0)
    assert engine.resubmits["cpu"] == 1
    assert engine.queue_depth()["cpu"]["running"] == 1  # the abandoned attempt still counts until it ends
    (tmp_path / "release").write_text("")
    wait_until(lambda: (tmp_path / "first-done").exists(), 30, "the first attempt to finish")
    wait_until(lambda: engine.queue_depth()["cpu"]["running"] == 0, 10, "the abandoned attempt to be settled")


def test_ray_stalled_actor_attempt_is_submitted_again_as_a_task_elsewhere(engine, ray_cluster, tmp_path):
    # one render actor, and it holds the stalled attempt: the work goes to a task with the same resources (on the
    # other GPU node) instead of queueing behind it
    fired = []

    def stalled() -> bool:
        if (tmp_path / "first.json").exists() and not fired:
            fired.append(True)
            return True
        return False

    out = engine.run("render", f"{HERE}:first_or_retry", {"dir": str(tmp_path)}, series="s4", stalled=stalled)
    first = json.loads((tmp_path / "first.json").read_text())
    assert out["attempt"] == "retry" and out["pid"] != first["pid"] and out["node"] != first["node"]
    assert not ray_cluster.node_for(out["node"]).head
    assert not (tmp_path / "first-done").exists()
    (tmp_path / "release").write_text("")
    wait_until(lambda: engine.queue_depth()["render"]["running"] == 0, 30, "the stalled actor call to end")
    again = engine.run("render", f"{HERE}:where", {})
    assert again["pid"] == first["pid"]  # the actor, free again, takes new work


# One slot in the whole cluster: a task that needs the head node (Ray gives only the head this resource) and its one
# CPU. Used where a resubmitted attempt must wait in Ray's queue behind the attempt it replaces.
SOLO = {"num_cpus": 1, "resources": {"node:__internal_head__": 0.001}, "actor": False}


@pytest.fixture
def shared_engine(engine):
    """Another RayEngine on the module's cluster connection (it shares it, and closing it leaves it open), with
    its own settings: made by calling the fixture's result with RayEngine's arguments."""
    from dramafactory.tools.engine.ray_engine import RayEngine

    made: list[RayEngine] = []

    def make(settings: Settings, **kwargs) -> RayEngine:
        made.append(RayEngine(engine.address, settings, f"{HERE}:build_probe", poll_s=0.05, **kwargs))
        return made[-1]

    yield make
    for other in made:
        other.close()


def test_ray_a_stall_is_resubmitted_once_while_the_new_attempt_waits_for_a_slot(shared_engine, tmp_path):
    # The predicate says "lapsed" from the moment the first attempt runs until the new attempt starts (a render's
    # claim stays lapsed until its replacement claims). The new attempt waits for the cluster's one slot, held by
    # the first: it must be submitted once, not again each time the predicate is asked.
    solo = shared_engine(ray_settings(tmp_path, ray_roles={"solo": SOLO}), max_resubmits=5)
    asked: list[bool] = []

    def stalled() -> bool:
        lapsed = (tmp_path / "first.json").exists() and not (tmp_path / "retry").exists()
        asked.append(lapsed)
        return lapsed

    result: dict = {}

    def render() -> None:
        try:
            result.update(solo.run("solo", f"{HERE}:first_holds_its_slot", {"dir": str(tmp_path)}, series="s5",
                                   stalled=stalled))
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            result["error"] = exc

    thread = threading.Thread(target=render)
    thread.start()
    wait_until(lambda: solo.resubmits.get("solo") == 1, 60, "the stall to be resubmitted")
    lapsed_polls = asked.count(True)
    wait_until(lambda: asked.count(True) >= lapsed_polls + 20, 30, "twenty more polls that see the lapse")
    assert solo.resubmits["solo"] == 1  # asked twenty times more, still one resubmission
    assert solo.queue_depth()["solo"]["running"] == 2  # the first (abandoned, running) and the queued new one
    (tmp_path / "release").write_text("")  # the first ends, its slot goes to the new attempt
    thread.join(60)
    assert not thread.is_alive()
    if "error" in result:
        raise result["error"]
    assert result["attempt"] == "retry" and solo.resubmits["solo"] == 1
    wait_until(lambda: solo.queue_depth()["solo"]["running"] == 0, 30, "the abandoned first attempt to be settled")


def test_ray_attempt_past_the_work_time_limit_is_killed_and_run_again(shared_engine, tmp_path):
    timed = shared_engine(ray_settings(tmp_path), work_timeout_s=3.0, max_resubmits=1)
    out = timed.run("cpu", f"{HERE}:first_or_retry", {"dir": str(tmp_path)}, series="s6")
    assert out["attempt"] == "retry"  # the first attempt blocks for a minute; the second returns at once
    first = json.loads((tmp_path / "first.json").read_text())
    assert timed.timeouts["cpu"] == 1 and not (tmp_path / "first-done").exists()

    def gone(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    wait_until(lambda: gone(first["pid"]), 30, "the first attempt's worker process to be killed")
    wait_until(lambda: timed.queue_depth()["cpu"]["running"] == 0, 30, "the killed attempt to be settled")


def test_ray_work_that_hangs_on_every_attempt_fails_naming_role_function_and_limit(shared_engine, tmp_path):
    from dramafactory.tools.engine import WorkLost, WorkTimedOut

    timed = shared_engine(ray_settings(tmp_path), work_timeout_s=2.0, max_resubmits=1)
    started = time.monotonic()
    with pytest.raises(WorkTimedOut) as caught:
        timed.run("cpu", f"{HERE}:hang", {"dir": str(tmp_path)}, series="s7")
    assert time.monotonic() - started < 30  # two attempts of 2 s each, not the function's minute
    assert isinstance(caught.value, WorkLost)  # transient for the graph: retried, then the run stops resumable
    message = str(caught.value)
    assert "cpu work" in message and f"{HERE}:hang" in message and "2 s" in message and "2 attempts" in message
    assert "DRAMAFACTORY_WORK_TIMEOUT_S" in caught.value.fix
    hung = [int(p.name.removeprefix("hung-")) for p in tmp_path.glob("hung-*")]
    assert len(hung) == 2
    for pid in hung:
        wait_until(lambda p=pid: not Path(f"/proc/{p}").exists(), 30, f"hung worker {pid} to be killed")
    wait_until(lambda: timed.queue_depth()["cpu"]["running"] == 0, 30, "the killed attempts to be settled")


def test_ray_actor_call_past_the_work_time_limit_restarts_the_actor_and_runs_elsewhere(shared_engine, tmp_path):
    # an actor call cannot be force-cancelled: the actor is killed (Ray restarts it) and the item goes to a task
    # with the role's resources, as for a stall
    roles = {"solo-actor": {"num_cpus": 0, "resources": {"node:__internal_head__": 0.001}, "actor": True}}
    timed = shared_engine(ray_settings(tmp_path, ray_roles=roles), work_timeout_s=3.0, max_resubmits=1)
    out = timed.run("solo-actor", f"{HERE}:first_or_retry", {"dir": str(tmp_path)}, series="s8")
    first = json.loads((tmp_path / "first.json").read_text())
    assert out["attempt"] == "retry" and out["pid"] != first["pid"] and timed.timeouts["solo-actor"] == 1
    wait_until(lambda: not Path(f"/proc/{first['pid']}").exists(), 30, "the hung actor's process to be killed")
    wait_until(lambda: timed.queue_depth()["solo-actor"]["running"] == 0, 30, "the killed call to be settled")
    again = timed.run("solo-actor", f"{HERE}:where", {})  # the restarted actor takes new work
    assert again["pid"] not in (first["pid"], os.getpid())


def test_ray_database_url_never_travels_in_task_arguments(shared_engine, tmp_path):
    import ray

    url = "postgresql://factory:s3cret-pw@db.example:5432/factory"
    engine = shared_engine(ray_settings(tmp_path, database_url=url, api_keys="t1:k3y-of-t1"))
    submitted: list[tuple] = []

    class Recording:  # the task submit path: records every argument the driver hands Ray
        def __init__(self, real):
            self.real = real

        def options(self, **options):
            sub = self.real.options(**options)

            class Submit:
                @staticmethod
                def remote(*args):
                    submitted.append(args)
                    return sub.remote(*args)

            return Submit()

    engine._task = Recording(engine._task)
    payload = {"run_id": "r1", "db_url": url, "shot": 1}
    out = engine.run("cpu", f"{HERE}:db_url_seen", payload)
    assert out == {"db_url": url, "keys": ["db_url", "run_id", "shot"]}  # the worker's payload has it back
    assert payload["db_url"] == url  # the caller's dict is left alone
    assert len(submitted) == 1
    for arg in submitted[0]:
        text = repr(arg) + (json.dumps(arg) if isinstance(arg, dict) else "")
        assert "s3cret" not in text and "k3y" not in text and "db.example" not in text
    sent = submitted[0][5]
    assert sent["db_url"].startswith("ray-engine-secret:") and sent["shot"] == 1
    settings_sent = ray.get(engine._settings_ref)  # the settings every task gets: no database URL, no keys
    assert "database_url" not in settings_sent and "api_keys" not in settings_sent


def test_sealed_payloads_keep_secrets_by_marker_and_workers_resolve_them():
    from dramafactory.tools.engine.worker_secrets import Secrets, unsealed

    published: list[dict] = []

    def put(value: dict) -> int:
        published.append(value)
        return len(published) - 1  # the "reference": an index into what was published

    secrets = Secrets(put)
    plain, ref = secrets.sealed({"shot": 1, "db_url": None})
    assert plain == {"shot": 1, "db_url": None} and published[ref] == {}
    a = "postgresql://u:pw-a@h/a"
    sealed_a, ref_a = secrets.sealed({"db_url": a})
    again, ref_again = secrets.sealed({"db_url": a})
    assert again == sealed_a and ref_again == ref_a  # a URL seen before publishes nothing new
    sealed_b, ref_b = secrets.sealed({"db_url": "sqlite:///x.db"})
    assert "pw-a" not in json.dumps([sealed_a, sealed_b])
    assert unsealed(sealed_a, published[ref_b]) == {"db_url": a}  # a later table still resolves earlier markers
    assert unsealed(sealed_b, published[ref_b]) == {"db_url": "sqlite:///x.db"}
    with pytest.raises(RuntimeError, match="not given"):
        unsealed(sealed_b, published[ref_a])


def test_ray_worker_node_killed_mid_task_is_retried_on_the_other_node(engine, ray_cluster, tmp_path):
    # last of the Ray tests: it leaves the cluster one worker node short
    result: dict = {}

    def render() -> None:
        try:
            result.update(engine.run("render", f"{HERE}:first_or_retry", {"dir": str(tmp_path)}, series="s3"))
        except BaseException as exc:  # noqa: BLE001 - re-raised by the test below
            result["error"] = exc

    thread = threading.Thread(target=render)
    thread.start()
    wait_until(lambda: (tmp_path / "first.json").exists(), 60, "the first attempt to start")
    first = json.loads((tmp_path / "first.json").read_text())
    node = ray_cluster.node_for(first["node"])
    assert not node.head and node.raylet_pid() is not None
    killed = ray_cluster.kill(node)  # its raylet, agents and the actor's worker, by pid
    assert first["pid"] in killed
    thread.join(120)
    assert not thread.is_alive()
    if "error" in result:
        raise result["error"]
    assert result["attempt"] == "retry" and result["node"] != first["node"]
    assert not ray_cluster.node_for(result["node"]).head
    assert not node.alive
