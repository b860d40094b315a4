"""Find the characters a storyboard frame shows, from its pixels.

The storyboard renderer paints every character in the colours of their canonical look (wardrobe main and second
colour, hair, skin), lit by the shot's time of day and cel-shaded. So a character is on screen where a blob of their
wardrobe colour has their hair and skin colours just above it. This is the embedded default's "detector": it knows
the renderer's palette model (tools.image.storyboard.figure_colours), not where the renderer says it drew.

Black hair is painted in the colour of the outline ink, so every outline in the frame (other figures, props, the
panel's frame) looks like that hair, and backdrops paint many colours (lit windows, crates, skylines) that match a
wardrobe and a skin tone. A backdrop blob in someone's jacket colour with outlines and a skin-coloured patch above
it passed for that person. So for ink-coloured hair only a hair mass counts (`_hair_mass`): not a line, not a
piece of a longer line that runs on past the head, and sitting on the face (touching the skin).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from dramafactory.schemas import Character
from dramafactory.tools.image.storyboard import INK, figure_colours, shade

COLOUR_TOLERANCE = 7.0  # RGB distance left after the paper's grey factor is taken out
MIN_BLOB = 0.0015  # smallest wardrobe blob, as a share of the picture (a wide shot's figure is about 0.4%)
MIN_HEAD = 0.08  # hair or skin above the garment, relative to its size, for the blob to be a person...
MIN_HAIR = 0.01  # ...and some of it their hair: a hand in a sleeve, or a wall in their colours, has none
BACK_HAIR = 0.03  # a head seen from behind, close to the camera: its hair covers at least 3% of the picture
MIN_FILL = 0.2  # a garment fills a good part of its box
# The renderer's outlines are at most 5 px wide on the picture (and thinner once the picture is reduced), so no
# pixel of an ink line, even where two lines join, lies further than this from the line's edge (measured: 4.5 at
# most, on 360 px close-ups). Black hair at two-shot size or closer is thicker (6 or more, slicked-back the
# thinnest); a wide shot's is not, but there the outlines are too thin to join it to anything that runs on.
LINE_DEPTH = 5.0
# Hair is painted over the face, so hair and skin are adjacent: at most one blended pixel (the reduction averages
# the two fills) lies between them.
TOUCH = 2
PARTS = ("main", "second", "hair", "skin")


@dataclass(frozen=True)
class Sighting:
    name: str
    box: tuple[int, int, int, int]  # the figure (head to wardrobe), picture pixels: left, top, right, bottom
    cover: dict[str, float]  # part -> share of the figure box painted in that part's colour
    garment: tuple[int, int, int] = (0, 0, 0)  # the wardrobe's fill colour as painted
    back: bool = False  # seen from behind (no face to see)

    @property
    def centre_x(self) -> float:
        return (self.box[0] + self.box[2]) / 2

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]


def colour_mask(rgb: np.ndarray, colour: tuple[int, int, int], tolerance: float = COLOUR_TOLERANCE) -> np.ndarray:
    """Pixels painted in `colour` (flat or cel-shaded). The panel's paper blotches multiply the picture by a grey
    factor of 0.95-1.0, so a pixel matches when it is the colour times such a factor, give or take `tolerance`."""
    pixels = rgb.astype(np.float32)
    mask = np.zeros(rgb.shape[:2], dtype=bool)
    for target in (colour, shade(colour)):
        t = np.asarray(target, dtype=np.float32)
        factor = np.clip((pixels @ t) / max(float(t @ t), 1.0), 0.94, 1.01)
        residual = pixels - factor[..., None] * t
        mask |= (residual**2).sum(axis=2) < tolerance**2
    return mask


def dominant_colour(pixels: np.ndarray) -> tuple[int, int, int]:
    """The flat fill of a garment: the most common colour (in 8-level bins), averaged within its bin. Shading and
    anti-aliased edges are the minority, so they do not pull it as a median would."""
    if not len(pixels):
        return (0, 0, 0)
    bins = (pixels // 8).astype(np.int32)
    keys = bins[:, 0] * 1024 + bins[:, 1] * 32 + bins[:, 2]
    values, counts = np.unique(keys, return_counts=True)
    top = pixels[keys == values[np.argmax(counts)]]
    return tuple(int(v) for v in top.mean(axis=0).round())  # type: ignore[return-value]


def _boxes(mask: np.ndarray, min_pixels: float) -> list[tuple[int, int, int, int, int]]:
    """Connected blobs of a mask, largest first: (left, top, right, bottom, pixels)."""
    labels, count = ndimage.label(mask)
    if not count:
        return []
    sizes = ndimage.sum_labels(mask, labels, index=np.arange(1, count + 1))
    out = []
    for index, sl in enumerate(ndimage.find_objects(labels)):
        if sl is not None and sizes[index] >= min_pixels:
            out.append((sl[1].start, sl[0].start, sl[1].stop, sl[0].stop, int(sizes[index])))
    return sorted(out, key=lambda b: -b[4])


def _has_head(box: tuple[int, int, int, int, int], hair: np.ndarray, head: np.ndarray,
              min_head: float = MIN_HEAD) -> tuple[int, bool]:
    """Is there a head (hair, and hair or skin) just above this wardrobe blob? Returns the head region's top and the
    verdict. Amounts are relative to the garment's size, so the test holds for a wide shot's small figure and a
    close-up's shoulders alike."""
    pixels = box[4]
    hx0, hy0, hx1, hy1 = _head_region(box, hair.shape)
    if hx1 <= hx0 or hy1 <= hy0:
        return hy0, False
    hair_px, head_px = int(hair[hy0:hy1, hx0:hx1].sum()), int(head[hy0:hy1, hx0:hx1].sum())
    return hy0, hair_px >= MIN_HAIR * pixels and head_px >= min_head * pixels


