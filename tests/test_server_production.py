"""Whole productions through a real OpenAI-compatible server process: llama-cpp-python's server on loopback with the
packaged GGUF (tests/llamacpp_server.py), the protocol vLLM serves.

- A 20-second production finishes through it under both text strategies, every text call remote and in the
  ledger with its tokens, none priced at this machine's CPU rate.
- The server killed by its pid in the middle of a run: the run retries, then stops with one clear error naming the
  server and `--resume`; with the server back, the resumed run finishes without redoing what was committed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .llamacpp_server import LlamaServer, llamacpp_server_fixture  # noqa: F401 - the module's shared server

ROOT = Path(__file__).resolve().parents[1]
CLI = [str(ROOT / ".venv/bin/dramafactory")] if (ROOT / ".venv/bin/dramafactory").exists() else \
    [sys.executable, "-m", "dramafactory.cli"]
LOGLINE = "A night-shift nurse discovers the billionaire patient she saved is her runaway father."

pytestmark = pytest.mark.slow


def server_env(server: LlamaServer, strategy: str, **more: str) -> dict[str, str]:
    # A small frame and no music keep the non-text stages short: this test is about the text path.
    return {**os.environ, "DRAMAFACTORY_TEXT_BACKEND": "openai", "DRAMAFACTORY_OPENAI_BASE_URL": server.url,
            "DRAMAFACTORY_OPENAI_MODEL": server.model, "DRAMAFACTORY_OPENAI_STRUCTURED_MODE": "json_object_schema",
            "DRAMAFACTORY_TEXT_STRATEGY": strategy, "DRAMAFACTORY_OPENAI_TIMEOUT_S": "300",
            "DRAMAFACTORY_WIDTH": "180", "DRAMAFACTORY_HEIGHT": "320", "DRAMAFACTORY_FPS": "8",
            "DRAMAFACTORY_MUSIC": "false", **more}


def ledger(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "ledger.jsonl").read_text().splitlines() if line.strip()]


def produce(env: dict, out: Path, *extra: str, timeout: float = 900) -> subprocess.CompletedProcess:
    command = CLI + ["produce", LOGLINE, "--genre", "family", "--seconds", "20", "--out", str(out), *extra]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, cwd=out.parent)


@pytest.mark.parametrize("strategy", ["tiny", "capable"])
def test_a_20s_production_finishes_through_a_real_server(llamacpp_server, tmp_path, strategy):
    out = tmp_path / strategy
    done = produce(server_env(llamacpp_server, strategy, DRAMAFACTORY_OPENAI_MAX_IN_FLIGHT="4"), out)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert (out / "episodes/01/episode.mp4").stat().st_size > 0
    text = [r for r in ledger(out) if r["kind"] == "call" and r["stage"].split(".")[0] in
            ("director", "writer", "cinematographer")]
    # Every text call went to the server, said which model served it and what it cost in tokens.
    assert text and all(r["remote"] and r["backend"] == "openai" and r["model"] == llamacpp_server.model
                        for r in text)
    assert all(r["prompt_tokens"] > 0 and r["completion_tokens"] > 0 for r in text)
    assert summary["remote_calls"] == summary["model_calls"] == len(text)
    assert summary["unpriced_calls"] == summary["remote_calls"]  # no token price set: counted, not guessed
    assert summary["gpu_seconds"] == 0.0 and all(r["gpu_seconds"] is None for r in text)
    stages = {r["stage"] for r in text}
    if strategy == "capable":
        # The director asked for the cast and the outlines in one call each, the writer for each scene; where the
        # small model's answer failed the checks three times, that part was written field by field, and flagged.
        assert {"director.cast", "director.outlines", "writer.scene"} <= stages, stages
        flags = _flags(out)
        if "director.profile" in stages:
            assert any(f.startswith("cast: written field by field") for f in flags), flags
        if "writer.action" in stages:
            assert any("written beat by beat" in f for f in flags), flags
        if "director.outline" in stages:
            assert any(f.startswith("outlines of") and "written one by one" in f for f in flags), flags
    else:
        assert {"director.profile", "director.title", "director.outline", "writer.action", "writer.line"} <= stages
    script = json.loads((out / "episodes/01/script.json").read_text())
    spoken = [ln for scene in script["scenes"] for beat in scene["beats"] for ln in beat["lines"]]
    assert spoken and sum(ln["fallback"] for ln in spoken) == summary["fallback_lines"]


def _flags(run: Path) -> list[str]:
    flags = json.loads((run / "bible.json").read_text()).get("flags", [])
    for script in run.glob("episodes/*/script.json"):
        flags += json.loads(script.read_text()).get("flags", [])
    return flags


def test_the_server_killed_mid_run_stops_it_clearly_and_resume_finishes_it(tmp_path):
    server = LlamaServer(log_dir=tmp_path)
    out = tmp_path / "run"
    # One HTTP retry: the run's own retry policy (three tries of the node) still applies on top.
    env = server_env(server, "tiny", DRAMAFACTORY_OPENAI_MAX_RETRIES="1", DRAMAFACTORY_OPENAI_TIMEOUT_S="60")
    command = CLI + ["produce", LOGLINE, "--genre", "family", "--seconds", "20", "--out", str(out)]
    try:
        server.start()
        run = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               cwd=tmp_path)
        deadline = time.monotonic() + 600
        # Kill the server once the writer is under way: the bible is committed, the script is not.
        while not (out / "ledger.jsonl").is_file() or not any(r["stage"] == "writer.action" for r in ledger(out)):
            assert run.poll() is None and time.monotonic() < deadline, run.communicate()[1][-3000:]
            time.sleep(0.2)
        killed_pid = server.pid
        server.kill()
        _, stderr = run.communicate(timeout=600)
        assert run.returncode == 4, stderr[-3000:]
        errors = [line for line in stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and f"127.0.0.1:{server.port}" in errors[0] and "--resume" in errors[0], stderr
        assert (out / "bible.json").is_file() and not (out / "summary.json").exists()
        failed = [r for r in ledger(out) if r["kind"] == "error"]
        assert failed and all(r["stage"].startswith("writer") for r in failed)
        bible = (out / "bible.json").read_text()

        server.start()  # the server is back, on the same port
        assert server.pid != killed_pid
        resumed = subprocess.run(CLI + ["produce", "--resume", "--out", str(out)], env=env, capture_output=True,
                                 text=True, timeout=900, cwd=tmp_path)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
    finally:
        server.stop()
    rows = ledger(out)
    resume_at = next(r["ts"] for r in rows if r.get("event") == "resume")
    assert not [r for r in rows if r["ts"] > resume_at and r["stage"].startswith("director")]  # nothing redone
    assert (out / "bible.json").read_text() == bible
    summary = json.loads((out / "summary.json").read_text())
    assert summary["remote_calls"] > 0 and (out / "episodes/01/episode.mp4").is_file()
