"""Decisions the director makes in code, not with the model: names and looks (settings: places.py).

A 0.5B model copies one look onto every character and names people after the concept's words
(seen in our trials of the packaged model, docs/decisions/0002), so looks come from vocabularies drawn without replacement with a seeded RNG and names
from Faker's locale-aware name lists. The model only writes what needs words (wants, secrets, outlines).

Looks follow age when the caller gives ages: grey hair only from the forties (greying) and fifties (grey), youthful
colours below, faces, styles, builds and garments that fit the age. Names follow the world: a palace or a period
piece gets old-world names (OLD_WORLD_*), anything else the locale's contemporary ones.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

from faker import Faker

from dramafactory.schemas import Look

from . import places

HAIR_COLORS = ["black", "dark brown", "chestnut", "auburn", "copper red", "platinum blonde", "honey blonde",
               "silver", "ash grey", "blue-black"]
HAIR_STYLES = {
    "female": ["long straight", "bob", "ponytail", "wavy shoulder-length", "bun", "curly"],
    "male": ["short cropped", "buzz cut", "slicked back", "curly", "side-parted", "wavy"],
}
SKIN_TONES = ["fair", "light", "olive", "tan", "brown", "deep brown"]
BUILDS = {"female": ["slim", "athletic", "petite"], "male": ["broad", "stocky", "athletic", "tall lanky", "slim"]}
FACES = {
    "female": ["sharp cheekbones", "round glasses", "freckles", "a beauty mark under the eye", "dimples",
               "a small scar on the left brow"],
    "male": ["a neat beard", "round glasses", "a small scar on the left brow", "thick eyebrows", "a square jaw",
             "stubble"],
}
# Named wardrobe colours: the palette's hex values and the wardrobe's words come from the same entry.
COLOURS = {
    "crimson": "#B22234", "navy": "#1F2F5C", "emerald": "#1E7F5C", "mustard": "#D4A017", "charcoal": "#36454F",
    "ivory": "#F2EBD3", "plum": "#6B2D5C", "teal": "#1F7A80", "camel": "#C19A6B", "black": "#1A1A1A",
    "white": "#F5F5F5", "rose": "#D98695", "sky blue": "#7FB2E5", "olive": "#6B7F3A", "burgundy": "#6D1A2B",
    "grey": "#8A8A8A",
}
MAIN_COLOURS = ["crimson", "navy", "emerald", "mustard", "plum", "teal", "camel", "burgundy", "rose", "sky blue",
                "olive", "charcoal"]
SECOND_COLOURS = ["white", "black", "ivory", "grey", "charcoal", "navy"]
ACCENT_COLOURS = ["mustard", "crimson", "teal", "rose", "ivory", "emerald"]
GARMENTS = {
    "female": ["blazer", "trench coat", "wrap dress", "cardigan", "leather jacket", "belted coat"],
    "male": ["suit jacket", "leather jacket", "trench coat", "bomber jacket", "cardigan", "overcoat"],
}
UNDER = {"female": ["blouse", "turtleneck", "silk top"], "male": ["shirt", "turtleneck", "t-shirt"]}
ACCENTS = {"female": ["scarf", "belt", "necklace"], "male": ["tie", "scarf", "watch strap"]}

# -- looks by age (used when draw_looks is given ages; without them the age-blind vocabularies above are drawn)

# Hair colours by age band; no platinum for the young (drawn near-white, it reads as old). A band falls back to the
# next list only when the cast has used up its own (SPARE_HAIR last). Colours that share a word ("dark brown",
# "light brown") can both be drawn in one cast: its main wardrobe colours never repeat, so no two of its people look
# alike. The young band is as wide as the renderer's colours allow: with six colours, characters of different series
# of one slate matched in hair and main colour more often (golden eval: series.distinct_looks 0.89 -> 0.67).
YOUNG_HAIR = ["black", "dark brown", "chestnut", "auburn", "copper red", "honey blonde", "light brown",
              "dirty blonde"]  # the last two are as far from their nearest (41, 42 in RGB) as black from dark brown
MIDDLE_HAIR = ["black", "dark brown", "chestnut", "auburn", "honey blonde", "salt-and-pepper"]  # 40s: greying
GREY_HAIR = ["salt-and-pepper", "ash grey", "silver"]  # 50s and early 60s
OLD_HAIR = ["silver", "white", "ash grey"]  # 65 and over
SPARE_HAIR = ["blue-black", "platinum blonde"]


def hair_pools(age: int) -> list[list[str]]:
    """The hair colours that fit an age, as lists tried in order: grey, silver or white only from 50, greying
    (salt-and-pepper) in the forties, never grey below 40."""
    if age >= 65:
        return [OLD_HAIR, GREY_HAIR, MIDDLE_HAIR]
    if age >= 50:
        return [GREY_HAIR, OLD_HAIR, MIDDLE_HAIR]
    if age >= 40:
        return [MIDDLE_HAIR, YOUNG_HAIR]
    return [YOUNG_HAIR]


OLDER_HAIR_STYLES = {  # from 50 for women, 45 for men: no ponytails or buzz cuts; a receding line swept back
    "female": ["bob", "bun", "wavy shoulder-length", "short pixie cut", "curly"],
    "male": ["short cropped", "side-parted", "slicked back", "receding, swept back"],
}
OLDER_BUILDS = {"female": ["slim", "petite", "average"], "male": ["broad", "stocky", "heavy-set", "slim"]}
# Faces the renderer draws as age (looks.py reads "wrinkle" and "glasses"); freckles and dimples stay with the young.
OLDER_FACES = {
    "female": ["fine wrinkles round the eyes", "half-moon reading glasses", "sharp cheekbones",
               "a beauty mark under the eye", "a small scar on the left brow"],
    "male": ["deep wrinkles across the brow", "half-moon reading glasses", "a neat beard", "a square jaw",
             "thick eyebrows", "a small scar on the left brow"],
}
YOUTHFUL_FACES = {"freckles", "dimples"}
OLDER_GARMENTS = {  # no bomber or leather jackets from 50
    "female": ["blazer", "trench coat", "wrap dress", "cardigan", "belted coat"],
    "male": ["suit jacket", "trench coat", "cardigan", "overcoat"],
}

# -- names by world

# Traditional European given names and house-like surnames, for a palace, a kingdom or a period piece (a palace
# cook called "Kayla Johnson" reads as a costume party). Surnames are one word: blood relatives share the last word.
OLD_WORLD_FEMALE = ["Isolde", "Rowena", "Elspeth", "Maren", "Seraphine", "Aveline", "Ottilie", "Leonora", "Brigid",
                    "Catrin", "Ysolde", "Matilda", "Eleanor", "Beatrix", "Rosamund", "Adela", "Sabine", "Helena",
                    "Giselle", "Imogen", "Cressida", "Linnea", "Orla", "Wilhelmina"]
OLD_WORLD_MALE = ["Aldric", "Edmund", "Cedric", "Tobias", "Lucan", "Osric", "Godfrey", "Percival", "Roland", "Alaric",
                  "Anselm", "Bertram", "Casimir", "Emeric", "Gareth", "Leopold", "Matthias", "Oswin", "Rainer",
                  "Silas", "Tristan", "Wendel", "Corin", "Hugo"]
OLD_WORLD_LAST = ["Ashcombe", "Ravensworth", "Thornwood", "Blackmere", "Valcourt", "Wyndham", "Harrowgate",
                  "Merrivale", "Corbett", "Aldermoor", "Fairfax", "Montclair", "Stormholt", "Greyhaven", "Dunmore",
                  "Belcourt", "Ormond", "Whitlock", "Castellan", "Brightwater", "Holloway", "Lindqvist", "Marchbank",
                  "Vauclair"]
# European old-world names fit these; wuxia and xianxia would need names of their own (not drawn: English only).
OLD_WORLD_GENRES = {"fantasy", "historical", "period", "period drama", "costume", "costume drama", "medieval"}
PERIOD_WORDS = {"medieval", "victorian", "regency", "edwardian", "feudal", "renaissance"}
PALACE_SETTINGS = {"castle", "palace kitchen"}
# The words that make a staged palace a palace. places.py also stages a throne hall for "a media empire", "the heir"
# or "a prom queen"; those words alone leave the names contemporary (a fantasy or historical genre still counts).
PALACE_WORDS = {" ".join(places.tokens(w)) for w in (
    "palace", "castle", "throne", "kingdom", "citadel", "fortress", "dungeon", "royal court", "palace kitchen",
    "royal kitchen", "castle kitchen", "king", "emperor", "empress", "knight", "sorcerer", "dragon", "duke",
    "duchess")}


def name_world(logline: str, genre: str) -> str:
    """'old-world' where the concept's world is clearly a palace or a past century, else 'contemporary'.

    A palace counts when places.py stages one (castle, palace kitchen) and the logline names it by an unmistakable
    word (PALACE_WORDS: "palace", "kingdom", "emperor") or, where the palace is the main place, the genre is fantasy
    or historical. A period word ("medieval", "Victorian") counts on its own."""
    if concept_words(logline) & PERIOD_WORDS:
        return "old-world"
    settings, _ = places.pick_settings(logline, genre)
    if not {s.split(":")[0] for s in settings} & PALACE_SETTINGS:
        return "contemporary"
    matches = places.match_settings(logline)
    words = {w for m in matches if m.setting in PALACE_SETTINGS for w in m.words}
    # the genre counts where the palace is the story's main place (or the genre chose it): not for "a witch opens a
    # cafe in Brooklyn", where the cafe outranks the palace one cue word stages
    main_palace = not matches or matches[0].setting in PALACE_SETTINGS
    old = words & PALACE_WORDS or (main_palace and genre.lower().strip() in OLD_WORLD_GENRES)
    return "old-world" if old else "contemporary"


ROLES = ["protagonist", "antagonist", "ally"]
AGE_RANGES = {"protagonist": (22, 34), "antagonist": (30, 56), "ally": (20, 40)}

FEMALE_CUES = {"she", "her", "woman", "wife", "daughter", "girl", "heiress", "queen", "princess", "mother", "nurse",
               "bride", "widow", "actress", "sister", "girlfriend"}
MALE_CUES = {"he", "his", "him", "man", "husband", "son", "boy", "heir", "king", "prince", "father", "groom",
             "widower", "brother", "boyfriend"}

LOCALES = {"en": "en_US", "en-us": "en_US", "en-gb": "en_GB"}


LEAD_PHRASE = re.compile(r"^(?:an?|the)\s+((?:[\w'-]+\s+){0,3}?[\w'-]+)\s+(?:who\s+)?[a-z]+s\b", re.I)


def lead_description(logline: str) -> str:
    """'A palace cook learns ...' -> 'the palace cook': who the logline is about, for the protagonist."""
    match = LEAD_PHRASE.match(logline.strip())
    return f"the {match.group(1).lower()}" if match else ""


def logline_about(logline: str, name: str) -> str:
    """The logline told about a named lead: 'A palace cook learns X' -> 'Mia, the palace cook, learns X'."""
    match = LEAD_PHRASE.match(logline.strip())
    if not match:
        return f"{name}: {logline}"
    rest = logline.strip()[match.end(1):].strip()
    return f"{name}, the {match.group(1).lower()}, {rest}"


def concept_words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[A-Za-z][A-Za-z'-]+", text)}


def lead_gender_cue(logline: str) -> str | None:
    """The lead's gender when the logline's cue words decide it ("she", "nurse" against "father"); None on a tie."""
    words = concept_words(logline)
    female, male = len(words & FEMALE_CUES), len(words & MALE_CUES)
    return "female" if female > male else "male" if male > female else None


def decide_genders(logline: str, rng: random.Random) -> list[str]:
    lead = lead_gender_cue(logline) or rng.choice(["female", "male"])
    other = "male" if lead == "female" else "female"
    # antagonist opposite the lead (the micro-drama staple), ally drawn so both genders appear
    return [lead, other, rng.choice([lead, other])]


def _old_world_drawer(seed: int) -> tuple[Callable[[], str], Callable[[], str], Callable[[], str]]:
    """Female, male and last-name draws from the old-world lists, from one RNG seeded like the Faker it stands for."""
    rng = random.Random(seed)
    return (lambda: rng.choice(OLD_WORLD_FEMALE)), (lambda: rng.choice(OLD_WORLD_MALE)), (
        lambda: rng.choice(OLD_WORLD_LAST))


def pick_names(genders: list[str], language: str, seed: int, avoid: set[str], world: str = "contemporary") -> list[str]:
    """Realistic, distinct full names for the concept's locale (or, for world 'old-world', from the old-world
    lists: see name_world); never a word from the concept itself."""
    fake = Faker(LOCALES.get(language.lower(), "en_US"))
    fake.seed_instance(seed)
    female, male, surname = fake.first_name_female, fake.first_name_male, fake.last_name
    if world == "old-world":
        female, male, surname = _old_world_drawer(seed)
    names: list[str] = []
    firsts: set[str] = set()
    lasts: set[str] = set()
    tries = 0
    while len(names) < len(genders):
        tries += 1
        if tries == 2000:  # the short lists used up by the concept's own words: the locale's lists never run out
            female, male, surname = fake.first_name_female, fake.first_name_male, fake.last_name
        gender = genders[len(names)]
        first = female() if gender == "female" else male()
        last = surname()
        if first in firsts or last in lasts or concept_words(f"{first} {last}") & avoid or len(first) < 3:
            continue
        firsts.add(first)
        lasts.add(last)
        names.append(f"{first} {last}")
    return names


def _aged_hair(ages: list[int], rng: random.Random) -> list[str]:
    """A distinct hair colour per character that fits their age; the oldest (fewest fitting colours) choose first."""
    chosen: dict[int, str] = {}
    for index in sorted(range(len(ages)), key=lambda i: -ages[i]):
        for pool in [*hair_pools(ages[index]), SPARE_HAIR]:
            free = [c for c in pool if c not in chosen.values()]
            if free:
                chosen[index] = rng.choice(free)
                break
        else:  # more characters than fitting colours (over 8 people under 40): no silent repeat, no grey
            raise ValueError(f"draw_looks: no distinct hair colour left for a {ages[index]}-year-old")
    return [chosen[i] for i in range(len(ages))]


def _aged_features(gender: str, age: int, used_styles: set[str], rng: random.Random) -> tuple[str, str, str, str]:
    """Hair style, build, face and garment fitting an age: the older vocabularies from 50 (45 for a man's hair)."""
    older_hair = age >= (45 if gender == "male" else 50)
    styles = [s for s in (OLDER_HAIR_STYLES if older_hair else HAIR_STYLES)[gender] if s not in used_styles]
    style = rng.choice(styles or [s for s in HAIR_STYLES[gender] if s not in used_styles] or HAIR_STYLES[gender])
    if age >= 50:
        return style, rng.choice(OLDER_BUILDS[gender]), rng.choice(OLDER_FACES[gender]), rng.choice(
            OLDER_GARMENTS[gender])
    faces = FACES[gender] if age < 40 else [f for f in FACES[gender] if f not in YOUTHFUL_FACES]
    return style, rng.choice(BUILDS[gender]), rng.choice(faces), rng.choice(GARMENTS[gender])


def draw_looks(genders: list[str], rng: random.Random, ages: list[int] | None = None) -> list[tuple[Look, str]]:
    """One distinct look and wardrobe per character: no two share hair colour or main wardrobe colour.

    With ages, looks follow them (salt-and-pepper from 40, grey, silver or white from 50; older faces, styles,
    builds and garments: see hair_pools and the OLDER_* vocabularies). Without, the draw is the age-blind one, identical to before ages
    existed, so a caller that passes none gets the same looks from the same seed."""
    if ages is not None:
        return _draw_aged_looks(genders, ages, rng)
    hair_colors = rng.sample(HAIR_COLORS, len(genders))
    mains = rng.sample(MAIN_COLOURS, len(genders))
    skins = rng.sample(SKIN_TONES, len(genders))
    used_styles: set[str] = set()
    looks = []
    for gender, hair, main, skin in zip(genders, hair_colors, mains, skins, strict=True):
        style = rng.choice([s for s in HAIR_STYLES[gender] if s not in used_styles])
        used_styles.add(style)
        second = rng.choice([c for c in SECOND_COLOURS if c != main])
        accent = rng.choice([c for c in ACCENT_COLOURS if c not in (main, second)])
        garment, under, extra = rng.choice(GARMENTS[gender]), rng.choice(UNDER[gender]), rng.choice(ACCENTS[gender])
        look = Look(
            hair_color=hair, hair_style=style, skin_tone=skin, build=rng.choice(BUILDS[gender]),
            face=rng.choice(FACES[gender]), palette=[COLOURS[main], COLOURS[second], COLOURS[accent]],
        )
        looks.append((look, f"{main} {garment} over a {second} {under}, {accent} {extra}"))
    return looks


def _draw_aged_looks(genders: list[str], ages: list[int], rng: random.Random) -> list[tuple[Look, str]]:
    if len(ages) != len(genders):
        raise ValueError(f"draw_looks: {len(genders)} genders but {len(ages)} ages")
    hair_colors = _aged_hair(ages, rng)
    mains = rng.sample(MAIN_COLOURS, len(genders))
    skins = rng.sample(SKIN_TONES, len(genders))
    used_styles: set[str] = set()
    looks = []
    for gender, age, hair, main, skin in zip(genders, ages, hair_colors, mains, skins, strict=True):
        style, build, face, garment = _aged_features(gender, age, used_styles, rng)
        used_styles.add(style)
        second = rng.choice([c for c in SECOND_COLOURS if c != main])
        accent = rng.choice([c for c in ACCENT_COLOURS if c not in (main, second)])
        under, extra = rng.choice(UNDER[gender]), rng.choice(ACCENTS[gender])
        look = Look(hair_color=hair, hair_style=style, skin_tone=skin, build=build, face=face,
                    palette=[COLOURS[main], COLOURS[second], COLOURS[accent]])
        looks.append((look, f"{main} {garment} over a {second} {under}, {accent} {extra}"))
    return looks
