"""Fault injection for QC drills: wraps an image backend and breaks a configured share of its takes on purpose.

A drill proves the QC loop end to end: every broken take must be caught and re-rendered, and the episode must still
come out usable. Each broken take leaves a `<take>.fault.json` beside it naming its faults, the ground truth the
drill is scored against. Two kinds of fault, as real generators show both:

- Transient (`TRANSIENT`, share `rate` of the takes): picked by a hash of (shot, take file, seed), so independently
  for every attempt. A retry cures one as often as it strikes again, whether or not the retry acted on QC's
  reason: a new seed is as good as a fix here. Four are applied to the written frame after the renderer has drawn
  it (black, noise, blurred, wrong_aspect), so no renderer could have avoided them; two misread the request before
  the renderer sees it (wrong_person: someone else's look under the name; nobody: the cast left out).
- Persistent (`PERSISTENT`, share `persistent_rate` of the shots that show someone): a bias of the generator for
  that shot, picked by a hash of the shot alone, so it is there on every attempt whatever the seed. tight_framing:
  the generator frames the picture 1.6 times too tight (a crop about the picture's centre, after drawing), which
  cuts people at the edges and makes a wide read as a closer shot. wardrobe_drift: the generator paints one
  character's wardrobe in a colour turned 40 degrees round the colour wheel (the request it draws from carries the
  turned colour). A new seed never cures a bias; a renderer cures it only by drawing differently because of QC's
  reason (staging people clear of the edges, a wider camera, the canonical colour QC names). The wrapper never
  reads the feedback: the bias is the same on every attempt.

An exposure bias is not among them: QC fails exposure only for an almost black or white frame, and a tone curve
that crushes a frame that far also moves the painted colours the storyboard's people-scorer recognises; no
compensation short of its exact inverse would let QC find the people again, so such a drill would measure the
scorer, not the retry.
"""

from __future__ import annotations

import colorsys
import json
import zlib
from dataclasses import replace

import numpy as np
from PIL import Image, ImageFilter

from dramafactory.schemas import Character, Look

from .base import ImageBackend, ImageRequest, ImageResult
from .storyboard import picture_box, visible_characters

TRANSIENT = ("black", "noise", "blurred", "wrong_aspect", "wrong_person", "nobody")
FAULTS = TRANSIENT  # the name earlier drills and tests use
PERSISTENT = ("tight_framing", "wardrobe_drift")
TIGHT = 1.6  # how much too tight a tight_framing bias frames the picture
DRIFT_DEGREES = 40.0  # how far a wardrobe_drift bias turns the wardrobe's hue


def _stranger(character: Character) -> Character:
    """Someone else under the same name: other hair, other wardrobe colours."""
    look = Look.model_validate({**character.look.model_dump(), "hair_color": "platinum blonde",
                                "palette": ["#3cb371", "#ffd700", "#8a2be2"]})
    if character.look.palette[0].lower() == "#3cb371":
        look = look.model_copy(update={"palette": ["#ff8c00", "#ffd700", "#8a2be2"]})
    return character.model_copy(update={"look": look, "wardrobe": "green tracksuit"})


def _drifted(character: Character) -> Character:
    """The same person with the wardrobe's main colour turned round the colour wheel (a grey one is tinted)."""
    v = int(character.look.palette[0][1:], 16)
    h, s, b = colorsys.rgb_to_hsv(((v >> 16) & 255) / 255, ((v >> 8) & 255) / 255, (v & 255) / 255)
    r, g, bl = colorsys.hsv_to_rgb((h + DRIFT_DEGREES / 360) % 1.0, max(s, 0.45), max(b, 0.35))
    colour = f"#{round(r * 255):02x}{round(g * 255):02x}{round(bl * 255):02x}"
    look = character.look.model_copy(update={"palette": [colour, *character.look.palette[1:]]})
    return character.model_copy(update={"look": look})


def _tight(image: Image.Image) -> Image.Image:
    """The picture cropped about its centre by TIGHT and scaled back: the panel around it is left as it was."""
    left, top, right, bottom = picture_box(*image.size)
    picture = image.crop((left, top, right, bottom))
    w, h = picture.size
    cw, ch = w / TIGHT, h / TIGHT
    crop = picture.crop((round((w - cw) / 2), round((h - ch) / 2), round((w + cw) / 2), round((h + ch) / 2)))
    out = image.copy()
    out.paste(crop.resize((w, h), Image.Resampling.BICUBIC), (left, top))
    return out


class FaultyRenderer:
    def __init__(self, inner: ImageBackend, rate: float, persistent_rate: float = 0.0):
        self.inner = inner
        self.rate = rate
        self.persistent_rate = persistent_rate
        self.name = inner.name

    def _fault(self, request: ImageRequest) -> str | None:
        key = zlib.crc32(f"{request.shot.id}|{request.out_path.name}|{request.seed}".encode())
        if (key % 10_000) / 10_000 >= self.rate:
            return None
        kinds = [f for f in TRANSIENT if visible_characters(request.shot) or f not in ("wrong_person", "nobody")]
        return kinds[(key // 10_000) % len(kinds)]

    def bias(self, request: ImageRequest) -> str | None:
        """The persistent fault of this shot, if it has one: the same for every attempt and seed."""
        if not visible_characters(request.shot):
            return None
        key = zlib.crc32(f"bias|{request.shot.id}".encode())
        if (key % 10_000) / 10_000 >= self.persistent_rate:
            return None
        return PERSISTENT[(key // 10_000) % len(PERSISTENT)]

    def render(self, request: ImageRequest) -> ImageResult:
        bias, fault = self.bias(request), self._fault(request)
        if bias == "wardrobe_drift":
            who = visible_characters(request.shot)[0]
            request = replace(request, cast={**request.cast, who: _drifted(request.cast[who])})
        if fault == "wrong_person":
            who = visible_characters(request.shot)[0]
            request = replace(request, cast={**request.cast, who: _stranger(request.cast[who])})
        elif fault == "nobody":
            request = replace(request, shot=request.shot.model_copy(update={"characters": [], "speaker": None}))
        result = self.inner.render(request)
        if bias == "tight_framing" or fault in ("black", "noise", "blurred", "wrong_aspect"):
            with Image.open(result.path) as opened:
                image = opened.convert("RGB")
            if bias == "tight_framing":
                image = _tight(image)
            w, h = image.size
            gen = np.random.default_rng(zlib.crc32(str(result.path).encode()))
            broken = {
                None: lambda: image,
                "black": lambda: Image.new("RGB", (w, h), (4, 4, 4)),
                "noise": lambda: Image.fromarray(gen.integers(0, 256, (h, w, 3), dtype=np.uint8)),
                "blurred": lambda: image.filter(ImageFilter.GaussianBlur(5)),
                "wrong_aspect": lambda: image.crop((0, (h - w) // 2, w, (h + w) // 2)),
            }.get(fault, lambda: image)()
            broken.save(result.path)
        faults = [f for f in (fault, bias) if f]
        if faults:
            result.path.with_suffix(".fault.json").write_text(
                json.dumps({"fault": faults[0], "faults": faults}), encoding="utf-8")
        return result
