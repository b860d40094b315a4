"""Storyboard renderer: a deterministic, CPU-only storyboard artist's frame drawn with Pillow + numpy.

One frame per shot take: a backdrop chosen by ``location.setting`` and lit by ``shot.time_of_day``, the shot's
characters drawn from their canonical look (hair, skin, build, wardrobe palette) and placed by ``shot.framing``, a
header strip (shot id, framing, camera move), a caption box with the action, a name tag next to every visible face
and a camera-move arrow glyph. The bottom ~22% of the frame holds no faces (burned-in subtitles go there).

Everything is derived from the request: the look of a character depends only on the character (so it is identical
in every shot), the layout of a location only on the location, and the seed only moves small things (paper grain,
a few pixels of camera and blocking jitter). The same request renders to byte-identical PNG bytes.
"""

from __future__ import annotations

import math
import random
import time
import unicodedata
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFont

from dramafactory.schemas import Character, Location, Shot
from dramafactory.tools.image.base import FigureBox, ImageRequest, ImageResult

RGB = tuple[int, int, int]
T = TypeVar("T")
Pt = tuple[float, float]

SS = 2  # supersampling factor of the picture canvas
INK: RGB = (28, 24, 32)
BG_INK: RGB = (70, 64, 72)
PAPER: RGB = (244, 239, 226)

# --------------------------------------------------------------------------------------------- word → colour tables

HAIR_COLOURS: dict[str, RGB] = {
    "black": (30, 27, 32),
    "jet black": (18, 16, 22),
    "blue black": (24, 28, 48),
    "dark brown": (62, 40, 28),
    "brown": (98, 64, 38),
    "chestnut": (120, 62, 34),
    "light brown": (150, 108, 68),
    "auburn": (150, 58, 32),
    "red": (178, 56, 30),
    "ginger": (200, 96, 40),
    "copper": (184, 98, 48),
    "strawberry blonde": (222, 150, 100),
    "dirty blonde": (176, 146, 92),
    "honey blonde": (214, 164, 88),
    "blonde": (226, 190, 112),
    "blond": (226, 190, 112),
    "golden": (230, 180, 80),
    "platinum blonde": (238, 230, 204),
    "platinum": (238, 230, 204),
    "silver": (196, 198, 208),
    "grey": (150, 150, 152),
    "gray": (150, 150, 152),
    "salt-and-pepper": (120, 118, 118),
    "salt and pepper": (120, 118, 118),
    "white": (236, 234, 230),
    "pink": (232, 140, 170),
    "blue": (70, 110, 190),
    "purple": (120, 70, 150),
    "green": (70, 140, 100),
}

SKIN_TONES: dict[str, RGB] = {
    "porcelain": (252, 228, 214),
    "pale": (248, 222, 206),
    "fair": (246, 214, 192),
    "light": (236, 198, 166),
    "medium": (216, 170, 130),
    "olive": (202, 164, 118),
    "golden": (214, 168, 114),
    "tan": (196, 144, 100),
    "tanned": (196, 144, 100),
    "light brown": (176, 122, 82),
    "brown": (150, 98, 62),
    "dark brown": (108, 68, 44),
    "deep brown": (96, 60, 40),
    "dark": (100, 64, 42),
    "ebony": (78, 50, 34),
}

BUILDS: dict[str, tuple[float, float]] = {  # shoulder width factor, height factor
    "slim": (0.94, 1.0),
    "slender": (0.92, 1.0),
    "athletic": (1.1, 1.02),
    "muscular": (1.2, 1.03),
    "broad": (1.24, 1.03),
    "petite": (0.88, 0.91),
    "small": (0.88, 0.92),
    "stocky": (1.2, 0.95),
    "heavy": (1.3, 0.98),
    "average": (1.0, 1.0),
    "tall lanky": (0.93, 1.09),
    "lanky": (0.93, 1.08),
    "tall": (1.02, 1.07),
    "short": (0.98, 0.93),
}

EYE_COLOURS: dict[str, RGB] = {
    "green": (60, 130, 80),
    "blue": (60, 110, 180),
    "grey": (120, 130, 140),
    "gray": (120, 130, 140),
    "hazel": (130, 100, 50),
    "amber": (170, 110, 30),
    "brown": (80, 50, 30),
    "violet": (120, 80, 160),
}

SKY: dict[str, tuple[RGB, RGB]] = {  # top, horizon
    "dawn": ((118, 128, 190), (250, 188, 158)),
    "day": ((104, 164, 222), (200, 224, 240)),
    "dusk": ((72, 62, 124), (242, 136, 86)),
    "night": ((12, 16, 40), (40, 46, 82)),
}

TINT: dict[str, tuple[float, float, float]] = {
    "dawn": (1.0, 0.91, 0.9),
    "day": (1.0, 1.0, 1.0),
    "dusk": (1.0, 0.83, 0.7),
    "night": (0.46, 0.5, 0.7),
}

SETTING_ALIASES: dict[str, str] = {
    "office": "office", "boardroom": "office", "corporate": "office", "lobby": "office", "courtroom": "office",
    "study": "office", "hospital": "hospital", "clinic": "hospital", "ward": "hospital", "icu": "hospital",
    "home": "home", "house": "home", "apartment": "home", "flat": "home", "living": "home", "bedroom": "home",
    "kitchen": "home", "penthouse": "home", "mansion": "home", "villa": "home", "hotel": "home",
    "restaurant": "restaurant", "cafe": "restaurant", "café": "restaurant", "diner": "restaurant",
    "bar": "bar", "pub": "bar", "club": "bar", "lounge": "bar", "nightclub": "bar", "casino": "bar",
    "street": "street", "alley": "street", "city": "street", "road": "street", "parking": "street",
    "sidewalk": "street", "rooftop": "rooftop", "roof": "rooftop", "balcony": "rooftop", "terrace": "rooftop",
    "forest": "forest", "woods": "forest", "park": "forest", "garden": "forest", "jungle": "forest",
    "castle": "castle", "palace": "castle", "throne": "castle", "dungeon": "castle", "church": "castle",
    "car": "car", "taxi": "car", "limo": "car", "limousine": "car", "vehicle": "car",
    "bar counter": "bar", "school": "school", "classroom": "school", "university": "school", "campus": "school",
    "library": "school", "warehouse": "warehouse", "factory": "warehouse", "garage": "warehouse",
    "dock": "warehouse", "basement": "warehouse",
}


# ----------------------------------------------------------------------------------------------------- colour utils


def _crc(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def _hex(colour: str) -> RGB:
    v = int(colour[1:], 16)
    return (v >> 16) & 255, (v >> 8) & 255, v & 255


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


def _scale(c: RGB, f: float) -> RGB:
    return (min(255, round(c[0] * f)), min(255, round(c[1] * f)), min(255, round(c[2] * f)))


def _shade(c: RGB, f: float = 0.74) -> RGB:
    """Cel-shade colour: darker and a touch cooler."""
    return (round(c[0] * f * 0.96), round(c[1] * f * 0.98), min(255, round(c[2] * f * 1.06 + 6)))


def _luma(c: RGB) -> float:
    return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]


def _hash_colour(word: str, sat: float = 0.45, val: float = 0.6) -> RGB:
    h = (_crc(word) % 360) / 360.0
    i = int(h * 6)
    f = h * 6 - i
    p, q, t = val * (1 - sat), val * (1 - sat * f), val * (1 - sat * (1 - f))
    r, g, b = [(val, t, p), (q, val, p), (p, val, t), (p, q, val), (t, p, val), (val, p, q)][i % 6]
    return round(r * 255), round(g * 255), round(b * 255)


def _lookup(word: str, table: dict[str, T], fallback: Callable[[str], T]) -> T:
    key = " ".join(word.lower().replace("_", " ").split())
    if key in table:
        return table[key]
    hits = [k for k in table if k in key]
    if hits:
        return table[max(hits, key=len)]
    return fallback(key)


def _setting_of(location: Location) -> str:
    words = f"{location.setting} {location.name}".lower()
    key = location.setting.lower().strip()
    if key in SETTING_ALIASES:
        return SETTING_ALIASES[key]
    for token in words.replace("-", " ").replace("_", " ").split():
        if token in SETTING_ALIASES:
            return SETTING_ALIASES[token]
    return "interior" if location.kind == "interior" else "exterior"


def _ascii_text(text: str) -> str:
    table = {"\u2014": "-", "\u2013": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
             "\u2026": "...", "\u00a0": " "}
    text = "".join(table.get(ch, ch) for ch in text)
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if (32 <= ord(ch) < 127) or ch == "\u00b7")


# ------------------------------------------------------------------------------------------------------------ pen


class _Pen:
    """Draws in world coordinates (picture pixels) onto the supersampled canvas, with an optional zoom."""

    def __init__(self, img: Image.Image, zoom: float = 1.0, focus: Pt = (0.0, 0.0)) -> None:
        self.img = img
        self.d = ImageDraw.Draw(img)
        self.zoom = zoom
        self.fx, self.fy = focus

    def p(self, x: float, y: float) -> Pt:
        return (self.fx + (x - self.fx) * self.zoom) * SS, (self.fy + (y - self.fy) * self.zoom) * SS

    def pts(self, pts: Sequence[Pt]) -> list[Pt]:
        return [self.p(x, y) for x, y in pts]

    def box(self, box: Sequence[float]) -> tuple[float, float, float, float]:
        a, b = self.p(box[0], box[1])
        c, d = self.p(box[2], box[3])
        return min(a, c), min(b, d), max(a, c), max(b, d)

    def lw(self, w: float) -> int:
        return max(1, round(w * SS * min(2.0, self.zoom ** 0.5)))

    def poly(self, pts: Sequence[Pt], fill: RGB | None, outline: RGB | None = INK, width: float = 2.0) -> None:
        cp = self.pts(pts)
        self.d.polygon(cp, fill=fill)
        if outline is not None and width > 0:
            self.d.line([*cp, cp[0], cp[1]], fill=outline, width=self.lw(width), joint="curve")

    def ellipse(self, box: Sequence[float], fill: RGB | None, outline: RGB | None = INK, width: float = 2.0) -> None:
        self.d.ellipse(self.box(box), fill=fill, outline=outline if width > 0 else None, width=self.lw(width))

    def rect(self, box: Sequence[float], fill: RGB | None, outline: RGB | None = BG_INK, width: float = 1.5) -> None:
        self.d.rectangle(self.box(box), fill=fill, outline=outline if width > 0 else None, width=self.lw(width))

    def line(self, pts: Sequence[Pt], fill: RGB = INK, width: float = 2.0) -> None:
        self.d.line(self.pts(pts), fill=fill, width=self.lw(width), joint="curve")

    def shaded(self, kind: str, geom: Sequence, fill: RGB, shade: RGB | None = None, outline: RGB | None = INK,
               width: float = 3.0, shift: Pt = (0.2, 0.1)) -> None:
        """A flat fill with a cel-shaded crescent on the side away from the light (light from upper left)."""
        shade = shade or _shade(fill)
        if kind == "poly":
            cp = self.pts(geom)
            xs, ys = [p[0] for p in cp], [p[1] for p in cp]
        else:
            b = self.box(geom)
            xs, ys = [b[0], b[2]], [b[1], b[3]]
        W, H = self.img.size
        x0, y0 = max(0, math.floor(min(xs)) - 1), max(0, math.floor(min(ys)) - 1)
        x1, y1 = min(W, math.ceil(max(xs)) + 1), min(H, math.ceil(max(ys)) + 1)
        if x1 <= x0 or y1 <= y0:
            return
        span = max(xs) - min(xs)
        dx, dy = shift[0] * span, shift[1] * span

        def draw_shape(d: ImageDraw.ImageDraw, ox: float, oy: float, colour: int | RGB) -> None:
            if kind == "poly":
                d.polygon([(x - ox, y - oy) for x, y in cp], fill=colour)
            else:
                d.ellipse((xs[0] - ox, ys[0] - oy, xs[1] - ox, ys[1] - oy), fill=colour)

        draw_shape(self.d, 0, 0, fill)
        ma = Image.new("L", (x1 - x0, y1 - y0), 0)
        draw_shape(ImageDraw.Draw(ma), x0, y0, 255)
        mb = Image.new("L", (x1 - x0, y1 - y0), 0)
        draw_shape(ImageDraw.Draw(mb), x0 + dx, y0 + dy, 255)
        self.img.paste(shade, (x0, y0, x1, y1), ImageChops.subtract(ma, mb))
        if outline is not None and width > 0:
            if kind == "poly":
                self.d.line([*cp, cp[0], cp[1]], fill=outline, width=self.lw(width), joint="curve")
            else:
                self.d.ellipse((xs[0], ys[0], xs[1], ys[1]), outline=outline, width=self.lw(width))


def _arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 24) -> list[Pt]:
    return [(cx + rx * math.cos(math.radians(a0 + (a1 - a0) * i / n)),
             cy + ry * math.sin(math.radians(a0 + (a1 - a0) * i / n))) for i in range(n + 1)]


def _rot(pts: Sequence[Pt], cx: float, cy: float, deg: float) -> list[Pt]:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return [(cx + (x - cx) * c - (y - cy) * s, cy + (x - cx) * s + (y - cy) * c) for x, y in pts]


# ----------------------------------------------------------------------------------------------------- scene context


@dataclass
class _Scene:
    pw: float
    ph: float
    tod: str
    setting: str
    kind: str
    layout: random.Random  # seeded by the location only: the same place looks the same in every shot
    glows: list[tuple[float, float, float, RGB, float]] = field(default_factory=list)  # world x, y, r, colour, power
    foreground: list[Callable[[Image.Image], None]] = field(default_factory=list)  # drawn over the cast

    @property
    def lit(self) -> bool:
        return self.tod in ("night", "dusk")

    @property
    def horizon(self) -> float:
        return self.ph * 0.42

    def lamp(self, x: float, y: float, r: float, colour: RGB = (255, 214, 150), power: float = 0.85) -> None:
        if self.lit or self.tod == "dawn":
            self.glows.append((x, y, r, colour, power if self.lit else power * 0.4))


