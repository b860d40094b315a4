"""One backdrop per setting (office, hospital, street, car...), drawn from the location alone, so the same place
looks the same in every shot. The worlds beyond the city staples (courtroom, boat, polar station...) are in
worlds.py; BACKDROPS holds them all."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import numpy as np
from PIL import Image

from .colour import BG_INK, INK, mix, scale
from .light import SKY
from .pen import Pen, arc
from .props import draw_block, draw_door, draw_ground, draw_pendant, draw_plant, draw_room, draw_tree, draw_window
from .scene import Scene, Sky, paste_sky, sky_details
from .worlds import WORLD_BACKDROPS


def _bg_office(pen: Pen, sc: Scene, sky: Sky) -> None:
    room = draw_room(pen, sc, (194, 202, 210), (118, 124, 136), (222, 224, 228))
    bx0, by0, bx1, by1 = room.back
    w = bx1 - bx0
    draw_window(pen, sc, sky, (bx0 + w * 0.08, by0 + 30, bx1 - w * 0.08, by1 - (by1 - by0) * 0.3), skyline=True, panes=3)
    for i in range(3):  # ceiling light panels
        y = by0 * (0.3 + 0.25 * i)
        pen.poly([(sc.pw * 0.35 - i * 10, y), (sc.pw * 0.65 + i * 10, y), (sc.pw * 0.67 + i * 10, y + 8),
                  (sc.pw * 0.33 - i * 10, y + 8)], (245, 245, 235), BG_INK, 1)
        sc.lamp(sc.pw * 0.5, y + 4, sc.pw * 0.22, (230, 236, 255), 0.4)
    # desk with monitor
    dx0, dx1, dy = bx0 + w * 0.05, bx0 + w * 0.62, by1 + 24
    draw_block(pen, (dx0, dy, dx1, dy + 70), 26, (130, 96, 70))
    pen.rect((dx0 + 70, dy - 90, dx0 + 170, dy - 28), (48, 52, 60), INK, 1.5)
    pen.rect((dx0 + 76, dy - 84, dx0 + 164, dy - 34), (120, 170, 200) if sc.lit else (90, 110, 130), None, 0)
    pen.rect((dx0 + 112, dy - 28, dx0 + 128, dy - 14), (48, 52, 60), INK, 1)
    # filing cabinet right
    draw_block(pen, (bx1 - 70, by1 - 120, bx1 - 4, by1 + 6), 10, (150, 156, 164))
    for k in range(3):
        pen.line([(bx1 - 62, by1 - 90 + k * 36), (bx1 - 12, by1 - 90 + k * 36)], BG_INK, 1)
    draw_plant(pen, bx0 - 24, by1 + 60, 36)


def _bg_hospital(pen: Pen, sc: Scene, sky: Sky) -> None:
    room = draw_room(pen, sc, (188, 214, 204), (196, 202, 198), (230, 232, 230))
    bx0, by0, bx1, by1 = room.back
    w = bx1 - bx0
    draw_window(pen, sc, sky, (bx0 + w * 0.52, by0 + 40, bx1 - w * 0.06, by0 + (by1 - by0) * 0.55), skyline=True)
    # curtain rail + curtain on the right wall
    pen.line([(sc.pw * 0.9, by0 * 0.6), (bx1 - 4, by0 + 8)], BG_INK, 2)
    pen.shaded("poly", [(sc.pw * 0.9, by0 * 0.6), (bx1 - 4, by0 + 8), (bx1 - 8, by1 - 40), (sc.pw * 0.92, sc.ph * 0.8)],
               (150, 180, 200), outline=BG_INK, width=1.5)
    # bed
    draw_block(pen, (bx0 + 6, by1 - 18, bx0 + w * 0.58, by1 + 40), 40, (236, 238, 240))
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


def _bg_home(pen: Pen, sc: Scene, sky: Sky) -> None:
    room = draw_room(pen, sc, (214, 190, 160), (148, 104, 70), (236, 226, 212))
    bx0, by0, bx1, by1 = room.back
    w = bx1 - bx0
    draw_window(pen, sc, sky, (bx0 + w * 0.08, by0 + 40, bx0 + w * 0.42, by0 + (by1 - by0) * 0.62),
            curtains=(150, 80, 70))
    pen.rect((bx0 + w * 0.58, by0 + 70, bx0 + w * 0.86, by0 + 150), (236, 226, 200), (120, 84, 50), 3)
    pen.poly([(bx0 + w * 0.6, by0 + 140), (bx0 + w * 0.7, by0 + 100), (bx0 + w * 0.78, by0 + 130),
              (bx0 + w * 0.84, by0 + 140)], (120, 150, 120), None, 0)
    # sofa against back wall
    sx0, sx1, sy = bx0 + w * 0.38, bx1 - 10, by1 + 10
    draw_block(pen, (sx0, sy - 70, sx1, sy - 20), 8, (96, 116, 150))
    draw_block(pen, (sx0 - 10, sy - 24, sx1 + 8, sy + 18), 20, (106, 128, 164))
    # floor lamp left, rug
    lx = bx0 - 30
    pen.line([(lx, by1 + 70), (lx, by0 + 120)], (60, 56, 52), 2.5)
    pen.shaded("poly", [(lx - 26, by0 + 120), (lx + 26, by0 + 120), (lx + 16, by0 + 80), (lx - 16, by0 + 80)],
               (240, 224, 180), outline=BG_INK, width=1.5)
    sc.lamp(lx, by0 + 110, 160, (255, 206, 140), 0.9)
    pen.ellipse((sc.pw * 0.2, by1 + 90, sc.pw * 0.8, by1 + 170), (168, 84, 70), BG_INK, 1.2)


def _bg_restaurant(pen: Pen, sc: Scene, sky: Sky) -> None:
    room = draw_room(pen, sc, (176, 110, 90), (110, 78, 58), (96, 66, 52))
    bx0, by0, bx1, by1 = room.back
    w = bx1 - bx0
    for i in range(2):
        x = bx0 + w * (0.1 + 0.48 * i)
        draw_window(pen, sc, sky, (x, by0 + 40, x + w * 0.32, by0 + (by1 - by0) * 0.58), skyline=True,
                frame=(90, 60, 44))
    for x in (sc.pw * 0.3, sc.pw * 0.7):
        draw_pendant(pen, sc, x, by0 * 0.9 + 30, 22, (180, 140, 60))
    for x, y, r in ((bx0 + w * 0.22, by1 + 20, 60), (bx0 + w * 0.78, by1 + 20, 60), (sc.pw * 0.5, by1 + 90, 80)):
        pen.ellipse((x - r, y - r * 0.25, x + r, y + r * 0.25), (246, 244, 236), BG_INK, 1.5)
        pen.poly([(x - r, y), (x + r, y), (x + r * 0.9, y + r * 0.7), (x - r * 0.9, y + r * 0.7)], (236, 232, 222),
                 BG_INK, 1.5)
        pen.ellipse((x - 8, y - 22, x + 8, y - 2), (250, 220, 150) if sc.lit else (230, 230, 230), BG_INK, 1)
        sc.lamp(x, y - 12, 40, (255, 200, 120), 0.7)


def _bg_bar(pen: Pen, sc: Scene, sky: Sky) -> None:
    room = draw_room(pen, sc, (128, 94, 78), (84, 62, 50), (66, 52, 46))
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
    draw_block(pen, (bx0 - 10, by1 - 40, bx1 + 10, by1 + 30), 24, (92, 58, 40))
    pen.line([(bx0 - 10, by1 - 36), (bx1 + 10, by1 - 36)], (200, 160, 90), 2)
    for x in (bx0 + w * 0.2, bx0 + w * 0.5, bx0 + w * 0.8):
        draw_pendant(pen, sc, x, by0 + 30, 16, (200, 120, 50))
        sc.glows.append((x, by0 + 40, 90, (255, 180, 100), 0.5))
    for x in (sc.pw * 0.18, sc.pw * 0.82):
        pen.ellipse((x - 26, by1 + 64, x + 26, by1 + 80), (150, 60, 50), BG_INK, 1.5)
        pen.line([(x, by1 + 78), (x, by1 + 150)], (60, 50, 50), 3)


def _bg_school(pen: Pen, sc: Scene, sky: Sky) -> None:
    room = draw_room(pen, sc, (226, 214, 172), (168, 148, 118), (236, 236, 226))
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
        paste_sky(pen, sky, pts)
        pen.poly(pts, None, (240, 240, 236), 3)
    for row in range(2):
        y = by1 + 40 + row * 80
        for col in range(3):
            x = sc.pw * (0.2 + 0.3 * col) + (col - 1) * row * 20
            draw_block(pen, (x - 40 - row * 6, y, x + 40 + row * 6, y + 26), 14, (170, 130, 90))


def _bg_warehouse(pen: Pen, sc: Scene, sky: Sky) -> None:
    room = draw_room(pen, sc, (150, 152, 144), (130, 128, 120), (92, 92, 94), high=True)
    bx0, by0, bx1, by1 = room.back
    w = bx1 - bx0
    for i in range(1, 14):
        x = bx0 + w * i / 14
        pen.line([(x, by0), (x, by1)], scale(room.wall, 0.9), 1)
    paste_sky(pen, sky, [(bx0 + 20, by0 + 20), (bx1 - 20, by0 + 20), (bx1 - 20, by0 + 50), (bx0 + 20, by0 + 50)])
    pen.rect((bx0 + 20, by0 + 20, bx1 - 20, by0 + 50), None, BG_INK, 1.5)
    dx0, dx1 = bx0 + w * 0.3, bx0 + w * 0.7
    pen.rect((dx0, by1 - (by1 - by0) * 0.55, dx1, by1), (170, 140, 70), BG_INK, 1.5)
    for k in range(10):
        y = by1 - (by1 - by0) * 0.55 + k * (by1 - by0) * 0.055
        pen.line([(dx0, y), (dx1, y)], (130, 104, 50), 1)
    for x, y, s in ((bx0 + 10, by1 + 10, 60), (bx0 + 70, by1 + 10, 50), (bx0 + 30, by1 - 50, 50),
                    (bx1 - 70, by1 + 30, 70)):
        draw_block(pen, (x, y - s, x + s, y), s * 0.3, (168, 130, 84))
        pen.line([(x, y - s), (x + s, y)], (130, 96, 60), 1.2)
    for x in (sc.pw * 0.3, sc.pw * 0.7):
        draw_pendant(pen, sc, x, by0 + 90, 26, (80, 90, 80))


def _bg_castle(pen: Pen, sc: Scene, sky: Sky) -> None:
    room = draw_room(pen, sc, (156, 146, 128), (118, 108, 98), (88, 78, 70), high=True)
    bx0, by0, bx1, by1 = room.back
    w = bx1 - bx0
    for row, y in enumerate(np.arange(by0 + 28, by1, 28)):
        pen.line([(bx0, y), (bx1, y)], scale(room.wall, 0.86), 1)
        for x in np.arange(bx0 + (row % 2) * 22, bx1, 44):
            pen.line([(x, y - 28), (x, y)], scale(room.wall, 0.86), 1)
    ax0, ax1, ay0, ay1 = bx0 + w * 0.36, bx0 + w * 0.64, by0 + 60, by0 + (by1 - by0) * 0.6
    arch = [(ax0, ay1), *arc((ax0 + ax1) / 2, ay0 + (ax1 - ax0) / 2, (ax1 - ax0) / 2, (ax1 - ax0) / 2, 180, 360),
            (ax1, ay1)]
    paste_sky(pen, sky, arch)
    sky_details(pen, sc, (ax0, ay0, ax1, ay1), False)
    pen.poly(arch, None, (90, 80, 70), 4)
    for x, col in ((bx0 + w * 0.14, (140, 30, 40)), (bx1 - w * 0.14, (40, 50, 120))):
        pen.shaded("poly", [(x - 26, by0 + 40), (x + 26, by0 + 40), (x + 26, by0 + 190), (x, by0 + 170),
                            (x - 26, by0 + 190)], col, outline=BG_INK, width=1.5)
        pen.ellipse((x - 8, by0 + 90, x + 8, by0 + 106), (220, 190, 80), None, 0)
    for x in (bx0 + w * 0.28, bx1 - w * 0.28):
        pen.rect((x - 4, by0 + 200, x + 4, by0 + 240), (80, 60, 40), BG_INK, 1)
        pen.ellipse((x - 9, by0 + 180, x + 9, by0 + 204), (255, 170, 60), None, 0)
        sc.glows.append((x, by0 + 192, 90, (255, 160, 70), 0.7 if sc.lit else 0.35))


def _bg_interior(pen: Pen, sc: Scene, sky: Sky) -> None:
    room = draw_room(pen, sc, (200, 194, 182), (140, 128, 112), (230, 228, 222))
    bx0, by0, bx1, by1 = room.back
    w = bx1 - bx0
    draw_window(pen, sc, sky, (bx0 + w * 0.1, by0 + 50, bx0 + w * 0.5, by0 + (by1 - by0) * 0.6))
    draw_door(pen, (bx0 + w * 0.64, by0 + (by1 - by0) * 0.2, bx0 + w * 0.9, by1), (150, 110, 80))
    draw_pendant(pen, sc, sc.pw * 0.5, by0 * 0.9, 22)


def _bg_street(pen: Pen, sc: Scene, sky: Sky) -> None:
    pw, ph, hz = sc.pw, sc.ph, sc.horizon
    draw_ground(pen, sc, sky, (120, 120, 124))
    vx = pw * 0.5
    rng = random.Random(sc.layout.random())
    x = pw * 0.25
    while x < pw * 0.75:  # distant buildings at the vanishing point
        bw, bh = rng.uniform(20, 40), rng.uniform(40, 120)
        pen.rect((x, hz - bh, x + bw, hz), mix(SKY[sc.tod][1], (90, 96, 110), 0.6), BG_INK, 1)
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
                pen.poly(pts, (255, 214, 130) if lit else mix(SKY[sc.tod][1], (60, 70, 90), 0.5), BG_INK, 1)
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


def _bg_rooftop(pen: Pen, sc: Scene, sky: Sky) -> None:
    pw, ph = sc.pw, sc.ph
    hz = ph * 0.55
    paste_sky(pen, sky, [(-pw, -ph), (2 * pw, -ph), (2 * pw, hz), (-pw, hz)])
    sky_details(pen, sc, (0, 0, pw, hz), True)
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


def _bg_forest(pen: Pen, sc: Scene, sky: Sky) -> None:
    pw, ph, hz = sc.pw, sc.ph, sc.horizon
    draw_ground(pen, sc, sky, (96, 120, 78))
    rng = random.Random(sc.layout.random())
    for x in np.arange(-20, pw + 20, 34):  # distant tree line
        r = rng.uniform(26, 44)
        pen.ellipse((x - r, hz - r * 1.6, x + r, hz + 6), mix((70, 110, 80), SKY[sc.tod][1], 0.35), None, 0)
    pen.poly([(pw * 0.46, hz + 4), (pw * 0.54, hz + 4), (pw * 0.95, ph * 1.02), (pw * 0.05, ph * 1.02)],
             (168, 146, 108), BG_INK, 1.2)
    trees = sorted(((rng.uniform(-0.1, 1.1) * pw, rng.uniform(0.0, 1.0)) for _ in range(9)), key=lambda t: t[1])
    for x, depth in trees:
        if pw * 0.38 < x < pw * 0.62 and depth > 0.4:
            x += pw * 0.3 * (1 if x > pw * 0.5 else -1)
        ground = hz + 10 + (ph * 0.9 - hz) * depth
        draw_tree(pen, x, ground, 160 + 520 * depth, rng, sc)
    for _ in range(5):
        x, y, r = rng.uniform(0, pw), rng.uniform(ph * 0.7, ph * 0.95), rng.uniform(30, 60)
        pen.shaded("ellipse", (x - r, y - r * 0.6, x + r, y + r * 0.4), (80, 120, 70), outline=BG_INK, width=1.2)


def _bg_exterior(pen: Pen, sc: Scene, sky: Sky) -> None:
    pw, ph, hz = sc.pw, sc.ph, sc.horizon
    draw_ground(pen, sc, sky, (132, 140, 110))
    pen.ellipse((-pw * 0.4, hz - 120, pw * 0.6, hz + 120), (120, 140, 120), None, 0)
    pen.ellipse((pw * 0.3, hz - 80, pw * 1.3, hz + 100), (108, 130, 112), None, 0)
    pen.rect((-pw, hz, 2 * pw, 2 * ph), (132, 140, 110), None, 0)
    for x, w, h in ((pw * 0.15, 90, 120), (pw * 0.72, 110, 150)):
        draw_block(pen, (x - w / 2, hz + 20 - h, x + w / 2, hz + 20), 18, (170, 150, 130))
        pen.poly([(x - w / 2 - 8, hz + 20 - h), (x, hz - h - 30), (x + w / 2 + 8, hz + 20 - h)], (140, 70, 60),
                 BG_INK, 1.5)
    pen.poly([(pw * 0.45, hz + 20), (pw * 0.55, hz + 20), (pw * 0.9, ph * 1.02), (pw * 0.1, ph * 1.02)],
             (176, 160, 130), BG_INK, 1.2)


def _bg_car(pen: Pen, sc: Scene, sky: Sky) -> None:
    pw, ph = sc.pw, sc.ph
    pen.rect((-pw, -ph, 2 * pw, 2 * ph), (70, 70, 78), None, 0)
    # rear window with the street behind
    win = [(pw * 0.12, ph * 0.12), (pw * 0.88, ph * 0.12), (pw * 0.96, ph * 0.42), (pw * 0.04, ph * 0.42)]
    paste_sky(pen, sky, win)
    rng = random.Random(sc.layout.random())
    x = pw * 0.05
    while x < pw * 0.95:
        bw, bh = rng.uniform(40, 90), rng.uniform(40, 150)
        top = max(ph * 0.42 - bh, ph * 0.13)
        pen.rect((x, top, min(x + bw, pw * 0.95), ph * 0.42), mix(SKY[sc.tod][1], (80, 84, 96), 0.55), None, 0)
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
        fpen = Pen(img)  # foreground: fixed to the frame, not zoomed with the backdrop
        fpen.shaded("poly", [(-pw, ph * 0.86), (2 * pw, ph * 0.86), (2 * pw, 2 * ph), (-pw, 2 * ph)],
                   (52, 52, 58), outline=INK, width=3)
        fpen.line([(-pw, ph * 0.875), (2 * pw, ph * 0.875)], (90, 90, 100), 2)
        cx, cy, r = pw * 0.22, ph * 0.95, pw * 0.2
        fpen.ellipse((cx - r, cy - r * 0.5, cx + r, cy + r * 0.5), None, INK, 10)
        fpen.ellipse((cx - r, cy - r * 0.5, cx + r, cy + r * 0.5), None, (70, 70, 78), 6)

    sc.foreground.append(dashboard)


BACKDROPS: dict[str, Callable[[Pen, Scene, Sky], None]] = {
    "office": _bg_office, "hospital": _bg_hospital, "home": _bg_home, "restaurant": _bg_restaurant,
    "bar": _bg_bar, "school": _bg_school, "warehouse": _bg_warehouse, "castle": _bg_castle,
    "street": _bg_street, "rooftop": _bg_rooftop, "forest": _bg_forest, "car": _bg_car,
    "interior": _bg_interior, "exterior": _bg_exterior, **WORLD_BACKDROPS,
}
