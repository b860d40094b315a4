"""A character's drawing parameters from their canonical look (the words of the bible mapped to colours and
shapes), and the colours QC looks for: both derive from the Character alone, so they agree in every shot."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from dramafactory.schemas import Character

from .colour import RGB, crc, hash_colour, hex_rgb, mix
from .light import lit, tint_of

T = TypeVar("T")


HAIR_COLOURS: dict[str, RGB] = {
    "black": (30, 27, 32),
    "jet black": (18, 16, 22),
    "blue black": (24, 28, 48),
    "dark brown": (62, 40, 28),
    "brown": (98, 64, 38),
    "chestnut": (120, 62, 34),
    "light brown": (150, 108, 68),
    "auburn": (150, 58, 32),
    "red": (178, 56, 30),
    "ginger": (200, 96, 40),
    "copper": (184, 98, 48),
    "strawberry blonde": (222, 150, 100),
    "dirty blonde": (176, 146, 92),
    "honey blonde": (214, 164, 88),
    "blonde": (226, 190, 112),
    "blond": (226, 190, 112),
    "golden": (230, 180, 80),
    "platinum blonde": (238, 230, 204),
    "platinum": (238, 230, 204),
    "silver": (196, 198, 208),
    "grey": (150, 150, 152),
    "gray": (150, 150, 152),
    "salt-and-pepper": (120, 118, 118),
    "salt and pepper": (120, 118, 118),
    "white": (236, 234, 230),
    "pink": (232, 140, 170),
    "blue": (70, 110, 190),
    "purple": (120, 70, 150),
    "green": (70, 140, 100),
}

SKIN_TONES: dict[str, RGB] = {
    "porcelain": (252, 228, 214),
    "pale": (248, 222, 206),
    "fair": (246, 214, 192),
    "light": (236, 198, 166),
    "medium": (216, 170, 130),
    "olive": (202, 164, 118),
    "golden": (214, 168, 114),
    "tan": (196, 144, 100),
    "tanned": (196, 144, 100),
    "light brown": (176, 122, 82),
    "brown": (150, 98, 62),
    "dark brown": (108, 68, 44),
    "deep brown": (96, 60, 40),
    "dark": (100, 64, 42),
    "ebony": (78, 50, 34),
}

BUILDS: dict[str, tuple[float, float]] = {  # shoulder width factor, height factor
    "slim": (0.94, 1.0),
    "slender": (0.92, 1.0),
    "athletic": (1.1, 1.02),
    "muscular": (1.2, 1.03),
    "broad": (1.24, 1.03),
    "petite": (0.88, 0.91),
    "small": (0.88, 0.92),
    "stocky": (1.2, 0.95),
    "heavy": (1.3, 0.98),
    "average": (1.0, 1.0),
    "tall lanky": (0.93, 1.09),
    "lanky": (0.93, 1.08),
    "tall": (1.02, 1.07),
    "short": (0.98, 0.93),
}

EYE_COLOURS: dict[str, RGB] = {
    "green": (60, 130, 80),
    "blue": (60, 110, 180),
    "grey": (120, 130, 140),
    "gray": (120, 130, 140),
    "hazel": (130, 100, 50),
    "amber": (170, 110, 30),
    "brown": (80, 50, 30),
    "violet": (120, 80, 160),
}


def lookup(word: str, table: dict[str, T], fallback: Callable[[str], T]) -> T:
    key = " ".join(word.lower().replace("_", " ").split())
    if key in table:
        return table[key]
    hits = [k for k in table if k in key]
    if hits:
        return table[max(hits, key=len)]
    return fallback(key)


@dataclass(frozen=True)
class FigureLook:
    """A character's drawing parameters, derived only from the Character (identical in every shot)."""

    name: str
    female: bool
    hair: RGB
    style: str
    skin: RGB
    width: float
    height: float
    main: RGB
    second: RGB
    accent: RGB | None
    outfit: str  # suit | top | dress | skirt
    neck: str  # tie | scarf | necklace | none
    eyes: RGB
    features: frozenset[str]
    age: int
    greying: bool = False  # salt-and-pepper or greying hair: drawn with light streaks at the temples


GREYING_WORDS = ("salt", "greying", "graying", "grizzled", "streaked grey", "streaked gray")


HAIR_STYLES = ("long", "wavy", "bob", "ponytail", "bun", "curly", "short", "buzz", "slick")


