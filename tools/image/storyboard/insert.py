"""Insert shots: a detail on a tabletop (phone, letter, ring, key...) with its owner's hand."""

from __future__ import annotations

from collections.abc import Callable

from dramafactory.schemas import Shot

from .colour import BG_INK, INK, RGB, crc, scale
from .looks import FigureLook
from .pen import Pen, rotate
from .scene import Scene


def draw_insert(pen: Pen, sc: Scene, shot: Shot, hand: FigureLook | None, light: Callable[[RGB], RGB]) -> tuple[float, float]:
    """A detail on a tabletop: a hand with an object. Returns the world point where the hand is (for its tag)."""
    pw, ph = sc.pw, sc.ph
    table = {"office": (150, 110, 80), "home": (160, 112, 72), "restaurant": (238, 236, 228),
             "hospital": (206, 210, 214), "bar": (98, 62, 42), "school": (176, 136, 94),
             "courtroom": (122, 80, 50), "kitchen": (176, 182, 188), "palace kitchen": (150, 104, 64),
             "research station": (150, 150, 146), "police station": (120, 110, 96), "hotel": (122, 80, 50),
             "ballroom": (246, 244, 238), "church": (236, 232, 220), "boat": (150, 120, 88),
             "snowfield": (232, 238, 246)}.get(sc.setting, (150, 120, 90))
    edge = ph * 0.3
    pen.shaded("poly", [(-pw * 0.2, edge), (pw * 1.2, edge), (pw * 1.2, ph * 1.05), (-pw * 0.2, ph * 1.05)],
               light(table), outline=BG_INK, width=2, shift=(0.0, 0.0))
    grain = scale(light(table), 0.9)
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
    obj = next((o for w, o in objects if w in action), ("letter", "phone")[crc(shot.id) % 2])
    ox, oy = pw * 0.46, ph * 0.55
    if obj == "phone":
        body = rotate([(ox - 70, oy - 140), (ox + 70, oy - 140), (ox + 70, oy + 140), (ox - 70, oy + 140)], ox, oy, -12)
        pen.shaded("poly", body, (30, 30, 36), outline=INK, width=4)
        scr = rotate([(ox - 60, oy - 125), (ox + 60, oy - 125), (ox + 60, oy + 120), (ox - 60, oy + 120)], ox, oy, -12)
        pen.poly(scr, (200, 226, 250), INK, 1.5)
        for k, (x0, x1, col) in enumerate([(-50, 20, (230, 230, 236)), (-10, 50, (90, 160, 250)),
                                           (-50, 30, (230, 230, 236))]):
            y = oy - 100 + k * 60
            pen.poly(rotate([(ox + x0, y), (ox + x1, y), (ox + x1, y + 36), (ox + x0, y + 36)], ox, oy, -12), col,
                     BG_INK, 1)
        sc.glows.append((ox, oy, 160, (180, 210, 255), 0.5))
    elif obj in ("letter", "photo", "money"):
        col = {"letter": (248, 244, 232), "photo": (240, 240, 240), "money": (170, 200, 150)}[obj]
        w2, h2 = (120, 160) if obj == "letter" else (110, 80)
        body = rotate([(ox - w2, oy - h2), (ox + w2, oy - h2), (ox + w2, oy + h2), (ox - w2, oy + h2)], ox, oy, -8)
        if obj == "money":
            for k in range(3):
                pen.poly([(x + k * 10, y - k * 8) for x, y in body], scale(col, 1 - 0.05 * k), INK, 2)
        pen.shaded("poly", body, col, outline=INK, width=3, shift=(0.05, 0.02))
        if obj == "letter":
            for k in range(7):
                y = oy - 110 + k * 32
                pen.line(rotate([(ox - 90, y), (ox + (90 if k < 6 else 10), y)], ox, oy, -8), (90, 90, 110), 2)
        elif obj == "photo":
            inner = rotate([(ox - 95, oy - 65), (ox + 95, oy - 65), (ox + 95, oy + 50), (ox - 95, oy + 50)], ox, oy, -8)
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
    arm = rotate([(hx - 60, hy + 40), (hx + 60, hy + 40), (hx + 80, hy + 600), (hx - 80, hy + 600)], hx, hy, ang)
    pen.shaded("poly", arm, sleeve, outline=INK, width=4)
    cuff = rotate([(hx - 62, hy + 40), (hx + 62, hy + 40), (hx + 64, hy + 80), (hx - 64, hy + 80)], hx, hy, ang)
    pen.poly(cuff, light(hand.second) if hand else (230, 230, 230), INK, 3)
    palm = rotate([(hx - 60, hy - 60), (hx + 55, hy - 60), (hx + 55, hy + 42), (hx - 55, hy + 42)], hx, hy, ang)
    pen.shaded("poly", palm, skin, outline=INK, width=4)
    for k in range(4):
        fx = hx - 45 + k * 30
        finger = rotate([(fx - 13, hy - 150 + abs(k - 1.5) * 14), (fx + 13, hy - 150 + abs(k - 1.5) * 14),
                       (fx + 14, hy - 55), (fx - 14, hy - 55)], hx, hy, ang)
        pen.shaded("poly", finger, skin, outline=INK, width=3.5)
    thumb = rotate([(hx - 60, hy - 10), (hx - 110, hy - 70), (hx - 92, hy - 90), (hx - 50, hy - 50)], hx, hy, ang)
    pen.shaded("poly", thumb, skin, outline=INK, width=3.5)
    return hx, hy + 100
