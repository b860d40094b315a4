"""The QC agent: scores every take and says, in words the cinematographer can act on, what is wrong.

Scorers, each with one job (agents/qc/scorers/): technical (readable, 9:16 size, not flat, exposed, not clipped,
sharp), prompt adherence (who is on screen and in which order; CLIP similarity too when a local model is
configured), character identity (against the canonical looks in the continuity memory), continuity (wardrobe drift
from the canonical look) and, across a scene, duplicate and continuity against the previous accepted shot.
Thresholds come from configuration (Settings.qc). A scorer that cannot judge reports `judged=False`: the take
fails and goes to a person, it never passes silently.

People are recognised by the people-scorer the image backend that drew the take declares (tools/image/base.py,
PeopleScorer): QC holds no model of any drawing and imports no renderer. A backend that declares none has its
people reported "not judged".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from dramafactory.config import Settings
from dramafactory.schemas import Character, Location, QCReport, ScoreResult, Shot
from dramafactory.tools.image.base import FaceScorer, ImageBackend, PeopleScorer
from dramafactory.tools.image.people import people_scorer_for, people_scorer_of

from .scorers.adherence import score_adherence
from .scorers.clip_adherence import ClipAdherence
from .scorers.continuity import score_continuity
from .scorers.footage import not_judged as footage_not_judged
from .scorers.footage import score_footage
from .scorers.identity import score_identity
from .scorers.scene import PromptClaims, read_sky, score_interior_exterior, score_people_count, score_time_of_day
from .scorers.technical import Frame, UnreadableFrame, load_frame, score_duplicate, score_technical, unreadable


@dataclass
class TakeUnderReview:
    """What QC needs to judge one take: the frame, the shot's spec, and the canonical looks to hold it to."""

    path: Path
    shot: Shot
    location: Location
    cast: dict[str, Character]  # the whole series cast, so a wrong person can be named
    references: dict[str, Character | None] = field(default_factory=dict)  # canonical looks from memory, by name
    backend: str = "storyboard"  # the image backend that drew it: its people-scorer recognises its people
    people: PeopleScorer | None = None  # that backend's people-scorer, when the caller has it (else looked up)
    claims: PromptClaims | None = None  # what a free-text prompt says beyond the spec (`dramafactory qc`)
    # For footage judged by faces: the series whose reference sheets to match against, and the sheets (the
    # continuity memory's ReferenceStore, or name -> face embedding from `dramafactory qc --reference`).
    series: str = ""
    faces: object | None = None  # or a zero-argument callable giving it (opened only when faces are read)


