"""The people-scorer of photographic footage (the diffusers backends' frames, a user's photographs): faces found
and embedded with dlib (tools/vision/faces.py), each named by its nearest reference sheet in the series' Chroma
collection (tools/vision/footage.py), the framing read from the faces' sizes. It knows no drawing and no palette:
what it reads is pixels of people, so it serves any backend whose frames are photographs."""

from __future__ import annotations

import numpy as np

from dramafactory.tools.vision.faces import shared_embedder
from dramafactory.tools.vision.footage import FootageReading, read_footage


class FacePeople:
    name = "faces"

    def read_faces(self, frame: np.ndarray, references: object, series: str | None,
                   threshold: float) -> FootageReading:
        return read_footage(frame, references, shared_embedder(), threshold, series=series)  # type: ignore[arg-type]

    def count(self, frame: np.ndarray) -> int | None:
        return len(shared_embedder().detect(frame))

    def picture(self, frame: np.ndarray) -> np.ndarray:
        return frame  # footage is all picture: no header or caption strips
