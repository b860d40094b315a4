"""The QC agent (technical pass): scores one take and says, in words the cinematographer can act on, what is wrong.

Scorers here look at the pixels: readable file, 9:16 size, not black/white/flat, not blurred, exposure not
clipped, and the number of people drawn matches the shot. The QC issue adds identity and prompt adherence.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from dramafactory.schemas import QCReport, ScoreResult, Shot

# Thresholds: calibrated on storyboard frames from the embedded renderer (sharp line art, mid-key backdrops):
# its frames score std > 40, Laplacian variance > 300, clipped fraction < 0.15.
MIN_STD = 12.0
MIN_SHARPNESS = 60.0
MAX_CLIPPED = 0.45
MEAN_RANGE = (18.0, 240.0)


def _laplacian_variance(gray: np.ndarray) -> float:
    lap = (-4 * gray[1:-1, 1:-1] + gray[:-2, 1:-1] + gray[2:, 1:-1] + gray[1:-1, :-2] + gray[1:-1, 2:])
    return float(lap.var())


def score_frame(path: Path, shot: Shot, width: int, height: int, figures_drawn: int | None = None) -> QCReport:
    scores: list[ScoreResult] = []
    try:
        with Image.open(path) as image:
            image.load()
            rgb = image.convert("RGB")
    except (OSError, UnidentifiedImageError) as exc:
        return QCReport(passed=False, scores=[ScoreResult(scorer="readable", score=0.0, threshold=1.0, passed=False,
                                                          reason=f"the frame file cannot be read ({exc})")])
    w, h = rgb.size
    size_ok = (w, h) == (width, height)
    scores.append(ScoreResult(scorer="aspect", score=round(w / h, 4), threshold=round(width / height, 4),
                              passed=size_ok, reason=f"frame is {w}x{h}; it must be {width}x{height} (9:16)"))
    gray = np.asarray(rgb.convert("L"), dtype=np.float32)
    std, mean = float(gray.std()), float(gray.mean())
    scores.append(ScoreResult(scorer="not_flat", score=round(std, 2), threshold=MIN_STD, passed=std >= MIN_STD,
                              reason="the frame is flat (one colour); draw the scene"))
    exposure_ok = MEAN_RANGE[0] <= mean <= MEAN_RANGE[1]
    scores.append(ScoreResult(scorer="exposure", score=round(mean, 2), threshold=MEAN_RANGE[0], passed=exposure_ok,
                              reason="the frame is almost black or almost white; fix the exposure"))
    clipped = float(((gray <= 2) | (gray >= 253)).mean())
    scores.append(ScoreResult(scorer="clipping", score=round(clipped, 4), threshold=MAX_CLIPPED,
                              passed=clipped <= MAX_CLIPPED, reason="too much of the frame is clipped to black/white"))
    sharp = _laplacian_variance(gray[::2, ::2])
    scores.append(ScoreResult(scorer="sharpness", score=round(sharp, 1), threshold=MIN_SHARPNESS,
                              passed=sharp >= MIN_SHARPNESS, reason="the frame is blurred; render it sharp"))
    if figures_drawn is not None:
        expected = len(shot.characters)
        scores.append(ScoreResult(
            scorer="people_count", score=float(figures_drawn), threshold=float(expected),
            passed=figures_drawn == expected,
            reason=f"the frame shows {figures_drawn} people; the shot needs exactly {expected}: "
                   f"{', '.join(shot.characters) or 'nobody'}"))
    return QCReport(passed=all(s.passed for s in scores), scores=scores)