def _hair_style(text: str, key: str) -> str:
    t = text.lower()
    rules = [("buzz", "buzz"), ("shaved", "buzz"), ("bald", "buzz"), ("crew", "buzz"), ("slick", "slick"),
             ("swept back", "slick"), ("pony", "ponytail"), ("braid", "ponytail"), ("bun", "bun"),
             ("updo", "bun"), ("curl", "curly"), ("afro", "curly"), ("coil", "curly"), ("bob", "bob"),
             ("wav", "wavy"), ("shoulder", "wavy"), ("long", "long"), ("straight", "long"), ("short", "short"),
             ("crop", "short"), ("pixie", "short"), ("undercut", "short")]
    for word, style in rules:
        if word in t:
            return style
    return HAIR_STYLES[crc(key + t) % len(HAIR_STYLES)]


def look_of(c: Character) -> FigureLook:
    look = c.look
    female = c.gender == "female"
    width, height = lookup(look.build, BUILDS, lambda _w: (1.0, 1.0))
    if c.age < 14:
        height *= 0.7
    elif c.age < 17:
        height *= 0.92
    elif c.age >= 65:  # the old stand a little shorter and fuller: read beside a grown child at the same distance
        width, height = width * 1.04, height * 0.97
    pal = [hex_rgb(p) for p in look.palette]
    wardrobe = c.wardrobe.lower()
    h = crc(c.name)
    if any(w in wardrobe for w in ("dress", "gown")):
        outfit = "dress"
    elif "skirt" in wardrobe:
        outfit = "skirt"
    elif any(w in wardrobe for w in ("suit", "blazer", "jacket", "coat", "tuxedo", "vest")):
        outfit = "suit"
    elif any(w in wardrobe for w in ("hoodie", "sweater", "t-shirt", "tee", "scrubs", "uniform", "jumper", "shirt")):
        outfit = "top"
    else:
        outfit = ("dress", "suit", "top", "skirt")[h % 4] if female else ("suit", "top")[h % 2]
    accent = pal[2] if len(pal) > 2 else None
    if "tie" in wardrobe.split() or "necktie" in wardrobe or "bow tie" in wardrobe:
        neck = "tie"
    elif "scarf" in wardrobe:
        neck = "scarf"
    elif "necklace" in wardrobe or "pearls" in wardrobe or "pendant" in wardrobe:
        neck = "necklace"
    elif accent is None:
        neck = "none"
    else:
        neck = ("scarf", "necklace")[h % 2] if female else ("tie" if outfit == "suit" else "none")
    face = look.face.lower()
    eyes = (60, 40, 30)
    for word, colour in EYE_COLOURS.items():
        if f"{word} eye" in face or f"{word}-eye" in face:
            eyes = colour
    feats = {f for f in ("glasses", "spectacles", "scar", "freckle", "beard", "stubble", "moustache", "mustache",
                         "mole", "beauty mark", "earring", "piercing", "goatee", "wrinkle", "dimple", "tattoo")
             if f in face}
    if "spectacles" in feats:
        feats.add("glasses")
    if "mustache" in feats:
        feats.add("moustache")
    if "beauty mark" in feats:
        feats.add("mole")
    return FigureLook(
        name=c.name, female=female,
        hair=lookup(look.hair_color, HAIR_COLOURS, lambda w: hash_colour(w, 0.45, 0.45)),
        style=_hair_style(look.hair_style, c.name),
        skin=lookup(look.skin_tone, SKIN_TONES, lambda w: mix((220, 176, 140), hash_colour(w, 0.4, 0.7), 0.25)),
        width=width * (0.86 if female else 1.0), height=height * (0.95 if female else 1.0),
        main=pal[0], second=pal[1], accent=accent, outfit=outfit, neck=neck, eyes=eyes,
        features=frozenset(feats), age=c.age,
        greying=any(w in look.hair_color.lower() for w in GREYING_WORDS),
    )


def figure_colours(character: Character, time_of_day: str, kind: str) -> dict[str, RGB]:
    """The colours a character is painted in under this light: wardrobe main and second colour, hair, skin.
    Each appears flat and cel-shaded, so QC looks for both."""
    lk, tint = look_of(character), tint_of(time_of_day, kind)
    hair, skin = lit(lk.hair, tint), lit(lk.skin, tint)
    if lk.style == "buzz":  # stubble over skin, as Painter draws it
        hair = mix(hair, skin, 0.35)
    return {"main": lit(lk.main, tint), "second": lit(lk.second, tint), "hair": hair, "skin": skin}
