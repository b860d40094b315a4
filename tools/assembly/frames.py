"""Where a shot's frames come from: a still with a Ken Burns camera move, or an animated clip.

Each shot of an episode is a ``ClipSpec``; ``frame_source`` turns it into a ``FrameSource`` that yields exactly
the frames the shot occupies, at the episode's size and rate, as planar YUV 4:2:0 (``yuv.YuvFrame``: what the
encoder takes, with no conversion per frame). A still gets the camera move (one pre-scaled base image, converted to
planes once, then per frame a crop, a sub-pixel slide or a bilinear resample of a box of it, plane by plane). A clip already moves, so its decoded
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

import numpy as np
from PIL import Image, UnidentifiedImageError

from .ffmpeg import AssemblyError, decode_rgb
from .yuv import YuvFrame

__all__ = ["CAMERA_MOVES", "ClipFrames", "ClipSpec", "FrameSource", "StillRenderer", "frame_source", "normalise_move",
           "sample"]

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

    def frames(self, n: int) -> Iterator[tuple[YuvFrame, int]]:
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


def _even(x: float) -> int:
    return 2 * int(round(x / 2.0))


_SNAP = 1e-3  # offsets closer than this to a whole pixel are that pixel: a blend that changes nothing is skipped


def sample(img: Image.Image, box: tuple[float, float, float, float], size: tuple[int, int]) -> Image.Image:
    """The part of ``img`` under ``box`` (left, top, right, bottom; sub-pixel) at ``size``.

    A box of the output's size is a shift: a whole-pixel one is a crop (the image itself when the box is all of
    it), a sub-pixel one along one axis a linear blend of the two neighbouring crops (exact 1-D linear
    interpolation, far cheaper than a resample). Anything else is resampled with a BILINEAR filter (BOX measured a
    third cheaper, but its sharpness pulses as the zoom moves and the video grew 25%)."""
    x0, y0, x1, y1 = box
    w, h = size
    if abs((x1 - x0) - w) < _SNAP and abs((y1 - y0) - h) < _SNAP:
        x0 = min(max(0.0, x0), float(img.width - w))
        y0 = min(max(0.0, y0), float(img.height - h))
        ix, iy = int(x0), int(y0)
        fx, fy = x0 - ix, y0 - iy
        if fx > 1.0 - _SNAP:
            ix, fx = ix + 1, 0.0
        if fy > 1.0 - _SNAP:
            iy, fy = iy + 1, 0.0
        fx = 0.0 if fx < _SNAP else fx
        fy = 0.0 if fy < _SNAP else fy
        if fx == 0.0 and fy == 0.0:
            if (ix, iy, w, h) == (0, 0, img.width, img.height):
                return img
            return img.crop((ix, iy, ix + w, iy + h))
        if fy == 0.0:  # ix + 1 + w <= img.width: x0 was clamped, and fx > 0 means x0 < img.width - w
            a = img.crop((ix, iy, ix + w, iy + h))
            return Image.blend(a, img.crop((ix + 1, iy, ix + 1 + w, iy + h)), fx)
        if fx == 0.0:
            a = img.crop((ix, iy, ix + w, iy + h))
            return Image.blend(a, img.crop((ix, iy + 1, ix + w, iy + 1 + h)), fy)
    return img.resize((w, h), Image.Resampling.BILINEAR, box=box)


class StillRenderer:
    """Pre-scales one shot's still once (and converts it to planes once), then renders any frame of its camera
    move: ``planes`` for the episode, ``frame`` as RGB for looking at one."""

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
        # Even sizes and (below) even offsets: the half-size chroma planes then cover the same part of the still.
        self.base_w = max(width, _even(width * scale))
        self.base_h = max(height, _even(height * scale))
        box = _cover_crop(img, width / height)
        if img.size == (self.base_w, self.base_h) and box == (0.0, 0.0, float(img.width), float(img.height)):
            self.base = img  # a still made at the frame's size, shown static: a resize would return it unchanged
        else:
            self.base = img.resize((self.base_w, self.base_h), Image.Resampling.LANCZOS, box=box)
        self._planes: YuvFrame | None = None

    @property
    def base_planes(self) -> YuvFrame:
        if self._planes is None:
            self._planes = YuvFrame.from_rgb(self.base)
        return self._planes

    def frames(self, n: int) -> Iterator[tuple[YuvFrame, int]]:
        static = self.move == "static"
        for k in range(n):
            progress = k / (n - 1) if n > 1 else 1.0  # the last frame is the move's end, whatever n is
            yield self.planes(progress), -1 if static else k

    def box(self, progress: float) -> tuple[float, float, float, float]:
        """The part of the pre-scaled still the frame shows at ``progress`` (0: the move's start, 1: its end)."""
        p = _ease(progress)
        w, h, bw, bh = self.width, self.height, self.base_w, self.base_h
        if self.move == "static":
            return (0.0, 0.0, float(bw), float(bh))
        if self.move in ("push-in", "pull-out"):
            z = 1.0 + (ZOOM - 1.0) * (p if self.move == "push-in" else 1.0 - p)
            cw, ch = bw / z, bh / z
            x0, y0 = (bw - cw) / 2.0, (bh - ch) / 2.0
            return (x0, y0, x0 + cw, y0 + ch)
        # Pans and tilts: the box keeps the frame's size and slides along one axis, centred on the other.
        span_x, span_y = bw - w, bh - h
        if self.move in ("pan-left", "pan-right"):
            x = span_x * (p if self.move == "pan-right" else 1.0 - p)  # pan-right: view travels left -> right
            y = float((bh - h) // 2 & ~1)  # even, so the chroma planes' box starts on a whole row too
            return (x, y, x + w, y + h)
        y = span_y * (p if self.move == "tilt-down" else 1.0 - p)  # tilt-down: view travels top -> bottom
        x = float((bw - w) // 2 & ~1)
        return (x, y, x + w, y + h)

    def frame(self, progress: float) -> Image.Image:
        """The RGB frame at ``progress``."""
        return sample(self.base, self.box(progress), (self.width, self.height))

    def planes(self, progress: float) -> YuvFrame:
        """The frame at ``progress`` in planes: the same box, halved for the chroma planes."""
        box = self.box(progress)
        size = (self.width, self.height)

        def one(plane: Image.Image, s: float) -> Image.Image:
            return sample(plane, (box[0] * s, box[1] * s, box[2] * s, box[3] * s),
                          (int(size[0] * s), int(size[1] * s)))  # fmt: skip

        return self.base_planes.map(one)


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

    def _planes(self, arr: np.ndarray) -> YuvFrame:
        # ffmpeg hands over yuv420p (its conversion is faster than numpy's); an RGB frame is converted here.
        if arr.ndim == 3:
            return YuvFrame.from_rgb(arr)
        return YuvFrame.from_i420(arr, self.width, self.height)

    def frames(self, n: int) -> Iterator[tuple[YuvFrame, int]]:
        last: YuvFrame | None = None
        self.decoded = self.held = 0
        # max_frames=n: ffmpeg stops there, so a clip longer than its shot is trimmed without decoding the rest.
        decoded = decode_rgb(self.path, self.width, self.height, fps=self.fps, max_frames=n, pix_fmt="yuv420p")
        for index, arr in enumerate(decoded):
            last = self._planes(arr)
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
