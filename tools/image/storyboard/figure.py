"""Draws one character, front or back view, with cel shading: body, garments, face and hair."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from .colour import INK, RGB, crc, luma, mix, shade
from .looks import FigureLook
from .pen import Pen, arc


@dataclass
class Place:
    name: str
    cx: float
    cy: float  # head centre (picture pixels)
    h: float  # head height
    back: bool = False
    gaze: float = 0.0  # -1 looks screen-left, +1 screen-right
    speaking: bool = False


@dataclass
class Drawn:
    name: str
    box: tuple[float, float, float, float]
    face: tuple[float, float, float, float]
    back: bool


# The head height (px) from which greying hair is drawn with strands (a wide shot's head is about 66 px at 720 wide)
GREYING_MIN_HEAD = 100.0


class Painter:
    """Draws one character (front or back view) with cel shading, in picture pixels."""

    def __init__(self, pen: Pen, light: Callable[[RGB], RGB]) -> None:
        self.pen = pen
        self.light = light

    def draw(self, lk: FigureLook, pl: Place) -> Drawn:
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
            pen.shaded("poly", pts, legs if lk.outfit in ("suit", "top") else shade(skin, 0.95), outline=INK,
                       width=ow)
            sx = cx + side * hh * 0.38
            pen.shaded("ellipse", (sx - hh * 0.42, foot_y - 0.32 * h, sx + hh * 0.42, foot_y + 0.05 * h),
                       L((40, 34, 36)) if lk.outfit != "dress" else L(shade(lk.main, 0.6)), outline=INK, width=ow)
        if lk.outfit in ("dress", "skirt"):
            skirt = main if lk.outfit == "dress" else second
            pen.shaded("poly", [(cx - wh, waist_y), (cx + wh, waist_y), (cx + hh * 1.35, knee_y + 0.2 * h),
                                (cx - hh * 1.35, knee_y + 0.2 * h)], skirt, outline=INK, width=ow)
            pen.line([(cx - hh * 0.3, hip_y), (cx - hh * 0.45, knee_y + 0.1 * h)], shade(skirt, 0.8), ow * 0.6)
            pen.line([(cx + hh * 0.35, hip_y), (cx + hh * 0.55, knee_y + 0.1 * h)], shade(skirt, 0.8), ow * 0.6)

        # neck
        pen.shaded("poly", [(cx - neck_w / 2, cy + 0.2 * h), (cx + neck_w / 2, cy + 0.2 * h),
                            (cx + neck_w * 0.58, sh_y + 0.1 * h), (cx - neck_w * 0.58, sh_y + 0.1 * h)],
                   skin, shade(skin, 0.78), INK, ow)

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
        return Drawn(lk.name, box, head_box, pl.back)

    # -- garments

    def _garment_front(self, lk: FigureLook, cx: float, sh_y: float, waist_y: float, hip_y: float, neck_w: float,
                       S: float, wh: float, h: float, ow: float, main: RGB, second: RGB, accent: RGB | None,
                       skin: RGB) -> None:
        pen = self.pen
        if lk.outfit == "suit":
            vee = [(cx - neck_w * 0.62, sh_y - 0.06 * h), (cx + neck_w * 0.62, sh_y - 0.06 * h), (cx, sh_y + 1.5 * h)]
            pen.poly(vee, second, INK, ow * 0.8)
            for side in (-1, 1):  # lapels
                pen.poly([(cx + side * neck_w * 0.62, sh_y - 0.06 * h), (cx + side * neck_w * 1.05, sh_y + 0.5 * h),
                          (cx + side * neck_w * 0.72, sh_y + 0.62 * h), (cx, sh_y + 1.5 * h)],
                         shade(main, 0.86), INK, ow * 0.7)
            pen.line([(cx, sh_y + 1.5 * h), (cx, hip_y)], INK, ow * 0.7)
            pen.ellipse((cx - h * 0.04, sh_y + 1.8 * h, cx + h * 0.04, sh_y + 1.88 * h), INK, None, 0)
            if lk.neck == "tie" and accent:
                pen.poly([(cx - h * 0.06, sh_y - 0.02 * h), (cx + h * 0.06, sh_y - 0.02 * h), (cx + h * 0.08, sh_y + 1.1 * h),
                          (cx, sh_y + 1.25 * h), (cx - h * 0.08, sh_y + 1.1 * h)], accent, INK, ow * 0.7)
        elif lk.outfit == "top":
            pen.ellipse((cx - neck_w * 0.7, sh_y - 0.16 * h, cx + neck_w * 0.7, sh_y + 0.16 * h), skin, INK, ow * 0.7)
            pen.line([(cx - S * 0.9, sh_y + 1.4 * h), (cx - wh * 0.9, waist_y)], shade(main, 0.82), ow * 0.5)
            pen.line([(cx - wh, hip_y - 0.2 * h), (cx + wh, hip_y - 0.2 * h)], shade(main, 0.8), ow * 0.6)
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
            pen.line(arc(cx, sh_y - 0.05 * h, neck_w * 0.75, 0.35 * h, 10, 170, 12), accent, max(1.5, ow * 0.7))
            pen.ellipse((cx - h * 0.035, sh_y + 0.26 * h, cx + h * 0.035, sh_y + 0.34 * h), accent, INK, ow * 0.4)
        if lk.outfit == "suit" and accent and lk.neck == "none":
            pen.rect((cx - S * 0.52, sh_y + 0.35 * h, cx - S * 0.32, sh_y + 0.45 * h), accent, INK, ow * 0.5)
        if "tattoo" in lk.features:
            pen.line([(cx + neck_w * 0.2, sh_y - 0.3 * h), (cx + neck_w * 0.4, sh_y - 0.15 * h)], (60, 70, 110), ow * 0.7)

    # -- face

    def _face(self, lk: FigureLook, pl: Place, cx: float, cy: float, h: float, hw: float, ow: float, skin: RGB,
              hair: RGB) -> None:
        pen = self.pen
        ey = cy + 0.04 * h
        ew, eh = hw * 0.17, h * 0.07
        brow = shade(hair, 0.55) if luma(hair) > 90 else hair
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
                 shade(skin, 0.62), ow * 0.6)
        my = cy + 0.32 * h
        mw = hw * (0.26 if lk.female else 0.3)
        lip = mix(skin, (190, 70, 80), 0.45 if lk.female else 0.18)
        if pl.speaking:
            pen.ellipse((cx - mw / 2, my - h * 0.035, cx + mw / 2, my + h * 0.055), (90, 30, 40), INK, ow * 0.6)
            pen.ellipse((cx - mw * 0.25, my + h * 0.015, cx + mw * 0.25, my + h * 0.05), (200, 90, 100), None, 0)
        else:
            if lk.female:
                pen.ellipse((cx - mw / 2, my - h * 0.02, cx + mw / 2, my + h * 0.03), lip, None, 0)
            pen.line([(cx - mw / 2, my), (cx, my + h * 0.008), (cx + mw / 2, my - h * 0.004)], INK, ow * 0.7)
        f = lk.features
        self._age_lines(lk, cx, cy, h, hw, ow, ey, ew, eh, skin)
        if "beard" in f or "goatee" in f:
            full = "beard" in f
            pts = ([(cx - hw * 0.49, cy + 0.08 * h), (cx - hw * 0.3, cy + 0.22 * h), (cx + hw * 0.3, cy + 0.22 * h),
                    (cx + hw * 0.49, cy + 0.08 * h), (cx + hw * 0.42, cy + 0.36 * h), (cx, cy + 0.55 * h),
                    (cx - hw * 0.42, cy + 0.36 * h)] if full else
                   [(cx - hw * 0.16, cy + 0.38 * h), (cx + hw * 0.16, cy + 0.38 * h), (cx, cy + 0.54 * h)])
            pen.shaded("poly", pts, hair, outline=INK, width=ow * 0.7)
            pen.ellipse((cx - mw / 2, my - h * 0.02, cx + mw / 2, my + h * 0.035),
                        (90, 30, 40) if pl.speaking else shade(skin, 0.8), INK, ow * 0.5)
        elif "stubble" in f:
            rng = random.Random(crc(lk.name))
            for _ in range(60):
                a = rng.uniform(10, 170)
                r = rng.uniform(0.78, 0.98)
                x = cx + math.cos(math.radians(a)) * hw * 0.46 * r
                y = cy + 0.15 * h + math.sin(math.radians(a)) * h * 0.34 * r
                pen.ellipse((x - h * 0.006, y - h * 0.006, x + h * 0.006, y + h * 0.006), shade(hair, 0.8), None, 0)
        if "moustache" in f:
            pen.poly([(cx - mw * 0.6, my - h * 0.01), (cx, my - h * 0.06), (cx + mw * 0.6, my - h * 0.01),
                      (cx, my - h * 0.03)], hair, INK, ow * 0.5)
        if "freckle" in f:
            rng = random.Random(crc(lk.name) + 1)
            for side in (-1, 1):
                for _ in range(7):
                    x = cx + side * hw * rng.uniform(0.12, 0.3)
                    y = cy + h * rng.uniform(0.1, 0.2)
                    pen.ellipse((x - h * 0.008, y - h * 0.008, x + h * 0.008, y + h * 0.008), shade(skin, 0.65), None, 0)
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
                pen.line([(x, my - h * 0.02), (x, my + h * 0.02)], shade(skin, 0.7), ow * 0.5)
        if "glasses" in f:
            for side in (-1, 1):
                ex = cx + side * hw * 0.22
                pen.ellipse((ex - ew * 0.85, ey - eh * 1.2, ex + ew * 0.85, ey + eh * 1.25), None, INK, ow * 0.8)
            pen.line([(cx - hw * 0.22 + ew * 0.85, ey - eh * 0.3), (cx + hw * 0.22 - ew * 0.85, ey - eh * 0.3)],
                     INK, ow * 0.8)

    def _age_lines(self, lk: FigureLook, cx: float, cy: float, h: float, hw: float, ow: float, ey: float, ew: float,
                   eh: float, skin: RGB) -> None:
        """Age drawn on the face, growing with the years: a forehead line from 45; two, and the lines from nose to
        mouth, from 55 (or a face described with wrinkles); crow's feet and lines under the eyes from 65."""
        wrinkled = "wrinkle" in lk.features
        if lk.age < 45 and not wrinkled:
            return
        pen = self.pen
        # creases darker than the cheek's cel shadow, which they cross (and darker still on dark skin)
        crease = shade(skin, 0.62 if luma(skin) > 120 else 0.52)
        lines = 2 if lk.age >= 55 or wrinkled else 1
        for k in range(lines):
            pen.line([(cx - hw * 0.18, cy - 0.24 * h + k * 0.04 * h), (cx + hw * 0.18, cy - 0.24 * h + k * 0.04 * h)],
                     crease, ow * 0.4)
        if lines == 2:
            for side in (-1, 1):
                pen.line([(cx + side * hw * 0.12, cy + 0.2 * h), (cx + side * hw * 0.2, cy + 0.33 * h)],
                         crease, ow * 0.5)
        if lk.age < 65:
            return
        for side in (-1, 1):
            ex = cx + side * hw * 0.22
            corner = ex + side * ew * 0.62
            for k in (-1, 1):  # crow's feet fanning from the eye's outer corner
                pen.line([(corner + side * ew * 0.12, ey), (corner + side * ew * 0.42, ey + k * eh * 0.45)],
                         crease, ow * 0.4)
            pen.line(arc(ex, ey + eh * 0.55, ew * 0.42, eh * 0.35, 20, 160, 6), crease, ow * 0.4)  # under the eye

    # -- hair

    def _hair_back(self, lk: FigureLook, hair: RGB, cx: float, cy: float, h: float, hw: float, ow: float) -> None:
        pen, st = self.pen, lk.style
        if st == "long":
            pts = [*arc(cx, cy - 0.05 * h, hw * 0.6, h * 0.58, 180, 360, 16),
                   (cx + hw * 0.72, cy + 1.6 * h), (cx + hw * 0.3, cy + 1.75 * h), (cx - hw * 0.3, cy + 1.75 * h),
                   (cx - hw * 0.72, cy + 1.6 * h)]
            pen.shaded("poly", pts, hair, outline=INK, width=ow)
        elif st == "wavy":
            pts = arc(cx, cy - 0.05 * h, hw * 0.62, h * 0.58, 180, 360, 16)
            for i in range(9):
                t = i / 8
                pts.append((cx + hw * 0.66 - t * hw * 1.32, cy + 0.95 * h + (0.1 * h if i % 2 else 0)))
            pen.shaded("poly", pts, hair, outline=INK, width=ow)
        elif st == "bob":
            pts = [*arc(cx, cy - 0.04 * h, hw * 0.62, h * 0.58, 180, 360, 16),
                   (cx + hw * 0.64, cy + 0.4 * h), (cx + hw * 0.5, cy + 0.48 * h), (cx - hw * 0.5, cy + 0.48 * h),
                   (cx - hw * 0.64, cy + 0.4 * h)]
            pen.shaded("poly", pts, hair, outline=INK, width=ow)
        elif st == "curly":
            rng = random.Random(crc(lk.name))
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

    def _hair_front(self, lk: FigureLook, hair: RGB, cx: float, cy: float, h: float, hw: float, ow: float) -> None:
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
        colour = mix(hair, self.light(lk.skin), 0.35) if st == "buzz" else hair
        rx, ry = hw / 2 * (1 + vol * 1.4), h / 2 * (1 + vol)
        ocy = cy - vol * h * 0.4
        outer = arc(cx, ocy, rx, ry, 188, 352, 28)
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
        hi = mix(colour, (255, 255, 255), 0.35)
        if st in ("slick", "short", "long", "wavy", "ponytail", "bun", "bob"):
            n = 4 if st == "slick" else 2
            for k in range(n):
                a0 = 215 + k * 12
                pen.line(arc(cx, ocy, rx * (0.9 - k * 0.05), ry * (0.9 - k * 0.06), a0, a0 + 40, 6), hi,
                         max(1.0, ow * 0.5))
        # salt-and-pepper: light strands at the temples, over whatever the base colour is. Not on a small head (a
        # wide shot's): there the strands break up the hair's colour and the people-finder no longer sees the hair
        # (measured on a golden wide shot: the greying father was not found in any of three takes).
        if lk.greying and h >= GREYING_MIN_HEAD:
            streak = mix(self.light((214, 214, 218)), colour, 0.25)
            for k in range(3):
                for a0 in (194, 316):
                    pen.line(arc(cx, ocy, rx * (0.96 - k * 0.06), ry * (0.94 - k * 0.07), a0 + k * 3, a0 + 28 + k * 3, 6),
                             streak, max(1.0, ow * 0.55))
        if st in ("long", "wavy"):  # locks falling over the shoulders
            for s in (-1, 1):
                x0 = cx + s * hw * 0.5
                pts2 = [(x0 - s * hw * 0.08, cy - 0.1 * h), (x0 + s * hw * 0.16, cy - 0.05 * h),
                        (x0 + s * hw * 0.26, cy + (1.5 if st == "long" else 0.95) * h),
                        (x0 + s * hw * 0.02, cy + (1.55 if st == "long" else 1.0) * h), (x0 - s * hw * 0.06, cy + 0.3 * h)]
                pen.shaded("poly", pts2, colour, outline=INK, width=ow)

    def _hair_back_view(self, lk: FigureLook, hair: RGB, cx: float, cy: float, h: float, hw: float, ow: float,
                        hip_y: float) -> None:
        pen, st = self.pen, lk.style
        colour = mix(hair, self.light(lk.skin), 0.35) if st == "buzz" else hair
        vol = {"curly": 0.14, "bob": 0.09, "long": 0.07, "wavy": 0.08, "buzz": 0.015}.get(st, 0.05)
        length = {"long": 1.75, "wavy": 1.0, "bob": 0.48, "curly": 0.4}.get(st, 0.3)
        pts = [*arc(cx, cy - 0.02 * h, hw / 2 * (1 + vol * 1.4), h / 2 * (1 + vol), 160, 380, 30)]
        pts += [(cx + hw * (0.6 if length > 0.45 else 0.4), cy + length * h), (cx, cy + (length + 0.05) * h),
                (cx - hw * (0.6 if length > 0.45 else 0.4), cy + length * h)]
        pen.shaded("poly", pts, colour, outline=INK, width=ow, shift=(0.14, 0.05))
        if st == "bun":
            r = h * 0.2
            pen.shaded("ellipse", (cx - r, cy - 0.2 * h - r, cx + r, cy - 0.2 * h + r), hair, outline=INK, width=ow)
        elif st == "ponytail":
            pen.shaded("poly", [(cx - hw * 0.12, cy), (cx + hw * 0.12, cy), (cx + hw * 0.16, cy + 1.2 * h),
                                (cx, cy + 1.35 * h), (cx - hw * 0.14, cy + 1.2 * h)], hair, outline=INK, width=ow)
        hi = mix(colour, (255, 255, 255), 0.3)
        for k in range(3):
            pen.line(arc(cx, cy, hw * (0.32 - k * 0.08), h * 0.36, 200, 300, 6), hi, max(1.0, ow * 0.5))
