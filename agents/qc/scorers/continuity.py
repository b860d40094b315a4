"""Continuity: a character's wardrobe must keep its canonical colour from shot to shot.

Drift is measured as the RGB distance between the wardrobe colour painted in this frame and the canonical colour
from the bible under this shot's light (optionally also against the previous accepted shot of the scene). The garment is found with a loose colour tolerance, so a drifted jacket is still found and measured."""

from __future__ import annotations

import numpy as np

from dramafactory.schemas import Character, ScoreResult, Shot
from dramafactory.tools.image.storyboard import figure_colours, shade, visible_characters

from .figures import Sighting, find_people

LOOSE = 60.0  # colour tolerance for finding a drifted garment (a 25-45 degree hue turn moves it by 30-80)


def _distance(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    return float(np.linalg.norm(np.asarray(a, float) - np.asarray(b, float)))


def measured_garments(picture: np.ndarray, shot: Shot, references: dict[str, Character | None], kind: str,
                      seen: list[Sighting] | None = None) -> dict[str, tuple[int, int, int]]:
    """Each visible character's wardrobe colour as painted. Characters already found with their exact colours
    (`seen`) are measured there; the others are searched again with a loose tolerance, to measure a drift."""
    visible = visible_characters(shot)
    out = {s.name: s.garment for s in seen or [] if s.name in visible and references.get(s.name) is not None}
    rest = {n: c for n, c in references.items() if c is not None and n in visible and n not in out}
    if rest:
        out |= {s.name: s.garment for s in find_people(picture, rest, shot.time_of_day, kind, main_tolerance=LOOSE,
                                                     back_view=shot.framing == "over-shoulder")}
    return out


def score_continuity(shot: Shot, references: dict[str, Character | None], garments: dict[str, tuple[int, int, int]],
                     kind: str, max_drift: float, previous: dict[str, tuple[int, int, int]] | None = None
                     ) -> list[ScoreResult]:
    out = []
    for name, painted in garments.items():
        reference = references[name]
        assert reference is not None
        canonical = figure_colours(reference, shot.time_of_day, kind)["main"]
        drift = min(_distance(painted, canonical), _distance(painted, shade(canonical)))
        out.append(ScoreResult(
            scorer=f"palette:{name}", score=round(drift, 2), threshold=max_drift, passed=drift <= max_drift,
            reason="" if drift <= max_drift else
            f"{name}'s wardrobe has drifted from the canonical {reference.look.palette[0]}: keep "
            f"'{reference.wardrobe}'"))
        if previous and name in previous:
            # either frame may show mostly the cel-shaded side of the garment (a back view, a turned shoulder)
            before = previous[name]
            step = min(_distance(painted, before), _distance(painted, shade(before)), _distance(shade(painted), before))
            out.append(ScoreResult(
                scorer=f"continuity:{name}", score=round(step, 2), threshold=max_drift, passed=step <= max_drift,
                reason="" if step <= max_drift else
                f"{name}'s wardrobe changed colour since the previous shot of the scene; keep it as it was"))
    return out