class QCAgent:
    def __init__(self, settings: Settings, image: ImageBackend | None = None):
        """`image`: the run's image backend; takes it drew are judged with the people-scorer it declares."""
        self.settings = settings
        self.limits = settings.qc
        self.image = image
        path = settings.qc_clip_model_path
        self.clip = ClipAdherence(path, self.limits.clip_similarity) if path else None
        self._people: dict[str, PeopleScorer | None] = {}

    def people_scorer(self, take: TakeUnderReview) -> PeopleScorer | None:
        """The people-scorer of the backend that drew the take: given with it, the run's backend's own, or the one
        declared for the backend's name (a take from a resumed run, `dramafactory qc --backend`)."""
        if take.people is not None:
            return take.people
        if take.backend not in self._people:  # branches may race here: both compute the same scorer
            own = self.image is not None and self.image.name == take.backend
            self._people[take.backend] = people_scorer_of(self.image) if own and self.image is not None \
                else people_scorer_for(take.backend)
        return self._people[take.backend]

    def score(self, take: TakeUnderReview) -> QCReport:
        try:
            frame = load_frame(take.path)
        except UnreadableFrame as exc:
            return QCReport(passed=False, scores=[unreadable(str(exc))])
        scores = score_technical(frame, self.settings.width, self.settings.height, self.limits)
        # a picture of another size can still be read; a black, flat, noisy or blurred one cannot
        readable = all(s.passed for s in scores if s.scorer != "aspect")
        people = self.people_scorer(take)
        claims = self._score_claims(frame, take, people, readable) if take.claims is not None else []
        if self.settings.qc_people == "off":
            pass
        elif isinstance(people, FaceScorer):  # photographic footage: faces against the reference sheets
            scores += self._score_faces(frame, take, people, usable=readable)  # faces do not need the size
        elif people is None and self.clip is None:
            scores.append(ScoreResult(
                scorer="adherence_people", score=0.0, threshold=1.0, passed=False, judged=False,
                reason=f"the {take.backend} backend declares no people-scorer, so nothing can check who is in its "
                       f"frame: set DRAMAFACTORY_QC_CLIP_MODEL_PATH to a local CLIP/SigLIP folder (or "
                       f"DRAMAFACTORY_QC_PEOPLE=off)"))
        elif people is None:  # CLIP judges the prompt, but nothing here can tell people apart
            scores += [ScoreResult(scorer=f"identity:{name}", score=0.0, threshold=self.limits.min_identity,
                                   passed=False, judged=False,
                                   reason=f"no identity scorer for {take.backend} frames: a person must check "
                                          f"that {name} is {name}")
                       for name in take.shot.characters]
        elif all(s.passed for s in scores):  # only a usable picture is worth it
            reading = people.read(frame.rgb, take.shot, take.cast, take.references, take.location)
            scores += score_adherence(take.shot, reading)
            scores += score_identity(reading, take.references, self.limits.min_identity)
            scores += score_continuity(take.references, reading.garments, self.limits.max_palette_drift)
        if self.clip is not None:
            scores.append(self.clip.score(Image.fromarray(frame.rgb), take.shot.prompt))
        scores += claims
        return QCReport(passed=all(s.passed for s in scores), scores=scores)

    def _score_faces(self, frame: Frame, take: TakeUnderReview, people: FaceScorer, usable: bool) -> list[ScoreResult]:
        if not usable:  # listed, not silently left out: a person sees which checks a broken picture skipped
            return footage_not_judged(take.shot, "the picture is not usable")
        refs = take.faces() if callable(take.faces) else take.faces
        refs = refs if refs is not None else {}
        try:
            reading = people.read_faces(frame.rgb, refs, take.series or None, self.limits.max_face_distance)
        except Exception as exc:  # noqa: BLE001 - a scorer that fails is a scorer that could not judge
            return footage_not_judged(take.shot, f"the face scorer failed ({type(exc).__name__}: {exc})")
        return score_footage(take.shot, reading, {n: _has_sheet(refs, take.series, n) for n in take.shot.characters})

    def _score_claims(self, frame: Frame, take: TakeUnderReview, people: PeopleScorer | None,
                      readable: bool) -> list[ScoreResult]:
        """Each claim of the prompt judged from the pixels, or marked not judged: never left out."""
        claims = take.claims
        assert claims is not None
        # people spoken of without a count are judged only against a cast (the bible's); else they are unjudged
        count = claims.people is not None or (claims.mentions_people and not take.cast)
        asked = [name for name, claimed in (("people_count", count), ("time_of_day", claims.time_of_day),
                                            ("interior_exterior", claims.kind)) if claimed]
        if not readable:
            return [ScoreResult(scorer=name, score=0.0, threshold=1.0, passed=False, judged=False,
                                reason=f"{name.replace('_', ' ')} is not judged: the picture is not usable")
                    for name in asked]
        out = []
        if count:
            try:
                seen = people.count(frame.rgb) if people is not None and claims.people is not None else None
            except ValueError:  # a picture too small for the face detector: the count is not judged
                seen = None
            out.append(score_people_count(claims.people, seen, take.backend))
        if claims.time_of_day is None and claims.kind is None:
            return out
        sky = read_sky(people.picture(frame.rgb) if people is not None else frame.rgb)
        if claims.time_of_day is not None:
            out.append(score_time_of_day(claims.time_of_day, sky))
        if claims.kind is not None:
            out.append(score_interior_exterior(claims.kind, sky))
        return out

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
        people = self.people_scorer(take) if take.backend == previous.backend else None
        # wardrobe continuity needs the storyboard's colour model; faces say who, not what they wear
        palette = people is not None and not isinstance(people, FaceScorer)
        if self.settings.qc_people == "auto" and palette and same_light and usable:
            now, then = (people.read(f.rgb, t.shot, t.cast, t.references, t.location).garments
                         for f, t in ((frame, take), (before, previous)))
            drift = score_continuity(take.references, now, self.limits.max_palette_drift, previous=then)
            out += [s for s in drift if s.scorer.startswith("continuity:")]
        return out


def _has_sheet(refs: object, series: str, name: str) -> bool:
    """Whether the character has a reference face to be recognised by (a store's sheet, or a given image's)."""
    if isinstance(refs, dict):
        return name in refs
    getter = getattr(refs, "get", None)
    return bool(getter and getter(series, name) is not None)
