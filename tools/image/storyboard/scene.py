"""The scene a backdrop is drawn in: which setting a location is, its time of day, its sky and lamps."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

from dramafactory.schemas import Location

from .colour import RGB, mix
from .light import SKY
from .pen import Pen, Pt

SETTING_ALIASES: dict[str, str] = {
    "office": "office", "boardroom": "office", "corporate": "office", "lobby": "office", "study": "office",
    "newsroom": "office", "hospital": "hospital", "clinic": "hospital", "ward": "hospital", "icu": "hospital",
    "home": "home", "house": "home", "apartment": "home", "flat": "home", "living": "home", "bedroom": "home",
    "penthouse": "home", "mansion": "home", "villa": "home",
    "restaurant": "restaurant", "cafe": "restaurant", "café": "restaurant", "diner": "restaurant",
    "bistro": "restaurant", "bar": "bar", "pub": "bar", "club": "bar", "lounge": "bar", "nightclub": "bar",
    "casino": "bar", "tavern": "bar", "street": "street", "alley": "street", "city": "street", "road": "street",
    "parking": "street", "sidewalk": "street", "rooftop": "rooftop", "roof": "rooftop", "balcony": "rooftop",
    "terrace": "rooftop", "forest": "forest", "woods": "forest", "park": "forest", "garden": "forest",
    "jungle": "forest", "castle": "castle", "palace": "castle", "throne": "castle", "dungeon": "castle",
    "car": "car", "taxi": "car", "limo": "car", "limousine": "car", "vehicle": "car", "sedan": "car",
    "bar counter": "bar", "school": "school", "classroom": "school", "university": "school", "campus": "school",
    "academy": "school", "warehouse": "warehouse", "factory": "warehouse", "garage": "warehouse",
    "dock": "warehouse", "pier": "warehouse", "basement": "warehouse",
    # the worlds of worlds.py
    "courtroom": "courtroom", "courthouse": "courtroom", "court": "courtroom", "boat": "boat", "ship": "boat",
    "trawler": "boat", "yacht": "boat", "deck": "boat", "ferry": "boat", "research station": "research station",
    "station": "research station", "polar": "research station", "snowfield": "snowfield", "snow": "snowfield",
    "ice": "snowfield", "glacier": "snowfield", "antarctica": "snowfield", "tundra": "snowfield",
    "kitchen": "kitchen", "kitchens": "kitchen", "scullery": "kitchen", "palace kitchen": "palace kitchen",
    "church": "church", "chapel": "church", "cathedral": "church", "ballroom": "ballroom", "gala": "ballroom",
    "police station": "police station", "precinct": "police station", "police": "police station",
    "hotel": "hotel", "motel": "hotel", "inn": "hotel", "suite": "hotel",
    "interior": "interior", "exterior": "exterior",
}


def setting_of(location: Location) -> str:
    """The backdrop a location is drawn with: its setting if known, else a known word of its setting or name,
    else the generic interior or exterior. A composed setting '<backdrop>:<place>' (agents/director/places.py,
    for a place with no backdrop of its own, e.g. 'exterior:lighthouse') is drawn with its backdrop part."""
    key = location.setting.lower().strip()
    if ":" in key:
        base, _, place = key.partition(":")
        if base in SETTING_ALIASES or place in SETTING_ALIASES:
            return SETTING_ALIASES.get(base) or SETTING_ALIASES[place]
    if key in SETTING_ALIASES:
        return SETTING_ALIASES[key]
    words = f"{location.setting} {location.name}".lower().replace("-", " ").replace("_", " ").replace(":", " ")
    for token in words.replace(",", " ").replace("'s", " ").split():
        if token in SETTING_ALIASES:
            return SETTING_ALIASES[token]
    return "interior" if location.kind == "interior" else "exterior"


@dataclass
class Scene:
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


class Sky:
    """A vertical sky gradient (top colour → horizon colour) in canvas pixels, rendered only where pasted."""

    def __init__(self, pen: Pen, tod: str, horizon: float) -> None:
        self.top, self.hor = SKY[tod]
        self.y_top = pen.p(0, 0)[1]
        self.y_hor = pen.p(0, horizon)[1]

    def crop(self, x0: int, y0: int, x1: int, y1: int) -> Image.Image:
        ys = np.arange(y0, y1, dtype=np.float32)
        t = np.clip((ys - self.y_top) / max(1.0, self.y_hor - self.y_top), 0, 1)[:, None] ** 1.3
        col = np.asarray(self.top, np.float32)[None, :] * (1 - t) + np.asarray(self.hor, np.float32)[None, :] * t
        column = Image.fromarray(col.round().astype(np.uint8)[:, None, :])
        return column.resize((x1 - x0, y1 - y0), Image.Resampling.NEAREST)


def paste_sky(pen: Pen, sky: Sky, pts: Sequence[Pt]) -> None:
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


def sky_details(pen: Pen, sc: Scene, box: Sequence[float], skyline: bool) -> None:
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
        bcol = mix(SKY[sc.tod][1], (70, 80, 100), 0.55)
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
