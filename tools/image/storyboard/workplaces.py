"""Backdrops for the places where a logline's people work, beyond the city-drama office (backdrops.py): a
courtroom, a police squad room, a fishing boat's deck, a polar research station and the snowfield outside it, a
restaurant kitchen and a palace kitchen. Each is drawn from the same pen and set pieces, with the one or two things
that say what kind of place it is (the judge's bench, the wheelhouse and nets, the porthole on the snow) big enough
to read in a 9:16 frame with people in front of them. worlds.py holds the registry of every world backdrop."""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np

from .colour import BG_INK, INK, RGB, mix, scale
from .light import SKY
from .pen import Pen, arc
from .props import draw_block, draw_door, draw_ground, draw_pendant, draw_room
from .scene import Scene, Sky, paste_sky, sky_details

WOOD: RGB = (122, 80, 50)
STEEL: RGB = (176, 182, 188)


def _panels(pen: Pen, box: tuple[float, float, float, float], n: int, colour: RGB) -> None:
    """Vertical wood panelling (or tiles' columns) across a wall box."""
    x0, y0, x1, y1 = box
    for i in range(1, n):
        x = x0 + (x1 - x0) * i / n
        pen.line([(x, y0), (x, y1)], scale(colour, 0.82), 1.2)


def _flag(pen: Pen, x: float, top: float, bottom: float, colours: tuple[RGB, RGB]) -> None:
    """A flag on a pole, hanging in folds (a striped cloth)."""
    pen.line([(x, bottom), (x, top)], (190, 160, 80), 3)
    pen.ellipse((x - 5, top - 8, x + 5, top + 2), (220, 190, 90), BG_INK, 1)
    for k in range(5):
        y = top + 8 + k * 14
        pen.poly([(x + 3, y), (x + 40, y + 6), (x + 38, y + 20), (x + 3, y + 14)], colours[k % 2], BG_INK, 0.8)


def _bg_courtroom(pen: Pen, sc: Scene, sky: Sky) -> None:
    room = draw_room(pen, sc, (150, 104, 70), (112, 78, 54), (214, 204, 186), high=True)
    bx0, by0, bx1, by1 = room.back
    w, h = bx1 - bx0, by1 - by0
    _panels(pen, (bx0, by0 + h * 0.45, bx1, by1), 10, room.wall)
    pen.line([(bx0, by0 + h * 0.45), (bx1, by0 + h * 0.45)], scale(room.wall, 0.7), 2)
    # the seal above the bench
    cx = (bx0 + bx1) / 2
    pen.ellipse((cx - 46, by0 + 30, cx + 46, by0 + 122), (214, 184, 96), BG_INK, 2)
    pen.ellipse((cx - 32, by0 + 44, cx + 32, by0 + 108), (170, 130, 60), BG_INK, 1.5)
    pen.poly([(cx, by0 + 54), (cx + 14, by0 + 90), (cx - 14, by0 + 90)], (214, 184, 96), None, 0)
    # the judge's bench: raised, wide, panelled, with a high-backed chair behind it
    pen.shaded("poly", [(cx - 50, by0 + h * 0.28), (cx + 50, by0 + h * 0.28), (cx + 58, by0 + h * 0.56),
                        (cx - 58, by0 + h * 0.56)], (110, 34, 36), outline=BG_INK, width=1.5)
    pen.ellipse((cx - 50, by0 + h * 0.25, cx + 50, by0 + h * 0.31), (110, 34, 36), BG_INK, 1.5)
    draw_block(pen, (cx - w * 0.42, by0 + h * 0.52, cx + w * 0.42, by1 - 4), 30, WOOD)
    _panels(pen, (cx - w * 0.42, by0 + h * 0.6, cx + w * 0.42, by1 - 10), 7, WOOD)
    pen.line([(cx - w * 0.42, by0 + h * 0.58), (cx + w * 0.42, by0 + h * 0.58)], (200, 170, 100), 3)
    pen.rect((cx - 40, by0 + h * 0.62, cx + 40, by0 + h * 0.68), (214, 184, 96), BG_INK, 1)  # the nameplate
    gx, gy = cx + w * 0.26, by0 + h * 0.52 - 14  # the gavel on its block
    pen.rect((gx - 16, gy + 6, gx + 16, gy + 14), (70, 44, 30), BG_INK, 1)
    pen.rect((gx - 14, gy - 8, gx + 4, gy + 2), (90, 56, 36), BG_INK, 1)
    pen.line([(gx + 4, gy - 3), (gx + 24, gy - 10)], (90, 56, 36), 3)
    # flags either side, the witness stand on the left
    _flag(pen, bx0 + w * 0.08, by0 + h * 0.2, by1, ((190, 40, 50), (236, 232, 222)))
    _flag(pen, bx1 - w * 0.16, by0 + h * 0.2, by1, ((40, 60, 130), (236, 232, 222)))
    draw_block(pen, (bx0 - 40, by1 - 30, bx0 + w * 0.1, by1 + 60), 22, scale(WOOD, 1.1))  # the witness box
    pen.line([(bx0 + w * 0.02, by1 - 52), (bx0 + w * 0.06, by1 - 30)], (40, 40, 44), 2)  # its microphone
    pen.ellipse((bx0 + w * 0.02 - 5, by1 - 58, bx0 + w * 0.02 + 5, by1 - 48), (40, 40, 44), None, 0)
    # the rail and the gallery's front bench, near the camera
    rail = sc.ph * 0.8
    for x in np.arange(-20, sc.pw + 20, 34):
        pen.line([(x, rail), (x, rail + 60)], scale(WOOD, 0.8), 4)
    pen.rect((-sc.pw, rail - 8, 2 * sc.pw, rail + 4), scale(WOOD, 1.15), BG_INK, 1.5)
    for x in (sc.pw * 0.3, sc.pw * 0.7):
        draw_pendant(pen, sc, x, by0 * 0.7 + 20, 20, (170, 150, 90))


