"""Subtitle cues: SRT export and burned-in overlays for portrait video frames.

Cues are in episode time (seconds from the start of the episode). ``to_srt`` writes a
standard SubRip file (speaker-less text); ``subtitle_overlay`` renders a cached RGBA band
(white text, dark outline, translucent box) that ``video.assemble_episode`` pastes (in
planes: ``SubtitleOverlay.planes``) onto every frame while the cue is active. Fonts come from ``PIL.ImageFont.load_default(size=N)``,
which ships with Pillow, so nothing depends on system fonts.
"""

from __future__ import annotations

import math
import textwrap
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from .yuv import YuvOverlay, yuv_overlay

__all__ = [
    "Cue",
    "SubtitleOverlay",
    "active_cue",
    "draw_subtitle",
    "font_safe",
    "format_timestamp",
    "subtitle_overlay",
    "to_srt",
    "wrap_text",
]

MAX_LINE_CHARS = 32
MAX_LINES = 2


@dataclass(frozen=True)
class Cue:
    """One subtitle line in episode time (seconds)."""

    start: float
    end: float
    text: str
    speaker: str = ""


def format_timestamp(seconds: float) -> str:
    """``HH:MM:SS,mmm`` as SRT wants it (negative times clamp to zero)."""
    total_ms = max(0, int(round(seconds * 1000.0)))
    hours, rem = divmod(total_ms, 3_600_000)
    minutes, rem = divmod(rem, 60_000)
    secs, ms = divmod(rem, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d},{ms:03d}"


def wrap_text(text: str, max_chars: int = MAX_LINE_CHARS, max_lines: int = MAX_LINES) -> list[str]:
    """Wrap ``text`` into at most ``max_lines`` lines of about ``max_chars`` characters.

    Text that does not fit is balanced over ``max_lines`` lines that run a little longer
    than ``max_chars`` rather than being cut.
    """
    clean = " ".join(text.split())
    if not clean:
        return []
    width = max_chars
    lines = textwrap.wrap(clean, width=width, break_long_words=False, break_on_hyphens=False)
    if len(lines) > max_lines:
        width = max(max_chars, math.ceil(len(clean) / max_lines))
        while True:
            lines = textwrap.wrap(clean, width=width, break_long_words=False, break_on_hyphens=False)
            if len(lines) <= max_lines:
                break
            width += 1
    elif len(lines) == 2 and len(lines[1]) < len(lines[0]) // 3:
        # Avoid a lonely orphan word on the second line: rebalance the two lines.
        balanced = textwrap.wrap(clean, width=math.ceil(len(clean) / 2) + 1, break_long_words=False)
        if len(balanced) == 2:
            lines = balanced
    return lines


def to_srt(cues: Iterable[Cue]) -> str:
    """Standard SRT text: 1-based index, ``start --> end``, wrapped speaker-less text."""
    blocks: list[str] = []
    ordered = sorted((c for c in cues if c.text.strip()), key=lambda c: (c.start, c.end))
    for index, cue in enumerate(ordered, start=1):
        end = max(cue.end, cue.start)
        lines = wrap_text(cue.text)
        blocks.append(f"{index}\n{format_timestamp(cue.start)} --> {format_timestamp(end)}\n" + "\n".join(lines) + "\n")
    return "\n".join(blocks)


def active_cue(cues: Sequence[Cue], t: float) -> Cue | None:
    """The cue shown at time ``t`` (start inclusive, end exclusive); the latest start wins on overlap."""
    found: Cue | None = None
    for cue in cues:
        if cue.start <= t < cue.end and (found is None or cue.start >= found.start):
            found = cue
    return found


_FONT_SAFE = str.maketrans({"\u2014": " - ", "\u2013": "-", "\u2212": "-", "\u00a0": " ", "\u2009": " "})


