"""A text backend that fails is not a bad answer: it stops the run, resumably, with the cause and the fix.

The server here is a real HTTP process on loopback (tests/openai_stub_server.py) that answers with the fake text
model; it can die mid-run, answer 500s, hang, send half a reply, or answer JSON that is not the answer asked for.
Each failure is checked for both wire protocols: OpenAI-compatible (vLLM, llama.cpp) and Ollama's native API.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import httpx2
import openai
import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from dramafactory.agents.structured import StructuredOutputError, ask_json
from dramafactory.api.app import create_app
from dramafactory.errors import DramaError
from dramafactory.graphs.backends import build_context
from dramafactory.tools.ledger import Ledger
from dramafactory.tools.text.base import JsonRequest, TextBackendError, UnusableReply
from dramafactory.tools.text.ollama import OllamaText
from dramafactory.tools.text.openai_compat import OpenAICompatText

from .api_support import CONCEPT, api_settings, auth, free_port, wait_for
from .fakes import FakeImage, FakeSpeech

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "dramafactory.cli"] if not (ROOT / ".venv/bin/dramafactory").exists() else \
    [str(ROOT / ".venv/bin/dramafactory")]


class Stub:
    """The stub server process, started and stopped by its process id."""

    def __init__(self, tmp: Path, port: int, *args: str):
        marker = tmp / f"stub-{port}-{time.monotonic_ns()}.pid"
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.openai_stub_server", "--port", str(port),
                                      "--marker", str(marker), *args], cwd=ROOT)
        deadline = time.monotonic() + 30
        while not marker.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the stub server did not start")
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{port}/v1"
        self.log = next((Path(a) for f, a in zip(args, args[1:], strict=False) if f == "--log"), None)

    def requests(self) -> int:
        """How many requests the server received (needs --log): the first try plus the client's retries."""
        return len(self.log.read_text().splitlines()) if self.log and self.log.exists() else 0

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)


@pytest.fixture
def stubs(tmp_path):
    started: list[Stub] = []

    def start(port: int, *args: str) -> Stub:
        started.append(Stub(tmp_path, port, *args))
        return started[-1]

    yield start
    for stub in started:
        stub.stop()


class Reply(BaseModel):
    line: str


def _ask(backend, ledger: Ledger) -> Reply:
    return ask_json(backend, ledger, stage="writer.line", schema=Reply, system="s", examples=[], ask="a line",
                    seed=1, max_tries=2)


class DownBackend:
    name, model, version = "down", "m", "0"

    def __init__(self, error: Exception):
        self.error, self.calls = error, 0

    def complete_json(self, request: JsonRequest):
        self.calls += 1
        raise self.error


def test_a_backend_failure_propagates_and_is_not_re_asked(tmp_path):
    ledger = Ledger(tmp_path / "ledger.jsonl")
    backend = DownBackend(TextBackendError("connection refused", backend="down", fix="start it"))
    with pytest.raises(TextBackendError):
        _ask(backend, ledger)
    assert backend.calls == 1  # no re-ask: a retry is the graph node's job
    assert [r["kind"] for r in ledger.rows()] == ["error"]


def test_an_unusable_reply_is_a_content_failure_re_asked_then_stock(tmp_path):
    backend = DownBackend(UnusableReply("context overflow"))
    with pytest.raises(StructuredOutputError):
        _ask(backend, Ledger(tmp_path / "ledger.jsonl"))
    assert backend.calls == 2


KINDS = {"openai": OpenAICompatText, "ollama": OllamaText}


def _backend(kind: str, url: str, **options):
    return KINDS[kind](base_url=url, model="stub", **options)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mode", ["error500", "hang", "half", "chunked_cut", "notachat"])
