"""Shot-list suite: can the episode be cut from these shots, and does it follow film grammar?

Every dialogue line covered by a shot, durations that add up to the target, every listed character described in
the prompt with their canonical look (as the continuity memory holds it), and three rules of film grammar:
no run of the same framing (monotony), each character keeps their screen side within a scene (the 180-degree
rule), and a two-person exchange is covered by a reverse (each speaker favoured in their own shot).

Lines covered, canonical looks and screen direction are guaranteed by the cinematographer's planner (the last
together with the writer's alternating speakers): the eval checks them as invariants (evals/invariants.py),
beside the metrics, and never scores them.
"""

from __future__ import annotations

from collections.abc import Callable

from dramafactory.schemas import Character, EpisodeScript, Shot, ShotList

from .metrics import MetricResult, at_most, mean_of, not_measured, share, within

DURATION_BAND = (0.85, 1.15)
MAX_FRAMING_RUN = 2  # the same framing three times running reads as a locked-off camera
SINGLE = {"close-up", "medium"}
Canonical = Callable[[str], Character]


def lines_covered(shotlist: ShotList, script: EpisodeScript) -> MetricResult:
    covered = {s.dialogue_line for s in shotlist.shots if s.dialogue_line}
    lines = script.lines()
    failures = [f"{line.id} ({line.speaker}: {line.text!r}) has no shot" for line in lines if line.id not in covered]
    return share("shotlist.lines_covered", failures, len(lines))


def duration_fit(shotlist: ShotList, target_seconds: float) -> MetricResult:
    total = sum(s.duration_s for s in shotlist.shots)
    low, high = DURATION_BAND
    ratio = total / target_seconds
    return within("shotlist.duration_fit", ratio, low, high,
                  [] if low <= ratio <= high else [f"shots add up to {total:.1f} s for a {target_seconds:.0f} s "
                                                   f"episode"])


def canonical_looks(shotlist: ShotList, canonical: Canonical) -> MetricResult:
    """Each character a shot lists is described in its prompt by their canonical hair and wardrobe."""
    failures, total = [], 0
    for shot in shotlist.shots:
        prompt = shot.prompt.lower()
        for name in shot.characters:
            total += 1
            try:
                c = canonical(name)
            except KeyError:
                failures.append(f"{shot.id}: no canonical look for {name} in memory")
                continue
            missing = [what for what, text in (("name", c.name), ("hair", c.look.hair_color),
                                               ("wardrobe", c.wardrobe)) if text.lower() not in prompt]
            if missing:
                failures.append(f"{shot.id}: {name}'s {', '.join(missing)} not in the prompt")
    return share("shotlist.canonical_looks", failures, total, none_means="no shot lists a character")


def framing_run(shotlist: ShotList) -> MetricResult:
    longest, run, where = 1, 1, []
    shots = shotlist.shots
    for before, shot in zip(shots, shots[1:], strict=False):
        run = run + 1 if shot.framing == before.framing else 1
        if run > MAX_FRAMING_RUN:
            where.append(f"{shot.id}: {run} {shot.framing} shots in a row")
        longest = max(longest, run)
    return at_most("shotlist.max_framing_run", longest, MAX_FRAMING_RUN, where)


def screen_direction(shotlist: ShotList, script: EpisodeScript) -> MetricResult:
    """Within a scene, any two characters shown together keep their left-to-right order. A shot lists the visible
    characters screen-left first (Shot.characters), over-shoulder shots included: the storyboard draws the near
    shoulder at the left, so an over-shoulder onto the scene's left-hand character puts them on the wrong side."""
    sides = {scene.number: {name: i for i, name in enumerate(scene.characters)} for scene in script.scenes}
    failures, total = [], 0
    for shot in shotlist.shots:
        if len(shot.characters) < 2:
            continue
        total += 1
        order = sides.get(shot.scene, {})
        positions = [order.get(n, -1) for n in shot.characters]
        if positions != sorted(positions):
            failures.append(f"{shot.id} ({shot.framing}) shows {shot.characters}: the scene keeps "
                            f"{sorted(order, key=order.get)} left to right")
    return share("shotlist.screen_direction", failures, total, none_means="no shot shows two characters")


def favoured(shot: Shot) -> str | None:
    """The one character a shot plays to: alone in a single, or facing the camera in an over-shoulder."""
    if shot.framing in SINGLE and len(shot.characters) == 1:
        return shot.characters[0]
    if shot.framing == "over-shoulder" and shot.characters:
        return shot.characters[-1]
    return None


def reverse_shots(shotlist: ShotList, script: EpisodeScript) -> MetricResult:
    """A line answered by another character (an exchange) is covered in shot / reverse shot: each of the two
    lines' shots plays to its own speaker."""
    by_line = {s.dialogue_line: s for s in shotlist.shots if s.dialogue_line}
    failures, total = [], 0
    for scene in script.scenes:
        lines = [line for beat in scene.beats for line in beat.lines]
        for a, b in zip(lines, lines[1:], strict=False):
            if a.speaker == b.speaker or a.id not in by_line or b.id not in by_line:
                continue
            total += 1
            shot_a, shot_b = by_line[a.id], by_line[b.id]
            if (favoured(shot_a), favoured(shot_b)) != (a.speaker, b.speaker):
                failures.append(f"{shot_a.id}->{shot_b.id}: {a.speaker} then {b.speaker} shot as "
                                f"{shot_a.framing} then {shot_b.framing}")
    return share("shotlist.reverse_shots", failures, total, threshold=0.6,
                 none_means="no two-person exchange (a monologue)")


METRICS = ["shotlist.lines_covered", "shotlist.duration_fit", "shotlist.canonical_looks", "shotlist.max_framing_run",
           "shotlist.screen_direction", "shotlist.reverse_shots"]


def score_shotlists(shotlists: list[ShotList], scripts: list[EpisodeScript], target_seconds: float,
                    canonical: Canonical) -> list[MetricResult]:
    if not shotlists or len(shotlists) != len(scripts):
        return not_measured(METRICS, f"{len(shotlists)} shot list(s) for {len(scripts)} script(s)")
    per_episode = [[lines_covered(sl, sc), duration_fit(sl, target_seconds), canonical_looks(sl, canonical),
                    framing_run(sl), screen_direction(sl, sc), reverse_shots(sl, sc)]
                   for sl, sc in zip(shotlists, scripts, strict=True)]
    return [mean_of(column) for column in zip(*per_episode, strict=True)]
