"""Keeping the coordination database's URL (and its password) out of Ray task arguments.

A render's payload names the shot ledger's database (`db_url`, graphs/shots.py). Sent as is, that URL, password
included, would sit in every task's arguments: in the task spec the driver keeps for lineage, in what a failed
task's error and Ray's own debugging output may show. Ray's `runtime_env` `env_vars` are no better: Ray shows them
on its dashboard and writes them to its logs in plain text (ray-project/ray#28276, #40549 closed unmerged). So the
driver swaps the URL for a marker (`sealed`), puts the URL itself in the object store once per distinct URL
(`Secrets`), passes that one object by reference beside the payload, exactly as the settings already travel, and
the worker puts the URL back into its own copy of the payload before the work function runs (`unsealed`). The
work function (graphs/work.py render_take) sees the payload it always saw.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import Any

MARKER = "ray-engine-secret:"
SECRET_KEYS = ("db_url",)  # payload keys whose value stays out of task arguments
# Settings the workers never read (the coordination database, the service's bearer keys): left out of the settings
# the workers get, so those secrets do not travel with every task either.
WORKER_OMITS = frozenset({"database_url", "api_keys"})


def marker_for(value: str) -> str:
    # a digest, not a counter: the same URL gives the same marker in every driver process
    return MARKER + hashlib.sha256(value.encode()).hexdigest()[:24]


class Secrets:
    """The driver's side: values seen in payloads, by marker, and the object-store reference that carries them.
    `put` is ray.put; a new value republishes the (small) table, so a reference handed out earlier stays valid for
    the markers it knew."""

    def __init__(self, put: Callable[[Any], Any]):
        self._put = put
        self._values: dict[str, str] = {}
        self._ref: Any = put({})
        self._lock = threading.Lock()

    def sealed(self, payload: dict) -> tuple[dict, Any]:
        """The payload to send (each secret value replaced by its marker) and the reference to send beside it."""
        found = {key: payload[key] for key in SECRET_KEYS
                 if isinstance(payload.get(key), str) and payload[key] and not payload[key].startswith(MARKER)}
        with self._lock:
            for value in found.values():
                marker = marker_for(value)
                if marker not in self._values:
                    self._values[marker] = value
                    self._ref = self._put(dict(self._values))
            ref = self._ref
        if not found:
            return payload, ref
        return {**payload, **{key: marker_for(value) for key, value in found.items()}}, ref


def unsealed(payload: dict, values: dict[str, str]) -> dict:
    """The worker's side: the payload with its markers resolved (a copy: Ray handed this process its own)."""
    out = payload
    for key in SECRET_KEYS:
        value = payload.get(key)
        if isinstance(value, str) and value.startswith(MARKER):
            if value not in values:
                raise RuntimeError(f"payload {key!r} names a secret this worker was not given ({value}); the driver "
                                   "and worker run different dramafactory versions?")
            out = {**out, key: values[value]}
    return out
