"""A small labelled set of footage-like 720x1280 (9:16) frames, built by code from photographs that ship inside
installed packages (nothing downloaded, nothing written to disk: every frame is composed on the fly, deterministic).

Sources, each a photograph of a real person or scene, with the provenance its package states:
- "collins": scikit-image `data.astronaut()`, astronaut Eileen Collins (NASA Great Images, public domain).
- "hopper": matplotlib `cbook.get_sample_data("grace_hopper.jpg")`, Commodore Grace Hopper (US Navy photo, a work
  of the US federal government, public domain).
- strangers: three faces of scikit-image `data.lfw_subset()`, 25x25 grey crops from Labeled Faces in the Wild
  (UMass Amherst; news photographs collected from the web, no licence stated by LFW; the people are unnamed in the
  subset). Used only as uncast, unknown faces, upscaled from 25 px, and never written out.
- profile: scikit-image `data.camera()`, a man filming with a camcorder, in profile (CC0 by the photographer,
  Lav Varshney): a person the frontal face detector is known to miss, kept as the set's one documented blind spot.
- no person: scikit-image `coffee` (CC0, Rachel Michetti), `rocket` (SpaceX, public domain), `chelsea` (a cat,
  CC0, Stefan van der Walt), `brick` and `gravel` (CC0 Textures), `grass` (DeviantArt, CC0); also backgrounds.

Transformations: 9:16 crops around the face, horizontal flips, scale changes that set the framing (the face box at
~0.30-0.42 of frame height for close-ups, ~0.14-0.20 for mediums, ~0.04-0.065 for wides), lighting (gamma 0.6 and
1.8, darker x0.45, warmer), pastes of a face (feathered ellipse) onto another background and onto the other
person's body (a face swap), two people in one frame, uncast strangers beside or instead of the cast, and frames
with no person.

References: one reference sheet per cast member, a tight head crop on a grey 512x512 sheet (`reference_sheet`) that
no test frame uses (test frames use other crops, scales, flips and lighting), so identity is tested across crops.

What this set cannot show (say it whenever its numbers are quoted):
- 2 cast identities and 1 photograph each: every same-person pair is the same photograph re-cropped, rescaled or
  relit, so same-person distances are far smaller than between two different shots of an actor, let alone two
  diffusion-model renderings of one character; different-person pairs are only Collins-Hopper and 3 strangers.
- No real generated footage (no diffusion artefacts, no drifting faces, no motion blur or compression).
- No profiles or three-quarter views it can detect (the one profile is missed by design of HOG), no occlusion,
  no sunglasses/masks, no crowds, no children, no darker skin tones among the cast: the cast is two white women.
- The photos are busts: a "medium" or "wide" frame is a bust scaled down on a background, not a real waist-up or
  full-figure shot, and the framing labels are set by construction from the face size each frame is built at.
- Composites have hard paste edges; lighting changes are global.
- 40 frames (4 close-ups, 5 wides): one error moves a per-frame rate by 2.5 points and a class of 4 by 25; treat
  the rates as a smoke test, not a benchmark.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

W, H = 720, 1280
SERIES = "footage-eval"
CAST = ("collins", "hopper")
FRAMINGS = ("close-up", "medium", "wide", "two-shot")

Box = tuple[int, int, int, int]

# The faces in the source photographs as dlib's HOG detector boxes them (upsample=1), used to place and scale each
# photo so its face lands at a chosen size; the frames' own faces are detected afresh by the eval.
SOURCE_FACE: dict[str, Box] = {"collins": (175, 76, 266, 167), "hopper": (180, 139, 367, 326)}
# The LFW crops are faces filling the 25x25 chip; dlib boxes an upscaled chip at ~0.87 of its side.
STRANGERS = {"stranger-1": 1, "stranger-2": 20, "stranger-3": 51}  # name -> index in data.lfw_subset()


@dataclass(frozen=True)
class FaceTruth:
    who: str  # a cast name, "stranger-N", or "profile"
    box: Box  # where the face was placed in the frame (detections are matched to it by their centre)
    frontal: bool = True  # False: a face the frontal detector is not expected to find


@dataclass(frozen=True)
class FootageItem:
    id: str
    kind: str
    expected: tuple[str, ...]  # the shot's cast list: what QC compares the frame against
    faces: tuple[FaceTruth, ...]  # who truly is on screen, and where
    framing: str | None  # the framing the frame was built at; None for frames without a person
    note: str
    make: Callable[[], np.ndarray] = field(compare=False, repr=False)

    @property
    def shows(self) -> tuple[str, ...]:
        """The cast members truly on screen, sorted."""
        return tuple(sorted({f.who for f in self.faces if f.who in CAST}))

    @property
    def people(self) -> int:
        """Everyone on screen (cast, strangers, a profile)."""
        return len(self.faces)

    def frame(self) -> np.ndarray:
        return self.make()


# --- sources -------------------------------------------------------------------------------------------------------

@functools.cache
def photo(name: str) -> np.ndarray:
    """A source photograph as uint8 RGB (read-only: the cache hands out the same array)."""
    if name == "hopper":
        from matplotlib import cbook

        image = np.asarray(Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)).convert("RGB"))
    elif name in STRANGERS:
        from skimage import data

        chip = data.lfw_subset()[STRANGERS[name]]  # float 0-1, 25x25
        image = np.stack([(chip * 255).round().astype(np.uint8)] * 3, axis=-1)
    else:
        from skimage import data

        image = getattr(data, {"collins": "astronaut"}.get(name, name))()
        if image.dtype == bool:
            image = image.astype(np.uint8) * 255
        if image.ndim == 2:
            image = np.stack([image] * 3, axis=-1)
    image = np.ascontiguousarray(image[:, :, :3])
    image.setflags(write=False)
    return image


def source_face(name: str) -> Box:
    if name in STRANGERS:
        return (0, 0, 25, 25)
    return SOURCE_FACE[name]


def background(name: str) -> Image.Image:
    """A 720x1280 background: a package photo scaled to cover the frame and centre-cropped, or a studio grey."""
    if name == "studio":
        ramp = np.linspace(70, 30, H, dtype=np.float32)[:, None, None]  # a soft vertical falloff, like a backdrop
        return Image.fromarray(np.broadcast_to(ramp, (H, W, 3)).astype(np.uint8).copy())
    image = Image.fromarray(photo(name))
    scale = max(W / image.width, H / image.height)
    size = (round(image.width * scale), round(image.height * scale))
    image = image.resize(size, Image.Resampling.BICUBIC)
    left, top = (size[0] - W) // 2, (size[1] - H) // 2
    return image.crop((left, top, left + W, top + H))


# --- composition ---------------------------------------------------------------------------------------------------

def place(canvas: Image.Image, who: str, face_frac: float, centre: tuple[float, float], *, mirror: bool = False,
          keep: Box | None = None, source: np.ndarray | None = None, feather: Box | None = None) -> Box:
    """Paste a photo into the canvas, scaled so its face box is `face_frac` of the frame height, with the face centre
    at `centre` (fractions of width/height). keep: the part of the photo (source pixels) to paste, default all.
    feather: paste only a feathered ellipse around this source box (a pasted face). Returns the face's frame box."""
    image = source if source is not None else photo(who)
    fl, ft, fr, fb = source_face(who)
    scale = face_frac * H / (fb - ft)
    kl, kt, kr, kb = keep or (0, 0, image.shape[1], image.shape[0])
    if mirror:  # flip the photo, and every source box with it
        image = image[:, ::-1]
        width = image.shape[1]
        fl, fr = width - fr, width - fl
        kl, kr = width - kr, width - kl
        if feather:
            feather = (width - feather[2], feather[1], width - feather[0], feather[3])
    part = Image.fromarray(np.ascontiguousarray(image[kt:kb, kl:kr]))
    size = (max(1, round(part.width * scale)), max(1, round(part.height * scale)))
    part = part.resize(size, Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BICUBIC)
    cx, cy = centre[0] * W, centre[1] * H
    left = round(cx - ((fl + fr) / 2 - kl) * scale)
    top = round(cy - ((ft + fb) / 2 - kt) * scale)
    mask = None
    if feather:
        mask = Image.new("L", size, 0)
        el, et, er, eb = ((feather[0] - kl) * scale, (feather[1] - kt) * scale,
                          (feather[2] - kl) * scale, (feather[3] - kt) * scale)
        ImageDraw.Draw(mask).ellipse((el, et, er, eb), fill=255)
        mask = mask.filter(ImageFilter.GaussianBlur(max(1.0, 0.06 * (er - el))))
    canvas.paste(part, (left, top), mask)
    box = (left + (fl - kl) * scale, top + (ft - kt) * scale, left + (fr - kl) * scale, top + (fb - kt) * scale)
    return tuple(int(round(v)) for v in box)  # type: ignore[return-value]