def _bg_boat(pen: Pen, sc: Scene, sky: Sky) -> None:
    pw, ph, hz = sc.pw, sc.ph, sc.horizon
    paste_sky(pen, sky, [(-pw, -ph), (2 * pw, -ph), (2 * pw, hz + 2), (-pw, hz + 2)])
    sky_details(pen, sc, (0, 0, pw, hz), False)
    sea = mix((46, 86, 110), SKY[sc.tod][1], 0.25)
    pen.poly([(-pw, hz), (2 * pw, hz), (2 * pw, 2 * ph), (-pw, 2 * ph)], sea, None, 0)
    rng = random.Random(sc.layout.random())
    for _ in range(40):  # wave crests, smaller and closer together towards the horizon
        t = rng.random() ** 1.5
        y, x, s = hz + 6 + t * ph * 0.3, rng.uniform(-20, pw + 20), 6 + 30 * t
        pen.line([(x - s, y), (x, y - s * 0.25), (x + s, y)], mix(sea, (230, 240, 245), 0.5), 1 + 1.5 * t)
    pen.poly([(pw * 0.7, hz), (pw * 0.8, hz - 14), (pw * 0.95, hz - 8), (pw * 1.1, hz)], scale(sea, 0.7), None, 0)
    # the deck: planks running away from the camera to the bow, between high red gunwales
    deck_top = ph * 0.6
    bow = (pw * 0.5, deck_top - 16)
    far_l, far_r = (pw * 0.2, deck_top), (pw * 0.8, deck_top)
    deck = [far_l, bow, far_r, (pw * 1.3, ph * 1.02), (-pw * 0.3, ph * 1.02)]
    pen.poly(deck, (150, 120, 88), BG_INK, 1.5)
    for i in range(1, 9):
        t = i / 9
        pen.line([(pw * (0.2 + 0.6 * t), deck_top - 16 * (1 - abs(2 * t - 1))), (pw * (-0.3 + 1.6 * t), ph * 1.02)],
                 (120, 94, 68), 1.2)
    for side in (-1, 1):  # gunwales rising towards the camera, a white rail on top
        near = pw * (1.3 if side > 0 else -0.3)
        far = far_r if side > 0 else far_l
        top = [bow, (far[0], far[1] - 36), (near, ph * 0.5)]
        pen.shaded("poly", [bow, *top[1:], (near, ph * 1.02), far], (190, 56, 46), outline=BG_INK, width=1.5)
        pen.line(top, (236, 232, 222), 6)
    # the wheelhouse (right), with a mast, a lamp and a life ring
    wx0, wx1, wy0, wy1 = pw * 0.56, pw * 0.98, ph * 0.3, ph * 0.64
    draw_block(pen, (wx0, wy0, wx1, wy1), 24, (232, 230, 222))
    pen.poly([(wx0 - 8, wy0), (wx1 + 8, wy0), (wx1, wy0 - 20), (wx0, wy0 - 20)], (60, 90, 120), BG_INK, 1.5)
    for k in range(3):
        x = wx0 + 14 + k * (wx1 - wx0 - 28) / 3
        lit = sc.lit
        pen.rect((x, wy0 + 16, x + (wx1 - wx0 - 40) / 3, wy0 + 70), (255, 220, 140) if lit else (130, 170, 196),
                 BG_INK, 1.5)
        if lit:
            sc.glows.append((x + 20, wy0 + 44, 60, (255, 210, 130), 0.5))
    ring = (wx0 + 40, wy0 + 130)
    pen.ellipse((ring[0] - 26, ring[1] - 26, ring[0] + 26, ring[1] + 26), (236, 110, 50), BG_INK, 1.5)
    pen.ellipse((ring[0] - 13, ring[1] - 13, ring[0] + 13, ring[1] + 13), (232, 230, 222), BG_INK, 1.5)
    mast = wx0 + (wx1 - wx0) * 0.6
    pen.line([(mast, wy0 - 20), (mast, ph * 0.04)], (70, 70, 76), 4)
    pen.line([(mast - 40, ph * 0.1), (mast + 40, ph * 0.1)], (70, 70, 76), 3)
    pen.ellipse((mast - 6, ph * 0.03, mast + 6, ph * 0.05), (255, 236, 170) if sc.lit else (220, 220, 210), None, 0)
    sc.lamp(mast, ph * 0.04, 70, (255, 230, 160), 0.9)
    # the boom with a hanging net (left), a heap of nets, orange floats, a coil of rope and a fish crate
    boom = [(pw * 0.12, deck_top - 10), (pw * 0.12, ph * 0.12), (pw * 0.45, ph * 0.2)]
    pen.line(boom, (80, 80, 86), 5)
    pen.line([(pw * 0.45, ph * 0.2), (pw * 0.42, ph * 0.34)], (60, 60, 60), 1.5)
    net = [(pw * 0.34, ph * 0.34), (pw * 0.5, ph * 0.34), (pw * 0.46, ph * 0.46), (pw * 0.38, ph * 0.47)]
    pen.poly(net, (92, 128, 104), BG_INK, 1.5)
    for k in range(1, 5):
        pen.line([(pw * (0.34 + 0.04 * k), ph * 0.34), (pw * (0.38 + 0.02 * k), ph * 0.47)], (60, 90, 70), 1)
    pen.shaded("ellipse", (pw * 0.0, ph * 0.64, pw * 0.36, ph * 0.74), (82, 120, 96), outline=BG_INK, width=1.5)
    for x, y in ((pw * 0.06, ph * 0.66), (pw * 0.16, ph * 0.64), (pw * 0.27, ph * 0.67)):
        pen.ellipse((x - 12, y - 10, x + 12, y + 10), (240, 120, 40), BG_INK, 1.2)
    cx, cy = pw * 0.7, ph * 0.74
    for r in (40, 30, 20):
        pen.ellipse((cx - r, cy - r * 0.4, cx + r, cy + r * 0.4), None, (200, 180, 130), 4)
    draw_block(pen, (pw * 0.78, ph * 0.7, pw * 0.96, ph * 0.76), 14, (90, 130, 170))