class _Sky:
    """A vertical sky gradient (top colour → horizon colour) in canvas pixels, rendered only where pasted."""

    def __init__(self, pen: _Pen, tod: str, horizon: float) -> None:
        self.top, self.hor = SKY[tod]
        self.y_top = pen.p(0, 0)[1]
        self.y_hor = pen.p(0, horizon)[1]

    def crop(self, x0: int, y0: int, x1: int, y1: int) -> Image.Image:
        ys = np.arange(y0, y1, dtype=np.float32)
        t = np.clip((ys - self.y_top) / max(1.0, self.y_hor - self.y_top), 0, 1)[:, None] ** 1.3
        col = np.asarray(self.top, np.float32)[None, :] * (1 - t) + np.asarray(self.hor, np.float32)[None, :] * t
        column = Image.fromarray(col.round().astype(np.uint8)[:, None, :])
        return column.resize((x1 - x0, y1 - y0), Image.Resampling.NEAREST)


def _paste_sky(pen: _Pen, sky: _Sky, pts: Sequence[Pt]) -> None:
    cp = pen.pts(pts)
    xs, ys = [p[0] for p in cp], [p[1] for p in cp]
    W, H = pen.img.size
    x0, y0 = max(0, math.floor(min(xs))), max(0, math.floor(min(ys)))
    x1, y1 = min(W, math.ceil(max(xs))), min(H, math.ceil(max(ys)))
    if x1 <= x0 or y1 <= y0:
        return
    m = Image.new("L", (x1 - x0, y1 - y0), 0)
    ImageDraw.Draw(m).polygon([(x - x0, y - y0) for x, y in cp], fill=255)
    pen.img.paste(sky.crop(x0, y0, x1, y1), (x0, y0), m)


def _sky_details(pen: _Pen, sc: _Scene, box: Sequence[float], skyline: bool) -> None:
    """Moon/stars/sun/clouds and an optional distant skyline inside an axis-aligned window box (world coords)."""
    x0, y0, x1, y1 = box
    rng = random.Random(sc.layout.random())
    w = x1 - x0
    if sc.tod == "night":
        for _ in range(int(w / 18)):
            sx, sy = rng.uniform(x0, x1), rng.uniform(y0, y0 + (y1 - y0) * 0.6)
            pen.rect((sx, sy, sx + 1.6, sy + 1.6), (230, 230, 210), None, 0)
        mx, my = x0 + w * rng.uniform(0.6, 0.8), y0 + (y1 - y0) * 0.2
        r = min(w, y1 - y0) * 0.09
        if mx + r < x1 and my - r > y0:
            pen.ellipse((mx - r, my - r, mx + r, my + r), (240, 236, 210), None, 0)
    elif sc.tod in ("dawn", "dusk"):
        r = min(w, y1 - y0) * 0.12
        sx, sy = x0 + w * 0.3, y1 - (y1 - y0) * 0.28
        pen.ellipse((sx - r, sy - r, sx + r, sy + r), (255, 226, 160), None, 0)
    else:
        for _ in range(max(1, int(w / 160))):
            cx, cy = rng.uniform(x0 + w * 0.1, x1 - w * 0.1), rng.uniform(y0 + 10, y0 + (y1 - y0) * 0.35)
            for k in range(3):
                rr = 14 + 6 * k % 2
                pen.ellipse((cx - rr + k * 16 - 16, cy - rr, cx + rr + k * 16 - 16, cy + rr), (240, 244, 248), None, 0)
    if skyline:
        base = y1
        x = x0
        bcol = _mix(SKY[sc.tod][1], (70, 80, 100), 0.55)
        while x < x1:
            bw = rng.uniform(w * 0.08, w * 0.2)
            bh = rng.uniform((y1 - y0) * 0.15, (y1 - y0) * 0.55)
            bx1 = min(x1, x + bw)
            pen.rect((x, base - bh, bx1, base), bcol, None, 0)
            if sc.tod in ("night", "dusk"):
                for wy in np.arange(base - bh + 6, base - 4, 9):
                    for wx in np.arange(x + 4, bx1 - 4, 8):
                        if rng.random() < 0.35:
                            pen.rect((wx, wy, wx + 3, wy + 4), (255, 220, 130), None, 0)
            x = bx1 + rng.uniform(0, 6)


# --------------------------------------------------------------------------------------------------------- backdrops


@dataclass
class _Room:
    back: tuple[float, float, float, float]  # back wall x0, y0 (ceiling line), x1, y1 (floor line)
    wall: RGB
    side: RGB
    floor: RGB
    ceiling: RGB


def _room(pen: _Pen, sc: _Scene, wall: RGB, floor: RGB, ceiling: RGB, high: bool = False) -> _Room:
    pw, ph = sc.pw, sc.ph
    back = (pw * 0.16, ph * (0.06 if high else 0.13), pw * 0.84, ph * 0.6)
    bx0, by0, bx1, by1 = back
    side = _scale(wall, 0.86)
    pen.poly([(0, 0), (pw, 0), (bx1, by0), (bx0, by0)], ceiling, BG_INK, 1.5)
    pen.poly([(0, 0), (bx0, by0), (bx0, by1), (0, ph * 0.86)], side, BG_INK, 1.5)
    pen.poly([(pw, 0), (bx1, by0), (bx1, by1), (pw, ph * 0.86)], _scale(side, 0.94), BG_INK, 1.5)
    pen.poly([(bx0, by1), (bx1, by1), (pw * 1.25, ph * 1.02), (-pw * 0.25, ph * 1.02)], floor, BG_INK, 1.5)
    pen.rect(back, wall, BG_INK, 1.5)
    # skirting + floor perspective lines
    pen.line([(bx0, by1 - 6), (bx1, by1 - 6)], _scale(wall, 0.8), 1.5)
    for i in range(1, 6):
        t = i / 6
        pen.line([(bx0 + (bx1 - bx0) * t, by1), (-pw * 0.25 + pw * 1.5 * t, ph * 1.02)], _scale(floor, 0.88), 1)
    return _Room(back, wall, side, floor, ceiling)


