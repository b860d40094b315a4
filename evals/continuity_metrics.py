"""Continuity suite: does each character look like themselves in every shot of the series?

Every take of every shot (episodes/NN/shots.json lists them all, with their QC reports) is measured again
against the characters' canonical looks from the continuity memory, with the QC agent's people scorers: identity
(the share of a character's look features found on them) and wardrobe drift (RGB distance of the painted garment
from its canonical colour under the shot's light).

The take the episode uses was picked by QC, so its figures (identity_mean, identity_worst, drift) partly restate
QC's own selection: a renderer that draws the wrong person half the time still scores well once QC re-renders.
What the renderer itself delivers is the first take of each shot (identity_first_take) and every take it drew
(identity_all_takes). The suite reports those, the mean and the worst over every (character, shot) of the takes
used, and the character-by-shot grid the report draws as a heatmap.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from dramafactory.agents.qc.agent import QCAgent, TakeUnderReview
from dramafactory.config import Settings
from dramafactory.schemas import Character, SeriesBible, Shot
from dramafactory.tools.image.storyboard import visible_characters

from .metrics import MetricResult, at_most, share

IDENTITY_MEAN = 0.9
COVERAGE = 0.9  # share of (character, shot) the suite could measure: a mean over a few frames proves little


def _agent(size: tuple[int, int], cache: dict) -> QCAgent:
    if size not in cache:
        cache[size] = QCAgent(Settings(_env_file=None, width=size[0], height=size[1], qc_people="auto",
                                       qc_clip_model_path=None))
    return cache[size]


def _score_take(run_dir: Path, take: dict, shot: Shot, bible: SeriesBible, cast: dict[str, Character],
                references: dict[str, Character | None], agents: dict) -> tuple[dict[str, float], dict[str, float]]:
    """identity and drift by character for one take; a character QC could not score on it (the frame failed the
    technical checks, or cannot be read) is absent."""
    path = run_dir / take["asset"]
    try:
        with Image.open(path) as image:
            size = image.size
    except OSError:
        return {}, {}
    review = TakeUnderReview(path=path, shot=shot, location=bible.location(shot.location), cast=cast,
                             references=references, backend=take["backend"])
    identity: dict[str, float] = {}
    drift: dict[str, float] = {}
    for score in _agent(size, agents).score(review).scores:
        kind, _, name = score.scorer.partition(":")
        if kind == "identity" and name in cast:
            identity[name] = score.score if score.judged else 0.0
        elif kind == "palette" and name in cast:
            drift[name] = score.score
    return identity, drift


def measure(run_dir: Path, cuts: list[dict], bible: SeriesBible, canonical) -> dict:
    """identity[name][shot_id] and drift[name][shot_id] for every character visible in the take each shot uses;
    `takes`: every take of every shot, first and retries, with the identity measured on it (None: not scored)."""
    cast = {c.name: c for c in bible.characters}
    references: dict[str, Character | None] = {}
    for name in cast:
        try:
            references[name] = canonical(name)
        except KeyError:
            references[name] = None
    identity: dict[str, dict[str, float]] = {n: {} for n in cast}
    drift: dict[str, dict[str, float]] = {n: {} for n in cast}
    agents: dict = {}
    shots: list[str] = []
    expected: list[tuple[str, str]] = []  # (character, shot) pairs the shot lists as visible
    takes: list[dict] = []
    for cut in cuts:
        for record in cut["shots"]:
            first = min(t["attempt"] for t in record["takes"])
            for take in sorted(record["takes"], key=lambda t: t["attempt"]):
                shot = Shot.model_validate(take.get("shot") or record["shot"])
                visible = [n for n in visible_characters(shot) if n in cast]
                seen, painted = _score_take(run_dir, take, shot, bible, cast, references, agents)
                chosen = take["attempt"] == record["chosen_take"]
                takes.append({"shot": shot.id, "attempt": take["attempt"], "first": take["attempt"] == first,
                              "chosen": chosen, "identity": {n: seen.get(n) for n in visible}})
                if chosen:
                    shots.append(shot.id)
                    expected += [(n, shot.id) for n in visible]
                    for name, value in seen.items():
                        identity[name][shot.id] = value
                    for name, value in painted.items():
                        drift[name][shot.id] = value
    return {"shots": shots, "identity": identity, "drift": drift, "expected": expected, "takes": takes}


def _over_takes(name: str, takes: list[dict], threshold: float, min_identity: float) -> MetricResult:
    """Mean identity over (character, take) of the given takes. A character a take could not be scored for (its
    frame failed the technical checks) is left out and said in the detail: technical failures are counted by
    e2e.first_pass_usable, and scoring them 0 here would count them twice."""
    cells = [(t, n, v) for t in takes for n, v in t["identity"].items() if v is not None]
    skipped = [f"{n} in {t['shot']} take {t['attempt']}: not scored (the frame failed the technical checks)"
               for t in takes for n, v in t["identity"].items() if v is None]
    if not cells:
        return share(name, [], 0, threshold=threshold, none_means="no character is on screen" if not skipped
                     else None)
    mean = sum(v for *_, v in cells) / len(cells)
    low = [f"{n} in {t['shot']} take {t['attempt']}: identity {v:.2f}"
           for t, n, v in sorted(cells, key=lambda c: c[2]) if v < min_identity]
    return MetricResult(name=name, value=round(mean, 4), passed=mean >= threshold, threshold=threshold,
                        detail=(low + skipped)[:5])


def score_continuity(measured: dict, max_drift: float = 18.0, min_identity: float = 0.6) -> list[MetricResult]:
    cells = [(n, s, v) for n, row in measured["identity"].items() for s, v in row.items()]
    expected = measured.get("expected", [(n, s) for n, s, _ in cells])
    unmeasured = [f"{n} in {s}: not measured (the frame failed the technical checks)" for n, s in expected
                  if s not in measured["identity"].get(n, {})]
    drifts = [(n, s, v) for n, row in measured["drift"].items() for s, v in row.items()]
    if not cells:
        return [share("continuity.identity_mean", [], 0)]
    mean = sum(v for *_, v in cells) / len(cells)
    worst = min(cells, key=lambda c: c[2])
    low = [f"{n} in {s}: identity {v:.2f}" for n, s, v in sorted(cells, key=lambda c: c[2]) if v < min_identity]
    out = [
        MetricResult(name="continuity.identity_mean", value=round(mean, 4), passed=mean >= IDENTITY_MEAN,
                     threshold=IDENTITY_MEAN, detail=low[:5]),
        MetricResult(name="continuity.identity_worst", value=worst[2], passed=worst[2] >= min_identity,
                     threshold=min_identity, detail=low[:5]),
    ]
    if "takes" in measured:  # measured from shots.json; a hand-made grid has only the takes used
        takes = measured["takes"]
        out.append(_over_takes("continuity.identity_first_take", [t for t in takes if t["first"]], IDENTITY_MEAN,
                               min_identity))
        out.append(_over_takes("continuity.identity_all_takes", takes, IDENTITY_MEAN, min_identity))
    out.append(share("continuity.coverage", unmeasured, len(expected), threshold=COVERAGE,
                     none_means="no character is on screen"))
    if drifts:
        far = [f"{n} in {s}: wardrobe {v:.0f} from canonical" for n, s, v in sorted(drifts, key=lambda c: -c[2])
               if v > max_drift]
        out.append(at_most("continuity.drift_mean", sum(v for *_, v in drifts) / len(drifts), max_drift / 2, far))
        out.append(at_most("continuity.drift_worst", max(v for *_, v in drifts), max_drift, far))
    return out


def heatmap(measured: dict) -> dict:
    """Characters x shots identity grid (None where the character is not in the shot), for the report."""
    names = [n for n, row in measured["identity"].items() if row]
    return {"characters": names, "shots": measured["shots"],
            "identity": [[measured["identity"][n].get(s) for s in measured["shots"]] for n in names]}
