"""One 60 s episode on the embedded default, before and after a change, in one run on one machine.

    .venv/bin/python bench/episode_compare.py --before 653ca53 [--seconds 60] [--repeat 1]
        [--env DRAMAFACTORY_EMBEDDED_MODEL=qwen2.5-coder-1.5b] [--out bench/results/episode_compare.json]

The `--before` commit is built (not installed) into a temporary folder put first on PYTHONPATH, so
`bench/episode.py` runs the old package against the same venv, models and machine as the current one; the runs
alternate (before, after, before, after ...) so a machine that gets busier part-way hurts both alike. Writes each
side's stage seconds, their ratio, and the 90 s goal.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL_SECONDS = 90.0


def build(commit: str, into: Path) -> Path:
    """The package as it was at `commit`, built into `into/site` (no dependencies: the venv has them)."""
    tree = into / "tree"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), commit], check=True,
                   capture_output=True)
    try:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                        "--target", str(into / "site"), str(tree)], check=True)
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False,
                       capture_output=True)
    return into / "site"


# An old commit predates the AMX load fix (ADR 0016) and crashes in llama.cpp's first decode on a CPU with AMX: its
# side gets the fix, and only that, from a sitecustomize on its PYTHONPATH (run at interpreter start-up). It spells
# out llamacpp.without_extra_buffers instead of calling it: on that PYTHONPATH the old package, which lacks it,
# shadows the current one.
AMX_SHIM = """import llama_cpp.llama_cpp as native
_default = native.llama_model_default_params
def _without_extra_buffers():
    params = _default()
    params.use_extra_bufts = False
    return params
native.llama_model_default_params = _without_extra_buffers
"""


def shim_amx(site: Path) -> bool:
    from dramafactory.tools.text.llamacpp import cpu_has_amx

    if not cpu_has_amx():
        return False
    (site / "sitecustomize.py").write_text(AMX_SHIM)
    return True


def run_episode(seconds: int, out: Path, site: Path | None, env_extra: dict[str, str]) -> dict:
    env = {**os.environ, **env_extra}
    if site is not None:
        env["PYTHONPATH"] = f"{site}{os.pathsep}{env.get('PYTHONPATH', '')}"
    subprocess.run([sys.executable, str(ROOT / "bench" / "episode.py"), "--seconds", str(seconds), "--out",
                    str(out)], check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", required=True, help="commit (or tag) of the 'before' side")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the 'after' side only")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "episode_compare.json")
    args = parser.parse_args()
    after_env = dict(item.split("=", 1) for item in args.env)
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory() as tmp:
        site = build(args.before, Path(tmp))
        shimmed = shim_amx(site)
        for index in range(args.repeat):
            runs["before"].append(run_episode(args.seconds, Path(tmp) / f"before{index}.json", site, {}))
            runs["after"].append(run_episode(args.seconds, Path(tmp) / f"after{index}.json", None, after_env))

    def median(side: str, key: str) -> float:
        return round(statistics.median(r[key] for r in runs[side]), 2)

    def stage(side: str, name: str) -> float:
        return round(statistics.median(r["stages_s"].get(name, 0.0) for r in runs[side]), 2)

    stages = sorted({s for side in runs.values() for r in side for s in r["stages_s"]})
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "before": args.before, "after": "working tree", "after_env": after_env, "repeat": args.repeat,
        "before_amx_load_fix": shimmed,
        "machine": runs["after"][0]["machine"],
        "models": {side: runs[side][0]["models"]["text"] for side in runs},
        "run_s": {side: median(side, "run_s") for side in runs},
        "ratio_after_vs_before": round(median("after", "run_s") / median("before", "run_s"), 3),
        "after_vs_goal_90s": round(median("after", "run_s") / GOAL_SECONDS, 3),
        "stages_s": {name: {side: stage(side, name) for side in runs} for name in stages},
        "model_calls": {side: median(side, "model_calls") for side in runs},
        "completion_tokens": {side: median(side, "completion_tokens") for side in runs},
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main()