def _window(pen: _Pen, sc: _Scene, sky: _Sky, box: Sequence[float], skyline: bool = False,
            frame: RGB = (236, 234, 228), panes: int = 2, curtains: RGB | None = None) -> None:
    x0, y0, x1, y1 = box
    pen.rect((x0 - 5, y0 - 5, x1 + 5, y1 + 5), frame, BG_INK, 1.5)
    _paste_sky(pen, sky, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
    _sky_details(pen, sc, box, skyline)
    for i in range(1, panes):
        x = x0 + (x1 - x0) * i / panes
        pen.line([(x, y0), (x, y1)], frame, 3)
    pen.line([(x0, (y0 + y1) / 2), (x1, (y0 + y1) / 2)], frame, 3)
    pen.rect((x0, y0, x1, y1), None, BG_INK, 1.5)
    if curtains:
        cw = (x1 - x0) * 0.22
        for cx0 in (x0 - 12, x1 + 12 - cw):
            pts = [(cx0, y0 - 10), (cx0 + cw, y0 - 10), (cx0 + cw * 0.8, y1 + 18), (cx0 + cw * 0.1, y1 + 22)]
            pen.shaded("poly", pts, curtains, outline=BG_INK, width=1.5)
            pen.line([(cx0 + cw * 0.5, y0 - 6), (cx0 + cw * 0.45, y1 + 16)], _shade(curtains), 1.5)


def _door(pen: _Pen, box: Sequence[float], colour: RGB) -> None:
    x0, y0, x1, y1 = box
    pen.rect(box, colour, BG_INK, 1.5)
    pen.rect((x0 + 8, y0 + 10, x1 - 8, y0 + (y1 - y0) * 0.45), _scale(colour, 0.92), BG_INK, 1)
    pen.rect((x0 + 8, y0 + (y1 - y0) * 0.52, x1 - 8, y1 - 10), _scale(colour, 0.92), BG_INK, 1)
    pen.ellipse((x1 - 18, (y0 + y1) / 2 - 4, x1 - 10, (y0 + y1) / 2 + 4), (200, 180, 90), BG_INK, 1)


def _block(pen: _Pen, front: Sequence[float], depth: float, colour: RGB) -> None:
    """A box seen slightly from above: front face + top face."""
    x0, y0, x1, y1 = front
    pen.poly([(x0, y0), (x1, y0), (x1 - depth * 0.5, y0 - depth), (x0 + depth * 0.5, y0 - depth)],
             _scale(colour, 1.12), BG_INK, 1.5)
    pen.shaded("poly", [(x0, y0), (x1, y0), (x1, y1), (x0, y1)], colour, outline=BG_INK, width=1.5)


def _pendant(pen: _Pen, sc: _Scene, x: float, y: float, r: float, colour: RGB = (60, 58, 56)) -> None:
    pen.line([(x, 0), (x, y - r * 0.6)], BG_INK, 1.2)
    pen.poly([(x - r * 0.3, y - r * 0.6), (x + r * 0.3, y - r * 0.6), (x + r, y), (x - r, y)], colour, BG_INK, 1.5)
    if sc.lit:
        pen.ellipse((x - r * 0.45, y - r * 0.2, x + r * 0.45, y + r * 0.3), (255, 236, 180), None, 0)
    sc.lamp(x, y + r * 0.2, r * 5.5)


def _plant(pen: _Pen, x: float, y: float, s: float) -> None:
    pen.shaded("poly", [(x - s * 0.4, y - s * 0.7), (x + s * 0.4, y - s * 0.7), (x + s * 0.3, y), (x - s * 0.3, y)],
               (170, 100, 70), outline=BG_INK, width=1.5)
    for i, (dx, dy) in enumerate([(-0.5, -1.4), (0.4, -1.6), (0.0, -2.0), (-0.7, -1.9), (0.7, -1.2)]):
        col = (70, 130, 70) if i % 2 else (90, 150, 80)
        pen.ellipse((x + dx * s - s * 0.4, y + dy * s - s * 0.3, x + dx * s + s * 0.4, y + dy * s + s * 0.3),
                    col, BG_INK, 1.2)


def _tree(pen: _Pen, x: float, ground: float, h: float, rng: random.Random, sc: _Scene) -> None:
    tw = h * 0.07
    pen.shaded("poly", [(x - tw, ground), (x + tw, ground), (x + tw * 0.6, ground - h * 0.7),
                        (x - tw * 0.6, ground - h * 0.7)], (110, 80, 58), outline=BG_INK, width=1.5)
    leaf = (74, 128, 72) if sc.tod == "day" else (66, 112, 70)
    for _ in range(6):
        cx = x + rng.uniform(-h * 0.22, h * 0.22)
        cy = ground - h * rng.uniform(0.62, 0.95)
        r = h * rng.uniform(0.13, 0.2)
        col = _mix(leaf, (120, 160, 90), rng.random() * 0.3)
        pen.ellipse((cx - r, cy - r, cx + r, cy + r), col, BG_INK, 1.2)
        pen.ellipse((cx - r * 0.45, cy - r * 0.45, cx + r * 0.9, cy + r * 0.9), _shade(col, 0.85), None, 0)


def _bg_office(pen: _Pen, sc: _Scene, sky: _Sky) -> None:
    room = _room(pen, sc, (194, 202, 210), (118, 124, 136), (222, 224, 228))
    bx0, by0, bx1, by1 = room.back
    w = bx1 - bx0
    _window(pen, sc, sky, (bx0 + w * 0.08, by0 + 30, bx1 - w * 0.08, by1 - (by1 - by0) * 0.3), skyline=True, panes=3)
    for i in range(3):  # ceiling light panels
        y = by0 * (0.3 + 0.25 * i)
        pen.poly([(sc.pw * 0.35 - i * 10, y), (sc.pw * 0.65 + i * 10, y), (sc.pw * 0.67 + i * 10, y + 8),
                  (sc.pw * 0.33 - i * 10, y + 8)], (245, 245, 235), BG_INK, 1)
        sc.lamp(sc.pw * 0.5, y + 4, sc.pw * 0.22, (230, 236, 255), 0.4)
    # desk with monitor
    dx0, dx1, dy = bx0 + w * 0.05, bx0 + w * 0.62, by1 + 24
    _block(pen, (dx0, dy, dx1, dy + 70), 26, (130, 96, 70))
    pen.rect((dx0 + 70, dy - 90, dx0 + 170, dy - 28), (48, 52, 60), INK, 1.5)
    pen.rect((dx0 + 76, dy - 84, dx0 + 164, dy - 34), (120, 170, 200) if sc.lit else (90, 110, 130), None, 0)
    pen.rect((dx0 + 112, dy - 28, dx0 + 128, dy - 14), (48, 52, 60), INK, 1)
    # filing cabinet right
    _block(pen, (bx1 - 70, by1 - 120, bx1 - 4, by1 + 6), 10, (150, 156, 164))
    for k in range(3):
        pen.line([(bx1 - 62, by1 - 90 + k * 36), (bx1 - 12, by1 - 90 + k * 36)], BG_INK, 1)
    _plant(pen, bx0 - 24, by1 + 60, 36)


def _bg_hospital(pen: _Pen, sc: _Scene, sky: _Sky) -> None:
    room = _room(pen, sc, (188, 214, 204), (196, 202, 198), (230, 232, 230))
    bx0, by0, bx1, by1 = room.back
    w = bx1 - bx0
    _window(pen, sc, sky, (bx0 + w * 0.52, by0 + 40, bx1 - w * 0.06, by0 + (by1 - by0) * 0.55), skyline=True)
    # curtain rail + curtain on the right wall
    pen.line([(sc.pw * 0.9, by0 * 0.6), (bx1 - 4, by0 + 8)], BG_INK, 2)
    pen.shaded("poly", [(sc.pw * 0.9, by0 * 0.6), (bx1 - 4, by0 + 8), (bx1 - 8, by1 - 40), (sc.pw * 0.92, sc.ph * 0.8)],
               (150, 180, 200), outline=BG_INK, width=1.5)
    # bed
    _block(pen, (bx0 + 6, by1 - 18, bx0 + w * 0.58, by1 + 40), 40, (236, 238, 240))
    pen.rect((bx0 + 10, by1 - 90, bx0 + 30, by1 + 40), (170, 176, 184), BG_INK, 1.5)
    pen.ellipse((bx0 + 36, by1 - 66, bx0 + 110, by1 - 30), (250, 250, 250), BG_INK, 1.5)
    pen.line([(bx0 + 10, by1 + 40), (bx0 + 10, by1 + 70)], BG_INK, 2)
    pen.line([(bx0 + w * 0.58, by1 + 40), (bx0 + w * 0.58, by1 + 70)], BG_INK, 2)
    # IV stand + monitor
    ix = bx0 + w * 0.66
    pen.line([(ix, by1 + 50), (ix, by0 + 60)], (150, 150, 160), 2.5)
    pen.rect((ix - 12, by0 + 60, ix + 12, by0 + 100), (220, 236, 240), BG_INK, 1.2)
    pen.rect((bx0 + 20, by0 + 40, bx0 + 120, by0 + 100), (40, 44, 50), INK, 1.5)
    pen.line([(bx0 + 28, by0 + 72), (bx0 + 50, by0 + 72), (bx0 + 58, by0 + 52), (bx0 + 66, by0 + 88),
              (bx0 + 74, by0 + 72), (bx0 + 112, by0 + 72)], (90, 230, 120), 2)
    sc.lamp(sc.pw * 0.5, by0 * 0.5, sc.pw * 0.3, (225, 240, 255), 0.45)


def _bg_home(pen: _Pen, sc: _Scene, sky: _Sky) -> None:
    room = _room(pen, sc, (214, 190, 160), (148, 104, 70), (236, 226, 212))
    bx0, by0, bx1, by1 = room.back
    w = bx1 - bx0
    _window(pen, sc, sky, (bx0 + w * 0.08, by0 + 40, bx0 + w * 0.42, by0 + (by1 - by0) * 0.62),
            curtains=(150, 80, 70))
    pen.rect((bx0 + w * 0.58, by0 + 70, bx0 + w * 0.86, by0 + 150), (236, 226, 200), (120, 84, 50), 3)
    pen.poly([(bx0 + w * 0.6, by0 + 140), (bx0 + w * 0.7, by0 + 100), (bx0 + w * 0.78, by0 + 130),
              (bx0 + w * 0.84, by0 + 140)], (120, 150, 120), None, 0)
    # sofa against back wall
    sx0, sx1, sy = bx0 + w * 0.38, bx1 - 10, by1 + 10
    _block(pen, (sx0, sy - 70, sx1, sy - 20), 8, (96, 116, 150))
    _block(pen, (sx0 - 10, sy - 24, sx1 + 8, sy + 18), 20, (106, 128, 164))
    # floor lamp left, rug
    lx = bx0 - 30
    pen.line([(lx, by1 + 70), (lx, by0 + 120)], (60, 56, 52), 2.5)
    pen.shaded("poly", [(lx - 26, by0 + 120), (lx + 26, by0 + 120), (lx + 16, by0 + 80), (lx - 16, by0 + 80)],
               (240, 224, 180), outline=BG_INK, width=1.5)
    sc.lamp(lx, by0 + 110, 160, (255, 206, 140), 0.9)
    pen.ellipse((sc.pw * 0.2, by1 + 90, sc.pw * 0.8, by1 + 170), (168, 84, 70), BG_INK, 1.2)


def _bg_restaurant(pen: _Pen, sc: _Scene, sky: _Sky) -> None:
    room = _room(pen, sc, (176, 110, 90), (110, 78, 58), (96, 66, 52))
    bx0, by0, bx1, by1 = room.back
    w = bx1 - bx0
    for i in range(2):
        x = bx0 + w * (0.1 + 0.48 * i)
        _window(pen, sc, sky, (x, by0 + 40, x + w * 0.32, by0 + (by1 - by0) * 0.58), skyline=True,
                frame=(90, 60, 44))
    for x in (sc.pw * 0.3, sc.pw * 0.7):
        _pendant(pen, sc, x, by0 * 0.9 + 30, 22, (180, 140, 60))
    for x, y, r in ((bx0 + w * 0.22, by1 + 20, 60), (bx0 + w * 0.78, by1 + 20, 60), (sc.pw * 0.5, by1 + 90, 80)):
        pen.ellipse((x - r, y - r * 0.25, x + r, y + r * 0.25), (246, 244, 236), BG_INK, 1.5)
        pen.poly([(x - r, y), (x + r, y), (x + r * 0.9, y + r * 0.7), (x - r * 0.9, y + r * 0.7)], (236, 232, 222),
                 BG_INK, 1.5)
        pen.ellipse((x - 8, y - 22, x + 8, y - 2), (250, 220, 150) if sc.lit else (230, 230, 230), BG_INK, 1)
        sc.lamp(x, y - 12, 40, (255, 200, 120), 0.7)


def _bg_bar(pen: _Pen, sc: _Scene, sky: _Sky) -> None:
    room = _room(pen, sc, (128, 94, 78), (84, 62, 50), (66, 52, 46))
    bx0, by0, bx1, by1 = room.back
    w = bx1 - bx0
    for k in range(3):  # shelves with bottles
        y = by0 + 60 + k * 60
        pen.rect((bx0 + 10, y, bx1 - 10, y + 6), (70, 50, 40), BG_INK, 1)
        rng = random.Random(sc.layout.random())
        x = bx0 + 16
        while x < bx1 - 24:
            bw = rng.uniform(8, 14)
            colour = rng.choice([(60, 110, 70), (150, 90, 40), (190, 180, 120), (110, 50, 60), (80, 90, 140)])
            pen.rect((x, y - rng.uniform(28, 44), x + bw, y), colour, BG_INK, 1)
            x += bw + rng.uniform(3, 8)
    # mirror glow + counter
    _block(pen, (bx0 - 10, by1 - 40, bx1 + 10, by1 + 30), 24, (92, 58, 40))
    pen.line([(bx0 - 10, by1 - 36), (bx1 + 10, by1 - 36)], (200, 160, 90), 2)
    for x in (bx0 + w * 0.2, bx0 + w * 0.5, bx0 + w * 0.8):
        _pendant(pen, sc, x, by0 + 30, 16, (200, 120, 50))
        sc.glows.append((x, by0 + 40, 90, (255, 180, 100), 0.5))
    for x in (sc.pw * 0.18, sc.pw * 0.82):
        pen.ellipse((x - 26, by1 + 64, x + 26, by1 + 80), (150, 60, 50), BG_INK, 1.5)
        pen.line([(x, by1 + 78), (x, by1 + 150)], (60, 50, 50), 3)


def _bg_school(pen: _Pen, sc: _Scene, sky: _Sky) -> None:
    room = _room(pen, sc, (226, 214, 172), (168, 148, 118), (236, 236, 226))
    bx0, by0, bx1, by1 = room.back
    w = bx1 - bx0
    pen.rect((bx0 + w * 0.1, by0 + 60, bx1 - w * 0.1, by0 + 200), (54, 86, 70), (110, 80, 50), 4)
    pen.line([(bx0 + w * 0.18, by0 + 100), (bx0 + w * 0.5, by0 + 100)], (220, 226, 220), 2)
    pen.line([(bx0 + w * 0.18, by0 + 130), (bx0 + w * 0.4, by0 + 130)], (220, 226, 220), 2)
    pen.ellipse((bx1 - 60, by0 + 14, bx1 - 24, by0 + 50), (246, 246, 240), BG_INK, 2)
    pen.line([(bx1 - 42, by0 + 32), (bx1 - 42, by0 + 20), (bx1 - 42, by0 + 32), (bx1 - 32, by0 + 36)], INK, 1.5)
    for i in range(2):  # windows on the left wall (trapezoids)
        t0, t1 = 0.15 + i * 0.42, 0.45 + i * 0.42
        xa, xb = bx0 * (1 - t0), bx0 * (1 - t1)
        ya0, ya1 = by0 + (0 - by0) * t0 + 40, by1 + (sc.ph * 0.86 - by1) * t0 - 110
        yb0, yb1 = by0 + (0 - by0) * t1 + 40, by1 + (sc.ph * 0.86 - by1) * t1 - 160
        pts = [(xa, ya0), (xb, yb0), (xb, yb1), (xa, ya1)]
        _paste_sky(pen, sky, pts)
        pen.poly(pts, None, (240, 240, 236), 3)
    for row in range(2):
        y = by1 + 40 + row * 80
        for col in range(3):
            x = sc.pw * (0.2 + 0.3 * col) + (col - 1) * row * 20
            _block(pen, (x - 40 - row * 6, y, x + 40 + row * 6, y + 26), 14, (170, 130, 90))


def _bg_warehouse(pen: _Pen, sc: _Scene, sky: _Sky) -> None:
    room = _room(pen, sc, (150, 152, 144), (130, 128, 120), (92, 92, 94), high=True)
    bx0, by0, bx1, by1 = room.back
    w = bx1 - bx0
    for i in range(1, 14):
        x = bx0 + w * i / 14
        pen.line([(x, by0), (x, by1)], _scale(room.wall, 0.9), 1)
    _paste_sky(pen, sky, [(bx0 + 20, by0 + 20), (bx1 - 20, by0 + 20), (bx1 - 20, by0 + 50), (bx0 + 20, by0 + 50)])
    pen.rect((bx0 + 20, by0 + 20, bx1 - 20, by0 + 50), None, BG_INK, 1.5)
    dx0, dx1 = bx0 + w * 0.3, bx0 + w * 0.7
    pen.rect((dx0, by1 - (by1 - by0) * 0.55, dx1, by1), (170, 140, 70), BG_INK, 1.5)
    for k in range(10):
        y = by1 - (by1 - by0) * 0.55 + k * (by1 - by0) * 0.055
        pen.line([(dx0, y), (dx1, y)], (130, 104, 50), 1)
    for x, y, s in ((bx0 + 10, by1 + 10, 60), (bx0 + 70, by1 + 10, 50), (bx0 + 30, by1 - 50, 50),
                    (bx1 - 70, by1 + 30, 70)):
        _block(pen, (x, y - s, x + s, y), s * 0.3, (168, 130, 84))
        pen.line([(x, y - s), (x + s, y)], (130, 96, 60), 1.2)
    for x in (sc.pw * 0.3, sc.pw * 0.7):
        _pendant(pen, sc, x, by0 + 90, 26, (80, 90, 80))


def _bg_castle(pen: _Pen, sc: _Scene, sky: _Sky) -> None:
    room = _room(pen, sc, (156, 146, 128), (118, 108, 98), (88, 78, 70), high=True)
    bx0, by0, bx1, by1 = room.back
    w = bx1 - bx0
    for row, y in enumerate(np.arange(by0 + 28, by1, 28)):
        pen.line([(bx0, y), (bx1, y)], _scale(room.wall, 0.86), 1)
        for x in np.arange(bx0 + (row % 2) * 22, bx1, 44):
            pen.line([(x, y - 28), (x, y)], _scale(room.wall, 0.86), 1)
    ax0, ax1, ay0, ay1 = bx0 + w * 0.36, bx0 + w * 0.64, by0 + 60, by0 + (by1 - by0) * 0.6
    arch = [(ax0, ay1), *_arc((ax0 + ax1) / 2, ay0 + (ax1 - ax0) / 2, (ax1 - ax0) / 2, (ax1 - ax0) / 2, 180, 360),
            (ax1, ay1)]
    _paste_sky(pen, sky, arch)
    _sky_details(pen, sc, (ax0, ay0, ax1, ay1), False)
    pen.poly(arch, None, (90, 80, 70), 4)
    for x, col in ((bx0 + w * 0.14, (140, 30, 40)), (bx1 - w * 0.14, (40, 50, 120))):
        pen.shaded("poly", [(x - 26, by0 + 40), (x + 26, by0 + 40), (x + 26, by0 + 190), (x, by0 + 170),
                            (x - 26, by0 + 190)], col, outline=BG_INK, width=1.5)
        pen.ellipse((x - 8, by0 + 90, x + 8, by0 + 106), (220, 190, 80), None, 0)
    for x in (bx0 + w * 0.28, bx1 - w * 0.28):
        pen.rect((x - 4, by0 + 200, x + 4, by0 + 240), (80, 60, 40), BG_INK, 1)
        pen.ellipse((x - 9, by0 + 180, x + 9, by0 + 204), (255, 170, 60), None, 0)
        sc.glows.append((x, by0 + 192, 90, (255, 160, 70), 0.7 if sc.lit else 0.35))


def _bg_interior(pen: _Pen, sc: _Scene, sky: _Sky) -> None:
    room = _room(pen, sc, (200, 194, 182), (140, 128, 112), (230, 228, 222))
    bx0, by0, bx1, by1 = room.back
    w = bx1 - bx0
    _window(pen, sc, sky, (bx0 + w * 0.1, by0 + 50, bx0 + w * 0.5, by0 + (by1 - by0) * 0.6))
    _door(pen, (bx0 + w * 0.64, by0 + (by1 - by0) * 0.2, bx0 + w * 0.9, by1), (150, 110, 80))
    _pendant(pen, sc, sc.pw * 0.5, by0 * 0.9, 22)


def _ground(pen: _Pen, sc: _Scene, sky: _Sky, ground: RGB) -> None:
    pw, ph, hz = sc.pw, sc.ph, sc.horizon
    _paste_sky(pen, sky, [(-pw, -ph), (2 * pw, -ph), (2 * pw, hz + 2), (-pw, hz + 2)])
    _sky_details(pen, sc, (0, 0, pw, hz), False)
    pen.poly([(-pw, hz), (2 * pw, hz), (2 * pw, 2 * ph), (-pw, 2 * ph)], ground, None, 0)


def _bg_street(pen: _Pen, sc: _Scene, sky: _Sky) -> None:
    pw, ph, hz = sc.pw, sc.ph, sc.horizon
    _ground(pen, sc, sky, (120, 120, 124))
    vx = pw * 0.5
    rng = random.Random(sc.layout.random())
    x = pw * 0.25
    while x < pw * 0.75:  # distant buildings at the vanishing point
        bw, bh = rng.uniform(20, 40), rng.uniform(40, 120)
        pen.rect((x, hz - bh, x + bw, hz), _mix(SKY[sc.tod][1], (90, 96, 110), 0.6), BG_INK, 1)
        x += bw
    for side in (-1, 1):  # building facades in perspective
        near = vx + side * pw * 0.62
        far = vx + side * pw * 0.16
        top_near, top_far = -ph * 0.1, hz - ph * 0.22
        bot_near, bot_far = ph * 0.78, hz + 6
        colour = (178, 150, 126) if side < 0 else (150, 158, 170)
        pen.shaded("poly", [(far, top_far), (near, top_near), (near, bot_near), (far, bot_far)], colour,
                   outline=BG_INK, width=1.5, shift=(0.05 * side, 0.0))
        for i in range(6):
            for j in range(5):
                t0, t1 = (i + 0.25) / 6, (i + 0.75) / 6
                xa, xb = far + (near - far) * t0, far + (near - far) * t1
                ya0 = top_far + (top_near - top_far) * t0
                ya1 = bot_far + (bot_near - bot_far) * t0
                yb0 = top_far + (top_near - top_far) * t1
                yb1 = bot_far + (bot_near - bot_far) * t1
                u0, u1 = (j + 0.2) / 5 * 0.8, (j + 0.7) / 5 * 0.8
                pts = [(xa, ya0 + (ya1 - ya0) * u0), (xb, yb0 + (yb1 - yb0) * u0), (xb, yb0 + (yb1 - yb0) * u1),
                       (xa, ya0 + (ya1 - ya0) * u1)]
                lit = sc.lit and rng.random() < 0.45
                pen.poly(pts, (255, 214, 130) if lit else _mix(SKY[sc.tod][1], (60, 70, 90), 0.5), BG_INK, 1)
    # sidewalk kerbs and road markings
    pen.poly([(vx - 10, hz + 6), (vx + 10, hz + 6), (pw * 1.1, ph * 1.02), (-pw * 0.1, ph * 1.02)], (84, 86, 92),
             BG_INK, 1.5)
    for k in range(5):
        t0, t1 = (k / 5) ** 1.6, ((k + 0.5) / 5) ** 1.6
        y0, y1 = hz + 6 + (ph - hz) * t0, hz + 6 + (ph - hz) * t1
        pen.poly([(vx - 1 - 5 * t0, y0), (vx + 1 + 5 * t0, y0), (vx + 1 + 5 * t1, y1), (vx - 1 - 5 * t1, y1)],
                 (236, 220, 140), None, 0)
    for side in (-1, 1):  # street lamps
        for t in (0.35, 0.8):
            x = vx + side * (pw * 0.1 + pw * 0.42 * t)
            yb = hz + (ph * 0.8 - hz) * t
            ht = 40 + 300 * t
            pen.line([(x, yb), (x, yb - ht)], (50, 54, 60), 1.5 + 3 * t)
            pen.line([(x, yb - ht), (x - side * 20 * t, yb - ht)], (50, 54, 60), 1.5 + 3 * t)
            lr = 4 + 8 * t
            pen.ellipse((x - side * 20 * t - lr, yb - ht - lr * 0.3, x - side * 20 * t + lr, yb - ht + lr * 0.8),
                        (255, 230, 160) if sc.lit else (220, 220, 210), BG_INK, 1)
            sc.lamp(x - side * 20 * t, yb - ht, 60 + 120 * t, (255, 210, 140), 0.9)


def _bg_rooftop(pen: _Pen, sc: _Scene, sky: _Sky) -> None:
    pw, ph = sc.pw, sc.ph
    hz = ph * 0.55
    _paste_sky(pen, sky, [(-pw, -ph), (2 * pw, -ph), (2 * pw, hz), (-pw, hz)])
    _sky_details(pen, sc, (0, 0, pw, hz), True)
    pen.rect((-pw, hz, 2 * pw, ph * 0.64), (150, 146, 140), BG_INK, 1.5)  # parapet
    pen.line([(-pw, hz + 8), (2 * pw, hz + 8)], (120, 116, 110), 1.5)
    pen.poly([(-pw, ph * 0.64), (2 * pw, ph * 0.64), (2 * pw, 2 * ph), (-pw, 2 * ph)], (126, 122, 118), BG_INK, 1.5)
    for i in range(1, 6):
        pen.line([(pw * (i / 6), ph * 0.64), (pw * (-0.6 + i / 6 * 2.2), ph * 1.05)], (112, 108, 104), 1)
    tx = pw * 0.82
    pen.line([(tx - 30, hz), (tx - 30, hz - 60)], (70, 64, 60), 3)
    pen.line([(tx + 30, hz), (tx + 30, hz - 60)], (70, 64, 60), 3)
    pen.shaded("ellipse", (tx - 44, hz - 150, tx + 44, hz - 56), (150, 110, 80), outline=BG_INK, width=1.5)
    pen.line([(pw * 0.12, hz), (pw * 0.12, hz - 160)], (70, 70, 76), 2)
    pen.line([(pw * 0.08, hz - 140), (pw * 0.16, hz - 140)], (70, 70, 76), 2)
    if sc.lit:
        for i in range(9):
            x = pw * (0.05 + i * 0.11)
            y = ph * 0.5 + 10 * math.sin(i)
            pen.ellipse((x - 4, y - 4, x + 4, y + 4), (255, 220, 140), None, 0)
            sc.lamp(x, y, 30, (255, 210, 140), 0.6)


def _bg_forest(pen: _Pen, sc: _Scene, sky: _Sky) -> None:
    pw, ph, hz = sc.pw, sc.ph, sc.horizon
    _ground(pen, sc, sky, (96, 120, 78))
    rng = random.Random(sc.layout.random())
    for x in np.arange(-20, pw + 20, 34):  # distant tree line
        r = rng.uniform(26, 44)
        pen.ellipse((x - r, hz - r * 1.6, x + r, hz + 6), _mix((70, 110, 80), SKY[sc.tod][1], 0.35), None, 0)
    pen.poly([(pw * 0.46, hz + 4), (pw * 0.54, hz + 4), (pw * 0.95, ph * 1.02), (pw * 0.05, ph * 1.02)],
             (168, 146, 108), BG_INK, 1.2)
    trees = sorted(((rng.uniform(-0.1, 1.1) * pw, rng.uniform(0.0, 1.0)) for _ in range(9)), key=lambda t: t[1])
    for x, depth in trees:
        if pw * 0.38 < x < pw * 0.62 and depth > 0.4:
            x += pw * 0.3 * (1 if x > pw * 0.5 else -1)
        ground = hz + 10 + (ph * 0.9 - hz) * depth
        _tree(pen, x, ground, 160 + 520 * depth, rng, sc)
    for _ in range(5):
        x, y, r = rng.uniform(0, pw), rng.uniform(ph * 0.7, ph * 0.95), rng.uniform(30, 60)
        pen.shaded("ellipse", (x - r, y - r * 0.6, x + r, y + r * 0.4), (80, 120, 70), outline=BG_INK, width=1.2)


def _bg_exterior(pen: _Pen, sc: _Scene, sky: _Sky) -> None:
    pw, ph, hz = sc.pw, sc.ph, sc.horizon
    _ground(pen, sc, sky, (132, 140, 110))
    pen.ellipse((-pw * 0.4, hz - 120, pw * 0.6, hz + 120), (120, 140, 120), None, 0)
    pen.ellipse((pw * 0.3, hz - 80, pw * 1.3, hz + 100), (108, 130, 112), None, 0)
    pen.rect((-pw, hz, 2 * pw, 2 * ph), (132, 140, 110), None, 0)
    for x, w, h in ((pw * 0.15, 90, 120), (pw * 0.72, 110, 150)):
        _block(pen, (x - w / 2, hz + 20 - h, x + w / 2, hz + 20), 18, (170, 150, 130))
        pen.poly([(x - w / 2 - 8, hz + 20 - h), (x, hz - h - 30), (x + w / 2 + 8, hz + 20 - h)], (140, 70, 60),
                 BG_INK, 1.5)
    pen.poly([(pw * 0.45, hz + 20), (pw * 0.55, hz + 20), (pw * 0.9, ph * 1.02), (pw * 0.1, ph * 1.02)],
             (176, 160, 130), BG_INK, 1.2)


def _bg_car(pen: _Pen, sc: _Scene, sky: _Sky) -> None:
    pw, ph = sc.pw, sc.ph
    pen.rect((-pw, -ph, 2 * pw, 2 * ph), (70, 70, 78), None, 0)
    # rear window with the street behind
    win = [(pw * 0.12, ph * 0.12), (pw * 0.88, ph * 0.12), (pw * 0.96, ph * 0.42), (pw * 0.04, ph * 0.42)]
    _paste_sky(pen, sky, win)
    rng = random.Random(sc.layout.random())
    x = pw * 0.05
    while x < pw * 0.95:
        bw, bh = rng.uniform(40, 90), rng.uniform(40, 150)
        top = max(ph * 0.42 - bh, ph * 0.13)
        pen.rect((x, top, min(x + bw, pw * 0.95), ph * 0.42), _mix(SKY[sc.tod][1], (80, 84, 96), 0.55), None, 0)
        if sc.lit:
            pen.ellipse((x + 10, ph * 0.36, x + 18, ph * 0.37), (255, 200, 120), None, 0)
            sc.lamp(x + 14, ph * 0.365, 30, (255, 200, 120), 0.5)
        x += bw + 4
    pen.poly(win, None, (40, 40, 46), 6)
    # seats with headrests
    for cx in (pw * 0.27, pw * 0.73):
        pen.shaded("poly", [(cx - 130, ph * 0.5), (cx + 130, ph * 0.5), (cx + 140, ph * 1.1), (cx - 140, ph * 1.1)],
                   (92, 70, 58), outline=BG_INK, width=2)
        pen.shaded("ellipse", (cx - 60, ph * 0.4, cx + 60, ph * 0.5), (92, 70, 58), outline=BG_INK, width=2)

    def dashboard(img: Image.Image) -> None:
        fpen = _Pen(img)  # foreground: fixed to the frame, not zoomed with the backdrop
        fpen.shaded("poly", [(-pw, ph * 0.86), (2 * pw, ph * 0.86), (2 * pw, 2 * ph), (-pw, 2 * ph)],
                   (52, 52, 58), outline=INK, width=3)
        fpen.line([(-pw, ph * 0.875), (2 * pw, ph * 0.875)], (90, 90, 100), 2)
        cx, cy, r = pw * 0.22, ph * 0.95, pw * 0.2
        fpen.ellipse((cx - r, cy - r * 0.5, cx + r, cy + r * 0.5), None, INK, 10)
        fpen.ellipse((cx - r, cy - r * 0.5, cx + r, cy + r * 0.5), None, (70, 70, 78), 6)

    sc.foreground.append(dashboard)


BACKDROPS: dict[str, Callable[[_Pen, _Scene, _Sky], None]] = {
    "office": _bg_office, "hospital": _bg_hospital, "home": _bg_home, "restaurant": _bg_restaurant,
    "bar": _bg_bar, "school": _bg_school, "warehouse": _bg_warehouse, "castle": _bg_castle,
    "street": _bg_street, "rooftop": _bg_rooftop, "forest": _bg_forest, "car": _bg_car,
    "interior": _bg_interior, "exterior": _bg_exterior,
}

# ------------------------------------------------------------------------------------------------------ characters


@dataclass(frozen=True)
class _Look:
    """A character's drawing parameters, derived only from the Character (identical in every shot)."""

    name: str
    female: bool
    hair: RGB
    style: str
    skin: RGB
    width: float
    height: float
    main: RGB
    second: RGB
    accent: RGB | None
    outfit: str  # suit | top | dress | skirt
    neck: str  # tie | scarf | necklace | none
    eyes: RGB
    features: frozenset[str]
    age: int


HAIR_STYLES = ("long", "wavy", "bob", "ponytail", "bun", "curly", "short", "buzz", "slick")


def _hair_style(text: str, key: str) -> str:
    t = text.lower()
    rules = [("buzz", "buzz"), ("shaved", "buzz"), ("bald", "buzz"), ("crew", "buzz"), ("slick", "slick"),
             ("swept back", "slick"), ("pony", "ponytail"), ("braid", "ponytail"), ("bun", "bun"),
             ("updo", "bun"), ("curl", "curly"), ("afro", "curly"), ("coil", "curly"), ("bob", "bob"),
             ("wav", "wavy"), ("shoulder", "wavy"), ("long", "long"), ("straight", "long"), ("short", "short"),
             ("crop", "short"), ("pixie", "short"), ("undercut", "short")]
    for word, style in rules:
        if word in t:
            return style
    return HAIR_STYLES[_crc(key + t) % len(HAIR_STYLES)]


def _look_of(c: Character) -> _Look:
    look = c.look
    female = c.gender == "female"
    width, height = _lookup(look.build, BUILDS, lambda _w: (1.0, 1.0))
    if c.age < 14:
        height *= 0.7
    elif c.age < 17:
        height *= 0.92
    pal = [_hex(p) for p in look.palette]
    wardrobe = c.wardrobe.lower()
    h = _crc(c.name)
    if any(w in wardrobe for w in ("dress", "gown")):
        outfit = "dress"
    elif "skirt" in wardrobe:
        outfit = "skirt"
    elif any(w in wardrobe for w in ("suit", "blazer", "jacket", "coat", "tuxedo", "vest")):
        outfit = "suit"
    elif any(w in wardrobe for w in ("hoodie", "sweater", "t-shirt", "tee", "scrubs", "uniform", "jumper", "shirt")):
        outfit = "top"
    else:
        outfit = ("dress", "suit", "top", "skirt")[h % 4] if female else ("suit", "top")[h % 2]
    accent = pal[2] if len(pal) > 2 else None
    if "tie" in wardrobe.split() or "necktie" in wardrobe or "bow tie" in wardrobe:
        neck = "tie"
    elif "scarf" in wardrobe:
        neck = "scarf"
    elif "necklace" in wardrobe or "pearls" in wardrobe or "pendant" in wardrobe:
        neck = "necklace"
    elif accent is None:
        neck = "none"
    else:
        neck = ("scarf", "necklace")[h % 2] if female else ("tie" if outfit == "suit" else "none")
    face = look.face.lower()
    eyes = (60, 40, 30)
    for word, colour in EYE_COLOURS.items():
        if f"{word} eye" in face or f"{word}-eye" in face:
            eyes = colour
    feats = {f for f in ("glasses", "spectacles", "scar", "freckle", "beard", "stubble", "moustache", "mustache",
                         "mole", "beauty mark", "earring", "piercing", "goatee", "wrinkle", "dimple", "tattoo")
             if f in face}
    if "spectacles" in feats:
        feats.add("glasses")
    if "mustache" in feats:
        feats.add("moustache")
    if "beauty mark" in feats:
        feats.add("mole")
    return _Look(
        name=c.name, female=female,
        hair=_lookup(look.hair_color, HAIR_COLOURS, lambda w: _hash_colour(w, 0.45, 0.45)),
        style=_hair_style(look.hair_style, c.name),
        skin=_lookup(look.skin_tone, SKIN_TONES, lambda w: _mix((220, 176, 140), _hash_colour(w, 0.4, 0.7), 0.25)),
        width=width * (0.86 if female else 1.0), height=height * (0.95 if female else 1.0),
        main=pal[0], second=pal[1], accent=accent, outfit=outfit, neck=neck, eyes=eyes,
        features=frozenset(feats), age=c.age,
    )


@dataclass
class _Place:
    name: str
    cx: float
    cy: float  # head centre (picture pixels)
    h: float  # head height
    back: bool = False
    gaze: float = 0.0  # -1 looks screen-left, +1 screen-right
    speaking: bool = False


@dataclass
class _Drawn:
    name: str
    box: tuple[float, float, float, float]
    face: tuple[float, float, float, float]
    back: bool


class _Painter:
    """Draws one character (front or back view) with cel shading, in picture pixels."""

    def __init__(self, pen: _Pen, light: Callable[[RGB], RGB]) -> None:
        self.pen = pen
        self.light = light

    def draw(self, lk: _Look, pl: _Place) -> _Drawn:
        pen, L = self.pen, self.light
        h, cx, cy = pl.h, pl.cx, pl.cy
        hw = h * (0.74 if lk.female else 0.8)
        ow = max(1.5, min(5.0, h * 0.028))  # outline weight
        skin, hair = L(lk.skin), L(lk.hair)
        main, second = L(lk.main), L(lk.second)
        accent = L(lk.accent) if lk.accent else None
        top = cy - h / 2
        sh_y = cy + 0.8 * h
        S = h * 0.86 * lk.width
        waist_y, hip_y = cy + 3.0 * h, cy + 3.7 * h
        wh = S * (0.6 if lk.female else 0.74)
        hh = S * (0.84 if lk.female else 0.78)
        foot_y = cy + 7.0 * h
        knee_y = cy + 5.3 * h
        aw = h * 0.3 * (0.85 + 0.15 * lk.width)
        neck_w = hw * (0.34 if lk.female else 0.42)

        # hair behind everything (front view)
        if not pl.back:
            self._hair_back(lk, hair, cx, cy, h, hw, ow)

        # legs / lower garment
        legs = second if lk.outfit in ("suit", "top") else skin
        for side in (-1, 1):
            pts = [(cx + side * hh * 0.95, hip_y - 0.2 * h), (cx + side * 0.03 * h, hip_y),
                   (cx + side * 0.1 * h, foot_y - 0.2 * h), (cx + side * hh * 0.62, foot_y - 0.2 * h)]
            pen.shaded("poly", pts, legs if lk.outfit in ("suit", "top") else _shade(skin, 0.95), outline=INK,
                       width=ow)
            sx = cx + side * hh * 0.38
            pen.shaded("ellipse", (sx - hh * 0.42, foot_y - 0.32 * h, sx + hh * 0.42, foot_y + 0.05 * h),
                       L((40, 34, 36)) if lk.outfit != "dress" else L(_shade(lk.main, 0.6)), outline=INK, width=ow)
        if lk.outfit in ("dress", "skirt"):
            skirt = main if lk.outfit == "dress" else second
            pen.shaded("poly", [(cx - wh, waist_y), (cx + wh, waist_y), (cx + hh * 1.35, knee_y + 0.2 * h),
                                (cx - hh * 1.35, knee_y + 0.2 * h)], skirt, outline=INK, width=ow)
            pen.line([(cx - hh * 0.3, hip_y), (cx - hh * 0.45, knee_y + 0.1 * h)], _shade(skirt, 0.8), ow * 0.6)
            pen.line([(cx + hh * 0.35, hip_y), (cx + hh * 0.55, knee_y + 0.1 * h)], _shade(skirt, 0.8), ow * 0.6)

        # neck
        pen.shaded("poly", [(cx - neck_w / 2, cy + 0.2 * h), (cx + neck_w / 2, cy + 0.2 * h),
                            (cx + neck_w * 0.58, sh_y + 0.1 * h), (cx - neck_w * 0.58, sh_y + 0.1 * h)],
                   skin, _shade(skin, 0.78), INK, ow)

        # torso
        top_col = main
        torso = [(cx - neck_w * 0.62, sh_y - 0.06 * h), (cx - S * 0.72, sh_y + 0.02 * h), (cx - S * 0.95, sh_y + 0.12 * h),
                 (cx - S, sh_y + 0.35 * h), (cx - S * 0.93, sh_y + 1.1 * h), (cx - wh, waist_y),
                 (cx - hh, hip_y), (cx + hh, hip_y), (cx + wh, waist_y), (cx + S * 0.93, sh_y + 1.1 * h),
                 (cx + S, sh_y + 0.35 * h), (cx + S * 0.95, sh_y + 0.12 * h), (cx + S * 0.72, sh_y + 0.02 * h),
                 (cx + neck_w * 0.62, sh_y - 0.06 * h)]
        if lk.outfit == "skirt" or (lk.outfit == "dress" and pl.back):
            torso = [p if p[1] < hip_y - 1 else (cx + (p[0] - cx) * 0.8, waist_y + 0.1 * h)
                     for p in torso]
        pen.shaded("poly", torso, top_col, outline=INK, width=ow, shift=(0.16, 0.03))
        if not pl.back:
            self._garment_front(lk, cx, sh_y, waist_y, hip_y, neck_w, S, wh, h, ow, main, second, accent, skin)
        # arms + hands
        for side in (-1, 1):
            sx = cx + side * S
            arm = [(sx - side * aw * 0.55, sh_y + 0.1 * h), (sx + side * aw * 0.35, sh_y + 0.3 * h),
                   (sx + side * aw * 0.45, sh_y + 1.5 * h), (sx + side * aw * 0.15, cy + 3.55 * h),
                   (sx - side * aw * 0.75, cy + 3.5 * h), (sx - side * aw * 0.6, sh_y + 1.3 * h)]
            pen.shaded("poly", arm, top_col, outline=INK, width=ow, shift=(0.25, 0.02))
            hx = sx - side * aw * 0.3
            pen.shaded("ellipse", (hx - aw * 0.5, cy + 3.45 * h, hx + aw * 0.5, cy + 3.95 * h), skin, outline=INK,
                       width=ow)

        # head
        for side in (-1, 1):
            ex = cx + side * hw * 0.5
            pen.shaded("ellipse", (ex - h * 0.08, cy - 0.06 * h, ex + h * 0.08, cy + 0.14 * h), skin, outline=INK,
                       width=ow * 0.8)
            if not pl.back and ("earring" in lk.features or "piercing" in lk.features or lk.neck == "necklace"):
                pen.ellipse((ex - h * 0.025, cy + 0.13 * h, ex + h * 0.025, cy + 0.18 * h), L((230, 200, 90)),
                            INK, ow * 0.4)
        head_box = (cx - hw / 2, top, cx + hw / 2, cy + h / 2)
        if pl.back:
            pen.ellipse(head_box, skin, INK, ow)
            self._hair_back_view(lk, hair, cx, cy, h, hw, ow, hip_y)
        else:
            taper = 0.3 if lk.female else 0.2
            jaw = []
            for i in range(48):
                a = 2 * math.pi * i / 48
                sa = math.sin(a)
                jaw.append((cx + hw / 2 * math.cos(a) * (1 - taper * max(0.0, sa) ** 2), cy + h / 2 * sa))
            pen.shaded("poly", jaw, skin, outline=INK, width=ow, shift=(0.16, 0.06))
            self._face(lk, pl, cx, cy, h, hw, ow, skin, hair)
            self._hair_front(lk, hair, cx, cy, h, hw, ow)
        box = (min(cx - S - aw, cx - hw * 0.75), top - h * 0.25, max(cx + S + aw, cx + hw * 0.75), foot_y + 0.05 * h)
        return _Drawn(lk.name, box, head_box, pl.back)

    # -- garments

    def _garment_front(self, lk: _Look, cx: float, sh_y: float, waist_y: float, hip_y: float, neck_w: float,
                       S: float, wh: float, h: float, ow: float, main: RGB, second: RGB, accent: RGB | None,
                       skin: RGB) -> None:
        pen = self.pen
        if lk.outfit == "suit":
            vee = [(cx - neck_w * 0.62, sh_y - 0.06 * h), (cx + neck_w * 0.62, sh_y - 0.06 * h), (cx, sh_y + 1.5 * h)]
            pen.poly(vee, second, INK, ow * 0.8)
            for side in (-1, 1):  # lapels
                pen.poly([(cx + side * neck_w * 0.62, sh_y - 0.06 * h), (cx + side * neck_w * 1.05, sh_y + 0.5 * h),
                          (cx + side * neck_w * 0.72, sh_y + 0.62 * h), (cx, sh_y + 1.5 * h)],
                         _shade(main, 0.86), INK, ow * 0.7)
            pen.line([(cx, sh_y + 1.5 * h), (cx, hip_y)], INK, ow * 0.7)
            pen.ellipse((cx - h * 0.04, sh_y + 1.8 * h, cx + h * 0.04, sh_y + 1.88 * h), INK, None, 0)
            if lk.neck == "tie" and accent:
                pen.poly([(cx - h * 0.06, sh_y - 0.02 * h), (cx + h * 0.06, sh_y - 0.02 * h), (cx + h * 0.08, sh_y + 1.1 * h),
                          (cx, sh_y + 1.25 * h), (cx - h * 0.08, sh_y + 1.1 * h)], accent, INK, ow * 0.7)
        elif lk.outfit == "top":
            pen.ellipse((cx - neck_w * 0.7, sh_y - 0.16 * h, cx + neck_w * 0.7, sh_y + 0.16 * h), skin, INK, ow * 0.7)
            pen.line([(cx - S * 0.9, sh_y + 1.4 * h), (cx - wh * 0.9, waist_y)], _shade(main, 0.82), ow * 0.5)
            pen.line([(cx - wh, hip_y - 0.2 * h), (cx + wh, hip_y - 0.2 * h)], _shade(main, 0.8), ow * 0.6)
        else:  # dress / blouse: a V-neck showing skin
            pen.poly([(cx - neck_w * 0.9, sh_y - 0.04 * h), (cx + neck_w * 0.9, sh_y - 0.04 * h), (cx, sh_y + 0.7 * h)],
                     skin, INK, ow * 0.7)
            belt = accent or second
            pen.rect((cx - wh * 1.02, waist_y - 0.1 * h, cx + wh * 1.02, waist_y + 0.08 * h), belt, INK, ow * 0.7)
        if lk.neck == "scarf" and accent:
            pen.shaded("poly", [(cx - neck_w * 0.95, sh_y - 0.2 * h), (cx + neck_w * 0.95, sh_y - 0.2 * h),
                                (cx + neck_w * 1.0, sh_y + 0.18 * h), (cx + neck_w * 0.2, sh_y + 0.3 * h),
                                (cx + neck_w * 0.45, sh_y + 1.0 * h), (cx - neck_w * 0.1, sh_y + 1.0 * h),
                                (cx - neck_w * 0.2, sh_y + 0.3 * h), (cx - neck_w * 1.0, sh_y + 0.18 * h)],
                       accent, outline=INK, width=ow * 0.8)
        elif lk.neck == "necklace" and accent:
            pen.line(_arc(cx, sh_y - 0.05 * h, neck_w * 0.75, 0.35 * h, 10, 170, 12), accent, max(1.5, ow * 0.7))
            pen.ellipse((cx - h * 0.035, sh_y + 0.26 * h, cx + h * 0.035, sh_y + 0.34 * h), accent, INK, ow * 0.4)
        if lk.outfit == "suit" and accent and lk.neck == "none":
            pen.rect((cx - S * 0.52, sh_y + 0.35 * h, cx - S * 0.32, sh_y + 0.45 * h), accent, INK, ow * 0.5)
        if "tattoo" in lk.features:
            pen.line([(cx + neck_w * 0.2, sh_y - 0.3 * h), (cx + neck_w * 0.4, sh_y - 0.15 * h)], (60, 70, 110), ow * 0.7)

    # -- face

    def _face(self, lk: _Look, pl: _Place, cx: float, cy: float, h: float, hw: float, ow: float, skin: RGB,
              hair: RGB) -> None:
        pen = self.pen
        ey = cy + 0.04 * h
        ew, eh = hw * 0.17, h * 0.07
        brow = _shade(hair, 0.55) if _luma(hair) > 90 else hair
        for side in (-1, 1):
            ex = cx + side * hw * 0.22
            pen.ellipse((ex - ew / 2, ey - eh / 2, ex + ew / 2, ey + eh / 2), (248, 246, 240), INK, ow * 0.6)
            ix = ex + pl.gaze * ew * 0.22
            ir = eh * 0.48
            pen.ellipse((ix - ir, ey - ir, ix + ir, ey + ir), lk.eyes, None, 0)
            pen.ellipse((ix - ir * 0.5, ey - ir * 0.5, ix + ir * 0.5, ey + ir * 0.5), INK, None, 0)
            pen.ellipse((ix - ir * 0.55, ey - ir * 0.7, ix - ir * 0.1, ey - ir * 0.25), (255, 255, 255), None, 0)
            pen.line([(ex - ew * 0.6, ey - eh * 0.25), (ex - ew * 0.2, ey - eh * 0.62), (ex + ew * 0.3, ey - eh * 0.6),
                      (ex + ew * 0.62, ey - eh * 0.2)], INK, ow * (1.0 if lk.female else 0.8))
            by = ey - h * 0.12
            pen.line([(ex - side * ew * 0.65, by + h * 0.02), (ex, by - h * 0.01), (ex + side * ew * 0.7, by + h * 0.015)],
                     brow, max(1.5, h * (0.025 if lk.female else 0.04)))
        # nose
        pen.line([(cx + hw * 0.03, cy + 0.13 * h), (cx + hw * 0.06, cy + 0.2 * h), (cx - hw * 0.02, cy + 0.215 * h)],
                 _shade(skin, 0.62), ow * 0.6)
        my = cy + 0.32 * h
        mw = hw * (0.26 if lk.female else 0.3)
        lip = _mix(skin, (190, 70, 80), 0.45 if lk.female else 0.18)
        if pl.speaking:
            pen.ellipse((cx - mw / 2, my - h * 0.035, cx + mw / 2, my + h * 0.055), (90, 30, 40), INK, ow * 0.6)
            pen.ellipse((cx - mw * 0.25, my + h * 0.015, cx + mw * 0.25, my + h * 0.05), (200, 90, 100), None, 0)
        else:
            if lk.female:
                pen.ellipse((cx - mw / 2, my - h * 0.02, cx + mw / 2, my + h * 0.03), lip, None, 0)
            pen.line([(cx - mw / 2, my), (cx, my + h * 0.008), (cx + mw / 2, my - h * 0.004)], INK, ow * 0.7)
        f = lk.features
        if lk.age >= 55 or "wrinkle" in f:
            for k in (0, 1):
                pen.line([(cx - hw * 0.18, cy - 0.24 * h + k * 0.04 * h), (cx + hw * 0.18, cy - 0.24 * h + k * 0.04 * h)],
                         _shade(skin, 0.75), ow * 0.4)
            for side in (-1, 1):
                pen.line([(cx + side * hw * 0.12, cy + 0.2 * h), (cx + side * hw * 0.2, cy + 0.33 * h)],
                         _shade(skin, 0.75), ow * 0.5)
        if "beard" in f or "goatee" in f:
            full = "beard" in f
            pts = ([(cx - hw * 0.49, cy + 0.08 * h), (cx - hw * 0.3, cy + 0.22 * h), (cx + hw * 0.3, cy + 0.22 * h),
                    (cx + hw * 0.49, cy + 0.08 * h), (cx + hw * 0.42, cy + 0.36 * h), (cx, cy + 0.55 * h),
                    (cx - hw * 0.42, cy + 0.36 * h)] if full else
                   [(cx - hw * 0.16, cy + 0.38 * h), (cx + hw * 0.16, cy + 0.38 * h), (cx, cy + 0.54 * h)])
            pen.shaded("poly", pts, hair, outline=INK, width=ow * 0.7)
            pen.ellipse((cx - mw / 2, my - h * 0.02, cx + mw / 2, my + h * 0.035),
                        (90, 30, 40) if pl.speaking else _shade(skin, 0.8), INK, ow * 0.5)
        elif "stubble" in f:
            rng = random.Random(_crc(lk.name))
            for _ in range(60):
                a = rng.uniform(10, 170)
                r = rng.uniform(0.78, 0.98)
                x = cx + math.cos(math.radians(a)) * hw * 0.46 * r
                y = cy + 0.15 * h + math.sin(math.radians(a)) * h * 0.34 * r
                pen.ellipse((x - h * 0.006, y - h * 0.006, x + h * 0.006, y + h * 0.006), _shade(hair, 0.8), None, 0)
        if "moustache" in f:
            pen.poly([(cx - mw * 0.6, my - h * 0.01), (cx, my - h * 0.06), (cx + mw * 0.6, my - h * 0.01),
                      (cx, my - h * 0.03)], hair, INK, ow * 0.5)
        if "freckle" in f:
            rng = random.Random(_crc(lk.name) + 1)
            for side in (-1, 1):
                for _ in range(7):
                    x = cx + side * hw * rng.uniform(0.12, 0.3)
                    y = cy + h * rng.uniform(0.1, 0.2)
                    pen.ellipse((x - h * 0.008, y - h * 0.008, x + h * 0.008, y + h * 0.008), _shade(skin, 0.65), None, 0)
        if "mole" in f:
            x, y = cx + hw * 0.2, cy + 0.26 * h
            pen.ellipse((x - h * 0.012, y - h * 0.012, x + h * 0.012, y + h * 0.012), (60, 40, 34), None, 0)
        if "scar" in f:
            x = cx - hw * 0.22
            pen.line([(x - hw * 0.08, ey - h * 0.2), (x + hw * 0.06, ey + h * 0.1)], (170, 70, 70), ow * 0.8)
            for t in (0.3, 0.6):
                mx, my2 = x - hw * 0.08 + hw * 0.14 * t, ey - h * 0.2 + h * 0.3 * t
                pen.line([(mx - hw * 0.03, my2), (mx + hw * 0.03, my2 - h * 0.01)], (170, 70, 70), ow * 0.5)
        if "dimple" in f:
            for side in (-1, 1):
                x = cx + side * mw * 0.75
                pen.line([(x, my - h * 0.02), (x, my + h * 0.02)], _shade(skin, 0.7), ow * 0.5)
        if "glasses" in f:
            for side in (-1, 1):
                ex = cx + side * hw * 0.22
                pen.ellipse((ex - ew * 0.85, ey - eh * 1.2, ex + ew * 0.85, ey + eh * 1.25), None, INK, ow * 0.8)
            pen.line([(cx - hw * 0.22 + ew * 0.85, ey - eh * 0.3), (cx + hw * 0.22 - ew * 0.85, ey - eh * 0.3)],
                     INK, ow * 0.8)

    # -- hair

    def _hair_back(self, lk: _Look, hair: RGB, cx: float, cy: float, h: float, hw: float, ow: float) -> None:
        pen, st = self.pen, lk.style
        if st == "long":
            pts = [*_arc(cx, cy - 0.05 * h, hw * 0.6, h * 0.58, 180, 360, 16),
                   (cx + hw * 0.72, cy + 1.6 * h), (cx + hw * 0.3, cy + 1.75 * h), (cx - hw * 0.3, cy + 1.75 * h),
                   (cx - hw * 0.72, cy + 1.6 * h)]
            pen.shaded("poly", pts, hair, outline=INK, width=ow)
        elif st == "wavy":
            pts = _arc(cx, cy - 0.05 * h, hw * 0.62, h * 0.58, 180, 360, 16)
            for i in range(9):
                t = i / 8
                pts.append((cx + hw * 0.66 - t * hw * 1.32, cy + 0.95 * h + (0.1 * h if i % 2 else 0)))
            pen.shaded("poly", pts, hair, outline=INK, width=ow)
        elif st == "bob":
            pts = [*_arc(cx, cy - 0.04 * h, hw * 0.62, h * 0.58, 180, 360, 16),
                   (cx + hw * 0.64, cy + 0.4 * h), (cx + hw * 0.5, cy + 0.48 * h), (cx - hw * 0.5, cy + 0.48 * h),
                   (cx - hw * 0.64, cy + 0.4 * h)]
            pen.shaded("poly", pts, hair, outline=INK, width=ow)
        elif st == "curly":
            rng = random.Random(_crc(lk.name))
            for i in range(16):
                a = math.radians(180 + i * 24)
                r = h * rng.uniform(0.17, 0.22)
                x, y = cx + math.cos(a) * hw * 0.62, cy + 0.05 * h + math.sin(a) * h * 0.55
                pen.shaded("ellipse", (x - r, y - r, x + r, y + r), hair, outline=INK, width=ow * 0.8)
        elif st == "ponytail":
            pen.shaded("poly", [(cx + hw * 0.35, cy - 0.1 * h), (cx + hw * 0.7, cy + 0.2 * h),
                                (cx + hw * 0.75, cy + 0.9 * h), (cx + hw * 0.5, cy + 1.1 * h),
                                (cx + hw * 0.45, cy + 0.3 * h)], hair, outline=INK, width=ow)
        elif st == "bun":
            r = h * 0.2
            pen.shaded("ellipse", (cx - r, cy - 0.62 * h - r, cx + r, cy - 0.62 * h + r), hair, outline=INK, width=ow)

    def _hair_front(self, lk: _Look, hair: RGB, cx: float, cy: float, h: float, hw: float, ow: float) -> None:
        pen, st = self.pen, lk.style
        params = {  # volume, side drop, left/mid/right hairline heights (fractions of h from the head centre)
            "long": (0.07, 0.12, -0.22, -0.36, -0.22, 0.0),
            "wavy": (0.08, 0.1, -0.28, -0.34, -0.16, 0.15),
            "bob": (0.09, 0.1, -0.14, -0.16, -0.14, 0.0),
            "ponytail": (0.04, -0.02, -0.26, -0.32, -0.3, 0.12),
            "bun": (0.03, -0.02, -0.28, -0.34, -0.28, 0.0),
            "curly": (0.12, 0.05, -0.22, -0.28, -0.24, 0.0),
            "short": (0.07, -0.02, -0.26, -0.3, -0.34, -0.15),
            "buzz": (0.015, -0.02, -0.3, -0.33, -0.3, 0.0),
            "slick": (0.05, -0.02, -0.32, -0.36, -0.33, 0.0),
        }
        vol, side, hl_l, hl_m, hl_r, part = params.get(st, params["short"])
        colour = _mix(hair, self.light(lk.skin), 0.35) if st == "buzz" else hair
        rx, ry = hw / 2 * (1 + vol * 1.4), h / 2 * (1 + vol)
        ocy = cy - vol * h * 0.4
        outer = _arc(cx, ocy, rx, ry, 188, 352, 28)
        if st == "curly":
            outer = [(x + (x - cx) * 0.08 * abs(math.sin(i * 1.3)), y + (y - ocy) * 0.08 * abs(math.sin(i * 1.3)))
                     for i, (x, y) in enumerate(outer)]
        x_side = hw / 2 * 1.02
        hairline = [(cx + x_side, cy + side * h), (cx + hw * 0.3, cy + hl_r * h), (cx + part * hw, cy + hl_m * h),
                    (cx - hw * 0.3, cy + hl_l * h), (cx - x_side, cy + side * h)]
        if st == "bob":  # straight bangs
            hairline = [(cx + x_side, cy + side * h), (cx + hw * 0.4, cy - 0.12 * h), (cx - hw * 0.4, cy - 0.12 * h),
                        (cx - x_side, cy + side * h)]
        pts = [*outer, *hairline]
        pen.shaded("poly", pts, colour, outline=INK, width=ow, shift=(0.14, 0.05))
        hi = _mix(colour, (255, 255, 255), 0.35)
        if st in ("slick", "short", "long", "wavy", "ponytail", "bun", "bob"):
            n = 4 if st == "slick" else 2
            for k in range(n):
                a0 = 215 + k * 12
                pen.line(_arc(cx, ocy, rx * (0.9 - k * 0.05), ry * (0.9 - k * 0.06), a0, a0 + 40, 6), hi,
                         max(1.0, ow * 0.5))
        if st in ("long", "wavy"):  # locks falling over the shoulders
            for s in (-1, 1):
                x0 = cx + s * hw * 0.5
                pts2 = [(x0 - s * hw * 0.08, cy - 0.1 * h), (x0 + s * hw * 0.16, cy - 0.05 * h),
                        (x0 + s * hw * 0.26, cy + (1.5 if st == "long" else 0.95) * h),
                        (x0 + s * hw * 0.02, cy + (1.55 if st == "long" else 1.0) * h), (x0 - s * hw * 0.06, cy + 0.3 * h)]
                pen.shaded("poly", pts2, colour, outline=INK, width=ow)

    def _hair_back_view(self, lk: _Look, hair: RGB, cx: float, cy: float, h: float, hw: float, ow: float,
                        hip_y: float) -> None:
        pen, st = self.pen, lk.style
        colour = _mix(hair, self.light(lk.skin), 0.35) if st == "buzz" else hair
        vol = {"curly": 0.14, "bob": 0.09, "long": 0.07, "wavy": 0.08, "buzz": 0.015}.get(st, 0.05)
        length = {"long": 1.75, "wavy": 1.0, "bob": 0.48, "curly": 0.4}.get(st, 0.3)
        pts = [*_arc(cx, cy - 0.02 * h, hw / 2 * (1 + vol * 1.4), h / 2 * (1 + vol), 160, 380, 30)]
        pts += [(cx + hw * (0.6 if length > 0.45 else 0.4), cy + length * h), (cx, cy + (length + 0.05) * h),
                (cx - hw * (0.6 if length > 0.45 else 0.4), cy + length * h)]
        pen.shaded("poly", pts, colour, outline=INK, width=ow, shift=(0.14, 0.05))
        if st == "bun":
            r = h * 0.2
            pen.shaded("ellipse", (cx - r, cy - 0.2 * h - r, cx + r, cy - 0.2 * h + r), hair, outline=INK, width=ow)
        elif st == "ponytail":
            pen.shaded("poly", [(cx - hw * 0.12, cy), (cx + hw * 0.12, cy), (cx + hw * 0.16, cy + 1.2 * h),
                                (cx, cy + 1.35 * h), (cx - hw * 0.14, cy + 1.2 * h)], hair, outline=INK, width=ow)
        hi = _mix(colour, (255, 255, 255), 0.3)
        for k in range(3):
            pen.line(_arc(cx, cy, hw * (0.32 - k * 0.08), h * 0.36, 200, 300, 6), hi, max(1.0, ow * 0.5))


# -------------------------------------------------------------------------------------------------- insert shots


def _insert(pen: _Pen, sc: _Scene, shot: Shot, hand: _Look | None, light: Callable[[RGB], RGB]) -> tuple[float, float]:
    """A detail on a tabletop: a hand with an object. Returns the world point where the hand is (for its tag)."""
    pw, ph = sc.pw, sc.ph
    table = {"office": (150, 110, 80), "home": (160, 112, 72), "restaurant": (238, 236, 228),
             "hospital": (206, 210, 214), "bar": (98, 62, 42), "school": (176, 136, 94)}.get(sc.setting,
                                                                                          (150, 120, 90))
    edge = ph * 0.3
    pen.shaded("poly", [(-pw * 0.2, edge), (pw * 1.2, edge), (pw * 1.2, ph * 1.05), (-pw * 0.2, ph * 1.05)],
               light(table), outline=BG_INK, width=2, shift=(0.0, 0.0))
    grain = _scale(light(table), 0.9)
    for i in range(1, 9):
        pen.line([(pw * (i / 9 - 0.3) * 1.6 + pw * 0.5 - pw * 0.8 * 0.0, edge),
                  (pw * (i / 9) * 2.4 - pw * 0.7, ph * 1.05)], grain, 1.2)
    action = f"{shot.action} {shot.prompt}".lower()
    objects = [("phone", "phone"), ("text", "phone"), ("message", "phone"), ("call", "phone"), ("ring", "ring"),
               ("photo", "photo"), ("picture", "photo"), ("letter", "letter"), ("note", "letter"),
               ("envelope", "letter"), ("contract", "letter"), ("document", "letter"), ("paper", "letter"),
               ("file", "letter"), ("will", "letter"), ("key", "key"), ("glass", "glass"), ("wine", "glass"),
               ("drink", "glass"), ("money", "money"), ("cash", "money"), ("cheque", "money"), ("check", "money"),
               ("pill", "bottle"), ("bottle", "bottle"), ("poison", "bottle")]
    obj = next((o for w, o in objects if w in action), ("letter", "phone")[_crc(shot.id) % 2])
    ox, oy = pw * 0.46, ph * 0.55
    if obj == "phone":
        body = _rot([(ox - 70, oy - 140), (ox + 70, oy - 140), (ox + 70, oy + 140), (ox - 70, oy + 140)], ox, oy, -12)
        pen.shaded("poly", body, (30, 30, 36), outline=INK, width=4)
        scr = _rot([(ox - 60, oy - 125), (ox + 60, oy - 125), (ox + 60, oy + 120), (ox - 60, oy + 120)], ox, oy, -12)
        pen.poly(scr, (200, 226, 250), INK, 1.5)
        for k, (x0, x1, col) in enumerate([(-50, 20, (230, 230, 236)), (-10, 50, (90, 160, 250)),
                                           (-50, 30, (230, 230, 236))]):
            y = oy - 100 + k * 60
            pen.poly(_rot([(ox + x0, y), (ox + x1, y), (ox + x1, y + 36), (ox + x0, y + 36)], ox, oy, -12), col,
                     BG_INK, 1)
        sc.glows.append((ox, oy, 160, (180, 210, 255), 0.5))
    elif obj in ("letter", "photo", "money"):
        col = {"letter": (248, 244, 232), "photo": (240, 240, 240), "money": (170, 200, 150)}[obj]
        w2, h2 = (120, 160) if obj == "letter" else (110, 80)
        body = _rot([(ox - w2, oy - h2), (ox + w2, oy - h2), (ox + w2, oy + h2), (ox - w2, oy + h2)], ox, oy, -8)
        if obj == "money":
            for k in range(3):
                pen.poly([(x + k * 10, y - k * 8) for x, y in body], _scale(col, 1 - 0.05 * k), INK, 2)
        pen.shaded("poly", body, col, outline=INK, width=3, shift=(0.05, 0.02))
        if obj == "letter":
            for k in range(7):
                y = oy - 110 + k * 32
                pen.line(_rot([(ox - 90, y), (ox + (90 if k < 6 else 10), y)], ox, oy, -8), (90, 90, 110), 2)
        elif obj == "photo":
            inner = _rot([(ox - 95, oy - 65), (ox + 95, oy - 65), (ox + 95, oy + 50), (ox - 95, oy + 50)], ox, oy, -8)
            pen.poly(inner, (150, 170, 190), INK, 1.5)
            for dx in (-35, 35):
                pen.ellipse((ox + dx - 18, oy - 40, ox + dx + 18, oy - 4), (220, 190, 160), INK, 1.5)
                pen.poly([(ox + dx - 34, oy + 48), (ox + dx + 34, oy + 48), (ox + dx + 24, oy + 2), (ox + dx - 24, oy + 2)],
                         (90, 90, 120), INK, 1.5)
        else:
            pen.ellipse((ox - 40, oy - 40, ox + 40, oy + 40), None, (90, 120, 80), 3)
    elif obj == "ring":
        pen.shaded("poly", [(ox - 70, oy - 10), (ox + 70, oy - 10), (ox + 70, oy + 80), (ox - 70, oy + 80)],
                   (140, 30, 50), outline=INK, width=3)
        pen.shaded("poly", [(ox - 70, oy - 10), (ox + 70, oy - 10), (ox + 60, oy - 110), (ox - 60, oy - 110)],
                   (160, 40, 60), outline=INK, width=3)
        pen.ellipse((ox - 30, oy - 50, ox + 30, oy + 10), None, (230, 190, 80), 7)
        pen.ellipse((ox - 12, oy - 70, ox + 12, oy - 46), (220, 240, 255), INK, 2)
    elif obj == "key":
        pen.ellipse((ox - 50, oy - 50, ox + 10, oy + 10), (210, 180, 90), INK, 3)
        pen.ellipse((ox - 32, oy - 32, ox - 8, oy - 8), light(table), INK, 2)
        pen.poly([(ox + 5, oy - 28), (ox + 150, oy - 28), (ox + 150, oy - 8), (ox + 5, oy - 8)], (210, 180, 90), INK, 3)
        pen.poly([(ox + 110, oy - 8), (ox + 130, oy - 8), (ox + 130, oy + 20), (ox + 110, oy + 20)], (210, 180, 90),
                 INK, 3)
    elif obj == "glass":
        pen.ellipse((ox - 60, oy - 160, ox + 60, oy - 130), (220, 230, 240), INK, 3)
        pen.poly([(ox - 60, oy - 145), (ox + 60, oy - 145), (ox + 40, oy - 40), (ox - 40, oy - 40)], (200, 215, 230),
                 INK, 3)
        pen.poly([(ox - 52, oy - 105), (ox + 52, oy - 105), (ox + 40, oy - 40), (ox - 40, oy - 40)], (130, 30, 50),
                 INK, 2)
        pen.line([(ox, oy - 40), (ox, oy + 60)], INK, 6)
        pen.ellipse((ox - 50, oy + 50, ox + 50, oy + 76), (210, 220, 230), INK, 3)
    else:  # bottle
        pen.shaded("poly", [(ox - 50, oy - 60), (ox + 50, oy - 60), (ox + 50, oy + 110), (ox - 50, oy + 110)],
                   (190, 120, 50), outline=INK, width=3)
        pen.rect((ox - 40, oy - 90, ox + 40, oy - 60), (240, 240, 240), INK, 3)
        pen.rect((ox - 50, oy - 10, ox + 50, oy + 50), (246, 244, 236), INK, 2)
        for k in range(3):
            x = ox + 90 + k * 30
            pen.ellipse((x - 10, oy + 80, x + 10, oy + 96), (250, 250, 250), INK, 2)
    # the hand, coming in from the bottom right
    skin = light(hand.skin) if hand else light((214, 170, 130))
    sleeve = light(hand.main) if hand else light((90, 100, 120))
    hx, hy, ang = ox + 120, oy + 150, -35
    arm = _rot([(hx - 60, hy + 40), (hx + 60, hy + 40), (hx + 80, hy + 600), (hx - 80, hy + 600)], hx, hy, ang)
    pen.shaded("poly", arm, sleeve, outline=INK, width=4)
    cuff = _rot([(hx - 62, hy + 40), (hx + 62, hy + 40), (hx + 64, hy + 80), (hx - 64, hy + 80)], hx, hy, ang)
    pen.poly(cuff, light(hand.second) if hand else (230, 230, 230), INK, 3)
    palm = _rot([(hx - 60, hy - 60), (hx + 55, hy - 60), (hx + 55, hy + 42), (hx - 55, hy + 42)], hx, hy, ang)
    pen.shaded("poly", palm, skin, outline=INK, width=4)
    for k in range(4):
        fx = hx - 45 + k * 30
        finger = _rot([(fx - 13, hy - 150 + abs(k - 1.5) * 14), (fx + 13, hy - 150 + abs(k - 1.5) * 14),
                       (fx + 14, hy - 55), (fx - 14, hy - 55)], hx, hy, ang)
        pen.shaded("poly", finger, skin, outline=INK, width=3.5)
    thumb = _rot([(hx - 60, hy - 10), (hx - 110, hy - 70), (hx - 92, hy - 90), (hx - 50, hy - 50)], hx, hy, ang)
    pen.shaded("poly", thumb, skin, outline=INK, width=3.5)
    return hx, hy + 100


# ------------------------------------------------------------------------------------------------------- layout


def _placements(shot: Shot, looks: dict[str, _Look], pw: float, ph: float, rng: random.Random) -> list[_Place]:
    names = list(shot.characters)
    framing = shot.framing
    jit = [rng.uniform(-1, 1) for _ in range(8)]

    def speaking(n: str) -> bool:
        return shot.speaker == n

    def height_shift(n: str, h: float) -> float:
        return -(looks[n].height - 1.0) * 3.5 * h

    if not names or framing == "insert":
        return []
    if framing == "over-shoulder" and len(names) < 2:
        framing = "medium"
    if framing == "close-up":
        n = shot.speaker if shot.speaker in names else names[0]
        h = ph * 0.42
        return [_Place(n, pw * 0.5 + jit[0] * 10, ph * 0.39, h, speaking=speaking(n), gaze=0.3 * jit[1])]
    if framing == "over-shoulder":
        fg, bg = names[0], names[1]
        h_bg = ph * 0.17
        out = [_Place(bg, pw * 0.64 + jit[0] * 8, ph * 0.31 + height_shift(bg, h_bg) * 0.5, h_bg, gaze=-0.9,
                      speaking=speaking(bg))]
        for i, extra in enumerate(names[2:]):
            out.insert(0, _Place(extra, pw * (0.88 - 0.12 * i), ph * 0.3, ph * 0.12, gaze=-0.6, speaking=speaking(extra)))
        out.append(_Place(fg, pw * 0.13 + jit[1] * 6, ph * 0.56, ph * 0.34, back=True))
        return out
    if framing == "wide" or (framing in ("medium", "two-shot") and len(names) > 3):
        n = len(names)
        h0 = ph * (0.062 if n <= 4 else 0.05)
        out = []
        for i, name in enumerate(names):
            x = pw * (0.5 if n == 1 else 0.2 + 0.6 * i / (n - 1))
            feet = ph * (0.87 + 0.025 * ((i % 2) - 0.5) + 0.01 * jit[i % 8])
            h = h0 * looks[name].height
            out.append(_Place(name, x + jit[(i + 3) % 8] * 6, feet - 7.0 * h, h, speaking=speaking(name),
                              gaze=(0.6 if x < pw * 0.5 else -0.6) if n > 1 else 0.0))
        return sorted(out, key=lambda p: p.cy + 7 * p.h)
    # medium / two-shot: waist up
    n = len(names)
    if n == 1:
        h = ph * 0.2
        return [_Place(names[0], pw * 0.5 + jit[0] * 12, ph * 0.3 + height_shift(names[0], h), h,
                       speaking=speaking(names[0]), gaze=0.3 * jit[1])]
    h = ph * (0.15 if framing == "two-shot" else 0.16) * (0.85 if n == 3 else 1.0)
    xs = [0.28, 0.72] if n == 2 else [0.2, 0.5, 0.8]
    out = [_Place(name, pw * xs[i] + jit[i] * 8, ph * 0.33 + height_shift(name, h), h, speaking=speaking(name),
                  gaze=0.7 if i == 0 else -0.7) for i, name in enumerate(names)]
    # the speaker is drawn last (in front) when shoulders overlap
    return sorted(out, key=lambda p: p.speaking)


# --------------------------------------------------------------------------------------------------- decorations


def _move_glyph(pen: _Pen, move: str, x: float, y: float, r: float) -> None:
    pen.ellipse((x - r, y - r, x + r, y + r), (250, 246, 236), INK, 2.5)
    red = (206, 40, 40)

    def arrow(x0: float, y0: float, x1: float, y1: float, w: float) -> None:
        ang = math.atan2(y1 - y0, x1 - x0)
        hl = w * 2.2
        bx, by = x1 - math.cos(ang) * hl, y1 - math.sin(ang) * hl
        nx, ny = -math.sin(ang), math.cos(ang)
        pen.line([(x0, y0), (bx, by)], red, w)
        pen.poly([(x1, y1), (bx + nx * w * 1.4, by + ny * w * 1.4), (bx - nx * w * 1.4, by - ny * w * 1.4)], red, red, 1)

    k = r * 0.62
    if move == "push-in":
        pen.rect((x - k * 0.35, y - k * 0.45, x + k * 0.35, y + k * 0.45), None, INK, 1.5)
        for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
            arrow(x + sx * k, y + sy * k, x + sx * k * 0.45, y + sy * k * 0.5, r * 0.1)
    elif move == "pull-out":
        pen.rect((x - k * 0.35, y - k * 0.45, x + k * 0.35, y + k * 0.45), None, INK, 1.5)
        for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
            arrow(x + sx * k * 0.4, y + sy * k * 0.45, x + sx * k * 1.05, y + sy * k * 1.05, r * 0.1)
    elif move in ("pan-left", "pan-right"):
        s = -1 if move == "pan-left" else 1
        arrow(x - s * k, y, x + s * k, y, r * 0.16)
    elif move in ("tilt-up", "tilt-down"):
        s = -1 if move == "tilt-up" else 1
        arrow(x, y - s * k, x, y + s * k, r * 0.16)


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: float, max_lines: int) -> list[str]:
    words = text.split()
    lines: list[str] = []
    line = ""
    for i, word in enumerate(words):
        trial = f"{line} {word}".strip()
        if font.getlength(trial) <= width or not line:
            line = trial
            continue
        lines.append(line)
        line = word
        if len(lines) == max_lines:
            line = " ".join(words[i:])
            break
    if line:
        lines.append(line)
    if len(lines) > max_lines:
        last = lines[max_lines - 1]
        while last and font.getlength(last + "...") > width:
            last = last.rsplit(" ", 1)[0] if " " in last else last[:-1]
        lines = [*lines[: max_lines - 1], last + "..."]
    return [ln if font.getlength(ln) <= width else _clip(ln, font, width) for ln in lines]