def test_server_errors_hangs_and_half_replies_are_backend_failures_after_retries(stubs, tmp_path, mode, kind):
    # half: Content-Length larger than the body, then the socket closes; chunked_cut: a chunked reply that stops
    # mid-way. Both are a transport failure (the reply never arrived whole), never a bad answer to re-ask.
    stub = stubs(free_port(), "--mode", mode, "--log", str(tmp_path / "requests.log"))
    backend = _backend(kind, stub.url, timeout_s=0.5, max_retries=1)
    ledger = Ledger(tmp_path / "ledger.jsonl")
    with pytest.raises(TextBackendError) as caught:
        _ask(backend, ledger)
    assert stub.url in str(caught.value) and "DRAMAFACTORY_OPENAI_BASE_URL" in caught.value.fix
    # the first try and one retry (max_retries=1), then the stop; a 200 that is not a chat reply is not retried by
    # the HTTP client (it answered), but it is the server failing all the same: the graph's retry policy retries it
    assert stub.requests() == (1 if mode == "notachat" else 2)
    assert [r["kind"] for r in ledger.rows()] == ["error"]  # not re-asked: ask_json raised at once
    if mode == "notachat":
        assert "not" in str(caught.value) and ("chat completion" in str(caught.value) or "chat reply" in
                                               str(caught.value))
    if mode == "hang":
        assert "DRAMAFACTORY_OPENAI_TIMEOUT_S" in caught.value.fix
    if mode in ("half", "chunked_cut"):
        assert "peer closed connection without sending complete message body" in str(caught.value)


def _counting_client(kind: str, url: str, attempts: list[str], timeout_s: float, max_retries: int):
    """The real HTTP client of each backend, with a hook that counts every attempt (a retry is a new request)."""
    hook = {"request": [lambda request: attempts.append(str(request.url))]}
    if kind == "openai":
        return openai.OpenAI(base_url=url, api_key="EMPTY", timeout=timeout_s, max_retries=max_retries,
                             http_client=httpx2.Client(event_hooks=hook))
    return httpx.Client(timeout=timeout_s, event_hooks=hook)


@pytest.mark.parametrize("kind", KINDS)
def test_a_server_that_is_down_is_retried_with_backoff_then_a_backend_failure(tmp_path, kind):
    url_down = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there: connection refused
    attempts: list[str] = []
    backend = _backend(kind, url_down, max_retries=2, client=_counting_client(kind, url_down, attempts, 1.0, 2))
    start = time.perf_counter()
    with pytest.raises(TextBackendError) as caught:
        _ask(backend, Ledger(tmp_path / "ledger.jsonl"))
    elapsed = time.perf_counter() - start
    assert len(attempts) == 3  # the first try and two retries
    assert elapsed >= (0.5 + 1.0) * 0.75  # exponential backoff: 0.5 s then 1 s, less up to 25% jitter
    assert url_down in str(caught.value) and "ConnectError" in str(caught.value)
    assert f"start the server at {url_down}" in caught.value.fix


@pytest.mark.parametrize("kind", KINDS)
def test_a_non_json_reply_is_a_content_failure(stubs, tmp_path, kind):
    stub = stubs(free_port(), "--mode", "nonjson")
    ledger = Ledger(tmp_path / "ledger.jsonl")
    with pytest.raises(StructuredOutputError, match="not valid JSON"):
        _ask(_backend(kind, stub.url, max_retries=0), ledger)
    rows = ledger.rows()
    assert len(rows) == 2 and all(r["remote"] and r["gpu_seconds"] is None and r["rejected"] for r in rows)


@pytest.mark.parametrize("kind", KINDS)
def test_json_of_the_wrong_fields_is_a_content_failure_re_asked_then_stock(stubs, tmp_path, kind):
    stub = stubs(free_port(), "--mode", "badschema", "--log", str(tmp_path / "requests.log"))
    ledger = Ledger(tmp_path / "ledger.jsonl")
    with pytest.raises(StructuredOutputError) as caught:
        _ask(_backend(kind, stub.url, max_retries=1), ledger)
    assert all("not valid JSON for the schema (1 validation error" in r for r in caught.value.reasons)
    assert stub.requests() == 2  # re-asked by the agent (max_tries=2), not retried by the HTTP client
    rows = ledger.rows()
    assert [r["kind"] for r in rows] == ["call", "call"] and all(r["reply"] == '{"wrong": 1, "fields": "x"}'
                                                                 for r in rows)


@pytest.mark.parametrize("kind", KINDS)
def test_a_reply_cut_off_by_the_token_limit_is_a_content_failure_and_not_parsed(stubs, tmp_path, kind):
    stub = stubs(free_port(), "--mode", "length")
    ledger = Ledger(tmp_path / "ledger.jsonl")
    backend = _backend(kind, stub.url, max_retries=0)
    with pytest.raises(UnusableReply, match="token limit") as cut:
        backend.complete_json(JsonRequest(system="s", messages=[("user", "a line")],
                                          schema=Reply.model_json_schema(), max_tokens=7))
    assert "max_tokens=7" in str(cut.value) and cut.value.completion_tokens == 12 and cut.value.remote
    with pytest.raises(StructuredOutputError) as caught:
        _ask(backend, ledger)
    # the half JSON never reached the parser: the reason is the cut, not "not valid JSON"
    assert all("token limit" in r and "not valid JSON" not in r for r in caught.value.reasons)
    assert all(r["rejected"] and "reply" not in r for r in ledger.rows())
    assert all(r["completion_tokens"] == 12 for r in ledger.rows())  # a cut reply was still generated: billed