def _bg_station(pen: Pen, sc: Scene, sky: Sky) -> None:
    room = draw_room(pen, sc, (206, 210, 206), (96, 100, 108), (226, 228, 226))
    bx0, by0, bx1, by1 = room.back
    w, h = bx1 - bx0, by1 - by0
    for k in range(2):  # ceiling pipes, the module's ribs
        y = by0 * (0.35 + 0.35 * k)
        pen.line([(0, y), (sc.pw, y)], (150, 150, 144), 6)
    for x in (bx0 + w * 0.33, bx0 + w * 0.66):
        pen.line([(x, by0), (x, by1)], scale(room.wall, 0.8), 3)
    # a round porthole onto the snow, frosted at its rim
    cx, cy, r = bx0 + w * 0.5, by0 + h * 0.3, min(w, h) * 0.17
    pen.ellipse((cx - r - 12, cy - r - 12, cx + r + 12, cy + r + 12), (120, 126, 132), BG_INK, 2)
    hole = arc(cx, cy, r, r, 0, 360, 40)
    paste_sky(pen, sky, hole)
    pen.poly([(cx - r, cy + r * 0.25), (cx - r * 0.2, cy - r * 0.05), (cx + r * 0.4, cy + r * 0.15),
              (cx + r, cy + r * 0.1), (cx + r, cy + r), (cx - r, cy + r)], (236, 242, 250), None, 0)
    pen.poly(hole, None, (236, 244, 250), 6)
    for k in range(8):  # bolts round the porthole
        bx, by = arc(cx, cy, r + 6, r + 6, k * 45, k * 45, 1)[0]
        pen.ellipse((bx - 2.5, by - 2.5, bx + 2.5, by + 2.5), (80, 80, 86), None, 0)
    # bunks on the left, an instrument rack on the right with screens and dials, a red parka on a hook
    for k in range(2):
        y = by0 + h * (0.48 + 0.26 * k)
        draw_block(pen, (bx0 + 4, y, bx0 + w * 0.3, y + 26), 16, (80, 110, 150))
        pen.rect((bx0 + 4, y - 8, bx0 + w * 0.3, y), (236, 236, 230), BG_INK, 1)
    pen.line([(bx0 + w * 0.3, by0 + h * 0.42), (bx0 + w * 0.3, by1)], (120, 120, 126), 3)
    rx0, rx1 = bx0 + w * 0.68, bx1 - 6
    pen.rect((rx0, by0 + h * 0.45, rx1, by1), (70, 76, 84), BG_INK, 1.5)
    for k in range(3):
        y = by0 + h * (0.5 + 0.15 * k)
        pen.rect((rx0 + 8, y, rx1 - 8, y + h * 0.1), (30, 40, 44), BG_INK, 1)
        pen.line([(rx0 + 12, y + h * 0.06), (rx0 + 30, y + h * 0.03), (rx0 + 44, y + h * 0.07), (rx1 - 12, y + h * 0.04)],
                 (110, 230, 170) if k != 1 else (250, 190, 90), 1.5)
    pen.shaded("poly", [(bx1 - w * 0.42, by0 + h * 0.45), (bx1 - w * 0.36, by0 + h * 0.45),
                        (bx1 - w * 0.34, by0 + h * 0.8), (bx1 - w * 0.44, by0 + h * 0.8)], (214, 50, 40),
               outline=BG_INK, width=1.5)
    # a table with a mug and a map in the foreground
    draw_block(pen, (sc.pw * 0.22, by1 + 70, sc.pw * 0.78, by1 + 100), 24, (150, 150, 146))
    pen.poly([(sc.pw * 0.3, by1 + 58), (sc.pw * 0.5, by1 + 58), (sc.pw * 0.52, by1 + 68), (sc.pw * 0.28, by1 + 68)],
             (236, 226, 196), BG_INK, 1)
    draw_pendant(pen, sc, sc.pw * 0.5, by0 * 0.85, 20, (200, 200, 196))


