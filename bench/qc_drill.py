"""QC drill: does a retry that acts on QC's reason fix more than a new seed? Three productions of the same concept
and seed on the embedded default, in one invocation:

    control    no faults: the false failures (takes QC failed with nothing injected) and the first-pass rate
    feedback   faults injected; the renderer acts on QC's reason (DRAMAFACTORY_RENDER_FEEDBACK=on, the default)
    seed_only  the same faults; the reason is withheld from the renderer, so a retry is a new seed only

    .venv/bin/python bench/qc_drill.py [--episodes 3] [--seconds 45] [--rate 0.3] [--persistent 0.3]
                                       [--out bench/results/qc_drill]

The fault model is tools/image/faults.py's: transient faults strike each take independently (share --rate), so a new
seed cures them as often as a fix does, and four of them are applied after the renderer has drawn; persistent
faults are a generator bias on a share of the shots (--persistent) that stays on every attempt, and only a
drawing that changes because of the reason can get past it. Both fault arms get the same faults on the same takes
(the same shots, seeds and take files), so they differ only in what the renderer did with the reason.

The text stages are deterministic for a concept and seed, so they run once: the first arm's text model answers are
replayed to the other two (a request not seen before would still go to the model; `text_calls_not_replayed` counts
them, 0 when the arms planned the same shots). Per arm: the share of failed takes fixed by the next attempt (all,
and by the fault the failed take carried), the final usable rate, attempts per shot, and every injected fault with
whether QC caught it. Writes bench/results/qc_drill.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

ARMS = ("control", "feedback", "seed_only")


class ReplayedText:
    """A text backend that answers a request it has seen with the answer it got then: every arm plans the same
    series, and only the first pays for the model."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name, self.model = inner.name, inner.model
        self.version = getattr(inner, "version", "")
        self.answers: dict[str, Any] = {}
        self.misses = 0

    def complete_json(self, request: Any) -> Any:
        key = repr(request)  # JsonRequest is a frozen dataclass: its repr holds every field
        if key not in self.answers:
            self.misses += 1
            self.answers[key] = self.inner.complete_json(request)
            return self.answers[key]
        # A replayed answer cost nothing: its ledger row must not bill the model's time (or a load) again.
        return replace(self.answers[key], seconds=0.0, cpu_seconds=0.0, load_seconds=0.0, load_cpu_seconds=None)


def _label(faults: list[str]) -> str:
    """What a failed take carried: its faults ("black+tight_framing" when both struck it: which one failed it is
    not known, so such a retry counts under neither kind alone), or "none" (a false failure)."""
    return "+".join(faults) or "none"


