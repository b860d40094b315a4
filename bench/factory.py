"""The embedded default's throughput, serial against factory mode, on this machine.

    .venv/bin/python bench/factory.py [--concepts 4] [--seconds 20] [--parallel 2] [--out bench/results/factory.json]

Both arms make the same series (the first N golden concepts, one episode each, the same seed) with one set of
backends loaded once before either arm is timed:
- serial: one series after another (`dramafactory factory` on a file of one concept, N times): what running
  `produce` in a loop gives;
- factory: all N at once (`dramafactory factory` on the file of N concepts, `--parallel` render/QC slots), so one
  series' text generation overlaps another's rendering, QC, voices and assembly.
Episodes per hour and finished minutes per hour for each, and their ratio, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml
from rich.console import Console

from dramafactory.config import Settings
from dramafactory.evals.golden import load_golden
from dramafactory.factory.cli import run_command
from dramafactory.factory.run import SharedBackends, factory_settings
from dramafactory.tools.accounting import device_info


def concept_file(path: Path, concepts: list) -> Path:
    path.write_text(yaml.safe_dump([{"id": c.id, "logline": c.logline, "genre": c.genre} for c in concepts]))
    return path


def arm(files: list[Path], out: Path, settings: Settings, shared: SharedBackends, parallel: int,
        seconds: int) -> dict:
    started = time.perf_counter()
    codes = [run_command(f, out, settings, parallel=parallel, overrides={"episodes": 1, "seconds_per_episode": seconds},
                         shared=shared, console=Console(file=open(os.devnull, "w")), live=False) for f in files]
    wall = time.perf_counter() - started
    minutes = 0.0
    episodes = 0
    for summary in out.glob("*/summary.json"):
        data = json.loads(summary.read_text())
        episodes += data["episodes"]
        minutes += sum(data["episode_seconds"]) / 60
    return {"wall_seconds": round(wall, 2), "exit_codes": codes, "episodes": episodes,
            "finished_minutes": round(minutes, 3), "episodes_per_hour": round(episodes / wall * 3600, 2),
            "finished_minutes_per_hour": round(minutes / wall * 3600, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concepts", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("bench/results/factory.json"))
    args = parser.parse_args()
    concepts = load_golden().concepts[:args.concepts]
    settings = factory_settings(Settings(), args.parallel)
    loaded = time.perf_counter()
    shared = SharedBackends.build(settings)
    load_seconds = time.perf_counter() - loaded
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        singles = [concept_file(root / f"one-{c.id}.yaml", [c]) for c in concepts]
        serial = arm(singles, root / "serial", settings, shared, args.parallel, args.seconds)
        factory = arm([concept_file(root / "all.yaml", concepts)], root / "factory", settings, shared,
                      args.parallel, args.seconds)
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "cpu": device_info().get("cpu", ""), "python": platform.python_version()},
        "concepts": [c.id for c in concepts], "seconds_per_episode": args.seconds, "parallel": args.parallel,
        "models_loaded_once_seconds": round(load_seconds, 2),
        "serial": serial, "factory": factory,
        "throughput_ratio": round(factory["episodes_per_hour"] / serial["episodes_per_hour"], 3)
        if serial["episodes_per_hour"] else None,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"serial : {serial['wall_seconds']:7.1f} s, {serial['episodes_per_hour']:6.1f} episodes/h")
    print(f"factory: {factory['wall_seconds']:7.1f} s, {factory['episodes_per_hour']:6.1f} episodes/h "
          f"(x{result['throughput_ratio']})")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