def _bg_snowfield(pen: Pen, sc: Scene, sky: Sky) -> None:
    pw, ph, hz = sc.pw, sc.ph, sc.horizon
    snow = (232, 238, 246)
    draw_ground(pen, sc, sky, snow)
    blue = (176, 194, 220)
    for x0, peak, x1, hgt in ((-pw * 0.2, pw * 0.15, pw * 0.5, 150), (pw * 0.3, pw * 0.62, pw * 1.2, 200)):
        pen.poly([(x0, hz + 2), (peak, hz - hgt), (x1, hz + 2)], (214, 222, 236), BG_INK, 1)
        pen.poly([(peak, hz - hgt), (x1, hz + 2), (peak + (x1 - peak) * 0.2, hz + 2)], blue, None, 0)
    pen.poly([(-pw, hz), (2 * pw, hz), (2 * pw, 2 * ph), (-pw, 2 * ph)], snow, None, 0)
    rng = random.Random(sc.layout.random())
    for _ in range(9):  # drifts: pale blue shadows on the snow
        x, y = rng.uniform(-0.1, 1.1) * pw, hz + rng.uniform(0.05, 0.55) * ph
        s = 30 + (y - hz) * 0.5
        pen.ellipse((x - s * 2, y - s * 0.12, x + s * 2, y + s * 0.18), mix(snow, blue, 0.55), None, 0)
    # the red station hut on stilts, with lit windows and an antenna mast
    hx0, hx1, hy0, hy1 = pw * 0.5, pw * 0.92, hz - 70, hz + 40
    for x in (hx0 + 16, hx1 - 16, (hx0 + hx1) / 2):
        pen.line([(x, hy1), (x, hy1 + 30)], (70, 70, 76), 4)
    draw_block(pen, (hx0, hy0, hx1, hy1), 20, (200, 46, 38))
    for k in range(4):
        x = hx0 + 16 + k * (hx1 - hx0 - 32) / 4
        pen.rect((x, hy0 + 30, x + 22, hy0 + 54), (255, 220, 140) if sc.lit else (150, 180, 200), BG_INK, 1)
        if sc.lit:
            sc.glows.append((x + 11, hy0 + 42, 40, (255, 210, 140), 0.45))
    mx = hx1 - 30
    pen.line([(mx, hy0 - 10), (mx, hy0 - 150)], (80, 80, 86), 3)
    for k in range(3):
        pen.line([(mx - 18 + k * 4, hy0 - 130 + k * 30), (mx + 18 - k * 4, hy0 - 130 + k * 30)], (80, 80, 86), 2)
    # marker flags on poles, leading away, and boot tracks towards the camera
    for t in (0.15, 0.35, 0.6, 0.9):
        x, y = pw * (0.42 - 0.35 * t), hz + (ph * 0.82 - hz) * t
        top = y - 30 - 140 * t
        pen.line([(x, y), (x, top)], (60, 60, 64), 1 + 3 * t)
        pen.poly([(x, top), (x + 12 + 40 * t, top + 6 + 10 * t), (x, top + 12 + 22 * t)], (246, 120, 30), BG_INK, 1)
    for k in range(12):
        t = k / 12
        x = pw * (0.55 - 0.1 * t) + (8 if k % 2 else -8) * (1 + 3 * t)
        y = hz + 50 + (ph * 0.98 - hz - 50) * t
        pen.ellipse((x - 3 - 8 * t, y - 2 - 3 * t, x + 3 + 8 * t, y + 2 + 3 * t), mix(snow, blue, 0.8), None, 0)