class CutThenGood:
    """A test fake: the first reply is cut off at the token limit, the second is good; it keeps every request."""

    name, model, version = "cut", "m", "0"

    def __init__(self):
        self.requests: list[JsonRequest] = []

    def complete_json(self, request: JsonRequest):
        from dramafactory.tools.text.base import TextResult
        from dramafactory.tools.text.servers import cut_off

        self.requests.append(request)
        if len(self.requests) == 1:
            raise cut_off("the server at http://gpu-box:8000/v1", request.max_tokens, 0.1, 0.0, prompt_tokens=5,
                          completion_tokens=request.max_tokens, server_seconds=None)
        return TextResult('{"line": "Fine."}', 5, 3, 0.1, "m", "cut")


def test_the_re_ask_after_a_cut_reply_tells_the_model_to_be_brief_and_never_names_the_server(tmp_path):
    backend = CutThenGood()
    assert _ask(backend, Ledger(tmp_path / "ledger.jsonl")).line == "Fine."
    retry = backend.requests[1].messages[-1][1]
    assert "keep every field short" in retry and "gpu-box" not in retry and "max_tokens" not in retry


@pytest.mark.parametrize(("kind", "seconds"), [("openai", 0.5), ("ollama", 0.6)])
def test_the_servers_own_timing_is_carried_where_it_reports_one(stubs, kind, seconds):
    # The stub reports llama-server's `timings` (120.5 + 379.5 ms) and Ollama's durations (150 + 450 ms, in ns).
    stub = stubs(free_port(), "--timings")
    result = _backend(kind, stub.url, max_retries=0).complete_json(
        JsonRequest(system="s", messages=[("user", "a line")], schema=Reply.model_json_schema()))
    assert result.server_seconds == pytest.approx(seconds)
    assert (result.prompt_tokens, result.completion_tokens, result.remote, result.gpu_seconds) == (50, 12, True, None)
    assert result.seconds < 5 and result.cpu_scope == "thread"
    plain = stubs(free_port())  # an OpenAI-compatible server without timings (vLLM, llama_cpp.server): None
    assert OpenAICompatText(base_url=plain.url, model="stub").complete_json(
        JsonRequest(system="s", messages=[("user", "a line")], schema=Reply.model_json_schema())).server_seconds \
        is None


def _rows(run_dir: Path) -> list[dict]:
    return Ledger(run_dir / "ledger.jsonl").rows()


