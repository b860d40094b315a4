"""The panel around the picture: its layout (header strip, caption box, picture box), text, name tags, the
camera-move glyph and the paper's blotches."""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFont

from dramafactory.schemas import Shot

from .colour import INK
from .pen import Pen

Tag = tuple[str, float, float, float, float, bool]  # label, face box (picture pixels), seen from behind


def compose(paper: Image.Image, picture: Image.Image, shot: Shot, seed: int,
            font: Callable[[int], ImageFont.FreeTypeFont], tags: list[Tag]) -> Image.Image:
    """The panel: the picture on the paper (with its blotches), framed, under a header strip (shot id, framing,
    camera move) and a caption box with the action, and a name tag by every face."""
    W, H = paper.size
    m, header_h, caption_h, (L, T, R, B) = panel_layout(W, H)
    img = paper.copy()
    img.paste(picture, (L, T))
    img = ImageChops.multiply(img, blotches(W, H, seed))
    d = ImageDraw.Draw(img)
    d.rectangle((L - 1, T - 1, R, B), outline=INK, width=max(2, round(W * 0.005)))
    # header strip
    hf = font(max(8, round(header_h * 0.56)))
    d.rectangle((m, m, W - m, m + header_h - 2), fill=(36, 34, 44))
    head = f"E{shot.episode:02d} S{shot.scene:02d} · {shot.framing.upper()} · {shot.camera_move.upper()}"
    right = f"{ascii_text(shot.id)} · {shot.duration_s:.1f}s · {shot.time_of_day.upper()}"
    rw = hf.getlength(right)
    ty = m + (header_h - 2 - hf.size) / 2 - 1
    d.text((m + 8, ty), clip_text(head, hf, W - 2 * m - rw - 28) if hf.getlength(head) > W - 2 * m - rw - 28 else head,
           font=hf, fill=(246, 240, 226))
    d.text((W - m - 8 - rw, ty), right, font=hf, fill=(200, 196, 186))
    # caption box (top: the bottom ~22% is kept for subtitles)
    cap_font = font(max(8, round(H * 0.0155)))
    cap_line = round(cap_font.size * 1.22)
    cap_lines = 3 if H >= 480 else (1 if H >= 200 else 0)
    cy0, cy1 = m + header_h + 2, m + header_h + caption_h
    if caption_h:
        d.rectangle((m, cy0, W - m, cy1), outline=INK, width=2)
    lines = wrap_lines(ascii_text(shot.action), cap_font, W - 2 * m - 20, cap_lines) if cap_lines else []
    for i, ln in enumerate(lines):
        d.text((m + 10, cy0 + round(cap_font.size * 0.3) + i * cap_line), ln, font=cap_font, fill=INK)
    # name tags
    tag_font = font(max(8, round(H * 0.0135)))
    placed: list[tuple[float, float, float, float]] = []
    for label, fx0, fy0, fx1, fy1, back in tags:
        name_tag(d, tag_font, ascii_text(label), (fx0 + L, fy0 + T, fx1 + L, fy1 + T), (L, T, R, B), placed, back)
    return img


def ascii_text(text: str) -> str:
    table = {"\u2014": "-", "\u2013": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
             "\u2026": "...", "\u00a0": " "}
    text = "".join(table.get(ch, ch) for ch in text)
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if (32 <= ord(ch) < 127) or ch == "\u00b7")


def panel_layout(W: int, H: int) -> tuple[int, int, int, tuple[int, int, int, int]]:
    """Margin, header height, caption height and the picture box (left, top, right, bottom) of a W x H panel."""
    m = max(4, round(W * 0.014))
    header_h = max(12, round(H * 0.034))
    cap_size = max(8, round(H * 0.0155))
    cap_lines = 3 if H >= 480 else (1 if H >= 200 else 0)
    caption_h = round(cap_size * 1.22) * cap_lines + round(cap_size * 0.7) if cap_lines else 0
    return m, header_h, caption_h, (m, m + header_h + caption_h + m, W - m, H - m)


def picture_box(width: int, height: int) -> tuple[int, int, int, int]:
    """The picture area of a panel (left, top, right, bottom): the header and caption strips are outside it."""
    return panel_layout(width, height)[3]


def move_glyph(pen: Pen, move: str, x: float, y: float, r: float) -> None:
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


def wrap_lines(text: str, font: ImageFont.FreeTypeFont, width: float, max_lines: int) -> list[str]:
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
    return [ln if font.getlength(ln) <= width else clip_text(ln, font, width) for ln in lines]


def clip_text(text: str, font: ImageFont.FreeTypeFont, width: float) -> str:
    while text and font.getlength(text + "...") > width:
        text = text[:-1]
    return text + "..."


def clip_box(box: tuple[float, float, float, float], L: int, T: int, pw: int, ph: int
              ) -> tuple[int, int, int, int] | None:
    x0, y0 = max(0, round(box[0])), max(0, round(box[1]))
    x1, y1 = min(pw, round(box[2])), min(ph, round(box[3]))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return x0 + L, y0 + T, x1 + L, y1 + T


def name_tag(d: ImageDraw.ImageDraw, font: ImageFont.FreeTypeFont, label: str,
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


def blotches(W: int, H: int, seed: int) -> Image.Image:
    """Soft paper blotches (a multiply layer close to white), from a seeded generator."""
    gen = np.random.default_rng(seed & 0xFFFFFFFF)
    coarse = gen.normal(0.0, 1.0, size=(H // 32 + 2, W // 32 + 2))
    small = Image.fromarray((250 + 4 * np.tanh(coarse)).round().clip(0, 255).astype(np.uint8))
    return small.resize((W, H), Image.Resampling.BICUBIC).convert("RGB")
