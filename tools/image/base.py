"""Image backend contract: one frame (keyframe or storyboard panel) per shot take."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

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


@runtime_checkable
class ImageBackend(Protocol):
    name: str

    def render(self, request: ImageRequest) -> ImageResult: ...
