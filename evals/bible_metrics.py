"""Bible suite: is the series bible a cast a production can shoot?

Complete characters (a look, a wardrobe and a voice each), looks and voices that tell the characters apart, names
that are names (not the concept's words, a role or a place), outlines that use the cast, and a bible about the
concept it was asked for.
"""

from __future__ import annotations

import re
from itertools import combinations

from dramafactory.schemas import Character, SeriesBible, SeriesConcept

from .metrics import MetricResult, rgb_distance, share, words

# Colours closer than this (RGB distance) read as the same wardrobe at storyboard size; hair must then differ.
SAME_COLOUR = 60.0
# Voices differ when the engine voice differs, or the same voice is pitched or paced clearly apart.
PITCH_APART, RATE_APART = 12, 25
ROLE_WORDS = {
    "protagonist", "antagonist", "ally", "rival", "villain", "hero", "heroine", "mentor", "boss", "ceo", "nurse",
    "doctor", "patient", "father", "mother", "son", "daughter", "sister", "brother", "husband", "wife", "maid",
    "billionaire", "heir", "heiress", "detective", "officer", "captain", "chef", "cook", "king", "queen", "prince",
    "princess", "stranger", "narrator", "character", "unknown", "the", "mr", "mrs", "ms", "miss", "dr",
}
# Concept words that are also common surnames: "Mira Young" is a name even when the concept has a "young emperor".
SURNAMES = {"young", "black", "white", "green", "brown", "stone", "price", "hunter", "baker", "walker", "knight",
            "frost", "marsh", "fisher", "porter", "mason", "grant", "rich", "little", "long", "wolfe"}
STOPWORDS = {
    "about", "after", "again", "against", "their", "there", "where", "which", "while", "whose", "would", "could",
    "should", "these", "those", "other", "under", "until", "every", "being", "before", "from", "into", "with",
    "that", "this", "then", "than", "when", "what", "them", "they", "have", "been", "were", "will", "your", "must",
    "only", "once", "over", "also", "just", "still", "years", "finds", "learns", "discovers", "realises",
    "realizes", "becomes", "needs", "wants", "tries", "later", "returns", "owns",
}


def _missing(c: Character) -> list[str]:
    look = c.look
    required = {"name": c.name, "role": c.role, "hair colour": look.hair_color, "hair style": look.hair_style,
                "skin tone": look.skin_tone, "build": look.build, "face": look.face, "wardrobe": c.wardrobe,
                "voice description": c.voice.description, "voice id": c.voice.voice_id}
    return [k for k, v in required.items() if not str(v).strip()]


def complete(bible: SeriesBible) -> MetricResult:
    failures = [f"{c.name}: no {', '.join(m)}" for c in bible.characters if (m := _missing(c))]
    return share("bible.complete", failures, len(bible.characters))


def _hair_words(c: Character) -> set[str]:
    return set(words(c.look.hair_color)) - {"hair", "light", "dark", "deep", "pale"} or set(words(c.look.hair_color))


def distinct_looks(bible: SeriesBible) -> MetricResult:
    failures = []
    pairs = list(combinations(bible.characters, 2))
    for a, b in pairs:
        same_colour = rgb_distance(a.look.palette[0], b.look.palette[0]) < SAME_COLOUR
        same_hair = bool(_hair_words(a) & _hair_words(b))  # "black" and "jet black" read as the same hair
        if same_colour and same_hair:
            failures.append(f"{a.name} and {b.name} look alike: {a.look.hair_color} hair, wardrobe "
                            f"{a.look.palette[0]} vs {b.look.palette[0]}")
    return share("bible.distinct_looks", failures, len(pairs))


def distinct_voices(bible: SeriesBible) -> MetricResult:
    failures = []
    pairs = list(combinations(bible.characters, 2))
    for a, b in pairs:
        va, vb = a.voice, b.voice
        apart = (va.engine, va.voice_id) != (vb.engine, vb.voice_id) or abs(va.pitch - vb.pitch) >= PITCH_APART \
            or abs(va.rate_wpm - vb.rate_wpm) >= RATE_APART
        if not apart:
            failures.append(f"{a.name} and {b.name} sound alike: {va.voice_id} pitch {va.pitch}/{vb.pitch}")
    return share("bible.distinct_voices", failures, len(pairs))


def concept_words(logline: str) -> set[str]:
    """The concept's content words (five letters or more, hyphenated compounds joined), which a name must not be
    made of: a small model names a 'night-shift nurse' 'Nightshift Nurse'."""
    found = {w for w in words(logline) if len(w) >= 5} - STOPWORDS
    found |= {m.replace("-", "") for m in re.findall(r"[a-z]+(?:-[a-z]+)+", logline.lower())}
    return found


