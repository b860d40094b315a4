"""Colours of the storyboard's drawing: the ink and paper, and the small colour arithmetic every part uses."""

from __future__ import annotations

import zlib

RGB = tuple[int, int, int]


INK: RGB = (28, 24, 32)
BG_INK: RGB = (70, 64, 72)
PAPER: RGB = (244, 239, 226)


def crc(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def hex_rgb(colour: str) -> RGB:
    v = int(colour[1:], 16)
    return (v >> 16) & 255, (v >> 8) & 255, v & 255


def mix(a: RGB, b: RGB, t: float) -> RGB:
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


def scale(c: RGB, f: float) -> RGB:
    return (min(255, round(c[0] * f)), min(255, round(c[1] * f)), min(255, round(c[2] * f)))


def shade(c: RGB, f: float = 0.74) -> RGB:
    """Cel-shade colour: darker and a touch cooler."""
    return (round(c[0] * f * 0.96), round(c[1] * f * 0.98), min(255, round(c[2] * f * 1.06 + 6)))


def luma(c: RGB) -> float:
    return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]


def hash_colour(word: str, sat: float = 0.45, val: float = 0.6) -> RGB:
    h = (crc(word) % 360) / 360.0
    i = int(h * 6)
    f = h * 6 - i
    p, q, t = val * (1 - sat), val * (1 - sat * f), val * (1 - sat * (1 - f))
    r, g, b = [(val, t, p), (q, val, p), (p, val, t), (p, q, val), (t, p, val), (val, p, q)][i % 6]
    return round(r * 255), round(g * 255), round(b * 255)
