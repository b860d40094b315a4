"""Planar YUV 4:2:0 frames: what the assembler draws on and streams to ffmpeg.

The encoder wants yuv420p, so frames are made in it rather than in RGB: a plane is one byte a pixel (Pillow keeps RGB
as four), so a camera move resamples 1.5 bytes a pixel instead of 4, the pipe carries half the bytes, and ffmpeg
converts nothing. Colours are BT.601 limited range, what ffmpeg's own rgb24 -> yuv420p conversion made for the same
untagged output, so players show the stills as before. Each still is converted once; a frame is then three Pillow
``L`` images (Y at full size, U and V at half size each way) that crop, resample, blend and paste as RGB did.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

__all__ = ["YuvFrame", "YuvOverlay", "rgb_to_yuv420", "yuv420_to_rgb", "yuv_overlay"]

# BT.601, limited ("tv") range: Y in [16, 235], Cb and Cr in [16, 240] around 128.
_Y = np.array([65.481, 128.553, 24.966], dtype=np.float32) / 255.0
_CB = np.array([-37.797, -74.203, 112.0], dtype=np.float32) / 255.0
_CR = np.array([112.0, -93.786, -18.214], dtype=np.float32) / 255.0


def _u8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def _halve(values: np.ndarray) -> np.ndarray:
    """Mean of each 2x2 block of an (H, W, ...) array with even H and W (the 4:2:0 chroma of that block)."""
    # Four strided sums: several times faster than a mean over the axes of a reshaped view.
    return (values[0::2, 0::2] + values[1::2, 0::2] + values[0::2, 1::2] + values[1::2, 1::2]) * 0.25


def rgb_to_yuv420(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(H, W, 3) uint8 RGB with even H and W -> Y (H, W), U and V (H/2, W/2) uint8.

    Chroma is taken from the 2x2 mean of the RGB pixels (the conversion is linear, so that is the mean of their
    chroma)."""
    h, w = rgb.shape[:2]
    if h % 2 or w % 2:
        raise ValueError(f"yuv420 needs an even frame size, got {w}x{h}")
    f = rgb.astype(np.float32)
    y = 16.0 + f @ _Y
    m = _halve(f)
    return _u8(y), _u8(128.0 + m @ _CB), _u8(128.0 + m @ _CR)


def yuv420_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The inverse of ``rgb_to_yuv420`` (chroma repeated over its 2x2 block), for looking at a frame."""
    yy = (y.astype(np.float32) - 16.0) * (255.0 / 219.0)
    cb = np.repeat(np.repeat(u.astype(np.float32) - 128.0, 2, axis=0), 2, axis=1) * (255.0 / 224.0)
    cr = np.repeat(np.repeat(v.astype(np.float32) - 128.0, 2, axis=0), 2, axis=1) * (255.0 / 224.0)
    r = yy + 1.402 * cr
    g = yy - 0.344136 * cb - 0.714136 * cr
    b = yy + 1.772 * cb
    return _u8(np.stack([r, g, b], axis=-1))


@dataclass(frozen=True)
class YuvFrame:
    """One frame as three ``L`` planes. Frames are shared between a source and the assembler: ``copy`` one before
    pasting on it."""

    y: Image.Image
    u: Image.Image
    v: Image.Image

    @property
    def size(self) -> tuple[int, int]:
        return self.y.size

    @classmethod
    def from_rgb(cls, rgb: Image.Image | np.ndarray) -> YuvFrame:
        arr = np.asarray(rgb.convert("RGB") if isinstance(rgb, Image.Image) else rgb, dtype=np.uint8)
        y, u, v = rgb_to_yuv420(arr)
        return cls(Image.fromarray(y), Image.fromarray(u), Image.fromarray(v))

    @classmethod
    def from_i420(cls, data: np.ndarray | bytes, width: int, height: int) -> YuvFrame:
        """A frame from yuv420p bytes as ffmpeg writes them: the Y plane, then U, then V."""
        buf = np.frombuffer(data, dtype=np.uint8) if isinstance(data, bytes | bytearray) else data.reshape(-1)
        n_y, n_c = width * height, (width // 2) * (height // 2)
        if buf.size != n_y + 2 * n_c:
            raise ValueError(f"{buf.size} bytes is not a {width}x{height} yuv420p frame")
        planes = (buf[:n_y].reshape(height, width), buf[n_y : n_y + n_c].reshape(height // 2, width // 2),
                  buf[n_y + n_c :].reshape(height // 2, width // 2))  # fmt: skip
        return cls(*(Image.fromarray(np.ascontiguousarray(p)) for p in planes))

    def to_rgb(self) -> Image.Image:
        return Image.fromarray(yuv420_to_rgb(np.asarray(self.y), np.asarray(self.u), np.asarray(self.v)))

    def tobytes(self) -> bytes:
        """yuv420p, as ffmpeg's rawvideo input reads it."""
        return b"".join((self.y.tobytes(), self.u.tobytes(), self.v.tobytes()))

    def copy(self) -> YuvFrame:
        return YuvFrame(self.y.copy(), self.u.copy(), self.v.copy())

    def map(self, fn: Callable[[Image.Image, float], Image.Image]) -> YuvFrame:
        """``fn(plane, scale)`` on each plane; ``scale`` is the plane's size over the frame's (1 for Y, 0.5 for
        chroma), so geometry given in frame pixels can be scaled to the plane."""
        return YuvFrame(fn(self.y, 1.0), fn(self.u, 0.5), fn(self.v, 0.5))

    def blend(self, other: YuvFrame, alpha: float) -> YuvFrame:
        """``self`` * (1 - alpha) + ``other`` * alpha, plane by plane (the conversion is linear: as blending RGB)."""
        return YuvFrame(Image.blend(self.y, other.y, alpha), Image.blend(self.u, other.u, alpha),
                        Image.blend(self.v, other.v, alpha))  # fmt: skip


