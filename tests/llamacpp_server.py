"""A real llama.cpp server process for tests: llama-cpp-python's `python -m llama_cpp.server` with the packaged GGUF.

It is the same OpenAI-compatible wire protocol a production server speaks (vLLM, llama-server), on loopback, so the
text-server tests exercise real sockets, a real model and a process that can be killed mid-request. Started and
stopped by its process id (SIGTERM, then SIGKILL), never by name.

    with LlamaServer() as server:          # waits until GET /v1/models answers
        backend = OpenAICompatText(base_url=server.url, model=server.model, structured_mode="json_object_schema")

`llamacpp_server` is a module-scoped pytest fixture: import it into a test module (`from .llamacpp_server import
llamacpp_server_fixture`; tests then take `llamacpp_server`) to share one server among that module's tests.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from .api_support import free_port

MODEL_ALIAS = "packaged-qwen"  # the name the server serves the model as (what the backend's `model` must be)


def unavailable() -> str | None:
    """Why a llama.cpp server cannot run here, or None. The server needs llama-cpp-python's [server] extra."""
    try:
        import llama_cpp.server.app  # noqa: F401 - only checking that the server and its web stack import
    except Exception as exc:  # noqa: BLE001 - any import failure means the same: no server to test against
        return f"llama_cpp.server cannot be imported ({type(exc).__name__}: {exc}); install llama-cpp-python[server]"
    return None


def packaged_model() -> Path:
    from dramafactory.tools.text.embedded_model import ensure_embedded_model

    return ensure_embedded_model()


class LlamaServer:
    """One `python -m llama_cpp.server` process. `start()` may be called again after `kill()`/`stop()` (same port)."""

    def __init__(self, model: Path | None = None, port: int | None = None, *, n_ctx: int = 4096, threads: int = 2,
                 log_dir: Path | None = None, ready_timeout_s: float = 90.0):
        self.model_path = Path(model) if model else packaged_model()
        self.port = port or free_port()
        self.n_ctx, self.threads, self.ready_timeout_s = n_ctx, threads, ready_timeout_s
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="llamacpp-server-"))
        self.proc: subprocess.Popen | None = None
        self.pid: int | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def model(self) -> str:
        return MODEL_ALIAS

    @property
    def log(self) -> Path:
        return self.log_dir / f"server-{self.port}-{self.starts}.log"

    def command(self) -> list[str]:
        # --chat_format chat_template.default: the GGUF's own chat template (tokenizer.chat_template), the one the
        # embedded backend formats with too, rather than a built-in format llama-cpp-python might guess.
        # --seed 0: reproducible sampling; --verbose False: the log holds the HTTP lines, not per-token timings.
        # serve_llamacpp is `python -m llama_cpp.server` with the embedded backend's AMX load fix (ADR 0016).
        return [sys.executable, "-m", "dramafactory.tools.text.serve_llamacpp", "--model", str(self.model_path),
                "--model_alias", MODEL_ALIAS, "--host", "127.0.0.1", "--port", str(self.port),
                "--n_ctx", str(self.n_ctx), "--n_threads", str(self.threads), "--seed", "0",
                "--chat_format", "chat_template.default", "--verbose", "False"]

    def start(self) -> LlamaServer:
        if self.running():
            return self
        self.starts += 1
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)  # its own group: a test's Ctrl-C does not reach it
        self.pid = self.proc.pid
        self.wait_ready()
        return self

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            if not self.running():
                raise RuntimeError(f"llama_cpp.server exited with {self.proc.returncode if self.proc else None} "
                                   f"before it answered; its log:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/models", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"llama_cpp.server did not answer GET {self.url}/models within {self.ready_timeout_s:.0f} "
                           f"s; its log:\n{self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def kill(self) -> None:
        """SIGKILL now, by pid: a crash mid-request, no graceful shutdown."""
        if self.running() and self.pid is not None:
            os.kill(self.pid, signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(10)

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited within `grace_s`."""
        if not self.running() or self.pid is None:
            return
        os.kill(self.pid, signal.SIGTERM)
        try:
            self.proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def skip_reason() -> str | None:
    reason = unavailable()
    if reason:
        return reason
    try:
        packaged_model()
    except Exception as exc:  # noqa: BLE001 - no packaged model: nothing to serve
        return f"the packaged GGUF model is not available ({exc})"
    return None


@pytest.fixture(scope="module", name="llamacpp_server")
def llamacpp_server_fixture() -> Iterator[LlamaServer]:
    """One server per test module that imports this fixture; skipped with the reason where none can run."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    server = LlamaServer()
    try:
        yield server.start()
    finally:
        server.stop()