def _kitchen_range(pen: Pen, sc: Scene, x0: float, x1: float, top: float, floor: float) -> None:
    """A steel range: the hood above, four burners, oven doors, a pot steaming on a flame."""
    draw_block(pen, (x0, top, x1, floor), 18, STEEL)
    for k in range(2):
        pen.rect((x0 + 8 + k * (x1 - x0) / 2, top + 24, x0 - 8 + (k + 1) * (x1 - x0) / 2, floor - 10),
                 scale(STEEL, 0.9), BG_INK, 1)
    for k in range(2):
        fx = x0 + (x1 - x0) * (0.28 + 0.44 * k)
        pen.ellipse((fx - 16, top - 10, fx + 16, top - 2), (60, 60, 64), BG_INK, 1)
        pen.ellipse((fx - 10, top - 9, fx + 10, top - 3), (90, 150, 255), None, 0)
        sc.glows.append((fx, top - 6, 30, (120, 170, 255), 0.4))
    px = x0 + (x1 - x0) * 0.28
    pen.shaded("poly", [(px - 22, top - 44), (px + 22, top - 44), (px + 20, top - 8), (px - 20, top - 8)],
               (120, 126, 132), outline=BG_INK, width=1.5)
    for k in range(3):
        pen.line([(px - 10 + k * 10, top - 50), (px - 14 + k * 10, top - 70), (px - 8 + k * 10, top - 90)],
                 (236, 236, 236), 1.5)
    hood = [(x0 - 10, top - 150), (x1 + 10, top - 150), (x1 - 20, top - 200), (x0 + 20, top - 200)]
    pen.shaded("poly", hood, STEEL, outline=BG_INK, width=1.5)
    pen.rect((x0 + 40, top - 250, x1 - 40, top - 200), STEEL, BG_INK, 1.2)


