"""Where a shot's frames come from: a still with a Ken Burns camera move, or an animated clip.

Each shot of an episode is a ``ClipSpec``; ``frame_source`` turns it into a ``FrameSource`` that yields exactly
the frames the shot occupies, at the episode's size and rate. A still gets the camera move (one pre-scaled base
image, then a BILINEAR resample or a sub-pixel slide of a crop box per frame). A clip already moves, so its decoded
frames are used as they are: trimmed to the shot, or its last frame held when it is shorter than the shot (a clip
model makes a few seconds at most; the voiced shot can be longer).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from PIL import Image, UnidentifiedImageError

from .ffmpeg import AssemblyError, decode_rgb

__all__ = ["CAMERA_MOVES", "ClipFrames", "ClipSpec", "FrameSource", "StillRenderer", "frame_source", "normalise_move"]

log = logging.getLogger(__name__)

CAMERA_MOVES = ("static", "push-in", "pull-out", "pan-left", "pan-right", "tilt-up", "tilt-down")
ZOOM = 1.12

_MOVE_ALIASES = {
    "still": "static",
    "locked-off": "static",
    "none": "static",
    "zoom-in": "push-in",
    "dolly-in": "push-in",
    "push": "push-in",
    "zoom-out": "pull-out",
    "dolly-out": "pull-out",
    "pull-back": "pull-out",
    "pull": "pull-out",
    "pan": "pan-right",
    "tilt": "tilt-up",
}


@dataclass(frozen=True)
class ClipSpec:
    image: Path  # the shot's still frame (PNG, any size, ideally 9:16)
    duration: float  # seconds
    camera_move: str  # one of CAMERA_MOVES; applied to the still only (a clip has its own motion)
    clip: Path | None = None  # the shot animated (an MP4 from the video tool); when set, its frames are used


def normalise_move(move: str) -> str:
    """Map a free-form camera move onto CAMERA_MOVES (unknown moves fall back to static)."""
    key = re.sub(r"[\s_]+", "-", (move or "").strip().lower())
    for prefix in ("slow-", "gentle-", "subtle-", "fast-"):
        if key.startswith(prefix):
            key = key[len(prefix) :]
    key = _MOVE_ALIASES.get(key, key)
    if key not in CAMERA_MOVES:
        log.warning("unknown camera move %r: rendering it static", move)
        return "static"
    return key


class FrameSource(Protocol):
    """The frames of one shot, in order."""

    def frames(self, n: int) -> Iterator[tuple[Image.Image, int]]:
        """Yield exactly ``n`` (frame, key) pairs. Equal keys within a shot mean identical frames, so the
        assembler can reuse the previous frame's bytes (a static still, a held clip frame). Frames are shared:
        copy one before drawing on it."""
        ...


def _ease(p: float) -> float:
    """Smoothstep ease in/out on [0, 1]."""
    p = min(1.0, max(0.0, p))
    return p * p * (3.0 - 2.0 * p)


def _cover_crop(img: Image.Image, aspect: float) -> tuple[float, float, float, float]:
    """Centred box of ``img`` with the target aspect (w / h) that covers the frame."""
    w, h = img.size
    if w / h > aspect:
        cw = h * aspect
        return ((w - cw) / 2.0, 0.0, (w + cw) / 2.0, float(h))
    ch = w / aspect
    return (0.0, (h - ch) / 2.0, float(w), (h + ch) / 2.0)


class StillRenderer:
    """Pre-scales one shot's still once, then renders any frame of its camera move."""

    def __init__(self, spec: ClipSpec, width: int, height: int) -> None:
        self.move = normalise_move(spec.camera_move)
        self.width = width
        self.height = height
        try:
            with Image.open(spec.image) as src:
                img = src.convert("RGB")
        except (FileNotFoundError, UnidentifiedImageError, OSError) as exc:
            raise AssemblyError(f"cannot read shot image {spec.image}: {exc}") from exc
        scale = 1.0 if self.move == "static" else ZOOM
        self.base_w = int(round(width * scale))
        self.base_h = int(round(height * scale))
        box = _cover_crop(img, width / height)
        self.base = img.resize((self.base_w, self.base_h), Image.Resampling.LANCZOS, box=box)
        self._static: Image.Image | None = self.base if self.move == "static" else None

    def frames(self, n: int) -> Iterator[tuple[Image.Image, int]]:
        static = self.move == "static"
        for k in range(n):
            progress = k / (n - 1) if n > 1 else 1.0  # the last frame is the move's end, whatever n is
            yield self.frame(progress), -1 if static else k

    def frame(self, progress: float) -> Image.Image:
        if self._static is not None:
            return self._static
        p = _ease(progress)
        w, h, bw, bh = self.width, self.height, self.base_w, self.base_h
        if self.move in ("push-in", "pull-out"):
            z = 1.0 + (ZOOM - 1.0) * (p if self.move == "push-in" else 1.0 - p)
            cw, ch = bw / z, bh / z
            x0, y0 = (bw - cw) / 2.0, (bh - ch) / 2.0
            box = (x0, y0, x0 + cw, y0 + ch)
            return self.base.resize((w, h), Image.Resampling.BILINEAR, box=box)
        # Pans and tilts: the crop box keeps its size and slides along one axis. A sub-pixel
        # slide is a linear blend of the two neighbouring integer crops (exact 1-D bilinear),
        # several times cheaper than a resample.
        span_x, span_y = bw - w, bh - h
        if self.move in ("pan-left", "pan-right"):
            pos = span_x * (p if self.move == "pan-right" else 1.0 - p)  # pan-right: view travels left -> right
            return self._slide(pos, span_x, horizontal=True)
        pos = span_y * (p if self.move == "tilt-down" else 1.0 - p)  # tilt-down: view travels top -> bottom
        return self._slide(pos, span_y, horizontal=False)

    def _slide(self, pos: float, span: int, *, horizontal: bool) -> Image.Image:
        w, h = self.width, self.height
        pos = min(float(span), max(0.0, pos))
        i = min(int(pos), max(0, span - 1))
        frac = pos - i
        if horizontal:
            y0 = (self.base_h - h) // 2
            a = self.base.crop((i, y0, i + w, y0 + h))
            if frac < 1e-3 or span == 0:
                return a
            b = self.base.crop((i + 1, y0, i + 1 + w, y0 + h))
        else:
            x0 = (self.base_w - w) // 2
            a = self.base.crop((x0, i, x0 + w, i + h))
            if frac < 1e-3 or span == 0:
                return a
            b = self.base.crop((x0, i + 1, x0 + w, i + 1 + h))
        return Image.blend(a, b, frac)


