"""The framework's own time per shot: the series graph with instant backends, from 1 to 1,000 shots per episode.

    .venv/bin/python bench/orchestration.py [--shots 1,10,100,1000,3000] [--repeat 3]
                                            [--out bench/results/orchestration.json]

What is timed is the shot phase of one episode: from the cinematographer's shot list to the end of the episode's
QC loop (the Send fan-out in waves of settings.shot_wave, one render/QC node per shot, every checkpoint written
with durability "sync", the lease check per task, the shot ledger's claim and conditional commit per take, the
ledger rows, the review of takes). The backends do nothing: the renderer writes a 67-byte PNG and QC passes it, so
the time left is LangGraph's, the checkpointer's, the shot ledger's and ours. Per-shot time is the phase's wall
time over its shots, the median of --repeat runs (thread scheduling on 2 cores moves single runs by 20%); growth
is per-shot time at N against per-shot time at the smallest N above 1, measured in the same run (1.0: linear; 10
at ten times the shots: quadratic). The issue's goal (not a test): under 5 ms per shot at 1,000 shots, with linear
growth.

The text stages use the test suite's FakeText (tests/fakes.py, a fake by name): they are outside the timed phase.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.fakes, when run from a checkout

from dramafactory.config import Settings  # noqa: E402
from dramafactory.graphs import nodes  # noqa: E402
from dramafactory.graphs.backends import build_context  # noqa: E402
from dramafactory.graphs.runner import produce  # noqa: E402
from dramafactory.schemas import QCReport, ScoreResult, SeriesConcept, Shot, ShotList  # noqa: E402
from dramafactory.tools.accounting import device_info  # noqa: E402
from dramafactory.tools.image.base import ImageRequest, ImageResult  # noqa: E402
from tests.fakes import FakeSpeech, FakeText  # noqa: E402

# The smallest valid PNG (1x1 grey): the instant renderer's every take.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010800000000"
                    "3a7e9b550000000a49444154789c6360000000020001e221bc330000000049454e44ae426082")


class InstantImage:
    """Writes a fixed PNG: a renderer that costs nothing, so the phase's time is the framework's."""

    name = "instant"
    model = "instant"
    version = "1"

    def render(self, request: ImageRequest) -> ImageResult:
        request.out_path.parent.mkdir(parents=True, exist_ok=True)
        request.out_path.write_bytes(PNG)
        return ImageResult(request.out_path, request.width, request.height, 0.0, self.name, [])


class InstantQC:
    """Passes every take with one judged score: QC that costs nothing."""

    def score(self, take) -> QCReport:  # noqa: ANN001 - TakeUnderReview
        return QCReport(passed=True, scores=[ScoreResult(scorer="instant", score=1.0, threshold=0.0, passed=True,
                                                         reason="")])

    def score_sequence(self, take, previous) -> list[ScoreResult]:  # noqa: ANN001
        return []


def shots_of(count: int):
    """A cinematographer that plans `count` shots in scenes of 10 at the bible's first location."""

    def plan(ctx, bible, script, seed, seconds, outfits=None):  # noqa: ANN001 - the real plan_shots' signature
        location = bible.locations[0].name
        people = [c.name for c in bible.characters[:2]]
        shots = [Shot(id=f"e{script.episode:02d}s{i:04d}", episode=script.episode, scene=1 + i // 10, index=i,
                      framing="medium", duration_s=1.0, characters=people, location=location,
                      time_of_day="night", action="waits", prompt=f"shot {i}", seed=1000 + i)
                 for i in range(count)]
        return ShotList(episode=script.episode, shots=shots), {}

    return plan


def one_run(count: int, root: Path) -> dict:
    settings = Settings(_env_file=None, width=180, height=320, fps=8, qc_people="off", music=False,
                        render_budget=1.0)
    ctx = build_context(root / f"run-{count}", settings, text=FakeText(), image=InstantImage(),
                        speech=FakeSpeech())
    ctx._qc = InstantQC()  # the context's QC agent, replaced by the instant one (a bench-only double)
    marks: dict[str, float] = {}

    def on_event(ns, mode, data) -> None:  # noqa: ANN001
        if mode != "custom" or not isinstance(data, dict):
            return
        if data.get("stage") == "cinematographer" and data.get("status") == "done":
            marks["start"] = time.perf_counter()
        elif data.get("stage") == "qc" and data.get("status") == "review":
            marks["end"] = time.perf_counter()

    nodes.plan_shots = shots_of(count)  # type: ignore[assignment] - this process is the bench's alone
    concept = SeriesConcept(logline="A night-shift nurse discovers the billionaire patient she saved is her "
                                    "runaway father.", genre="family", episodes=1, seconds_per_episode=20)
    produce(ctx, concept=concept, seed=1, stop_after="review_shots", on_event=on_event)
    wall = marks["end"] - marks["start"]
    renders = [r for r in ctx.ledger.rows() if r["stage"] == "render"]
    return {"shots": count, "phase_seconds": round(wall, 4), "per_shot_ms": round(1000 * wall / count, 3),
            "render_rows": len(renders), "backend_seconds": round(sum(r["seconds"] for r in renders), 4)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shots", default="1,10,100,1000,3000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench/results/orchestration.json"))
    args = parser.parse_args()
    counts = [int(c) for c in args.shots.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        one_run(2, Path(tmp) / "warm")  # imports, the checkpointer's tables, first-call caches
        runs = []
        for n in counts:
            tries = sorted((one_run(n, Path(tmp) / f"try-{i}") for i in range(args.repeat)),
                           key=lambda r: r["per_shot_ms"])
            median = tries[len(tries) // 2]
            runs.append({**median, "per_shot_ms_runs": [r["per_shot_ms"] for r in tries]})
    base = next((r for r in runs if r["shots"] > 1), runs[0])
    for r in runs:
        r["growth_vs_base"] = round(r["per_shot_ms"] / base["per_shot_ms"], 3)
    # the goal is stated at 1,000 shots; the larger sizes show whether the growth stays linear past it
    at_goal = next((r for r in runs if r["shots"] == 1000), runs[-1])
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "cpu": device_info().get("cpu", ""), "python": platform.python_version()},
        "shot_wave": Settings(_env_file=None).shot_wave,
        "repeat": args.repeat,
        "runs": runs,
        "base_shots": base["shots"],
        "goal": {"shots": at_goal["shots"], "per_shot_ms_below": 5.0, "per_shot_ms": at_goal["per_shot_ms"],
                 "met": at_goal["per_shot_ms"] < 5.0},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for r in runs:
        print(f"{r['shots']:>5} shots: {r['phase_seconds']:8.3f} s, {r['per_shot_ms']:7.3f} ms/shot, "
              f"x{r['growth_vs_base']} per shot vs {base['shots']} shots")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