def face_swap(body: str, face: str) -> np.ndarray:
    """`face`'s face (a feathered ellipse, brows to chin and cheek to cheek) pasted over `body`'s face, scaled to fit.
    The result keeps `body`'s face box (SOURCE_FACE[body])."""
    target = Image.fromarray(photo(body))
    bl, bt, br, bb = SOURCE_FACE[body]
    fl, ft, fr, fb = SOURCE_FACE[face]
    grow = 0.12  # a little beyond the detector's box, so the swap carries the whole jaw and brows
    gx, gy = grow * (fr - fl), grow * (fb - ft)
    region = (round(fl - gx), round(ft - gy), round(fr + gx), round(fb + gy))
    patch = Image.fromarray(photo(face)).crop(region)
    size = (round((br - bl) * (1 + 2 * grow)), round((bb - bt) * (1 + 2 * grow)))
    patch = patch.resize(size, Image.Resampling.LANCZOS)
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).ellipse((0, 0, size[0] - 1, size[1] - 1), fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(0.06 * size[0]))
    target.paste(patch, (round(bl - grow * (br - bl)), round(bt - grow * (bb - bt))), mask)
    return np.asarray(target)


def relight(frame: np.ndarray, how: str) -> np.ndarray:
    """Global lighting changes: a generated shot's exposure and white balance drift like this between takes."""
    x = frame.astype(np.float32) / 255.0
    if how.startswith("gamma"):
        x = x ** float(how[len("gamma"):])
    elif how == "darker":
        x = x * 0.45
    elif how == "warmer":
        x = x * np.array([1.12, 1.0, 0.78], np.float32)
    else:
        raise ValueError(f"unknown lighting change {how!r}")
    return (np.clip(x, 0, 1) * 255).round().astype(np.uint8)


