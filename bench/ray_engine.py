"""Ray against in-process on the same work: one production run with the in-process engine and with a local Ray cluster.

    .venv/bin/python bench/ray_engine.py [--repeats 3] [--workers 1] [--out bench/results/ray_engine.json]

Both arms produce the same series (one short episode, seed fixed) with the same settings, backends and QC: the real
storyboard image backend (the embedded default's CPU animatic) and the real QC agent, at the default frame size.
The in-process arm runs renders and QC in the graph's own threads (DRAMAFACTORY_RAY_ADDRESS unset); the Ray arm sets
the address to a cluster this bench starts on this machine with `ray start` (tests/ray_cluster.py: a head and
`--workers` worker nodes, one CPU slot each, no GPU slots), so every render and every QC score is a Ray task in
another process, with its payload and result crossing the object store, and the take written by the worker into
the run folder. The text model is the test suite's FakeText (tests/fakes.py, a fake by name), and speech its
FakeSpeech: text calls and voices run in the orchestrator in both arms (they are not engine work), so faking them
keeps the comparison on what the engine changes.

Warm-up is excluded: each arm first runs one production that is not measured (imports, the checkpointer's and the
shot ledger's tables, and, for Ray, the job's worker processes and their residents: the bench connects to the
cluster once, so the engine of every production shares that connection and its warm workers, as a long-lived
service would). Figures per arm: wall seconds of the shot phase (the cinematographer's shot list to the episode's
QC review, as bench/orchestration.py times it), wall seconds of the whole production, renders (ledger render calls)
and QC scores; and the ratio Ray / in-process of each wall time, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.fakes and tests.ray_cluster, from a checkout

from dramafactory.config import Settings  # noqa: E402
from dramafactory.graphs.backends import build_context  # noqa: E402
from dramafactory.graphs.runner import produce  # noqa: E402
from dramafactory.schemas import SeriesConcept  # noqa: E402
from dramafactory.tools.accounting import device_info  # noqa: E402
from dramafactory.tools.engine import build_engine  # noqa: E402
from tests.fakes import FakeSpeech, FakeText  # noqa: E402

CONCEPT = SeriesConcept(logline="A night-shift nurse discovers the billionaire patient she saved is her runaway "
                                "father.", genre="family", episodes=1, seconds_per_episode=20)
SEED = 7


def settings_for(ray_address: str | None) -> Settings:
    # identical in both arms but for the address; music off: the score is assembly work, the same in both arms
    return Settings(_env_file=None, music=False, ray_address=ray_address)


def _no_resident(role: str) -> object:
    raise AssertionError(f"{role} work ran in the orchestrator in the Ray arm")


def one_production(run_dir: Path, settings: Settings) -> dict:
    ctx = build_context(run_dir, settings, text=FakeText(), speech=FakeSpeech())
    assert ctx.image.name == "storyboard", f"expected the storyboard backend, got {ctx.image.name}"
    if settings.ray_address:
        # the engine produce() would build, built here with residents that refuse to be used: proof that every
        # render and score of this arm ran on the cluster (a Ray worker builds its own resident)
        ctx.engine = build_engine(settings, _no_resident)
        assert ctx.engine.name == "ray", ctx.engine.name
    marks: dict[str, float] = {}

    def on_event(ns, mode, data) -> None:  # noqa: ANN001
        if mode != "custom" or not isinstance(data, dict):
            return
        if data.get("stage") == "cinematographer" and data.get("status") == "done":
            marks.setdefault("start", time.perf_counter())
        elif data.get("stage") == "qc" and data.get("status") == "review":
            marks["end"] = time.perf_counter()

    started = time.perf_counter()
    try:
        outcome = produce(ctx, concept=CONCEPT, seed=SEED, on_event=on_event)
    finally:
        if ctx.engine is not None:
            ctx.engine.close()  # the shared connection stays open (the engine does not own it)
    whole = time.perf_counter() - started
    if outcome.status != "finished":
        raise RuntimeError(f"the production did not finish: {outcome.status} at {outcome.next_nodes}")
    rows = ctx.ledger.rows()
    renders = [r for r in rows if r["stage"] == "render" and r.get("kind") == "call"]
    scores = [r for r in rows if r["stage"] == "qc"]
    summary = outcome.summary
    return {"shot_phase_s": round(marks["end"] - marks["start"], 3), "production_s": round(whole, 3),
            "renders": len(renders), "qc_rows": len(scores), "shots": summary.shots if summary else None,
            "render_backend_s": round(sum(r["seconds"] for r in renders), 3)}


def run_arm(name: str, settings: Settings, root: Path, repeats: int) -> dict:
    one_production(root / f"{name}-warmup", settings)
    runs = [one_production(root / f"{name}-{i}", settings) for i in range(repeats)]
    for i, r in enumerate(runs):
        print(f"{name:>10} run {i}: shot phase {r['shot_phase_s']:7.2f} s, production {r['production_s']:7.2f} s, "
              f"{r['renders']} renders, {r['qc_rows']} QC rows")
    return {"runs": runs, "shot_phase_s": statistics.median(r["shot_phase_s"] for r in runs),
            "production_s": statistics.median(r["production_s"] for r in runs), "renders": runs[0]["renders"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3, help="measured productions per arm (median reported)")
    parser.add_argument("--workers", type=int, default=1, help="Ray worker nodes besides the head")
    parser.add_argument("--out", type=Path, default=Path("bench/results/ray_engine.json"))
    args = parser.parse_args()

    import ray

    from tests.ray_cluster import RayCluster, unavailable

    reason = unavailable()
    if reason:
        raise SystemExit(f"cannot start a Ray cluster here: {reason}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        in_process = run_arm("in-process", settings_for(None), root, args.repeats)
        # one CPU slot per node, no GPU slots: the head and each worker node take render and QC tasks
        cluster = RayCluster(workers=args.workers, head_cpus=1, worker_cpus=1, worker_gpus=0, worker_resources={})
        started = time.perf_counter()
        with cluster, cluster.driver_env():
            cluster_start_s = time.perf_counter() - started
            # one connection for every production (the engine shares it and leaves it open): warm workers stay
            ray.init(address=cluster.address, namespace="dramafactory", log_to_driver=False)
            try:
                on_ray = run_arm("ray", settings_for(cluster.address), root, args.repeats)
                resources = {k: v for k, v in ray.cluster_resources().items() if k in ("CPU", "GPU")}
            finally:
                ray.shutdown()
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "cpu": device_info().get("cpu", ""), "python": platform.python_version()},
        "ray": {"version": ray.__version__, "nodes": 1 + args.workers, "resources": resources,
                "cluster_start_s": round(cluster_start_s, 1)},
        "work": {"episodes": CONCEPT.episodes, "seconds_per_episode": CONCEPT.seconds_per_episode, "seed": SEED,
                 "image": "storyboard", "qc": "real", "text": "tests.fakes.FakeText", "speech": "tests.fakes.FakeSpeech",
                 "repeats": args.repeats, "warmup_per_arm": 1},
        "in_process": in_process,
        "ray_engine": on_ray,
        "ratio_ray_over_in_process": {
            "shot_phase": round(on_ray["shot_phase_s"] / in_process["shot_phase_s"], 3),
            "production": round(on_ray["production_s"] / in_process["production_s"], 3),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    ratio = result["ratio_ray_over_in_process"]
    print(f"shot phase: in-process {in_process['shot_phase_s']:.2f} s, Ray {on_ray['shot_phase_s']:.2f} s "
          f"(x{ratio['shot_phase']}); production: {in_process['production_s']:.2f} s vs "
          f"{on_ray['production_s']:.2f} s (x{ratio['production']})")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