def _hanging_pans(pen: Pen, y: float, x0: float, x1: float, colour: RGB) -> None:
    pen.line([(x0, y), (x1, y)], (80, 76, 70), 3)
    for k in range(5):
        x = x0 + (x1 - x0) * (k + 0.5) / 5
        r = 16 + 6 * (k % 3)
        pen.line([(x, y), (x, y + 22)], (80, 76, 70), 2)
        pen.shaded("ellipse", (x - r, y + 22, x + r, y + 22 + r * 2), colour, outline=BG_INK, width=1.5)


def _bg_kitchen(pen: Pen, sc: Scene, sky: Sky) -> None:
    room = draw_room(pen, sc, (232, 234, 230), (150, 150, 148), (236, 236, 232))
    bx0, by0, bx1, by1 = room.back
    w, h = bx1 - bx0, by1 - by0
    for y in np.arange(by0 + 16, by1, 24):  # white tiles
        pen.line([(bx0, y), (bx1, y)], (206, 210, 206), 1)
    _panels(pen, (bx0, by0, bx1, by1), 16, (236, 238, 234))
    _kitchen_range(pen, sc, bx0 + w * 0.06, bx0 + w * 0.5, by0 + h * 0.66, by1)
    # a steel prep counter on the right with a chopping board, and shelves of jars above it
    draw_block(pen, (bx0 + w * 0.56, by0 + h * 0.68, bx1 - 4, by1), 18, STEEL)
    pen.poly([(bx0 + w * 0.62, by0 + h * 0.66), (bx0 + w * 0.8, by0 + h * 0.66), (bx0 + w * 0.78, by0 + h * 0.63),
              (bx0 + w * 0.64, by0 + h * 0.63)], (200, 160, 110), BG_INK, 1)
    for k in range(2):
        y = by0 + h * (0.25 + 0.16 * k)
        pen.rect((bx0 + w * 0.56, y, bx1 - 4, y + 6), STEEL, BG_INK, 1)
        for j in range(5):
            x = bx0 + w * 0.58 + j * w * 0.075
            pen.rect((x, y - 30, x + 18, y), [(200, 120, 60), (230, 210, 120), (120, 160, 90)][(j + k) % 3], BG_INK, 1)
    _hanging_pans(pen, by0 * 0.9 + 60, sc.pw * 0.2, sc.pw * 0.8, (150, 150, 156))
    # the pass under a heat lamp, near the camera
    draw_block(pen, (-sc.pw * 0.1, sc.ph * 0.78, sc.pw * 1.1, sc.ph * 0.86), 30, STEEL)
    for x in (sc.pw * 0.3, sc.pw * 0.62):
        pen.ellipse((x - 40, sc.ph * 0.765, x + 40, sc.ph * 0.785), (246, 246, 242), BG_INK, 1.2)
        sc.glows.append((x, sc.ph * 0.76, 80, (255, 190, 110), 0.45))