def _clip(text: str, font: ImageFont.FreeTypeFont, width: float) -> str:
    while text and font.getlength(text + "...") > width:
        text = text[:-1]
    return text + "..."


# ------------------------------------------------------------------------------------------------------- renderer


class StoryboardRenderer:
    """Deterministic storyboard-panel renderer (Pillow + numpy, CPU). See the module docstring."""

    name = "storyboard"

    def __init__(self) -> None:
        self._fonts: dict[int, ImageFont.FreeTypeFont] = {}
        self._papers: dict[tuple[int, int], Image.Image] = {}

    def _font(self, size: int) -> ImageFont.FreeTypeFont:
        if size not in self._fonts:
            font = ImageFont.load_default(size=size)
            assert isinstance(font, ImageFont.FreeTypeFont)
            self._fonts[size] = font
        return self._fonts[size]

    def _paper(self, W: int, H: int) -> Image.Image:
        """The blank sheet: paper colour with fine grain and a few fibres (fixed, cached per size)."""
        if (W, H) not in self._papers:
            gen = np.random.default_rng(20240601)
            grain = gen.normal(0.0, 3.0, size=(H, W, 1)) * np.array([1.0, 0.97, 0.9])
            arr = (np.asarray(PAPER, np.float64)[None, None, :] + grain).round().clip(0, 255).astype(np.uint8)
            self._papers[(W, H)] = Image.fromarray(arr)
        return self._papers[(W, H)]

    def render(self, request: ImageRequest) -> ImageResult:
        started = time.perf_counter()
        image, figures = self.draw(request)
        out = Path(request.out_path)
        out.parent.mkdir(parents=True, exist_ok=True)
        image.save(out, format="PNG", compress_level=3)
        return ImageResult(path=out, width=image.width, height=image.height,
                           seconds=time.perf_counter() - started, backend=self.name, figures=figures)

    def draw(self, request: ImageRequest) -> tuple[Image.Image, list[FigureBox]]:
        """Render the frame in memory: the image and where each character was drawn."""
        shot, location = request.shot, request.location
        W, H = int(request.width), int(request.height)
        if W < 64 or H < 64:
            raise ValueError(f"frame {W}x{H} is too small for a storyboard panel (min 64x64)")
        missing = [n for n in shot.characters if n not in request.cast]
        if missing:
            raise KeyError(f"shot {shot.id} lists characters not in request.cast: {missing} "
                           f"(cast has {sorted(request.cast)})")
        looks = {n: _look_of(request.cast[n]) for n in shot.characters}
        rng = random.Random(request.seed)

        # ---- panel layout (final pixels)
        m, header_h, caption_h, (L, T, R, B) = _layout(W, H)
        cap_font = self._font(max(8, round(H * 0.0155)))
        cap_line = round(cap_font.size * 1.22)
        cap_lines = 3 if H >= 480 else (1 if H >= 200 else 0)
        pw, ph = R - L, B - T
        if ph < 32:
            raise ValueError(f"frame {W}x{H} leaves no room for the picture")

        # ---- picture canvas (supersampled)
        canvas = Image.new("RGB", (pw * SS, ph * SS), (128, 128, 128))
        setting = _setting_of(location)
        sc = _Scene(pw=pw, ph=ph, tod=shot.time_of_day, setting=setting, kind=location.kind,
                    layout=random.Random(_crc(f"{location.name}|{setting}")))
        zoom = {"wide": 1.0, "medium": 1.45, "two-shot": 1.35, "over-shoulder": 1.5, "close-up": 2.1,
                "insert": 2.4}[shot.framing]
        if not shot.characters and shot.framing != "insert":
            zoom = min(zoom, 1.2)
        zoom *= 1 + rng.uniform(-0.02, 0.02)
        focus = (pw * 0.5 + rng.uniform(-6, 6), ph * (0.36 if setting not in ("rooftop",) else 0.5))
        bg = _Pen(canvas, zoom, focus)
        sky = _Sky(bg, sc.tod, sc.horizon if setting != "rooftop" else ph * 0.55)
        BACKDROPS[setting](bg, sc, sky)

        # ---- lighting: tint, mid-contrast, lamps
        tint = _tint(sc.tod, location.kind)
        soften = {"close-up": 0.38, "over-shoulder": 0.3, "insert": 0.42, "medium": 0.26, "two-shot": 0.26}.get(
            shot.framing, 0.16)
        mid = _scale((150, 146, 140), (sum(tint) / 3) ** 0.7)
        lut = [round(v * tint[c] * (1 - soften) + mid[c] * soften) for c in range(3) for v in range(256)]
        canvas = canvas.point(lut)
        for gx, gy, gr, gcol, power in sc.glows:
            x, y = bg.p(gx, gy)
            _glow(canvas, x, y, gr * zoom * SS, gcol, power)
        sc.glows.clear()

        def light(c: RGB) -> RGB:
            return _lit(c, tint)

        # ---- characters
        fig_pen = _Pen(canvas)
        painter = _Painter(fig_pen, light)
        drawn: list[_Drawn] = []
        tags: list[tuple[str, float, float, float, float, bool]] = []
        if shot.framing == "insert":
            hand_name = shot.speaker if shot.speaker in looks else (shot.characters[0] if shot.characters else None)
            insert_pen = _Pen(canvas)
            hx, hy = _insert(insert_pen, sc, shot, looks[hand_name] if hand_name else None, light)
            if hand_name:
                tags.append((f"{hand_name}'s hand", hx, hy, hx, hy, False))
        else:
            for pl in _placements(shot, looks, pw, ph, rng):
                drawn.append(painter.draw(looks[pl.name], pl))
        for fg in sc.foreground:
            fg(canvas)
        for gx, gy, gr, gcol, power in sc.glows:  # glows from insert props
            _glow(canvas, gx * SS, gy * SS, gr * SS, gcol, power)
        if shot.camera_move != "static":
            r = min(pw, ph) * 0.075
            _move_glyph(fig_pen, shot.camera_move, pw - r - 12, r + 12, r)

        picture = canvas.reduce(SS)

        # ---- compose the panel
        img = self._paper(W, H).copy()
        img.paste(picture, (L, T))
        img = ImageChops.multiply(img, _blotches(W, H, request.seed))
        d = ImageDraw.Draw(img)
        d.rectangle((L - 1, T - 1, R, B), outline=INK, width=max(2, round(W * 0.005)))
        # header strip
        hf = self._font(max(8, round(header_h * 0.56)))
        d.rectangle((m, m, W - m, m + header_h - 2), fill=(36, 34, 44))
        head = f"E{shot.episode:02d} S{shot.scene:02d} · {shot.framing.upper()} · {shot.camera_move.upper()}"
        right = f"{_ascii_text(shot.id)} · {shot.duration_s:.1f}s · {shot.time_of_day.upper()}"
        rw = hf.getlength(right)
        ty = m + (header_h - 2 - hf.size) / 2 - 1
        d.text((m + 8, ty), _clip(head, hf, W - 2 * m - rw - 28) if hf.getlength(head) > W - 2 * m - rw - 28 else head,
               font=hf, fill=(246, 240, 226))
        d.text((W - m - 8 - rw, ty), right, font=hf, fill=(200, 196, 186))
        # caption box (top: the bottom ~22% is kept for subtitles)
        cy0, cy1 = m + header_h + 2, m + header_h + caption_h
        if caption_h:
            d.rectangle((m, cy0, W - m, cy1), outline=INK, width=2)
        lines = _wrap(_ascii_text(shot.action), cap_font, W - 2 * m - 20, cap_lines) if cap_lines else []
        for i, ln in enumerate(lines):
            d.text((m + 10, cy0 + round(cap_font.size * 0.3) + i * cap_line), ln, font=cap_font, fill=INK)

        # ---- figures + name tags
        figures: list[FigureBox] = []
        order = {n: i for i, n in enumerate(shot.characters)}
        for dr in sorted(drawn, key=lambda dr: order[dr.name]):  # listed order = screen-left first
            box = _clip_box(dr.box, L, T, pw, ph)
            face = _clip_box(dr.face, L, T, pw, ph)
            if box is None or face is None:
                continue
            figures.append(FigureBox(name=dr.name, box=box, face_box=face))
            tags.append((f"{dr.name} (back)" if dr.back else dr.name, *[float(v) for v in dr.face], dr.back))
        tag_font = self._font(max(8, round(H * 0.0135)))
        placed: list[tuple[float, float, float, float]] = []
        for label, fx0, fy0, fx1, fy1, back in tags:
            _name_tag(d, tag_font, _ascii_text(label), (fx0 + L, fy0 + T, fx1 + L, fy1 + T), (L, T, R, B), placed,
                      back)
        return img, figures


