"""Continuity: a character's wardrobe must keep its canonical colour from shot to shot.

Drift is the RGB distance between the wardrobe colour in this frame and the canonical colour under this shot's
light, as the backend's people-scorer measures it (it knows how its frames light and shade a garment; it finds a
drifted garment with a loose tolerance, so the drift can be measured). Optionally the garment is also compared with
the previous accepted shot of the scene.
"""

from __future__ import annotations

import numpy as np

from dramafactory.schemas import Character, ScoreResult
from dramafactory.tools.image.base import RGB, Garment


def _distance(a: RGB, b: RGB) -> float:
    return float(np.linalg.norm(np.asarray(a, float) - np.asarray(b, float)))


def score_continuity(references: dict[str, Character | None], garments: dict[str, Garment], max_drift: float,
                     previous: dict[str, Garment] | None = None) -> list[ScoreResult]:
    out = []
    for name, garment in garments.items():
        reference = references[name]
        assert reference is not None  # a people-scorer measures only characters with a canonical look
        drift = garment.drift
        out.append(ScoreResult(
            scorer=f"palette:{name}", score=round(drift, 2), threshold=max_drift, passed=drift <= max_drift,
            reason="" if drift <= max_drift else
            f"{name}'s wardrobe has drifted from the canonical {reference.look.palette[0]}: keep "
            f"'{reference.wardrobe}'"))
        if previous and name in previous:
            # either frame may show mostly the shaded side of the garment (a back view, a turned shoulder)
            before = previous[name]
            step = min(_distance(garment.colour, before.colour), _distance(garment.colour, before.shaded),
                       _distance(garment.shaded, before.colour))
            out.append(ScoreResult(
                scorer=f"continuity:{name}", score=round(step, 2), threshold=max_drift, passed=step <= max_drift,
                reason="" if step <= max_drift else
                f"{name}'s wardrobe changed colour since the previous shot of the scene; keep it as it was"))
    return out
