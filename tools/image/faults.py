"""Fault injection for QC drills: wraps an image backend and breaks a configured share of its takes on purpose.

A drill proves the QC loop end to end: every broken take must be caught and re-rendered, and the episode must still
come out usable. Which takes break is decided by a hash of (shot, attempt, seed), so a drill is reproducible. Each
broken take leaves a `<take>.fault.json` beside it naming the fault, the ground truth the drill is scored against.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import replace

import numpy as np
from PIL import Image, ImageFilter

from dramafactory.schemas import Character, Look

from .base import ImageBackend, ImageRequest, ImageResult
from .storyboard import visible_characters

FAULTS = ("black", "noise", "blurred", "wrong_aspect", "wrong_person", "nobody")


def _stranger(character: Character) -> Character:
    """Someone else under the same name: other hair, other wardrobe colours."""
    look = Look.model_validate({**character.look.model_dump(), "hair_color": "platinum blonde",
                                "palette": ["#3cb371", "#ffd700", "#8a2be2"]})
    if character.look.palette[0].lower() == "#3cb371":
        look = look.model_copy(update={"palette": ["#ff8c00", "#ffd700", "#8a2be2"]})
    return character.model_copy(update={"look": look, "wardrobe": "green tracksuit"})


class FaultyRenderer:
    def __init__(self, inner: ImageBackend, rate: float):
        self.inner = inner
        self.rate = rate
        self.name = inner.name

    def _fault(self, request: ImageRequest) -> str | None:
        key = zlib.crc32(f"{request.shot.id}|{request.out_path.name}|{request.seed}".encode())
        if (key % 10_000) / 10_000 >= self.rate:
            return None
        kinds = [f for f in FAULTS if visible_characters(request.shot) or f not in ("wrong_person", "nobody")]
        return kinds[(key // 10_000) % len(kinds)]

    def render(self, request: ImageRequest) -> ImageResult:
        fault = self._fault(request)
        if fault == "wrong_person":
            who = visible_characters(request.shot)[0]
            request = replace(request, cast={**request.cast, who: _stranger(request.cast[who])})
        elif fault == "nobody":
            request = replace(request, shot=request.shot.model_copy(update={"characters": [], "speaker": None}))
        result = self.inner.render(request)
        if fault in ("black", "noise", "blurred", "wrong_aspect"):
            with Image.open(result.path) as opened:
                image = opened.convert("RGB")
            w, h = image.size
            gen = np.random.default_rng(zlib.crc32(str(result.path).encode()))
            broken = {
                "black": lambda: Image.new("RGB", (w, h), (4, 4, 4)),
                "noise": lambda: Image.fromarray(gen.integers(0, 256, (h, w, 3), dtype=np.uint8)),
                "blurred": lambda: image.filter(ImageFilter.GaussianBlur(5)),
                "wrong_aspect": lambda: image.crop((0, (h - w) // 2, w, (h + w) // 2)),
            }[fault]()
            broken.save(result.path)
        if fault:
            result.path.with_suffix(".fault.json").write_text(json.dumps({"fault": fault}), encoding="utf-8")
        return result
