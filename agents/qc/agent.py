"""The QC agent: scores every take and says, in words the cinematographer can act on, what is wrong.

Scorers, each with one job (agents/qc/scorers/): technical (readable, 9:16 size, not flat, exposed, not clipped,
sharp), prompt adherence (who is on screen and in which order; CLIP similarity too when a local model is
configured), character identity (against the canonical looks in the continuity memory), continuity (wardrobe drift
from the canonical look) and, across a scene, duplicate and continuity against the previous accepted shot.
Thresholds come from configuration (Settings.qc). A scorer that cannot judge reports `judged=False`: the take
fails and goes to a person, it never passes silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from dramafactory.config import Settings
from dramafactory.schemas import Character, Location, QCReport, ScoreResult, Shot
from dramafactory.tools.image.storyboard import picture_box

from .scorers.adherence import score_adherence
from .scorers.clip_adherence import ClipAdherence
from .scorers.continuity import measured_garments, score_continuity
from .scorers.figures import find_people
from .scorers.identity import score_identity
from .scorers.technical import Frame, UnreadableFrame, load_frame, score_duplicate, score_technical, unreadable

DETECT_WIDTH = 340  # people are found on the picture reduced to about this width


@dataclass
class TakeUnderReview:
    """What QC needs to judge one take: the frame, the shot's spec, and the canonical looks to hold it to."""

    path: Path
    shot: Shot
    location: Location
    cast: dict[str, Character]  # the whole series cast, so a wrong person can be named
    references: dict[str, Character | None] = field(default_factory=dict)  # canonical looks from memory, by name
    backend: str = "storyboard"  # the image backend that drew it: the people detector must know its drawings


class QCAgent:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.limits = settings.qc
        path = settings.qc_clip_model_path
        self.clip = ClipAdherence(path, self.limits.clip_similarity) if path else None

    def score(self, take: TakeUnderReview) -> QCReport:
        try:
            frame = load_frame(take.path)
        except UnreadableFrame as exc:
            return QCReport(passed=False, scores=[unreadable(str(exc))])
        scores = score_technical(frame, self.settings.width, self.settings.height, self.limits)
        if self.settings.qc_people == "off":
            pass
        elif take.backend != "storyboard" and self.clip is None:
            scores.append(ScoreResult(
                scorer="adherence_people", score=0.0, threshold=1.0, passed=False, judged=False,
                reason=f"no scorer can check who is in a {take.backend} frame: set DRAMAFACTORY_QC_CLIP_MODEL_PATH "
                       f"to a local CLIP/SigLIP folder (or DRAMAFACTORY_QC_PEOPLE=off)"))
        elif take.backend != "storyboard":  # CLIP judges the prompt, but nothing here can tell people apart yet
            scores += [ScoreResult(scorer=f"identity:{name}", score=0.0, threshold=self.limits.min_identity,
                                   passed=False, judged=False,
                                   reason=f"no identity scorer for {take.backend} frames: a person must check "
                                          f"that {name} is {name}")
                       for name in take.shot.characters]
        elif all(s.passed for s in scores):  # only a usable picture is worth it
            picture = self._picture(frame)
            seen = find_people(picture, take.cast, take.shot.time_of_day, take.location.kind,
                               back_view=take.shot.framing == "over-shoulder")
            scores += score_adherence(take.shot, seen, picture.shape[1])
            scores += score_identity(take.shot, take.references, seen, self.limits.min_identity)
            garments = measured_garments(picture, take.shot, take.references, take.location.kind, seen)
            scores += score_continuity(take.shot, take.references, garments, take.location.kind,
                                       self.limits.max_palette_drift)
        if self.clip is not None:
            scores.append(self.clip.score(Image.fromarray(frame.rgb), take.shot.prompt))
        return QCReport(passed=all(s.passed for s in scores), scores=scores)

    def score_sequence(self, take: TakeUnderReview, previous: TakeUnderReview) -> list[ScoreResult]:
        """Checks against the previous accepted shot of the same scene: the take must not repeat it, and each
        character both show must wear the same colours in both."""
        try:
            frame = load_frame(take.path)
        except UnreadableFrame as exc:
            return [unreadable(str(exc))]
        try:
            before = load_frame(previous.path)
        except UnreadableFrame as exc:  # re-rendering this shot cannot fix the other shot's file: a person must
            return [unreadable(f"the previous shot's take cannot be read: {exc}").model_copy(update={"judged": False})]
        out = [score_duplicate(frame, before, previous.shot.id, self.limits)]
        same_light = (take.shot.time_of_day, take.location.kind) == (previous.shot.time_of_day, previous.location.kind)
        usable = frame.size == before.size == (self.settings.width, self.settings.height)
        if self.settings.qc_people == "auto" and take.backend == previous.backend == "storyboard" and same_light \
                and usable:
            now, then = (self._garments(f, t) for f, t in ((frame, take), (before, previous)))
            drift = score_continuity(take.shot, take.references, now, take.location.kind,
                                     self.limits.max_palette_drift, previous=then)
            out += [s for s in drift if s.scorer.startswith("continuity:")]
        return out

    def _garments(self, frame: Frame, take: TakeUnderReview) -> dict[str, tuple[int, int, int]]:
        picture = self._picture(frame)
        seen = find_people(picture, take.cast, take.shot.time_of_day, take.location.kind,
                               back_view=take.shot.framing == "over-shoulder")
        return measured_garments(picture, take.shot, take.references, take.location.kind, seen)

    @staticmethod
    def _picture(frame: Frame) -> np.ndarray:
        """The picture area, box-averaged down to about 360 px wide: painted fills stay exact, and finding people
        costs a quarter (or less) of working at full size."""
        left, top, right, bottom = picture_box(*frame.size)
        picture = frame.rgb[top:bottom, left:right]
        factor = max(1, picture.shape[1] // DETECT_WIDTH)
        if factor == 1:
            return picture
        return np.asarray(Image.fromarray(picture).reduce(factor))