@pytest.mark.slow
def test_cli_run_stops_when_the_server_dies_and_resumes_without_redoing(stubs, tmp_path):
    port = free_port()
    out = tmp_path / "run"
    env = {**os.environ, "DRAMAFACTORY_TEXT_BACKEND": "openai", "DRAMAFACTORY_OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1",
           "DRAMAFACTORY_OPENAI_MODEL": "stub", "DRAMAFACTORY_OPENAI_MAX_RETRIES": "0",
           # one call at a time, so each node try is one failed call and the count below is exact (with more in
           # flight, a try sends several calls at once and how many fail before the node gives up varies)
           "DRAMAFACTORY_OPENAI_MAX_IN_FLIGHT": "1",
           "DRAMAFACTORY_WIDTH": "180", "DRAMAFACTORY_HEIGHT": "320", "DRAMAFACTORY_FPS": "8",
           "DRAMAFACTORY_QC_PEOPLE": "off", "DRAMAFACTORY_MUSIC": "false"}
    command = CLI + ["produce", CONCEPT["logline"], "--seconds", "20", "--out", str(out)]
    stubs(port, "--die-on-field", "action")  # the server crashes at the writer's first request
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert first.returncode == 4, first.stderr[-2000:]
    error = [line for line in first.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and f"127.0.0.1:{port}" in error[0] and "--resume" in error[0], first.stderr[-2000:]
    assert not (out / "summary.json").exists() and (out / "bible.json").is_file()
    bible = (out / "bible.json").read_text()
    failed = [r for r in _rows(out) if r["kind"] == "error"]
    assert len(failed) == 3 and {r["stage"] for r in failed} == {"writer.action"}  # the node's RetryPolicy: 3 tries

    stubs(port)  # the server is back
    second = subprocess.run(command[:2] + ["--resume", "--out", str(out)], env=env, capture_output=True, text=True,
                            timeout=600, cwd=tmp_path)
    assert second.returncode == 0, second.stderr[-2000:]
    rows = _rows(out)
    resumed = next(r["ts"] for r in rows if r.get("event") == "resume")
    assert not [r for r in rows if r["ts"] > resumed and r["stage"].startswith("director")]  # nothing redone
    assert (out / "bible.json").read_text() == bible
    summary = json.loads((out / "summary.json").read_text())
    assert summary["fallback_lines"] < summary["model_calls"] and summary["remote_calls"] > 0
    assert summary["unpriced_calls"] == summary["remote_calls"]  # no price set: not at the local CPU rate


@pytest.mark.slow
def test_api_run_is_failed_with_the_reason_and_resume_finishes_it(stubs, tmp_path):
    port = free_port()
    settings = api_settings(tmp_path / "data", text_backend="openai", openai_base_url=f"http://127.0.0.1:{port}/v1",
                            openai_model="stub", openai_max_retries=0)

    def factory(run_dir: Path, s):  # the real OpenAI-compatible backend from settings; fake image and speech
        return build_context(run_dir, s, image=FakeImage(), speech=FakeSpeech(), run_id=run_dir.name)

    stub = stubs(port, "--die-on-field", "action")
    with TestClient(create_app(settings, context_factory=factory)) as client:
        run_id = client.post("/series", json=CONCEPT, headers=auth()).json()["id"]
        run = wait_for(client, run_id, {"failed", "finished"}, auth())
        assert run["status"] == "failed", run
        assert f"127.0.0.1:{port}" in run["error"] and "resume" in run["error"], run["error"]
        stub.stop()
        stubs(port)
        assert client.post(f"/series/{run_id}/resume", headers=auth()).status_code == 202
        run = wait_for(client, run_id, {"failed", "finished"}, auth())
        assert run["status"] == "finished", run


def test_a_refused_request_is_a_content_failure_and_a_wrong_model_a_configuration_error(stubs, tmp_path):
    ledger = Ledger(tmp_path / "ledger.jsonl")
    refused = stubs(free_port(), "--mode", "error400")
    with pytest.raises(StructuredOutputError, match="refused the request"):
        _ask(OpenAICompatText(base_url=refused.url, model="stub", max_retries=0), ledger)
    assert [r["remote"] and r["gpu_seconds"] is None and r["cpu_scope"] == "thread" for r in ledger.rows()] == \
        [True, True]
    missing = stubs(free_port(), "--mode", "error404")
    with pytest.raises(DramaError) as caught:
        _ask(OpenAICompatText(base_url=missing.url, model="no-such-model", max_retries=0), ledger)
    assert "DRAMAFACTORY_OPENAI_MODEL" in caught.value.fix


def test_ollama_refused_requests_and_missing_models_are_classified_the_same(stubs, tmp_path):
    ledger = Ledger(tmp_path / "ledger.jsonl")
    refused = stubs(free_port(), "--mode", "error400")
    with pytest.raises(StructuredOutputError, match="refused the request"):
        _ask(OllamaText(base_url=refused.url, model="stub", max_retries=0), ledger)
    missing = stubs(free_port(), "--mode", "error404")
    with pytest.raises(DramaError) as caught:
        _ask(OllamaText(base_url=missing.url, model="no-such-model", max_retries=2), ledger)
    assert "ollama pull no-such-model" in caught.value.fix and missing.url in caught.value.cause


def test_a_failed_local_call_still_records_its_time_and_the_model_load(tmp_path):
    ledger = Ledger(tmp_path / "ledger.jsonl")
    backend = DownBackend(UnusableReply("context overflow", seconds=1.5, cpu_seconds=2.9, cpu_scope="process",
                                        load_seconds=0.7, load_cpu_seconds=0.6))
    with pytest.raises(StructuredOutputError):
        _ask(backend, ledger)
    rows = ledger.rows()
    assert [(r["kind"], r["seconds"], r["cpu_seconds"]) for r in rows[:2]] == [("load", 0.7, 0.6),
                                                                               ("call", 1.5, 2.9)]
    assert all(r["gpu_seconds"] == 0.0 for r in rows)
