"""Image backend contract: one frame (keyframe or storyboard panel) per shot take, and the people-scorer a backend
declares: the code that recognises the people in its own frames, which QC asks instead of knowing any drawing."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from dramafactory.schemas import Character, Location, Shot


@dataclass(frozen=True)
class ImageRequest:
    shot: Shot
    cast: dict[str, Character]  # canonical looks of the characters in the shot, by name
    location: Location
    seed: int
    out_path: Path  # where to write the PNG; the caller keys it by shot and attempt
    width: int = 720
    height: int = 1280
    feedback: str | None = None  # the QC reason of the previous take, if any
    # Each visible character's accepted reference sheet (a portrait made before the episode's shots), for backends
    # that condition on reference images; empty where none was made (the storyboard draws from the canonical look).
    references: dict[str, Path] = field(default_factory=dict)


# A revised prompt carries every QC reason its shot was given, oldest first, each after this marker
# (agents/cinematographer.revise): a renderer that acts on feedback keeps earlier fixes in place.
FIX_MARKER = " Fix: "


def feedback_history(request: ImageRequest) -> list[str]:
    """The reasons this shot's earlier takes failed with, oldest first: the revised prompt's, then the request's
    feedback when the prompt does not already end with it."""
    notes = [n.strip() for n in request.shot.prompt.split(FIX_MARKER)[1:] if n.strip()]
    if request.feedback and (not notes or notes[-1] != request.feedback.strip()):
        notes.append(request.feedback.strip())
    return notes


@dataclass(frozen=True)
class FigureBox:
    """Where a character was drawn (pixels, in the written image), for QC and evals."""

    name: str
    box: tuple[int, int, int, int]  # left, top, right, bottom
    face_box: tuple[int, int, int, int]


@dataclass(frozen=True)
class ImageResult:
    path: Path
    width: int
    height: int
    seconds: float
    backend: str
    figures: list[FigureBox] = field(default_factory=list)
    # What the backend changed in its drawing because of the feedback (staging, lighting, framing, wardrobe;
    # "prompt" for a backend that draws from the prompt's words), and what of the feedback it did not act on, why
    # (one note per reason, joined with " | ").
    applied: list[str] = field(default_factory=list)
    feedback_ignored: str | None = None
    model: str = ""  # the model that drew it (a folder or id; the backend's name where it has no model)
    # How the take was conditioned on the characters' looks: "reference:NAME" per reference image given to the
    # pipeline, "canonical-look" for a drawing made from the bible's look, or "none: WHY".
    conditioning: list[str] = field(default_factory=list)
    # A backend that does its work off the calling thread (a pipeline worker) measures it itself: these figures
    # then replace the caller's thread measurement in the ledger (docs/accounting.md).
    cpu_seconds: float | None = None
    cpu_scope: str | None = None
    gpu_seconds: float | None = None
    load_seconds: float = 0.0  # a model was loaded for this call: the ledger gets a load row for it
    batch: int = 1  # how many images the pipeline call that made it drew
    notes: list[str] = field(default_factory=list)  # e.g. an out-of-memory halving


@runtime_checkable
class ImageBackend(Protocol):
    name: str

    def render(self, request: ImageRequest) -> ImageResult: ...


# --- people-scorers: each backend says how its people are recognised (QC holds no model of any drawing) ----------

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Sighting:
    """A cast member a people-scorer recognised in a frame."""

    name: str
    box: tuple[int, int, int, int]  # the figure (head to garment) in the reading's picture pixels: l, t, r, b
    identity: float  # share of the character's look features found on the figure, 0..1
    back: bool = False  # seen from behind (no face to see)

    @property
    def centre_x(self) -> float:
        return (self.box[0] + self.box[2]) / 2

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]


@dataclass(frozen=True)
class Garment:
    """A character's wardrobe as it shows in one frame."""

    colour: RGB  # its fill colour in the frame
    shaded: RGB  # the same garment in shadow: a back view or a turned shoulder shows mostly that side
    drift: float  # distance from the canonical colour under this frame's light (RGB levels)


@dataclass(frozen=True)
class PeopleReading:
    """What a people-scorer read from one frame against a shot's spec."""

    visible: list[str]  # who this backend shows for the shot, screen-left first (a close-up: its subject only)
    seen: list[Sighting]  # the cast members found, left to right
    width: int  # the picture's width in the pixels `seen` is measured in (figure scale tells wide from close)
    garments: dict[str, Garment]  # the visible characters' wardrobes, by name, where one could be measured


@runtime_checkable
class PeopleScorer(Protocol):
    """Recognises the people in one backend's frames. Frames are RGB arrays (H, W, 3) of uint8, whole frames as
    the backend wrote them."""

    name: str

    def read(self, frame: np.ndarray, shot: Shot, cast: dict[str, Character],
             references: dict[str, Character | None], location: Location) -> PeopleReading:
        """Find the cast in the frame (`cast`: everyone who could be there, so a wrong person can be named) and
        measure the visible characters' wardrobes against their canonical looks (`references`)."""
        ...

    def count(self, frame: np.ndarray) -> int | None:
        """How many people the frame shows, knowing nobody's look; None where this scorer cannot tell."""
        ...

    def picture(self, frame: np.ndarray) -> np.ndarray:
        """The part of the frame that shows the scene (a storyboard panel's picture, without its header and
        caption strips): where light and sky are read."""
        ...


@runtime_checkable
class DeclaresPeople(Protocol):
    """An image backend that declares its people-scorer. A backend that declares none has its people judged by
    nobody: QC reports them "not judged" and the take goes to a person."""

    name: str

    def people_scorer(self) -> PeopleScorer | None: ...



@runtime_checkable
class FaceScorer(Protocol):
    """Recognises the people in photographic footage by their faces, against the series' reference sheets (face
    embeddings in the continuity memory, or a name -> embedding mapping). QC takes this path instead of
    PeopleScorer's for a backend that declares one (tools/image/face_people.py)."""

    name: str

    def read_faces(self, frame: np.ndarray, references: object, series: str | None,
                   threshold: float) -> object:
        """A tools.vision.footage.FootageReading: the faces, named by nearest reference or unknown, and the
        framing from their sizes."""
        ...

    def count(self, frame: np.ndarray) -> int | None: ...

    def picture(self, frame: np.ndarray) -> np.ndarray: ...
