"""Backdrops for the worlds loglines name beyond the city-drama staples (backdrops.py). The places where people
work (a courtroom, a fishing boat, a polar station, kitchens, a squad room) are drawn in workplaces.py; this module
draws the places where people gather and stay (a chapel, a ballroom, a hotel room) and holds WORLD_BACKDROPS, the
registry of them all. Each is drawn from the same pen and set pieces, with the one or two things that say what kind
of place it is (the altar under the stained glass, the chandeliers) big enough to read in a 9:16 frame with people
in front of them."""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np

from .colour import BG_INK, scale
from .pen import Pen, arc
from .props import draw_block, draw_room, draw_window
from .scene import Scene, Sky, paste_sky, sky_details
from .workplaces import WOOD, WORKPLACE_BACKDROPS


def _bg_church(pen: Pen, sc: Scene, sky: Sky) -> None:
    room = draw_room(pen, sc, (214, 206, 190), (150, 120, 96), (190, 180, 166), high=True)
    bx0, by0, bx1, by1 = room.back
    w, h = bx1 - bx0, by1 - by0
    # the tall pointed stained-glass window
    cx, wx = (bx0 + bx1) / 2, w * 0.17
    top, bottom = by0 + 24, by0 + h * 0.62
    lancet = [(cx - wx, bottom), (cx - wx, top + wx * 1.2), *arc(cx + wx, top + wx * 1.2, wx * 2, wx * 1.2, 180, 240, 8),
              *arc(cx - wx, top + wx * 1.2, wx * 2, wx * 1.2, 300, 360, 8), (cx + wx, bottom)]
    pen.poly([(x + (x - cx) * 0.12, y - 8) for x, y in lancet], (170, 160, 146), BG_INK, 1.5)
    pen.poly(lancet, (60, 80, 150), BG_INK, 2)
    glass = [(200, 40, 50), (240, 190, 60), (60, 140, 90), (90, 110, 200), (170, 60, 140)]
    rng = random.Random(sc.layout.random())
    for y in np.arange(top + wx * 1.3, bottom - 10, 26):
        for col in range(3):
            x = cx - wx + 6 + col * (2 * wx - 12) / 3
            pen.rect((x, y, x + (2 * wx - 12) / 3 - 4, y + 22), rng.choice(glass), BG_INK, 1)
    pen.line([(cx, top + 20), (cx, bottom)], (50, 44, 40), 3)
    sc.glows.append((cx, (top + bottom) / 2, wx * 3, (255, 220, 170), 0.35))
    # the altar with its cloth, a cross, candles and white wedding flowers
    draw_block(pen, (cx - w * 0.26, by1 - h * 0.16, cx + w * 0.26, by1), 18, (236, 232, 220))
    pen.rect((cx - w * 0.05, by1 - h * 0.16, cx + w * 0.05, by1), (200, 160, 60), BG_INK, 1)
    pen.line([(cx, by1 - h * 0.18), (cx, by1 - h * 0.3)], (200, 160, 60), 5)
    pen.line([(cx - 14, by1 - h * 0.27), (cx + 14, by1 - h * 0.27)], (200, 160, 60), 5)
    for side in (-1, 1):
        for k in range(2):
            x = cx + side * w * (0.14 + 0.07 * k)
            pen.rect((x - 4, by1 - h * 0.16 - 30 - 10 * k, x + 4, by1 - h * 0.16 - 18), (246, 240, 220), BG_INK, 1)
            pen.ellipse((x - 4, by1 - h * 0.16 - 42 - 10 * k, x + 4, by1 - h * 0.16 - 30 - 10 * k), (255, 200, 80),
                        None, 0)
            sc.glows.append((x, by1 - h * 0.16 - 36 - 10 * k, 40, (255, 200, 110), 0.6))
        for k in range(5):
            fx = cx + side * w * 0.36 + k * 8 - 16
            pen.ellipse((fx - 10, by1 - 40 - (k % 2) * 10, fx + 10, by1 - 20 - (k % 2) * 10), (250, 250, 246),
                        BG_INK, 1)
    # the aisle's carpet and the pews either side, rows running towards the camera
    pen.poly([(cx - 30, by1), (cx + 30, by1), (sc.pw * 0.66, sc.ph * 1.02), (sc.pw * 0.34, sc.ph * 1.02)],
             (170, 40, 50), BG_INK, 1)
    for k in range(4):
        t = (k + 1) / 4.5
        y = by1 + (sc.ph - by1) * t
        for side in (-1, 1):
            inner, outer = cx + side * (34 + 120 * t), cx + side * (sc.pw * 0.34 + sc.pw * 0.5 * t)
            x0, x1 = min(inner, outer), max(inner, outer)
            draw_block(pen, (x0, y - 10 - 30 * t, x1, y), 10 + 20 * t, WOOD)


