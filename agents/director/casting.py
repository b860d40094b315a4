"""Decisions the director makes in code, not with the model: names and looks (settings: places.py).

A 0.5B model copies one look onto every character and names people after the concept's words
(seen in our trials of the packaged model, docs/decisions/0002), so looks come from vocabularies drawn without replacement with a seeded RNG and names
from Faker's locale-aware name lists. The model only writes what needs words (wants, secrets, outlines).
"""

from __future__ import annotations

import random
import re

from faker import Faker

from dramafactory.schemas import Look

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


def pick_names(genders: list[str], language: str, seed: int, avoid: set[str]) -> list[str]:
    """Realistic, distinct full names for the concept's locale; never a word from the concept itself."""
    fake = Faker(LOCALES.get(language.lower(), "en_US"))
    fake.seed_instance(seed)
    names: list[str] = []
    firsts: set[str] = set()
    lasts: set[str] = set()
    while len(names) < len(genders):
        gender = genders[len(names)]
        first = fake.first_name_female() if gender == "female" else fake.first_name_male()
        last = fake.last_name()
        if first in firsts or last in lasts or concept_words(f"{first} {last}") & avoid or len(first) < 3:
            continue
        firsts.add(first)
        lasts.add(last)
        names.append(f"{first} {last}")
    return names


def draw_looks(genders: list[str], rng: random.Random) -> list[tuple[Look, str]]:
    """One distinct look and wardrobe per character: no two share hair colour or main wardrobe colour."""
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
