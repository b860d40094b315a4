"""The pen: draws in picture pixels onto the supersampled canvas (with the backdrop's zoom), cel-shaded fills."""

from __future__ import annotations

import math
from collections.abc import Sequence

from PIL import Image, ImageChops, ImageDraw

from .colour import BG_INK, INK, RGB, shade

Pt = tuple[float, float]

SS = 2  # supersampling factor of the picture canvas


class Pen:
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

    def shaded(self, kind: str, geom: Sequence, fill: RGB, dark: RGB | None = None, outline: RGB | None = INK,
               width: float = 3.0, shift: Pt = (0.2, 0.1)) -> None:
        """A flat fill with a cel-shaded crescent on the side away from the light (light from upper left)."""
        dark = dark or shade(fill)
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
        self.img.paste(dark, (x0, y0, x1, y1), ImageChops.subtract(ma, mb))
        if outline is not None and width > 0:
            if kind == "poly":
                self.d.line([*cp, cp[0], cp[1]], fill=outline, width=self.lw(width), joint="curve")
            else:
                self.d.ellipse((xs[0], ys[0], xs[1], ys[1]), outline=outline, width=self.lw(width))


def arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 24) -> list[Pt]:
    return [(cx + rx * math.cos(math.radians(a0 + (a1 - a0) * i / n)),
             cy + ry * math.sin(math.radians(a0 + (a1 - a0) * i / n))) for i in range(n + 1)]


def rotate(pts: Sequence[Pt], cx: float, cy: float, deg: float) -> list[Pt]:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return [(cx + (x - cx) * c - (y - cy) * s, cy + (x - cx) * s + (y - cy) * c) for x, y in pts]
