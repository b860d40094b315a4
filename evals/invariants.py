"""Invariants: properties the factory's code guarantees by construction, checked on every production.

They read 1.0 on every production because code, not a model, decides them, so their mean says nothing about a
change: an A/B verdict on them could only be noise, and a `--compare` tolerance on them would hide a broken
guarantee behind "within tolerance". They stay checked on every production because the code that guarantees them
can change (and a reviewer's edit can break them in a product run): a violation is an error, shown loudly, that
fails the eval. They are kept out of the metric table, the A/B verdicts and the tolerances; the guarantees
themselves are tested directly against the agents in tests/test_eval_invariants.py.

Each entry names the code that guarantees it, so a reader who sees a violation knows where to look.
"""

from __future__ import annotations

from .metrics import MetricResult

INVARIANTS: dict[str, str] = {
    # Scenes are placed at bible.locations and cast from bible.characters (writer scene_casts); beat_plan gives
    # every beat at least one line; the beats are the BEATS list, in order.
    "script.valid": "agents/writer/agent.py: write_script builds scenes, casts and the beat sheet in code",
    # The first scene's beats are BEATS[:3]: the hook comes first, with a checked (or stock) action and a line.
    "script.hook_first": "agents/writer/agent.py: scene_beats = [BEATS[:3], BEATS[3:]], every beat has a line",
    # The second scene's beats are BEATS[3:]: the cliffhanger comes last, with an action and a line.
    "script.cliffhanger_last": "agents/writer/agent.py: scene_beats = [BEATS[:3], BEATS[3:]], every beat has a "
                               "line",
    # The writer takes each speaker from the scene's own two-person cast.
    "script.known_speakers": "agents/writer/agent.py: speaker = cast[turn % 2] of the scene's cast",
    # plan_shots adds one shot per spoken line, whatever the script.
    "shotlist.lines_covered": "agents/cinematographer/agent.py: plan_shots adds a shot for every line",
    # Every person in a prompt is described from the continuity memory's canonical look (name, hair, wardrobe).
    "shotlist.canonical_looks": "agents/cinematographer/agent.py: describe() reads memory.canonical for each "
                                "person",
    # plan_shots lists people in the scene's left-to-right order; an over-shoulder lists the listener first, and
    # it only falls on odd lines of a scene, which the writer gives to the scene's right-hand character.
    "shotlist.screen_direction": "agents/cinematographer/agent.py plan_shots (left_to_right) with the writer's "
                                 "alternating speakers",
}


def is_invariant(name: str) -> bool:
    return name in INVARIANTS


def split(metrics: list[MetricResult]) -> tuple[list[MetricResult], list[MetricResult]]:
    """(measurements, invariant checks) of one case's results."""
    return ([m for m in metrics if not is_invariant(m.name)], [m for m in metrics if is_invariant(m.name)])


def check(cases: list[dict]) -> dict[str, dict]:
    """Per invariant over the cases: whether it held in every case, and where it did not, in words."""
    out: dict[str, dict] = {}
    for case in cases:
        for m in case.get("invariants", []):
            row = out.setdefault(m["name"], {"held": True, "cases": 0, "guaranteed_by": INVARIANTS.get(m["name"], ""),
                                             "violations": []})
            row["cases"] += 1
            if not m["passed"]:
                row["held"] = False
                row["violations"] += [f"{case['id']}: {d}" for d in m.get("detail") or ["violated"]]
    return out


def violated(results: dict) -> list[str]:
    """The invariants an eval's results say were broken. Results written before invariants moved out of the
    metrics list them among each case's metrics: they are read from there."""
    rows = results.get("invariants")
    if rows is None:
        rows = check([{"id": c.get("id", "?"), "invariants": [m for m in c.get("metrics", []) if is_invariant(m["name"])]}
                      for c in results.get("cases", [])])
    return sorted(n for n, row in rows.items() if not row["held"])
