"""What a free-text prompt claims about a frame beyond who is in it (how many people, the time of day, interior or
exterior), checked from the pixels. Used by `dramafactory qc FRAME --prompt TEXT`, where no shot spec says these.

Time of day is read from the sky at the top of the picture: a night sky is dark and blue, a day sky bright and
blue, a dawn sky pale lavender-pink, a dusk sky warm and dim. Only a band that is sky-coloured almost throughout is
read; anything else (a ceiling, a wall, a head at the top of a close-up) leaves the time "not judged". A sky across
the whole width of the picture's top fifth means the frame shows the outside; nothing here proves an interior (a
room's window shows sky too), so an interior is judged only when that open sky contradicts it.

Calibration (storyboard frames, 13 settings x 4 times x 6 framings at 720x1280, 312 frames): the time was read on
82 of 96 exteriors and 13 of 216 interiors (sky through a window or windscreen), and never wrong; the open sky was
found on 23 exteriors and no interior. The numbers are the colour ranges of those skies with a margin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from dramafactory.schemas import ScoreResult

BAND = (0.01, 0.08)  # rows of the picture read for the time of day: its top, where a sky is
BAND_COLUMNS = (0.3, 0.7)  # the middle columns: a street's buildings and a room's walls stand at the sides
SKY_SHARE = 0.9  # share of the band that must be one sky's colour
OPEN_DEPTH = 0.2  # open sky: every column sky-coloured down to this share of the picture's height...
OPEN_SHARE = 0.9  # ...in this share of the columns
FILL_DEPTH = 0.4  # the sky is looked for down to here, so a moon low in the open-sky band is surrounded by it


@dataclass(frozen=True)
class PromptClaims:
    """What a prompt says the frame shows, where its words say so (None: it does not say)."""

    people: int | None = None  # how many people (0: nobody)
    mentions_people: bool = False  # it speaks of people (someone, a man, names) without saying how many
    time_of_day: str | None = None
    kind: str | None = None  # "interior" or "exterior"


@dataclass(frozen=True)
class SkyReading:
    time_of_day: str | None  # None: no sky to read
    open_sky: bool  # sky across the whole top of the picture: the frame shows the outside


def _skies(pixels: np.ndarray) -> dict[str, np.ndarray]:
    """Which pixels are sky-coloured, per time of day (RGB float array)."""
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    return {
        "night": (y < 60) & (b - r >= 12) & (b - g >= 10),
        "day": (y >= 135) & (b - r >= 35) & (b - g >= 15),
        "dawn": (y >= 115) & (y < 150) & (r >= g) & (b >= g + 5),
        "dusk": (y >= 70) & (y < 115) & (r >= g + 15) & (b >= g - 1),
    }


def read_sky(picture: np.ndarray) -> SkyReading:
    """The time of day the sky at the top of the picture shows, and whether it is open sky (RGB uint8 array)."""
    pixels = picture.astype(np.float32)
    h, w = pixels.shape[:2]
    band = pixels[int(BAND[0] * h):max(int(BAND[1] * h), int(BAND[0] * h) + 1),
                  int(BAND_COLUMNS[0] * w):int(BAND_COLUMNS[1] * w)]
    shares = {tod: float(mask.mean()) for tod, mask in _skies(band).items()} if band.size else {}
    best = max(shares, key=lambda tod: shares[tod]) if shares else None
    time_of_day = best if best is not None and shares[best] >= SKY_SHARE else None
    region = pixels[int(BAND[0] * h):max(int(FILL_DEPTH * h), 1)]
    sky = np.zeros(region.shape[:2], dtype=bool)
    for mask in _skies(region).values():
        sky |= mask
    # what the sky surrounds is in the sky too (the moon, the sun, clouds, stars); a window's frame is not
    top = ndimage.binary_fill_holes(sky)[:max(int((OPEN_DEPTH - BAND[0]) * h), 1)]
    open_sky = bool(top.size) and float(top.all(axis=0).mean()) >= OPEN_SHARE
    return SkyReading(time_of_day=time_of_day, open_sky=open_sky)


def score_time_of_day(claimed: str, sky: SkyReading) -> ScoreResult:
    if sky.time_of_day is None:
        return ScoreResult(scorer="time_of_day", score=0.0, threshold=1.0, passed=False, judged=False,
                           reason=f"the prompt asks for {claimed}, but the frame shows no sky to read the time of "
                                  f"day from: a person must check it")
    ok = sky.time_of_day == claimed
    return ScoreResult(scorer="time_of_day", score=1.0 if ok else 0.0, threshold=1.0, passed=ok,
                       reason="" if ok else f"the frame shows a {sky.time_of_day} sky; the prompt asks for "
                                            f"{claimed}: light the scene for {claimed}")


def score_interior_exterior(claimed: str, sky: SkyReading) -> ScoreResult:
    if sky.open_sky:
        ok = claimed == "exterior"
        return ScoreResult(scorer="interior_exterior", score=1.0 if ok else 0.0, threshold=1.0, passed=ok,
                           reason="" if ok else "the frame shows open sky across its top, an exterior; the prompt "
                                                "asks for an interior")
    return ScoreResult(scorer="interior_exterior", score=0.0, threshold=1.0, passed=False, judged=False,
                       reason=f"the prompt asks for an {claimed}; nothing in the frame settles interior or "
                              f"exterior: a person must check it")


def score_people_count(claimed: int | None, seen: int | None, backend: str) -> ScoreResult:
    """`seen`: the people the backend's people-scorer counted (it can miss small or turned-away figures, never
    counts one that is not there), None when the backend has no scorer that can count."""
    asked = "nobody" if claimed == 0 else f"{claimed} {'person' if claimed == 1 else 'people'}"
    if claimed is None:  # the prompt speaks of people but says neither who nor how many
        return ScoreResult(scorer="people_count", score=0.0, threshold=1.0, passed=False, judged=False,
                           reason="who is in the frame is not judged: pass --bible (and --character), or say how "
                                  "many people the frame shows ('two people', 'nobody')")
    if seen is None:
        return ScoreResult(scorer="people_count", score=0.0, threshold=float(claimed), passed=False, judged=False,
                           reason=f"the prompt asks for {asked}, but the {backend} backend declares no people-scorer "
                                  f"that can count people: a person must check it")
    found = "nobody" if seen == 0 else f"{seen} {'person' if seen == 1 else 'people'}"
    if seen > claimed:
        return ScoreResult(scorer="people_count", score=float(seen), threshold=float(claimed), passed=False,
                           reason=f"the frame shows {found}; the prompt asks for {asked}")
    if seen < claimed:
        return ScoreResult(scorer="people_count", score=float(seen), threshold=float(claimed), passed=False,
                           judged=False, reason=f"{found} found where the prompt asks for {asked}: small or "
                                                f"turned-away figures can be missed, so a person must check it")
    return ScoreResult(scorer="people_count", score=float(seen), threshold=float(claimed), passed=True, reason="")
