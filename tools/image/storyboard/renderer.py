"""The storyboard renderer: composes backdrop, light, cast and panel into one frame per shot take, and makes the
fixes a retry asks for (fixes.py) where its drawing can."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageFont

from dramafactory.schemas import Shot
from dramafactory.tools.image.base import FigureBox, ImageRequest, ImageResult, feedback_history

from .backdrops import BACKDROPS
from .colour import PAPER, RGB, crc, scale
from .figure import Drawn, Painter, Place
from .fixes import Direction, read_feedback, redressed
from .insert import draw_insert
from .light import glow, lit, relight, tint_of
from .looks import look_of
from .panel import Tag, clip_box, compose, move_glyph, panel_layout
from .pen import SS, Pen
from .scene import Scene, Sky, setting_of
from .staging import place_cast, visible_characters

WITHHELD = "feedback withheld from the renderer (DRAMAFACTORY_RENDER_FEEDBACK=off): only the seed changed"


@dataclass
class Panel:
    """A frame drawn in memory: the image, where each character was drawn, and what the feedback changed."""

    image: Image.Image
    figures: list[FigureBox]
    applied: list[str]  # staging, lighting, framing, wardrobe: in that order, those the drawing changed
    ignored: list[str]  # what was asked that the drawing did not change, and why


class StoryboardRenderer:
    """Deterministic storyboard-panel renderer (Pillow + numpy, CPU). See the package docstring.

    `use_feedback=False` withholds the QC feedback from the drawing (a retry then differs by its seed only), so a
    drill can measure what acting on it is worth."""

    name = "storyboard"

    def __init__(self, use_feedback: bool = True) -> None:
        self.use_feedback = use_feedback
        self._fonts: dict[int, ImageFont.FreeTypeFont] = {}
        self._papers: dict[tuple[int, int], Image.Image] = {}

    def people_scorer(self):  # -> tools.image.base.PeopleScorer
        """The scorer that recognises the people this renderer draws: its own colour model (QC knows no drawing)."""
        from ..storyboard_people import StoryboardPeople

        return StoryboardPeople()

    def _font(self, size: int) -> ImageFont.FreeTypeFont:
        if size not in self._fonts:
            font = ImageFont.load_default(size=size)
            assert isinstance(font, ImageFont.FreeTypeFont)
            self._fonts[size] = font
        return self._fonts[size]

    def _paper(self, W: int, H: int) -> Image.Image:
        """The blank sheet: paper colour with fine grain and a few fibres (fixed, cached per size)."""
        if (W, H) not in self._papers:
            gen = np.random.default_rng(20240601)
            grain = gen.normal(0.0, 3.0, size=(H, W, 1)) * np.array([1.0, 0.97, 0.9])
            arr = (np.asarray(PAPER, np.float64)[None, None, :] + grain).round().clip(0, 255).astype(np.uint8)
            self._papers[(W, H)] = Image.fromarray(arr)
        return self._papers[(W, H)]

    def render(self, request: ImageRequest) -> ImageResult:
        started = time.perf_counter()
        panel = self.draw(request)
        out = Path(request.out_path)
        out.parent.mkdir(parents=True, exist_ok=True)
        panel.image.save(out, format="PNG", compress_level=3)
        return ImageResult(path=out, width=panel.image.width, height=panel.image.height,
                           seconds=time.perf_counter() - started, backend=self.name, figures=panel.figures,
                           applied=panel.applied, feedback_ignored=" | ".join(panel.ignored) or None,
                           model="storyboard", conditioning=["canonical-look"] if request.shot.characters else [])

    def direction(self, request: ImageRequest) -> Direction:
        """The fixes the shot's QC reasons so far ask of this take (none when feedback is withheld)."""
        notes = feedback_history(request)
        if not notes:
            return Direction()
        if not self.use_feedback:
            return Direction(ignored=[WITHHELD])
        return read_feedback(notes, request.shot)

    def draw(self, request: ImageRequest) -> Panel:
        """Render the frame in memory, with the fixes the request's feedback asks for."""
        shot, location = request.shot, request.location
        W, H = int(request.width), int(request.height)
        if W < 64 or H < 64:
            raise ValueError(f"frame {W}x{H} is too small for a storyboard panel (min 64x64)")
        missing = [n for n in shot.characters if n not in request.cast]
        if missing:
            raise KeyError(f"shot {shot.id} lists characters not in request.cast: {missing} "
                           f"(cast has {sorted(request.cast)})")
        direction = self.direction(request)
        shot, staged, ignored = _directed(shot, request, direction)
        cast, redressed_names, kept = redressed(request.cast, direction.redress)
        ignored += kept
        looks = {n: look_of(cast[n]) for n in shot.characters}
        rng = random.Random(request.seed)

        # ---- panel layout (final pixels)
        L, T, R, B = panel_layout(W, H)[3]
        pw, ph = R - L, B - T
        if ph < 32:
            raise ValueError(f"frame {W}x{H} leaves no room for the picture")

        # ---- picture canvas (supersampled)
        canvas = Image.new("RGB", (pw * SS, ph * SS), (128, 128, 128))
        setting = setting_of(location)
        sc = Scene(pw=pw, ph=ph, tod=shot.time_of_day, setting=setting, kind=location.kind,
                    layout=random.Random(crc(f"{location.name}|{setting}")))
        zoom = {"wide": 1.0, "medium": 1.45, "two-shot": 1.35, "over-shoulder": 1.5, "close-up": 2.1,
                "insert": 2.4}[shot.framing]
        if not shot.characters and shot.framing != "insert":
            zoom = min(zoom, 1.2)
        zoom *= 1 + rng.uniform(-0.02, 0.02)
        focus = (pw * 0.5 + rng.uniform(-6, 6), ph * (0.36 if setting not in ("rooftop",) else 0.5))
        bg = Pen(canvas, zoom * direction.zoom, focus)
        sky = Sky(bg, sc.tod, sc.horizon if setting != "rooftop" else ph * 0.55)
        BACKDROPS[setting](bg, sc, sky)

        # ---- lighting: tint, mid-contrast, lamps
        tint = tint_of(sc.tod, location.kind)
        soften = {"close-up": 0.38, "over-shoulder": 0.3, "insert": 0.42, "medium": 0.26, "two-shot": 0.26}.get(
            shot.framing, 0.16)
        mid = scale((150, 146, 140), (sum(tint) / 3) ** 0.7)
        lut = [round(v * tint[c] * (1 - soften) + mid[c] * soften) for c in range(3) for v in range(256)]
        canvas = canvas.point(lut)
        for gx, gy, gr, gcol, power in sc.glows:
            x, y = bg.p(gx, gy)
            glow(canvas, x, y, gr * bg.zoom * SS, gcol, power)
        sc.glows.clear()
        if shot.framing != "insert":  # the set is re-lit before the cast is drawn: people keep the bible's colours
            relight(canvas, direction.exposure, direction.contrast)

        def light(c: RGB) -> RGB:
            return lit(c, tint)

        # ---- characters
        fig_pen = Pen(canvas)
        painter = Painter(fig_pen, light)
        drawn: list[Drawn] = []
        tags: list[Tag] = []
        if shot.framing == "insert":
            hand_name = shot.speaker if shot.speaker in looks else (shot.characters[0] if shot.characters else None)
            insert_pen = Pen(canvas)
            hx, hy = draw_insert(insert_pen, sc, shot, looks[hand_name] if hand_name else None, light)
            relight(canvas, direction.exposure, direction.contrast)  # an insert is all set: nobody to recognise
            if hand_name:
                tags.append((f"{hand_name}'s hand", hx, hy, hx, hy, False))
        else:
            for pl in place_cast(shot, looks, pw, ph, rng, clear=direction.restage):
                drawn.append(painter.draw(looks[pl.name], _through(pl, direction.zoom, focus)))
        for fg in sc.foreground:
            fg(canvas)
        for gx, gy, gr, gcol, power in sc.glows:  # glows from insert props
            glow(canvas, gx * SS, gy * SS, gr * SS, gcol, power)
        if shot.camera_move != "static":
            r = min(pw, ph) * 0.075
            move_glyph(fig_pen, shot.camera_move, pw - r - 12, r + 12, r)

        picture = canvas.reduce(SS)

        # ---- figures (where QC and evals will find them) + the panel around the picture
        figures: list[FigureBox] = []
        order = {n: i for i, n in enumerate(shot.characters)}
        for dr in sorted(drawn, key=lambda dr: order[dr.name]):  # listed order = screen-left first
            box = clip_box(dr.box, L, T, pw, ph)
            face = clip_box(dr.face, L, T, pw, ph)
            if box is None or face is None:
                continue
            figures.append(FigureBox(name=dr.name, box=box, face_box=face))
            tags.append((f"{dr.name} (back)" if dr.back else dr.name, *[float(v) for v in dr.face], dr.back))
        img = compose(self._paper(W, H), picture, shot, request.seed, self._font, tags)
        applied = [kind for kind, changed in (
            ("staging", staged or (direction.restage and bool(drawn))),
            ("lighting", bool(direction.exposure or direction.contrast)),
            ("framing", direction.zoom != 1.0),
            ("wardrobe", bool(redressed_names & set(shot.characters)))) if changed]
        if direction.restage and not drawn:
            ignored.append("nobody is drawn in this shot, so there is nobody to re-stage")
        return Panel(img, figures, applied, [*direction.ignored, *ignored])


def _directed(shot: Shot, request: ImageRequest, direction: Direction) -> tuple[Shot, bool, list[str]]:
    """The shot with the cast the feedback names (exactly those people, in that order), whether that changes who
    is drawn, and the names it could not draw (no look for them in the request)."""
    if direction.cast is None:
        return shot, False, []
    unknown = [n for n in direction.cast if n not in request.cast]
    cast = [n for n in direction.cast if n in request.cast]
    directed = shot.model_copy(update={"characters": cast})
    notes = [f"{', '.join(unknown)}: no look for them in the request, so they cannot be drawn"] if unknown else []
    return directed, visible_characters(directed) != visible_characters(shot), notes


def _through(place: Place, zoom: float, focus: tuple[float, float]) -> Place:
    """A placement as the camera sees it after the framing fix: moved in (zoom > 1) or out about the focus."""
    if zoom == 1.0:
        return place
    fx, fy = focus
    return replace(place, cx=fx + (place.cx - fx) * zoom, cy=fy + (place.cy - fy) * zoom, h=place.h * zoom)