def reference_sheet(who: str) -> np.ndarray:
    """The reference sheet of a cast member: a tight head crop (hair to chin) on a grey 512x512 sheet, the face
    ~200 px. No test frame uses this crop (the frames use the whole photo or other crops, other scales, flips and
    lighting), so the eval tests identity across crops, if only of one photograph."""
    fl, ft, fr, fb = SOURCE_FACE[who]
    fw, fh = fr - fl, fb - ft
    keep = (max(0, round(fl - 0.45 * fw)), max(0, round(ft - 0.6 * fh)), round(fr + 0.45 * fw), round(fb + 0.25 * fh))
    crop = Image.fromarray(photo(who)).crop(keep)
    scale = 200 / fh
    crop = crop.resize((round(crop.width * scale), round(crop.height * scale)), Image.Resampling.BICUBIC)
    sheet = Image.new("RGB", (512, 512), (128, 128, 128))
    sheet.paste(crop, ((512 - crop.width) // 2, (512 - crop.height) // 2))
    return np.asarray(sheet)


# --- the items -----------------------------------------------------------------------------------------------------

Placement = tuple[str, float, tuple[float, float], dict]  # who, face fraction, centre, place() keywords


def _composite(bg: str, placements: list[Placement], light: str | None = None) -> tuple[Callable[[], np.ndarray],
                                                                                          tuple[FaceTruth, ...]]:
    """A frame maker and the truth boxes of its faces (computed once by composing the frame)."""

    def make() -> np.ndarray:
        canvas = background(bg)
        for who, frac, centre, kw in placements:
            place(canvas, who.split("@")[0], frac, centre, **kw)
        frame = np.asarray(canvas)
        return relight(frame, light) if light else frame

    probe = Image.new("RGB", (W, H))
    truths = tuple(FaceTruth(who.split("@")[-1], place(probe, who.split("@")[0], frac, centre, **kw))
                   for who, frac, centre, kw in placements)
    return make, truths


def _item(id: str, kind: str, expected: tuple[str, ...], framing: str | None, note: str, bg: str,
          placements: list[Placement], light: str | None = None) -> FootageItem:
    make, truths = _composite(bg, placements, light)
    return FootageItem(id, kind, tuple(sorted(expected)), truths, framing, note, make)


def _empty(id: str, name: str, note: str) -> FootageItem:
    def make() -> np.ndarray:
        return np.asarray(background(name))

    return FootageItem(id, "no_person", (), (), None, note, make)


def _profile() -> FootageItem:
    scale, top = W / 512, 280  # the 512 px photo scaled to the frame width, its top 280 px down

    def make() -> np.ndarray:
        canvas = background("grass")
        canvas.paste(Image.fromarray(photo("camera")).resize((W, W), Image.Resampling.BICUBIC), (0, top))
        return np.asarray(canvas)

    # the cameraman's face (ear to nose, hairline to chin) lies at about (175-255, 110-200) of the photo
    truth = FaceTruth("profile", (round(175 * scale), round(110 * scale) + top, round(255 * scale),
                                  round(200 * scale) + top), frontal=False)
    return FootageItem("profile-cameraman", "profile", (), (truth,), "medium",
                       "a man in profile behind a camcorder: HOG's frontal detector misses him (a known blind spot)",
                       make)


@functools.cache
def items() -> tuple[FootageItem, ...]:
    """The labelled set (40 frames), in a fixed order."""
    c, h = "collins", "hopper"
    mirror = {"mirror": True}
    out = [
        # close-ups: the photo cropped 9:16 around the face and scaled up to fill the frame
        _item("close-c", "close_up", (c,), "close-up", "Collins, face 0.30 of height", "studio",
              [(c, 0.30, (0.5, 0.36), {})]),
        _item("close-c-flip", "close_up", (c,), "close-up", "Collins mirrored, 0.34, off-centre", "studio",
              [(c, 0.34, (0.42, 0.33), mirror)]),
        _item("close-h", "close_up", (h,), "close-up", "Hopper, 0.36", "studio", [(h, 0.36, (0.5, 0.38), {})]),
        _item("close-h-flip", "close_up", (h,), "close-up", "Hopper mirrored, 0.42", "studio",
              [(h, 0.42, (0.55, 0.4), mirror)]),
        # mediums: the bust smaller, a location behind
        _item("medium-c", "medium", (c,), "medium", "Collins 0.14 on brick", "brick", [(c, 0.14, (0.5, 0.42), {})]),
        _item("medium-c-flip", "medium", (c,), "medium", "Collins mirrored 0.18 on grass, left of centre", "grass",
              [(c, 0.18, (0.4, 0.3), mirror)]),
        _item("medium-h", "medium", (h,), "medium", "Hopper 0.16 on brick", "brick", [(h, 0.16, (0.5, 0.35), {})]),
        _item("medium-h-flip", "medium", (h,), "medium", "Hopper mirrored 0.20 on gravel", "gravel",
              [(h, 0.20, (0.6, 0.32), mirror)]),
        # wides: a small figure in a large frame
        _item("wide-c", "wide", (c,), "wide", "Collins 0.045 on grass", "grass", [(c, 0.045, (0.35, 0.55), {})]),
        _item("wide-c-flip", "wide", (c,), "wide", "Collins mirrored 0.06 on rocket", "rocket",
              [(c, 0.06, (0.65, 0.6), mirror)]),
        _item("wide-h", "wide", (h,), "wide", "Hopper 0.04 on gravel", "gravel", [(h, 0.04, (0.5, 0.62), {})]),
        _item("wide-h-flip", "wide", (h,), "wide", "Hopper mirrored 0.065 on brick", "brick",
              [(h, 0.065, (0.3, 0.5), mirror)]),
        # lighting changes on mediums
        _item("light-c-gamma18", "lighting", (c,), "medium", "Collins 0.16, gamma 1.8 (darker midtones)", "brick",
              [(c, 0.16, (0.5, 0.38), {})], light="gamma1.8"),
        _item("light-c-dark", "lighting", (c,), "medium", "Collins 0.17, x0.45 exposure", "grass",
              [(c, 0.17, (0.45, 0.4), mirror)], light="darker"),
        _item("light-h-warm", "lighting", (h,), "medium", "Hopper 0.15, warmer white balance", "brick",
              [(h, 0.15, (0.5, 0.4), {})], light="warmer"),
        _item("light-h-gamma06", "lighting", (h,), "medium", "Hopper 0.18 mirrored, gamma 0.6 (washed out)", "gravel",
              [(h, 0.18, (0.5, 0.36), mirror)], light="gamma0.6"),
        # a face (feathered ellipse with some hair) pasted onto another location
        _item("paste-c-coffee", "paste", (c,), "medium", "Collins' head pasted on the coffee photo", "coffee",
              [(c, 0.16, (0.5, 0.4), {"feather": (140, 10, 300, 200)})]),
        _item("paste-h-rocket", "paste", (h,), "medium", "Hopper's head pasted on the rocket photo", "rocket",
              [(h, 0.15, (0.45, 0.45), {"feather": (150, 20, 400, 360), "mirror": True})]),
        # two people in one frame
        _item("two-shot", "two_people", (c, h), "two-shot", "Collins left, Hopper right, 0.14 / 0.15", "brick",
              [(c, 0.14, (0.27, 0.35), {"keep": (110, 0, 340, 512)}),
               (h, 0.15, (0.74, 0.37), {"keep": (140, 0, 420, 600)})]),
        _item("two-shot-swap", "two_people", (c, h), "two-shot", "Hopper left (mirrored), Collins right", "grass",
              [(h, 0.13, (0.27, 0.4), {"keep": (140, 0, 420, 600), "mirror": True}),
               (c, 0.15, (0.73, 0.38), {"keep": (110, 0, 340, 512), "mirror": True})]),
        _item("two-wide", "two_people", (c, h), "wide", "both small on gravel, 0.05 / 0.055", "gravel",
              [(c, 0.05, (0.3, 0.55), {}), (h, 0.055, (0.7, 0.6), {})]),
        # the wrong person: someone else where the shot wanted a cast member
        _item("swap-h-on-c", "wrong_person", (c,), "medium", "Hopper's face on Collins' body (a face swap)", "brick",
              [(f"{c}@{h}", 0.16, (0.5, 0.4), {"source": face_swap(c, h)})]),
        _item("swap-c-on-h", "wrong_person", (h,), "medium", "Collins' face on Hopper's body", "grass",
              [(f"{h}@{c}", 0.16, (0.5, 0.4), {"source": face_swap(h, c)})]),
        _item("wrong-cast", "wrong_person", (c,), "medium", "the shot wants Collins, Hopper stands in", "brick",
              [(h, 0.17, (0.5, 0.4), {})]),
        _item("wrong-stranger", "wrong_person", (h,), "medium", "the shot wants Hopper, a stranger stands in",
              "gravel", [("stranger-1", 0.15, (0.5, 0.4), {})]),
        # a missing person
        _item("missing-h", "missing_person", (c, h), "medium", "the shot wants both, only Collins is there", "brick",
              [(c, 0.15, (0.35, 0.4), {"keep": (110, 0, 340, 512)})]),
        _item("missing-c", "missing_person", (c, h), "medium", "the shot wants both, only Hopper is there", "grass",
              [(h, 0.17, (0.6, 0.38), {})]),
        # an extra person: everyone expected is there, and someone else too
        _item("extra-stranger", "extra_person", (c,), "two-shot", "Collins and a stranger", "brick",
              [(c, 0.15, (0.28, 0.38), {"keep": (110, 0, 340, 512)}),
               ("stranger-2", 0.14, (0.74, 0.38), {})]),
        _item("extra-cast", "extra_person", (h,), "two-shot", "the shot wants Hopper, Collins walks in", "gravel",
              [(h, 0.15, (0.72, 0.38), {"keep": (140, 0, 420, 600)}),
               (c, 0.14, (0.27, 0.4), {"keep": (110, 0, 340, 512), "mirror": True})]),
        # strangers alone: a shot without cast
        _item("stranger-1", "stranger", (), "medium", "an LFW face, 0.15, grey, upscaled from 25 px", "studio",
              [("stranger-1", 0.15, (0.5, 0.35), {})]),
        _item("stranger-2", "stranger", (), "medium", "an LFW face, 0.18", "brick",
              [("stranger-2", 0.18, (0.45, 0.4), {})]),
        _item("stranger-3", "stranger", (), "medium", "an LFW face, 0.14, mirrored", "grass",
              [("stranger-3", 0.14, (0.55, 0.4), mirror)]),
        # no person at all
        _empty("empty-coffee", "coffee", "a coffee cup"),
        _empty("empty-rocket", "rocket", "a rocket launch"),
        _empty("empty-chelsea", "chelsea", "a cat's face (not a person)"),
        _empty("empty-brick", "brick", "a brick wall"),
        _empty("empty-grass", "grass", "grass"),
        _empty("empty-studio", "studio", "an empty grey backdrop"),
        _empty("empty-gravel", "gravel", "gravel"),
        _profile(),
    ]
    assert len({i.id for i in out}) == len(out)
    return tuple(out)