def _layout(W: int, H: int) -> tuple[int, int, int, tuple[int, int, int, int]]:
    """Margin, header height, caption height and the picture box (left, top, right, bottom) of a W x H panel."""
    m = max(4, round(W * 0.014))
    header_h = max(12, round(H * 0.034))
    cap_size = max(8, round(H * 0.0155))
    cap_lines = 3 if H >= 480 else (1 if H >= 200 else 0)
    caption_h = round(cap_size * 1.22) * cap_lines + round(cap_size * 0.7) if cap_lines else 0
    return m, header_h, caption_h, (m, m + header_h + caption_h + m, W - m, H - m)


def _tint(time_of_day: str, kind: str) -> tuple[float, float, float]:
    return (0.66, 0.62, 0.66) if kind == "interior" and time_of_day == "night" else TINT[time_of_day]


def _lit(c: RGB, tint: tuple[float, float, float]) -> RGB:
    return _mix(c, (round(c[0] * tint[0]), round(c[1] * tint[1]), round(c[2] * tint[2])), 0.4)


# --- what QC needs to know about a panel: where the picture is, who is meant to be seen, in which colours --------

def picture_box(width: int, height: int) -> tuple[int, int, int, int]:
    """The picture area of a panel (left, top, right, bottom): the header and caption strips are outside it."""
    return _layout(width, height)[3]