class ClipFrames:
    """An animated shot: its clip decoded at the episode's size and rate, trimmed to the shot or its last frame
    held. No camera move is added: the clip has its own motion, and a zoom over it would fight it."""

    def __init__(self, spec: ClipSpec, width: int, height: int, fps: float) -> None:
        if spec.clip is None:
            raise ValueError("ClipFrames needs a spec with a clip")
        self.path = Path(spec.clip)
        self.width = width
        self.height = height
        self.fps = fps
        self.decoded = 0  # frames taken from the clip by the last frames() call; the rest were held
        self.held = 0

    def frames(self, n: int) -> Iterator[tuple[Image.Image, int]]:
        last: Image.Image | None = None
        self.decoded = self.held = 0
        # max_frames=n: ffmpeg stops there, so a clip longer than its shot is trimmed without decoding the rest.
        for index, arr in enumerate(decode_rgb(self.path, self.width, self.height, fps=self.fps, max_frames=n)):
            last = Image.fromarray(arr)
            self.decoded = index + 1
            yield last, index
        if last is None:  # n == 0: decode_rgb reports a clip without frames itself
            return
        self.held = n - self.decoded
        if self.held:
            log.info("clip %s covers %.2f s of its %.2f s shot: holding its last frame", self.path,
                     self.decoded / self.fps, n / self.fps)
        for _ in range(self.held):
            yield last, self.decoded - 1  # one key: the held frame's bytes are made once


def frame_source(spec: ClipSpec, width: int, height: int, fps: float) -> StillRenderer | ClipFrames:
    """The frame source of one shot: its clip when it has one, else its still with the camera move."""
    if spec.clip is not None:
        return ClipFrames(spec, width, height, fps)
    return StillRenderer(spec, width, height)