def score_arm(run_dir: Path, persistent: set[str]) -> dict:
    """Retry outcomes, faults and take changes of one production, from its shots.json files and fault markers."""
    retries: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # failed take's fault -> [retried, fixed]
    faults, changes, ignored = [], Counter(), Counter()
    failed_shots = fixed_shots = first_pass = shots = usable = 0
    for shots_file in sorted(run_dir.glob("episodes/*/shots.json")):
        for record in json.loads(shots_file.read_text())["shots"]:
            takes = record["takes"]
            shots += 1
            first_pass += bool(takes[0]["accepted"])
            usable += any(t["accepted"] and t.get("approved_by") != "human" for t in takes)
            carried = []
            for take in takes:
                marker = (run_dir / take["asset"]).with_suffix(".fault.json")
                kinds = json.loads(marker.read_text())["faults"] if marker.is_file() else []
                carried.append(kinds)
                for kind in kinds:
                    faults.append({"take": take["asset"], "fault": kind, "persistent": kind in persistent,
                                   "caught": not take["accepted"], "changes": take.get("changes") or [],
                                   "reason": "; ".join(s["reason"] for s in (take.get("qc") or {}).get("scores", [])
                                                       if not s["passed"])})
                if take["attempt"] > 1:
                    changes["+".join(take.get("changes") or ["nothing"])] += 1
                    for note in (take.get("feedback_ignored") or "").split(" | "):
                        if note:
                            ignored[note[:140]] += 1
            failed = [i for i, t in enumerate(takes) if not t["accepted"] and t.get("qc")]
            if failed and failed[0] + 1 < len(takes):
                failed_shots += 1
                fixed_shots += bool(takes[failed[0] + 1]["accepted"])
            for i in failed:
                if i + 1 < len(takes):
                    cell = retries[_label(carried[i])]
                    cell[0] += 1
                    cell[1] += bool(takes[i + 1]["accepted"])
    retried = sum(c[0] for c in retries.values())
    fixed = sum(c[1] for c in retries.values())
    by_kind: dict[str, dict] = {}
    for kind, (n, k) in sorted(retries.items()):
        by_kind[kind] = {"retried": n, "fixed": k, "share": round(k / n, 3) if n else None}
    only_persistent = [c for kind, c in retries.items() if set(kind.split("+")) <= persistent]
    p_n, p_k = sum(c[0] for c in only_persistent), sum(c[1] for c in only_persistent)
    only_transient = [c for kind, c in retries.items() if kind != "none" and not set(kind.split("+")) & persistent]
    t_n, t_k = sum(c[0] for c in only_transient), sum(c[1] for c in only_transient)
    transient_faults = [f for f in faults if not f["persistent"]]
    biased = [f for f in faults if f["persistent"]]
    # a biased take QC passed either showed nothing of it (the bias is harmless on some framings: a tight crop of
    # a centred close-up) or was drawn past it (a retake whose renderer changed what the bias spoils)
    countered = [f for f in biased if not f["caught"] and set(f["changes"]) - {"seed"}]
    return {
        "shots": shots,
        "first_pass_rate": round(first_pass / shots, 4) if shots else None,
        "final_usable_rate": round(usable / shots, 4) if shots else None,
        "failed_shots_retried": failed_shots,
        "failed_shots_fixed_by_next_attempt": round(fixed_shots / failed_shots, 3) if failed_shots else None,
        "failed_takes_retried": retried,
        "fixed_by_next_attempt": round(fixed / retried, 3) if retried else None,
        # failed takes that carried only a persistent fault, or only transient ones (takes with both are in
        # next_attempt_by_fault alone)
        "fixed_by_next_attempt_persistent": round(p_k / p_n, 3) if p_n else None,
        "fixed_by_next_attempt_transient": round(t_k / t_n, 3) if t_n else None,
        "next_attempt_by_fault": by_kind,
        "transient_faults_injected": len(transient_faults),
        "transient_faults_caught": sum(f["caught"] for f in transient_faults),
        "biased_takes": len(biased),
        "biased_takes_failed": sum(f["caught"] for f in biased),
        "biased_takes_passed_after_a_fix": len(countered),
        "biased_takes_passed_unfixed": sum(not f["caught"] for f in biased) - len(countered),
        "faults_missed": [f for f in transient_faults if not f["caught"]],
        "retake_changes": dict(changes.most_common()),
        "feedback_ignored": dict(ignored.most_common()),
        "faults": faults,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=45)
    parser.add_argument("--rate", type=float, default=0.3, help="share of takes a transient fault breaks")
    parser.add_argument("--persistent", type=float, default=0.3, help="share of shots with people that carry a "
                                                                       "persistent generator bias")
    parser.add_argument("--out", type=Path, default=Path("bench/results/qc_drill"))
    args = parser.parse_args()

    from dramafactory.config import Settings
    from dramafactory.graphs.backends import build_context, build_text
    from dramafactory.graphs.runner import produce
    from dramafactory.schemas import SeriesConcept
    from dramafactory.tools.image.faults import PERSISTENT, FaultyRenderer
    from dramafactory.tools.image.storyboard import StoryboardRenderer

    settings = Settings()
    concept = SeriesConcept(logline="A junior lawyer discovers her mentor buried the evidence that would free her "
                                    "brother.", genre="thriller", episodes=args.episodes,
                            seconds_per_episode=args.seconds)
    text = ReplayedText(build_text(settings))
    renderers = {
        "control": StoryboardRenderer(),
        "feedback": FaultyRenderer(StoryboardRenderer(use_feedback=True), args.rate, args.persistent),
        "seed_only": FaultyRenderer(StoryboardRenderer(use_feedback=False), args.rate, args.persistent),
    }
    started = time.perf_counter()
    arms = {}
    for arm in ARMS:
        run_dir = args.out / arm
        shutil.rmtree(run_dir, ignore_errors=True)
        misses, arm_started = text.misses, time.perf_counter()
        outcome = produce(build_context(run_dir, settings, text=text, image=renderers[arm]), concept=concept, seed=11)
        summary = outcome.summary
        scored = score_arm(run_dir, set(PERSISTENT))
        takes = [t for f in run_dir.glob("episodes/*/shots.json") for r in json.loads(f.read_text())["shots"]
                 for t in r["takes"]]
        false_failures = sum(not t["accepted"] and not (run_dir / t["asset"]).with_suffix(".fault.json").is_file()
                             for t in takes)
        arms[arm] = {"wall_seconds": round(time.perf_counter() - arm_started, 1),
                     "text_calls_not_replayed": text.misses - misses if arm != ARMS[0] else None,
                     "takes": summary.takes, "attempts_per_shot": summary.attempts_per_shot,
                     "retry_renders": summary.retry_renders, "shots_to_humans": summary.shots_to_humans,
                     "false_failures": false_failures, **scored}
    result = {"episodes": args.episodes, "seconds_per_episode": args.seconds, "fault_rate": args.rate,
              "persistent_rate": args.persistent, "seed": 11, "wall_seconds": round(time.perf_counter() - started, 1),
              "arms": arms}
    path = Path("bench/results/qc_drill.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
    brief = {arm: {k: v for k, v in a.items() if k not in ("faults", "faults_missed")} for arm, a in arms.items()}
    print(json.dumps({**{k: v for k, v in result.items() if k != "arms"}, "arms": brief}, indent=2))


if __name__ == "__main__":
    main()