def visible_characters(shot: Shot) -> list[str]:
    """Who the renderer draws for this shot, screen-left first: a close-up shows only its subject, an insert
    shows a hand (nobody's face)."""
    if shot.framing == "insert" or not shot.characters:
        return []
    if shot.framing == "close-up":
        return [shot.speaker if shot.speaker in shot.characters else shot.characters[0]]
    return list(shot.characters)


def figure_colours(character: Character, time_of_day: str, kind: str) -> dict[str, RGB]:
    """The colours a character is painted in under this light: wardrobe main and second colour, hair, skin.
    Each appears flat and cel-shaded, so QC looks for both."""
    lk, tint = _look_of(character), _tint(time_of_day, kind)
    hair, skin = _lit(lk.hair, tint), _lit(lk.skin, tint)
    if lk.style == "buzz":  # stubble over skin, as _Painter draws it
        hair = _mix(hair, skin, 0.35)
    return {"main": _lit(lk.main, tint), "second": _lit(lk.second, tint), "hair": hair, "skin": skin}


def shade(colour: RGB) -> RGB:
    return _shade(colour)


def _clip_box(box: tuple[float, float, float, float], L: int, T: int, pw: int, ph: int
              ) -> tuple[int, int, int, int] | None:
    x0, y0 = max(0, round(box[0])), max(0, round(box[1]))
    x1, y1 = min(pw, round(box[2])), min(ph, round(box[3]))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return x0 + L, y0 + T, x1 + L, y1 + T