def font_safe(text: str) -> str:
    """Text drawable with Pillow's bundled default font, which has no dashes or accented letters.

    Em/en dashes become hyphens and accents are stripped (``café`` -> ``cafe``, ``…`` -> ``...``);
    curly quotes are kept (the font has them). SRT output keeps the original text.
    """
    text = text.translate(_FONT_SAFE)
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped


@dataclass(frozen=True)
class SubtitleOverlay:
    """A pre-rendered subtitle band: paste ``rgb`` at ``(0, top)`` through ``mask``."""

    rgb: Image.Image
    mask: Image.Image
    top: int

    def apply(self, frame: Image.Image) -> None:
        """Composite the band onto an RGB ``frame`` in place."""
        frame.paste(self.rgb, (0, self.top), self.mask)

    def planes(self, frame_height: int) -> YuvOverlay:
        """The band for a planar (yuv420p) frame ``frame_height`` rows high: what the assembler pastes."""
        return yuv_overlay(self.rgb, self.mask, self.top, frame_height)


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _text_width(font: ImageFont.FreeTypeFont | ImageFont.ImageFont, text: str, stroke: int) -> float:
    left, _top, right, _bottom = font.getbbox(text, stroke_width=stroke)
    return float(right - left)


@lru_cache(maxsize=256)
def subtitle_overlay(text: str, width: int, height: int) -> SubtitleOverlay | None:
    """Render (once, cached) the subtitle band for ``text`` on a ``width`` x ``height`` frame.

    White text with a dark outline on a translucent dark box, centred horizontally, sitting in
    the bottom ~20% of the frame. Returns None for empty text.
    """
    lines = wrap_text(font_safe(text))
    if not lines:
        return None
    size = max(10, round(width * 0.05))
    stroke = max(1, round(size / 12))
    font = _font(size)
    max_text_w = width * 0.9
    widest = max(_text_width(font, line, stroke) for line in lines)
    while widest > max_text_w and size > 10:
        size = max(10, int(size * max_text_w / widest))
        stroke = max(1, round(size / 12))
        font = _font(size)
        widest = max(_text_width(font, line, stroke) for line in lines)

    ascent, descent = font.getmetrics() if isinstance(font, ImageFont.FreeTypeFont) else (size, size // 4)
    line_h = ascent + descent + stroke * 2
    gap = max(2, size // 6)
    pad_x = max(4, size // 2)
    pad_y = max(3, size // 4)
    block_h = len(lines) * line_h + (len(lines) - 1) * gap
    box_w = min(width, int(widest + 2 * pad_x))
    box_h = block_h + 2 * pad_y

    # The band's bottom edge sits ~8% above the frame bottom: inside the bottom 20%, clear of UI chrome.
    bottom = int(height * 0.92)
    top = max(0, bottom - box_h)
    band = Image.new("RGBA", (width, box_h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(band)
    box_left = (width - box_w) // 2
    draw.rounded_rectangle(
        (box_left, 0, box_left + box_w - 1, box_h - 1), radius=max(2, size // 4), fill=(0, 0, 0, 150)
    )
    y = pad_y
    for line in lines:
        line_w = _text_width(font, line, stroke)
        x = (width - line_w) / 2
        draw.text(
            (x, y + stroke),
            line,
            font=font,
            fill=(255, 255, 255, 255),
            stroke_width=stroke,
            stroke_fill=(0, 0, 0, 255),
        )
        y += line_h + gap
    rgb = band.convert("RGB")
    mask = band.getchannel("A")
    return SubtitleOverlay(rgb=rgb, mask=mask, top=top)


def draw_subtitle(frame: Image.Image, text: str) -> None:
    """Burn ``text`` into an RGB ``frame`` in place (bottom band, centred)."""
    overlay = subtitle_overlay(text, frame.width, frame.height)
    if overlay is None:
        return
    if frame.mode != "RGB":
        raise ValueError(f"draw_subtitle expects an RGB frame, got mode {frame.mode!r}")
    overlay.apply(frame)
