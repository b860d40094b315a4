"""Helpers for the API tests: the real app, with fake backends (tests only) so a run takes seconds."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from dramafactory.config import Settings
from dramafactory.graphs.backends import build_context

from .fakes import FakeImage, FakeSpeech, FakeText

ROOT = Path(__file__).resolve().parents[1]
KEYS = {"acme": "key-acme-0001", "globex": "key-globex-0002"}


def api_settings(data_dir: Path, **overrides) -> Settings:
    values = dict(width=180, height=320, fps=8, qc_people="off", data_dir=data_dir, api_workers=2,
                  api_keys=",".join(f"{t}:{k}" for t, k in KEYS.items()))
    values.update(overrides)
    return Settings(_env_file=None, **values)


class SlowFakeImage(FakeImage):
    """A fake renderer that takes `delay` seconds per take, so a test can act while a run is in flight."""

    def __init__(self, fail_first: dict[str, int] | None = None, delay: float = 0.0):
        super().__init__(fail_first)
        self.delay = delay

    def render(self, request):
        time.sleep(self.delay)
        return super().render(request)


def fake_factory(fail_first: dict[str, int] | None = None, delay: float = 0.0):
    def make(run_dir: Path, settings: Settings):
        return build_context(run_dir, settings, text=FakeText(), image=SlowFakeImage(fail_first, delay),
                             speech=FakeSpeech())
    return make


def auth(tenant: str = "acme") -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[tenant]}"}


CONCEPT = {"logline": "A night-shift nurse discovers the billionaire patient she saved is her runaway father.",
           "genre": "family", "episodes": 1, "seconds_per_episode": 20}


def wait_for(client, run_id: str, statuses: set[str], headers: dict, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(f"/series/{run_id}", headers=headers).json()
        # the service marks a run waiting before it opens the review (so a pending review always belongs to a
        # waiting run): between the two, a poll sees "waiting_review" with no review yet
        opening = body["status"] == "waiting_review" and not body.get("review")
        if body["status"] in statuses and not opening:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} still {body['status']} (wanted {statuses}); log: {body['log'][-5:]}")
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_api_server(data_dir: Path, port: int, database_url: str | None = None) -> subprocess.Popen:
    """The real service (tests/api_server.py: fake backends) in its own process, once it answers /health."""
    return start_server_process([sys.executable, "-m", "tests.api_server", str(data_dir), str(port),
                                 *([database_url] if database_url else [])], port, "the API server")


def start_server_process(argv: list[str], port: int, what: str) -> subprocess.Popen:
    """A service process (started from the repository root), once it answers /health on the port; its stderr in
    the error when it dies or does not answer within 60 s."""
    server = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            return server
        except httpx.TransportError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise AssertionError(f"{what} did not start: {server.stderr.read().decode()[-2000:]}") from None
            time.sleep(0.2)