def _name_tag(d: ImageDraw.ImageDraw, font: ImageFont.FreeTypeFont, label: str,
              face: tuple[float, float, float, float], frame: tuple[int, int, int, int],
              placed: list[tuple[float, float, float, float]], back: bool) -> None:
    pad = max(3, font.size // 3)
    tw, th = font.getlength(label) + 2 * pad, font.size + 2 * pad
    fx0, fy0, fx1, fy1 = face
    L, T, R, B = frame
    cx = (fx0 + fx1) / 2
    candidates = [(cx - tw / 2, fy0 - th - 8)]
    if fx1 + 10 + tw < R:
        candidates.append((fx1 + 10, fy0 + (fy1 - fy0) * 0.15))
    candidates.append((fx0 - 10 - tw, fy0 + (fy1 - fy0) * 0.15))
    candidates.append((cx - tw / 2, fy1 + 8))
    best = None
    for x, y in candidates:
        x = min(max(x, L + 6), R - 6 - tw)
        y = min(max(y, T + 6), B - 6 - th)
        box = (x, y, x + tw, y + th)
        clash = any(not (box[2] < p[0] or box[0] > p[2] or box[3] < p[1] or box[1] > p[3]) for p in placed)
        if not clash:
            best = box
            break
        if best is None:
            best = box
    assert best is not None
    placed.append(best)
    x0, y0, x1, y1 = (round(v) for v in best)
    d.rounded_rectangle((x0, y0, x1, y1), radius=pad, fill=(40, 38, 50) if not back else (90, 86, 96),
                        outline=(250, 246, 236), width=2)
    d.text((x0 + pad, y0 + pad - 1), label, font=font, fill=(255, 236, 150))


def _glow(img: Image.Image, x: float, y: float, r: float, colour: RGB, power: float) -> None:
    size = max(4, round(2 * r))
    box = (round(x - r), round(y - r), round(x - r) + size, round(y - r) + size)
    if box[2] <= 0 or box[3] <= 0 or box[0] >= img.width or box[1] >= img.height:
        return
    mask = _radial(size, power)
    region = img.crop(box)
    lit = ImageChops.screen(region, Image.new("RGB", region.size, colour))
    img.paste(Image.composite(lit, region, mask), box[:2])


_RADIAL: dict[tuple[int, int], Image.Image] = {}


def _radial(size: int, power: float) -> Image.Image:
    key = (size, round(power * 100))
    if key not in _RADIAL:
        if len(_RADIAL) > 256:
            _RADIAL.clear()
        base = Image.radial_gradient("L").resize((size, size), Image.Resampling.BILINEAR)
        k = round(power * 100) / 100
        _RADIAL[key] = base.point([round(255 * k * max(0.0, 1 - v / 180) ** 2) for v in range(256)])
    return _RADIAL[key]


def _blotches(W: int, H: int, seed: int) -> Image.Image:
    """Soft paper blotches (a multiply layer close to white), from a seeded generator."""
    gen = np.random.default_rng(seed & 0xFFFFFFFF)
    coarse = gen.normal(0.0, 1.0, size=(H // 32 + 2, W // 32 + 2))
    small = Image.fromarray((250 + 4 * np.tanh(coarse)).round().clip(0, 255).astype(np.uint8))
    return small.resize((W, H), Image.Resampling.BICUBIC).convert("RGB")


__all__ = ["StoryboardRenderer", "figure_colours", "picture_box", "shade", "visible_characters"]
