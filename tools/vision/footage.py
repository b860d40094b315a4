"""Read a frame of footage against a series' reference sheets: who is on screen, how many, and how it is framed.

Faces come from tools/vision/faces.py (dlib HOG + 128-d embeddings). Each identifiable face is named by nearest
neighbour among the series' reference embeddings (Euclidean, dlib's convention); a face whose nearest sheet is
farther than `threshold` is an unknown face, not the nearest character. A face too small to embed (under
MIN_EMBED_FACE_PX) is counted but never named: an identity verdict on it would be noise.

Framing is judged from face geometry only (framing_from_faces): close-up / medium / wide from the largest face's
height as a fraction of the frame height, and two-shot when two faces of comparable size are at least medium.
"over-shoulder" and "insert" are NOT judged: an over-the-shoulder shot's foreground person shows the back of a head,
which a frontal face detector does not see (telling it from a face-less blob would need a person/segmentation model
this module does not have), and an insert (an object in detail) cannot be told from an empty location by faces.
An over-shoulder frame therefore reads as the framing of its one visible face.

The framing thresholds (FACE_FRACTION_* below) were placed between the face sizes measured on the labelled set
(evals/footage_set.py; the report is evals/footage_eval.py), which is small: read its limits before trusting them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from .faces import SAME_PERSON_DISTANCE, Face, FaceEmbedder

if TYPE_CHECKING:  # only for the type: a dict of embeddings works without Chroma installed
    from dramafactory.memory.references import ReferenceStore

Box = tuple[int, int, int, int]

# Framing thresholds on (largest face box height) / (frame height). dlib's box spans roughly brows to chin, about
# 0.63 (Collins: 91 px box, 145 px hair-to-chin) to 0.8 (Hopper, under her cap) of the crown-to-chin head height.
# Film convention by what the frame shows, in crown-to-chin head heights of frame height (~0.7 box/head):
#   close-up (head and shoulders) ~2 heads -> box ~0.35; medium close-up (chest) ~2.5 -> ~0.28;
#   medium (waist) ~3.5 -> ~0.20; medium-wide (thigh) ~5.5 -> ~0.13; wide (whole figure + room) >= 9 -> <= ~0.08.
# Calibrated on the labelled set (evals/footage_set.py: 40 frames, faces built at 0.30-0.42 for close-ups, 0.13-0.20
# for mediums, 0.04-0.065 for wides; HOG upsample=1, 720x1280). The detected box fractions were
#   close-up 0.302-0.434 (n=4), medium 0.121-0.252 (n=19), wide 0.041-0.071 (n=5), two-shot faces 0.146-0.175 (n=4);
# the thresholds are the midpoints of the gaps, 0.252|0.302 -> 0.275 and 0.071|0.121 -> 0.095, which also fall
# between the conventional classes above (a medium close-up, ~0.28, sits on the boundary).
# Caveat measured there: HOG boxes snap to its image pyramid (steps of 1.2x: 0.122, 0.146, 0.175, 0.210, 0.252,
# 0.302 ... of a 1280 px frame), and a box came out 0.87-1.29x the face size a frame was built at (a face built at
# 0.20 was boxed at 0.252), so a framing is only resolved to about one class step; frames with a face inside the
# gaps are judged by these midpoints but no labelled frame tests them.
FACE_FRACTION_CLOSE_UP = 0.275  # largest face >= this fraction of frame height: close-up
FACE_FRACTION_WIDE = 0.095  # largest face < this: wide (a whole figure fits with room)
# Two faces are a two-shot when the smaller is at least this fraction of the larger's height (two people at about
# the same distance from camera) and the larger is not wide; in the set the two-shot pairs measured 0.83-1.0.
# A wide frame with two small figures stays "wide": the figures, not the pair, are what the shot frames.
TWO_SHOT_MIN_RATIO = 0.6

FRAMINGS_JUDGED = ("close-up", "medium", "wide", "two-shot")
FRAMINGS_NOT_JUDGED = ("over-shoulder", "insert")


class Nearest(Protocol):
    """What read_footage needs from a reference store (memory/references.py ReferenceStore)."""

    def nearest(self, series: str, embedding: np.ndarray | list[float], k: int = 3) -> list[tuple[str, float]]: ...


@dataclass(frozen=True)
class SeenFace:
    box: Box  # left, top, right, bottom in frame pixels
    size_px: int  # the box's smaller side
    score: float  # detector confidence
    identifiable: bool  # an embedding was computed (the face is at least MIN_EMBED_FACE_PX)
    nearest: str | None  # the nearest reference, even when too far to be that person (for reports)
    distance_to_nearest: float | None  # None when not identifiable or no references
    name: str | None  # the nearest reference when its distance <= threshold, else None (an unknown face)
    runner_up: tuple[str, float] | None  # the second-nearest reference and its distance
    # 128-d float32 or None; kept so a caller can compare faces across frames. Not compared (arrays have no ==).
    embedding: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]

    @property
    def unknown(self) -> bool:
        """Identifiable, but no reference is within the threshold: someone not on the cast sheets."""
        return self.identifiable and self.name is None

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("embedding")
        out["box"] = list(self.box)
        out["runner_up"] = list(self.runner_up) if self.runner_up else None
        return out


@dataclass(frozen=True)
class FootageReading:
    faces: list[SeenFace]  # left to right
    count: int  # faces found (identifiable or not)
    framing: str | None  # one of FRAMINGS_JUDGED, or None when no face was found
    framing_basis: str  # what the framing was decided from, in words
    threshold: float  # the same-person distance the names were decided with
    frame_size: tuple[int, int]  # width, height

    @property
    def names(self) -> list[str]:
        """The cast members named, left to right (a name twice when two faces matched the same sheet)."""
        return [f.name for f in self.faces if f.name is not None]

    @property
    def unknown(self) -> list[SeenFace]:
        return [f for f in self.faces if f.unknown]

    @property
    def unidentifiable(self) -> list[SeenFace]:
        return [f for f in self.faces if not f.identifiable]

    @property
    def duplicates(self) -> list[str]:
        """Names claimed by more than one face: nearest-neighbour naming does not force one face per character,
        so a look-alike extra or a mirror shows up here rather than being silently dropped."""
        names = self.names
        return sorted({n for n in names if names.count(n) > 1})

    def found(self, names: Iterable[str] | str) -> bool:
        """Whether every one of these cast members was named on screen."""
        wanted = {names} if isinstance(names, str) else set(names)
        return wanted <= set(self.names)

    def missing(self, expected: Iterable[str]) -> list[str]:
        """Expected cast members not named on screen."""
        seen = set(self.names)
        return sorted({n for n in expected if n not in seen})

    def unexpected(self, expected: Iterable[str]) -> list[SeenFace]:
        """Faces that are not an expected cast member: unknown faces and cast members the shot did not list.
        Unidentifiable (too small) faces are not included: nothing can be said about who they are."""
        allowed = set(expected)
        return [f for f in self.faces if f.unknown or (f.name is not None and f.name not in allowed)]

    def to_dict(self) -> dict:
        return {"faces": [f.to_dict() for f in self.faces], "count": self.count, "framing": self.framing,
                "framing_basis": self.framing_basis, "threshold": self.threshold,
                "frame_size": list(self.frame_size), "names": self.names}


def framing_from_faces(faces: Sequence[Face | SeenFace], frame_height: int) -> tuple[str | None, str]:
    """(framing, basis) from the faces' box heights relative to the frame height; (None, why) without faces.

    Only close-up / medium / wide / two-shot are judged (see the module docstring for over-shoulder and insert).
    """
    if frame_height <= 0:
        raise ValueError(f"frame_height must be positive, got {frame_height}")
    not_judged = "over-shoulder/insert not judged"
    if not faces:
        return None, f"no face found: framing not judged (an empty location and an insert look alike); {not_judged}"
    heights = sorted((f.box[3] - f.box[1] for f in faces), reverse=True)
    largest = heights[0] / frame_height
    if largest >= FACE_FRACTION_CLOSE_UP:
        scale = "close-up"
        rule = f">= {FACE_FRACTION_CLOSE_UP}"
    elif largest >= FACE_FRACTION_WIDE:
        scale = "medium"
        rule = f"in [{FACE_FRACTION_WIDE}, {FACE_FRACTION_CLOSE_UP})"
    else:
        scale = "wide"
        rule = f"< {FACE_FRACTION_WIDE}"
    basis = f"largest face {heights[0]} px = {largest:.3f} of frame height {frame_height} ({rule}: {scale})"
    if len(heights) == 2 and scale != "wide":
        ratio = heights[1] / heights[0]
        if ratio >= TWO_SHOT_MIN_RATIO:
            return "two-shot", f"two faces of comparable height (ratio {ratio:.2f} >= {TWO_SHOT_MIN_RATIO}); {basis}"
        basis += f"; second face {ratio:.2f} of its height (< {TWO_SHOT_MIN_RATIO}: not a two-shot)"
    elif len(heights) > 2:
        basis += f"; {len(heights)} faces (a group: framed by the largest)"
    return scale, f"{basis}; {not_judged}"


def _nearest_in_dict(references: Mapping[str, np.ndarray], embedding: np.ndarray, k: int) -> list[tuple[str, float]]:
    distances = [(name, FaceEmbedder.distance(embedding, np.asarray(ref, dtype=np.float32)))
                 for name, ref in references.items()]
    distances.sort(key=lambda item: (item[1], item[0]))
    return distances[:k]


def read_footage(rgb: np.ndarray, references: Mapping[str, np.ndarray] | ReferenceStore | Nearest,
                 embedder: FaceEmbedder, threshold: float = SAME_PERSON_DISTANCE, *, series: str | None = None,
                 upsample: int = 1) -> FootageReading:
    """Find the faces of one frame, name each by its nearest reference sheet, and judge the framing.

    references: name -> 128-d embedding, or a ReferenceStore (then `series` selects the series' sheets).
    threshold: a face is its nearest reference's character when the distance is <= threshold, else unknown.
    upsample: the HOG detector's upsampling; 1 finds faces from ~40 px (a whole figure of ~1/4 of a 1280 px frame's
    height), 2 from ~20 px at about 4x the time (0.3-0.5 s -> ~1.5-2 s per 720x1280 frame on 2 CPU cores).
    """
    if not threshold > 0:
        raise ValueError(f"threshold must be positive, got {threshold}")
    if isinstance(references, Mapping):
        def nearest(embedding: np.ndarray) -> list[tuple[str, float]]:
            return _nearest_in_dict(references, embedding, 2)
    elif hasattr(references, "nearest"):
        if not series:
            raise ValueError("a ReferenceStore needs the series whose reference sheets to match against")
        store = references

        def nearest(embedding: np.ndarray) -> list[tuple[str, float]]:
            return store.nearest(series, embedding, k=2)
    else:
        raise TypeError(f"references must be a dict of embeddings or a ReferenceStore, got {type(references).__name__}")

    found = embedder.detect(rgb, upsample=upsample)
    seen: list[SeenFace] = []
    for face in sorted(found, key=lambda f: (f.box[0], f.box[1])):
        hits = nearest(face.embedding) if face.embedding is not None else []
        best = hits[0] if hits else None
        seen.append(SeenFace(
            box=face.box, size_px=face.size, score=face.score, identifiable=face.embedding is not None,
            nearest=best[0] if best else None, distance_to_nearest=best[1] if best else None,
            name=best[0] if best and best[1] <= threshold else None,
            runner_up=(hits[1][0], hits[1][1]) if len(hits) > 1 else None, embedding=face.embedding))
    height, width = np.asarray(rgb).shape[:2]
    framing, basis = framing_from_faces(seen, height)
    return FootageReading(faces=seen, count=len(seen), framing=framing, framing_basis=basis,
                          threshold=float(threshold), frame_size=(int(width), int(height)))