def _chandelier(pen: Pen, sc: Scene, x: float, y: float, s: float) -> None:
    """A crystal chandelier: gilt tiers with candle lights and hanging drops, glowing."""
    gold = (214, 180, 90)
    pen.line([(x, -sc.ph), (x, y - s * 0.6)], (150, 130, 80), 2)
    for tier, (ty, tw) in enumerate(((y - s * 0.3, s * 0.55), (y, s), (y + s * 0.3, s * 0.7))):
        pen.ellipse((x - tw, ty - tw * 0.16, x + tw, ty + tw * 0.16), None, gold, 4)
        for k in range(7):
            px = x - tw + k * tw / 3
            pen.line([(px, ty), (px, ty + s * 0.22)], (236, 240, 250), 1.5)
            pen.ellipse((px - 3, ty + s * 0.2, px + 3, ty + s * 0.28), (240, 246, 255), BG_INK, 0.6)
            if tier < 2:
                pen.rect((px - 2, ty - 12, px + 2, ty - 2), (246, 240, 220), None, 0)
                pen.ellipse((px - 4, ty - 20, px + 4, ty - 10), (255, 226, 140), None, 0)
    pen.shaded("ellipse", (x - s * 0.18, y + s * 0.3, x + s * 0.18, y + s * 0.7), gold, outline=BG_INK, width=1.5)
    sc.glows.append((x, y, s * 2.4, (255, 226, 160), 0.8 if sc.lit else 0.4))


def _bg_ballroom(pen: Pen, sc: Scene, sky: Sky) -> None:
    room = draw_room(pen, sc, (220, 200, 164), (150, 104, 70), (232, 220, 196), high=True)
    bx0, by0, bx1, by1 = room.back
    w, h = bx1 - bx0, by1 - by0
    # tall arched windows between pilasters, swagged curtains
    for k in range(3):
        x0 = bx0 + w * (0.06 + 0.32 * k)
        x1 = x0 + w * 0.24
        top, bottom = by0 + h * 0.22, by1 - h * 0.12
        arch = [(x0, bottom), (x0, top + (x1 - x0) / 2), *arc((x0 + x1) / 2, top + (x1 - x0) / 2, (x1 - x0) / 2,
                                                                (x1 - x0) / 2, 180, 360), (x1, bottom)]
        paste_sky(pen, sky, arch)
        sky_details(pen, sc, (x0, top, x1, bottom), True)
        pen.poly(arch, None, (236, 226, 200), 5)
        pen.line([((x0 + x1) / 2, top), ((x0 + x1) / 2, bottom)], (236, 226, 200), 2)
        pen.shaded("poly", [(x0 - 10, top - 20), (x1 + 10, top - 20), (x1 + 6, top + 10), ((x0 + x1) / 2, top + 30),
                            (x0 - 6, top + 10)], (150, 30, 44), outline=BG_INK, width=1.2)
    for k in range(4):
        x = bx0 + w * (0.03 + 0.32 * k)
        pen.rect((x - 8, by0 + 20, x + 8, by1), (236, 224, 196), BG_INK, 1)
        pen.rect((x - 12, by0 + 14, x + 12, by0 + 26), (214, 184, 100), BG_INK, 1)
    pen.rect((bx0, by0, bx1, by0 + 14), (214, 184, 100), BG_INK, 1)  # the gilt cornice
    # a parquet floor in a diamond pattern, lit under the chandeliers
    floor_top, floor_bottom = by1, sc.ph * 1.02
    for k in range(-8, 9):
        pen.line([(sc.pw * 0.5 + k * w * 0.12, floor_top), (sc.pw * 0.5 + k * sc.pw * 0.4, floor_bottom)],
                 scale(room.floor, 0.8), 1.2)
    for t in (0.15, 0.35, 0.6, 0.9):
        y = floor_top + (floor_bottom - floor_top) * t
        pen.line([(-sc.pw, y), (2 * sc.pw, y)], scale(room.floor, 0.8), 1.2)
    _chandelier(pen, sc, sc.pw * 0.5, by0 + h * 0.16, w * 0.2)
    for x in (sc.pw * 0.1, sc.pw * 0.9):
        _chandelier(pen, sc, x, by0 * 0.6 + 20, w * 0.12)