def _bg_palace_kitchen(pen: Pen, sc: Scene, sky: Sky) -> None:
    room = draw_room(pen, sc, (168, 150, 124), (120, 104, 88), (110, 96, 84), high=True)
    bx0, by0, bx1, by1 = room.back
    w, h = bx1 - bx0, by1 - by0
    for row, y in enumerate(np.arange(by0 + 26, by1, 26)):  # stone courses
        pen.line([(bx0, y), (bx1, y)], scale(room.wall, 0.84), 1)
        for x in np.arange(bx0 + (row % 2) * 20, bx1, 40):
            pen.line([(x, y - 26), (x, y)], scale(room.wall, 0.84), 1)
    # the great arched hearth with its fire, a cauldron on a chain and a spit
    ax0, ax1, ay0 = bx0 + w * 0.22, bx0 + w * 0.78, by0 + h * 0.38
    mouth = [(ax0, by1), *arc((ax0 + ax1) / 2, ay0 + (ax1 - ax0) / 2, (ax1 - ax0) / 2, (ax1 - ax0) / 2, 180, 360),
             (ax1, by1)]
    pen.poly([(ax0 - 20, by1), (ax0 - 20, ay0 + (ax1 - ax0) / 2), (ax1 + 20, ay0 + (ax1 - ax0) / 2), (ax1 + 20, by1)],
             (140, 124, 104), BG_INK, 1.5)
    pen.poly(mouth, (36, 26, 22), (90, 76, 64), 4)
    fx, fy = (ax0 + ax1) / 2, by1 - 16
    for k, col in enumerate(((230, 90, 30), (250, 160, 50), (255, 230, 130))):  # flames, outer to inner
        pen.poly([(fx - 60 + k * 18, fy), (fx - 20 + k * 6, fy - 90 + k * 22), (fx, fy - 60 + k * 14),
                  (fx + 24 - k * 6, fy - 110 + k * 30), (fx + 60 - k * 18, fy)], col, None, 0)
    sc.glows.append((fx, fy - 40, 220, (255, 150, 60), 0.8))
    pen.line([(fx, ay0 + 10), (fx, fy - 140)], (60, 56, 52), 2)
    pen.shaded("poly", [(fx - 40, fy - 140), (fx + 40, fy - 140), (fx + 30, fy - 90), (fx - 30, fy - 90)],
               (50, 50, 54), outline=INK, width=2)
    # copper pots on a rack, shelves of crockery on the side walls
    _hanging_pans(pen, by0 + 40, bx0 + w * 0.06, bx1 - w * 0.06, (190, 110, 60))
    for k in range(3):
        y = by0 + h * (0.4 + 0.15 * k)
        pen.rect((bx0 - 40, y, bx0 + 6, y + 6), WOOD, BG_INK, 1)
        for j in range(2):
            pen.ellipse((bx0 - 36 + j * 20, y - 18, bx0 - 20 + j * 20, y), (230, 226, 210), BG_INK, 1)
    # the long kitchen table in front, with bread, a knife and vegetables
    draw_block(pen, (-sc.pw * 0.05, sc.ph * 0.72, sc.pw * 1.05, sc.ph * 0.8), 60, (150, 104, 64))
    y = sc.ph * 0.72 - 30
    pen.shaded("ellipse", (sc.pw * 0.18, y - 16, sc.pw * 0.36, y + 16), (210, 160, 90), outline=BG_INK, width=1.5)
    for j, col in enumerate(((200, 60, 40), (240, 150, 40), (110, 150, 60))):
        x = sc.pw * (0.6 + 0.07 * j)
        pen.ellipse((x - 14, y - 12, x + 14, y + 14), col, BG_INK, 1.2)
    pen.line([(sc.pw * 0.42, y + 6), (sc.pw * 0.52, y - 2)], (200, 200, 206), 3)


