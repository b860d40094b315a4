"""A real multi-node Ray cluster on this machine for tests: a head and worker nodes started with `ray start`.

`ray.cluster_utils.Cluster` hung for minutes here (../shared/scale-notes.md), so the nodes are started the way an
operator starts them: `ray start --head`, then `ray start --address=HEAD` per worker node, each node with its own
--temp-dir and every port it listens on chosen free (other sessions on this machine run Ray clusters too). Worker
nodes declare GPU slots (`--num-gpus=1`: slots, not real cards) and a custom resource, so GPU placement, resource
checks and node death can be tested on a CPU machine.

Processes are found and ended by their ids, never by name: each `ray start` runs in a session of its own
(start_new_session), and every process of that node (raylet, agents, log monitor, its Ray workers and actors)
keeps that session id; a node's raylet is also found from the node manager port it listens on (`ss -ltnp`).
`ray stop` is never used: it ends every Ray process of the machine by name, other sessions' clusters included.

    with RayCluster() as cluster, cluster.driver_env():
        ray.init(address=cluster.address)
        node = cluster.node_for(ray.get_runtime_context().get_node_id())
        cluster.kill(node)                          # that node dies: SIGKILL to each of its pids

`ray_cluster_fixture` is a module-scoped pytest fixture (import it into a test module: `from .ray_cluster import
ray_cluster_fixture`; tests then take `ray_cluster`): one cluster shared by the module's tests, the driver
environment applied, any driver connection shut down and every process it started ended at teardown.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

RAY_BIN = Path(sys.executable).with_name("ray")


def unavailable() -> str | None:
    """Why a Ray cluster cannot be started here, or None."""
    try:
        import ray  # noqa: F401 - only checking that it is installed
    except ImportError as exc:
        return f"ray is not installed ({exc}); pip install '.[scale]'"
    if not RAY_BIN.exists():
        return f"no `ray` command next to {sys.executable}"
    if shutil.which("ss") is None:
        return "no `ss` (iproute2) to map a node's port to its process"
    return None


def free_port() -> int:
    # Ray binds on all interfaces, so probe there (a port free on loopback only could still be taken)
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


def session_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # field 6 is the session id; the command name (field 2, in parentheses) may itself contain spaces
    return int(stat[stat.rindex(")") + 2:].split()[3])


def pids_in_session(sid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid() and session_of(int(entry.name)) == sid:
            pids.append(int(entry.name))
    return sorted(pids)


def pid_listening_on(port: int) -> int | None:
    """The process listening on a TCP port, from `ss -ltnp`."""
    out = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, check=False).stdout
    found = re.search(r"pid=(\d+),", out)
    return int(found.group(1)) if found else None


def _reload_ray_config() -> None:
    """Make an already imported Ray see RAY_AUTH_MODE / RAY_AUTH_TOKEN as now set: Ray reads its config from the
    environment once, at import (any earlier test module may have imported it), and caches the token; this is
    what Ray itself does when it turns token auth on in a running process."""
    try:
        from ray._private.authentication.authentication_token_setup import AuthenticationTokenLoader, Config
    except ImportError:
        return
    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()


@dataclass
class RayNode:
    """One node: its `ray start` arguments, its temp dir, and the session its processes belong to."""

    name: str
    head: bool
    temp_dir: Path
    node_manager_port: int
    args: list[str]
    session: int | None = None  # the pid of its `ray start`, which every process of the node keeps as its sid
    log: Path | None = None

    def pids(self) -> list[int]:
        return pids_in_session(self.session) if self.session else []

    def raylet_pid(self) -> int | None:
        pid = pid_listening_on(self.node_manager_port)
        return pid if pid is not None and pid in self.pids() else None

    @property
    def alive(self) -> bool:
        return self.raylet_pid() is not None


@dataclass
class RayCluster:
    workers: int = 2
    head_cpus: float = 1
    worker_cpus: float = 1
    worker_gpus: float = 1
    worker_resources: dict[str, float] = field(default_factory=lambda: {"render_node": 1})
    start_timeout_s: float = 120.0
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="dfray-", dir="/tmp")))

    def __post_init__(self) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        # Token auth on, one token for the whole cluster and its drivers: a node or driver with another
        # RAY_AUTH_MODE fails with InvalidAuthToken. The token is passed in the environment, so ~/.ray is untouched.
        self.env = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}
        # A killed node is declared dead after ~3 s instead of Ray's ~30 s, so node-death tests stay short.
        self._cluster_env = {**self.env, "RAY_health_check_period_ms": "1000", "RAY_health_check_timeout_ms": "1000",
                             "RAY_health_check_failure_threshold": "3", "RAY_health_check_initial_delay_ms": "1000"}
        self.head = self._node("head", head=True, extra=[f"--port={self.port}", f"--num-cpus={self.head_cpus:g}",
                                                           "--num-gpus=0", "--include-dashboard=false",
                                                           f"--ray-client-server-port={free_port()}",
                                                           f"--dashboard-port={free_port()}"])
        resources = json.dumps(self.worker_resources)
        self.worker_nodes = [self._node(f"w{i + 1}", head=False,
                                        extra=[f"--address={self.address}", f"--num-cpus={self.worker_cpus:g}",
                                               f"--num-gpus={self.worker_gpus:g}", f"--resources={resources}"])
                             for i in range(self.workers)]

    def _node(self, name: str, *, head: bool, extra: list[str]) -> RayNode:
        temp_dir = self.root / name
        manager = free_port()
        args = [str(RAY_BIN), "start", *(["--head"] if head else []), *extra, "--disable-usage-stats",
                f"--temp-dir={temp_dir}", "--object-store-memory=80000000", f"--node-manager-port={manager}",
                f"--object-manager-port={free_port()}", f"--dashboard-agent-listen-port={free_port()}",
                f"--dashboard-agent-grpc-port={free_port()}", f"--runtime-env-agent-port={free_port()}",
                f"--metrics-export-port={free_port()}"]
        return RayNode(name, head, temp_dir, manager, args)

    @property
    def nodes(self) -> list[RayNode]:
        return [self.head, *self.worker_nodes]

    # --- lifecycle ---------------------------------------------------------------------------------------------------
    def start(self) -> RayCluster:
        try:
            for node in self.nodes:
                self.start_node(node)
        except BaseException:
            self.stop()
            raise
        return self

    def start_node(self, node: RayNode) -> None:
        """Start (or restart, after kill) one node; returns once `ray start` has."""
        node.temp_dir.mkdir(parents=True, exist_ok=True)
        node.log = node.temp_dir.with_suffix(".log")
        with node.log.open("ab") as log:
            proc = subprocess.Popen(node.args, env={**os.environ, **self._cluster_env}, stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
            node.session = proc.pid
            try:
                code = proc.wait(timeout=self.start_timeout_s)
            except subprocess.TimeoutExpired:
                self.kill(node)
                raise RuntimeError(f"`ray start` for {node.name} did not finish in {self.start_timeout_s:.0f} s; "
                                   f"log: {node.log}") from None
        if code != 0:
            tail = node.log.read_text(errors="replace")[-2000:]
            self.kill(node)
            raise RuntimeError(f"`ray start` for {node.name} failed ({code}):\n{tail}")

    def kill(self, node: RayNode, sig: int = signal.SIGKILL) -> list[int]:
        """Send `sig` to every process of a node, by pid (a SIGKILL is a node dying: power cut, OOM kill)."""
        pids = node.pids()
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        return pids

    def restart(self, node: RayNode) -> None:
        self.kill(node)
        self._wait_gone(node, 10.0)
        self.start_node(node)

    def stop(self) -> None:
        """End every process this cluster started: SIGTERM, then SIGKILL for what is left after 2 s (a head drains
        for ~10 s on SIGTERM, and a test cluster has nothing worth draining); worker nodes first (a head going
        first makes them log reconnect errors)."""
        for node in reversed(self.nodes):
            self.kill(node, signal.SIGTERM)
        deadline = time.monotonic() + 2.0
        for node in reversed(self.nodes):
            if not self._wait_gone(node, max(0.0, deadline - time.monotonic())):
                self.kill(node, signal.SIGKILL)
                self._wait_gone(node, 5.0)
        shutil.rmtree(self.root, ignore_errors=True)

    def _wait_gone(self, node: RayNode, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while node.pids():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def __enter__(self) -> RayCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- from a connected driver -------------------------------------------------------------------------------------
    @contextmanager
    def driver_env(self) -> Iterator[dict[str, str]]:
        """This process's environment set as a driver of this cluster needs it (same auth mode and token)."""
        saved = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        _reload_ray_config()
        try:
            yield self.env
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            _reload_ray_config()

    def node_for(self, node_id: str) -> RayNode:
        """Our node with this Ray node id (ray.nodes() gives each node's manager port, which we chose)."""
        import ray

        for info in ray.nodes():
            if info["NodeID"] == node_id:
                for node in self.nodes:
                    if node.node_manager_port == info["NodeManagerPort"]:
                        return node
        raise KeyError(f"no node of this cluster has id {node_id}")

    def wait_alive(self, count: int, timeout_s: float = 30.0) -> None:
        """Until the connected driver sees `count` live nodes (a killed node is declared dead after a few
        seconds; a restarted one registers after its `ray start`)."""
        import ray

        deadline = time.monotonic() + timeout_s
        while sum(1 for n in ray.nodes() if n["Alive"]) != count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the cluster did not reach {count} live nodes in {timeout_s:.0f} s")
            time.sleep(0.2)


@pytest.fixture(scope="module", name="ray_cluster")
def ray_cluster_fixture() -> Iterator[RayCluster]:
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    import ray

    with RayCluster() as cluster, cluster.driver_env():
        try:
            yield cluster
        finally:
            if ray.is_initialized():
                ray.shutdown()  # before the nodes go, or the driver logs reconnect errors for a minute
