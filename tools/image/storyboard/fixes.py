"""What a retry asks of the storyboard renderer: the QC reasons of a shot's earlier takes, read into the fixes its
drawing can make.

A take that failed QC comes back with its reason (`ImageRequest.feedback`; earlier reasons ride in the revised
prompt, base.feedback_history). `REASONS` is the one table from the kinds of QC reason (the texts of
agents/qc/scorers and the QC agent) to what the drawing changes:

    staging   someone missing or hidden: everyone is staged clear of the frame's edges and of each other; a wrong
              cast: exactly the people QC names as the shot's ("the shot shows: ..."), in the order it names them
    lighting  too dark / too bright: exposure compensation on the set, in the direction of the failure; clipped:
              the set's tones pulled in from pure black and white; flat: more contrast
    framing   the people read as wide on a closer shot, or close on a wide: the camera moves in or out (a close-up
              that reads as wide is showing too little of its person: it is re-staged instead); a duplicate
              of the previous shot: the camera moves a little (out on a wide or an over-shoulder, else in); a
              stranger in an insert: the camera moves in on the prop
    wardrobe  a drifted or wrong look: the colours QC names (the canonical wardrobe colour, hair, skin) are
              painted exactly

The cast is lit by the bible's colours whatever the set's light: people are recognised by those colours, so a
re-lit set never makes anyone unrecognisable. What no drawing change can answer (noise, blur, a wrong size: the
storyboard draws none of them; a missing canonical look; words it does not know) is kept in `ignored`, with why,
so the take can say that only the seed changed. Fixes add up over a shot's retries: a fix that cured one failure
stays in place when the next take fails for another reason, and a failure that comes back gets a second step.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from dramafactory.schemas import Character, Shot

ZOOM_STEP = 1.4  # the camera moves in or out by this factor per framing fix
NUDGE = 1.2  # a smaller move, for a duplicate or a prop shot that caught someone


@dataclass
class Direction:
    """The fixes for one take, from every reason asked so far."""

    restage: bool = False  # stage everyone clear of the edges and of each other
    cast: list[str] | None = None  # draw exactly these people, screen-left first (None: the shot's)
    exposure: int = 0  # steps of exposure compensation on the set: + brighter, - darker
    contrast: int = 0  # + more contrast (a flat frame), - tones pulled in from the clip points
    zoom: float = 1.0  # the camera: > 1 closer, < 1 wider
    redress: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> look fields QC named
    ignored: list[str] = field(default_factory=list)  # what was asked that no drawing change answers, and why


@dataclass(frozen=True)
class Reason:
    """One kind of QC reason: its text, and what it asks of the drawing (None: nothing can be drawn for it)."""

    pattern: re.Pattern[str]
    act: Callable[[re.Match[str], Direction, Shot], None] | None = None
    why: str = ""  # for reasons no drawing change answers: why


def _names(text: str) -> list[str]:
    return [] if text.strip() == "nobody" else [n.strip() for n in text.split(",") if n.strip()]


def _light(exposure: int = 0, contrast: int = 0) -> Callable[[re.Match[str], Direction, Shot], None]:
    def act(_m: re.Match[str], d: Direction, _shot: Shot) -> None:
        d.exposure += exposure
        d.contrast += contrast
    return act


def _zoom(factor: float) -> Callable[[re.Match[str], Direction, Shot], None]:
    def act(_m: re.Match[str], d: Direction, _shot: Shot) -> None:
        d.zoom *= factor
    return act


def _closer(_m: re.Match[str], d: Direction, shot: Shot) -> None:
    if shot.framing == "close-up":
        # its face already fills the frame, so the person cannot look small for want of a closer camera: only part
        # of them shows (the frame cuts the shoulders), so they are staged whole inside it
        d.restage = True
    else:
        d.zoom *= ZOOM_STEP


def _restage(_m: re.Match[str], d: Direction, _shot: Shot) -> None:
    d.restage = True


def _cast(m: re.Match[str], d: Direction, _shot: Shot) -> None:
    d.cast = _names(m["names"])


def _not_wanted(m: re.Match[str], d: Direction, shot: Shot) -> None:
    # the reason also names the shot's cast ("the shot shows: ..."), which `_cast` applies; without it, leave out
    # the people named
    if d.cast is None:
        d.cast = [n for n in shot.characters if n not in _names(m["names"])]


def _nobody(_m: re.Match[str], d: Direction, _shot: Shot) -> None:
    d.cast = []


def _duplicate(_m: re.Match[str], d: Direction, shot: Shot) -> None:
    # a wide that moved in would stop reading as wide, and an over-shoulder would lose its foreground shoulder
    d.zoom *= 1 / NUDGE if shot.framing in ("wide", "over-shoulder") else NUDGE


def _identity(m: re.Match[str], d: Direction, _shot: Shot) -> None:
    d.redress.setdefault(m["name"], {}).update(hair=m["hair"], skin=m["skin"], wardrobe=m["wardrobe"],
                                               main=m["main"].lower())
    d.restage = True  # where the look was right already, the features were hidden: show the person clearly


def _drift(m: re.Match[str], d: Direction, _shot: Shot) -> None:
    d.redress.setdefault(m["name"], {})["main"] = m["main"].lower()


def _keep(m: re.Match[str], d: Direction, _shot: Shot) -> None:
    d.redress.setdefault(m["name"], {})  # the canonical colours of the request, painted exactly


START = r"(?:^|(?<=; ))"  # a reason's own start: the QC report joins its reasons with "; "
NAMES = r"(?P<names>[^;()]+?)"
HEX = r"(?P<main>#[0-9A-Fa-f]{6})"

REASONS: list[Reason] = [
    # lighting (technical scorers)
    Reason(re.compile(r"the frame is almost black(?:; fix the exposure)?"), _light(exposure=+1)),
    Reason(re.compile(r"the frame is almost white(?:; fix the exposure)?"), _light(exposure=-1)),
    Reason(re.compile(r"\d+% of the frame is clipped to pure black or white"), _light(contrast=-1)),
    Reason(re.compile(r"the frame is one flat colour(?:; draw the scene)?"), _light(contrast=+1)),
    # framing (adherence, duplicate)
    Reason(re.compile(r"the people are framed wide \(small, full figure\); the shot is a [\w-]+"), _closer),
    Reason(re.compile(r"the people are framed close; the shot is a wide"), _zoom(1 / ZOOM_STEP)),
    Reason(re.compile(r"the frame repeats shot \S+?; show this shot's own framing and action"), _duplicate),
    Reason(re.compile(START + r"an insert shows the prop, but [^;]+? is in the frame(?:; frame only the object)?"),
           _zoom(NUDGE)),
    # staging (adherence)
    Reason(re.compile(START + NAMES + r" (?:is|are) not in the frame"), _restage),
    Reason(re.compile(START + NAMES + r" should not be in this shot"), _not_wanted),
    Reason(re.compile(START + r"the shot lists nobody: show the empty location"), _nobody),
    Reason(re.compile(r" ?\(the shot shows: (?P<names>[^()]*)\)"), _cast),
    Reason(re.compile(START + r"screen order is [^;]+?; it must be (?P<names>[^;]+?) from the left"
                      r"(?: \(keep screen direction\))?"), _cast),
    # wardrobe (identity, continuity)
    Reason(re.compile(START + r"(?P<name>[^;:]+?) does not look like (?P=name): draw (?P<hair>[^;]+?) hair, "
                      r"(?P<skin>[^;]+?) skin, (?P<wardrobe>[^;]*?) \(" + HEX + r"\)"), _identity),
    Reason(re.compile(START + r"(?P<name>[^;:]+?)'s wardrobe has drifted from the canonical " + HEX +
                      r"(?:: keep '[^']*')?"), _drift),
    Reason(re.compile(START + r"(?P<name>[^;:]+?)'s wardrobe changed colour since the previous shot of the scene"
                      r"(?:; keep it as it was)?"), _keep),
    # what no drawing change answers
    Reason(re.compile(r"the frame is noise, not a picture(?:; render the scene)?"),
           why="the storyboard draws no noise, so it has nothing to change for it"),
    Reason(re.compile(r"the frame is blurred(?:; render it sharp)?"),
           why="the storyboard draws sharp lines, so it has nothing to change for it"),
    Reason(re.compile(r"the frame is \d+x\d+; it must be \d+x\d+ \(9:16 portrait\)"),
           why="the storyboard always draws the requested size"),
    Reason(re.compile(START + r"[^;]*cannot be read[^;]*"), why="every take is written as a new file"),
    Reason(re.compile(START + r"no canonical look for [^;]+?(?:; register the bible's characters before rendering)?"),
           why="a look missing from the continuity memory is not the drawing's to supply"),
    Reason(re.compile(START + r"[^;]*(?:no scorer can check|no identity scorer|declares no people-scorer)[^;]*"),
           why="a check no scorer made is a person's to make"),
    Reason(re.compile(START + r"[^;]*CLIP[^;]*"), why="the storyboard does not draw from the prompt's words"),
    # a reviewer's note ("reviewer: ..."), in words a person would use
    Reason(re.compile(r"\b(?:too dark|under-?exposed|brighter)\b", re.I), _light(exposure=+1)),
    Reason(re.compile(r"\b(?:too bright|over-?exposed|darker)\b", re.I), _light(exposure=-1)),
    Reason(re.compile(r"\b(?:wider|zoom out|pull back)\b", re.I), _zoom(1 / NUDGE)),
    Reason(re.compile(r"\b(?:closer|tighter|push in)\b", re.I), _zoom(NUDGE)),
]


def read_feedback(notes: list[str], shot: Shot) -> Direction:
    """The fixes the reasons in `notes` (oldest first) ask of this shot's drawing, and what they ask that the
    drawing cannot do."""
    direction = Direction()
    for note in notes:
        text = note.removeprefix("reviewer: ").strip()
        covered = [False] * len(text)
        for reason in REASONS:
            for m in reason.pattern.finditer(text):
                covered[m.start():m.end()] = [True] * (m.end() - m.start())
                if reason.act is not None:
                    reason.act(m, direction, shot)
                else:
                    direction.ignored.append(f"{m.group(0)}: {reason.why}")
        left, start = [], 0
        for fragment in text.split("; "):  # what no reason matched, a fragment at a time
            end = start + len(fragment)
            if fragment.strip() and not any(covered[start:end]):
                left.append(fragment.strip())
            start = end + 2
        if left:
            direction.ignored.append(f"{'; '.join(left)}: not a reason this renderer knows how to draw for")
    return direction


def redressed(cast: dict[str, Character], redress: dict[str, dict[str, str]]
              ) -> tuple[dict[str, Character], set[str], list[str]]:
    """The cast with the looks QC named painted exactly: the canonical wardrobe colour, and for a wrong look also
    the hair, skin and wardrobe it names (QC holds the canonical look; the request may carry a misread one). Returns
    the cast, who changed, and notes for those already drawn as QC names them."""
    out, changed, notes = dict(cast), set(), []
    for name, named in redress.items():
        character = cast.get(name)
        if character is None:
            notes.append(f"{name}: no look for them in the request, so nothing to re-dress")
            continue
        look, update, wardrobe = character.look, {}, character.wardrobe
        if "main" in named and look.palette[0].lower() != named["main"]:
            update["palette"] = [named["main"], *look.palette[1:]]
        if "hair" in named:  # QC writes "<colour> <style> hair": the style is the request's unless it says otherwise
            text = named["hair"]
            colour = text[:-len(look.hair_style) - 1] if text.endswith(f" {look.hair_style}") else text
            if colour.lower() != look.hair_color.lower():
                update["hair_color"] = colour
        if "skin" in named and named["skin"].lower() != look.skin_tone.lower():
            update["skin_tone"] = named["skin"]
        if named.get("wardrobe") and named["wardrobe"] != wardrobe:
            wardrobe = named["wardrobe"]
        if update or wardrobe != character.wardrobe:
            out[name] = character.model_copy(update={"look": look.model_copy(update=update), "wardrobe": wardrobe})
            changed.add(name)
        else:
            notes.append(f"{name} is already drawn in the canonical look QC names")
    return out, changed, notes