def _bg_police(pen: Pen, sc: Scene, sky: Sky) -> None:
    room = draw_room(pen, sc, (176, 190, 176), (112, 116, 120), (214, 216, 210))
    bx0, by0, bx1, by1 = room.back
    w, h = bx1 - bx0, by1 - by0
    for i in range(3):  # fluorescent tubes
        y = by0 * (0.3 + 0.25 * i)
        pen.rect((sc.pw * 0.3 - i * 10, y, sc.pw * 0.7 + i * 10, y + 6), (246, 250, 246), BG_INK, 1)
        sc.lamp(sc.pw * 0.5, y + 3, sc.pw * 0.2, (226, 246, 236), 0.4)
    # the evidence board: photos, notes and red string
    ex0, ey0, ex1, ey1 = bx0 + w * 0.04, by0 + h * 0.14, bx0 + w * 0.5, by0 + h * 0.55
    pen.rect((ex0, ey0, ex1, ey1), (180, 140, 96), (90, 70, 50), 3)
    rng = random.Random(sc.layout.random())
    pins = []
    for _ in range(7):
        x, y = rng.uniform(ex0 + 10, ex1 - 46), rng.uniform(ey0 + 10, ey1 - 50)
        pen.rect((x, y, x + 34, y + 40), rng.choice([(240, 240, 236), (246, 230, 120), (220, 226, 236)]), BG_INK, 1)
        pen.rect((x + 4, y + 4, x + 30, y + 26), (120, 120, 130), None, 0)
        pins.append((x + 17, y + 2))
    pen.line(pins, (200, 30, 30), 1.5)
    for x, y in pins:
        pen.ellipse((x - 3, y - 3, x + 3, y + 3), (220, 40, 40), None, 0)
    # the interview room's window with blinds, and its door
    wx0, wx1 = bx0 + w * 0.58, bx1 - w * 0.04
    pen.rect((wx0, by0 + h * 0.14, wx1, by0 + h * 0.5), (50, 60, 66), (200, 204, 200), 4)
    for y in np.arange(by0 + h * 0.16, by0 + h * 0.5, 9):
        pen.line([(wx0 + 4, y), (wx1 - 4, y)], (170, 176, 172), 2)
    draw_door(pen, (wx0, by0 + h * 0.56, wx0 + w * 0.2, by1), (150, 156, 150))
    # desks with computers and a lamp, near the camera
    for x0, x1 in ((-sc.pw * 0.05, sc.pw * 0.42), (sc.pw * 0.58, sc.pw * 1.05)):
        draw_block(pen, (x0, by1 + 60, x1, by1 + 120), 26, (120, 110, 96))
        mx = (x0 + x1) / 2
        pen.rect((mx - 50, by1 - 10, mx + 50, by1 + 40), (44, 48, 54), INK, 1.5)
        pen.rect((mx - 44, by1 - 4, mx + 44, by1 + 34), (110, 150, 180) if sc.lit else (90, 110, 130), None, 0)
        pen.rect((mx - 8, by1 + 40, mx + 8, by1 + 56), (44, 48, 54), INK, 1)
        for k in range(3):  # a stack of case files
            pen.rect((x0 + 20, by1 + 48 - k * 8, x0 + 80, by1 + 56 - k * 8), (230, 200, 130), BG_INK, 1)


WORKPLACE_BACKDROPS: dict[str, Callable[[Pen, Scene, Sky], None]] = {
    "courtroom": _bg_courtroom, "boat": _bg_boat, "research station": _bg_station, "snowfield": _bg_snowfield,
    "kitchen": _bg_kitchen, "palace kitchen": _bg_palace_kitchen, "police station": _bg_police,
}