def _bg_hotel(pen: Pen, sc: Scene, sky: Sky) -> None:
    room = draw_room(pen, sc, (196, 176, 150), (116, 84, 70), (230, 224, 214))
    bx0, by0, bx1, by1 = room.back
    w, h = bx1 - bx0, by1 - by0
    for x in np.arange(bx0 + 12, bx1, 24):  # wallpaper stripes
        pen.line([(x, by0), (x, by1)], scale(room.wall, 0.93), 5)
    # a window with heavy curtains at the left, a framed picture over the bed
    draw_window(pen, sc, sky, (bx0 + w * 0.04, by0 + 30, bx0 + w * 0.26, by0 + h * 0.62), skyline=True,
                curtains=(120, 40, 50))
    cx = bx0 + w * 0.62
    pen.rect((cx - 60, by0 + 40, cx + 60, by0 + 110), (200, 170, 90), BG_INK, 2)
    pen.rect((cx - 50, by0 + 50, cx + 50, by0 + 100), (120, 150, 170), None, 0)
    pen.poly([(cx - 50, by0 + 100), (cx - 10, by0 + 66), (cx + 20, by0 + 88), (cx + 50, by0 + 70), (cx + 50, by0 + 100)],
             (90, 120, 90), None, 0)
    # the bed: a padded headboard, white linen, a runner, two pillows; bedside tables with lamps
    pen.shaded("poly", [(cx - w * 0.3, by0 + h * 0.46), (cx + w * 0.3, by0 + h * 0.46), (cx + w * 0.3, by1),
                        (cx - w * 0.3, by1)], (110, 60, 60), outline=BG_INK, width=1.5)
    bed = [(cx - w * 0.3, by1 - 20), (cx + w * 0.3, by1 - 20), (cx + w * 0.42, by1 + 110), (cx - w * 0.42, by1 + 110)]
    pen.poly(bed, (246, 244, 238), BG_INK, 1.5)
    pen.poly([(cx - w * 0.34, by1 + 40), (cx + w * 0.35, by1 + 40), (cx + w * 0.38, by1 + 70), (cx - w * 0.38, by1 + 70)],
             (150, 40, 50), BG_INK, 1)
    for k in (-1, 1):
        pen.ellipse((cx + k * w * 0.13 - 44, by1 - 44, cx + k * w * 0.13 + 44, by1 - 6), (250, 250, 248), BG_INK, 1.2)
    for x in (cx - w * 0.38, cx + w * 0.38):
        draw_block(pen, (x - 26, by1 - 20, x + 26, by1 + 30), 12, WOOD)
        pen.line([(x, by1 - 30), (x, by1 - 60)], (200, 170, 90), 2)
        pen.shaded("poly", [(x - 18, by1 - 60), (x + 18, by1 - 60), (x + 12, by1 - 86), (x - 12, by1 - 86)],
                   (240, 226, 190), outline=BG_INK, width=1)
        sc.lamp(x, by1 - 70, 90, (255, 206, 140), 0.8)
    # a suitcase on the luggage rack, near the camera
    sx = sc.pw * 0.1
    pen.line([(sx - 50, sc.ph * 0.88), (sx - 40, sc.ph * 0.8)], (80, 60, 50), 3)
    pen.line([(sx + 50, sc.ph * 0.88), (sx + 40, sc.ph * 0.8)], (80, 60, 50), 3)
    draw_block(pen, (sx - 56, sc.ph * 0.72, sx + 56, sc.ph * 0.8), 20, (60, 90, 130))
    pen.rect((sx - 16, sc.ph * 0.7, sx + 16, sc.ph * 0.715), (40, 40, 44), BG_INK, 1)


# The same keys in the same order as before the split (courtroom first), so BACKDROPS lists them as it did.
WORLD_BACKDROPS: dict[str, Callable[[Pen, Scene, Sky], None]] = {
    **{k: WORKPLACE_BACKDROPS[k] for k in ("courtroom", "boat", "research station", "snowfield", "kitchen",
                                            "palace kitchen")},
    "church": _bg_church, "ballroom": _bg_ballroom, "police station": WORKPLACE_BACKDROPS["police station"],
    "hotel": _bg_hotel,
}
