"""Contact sheets: a labelled grid of 9:16 shot thumbnails for review and QC.

The layout is deterministic: every cell is ``thumb_width`` x ``thumb_width * 16 / 9`` plus a
fixed label area of ``label_lines`` lines, so the sheet size depends only on the item count,
``columns``, ``thumb_width``, ``label_lines`` and whether there is a title. A missing or
unreadable image becomes a grey placeholder cell rather than an error.
"""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

from .subtitles import font_safe

__all__ = ["make_contact_sheet", "sheet_size"]

_BG = (255, 255, 255)
_INK = (20, 20, 20)


def _gap(thumb_width: int) -> int:
    return max(6, thumb_width // 16)


def _font_size(thumb_width: int) -> int:
    return max(9, thumb_width // 18)


def _line_height(thumb_width: int) -> int:
    return _font_size(thumb_width) + max(2, _font_size(thumb_width) // 4)


def _title_height(thumb_width: int) -> int:
    return 2 * _font_size(thumb_width) + _gap(thumb_width)


def sheet_size(
    n_items: int, columns: int = 4, thumb_width: int = 240, *, label_lines: int = 3, title: bool = False
) -> tuple[int, int]:
    """(width, height) of the sheet ``make_contact_sheet`` draws for these settings."""
    columns = max(1, columns)
    rows = max(1, math.ceil(n_items / columns))
    gap = _gap(thumb_width)
    thumb_h = round(thumb_width * 16 / 9)
    cell_h = thumb_h + gap // 2 + label_lines * _line_height(thumb_width)
    width = columns * thumb_width + (columns + 1) * gap
    height = rows * cell_h + (rows + 1) * gap + (_title_height(thumb_width) if title else 0)
    return width, height


def _thumbnail(path: Path, size: tuple[int, int]) -> Image.Image:
    """Cover-crop ``path`` to the 9:16 cell; a grey placeholder if it cannot be read."""
    tw, th = size
    try:
        with Image.open(path) as src:
            img = src.convert("RGB")
    except (FileNotFoundError, UnidentifiedImageError, OSError):
        placeholder = Image.new("RGB", size, (200, 200, 200))
        draw = ImageDraw.Draw(placeholder)
        font = ImageFont.load_default(size=max(9, tw // 12))
        draw.text((tw / 2, th / 2), "missing", font=font, fill=(90, 90, 90), anchor="mm")
        return placeholder
    w, h = img.size
    aspect = tw / th
    if w / h > aspect:
        cw = h * aspect
        box = ((w - cw) / 2, 0.0, (w + cw) / 2, float(h))
    else:
        ch = w / aspect
        box = (0.0, (h - ch) / 2, float(w), (h + ch) / 2)
    return img.resize(size, Image.Resampling.LANCZOS, box=box)


def _wrap_label(
    label: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, max_width: int, max_lines: int
) -> list[str]:
    """Greedy pixel-width wrap; the last line is ellipsised if the label does not fit."""
    label = font_safe(label)
    words = " ".join(label.split()).split(" ") if label.strip() else []
    lines: list[str] = []
    current = ""
    for word in words:
        candidate = f"{current} {word}".strip()
        if font.getlength(candidate) <= max_width or not current:
            current = candidate
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    # Hard-break single words wider than the cell.
    broken: list[str] = []
    for line in lines:
        while font.getlength(line) > max_width and len(line) > 1:
            cut = len(line)
            while cut > 1 and font.getlength(line[:cut]) > max_width:
                cut -= 1
            broken.append(line[:cut])
            line = line[cut:]
        broken.append(line)
    if len(broken) > max_lines:
        broken = broken[:max_lines]
        last = broken[-1]
        while last and font.getlength(last + "…") > max_width:
            last = last[:-1]
        broken[-1] = last + "…"
    return broken


def make_contact_sheet(
    items: list[tuple[Path, str]],
    out_png: Path,
    columns: int = 4,
    thumb_width: int = 240,
    *,
    title: str | None = None,
    label_lines: int = 3,
) -> Path:
    """Write a PNG grid of 9:16 thumbnails, each labelled underneath, with an optional title row."""
    columns = max(1, columns)
    thumb_width = max(16, thumb_width)
    thumb_h = round(thumb_width * 16 / 9)
    gap = _gap(thumb_width)
    line_h = _line_height(thumb_width)
    width, height = sheet_size(len(items), columns, thumb_width, label_lines=label_lines, title=title is not None)
    sheet = Image.new("RGB", (width, height), _BG)
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=_font_size(thumb_width))
    top = gap
    if title is not None:
        title_font = ImageFont.load_default(size=round(_font_size(thumb_width) * 1.5))
        title_text = " ".join(font_safe(title).split())
        while title_text and title_font.getlength(title_text) > width - 2 * gap:
            title_text = title_text[:-1]
        draw.text((gap, top), title_text, font=title_font, fill=_INK)
        top += _title_height(thumb_width)
    cell_h = thumb_h + gap // 2 + label_lines * line_h
    for index, (path, label) in enumerate(items):
        row, col = divmod(index, columns)
        x = gap + col * (thumb_width + gap)
        y = top + row * (cell_h + gap)
        sheet.paste(_thumbnail(Path(path), (thumb_width, thumb_h)), (x, y))
        draw.rectangle((x, y, x + thumb_width - 1, y + thumb_h - 1), outline=(180, 180, 180))
        ty = y + thumb_h + gap // 2
        for line in _wrap_label(label, font, thumb_width, label_lines):
            draw.text((x, ty), line, font=font, fill=_INK)
            ty += line_h
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out_png, format="PNG")
    return out_png
