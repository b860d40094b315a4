"""One episode through a real OpenAI-compatible text server, its calls sent one at a time against several at once.

    .venv/bin/python bench/text_server.py [--seconds 30] [--in-flight 4] [--strategies tiny,capable]
                                          [--out bench/results/text_server.json]

The server is llama-cpp-python's `python -m llama_cpp.server` with the packaged GGUF on this machine (the same
protocol vLLM serves; no GPU here). Each configuration is a fresh `dramafactory produce` process, as a user runs it,
with the same concept and seed; the sequential run (DRAMAFACTORY_OPENAI_MAX_IN_FLIGHT=1) is the baseline measured
in the same bench run, so the ratio survives a slower machine.

What the ratio can and cannot say here: llama-cpp-python's server answers one request at a time, so calls sent
together queue on the server; what concurrency buys on it is only the client's side of each call overlapping the
server's work. vLLM batches what is in flight (continuous batching), so the bench also reports how many text calls
were in flight at once (from the ledger's start and end times): the work a batching server would have been given.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.llamacpp_server import LlamaServer  # noqa: E402 - a real server process, started and stopped by pid

CONCEPT = "A night-shift nurse discovers the billionaire patient she saved is her runaway father."
TEXT_STAGES = ("director", "writer", "cinematographer")


def in_flight(rows: list[dict]) -> dict:
    """How many text calls overlapped: the most at one moment, and the mean over the time any call was open."""
    events = sorted([(r["started"], 1) for r in rows] + [(r["ts"], -1) for r in rows])
    open_calls = peak = 0
    busy = weighted = 0.0
    last = events[0][0] if events else 0.0
    for moment, change in events:
        if open_calls:
            busy += moment - last
            weighted += (moment - last) * open_calls
        open_calls += change
        peak = max(peak, open_calls)
        last = moment
    return {"peak": peak, "mean_when_busy": round(weighted / busy, 2) if busy else 0.0}


def produce_through(server_url: str, model: str, strategy: str, limit: int, seconds: int, out: Path) -> dict:
    env = {**os.environ, "DRAMAFACTORY_TEXT_BACKEND": "openai", "DRAMAFACTORY_OPENAI_BASE_URL": server_url,
           "DRAMAFACTORY_OPENAI_MODEL": model, "DRAMAFACTORY_OPENAI_STRUCTURED_MODE": "json_object_schema",
           "DRAMAFACTORY_OPENAI_MAX_IN_FLIGHT": str(limit), "DRAMAFACTORY_TEXT_STRATEGY": strategy,
           "DRAMAFACTORY_OPENAI_TIMEOUT_S": "600"}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "dramafactory.cli", "produce", CONCEPT, "--genre", "family", "--seconds",
                    str(seconds), "--seed", "1", "--out", str(out)], env=env, check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    summary = json.loads((out / "summary.json").read_text())
    rows = [json.loads(line) for line in (out / "ledger.jsonl").read_text().splitlines() if line.strip()]
    text = [r for r in rows if r.get("remote") and r.get("kind") == "call"]
    stages = {s["stage"]: s["seconds"] for s in summary["stages"]}
    return {"strategy": strategy, "max_in_flight": limit, "process_s": round(wall, 2),
            "text_stages_s": round(sum(stages.get(k, 0.0) for k in TEXT_STAGES), 2),
            "stages_s": {k: stages[k] for k in TEXT_STAGES if k in stages},
            "text_calls": len(text), "completion_tokens": sum(r.get("completion_tokens", 0) for r in text),
            # Concurrency changes which answers come back (and so how many re-asks): per call and per token too.
            "text_stage_s_per_call": round(sum(stages.get(k, 0.0) for k in TEXT_STAGES) / max(1, len(text)), 3),
            "in_flight": in_flight(text), "stock_lines": summary["fallback_lines"], "flags": flags(out)}


def flags(run: Path) -> int:
    """Stock text and fallbacks the agents flagged (bible and scripts): a faster run that fell back is no win."""
    count = len(json.loads((run / "bible.json").read_text()).get("flags", []))
    for script in run.glob("episodes/*/script.json"):
        count += len(json.loads(script.read_text()).get("flags", []))
    return count


def warm_up(server: LlamaServer) -> None:
    """One throwaway request, so the first configuration does not pay for the server's first touch of the model's
    pages (measured: the first run's director took 38 s against 22 s for the next)."""
    from dramafactory.tools.text.base import JsonRequest, UnusableReply
    from dramafactory.tools.text.openai_compat import OpenAICompatText

    backend = OpenAICompatText(base_url=server.url, model=server.model, structured_mode="json_object_schema",
                               timeout_s=600)
    schema = {"type": "object", "properties": {"line": {"type": "string"}}, "required": ["line"]}
    try:
        backend.complete_json(JsonRequest(system="You write drama.", messages=[("user", "One line of a quarrel.")],
                                          schema=schema, max_tokens=48))
    except UnusableReply:
        pass  # a reply cut at the token limit warms the server just as well


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--in-flight", type=int, default=4)
    parser.add_argument("--strategies", default="tiny,capable")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/text_server.json")
    args = parser.parse_args()
    strategies = [s for s in args.strategies.split(",") if s]
    runs = []
    with tempfile.TemporaryDirectory() as tmp, LlamaServer() as server:
        warm_up(server)
        for strategy in strategies:
            for limit in (1, args.in_flight):
                print(f"{strategy}, {limit} in flight ...", flush=True)
                runs.append(produce_through(server.url, server.model, strategy, limit, args.seconds,
                                            Path(tmp) / f"{strategy}-{limit}"))
                print(f"  text stages {runs[-1]['text_stages_s']} s, in flight {runs[-1]['in_flight']}", flush=True)
    ratios = {}
    for strategy in strategies:
        sequential, concurrent = (r for r in runs if r["strategy"] == strategy)
        ratios[strategy] = {
            "text_stages": round(concurrent["text_stages_s"] / sequential["text_stages_s"], 3),
            "text_stage_s_per_call": round(concurrent["text_stage_s_per_call"] / sequential["text_stage_s_per_call"],
                                           3),
            "process": round(concurrent["process_s"] / sequential["process_s"], 3)}
    result = {"created": datetime.now(UTC).isoformat(timespec="seconds"),
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "platform": platform.platform()},
              "server": "llama-cpp-python server (python -m llama_cpp.server), packaged Qwen2.5-Coder-0.5B Q4_K_M",
              "concept": CONCEPT, "seconds_per_episode": args.seconds, "runs": runs,
              "concurrent_over_sequential": ratios}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(ratios, indent=2))


if __name__ == "__main__":
    main()
