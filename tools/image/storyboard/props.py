"""Set pieces the backdrops are built from: a room in perspective, windows, doors, furniture, plants, trees."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from .colour import BG_INK, RGB, mix, scale, shade
from .pen import Pen
from .scene import Scene, Sky, paste_sky, sky_details


@dataclass
class Room:
    back: tuple[float, float, float, float]  # back wall x0, y0 (ceiling line), x1, y1 (floor line)
    wall: RGB
    side: RGB
    floor: RGB
    ceiling: RGB


def draw_room(pen: Pen, sc: Scene, wall: RGB, floor: RGB, ceiling: RGB, high: bool = False) -> Room:
    pw, ph = sc.pw, sc.ph
    back = (pw * 0.16, ph * (0.06 if high else 0.13), pw * 0.84, ph * 0.6)
    bx0, by0, bx1, by1 = back
    side = scale(wall, 0.86)
    pen.poly([(0, 0), (pw, 0), (bx1, by0), (bx0, by0)], ceiling, BG_INK, 1.5)
    pen.poly([(0, 0), (bx0, by0), (bx0, by1), (0, ph * 0.86)], side, BG_INK, 1.5)
    pen.poly([(pw, 0), (bx1, by0), (bx1, by1), (pw, ph * 0.86)], scale(side, 0.94), BG_INK, 1.5)
    pen.poly([(bx0, by1), (bx1, by1), (pw * 1.25, ph * 1.02), (-pw * 0.25, ph * 1.02)], floor, BG_INK, 1.5)
    pen.rect(back, wall, BG_INK, 1.5)
    # skirting + floor perspective lines
    pen.line([(bx0, by1 - 6), (bx1, by1 - 6)], scale(wall, 0.8), 1.5)
    for i in range(1, 6):
        t = i / 6
        pen.line([(bx0 + (bx1 - bx0) * t, by1), (-pw * 0.25 + pw * 1.5 * t, ph * 1.02)], scale(floor, 0.88), 1)
    return Room(back, wall, side, floor, ceiling)


def draw_window(pen: Pen, sc: Scene, sky: Sky, box: Sequence[float], skyline: bool = False,
            frame: RGB = (236, 234, 228), panes: int = 2, curtains: RGB | None = None) -> None:
    x0, y0, x1, y1 = box
    pen.rect((x0 - 5, y0 - 5, x1 + 5, y1 + 5), frame, BG_INK, 1.5)
    paste_sky(pen, sky, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
    sky_details(pen, sc, box, skyline)
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
            pen.line([(cx0 + cw * 0.5, y0 - 6), (cx0 + cw * 0.45, y1 + 16)], shade(curtains), 1.5)


def draw_door(pen: Pen, box: Sequence[float], colour: RGB) -> None:
    x0, y0, x1, y1 = box
    pen.rect(box, colour, BG_INK, 1.5)
    pen.rect((x0 + 8, y0 + 10, x1 - 8, y0 + (y1 - y0) * 0.45), scale(colour, 0.92), BG_INK, 1)
    pen.rect((x0 + 8, y0 + (y1 - y0) * 0.52, x1 - 8, y1 - 10), scale(colour, 0.92), BG_INK, 1)
    pen.ellipse((x1 - 18, (y0 + y1) / 2 - 4, x1 - 10, (y0 + y1) / 2 + 4), (200, 180, 90), BG_INK, 1)


def draw_block(pen: Pen, front: Sequence[float], depth: float, colour: RGB) -> None:
    """A box seen slightly from above: front face + top face."""
    x0, y0, x1, y1 = front
    pen.poly([(x0, y0), (x1, y0), (x1 - depth * 0.5, y0 - depth), (x0 + depth * 0.5, y0 - depth)],
             scale(colour, 1.12), BG_INK, 1.5)
    pen.shaded("poly", [(x0, y0), (x1, y0), (x1, y1), (x0, y1)], colour, outline=BG_INK, width=1.5)


def draw_pendant(pen: Pen, sc: Scene, x: float, y: float, r: float, colour: RGB = (60, 58, 56)) -> None:
    pen.line([(x, 0), (x, y - r * 0.6)], BG_INK, 1.2)
    pen.poly([(x - r * 0.3, y - r * 0.6), (x + r * 0.3, y - r * 0.6), (x + r, y), (x - r, y)], colour, BG_INK, 1.5)
    if sc.lit:
        pen.ellipse((x - r * 0.45, y - r * 0.2, x + r * 0.45, y + r * 0.3), (255, 236, 180), None, 0)
    sc.lamp(x, y + r * 0.2, r * 5.5)


def draw_plant(pen: Pen, x: float, y: float, s: float) -> None:
    pen.shaded("poly", [(x - s * 0.4, y - s * 0.7), (x + s * 0.4, y - s * 0.7), (x + s * 0.3, y), (x - s * 0.3, y)],
               (170, 100, 70), outline=BG_INK, width=1.5)
    for i, (dx, dy) in enumerate([(-0.5, -1.4), (0.4, -1.6), (0.0, -2.0), (-0.7, -1.9), (0.7, -1.2)]):
        col = (70, 130, 70) if i % 2 else (90, 150, 80)
        pen.ellipse((x + dx * s - s * 0.4, y + dy * s - s * 0.3, x + dx * s + s * 0.4, y + dy * s + s * 0.3),
                    col, BG_INK, 1.2)


def draw_tree(pen: Pen, x: float, ground: float, h: float, rng: random.Random, sc: Scene) -> None:
    tw = h * 0.07
    pen.shaded("poly", [(x - tw, ground), (x + tw, ground), (x + tw * 0.6, ground - h * 0.7),
                        (x - tw * 0.6, ground - h * 0.7)], (110, 80, 58), outline=BG_INK, width=1.5)
    leaf = (74, 128, 72) if sc.tod == "day" else (66, 112, 70)
    for _ in range(6):
        cx = x + rng.uniform(-h * 0.22, h * 0.22)
        cy = ground - h * rng.uniform(0.62, 0.95)
        r = h * rng.uniform(0.13, 0.2)
        col = mix(leaf, (120, 160, 90), rng.random() * 0.3)
        pen.ellipse((cx - r, cy - r, cx + r, cy + r), col, BG_INK, 1.2)
        pen.ellipse((cx - r * 0.45, cy - r * 0.45, cx + r * 0.9, cy + r * 0.9), shade(col, 0.85), None, 0)


def draw_ground(pen: Pen, sc: Scene, sky: Sky, ground: RGB) -> None:
    """An open-air set: the sky down to the horizon, flat ground below it."""
    pw, ph, hz = sc.pw, sc.ph, sc.horizon
    paste_sky(pen, sky, [(-pw, -ph), (2 * pw, -ph), (2 * pw, hz + 2), (-pw, hz + 2)])
    sky_details(pen, sc, (0, 0, pw, hz), False)
    pen.poly([(-pw, hz), (2 * pw, hz), (2 * pw, 2 * ph), (-pw, 2 * ph)], ground, None, 0)