def names_are_names(bible: SeriesBible, concept: SeriesConcept) -> MetricResult:
    forbidden = (concept_words(concept.logline) | ROLE_WORDS) - SURNAMES
    places = {w for loc in bible.locations for w in words(loc.name) if len(w) >= 4}
    failures = []
    for c in bible.characters:
        tokens = c.name.split()
        lowered = {t.lower().strip(".'") for t in tokens}
        why = []
        if not 1 <= len(tokens) <= 3:
            why.append(f"{len(tokens)} words")
        if any(not re.fullmatch(r"[A-Z][A-Za-z'\-.]*", t) for t in tokens):
            why.append("not capitalised words")
        if lowered & forbidden:
            why.append(f"made of {sorted(lowered & forbidden)} (the concept's words or a role)")
        if lowered <= places:  # a place may carry a family's name ("Chang Group Tower"); a name that is a place fails
            why.append(f"a place: {c.name}")
        if why:
            failures.append(f"{c.name!r}: {'; '.join(why)}")
    return share("bible.names_are_names", failures, len(bible.characters))


def outlines_use_cast(bible: SeriesBible) -> MetricResult:
    """Every outline puts at least two of the cast in play, the lead among them; every character is used."""
    lead = next((c.name for c in bible.characters if c.role.lower().startswith("protagonist")),
                bible.characters[0].name)
    failures = []
    for outline in bible.episodes:
        if len(set(outline.characters)) < 2:
            failures.append(f"episode {outline.number}: only {outline.characters}")
        elif lead not in outline.characters:
            failures.append(f"episode {outline.number}: the lead {lead} is not in it")
    used = {n for o in bible.episodes for n in o.characters}
    unused = [c.name for c in bible.characters if c.name not in used]
    failures += [f"{name} is in no episode" for name in unused]
    return share("bible.outlines_use_cast", failures, len(bible.episodes) + len(bible.characters))


def _stem(word: str) -> str:
    return word[:5]


def concept_adherence(bible: SeriesBible, concept: SeriesConcept, threshold: float = 0.5) -> MetricResult:
    """The share of the concept's content words (by stem) that the bible's synopsis, outlines and cast use: a bible
    that drifted to another story shares few of them. Deterministic; the optional judge scores it as craft."""
    wanted = {_stem(w) for w in words(concept.logline) if len(w) >= 4} - {_stem(w) for w in STOPWORDS}
    text = " ".join([bible.title, bible.synopsis] + [f"{o.title} {o.hook} {o.conflict} {o.cliffhanger}"
                                                     for o in bible.episodes]
                    + [f"{c.role} {c.description} {c.want} {c.secret}" for c in bible.characters])
    have = {_stem(w) for w in words(text)}
    missing = sorted(wanted - have)
    result = share("bible.concept_adherence", [f"concept word not used: {m}…" for m in missing], len(wanted),
                   threshold)
    return result


def score_bible(bible: SeriesBible, concept: SeriesConcept) -> list[MetricResult]:
    return [complete(bible), distinct_looks(bible), distinct_voices(bible), names_are_names(bible, concept),
            outlines_use_cast(bible), concept_adherence(bible, concept)]


def across_series(bibles: dict[str, SeriesBible]) -> list[MetricResult]:
    """A showrunner's slate: the same name, or the same look (main wardrobe colour and hair), in two different
    series reads as one actor in every show. Each character counts once; it fails if another series has it too."""
    names: dict[str, set[str]] = {}
    looks: dict[tuple[str, str], set[str]] = {}
    for series, bible in bibles.items():
        for c in bible.characters:
            names.setdefault(c.name.lower(), set()).add(series)
            looks.setdefault((c.look.palette[0].lower(), c.look.hair_color.lower()), set()).add(series)
    characters = [(series, c) for series, bible in bibles.items() for c in bible.characters]
    same_name = [f"{c.name} ({series}) is also in {sorted(names[c.name.lower()] - {series})}"
                 for series, c in characters if len(names[c.name.lower()]) > 1]
    same_look = [f"{c.name} ({series}) looks like a character of {sorted(others - {series})}"
                 for series, c in characters
                 if len(others := looks[(c.look.palette[0].lower(), c.look.hair_color.lower())]) > 1]
    return [share("series.distinct_names", same_name, len(characters)),
            share("series.distinct_looks", same_look, len(characters))]