@dataclass(frozen=True)
class YuvOverlay:
    """A subtitle band in planes: paste ``frame`` at row ``top`` (even, so the chroma rows line up) through the
    masks (``mask`` for Y, ``mask_c`` for the half-size chroma)."""

    frame: YuvFrame
    mask: Image.Image
    mask_c: Image.Image
    top: int

    def apply(self, frame: YuvFrame) -> None:
        """Composite the band onto ``frame`` in place."""
        frame.y.paste(self.frame.y, (0, self.top), self.mask)
        frame.u.paste(self.frame.u, (0, self.top // 2), self.mask_c)
        frame.v.paste(self.frame.v, (0, self.top // 2), self.mask_c)


def yuv_overlay(rgb: Image.Image, mask: Image.Image, top: int, frame_height: int) -> YuvOverlay:
    """The planes of an RGB band (``rgb`` through ``mask`` at row ``top``, frame-wide) for a frame
    ``frame_height`` rows high.

    The band is padded to even rows (transparent), so its chroma covers whole 2x2 blocks. Chroma is the
    alpha-weighted mean of each block, and the chroma mask the mean alpha: a block half covered by white text gets
    the text's colour at half strength, as the four RGB pixels averaged would have."""
    width, rows = rgb.size
    if width % 2 or frame_height % 2:
        raise ValueError(f"yuv420 needs an even frame size, got width {width}, height {frame_height}")
    top_e = top - top % 2
    height = min(frame_height - top_e, rows + top % 2 + (rows + top % 2) % 2)
    canvas = np.zeros((height, width, 3), dtype=np.float32)
    alpha = np.zeros((height, width), dtype=np.float32)
    fit = min(rows, height - top % 2)
    canvas[top % 2 : top % 2 + fit] = np.asarray(rgb.convert("RGB"), dtype=np.float32)[:fit]
    alpha[top % 2 : top % 2 + fit] = np.asarray(mask.convert("L"), dtype=np.float32)[:fit] / 255.0
    y = 16.0 + canvas @ _Y
    a_c = _halve(alpha)
    weighted = _halve(canvas * alpha[..., None])
    mean = np.where(a_c[..., None] > 0, weighted / np.maximum(a_c, 1e-6)[..., None], 0.0)
    u = 128.0 + mean @ _CB
    v = 128.0 + mean @ _CR
    planes = YuvFrame(*(Image.fromarray(_u8(p)) for p in (y, u, v)))
    return YuvOverlay(planes, Image.fromarray(_u8(alpha * 255.0)), Image.fromarray(_u8(a_c * 255.0)), top_e)
