"""Time each stage of one episode on the embedded CPU default and write the figures to a JSON file.

    .venv/bin/python bench/episode.py [--seconds 60] [--out bench/results/episode.json]

Baselines measured in the same run, so ratios survive a slower or busier machine:
- text floor: the packaged model generating the run's completion tokens in one free-form call (no grammar,
  no prompt re-evaluation): what the text stages would cost if every token were useful;
- encode floor: ffmpeg encoding the episode's length of one still 720x1280 frame: the least an assembly can cost.
The goal tracked (not a test): one 60-second episode in <= 90 s on 2 cores.
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

from dramafactory.config import Settings
from dramafactory.graphs.backends import build_context
from dramafactory.graphs.runner import produce
from dramafactory.schemas import SeriesConcept
from dramafactory.tools.accounting import device_info
from dramafactory.tools.assembly.video import ffmpeg_exe
from dramafactory.tools.text.base import JsonRequest

CONCEPT = "A night-shift nurse discovers the billionaire patient she saved is her runaway father."
GOAL_SECONDS = 90.0


def encode_floor(seconds: float, workdir: Path) -> float:
    start = time.perf_counter()
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"color=c=gray:s=720x1280:r=24:d={seconds}", "-c:v", "libx264", "-preset", "veryfast",
                    "-pix_fmt", "yuv420p", str(workdir / "floor.mp4")], check=True)
    return time.perf_counter() - start


def text_floor(ctx, tokens: int) -> float:
    schema = {"type": "object", "properties": {"story": {"type": "string"}}, "required": ["story"]}
    result = ctx.text.complete_json(JsonRequest(system="You write stories.", messages=[("user", "Tell a long story.")],
                                                schema=schema, max_tokens=tokens, temperature=0.8, seed=1))
    return result.seconds * tokens / max(1, result.completion_tokens)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("bench/results/episode.json"))
    args = parser.parse_args()
    settings = Settings()
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        started = time.perf_counter()
        ctx = build_context(run_dir, settings)
        setup = time.perf_counter() - started
        concept = SeriesConcept(logline=CONCEPT, genre="family", seconds_per_episode=args.seconds)
        run_start = time.perf_counter()
        produce(ctx, concept=concept, seed=args.seed)
        total = time.perf_counter() - run_start
        summary = json.loads((run_dir / "summary.json").read_text())
        floors = {"encode_floor_s": encode_floor(args.seconds, Path(tmp)),
                  "text_floor_s": text_floor(ctx, summary["completion_tokens"])}
    stages = {s["stage"]: s["seconds"] for s in summary["stages"]}
    text_stages = sum(stages.get(k, 0.0) for k in ("director", "writer", "cinematographer"))
    result = {
        # When, where and with what it was measured: the capacity planner carries these with the figures it reads.
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "cpu": device_info().get("cpu", ""), "python": platform.python_version(),
                    "platform": platform.platform()},
        "models": {"text": ctx.text.model, "image": settings.image_backend,
                   "speech": settings.speech_backend},
        "episode_seconds": summary["episode_seconds"],
        "setup_s": round(setup, 2),
        "run_s": round(total, 2),
        "stages_s": stages,
        "model_calls": summary["model_calls"],
        "prompt_tokens": summary["prompt_tokens"],
        "completion_tokens": summary["completion_tokens"],
        "baselines": {k: round(v, 2) for k, v in floors.items()},
        "ratios": {
            "run_vs_goal_90s": round(total / GOAL_SECONDS, 3),
            "text_stages_vs_text_floor": round(text_stages / floors["text_floor_s"], 3),
            "assemble_vs_encode_floor": round(stages.get("assemble", 0.0) / floors["encode_floor_s"], 3),
        },
        "share_of_run": {k: round(v / total, 3) for k, v in stages.items()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
