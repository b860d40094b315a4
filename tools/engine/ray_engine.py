"""The Ray engine: render, QC, speech and clip work on a Ray cluster (DRAMAFACTORY_RAY_ADDRESS; docs/scale.md).

A role that uses a GPU (or is configured `actor: true`) runs in long-lived actors that hold its resident (a loaded
pipeline) and are restarted on death; any other role runs as tasks in Ray's pooled worker processes, each of which
builds the role's resident once and keeps it. Execution is at-least-once (a retried task reruns from the start, and
an abandoned attempt keeps running): the shot ledger, not this module, makes a commit exactly-once.

Placement is checked against the live cluster before the first submit of a role: a task asking for a resource no
node offers would stay pending forever, which is the failure this engine refuses to produce.

A stalled item (its claim's lease ran out: `stalled`) is submitted again once per stall, not once per lease period
while the new attempt waits for a slot; an attempt past the work time limit (DRAMAFACTORY_WORK_TIMEOUT_S) has its
worker killed and the item submitted again; the shot ledger's database URL never travels in task arguments
(worker_secrets.py).
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dramafactory.config import RayRoleOptions, Settings

from .base import EngineUnavailable, Failure, FairSlots, WorkLost, WorkTimedOut, resolve, settings_key
from .worker_secrets import WORKER_OMITS, Secrets, unsealed

log = logging.getLogger(__name__)

DEFAULT_BUILDER = "dramafactory.graphs.work:build_role"

ADDRESS_SETTING = "DRAMAFACTORY_RAY_ADDRESS"
ROLES_SETTING = "DRAMAFACTORY_RAY_ROLES"
TIMEOUT_SETTING = "DRAMAFACTORY_WORK_TIMEOUT_S"


# --- the worker side: runs in Ray worker processes and actors ---------------------------------------------------------

_RESIDENTS: dict[tuple[str, str, str], Any] = {}
_RESIDENTS_LOCK = threading.Lock()


def _resident(builder: str, role: str, settings_json: dict, key: str) -> Any:
    """The role's resident in this worker process, built on first use and kept: a pooled Ray worker serves many
    tasks, and loading a backend per task would dominate. Keyed by the settings too, since one cluster can serve
    runs with different settings."""
    cache_key = (builder, role, key)
    with _RESIDENTS_LOCK:
        if cache_key not in _RESIDENTS:
            _RESIDENTS[cache_key] = resolve(builder)(role, Settings.model_validate(settings_json))
        return _RESIDENTS[cache_key]


def execute(builder: str, role: str, settings_json: dict, key: str, fn: str, payload: dict,
            secrets: dict[str, str] | None = None) -> Any:
    """A Ray task: fn(resident, payload), an exception returned as a Failure (see there). `secrets`: the values
    the driver took out of the payload (worker_secrets.py), put back here, in this process only."""
    try:
        return resolve(fn)(_resident(builder, role, settings_json, key), unsealed(payload, secrets or {}))
    except Exception as exc:  # noqa: BLE001 - carried to the driver and raised there as itself
        return Failure.of(exc)


class RoleActor:
    """A long-lived holder of one role's resident (a GPU pipeline stays loaded between calls). The resident is
    built on the first call, not in __init__: an exception in an actor's constructor kills the actor for good,
    while one in a call reaches the graph as itself and the next call tries again."""

    def __init__(self, builder: str, role: str, settings_json: dict, key: str):
        self.builder, self.role, self.settings_json, self.key = builder, role, settings_json, key

    def call(self, fn: str, payload: dict, secrets: dict[str, str] | None = None) -> Any:
        return execute(self.builder, self.role, self.settings_json, self.key, fn, payload, secrets)


# --- the driver side ------------------------------------------------------------------------------------------------

def _ray():
    try:
        import ray
    except ImportError as exc:
        raise EngineUnavailable(f"{ADDRESS_SETTING} is set but Ray is not installed ({exc})",
                                "pip install 'dramafactory[scale]' on every node (the same Ray version everywhere), "
                                f"or unset {ADDRESS_SETTING} to run work in this process") from exc
    return ray


def _probe_target(address: str) -> tuple[str, int] | None:
    """The host and port a TCP probe can try before ray.init, which otherwise retries an unreachable GCS for
    minutes. None: nothing to probe ("local" starts a cluster here)."""
    if address == "local":
        return None
    target = address.removeprefix("ray://")
    if address == "auto":
        try:
            from ray._private.services import canonicalize_bootstrap_address_or_die  # where ray.init looks too
            target = canonicalize_bootstrap_address_or_die("auto")
        except ConnectionError as exc:
            raise EngineUnavailable(f"no Ray cluster found on this machine ({ADDRESS_SETTING}=auto: {exc})",
                                    "start one with `ray start --head` (or join one with `ray start --address="
                                    f"HEAD:6379`), or set {ADDRESS_SETTING}=HOST:6379") from exc
        except ImportError:
            return None  # a Ray without that helper: ray.init's own timeout below still bounds the wait
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit():
        raise EngineUnavailable(f"{ADDRESS_SETTING}={address!r} is not a Ray address",
                                f"set {ADDRESS_SETTING} to auto, HOST:6379 (the head) or ray://HOST:10001 (Ray Client)")
    return host.strip("[]"), int(port)


class _Unreachable(Exception):
    """An actor call refused because the actor cannot be reached for now (run() submits again)."""


@dataclass
class _Role:
    name: str
    options: RayRoleOptions
    actors: list[Any] = field(default_factory=list)
    busy: list[int] = field(default_factory=list)  # attempts in flight per actor, abandoned ones included
    next_actor: int = 0  # round-robin among equally busy actors


@dataclass
class _Attempt:
    ref: Any
    actor: int | None  # index of the actor it went to; None: a task
    deadline: float | None = None  # monotonic time past which it is killed (the work time limit); None: no limit
    killed: bool = False  # killed for the time limit already (an abandoned attempt is reaped, not killed twice)


class RayEngine:
    name = "ray"

    def __init__(self, address: str, settings: Settings, builder: str = DEFAULT_BUILDER, *,
                 connect_timeout_s: float = 30.0, poll_s: float = 0.5, max_resubmits: int | None = None,
                 recover_s: float = 120.0, work_timeout_s: float | None = None):
        self.address, self.settings, self.builder, self.poll_s = address, settings, builder, poll_s
        # How many times one item is submitted again, for stalls and time-outs together (each costs a slot)
        self.max_resubmits = max(1, settings.ray_task_retries) if max_resubmits is None else max_resubmits
        # The most one attempt may take, from its submission to Ray (its wait for a slot included): past it, its
        # worker is killed. getattr: the setting may not exist in an older config.
        limit = work_timeout_s if work_timeout_s is not None else getattr(settings, "work_timeout_s", None)
        if limit is not None and limit <= 0:
            raise ValueError(f"work_timeout_s must be positive, got {limit}")
        self.work_timeout_s: float | None = limit
        self.timeouts: dict[str, int] = {}  # per role: attempts killed for the time limit
        self.recover_s = recover_s  # how long an actor may stay unreachable (node dying, restarting): then lost
        self.slots = FairSlots(settings.engine_max_in_flight)
        self.resubmits: dict[str, int] = {}
        self._explicit_limits = set(settings.engine_max_in_flight)
        self._roles: dict[str, _Role] = {}
        self._running: dict[str, int] = {}
        self._abandoned: list[tuple[str, _Attempt]] = []
        self._lock = threading.RLock()
        self._ray = _ray()
        self._owns_ray = self._connect(connect_timeout_s)
        # the settings travel once, as a JSON dict in the object store; workers rebuild them with model_validate.
        # Without the secrets no worker reads (the database URL, the service's keys): they need not travel.
        settings_json = settings.model_dump(mode="json", exclude=set(WORKER_OMITS))
        self._settings_key, self._settings_ref = settings_key(settings_json), self._ray.put(settings_json)
        self._secrets = Secrets(self._ray.put)
        self._task, self._actor_cls = self._ray.remote(execute), self._ray.remote(RoleActor)

    # --- connecting ----------------------------------------------------------------------------------------------
    def _unreachable(self, why: str) -> EngineUnavailable:
        return EngineUnavailable(
            f"cannot reach the Ray cluster at {self.address!r}: {why}",
            f"start the head there (`ray start --head --port=6379`) and check the address and firewall, or fix "
            f"{ADDRESS_SETTING} (auto, HOST:6379 or ray://HOST:10001); this process needs the cluster's "
            "RAY_AUTH_MODE and token (RAY_AUTH_TOKEN or ~/.ray/auth_token); unset it to run work in this process")

    def _connect(self, timeout_s: float) -> bool:
        ray = self._ray
        if ray.is_initialized():
            return False  # another engine (or the caller) connected this process: share it, never shut it down
        target = _probe_target(self.address)
        if target is not None:
            try:
                socket.create_connection(target, timeout=min(timeout_s, 5.0)).close()
            except OSError as exc:
                raise self._unreachable(f"{target[0]}:{target[1]} does not answer ({exc})") from exc
        outcome: dict[str, BaseException] = {}
        given_up = threading.Event()

        def init() -> None:
            try:
                ray.init(address=self.address, namespace="dramafactory", ignore_reinit_error=True,
                         log_to_driver=False)
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread, which raises it
                outcome["error"] = exc
            else:
                if given_up.is_set():  # connected after we reported it unreachable: nobody owns this connection
                    ray.shutdown()

        # ray.init retries a silent GCS for minutes: bound it with a thread we can stop waiting for
        thread = threading.Thread(target=init, name="ray-init", daemon=True)
        thread.start()
        thread.join(timeout_s)
        if thread.is_alive():
            given_up.set()
            raise self._unreachable(f"no answer within {timeout_s:.0f} s (is it a Ray head, same Ray version, same "
                                    "RAY_AUTH_MODE and token?)")
        if "error" in outcome:
            raise self._unreachable(f"{type(outcome['error']).__name__}: {outcome['error']}") from outcome["error"]
        return True

    # --- placement -------------------------------------------------------------------------------------------------
    def _demand(self, options: RayRoleOptions) -> dict[str, float]:
        demand = {"CPU": options.num_cpus, "GPU": options.num_gpus, **options.resources}
        return {k: v for k, v in demand.items() if v > 0}

    def _role(self, role: str) -> _Role:
        with self._lock:
            known = self._roles.get(role)
            if known is not None:
                return known
            options = self.settings.ray_roles.get(role, RayRoleOptions())
            use_actor = options.actor if options.actor is not None else options.num_gpus > 0
            capacity = self._check(role, options, use_actor)
            entry = _Role(role, options)
            if use_actor:
                for _ in range(options.actors):
                    entry.actors.append(self._actor_cls.options(
                        num_cpus=options.num_cpus, num_gpus=options.num_gpus, resources=options.resources or None,
                        max_restarts=-1, max_task_retries=self.settings.ray_task_retries, max_concurrency=1,
                    ).remote(self.builder, role, self._settings_ref, self._settings_key))
                    entry.busy.append(0)
            if role not in self._explicit_limits:
                # Keep about two items per slot in Ray's hands (the next one queued where it runs, so a GPU never
                # waits a round trip) and the rest in FairSlots, where series take turns; Ray's own queue is FIFO.
                slots = options.actors if use_actor else capacity
                # Under a work time limit an actor gets one call at a time: a call queued behind another on the
                # actor would have its clock (counted from submission) run while it waits.
                per_slot = 1 if use_actor and self.work_timeout_s is not None else 2
                self.slots.set_limit(role, None if slots is None else per_slot * max(1, slots))
            self._roles[role] = entry
            return entry

    def _check(self, role: str, options: RayRoleOptions, use_actor: bool) -> int | None:
        """How many of this role's items fit the cluster at once (None: no resource asked), or EngineUnavailable
        naming what no node offers. Per node, not in total: one item's CPUs, GPUs and resources must sit on one
        node."""
        demand = self._demand(options)
        if not demand:
            return None
        nodes = [n.get("Resources", {}) for n in self._ray.nodes() if n.get("Alive")]
        fits = [int(min(res.get(k, 0.0) / v for k, v in demand.items()) + 1e-9) for res in nodes]
        want = ", ".join(f"num_gpus={v:g}" if k == "GPU" else f"num_cpus={v:g}" if k == "CPU" else f"{k}={v:g}"
                         for k, v in demand.items())
        flags = " ".join([f"--num-cpus={options.num_cpus:g}"] * (options.num_cpus > 0)
                         + [f"--num-gpus={options.num_gpus:g}"] * (options.num_gpus > 0)
                         + ([f"--resources='{json.dumps(options.resources, separators=(',', ':'))}'"] if options.resources else []))
        if not any(fits):
            totals = self._ray.cluster_resources()
            offered = ", ".join(f"{k}={totals[k]:g}" for k in ("CPU", "GPU", *options.resources) if k in totals)
            raise EngineUnavailable(
                f"no node of the Ray cluster at {self.address!r} offers {want} for role {role} (the cluster has "
                f"{offered or 'none of these'}); its work would wait forever",
                f"start a node with `ray start --address=HEAD:6379 {flags}`, or change {role!r} in {ROLES_SETTING}")
        capacity = sum(fits)
        if use_actor and options.actors > capacity:
            raise EngineUnavailable(
                f"role {role} asks for {options.actors} actors of {want} but the Ray cluster at {self.address!r} "
                f"fits {capacity}; the others would never start",
                f"add nodes (`ray start --address=HEAD:6379 {flags}`) or lower {role}.actors in {ROLES_SETTING}")
        return capacity

    # --- running ---------------------------------------------------------------------------------------------------
    def run(self, role: str, fn: str, payload: dict, *, series: str = "",
            stalled: Callable[[], bool] | None = None) -> dict:
        entry = self._role(role)
        with self.slots.slot(role, series):
            avoid: set[int] = set()  # actors holding an abandoned attempt of this item
            attempt: _Attempt | None = self._submit(entry, fn, payload, avoid)
            resubmitted, unreachable_since = 0, None
            # A lapsed claim counts once per attempt: `stalled()` stays True after a resubmission until the new
            # attempt claims, and that attempt may wait minutes for a slot. So after a resubmission a True is not
            # acted on until the predicate has said False (the new attempt claimed, or the claim was given back or
            # committed); a True after that is a new stall. The first attempt may be replaced at its first lapse.
            armed, disarmed_at = True, 0.0
            # ...unless the new attempt has not claimed for this long (it may never be scheduled, or hang before it
            # claims): then a lapse counts again, so the budget ends the wait with WorkLost instead of never
            rearm_s = 3 * self.settings.shot_lease_ttl_s
            try:
                while True:
                    ready, _ = self._ray.wait([attempt.ref], timeout=self.poll_s)
                    if ready:
                        finished, attempt = attempt, None
                        self._settle(role, finished)
                        try:
                            return self._result(role, ready[0])
                        except _Unreachable as exc:
                            # Ray spends an actor task's retries in the seconds before the actor's node is declared
                            # dead (each push is refused at once); once it is, the actor restarts elsewhere and a
                            # new call waits for it. So: submit again, for up to recover_s, without counting.
                            unreachable_since = unreachable_since or time.monotonic()
                            if time.monotonic() - unreachable_since > self.recover_s:
                                raise WorkLost(f"{role} actor unreachable for {self.recover_s:.0f} s: {exc}") from exc
                            log.info("%s actor unreachable (its node may be dying): submitting again", role)
                            time.sleep(self.poll_s)
                            attempt = self._submit(entry, fn, payload, set())
                            continue
                    if attempt.deadline is not None and time.monotonic() >= attempt.deadline:
                        # a hung attempt in a live process renews its claim forever: kill its worker (its claim
                        # keeper goes with it) and run the item elsewhere, within the resubmission budget
                        self._kill(role, attempt)
                        self._abandon(role, attempt, cancel=False)
                        # not avoided: a killed actor is restarted by Ray and takes the retry (a task beside it may
                        # never find a GPU while the actors hold them all)
                        if resubmitted >= self.max_resubmits:
                            attempt = None  # killed and abandoned: nothing left in flight
                            raise WorkTimedOut(
                                f"{role} work {fn} (series {series!r}) ran past the work time limit of "
                                f"{self.work_timeout_s:g} s on {resubmitted + 1} attempts; each was killed",
                                f"raise {TIMEOUT_SETTING} if such work can take longer, else find why it hangs "
                                "(the worker logs under /tmp/ray/session_latest/logs), then resume the run")
                        resubmitted += 1
                        log.warning("%s work %s (series %r) ran past %g s: worker killed, submitted again (%d)",
                                    role, fn, series, self.work_timeout_s, resubmitted)
                        attempt = self._submit(entry, fn, payload, avoid)
                        armed, disarmed_at = False, time.monotonic()  # the killed worker's claim lapses a lease
                        continue  # later: that is not a new stall
                    if stalled is None:
                        continue
                    if not stalled():
                        armed = True
                        continue
                    if not armed and time.monotonic() - disarmed_at < rearm_s:
                        continue
                    if resubmitted >= self.max_resubmits:
                        raise WorkLost(f"{role} work {fn} stalled again after {resubmitted} resubmissions; the "
                                       "attempts are left running, the run can retry later")
                    resubmitted += 1
                    with self._lock:
                        self.resubmits[role] = self.resubmits.get(role, 0) + 1
                    log.warning("%s work %s (series %r) stalled: attempt left running, submitted again (%d)", role,
                                fn, series, resubmitted)
                    self._abandon(role, attempt)
                    if attempt.actor is not None:
                        avoid.add(attempt.actor)
                    attempt = self._submit(entry, fn, payload, avoid)
                    armed, disarmed_at = False, time.monotonic()
            finally:
                if attempt is not None:  # left by an exception (or an interrupt) while still in flight
                    self._abandon(role, attempt, cancel=False)

    def _submit(self, entry: _Role, fn: str, payload: dict, avoid: set[int]) -> _Attempt:
        # the database URL stays out of the task's arguments: a marker in the payload, the URL by reference
        sent, secrets = self._secrets.sealed(payload)
        deadline = None if self.work_timeout_s is None else time.monotonic() + self.work_timeout_s
        with self._lock:
            self._reap()
            self._running[entry.name] = self._running.get(entry.name, 0) + 1
            free = [i for i in range(len(entry.actors)) if i not in avoid]
            if free:
                # least busy first; among equals, round-robin from where the last pick left off
                start = entry.next_actor
                pick = min(free, key=lambda i: (entry.busy[i], (i - start) % len(entry.actors)))
                entry.next_actor = (pick + 1) % len(entry.actors)
                entry.busy[pick] += 1
                return _Attempt(entry.actors[pick].call.remote(fn, sent, secrets), pick, deadline)
        # a task role, or every actor holds an abandoned attempt: a one-off task with the role's resources (it
        # builds its own resident in a pooled worker) rather than queueing behind a stalled actor
        o = entry.options
        ref = self._task.options(num_cpus=o.num_cpus, num_gpus=o.num_gpus, resources=o.resources or None,
                                 max_retries=self.settings.ray_task_retries, retry_exceptions=False,
                                 name=f"dramafactory:{entry.name}").remote(
            self.builder, entry.name, self._settings_ref, self._settings_key, fn, sent, secrets)
        return _Attempt(ref, None, deadline)

    def _abandon(self, role: str, attempt: _Attempt, *, cancel: bool = True) -> None:
        """Stop waiting for an attempt; it keeps running and is settled by _reap once it ends."""
        if cancel and attempt.actor is not None:
            # an actor task that is running is never interrupted by cancel (actors keep state); one still queued at
            # the actor is dropped. A plain task is NOT cancelled: cancel raises KeyboardInterrupt in a running
            # task, and the rule is to leave the stalled attempt alone (its late commit is fenced).
            self._ray.cancel(attempt.ref, force=False, recursive=False)
        with self._lock:
            self._abandoned.append((role, attempt))

    def _kill(self, role: str, attempt: _Attempt) -> None:
        """End an attempt past the work time limit by killing the process that runs it: a Python thread cannot be
        interrupted, and a hung render's claim keeper (a thread of that process) would renew its claim forever."""
        if attempt.killed:
            return
        attempt.killed = True
        with self._lock:
            self.timeouts[role] = self.timeouts.get(role, 0) + 1
            entry = self._roles.get(role)
        try:
            if attempt.actor is None:
                # a task: force=True ends its worker process (SIGKILL, a stopped one too); not retried by Ray
                self._ray.cancel(attempt.ref, force=True, recursive=False)
            else:
                # an actor call cannot be force-cancelled: cancel it (so the restarted actor does not run it
                # again), then kill the actor, which Ray restarts (max_restarts=-1) with a fresh resident. Calls
                # queued behind the hung one are rerun on the restarted actor under max_task_retries.
                self._ray.cancel(attempt.ref, force=False, recursive=False)
                if entry is not None:
                    self._ray.kill(entry.actors[attempt.actor], no_restart=False)
        except Exception:  # noqa: BLE001 - already ended, or its node is gone: either way it is not running
            log.debug("could not kill a %s attempt past the time limit", role, exc_info=True)

    def _settle(self, role: str, attempt: _Attempt) -> None:
        with self._lock:
            self._running[role] -= 1
            entry = self._roles.get(role)
            if attempt.actor is not None and entry is not None:
                entry.busy[attempt.actor] -= 1

    def _reap(self) -> None:
        """Settle abandoned attempts that have ended since (their actor is free again), and kill those past the
        work time limit (a stalled attempt is left running, but not for longer than any attempt may run)."""
        if not self._abandoned:
            return
        done, _ = self._ray.wait([a.ref for _, a in self._abandoned], num_returns=len(self._abandoned), timeout=0)
        finished = set(done)  # ObjectRefs hash and compare by their id
        for role, attempt in [x for x in self._abandoned if x[1].ref in finished]:
            self._abandoned.remove((role, attempt))
            self._settle(role, attempt)
        now = time.monotonic()
        for role, attempt in list(self._abandoned):
            if attempt.deadline is not None and now >= attempt.deadline and not attempt.killed:
                log.warning("an abandoned %s attempt ran past %g s: its worker is killed", role, self.work_timeout_s)
                self._kill(role, attempt)

    def _result(self, role: str, ref: Any) -> dict:
        exceptions = self._ray.exceptions
        try:
            value = self._ray.get(ref)
        except exceptions.RayTaskError as exc:
            cause = exc.cause  # the worker's own exception, where Ray could carry it
            if isinstance(cause, BaseException) and not isinstance(cause, exceptions.RayError):
                raise cause from None
            raise WorkLost(f"{role} work failed in Ray: {exc}") from exc
        except (exceptions.TaskUnschedulableError, exceptions.ActorUnschedulableError,
                exceptions.RuntimeEnvSetupError, exceptions.OutOfDiskError, exceptions.AuthenticationError) as exc:
            raise EngineUnavailable(f"the Ray cluster at {self.address!r} cannot run {role} work: {exc}",
                                    f"check the nodes ({ROLES_SETTING}, disk space, `ray status`), then resume "
                                    "the run") from exc
        except exceptions.ActorUnavailableError as exc:
            raise _Unreachable(str(exc)) from exc
        except exceptions.RayError as exc:
            # a worker, actor or node died on every retry Ray made (or the object was lost with its node)
            raise WorkLost(f"{role} work lost on the Ray cluster after "
                           f"{self.settings.ray_task_retries} retries: {type(exc).__name__}: {exc}") from exc
        if isinstance(value, Failure):
            raise value.exception()
        return value

    # --- operators -------------------------------------------------------------------------------------------------
    def queue_depth(self) -> dict[str, dict]:
        waiting = self.slots.depth()
        with self._lock:
            try:
                self._reap()
            except Exception:  # noqa: BLE001 - a metrics scrape must not fail because the cluster blinked
                log.debug("could not reap abandoned Ray attempts", exc_info=True)
            roles = set(waiting) | set(self._running)
            return {r: {"waiting": waiting.get(r, {}).get("waiting", 0), "running": self._running.get(r, 0)}
                    for r in sorted(roles)}

    def close(self) -> None:
        with self._lock:
            actors = [a for entry in self._roles.values() for a in entry.actors]
            self._roles.clear()
        if self._owns_ray:
            self._ray.shutdown()  # the driver's actors and tasks go with it
            self._owns_ray = False
            return
        for actor in actors:  # someone else's connection: free our GPUs, leave theirs alone
            try:
                self._ray.kill(actor, no_restart=True)
            except Exception:  # noqa: BLE001 - an actor already gone is what we wanted
                log.debug("could not kill a Ray actor on close", exc_info=True)
