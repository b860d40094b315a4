"""QC drill: produce a series on the embedded default with faults injected into the renderer, then score the loop.

    .venv/bin/python bench/qc_drill.py [--episodes 3] [--rate 0.3] [--seconds 60] [--out bench/results/qc_drill]

Reports the final usable rate (target >= 0.97), every injected fault and whether QC caught it (a caught fault is a
take QC did not accept), attempts per shot and retry renders, and writes bench/results/qc_drill.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument("--rate", type=float, default=0.3)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--out", type=Path, default=Path("bench/results/qc_drill"))
    args = parser.parse_args()
    os.environ["DRAMAFACTORY_FAULT_RATE"] = str(args.rate)

    from dramafactory.config import Settings
    from dramafactory.graphs.backends import build_context
    from dramafactory.graphs.runner import produce
    from dramafactory.schemas import SeriesConcept

    shutil.rmtree(args.out, ignore_errors=True)
    concept = SeriesConcept(logline="A junior lawyer discovers her mentor buried the evidence that would free her "
                                    "brother.", genre="thriller", episodes=args.episodes,
                            seconds_per_episode=args.seconds)
    started = time.perf_counter()
    outcome = produce(build_context(args.out, Settings()), concept=concept, seed=11)
    wall = time.perf_counter() - started
    faults, caught = [], 0
    for shots_file in sorted(args.out.glob("episodes/*/shots.json")):
        for record in json.loads(shots_file.read_text())["shots"]:
            for take in record["takes"]:
                marker = (args.out / take["asset"]).with_suffix(".fault.json")
                if marker.is_file():
                    fault = json.loads(marker.read_text())["fault"]
                    faults.append({"take": take["asset"], "fault": fault, "caught": not take["accepted"],
                                   "reason": take["qc"]["scores"] and "; ".join(
                                       s["reason"] for s in take["qc"]["scores"] if not s["passed"])})
                    caught += not take["accepted"]
    summary = outcome.summary
    result = {"episodes": args.episodes, "fault_rate": args.rate, "wall_seconds": round(wall, 1),
              "shots": summary.shots, "takes": summary.takes, "final_usable_rate": summary.final_usable_rate,
              "first_pass_usable_rate": summary.first_pass_usable_rate,
              "attempts_per_shot": summary.attempts_per_shot, "retry_renders": summary.retry_renders,
              "shots_to_humans": summary.shots_to_humans, "faults_injected": len(faults), "faults_caught": caught,
              "faults": faults}
    path = Path("bench/results/qc_drill.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "faults"}, indent=2))  # noqa: T201


if __name__ == "__main__":
    main()