def _head_region(box: tuple[int, int, int, int, int], shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """Where the head of a garment blob's wearer can be (left, top, right, bottom): above the blob, a little wider
    than it, up to 1.2 times that width high."""
    x0, y0, x1, y1, _ = box
    w = x1 - x0
    hx0, hx1 = max(0, x0 - w // 3), min(shape[1], x1 + w // 3)
    return hx0, max(0, y0 - int(1.2 * (hx1 - hx0))), hx1, y0 + max(2, (y1 - y0) // 10)


def _inky(colour: tuple[int, int, int]) -> bool:
    """Is this hair colour the outline ink's colour (black hair)? Then every outline looks like hair."""
    return bool(colour_mask(np.asarray([[INK]], dtype=np.uint8), colour).any())


def _disc(radius: int) -> np.ndarray:
    yy, xx = np.ogrid[-radius:radius + 1, -radius:radius + 1]
    return xx * xx + yy * yy <= radius * radius


def _hair_mass(hair: np.ndarray, face: np.ndarray, box: tuple[int, int, int, int, int]) -> np.ndarray:
    """The hair above a garment blob when the hair is painted in the ink colour, without the ink lines: a backdrop
    blob in a jacket colour has outlines above it too (of the panel, of a crate, of someone else's face). What is
    left must be one mass that
    - is thicker than a line: the thin outlines go with an opening (all of them at the product size);
    - is not a piece of a longer line: what survives of a thick outline (a close-up's at 360 px, or the thicker
      bits of a 2-3 px one) is joined, in the picture as painted, to ink that runs on past the head's
      neighbourhood, and is no thicker than a line (a long hair mass running on down the shoulders is thicker);
    - sits on a face: it touches the character's skin (`face`, a mass of skin); an eye, a lash line or an
      earring of another face does not.
    Of those masses, the one with the most pixels in the head region. Returns a picture-sized mask."""
    x0, y0, x1, y1, _ = box
    ph, pw = hair.shape
    hx0, hy0, hx1, hy1 = _head_region(box, hair.shape)
    margin = max(4, (x1 - x0) // 4)
    cx0, cy0 = max(0, hx0 - margin), max(0, hy0 - margin)
    cx1, cy1 = min(pw, hx1 + margin), min(ph, max(hy1, y1) + margin)
    out = np.zeros_like(hair)
    mass = ndimage.binary_opening(np.pad(hair[cy0:cy1, cx0:cx1], 1), iterations=1)[1:-1, 1:-1]
    if not mass.any():
        return out
    nets, count = ndimage.label(hair[cy0:cy1, cx0:cx1])  # what the ink joins, as painted (before the opening)
    nets[~mass] = 0
    index = np.arange(1, count + 1)
    depth = ndimage.maximum(ndimage.distance_transform_edt(mass), nets, index=index)
    edge = np.zeros(mass.shape, dtype=bool)  # the neighbourhood's edges that lie inside the picture
    edge[0, :], edge[:, 0] = cy0 > 0, cx0 > 0
    edge[-1, :] |= cy1 < ph
    edge[:, -1] |= cx1 < pw
    lines = index[np.isin(index, nets[edge]) & (depth <= LINE_DEPTH)]
    mass &= ~np.isin(nets, lines)
    labels, count = ndimage.label(mass)
    if not count:
        return out
    index = np.arange(1, count + 1)
    in_head = np.zeros(mass.shape, dtype=bool)
    in_head[hy0 - cy0:hy1 - cy0, hx0 - cx0:hx1 - cx0] = True
    share = ndimage.sum_labels(in_head, labels, index=index)
    near = ndimage.binary_dilation(face[cy0:cy1, cx0:cx1], iterations=TOUCH)
    share[ndimage.sum_labels(near, labels, index=index) == 0] = 0
    if share.max() > 0:
        out[cy0:cy1, cx0:cx1] = labels == index[int(np.argmax(share))]
    return out


def _garments(blobs: list[tuple[int, int, int, int, int]]) -> list[tuple[int, int, int, int, int]]:
    """Join the pieces of one garment: a shirt, a scarf or a tie splits a jacket into lapels and sleeves, side by
    side and about as tall as each other. A wall in a similar colour is much taller than a jacket, so it stays out."""
    groups: list[list[int]] = []
    used: set[int] = set()
    for i, (x0, y0, x1, y1, _) in enumerate(blobs):
        if i in used:
            continue
        group = [x0, y0, x1, y1, 0]
        members = [i]
        for j, other in enumerate(blobs):
            if j in used or j == i:
                continue
            h_a, h_b = group[3] - group[1], other[3] - other[1]
            gap = max(other[0] - group[2], group[0] - other[2])
            overlap = min(group[3], other[3]) - max(group[1], other[1])
            if gap <= max(group[2] - group[0], other[2] - other[0]) and overlap >= 0.5 * min(h_a, h_b) \
                    and max(h_a, h_b) <= 1.6 * min(h_a, h_b):
                group = [min(group[0], other[0]), min(group[1], other[1]), max(group[2], other[2]),
                         max(group[3], other[3]), 0]
                members.append(j)
        used.update(members)
        group[4] = sum(blobs[m][4] for m in members)
        groups.append(group)
    return sorted((tuple(g) for g in groups), key=lambda g: -g[4])  # type: ignore[misc]


def find_people(picture: np.ndarray, cast: dict[str, Character], time_of_day: str, kind: str,
                main_tolerance: float = COLOUR_TOLERANCE, back_view: bool = False) -> list[Sighting]:
    """Every cast member found in the picture (RGB array of the picture area), at most once each, left to right.
    A larger `main_tolerance` also finds a character whose wardrobe colour has drifted (the continuity check).
    `back_view` (over-shoulder shots) also looks for the foreground figure the renderer draws from behind."""
    found: list[Sighting] = []
    for name, character in cast.items():
        colours = figure_colours(character, time_of_day, kind)
        masks = {part: colour_mask(picture, colour, main_tolerance if part == "main" else COLOUR_TOLERANCE)
                 for part, colour in colours.items()}
        # black hair seen from behind: a large mass, so every line (thinner than LINE_DEPTH) can go
        back_hair = ndimage.binary_opening(masks["hair"], structure=_disc(round(LINE_DEPTH))) \
            if back_view and _inky(colours["hair"]) else masks["hair"]
        sighting = _from_behind(picture, name, masks, back_hair) if back_view else None
        if sighting is None:
            sighting = _facing(picture, name, colours, masks)
        if sighting is not None:
            found.append(sighting)
    return sorted(found, key=lambda s: s.centre_x)


def _facing(picture: np.ndarray, name: str, colours: dict, masks: dict[str, np.ndarray]) -> Sighting | None:
    """A figure facing the camera: a garment blob with the head (hair, skin) above it."""
    area = picture.shape[0] * picture.shape[1]
    # a grey or black garment (or grey hair) also matches outlines and shadows: then the skin must show too
    plain = max(colours["main"]) - min(colours["main"]) < 24
    head = masks["skin"] if plain else masks["hair"] | masks["skin"]
    # black hair: every outline looks like it, so only a hair mass sitting on a face counts (see _hair_mass). A face
    # is a mass of skin: the blended pixels along an outline take in-between colours that match some skin tones.
    face = ndimage.binary_opening(masks["skin"], iterations=1) if _inky(colours["hair"]) else None
    pieces = _boxes(ndimage.binary_opening(masks["main"], iterations=1), MIN_BLOB * area / 8)
    for blob in _garments(pieces[:12])[:6]:
        if blob[4] < MIN_BLOB * area:
            break
        if blob[4] < MIN_FILL * (blob[2] - blob[0]) * (blob[3] - blob[1]):
            continue  # scattered specks of the colour across the backdrop, not a garment
        if blob[3] - blob[1] < 0.25 * (blob[2] - blob[0]):
            continue  # a thin strip (a table edge, a skirting board) is not a torso
        hair = masks["hair"]
        if face is not None:
            hair = _hair_mass(hair, face, blob)
            head = masks["skin"] if plain else hair | masks["skin"]
        top, ok = _has_head(blob, hair, head, MIN_HEAD / 3 if plain else MIN_HEAD)
        if ok:
            box = (blob[0], min(top, blob[1]), blob[2], blob[3])
            garment = masks["main"][blob[1]:blob[3], blob[0]:blob[2]]
            return Sighting(name=name, box=box, cover=_cover(masks, box),
                            garment=dominant_colour(picture[blob[1]:blob[3], blob[0]:blob[2]][garment]))
    return None


def _from_behind(picture: np.ndarray, name: str, masks: dict[str, np.ndarray], hair: np.ndarray) -> Sighting | None:
    """The over-shoulder foreground figure, seen from behind at the bottom left: long hair may hide most of the
    garment, so look for a large hair mass (`hair`) reaching the bottom edge with some of the garment colour beside
    it."""
    ph, pw = hair.shape
    area = ph * pw
    for x0, y0, x1, y1, _ in _boxes(hair, BACK_HAIR * area)[:3]:
        if y1 < 0.85 * ph or (x0 + x1) / 2 > 0.45 * pw:
            continue
        box = (x0, y0, min(pw, x1 + (x1 - x0) * 6 // 10), ph)  # the shoulders reach past the hair
        garment = masks["main"][box[1]:box[3], box[0]:box[2]]
        if garment.sum() < MIN_BLOB * area:
            continue
        return Sighting(name=name, box=box, cover=_cover(masks, box), back=True,
                        garment=dominant_colour(picture[box[1]:box[3], box[0]:box[2]][garment]))
    return None


def _cover(masks: dict[str, np.ndarray], box: tuple[int, int, int, int]) -> dict[str, float]:
    return {part: round(float(masks[part][box[1]:box[3], box[0]:box[2]].mean()), 4) for part in PARTS}
