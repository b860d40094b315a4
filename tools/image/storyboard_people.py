"""The storyboard renderer's people-scorer: it finds the characters a storyboard frame shows from its pixels.

The renderer paints every character in the colours of their canonical look (wardrobe main and second colour, hair,
skin), lit by the shot's time of day and cel-shaded. So a character is on screen where a blob of their wardrobe
colour has their hair and skin colours just above it. This module knows the renderer's palette model
(`figure_colours`, `shade`, the ink) and its panel layout, never where the renderer says it drew. It sits beside the
renderer, on the backend's side: QC asks it through the PeopleScorer protocol (base.py) and knows no drawing.

Black hair is painted in the colour of the outline ink, so every outline in the frame (other figures, props, the
panel's frame) looks like that hair, and backdrops paint many colours (lit windows, crates, skylines) that match a
wardrobe and a skin tone. A backdrop blob in someone's jacket colour with outlines and a skin-coloured patch above
it passed for that person. So for ink-coloured hair only a hair mass counts (`_hair_mass`): not a line, not a
piece of a longer line that runs on past the head, and sitting on the face (touching the skin).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

from dramafactory.schemas import Character, Location, Look, Shot, Voice
from dramafactory.tools.image.base import Garment, PeopleReading, Sighting
from dramafactory.tools.image.storyboard import INK, figure_colours, picture_box, shade, visible_characters

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
class Figure:
    """A cast member found by their painted colours."""

    name: str
    box: tuple[int, int, int, int]  # the figure (head to wardrobe), picture pixels: left, top, right, bottom
    cover: dict[str, float]  # part -> share of the figure box painted in that part's colour
    garment: tuple[int, int, int] = (0, 0, 0)  # the wardrobe's fill colour as painted
    back: bool = False  # seen from behind (no face to see)

    @property
    def centre_x(self) -> float:
        return (self.box[0] + self.box[2]) / 2


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
                main_tolerance: float = COLOUR_TOLERANCE, back_view: bool = False) -> list[Figure]:
    """Every cast member found in the picture (RGB array of the picture area), at most once each, left to right.
    A larger `main_tolerance` also finds a character whose wardrobe colour has drifted (the continuity check).
    `back_view` (over-shoulder shots) also looks for the foreground figure the renderer draws from behind."""
    found: list[Figure] = []
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


def _facing(picture: np.ndarray, name: str, colours: dict, masks: dict[str, np.ndarray]) -> Figure | None:
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
            return Figure(name=name, box=box, cover=_cover(masks, box),
                            garment=dominant_colour(picture[blob[1]:blob[3], blob[0]:blob[2]][garment]))
    return None


def _from_behind(picture: np.ndarray, name: str, masks: dict[str, np.ndarray], hair: np.ndarray) -> Figure | None:
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
        return Figure(name=name, box=box, cover=_cover(masks, box), back=True,
                        garment=dominant_colour(picture[box[1]:box[3], box[0]:box[2]][garment]))
    return None


def _cover(masks: dict[str, np.ndarray], box: tuple[int, int, int, int]) -> dict[str, float]:
    return {part: round(float(masks[part][box[1]:box[3], box[0]:box[2]].mean()), 4) for part in PARTS}


# --- identity and wardrobe: what QC's identity and continuity checks are given --------------------------------

FEATURES = ("main", "hair", "skin")
MIN_COVER = {"main": 0.05, "hair": 0.003, "skin": 0.003}  # share of the figure box: each feature must really be there
BACK_FEATURES = ("main", "hair")
MIN_COVER_BACK = {"main": 0.01, "hair": 0.1}  # a head seen from behind fills its box with hair
LOOSE = 60.0  # colour tolerance for finding a drifted garment (a 25-45 degree hue turn moves it by 30-80)
DETECT_WIDTH = 340  # people are found on the picture reduced to about this width


def identity(figure: Figure) -> float:
    """The share of the character's look features painted on the figure: from behind there is no face, so the
    hair and the garment are what can be checked."""
    features, minimum = (BACK_FEATURES, MIN_COVER_BACK) if figure.back else (FEATURES, MIN_COVER)
    return len([f for f in features if figure.cover[f] >= minimum[f]]) / len(features)


def _distance(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    return float(np.linalg.norm(np.asarray(a, float) - np.asarray(b, float)))


def measured_garments(picture: np.ndarray, shot: Shot, references: dict[str, Character | None], kind: str,
                      seen: list[Figure]) -> dict[str, tuple[int, int, int]]:
    """Each visible character's wardrobe colour as painted. Characters already found with their exact colours
    (`seen`) are measured there; the others are searched again with a loose tolerance, to measure a drift."""
    visible = visible_characters(shot)
    out = {s.name: s.garment for s in seen if s.name in visible and references.get(s.name) is not None}
    rest = {n: c for n, c in references.items() if c is not None and n in visible and n not in out}
    if rest:
        out |= {s.name: s.garment for s in find_people(picture, rest, shot.time_of_day, kind, main_tolerance=LOOSE,
                                                     back_view=shot.framing == "over-shoulder")}
    return out


class StoryboardPeople:
    """The PeopleScorer (base.py) of the storyboard renderer: its colour model."""

    name = "storyboard"

    def picture(self, frame: np.ndarray) -> np.ndarray:
        left, top, right, bottom = picture_box(frame.shape[1], frame.shape[0])
        return frame[top:bottom, left:right]

    def _reduced(self, frame: np.ndarray) -> np.ndarray:
        """The picture area, box-averaged down to about 340 px wide: painted fills stay exact, and finding people
        costs a quarter (or less) of working at full size."""
        picture = self.picture(frame)
        factor = max(1, picture.shape[1] // DETECT_WIDTH)
        if factor == 1:
            return picture
        return np.asarray(Image.fromarray(picture).reduce(factor))

    def read(self, frame: np.ndarray, shot: Shot, cast: dict[str, Character],
             references: dict[str, Character | None], location: Location) -> PeopleReading:
        picture = self._reduced(frame)
        figures = find_people(picture, cast, shot.time_of_day, location.kind,
                              back_view=shot.framing == "over-shoulder")
        garments = {}
        for name, painted in measured_garments(picture, shot, references, location.kind, figures).items():
            reference = references[name]
            assert reference is not None  # measured_garments measures only characters with a canonical look
            canonical = figure_colours(reference, shot.time_of_day, location.kind)["main"]
            garments[name] = Garment(colour=painted, shaded=shade(painted),
                                     drift=min(_distance(painted, canonical), _distance(painted, shade(canonical))))
        seen = [Sighting(name=f.name, box=f.box, identity=identity(f), back=f.back) for f in figures]
        return PeopleReading(visible=visible_characters(shot), seen=seen, width=picture.shape[1], garments=garments)

    def count(self, frame: np.ndarray) -> int | None:
        """Front-facing faces in the picture, knowing nobody's look (see `count_faces`)."""
        picture = self.picture(frame)
        factor = max(1, picture.shape[1] // COUNT_WIDTH)
        if factor > 1:
            picture = np.asarray(Image.fromarray(picture).reduce(factor))
        return len(count_faces(picture))


# --- counting people without a cast: faces in the renderer's skin tones, with a pair of eyes --------------------

# The skin words the renderer has a colour for (another word gets a hashed colour no list can know, and its face
# is not counted). Their colours come from the renderer's own model (`figure_colours`), under every light.
SKIN_WORDS = ("porcelain", "pale", "fair", "light", "medium", "olive", "golden", "tan", "light brown", "brown",
              "dark brown", "deep brown", "dark", "ebony")
COUNT_WIDTH = 720  # faces are counted at up to this width: a wide shot's eyes are 3-6 px there, gone at 340
MIN_FACE, MAX_FACE = 0.0008, 0.2  # a face's skin as a share of the picture (a wide shot's is about 0.2%)
FACE_ASPECT = (0.8, 1.7)  # height over width of the face's skin (hair covers the forehead)
FACE_FILL = 0.55  # a face fills most of its box; a backdrop's skin-coloured patchwork does not
EYE_MIN, EYE_MAX = 0.004, 0.025  # an eye (a hole in the face's skin) as a share of the face
_SKINS: np.ndarray | None = None


def _skin_colours() -> np.ndarray:
    global _SKINS
    if _SKINS is None:
        lit = set()
        for word in SKIN_WORDS:
            probe = Character(name="Skin Probe", role="probe", gender="female", age=30, wardrobe="dress",
                              look=Look(hair_color="black", hair_style="bob", skin_tone=word, build="slim",
                                        face="none", palette=["#000000", "#ffffff"]),
                              voice=Voice(description="none", voice_id="none"))
            for time_of_day in ("dawn", "day", "dusk", "night"):
                for kind in ("interior", "exterior"):
                    lit.add(figure_colours(probe, time_of_day, kind)["skin"])
        _SKINS = np.asarray(sorted(lit | {shade(c) for c in lit}), dtype=np.float32)  # faces are cel-shaded
    return _SKINS


def skin_mask(picture: np.ndarray) -> np.ndarray:
    """Pixels in any of the renderer's skin colours (as `colour_mask`, with the paper's grey factor), tested once
    per distinct colour: a panel has far fewer colours than pixels."""
    colours, index = np.unique(picture.reshape(-1, 3), axis=0, return_inverse=True)
    pixels = colours.astype(np.float32)
    hit = np.zeros(len(pixels), dtype=bool)
    for target in _skin_colours():
        factor = np.clip((pixels @ target) / float(target @ target), 0.94, 1.01)
        hit |= ((pixels - factor[:, None] * target) ** 2).sum(axis=1) < COLOUR_TOLERANCE**2
    return hit[index.ravel()].reshape(picture.shape[:2])


def _eye_pair(face: np.ndarray) -> bool:
    """Two eyes in a face's skin: holes of about one size, side by side at one height in its middle. The renderer
    draws every facing head with them (whites, iris, lashes in ink); a hand, a neck, a wall or a window has none."""
    h, w = face.shape
    holes = ndimage.binary_fill_holes(face) & ~face
    labels, count = ndimage.label(holes)
    if count < 2:
        return False
    index = np.arange(1, count + 1)
    sizes = ndimage.sum_labels(holes, labels, index)
    area = float(face.sum())
    keep = (sizes >= max(4.0, EYE_MIN * area)) & (sizes <= EYE_MAX * area)
    if keep.sum() < 2:
        return False
    centres, sizes = np.asarray(ndimage.center_of_mass(holes, labels, index[keep])), sizes[keep]
    for a in range(len(sizes)):
        for b in range(a + 1, len(sizes)):
            (ya, xa), (yb, xb) = centres[a], centres[b]
            if max(sizes[a], sizes[b]) <= 1.8 * min(sizes[a], sizes[b]) and abs(ya - yb) <= 0.06 * h \
                    and 0.25 <= abs(xa - xb) / w <= 0.65 and 0.2 <= (ya + yb) / 2 / h <= 0.75:
                return True
    return False


def count_faces(picture: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Boxes of the front-facing faces in a picture (RGB): skin-coloured blobs of a face's size and shape with a
    pair of eyes. Measured on 312 storyboard frames (13 settings x 4 times x 6 framings, 0-3 people): it never
    counted a face that was not there, and found 91% of the faces (a wide shot's smallest ones are missed, and a
    head seen from behind has no face), at least one in every frame that showed anyone but one close-up."""
    area = picture.shape[0] * picture.shape[1]
    labels, _ = ndimage.label(skin_mask(picture))
    out = []
    for index, sl in enumerate(ndimage.find_objects(labels)):
        if sl is None:
            continue
        face = labels[sl] == index + 1
        pixels = int(face.sum())
        h, w = face.shape
        if not MIN_FACE * area <= pixels <= MAX_FACE * area or not FACE_ASPECT[0] <= h / w <= FACE_ASPECT[1]:
            continue
        if pixels >= FACE_FILL * h * w and _eye_pair(face):
            out.append((sl[1].start, sl[0].start, sl[1].stop, sl[0].stop))
    return out
