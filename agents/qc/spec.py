"""Turn a free-text prompt (the `dramafactory qc` command) into the structured spec QC checks a frame against.

Code reads what words settle exactly: framing and time-of-day words, the bible's character and location names,
and the --character names given. What the words leave open (a prompt with no framing word, people described
rather than named: "the nurse confronts her father") goes to the text model, constrained to the bible's names
and the framing vocabulary, so its answer is always a valid spec (docs/decisions/0002: structure first).

`claims_from_prompt` reads what the words say the frame shows beyond the spec, for checks from the pixels that
need no bible: how many people (only where the words say nobody or give a count), the time of day and interior or
exterior (only where a word says so). What the words do not say is not claimed, so it is not checked.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import create_model

from dramafactory.agents.qc.scorers.scene import PromptClaims
from dramafactory.agents.structured import ask_json
from dramafactory.schemas import Framing, SeriesBible, Shot, TimeOfDay
from dramafactory.tools.ledger import Ledger
from dramafactory.tools.text.base import TextBackend

FRAMING_WORDS = [("over-shoulder", ("over-the-shoulder", "over the shoulder", "over-shoulder")),
                 ("close-up", ("close-up", "close up", "closeup")), ("two-shot", ("two-shot", "two shot")),
                 ("insert", ("insert",)), ("wide", ("wide", "establishing", "full shot")), ("medium", ("medium",))]
TIMES = ("dawn", "dusk", "night", "day")
# words for a time of day, tried in this order (so "daybreak" is dawn and "midnight" night, not day)
TIME_WORDS = [("dawn", ("dawn", "sunrise", "daybreak", "first light")),
              ("dusk", ("dusk", "sunset", "twilight", "evening", "golden hour")),
              ("night", ("night", "midnight", "nighttime", "night-time")),
              ("day", ("day", "daytime", "daylight", "midday", "noon", "morning", "afternoon", "broad daylight"))]
NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
           "ten": 10, "a pair of": 2, "a couple of": 2, "a single": 1, "a lone": 1, "a solitary": 1}
PERSON_NOUNS = ("people", "persons", "person", "men", "man", "women", "woman", "figures", "figure", "characters",
                "character", "friends", "strangers", "stranger", "children", "child", "kids", "kid", "girls", "girl",
                "boys", "boy", "guys", "guy", "adults", "adult", "lovers", "couple", "crowd", "someone", "somebody")
NOBODY = r"\b(?:no one|no-one|nobody|no people|no person|no figures?|no characters?|unpeopled|deserted|uninhabited)\b"
PLACES = ("room", "street", "landscape", "rooftop", "roof", "office", "corridor", "hallway", "hall", "road", "beach",
          "field", "city", "park", "house", "apartment", "space", "lot", "bar", "stage", "scene", "frame", "shot",
          "alley", "square", "plaza", "desert", "forest", "warehouse", "restaurant", "hospital", "classroom")
INTERIOR = ("interior", "inside", "indoors", "int.", "room", "office", "corridor", "hallway", "bedroom", "kitchen",
            "apartment", "classroom", "warehouse", "restaurant", "hospital ward", "lobby")
EXTERIOR = ("exterior", "outside", "outdoors", "ext.", "open air", "landscape", "rooftop", "street", "beach",
            "forest", "field", "park", "alley", "desert", "skyline", "under the sky")


SYSTEM = ("You read a film shot description and say what the frame shows: the framing, the time of day and which "
          "of the series' characters are visible. Answer with one JSON object.")


def read_with_model(prompt: str, bible: SeriesBible, text: TextBackend, ledger: Ledger) -> tuple[str, str, list[str]]:
    """Framing, time of day and visible people for a prompt the words did not settle, from the text model."""
    names = tuple(c.name for c in bible.characters)
    reading = create_model("PromptReading", framing=(Framing, ...), time_of_day=(TimeOfDay, ...),
                           people=(list[Literal[names]], ...))  # type: ignore[valid-type]
    cast = "; ".join(f"{c.name} ({c.description or c.role})" for c in bible.characters)
    answer = ask_json(text, ledger, stage="qc.spec", schema=reading, system=SYSTEM, examples=[], seed=0,
                      ask=f"Characters: {cast}.\nShot: {prompt}", temperature=0.0, max_tokens=80)
    return answer.framing, answer.time_of_day, list(dict.fromkeys(answer.people))


def spec_from_prompt(prompt: str, bible: SeriesBible | None, characters: list[str],
                     text: TextBackend | None = None, ledger: Ledger | None = None) -> Shot:
    lowered = prompt.lower()
    framing = next((f for f, words in FRAMING_WORDS if any(w in lowered for w in words)), None)
    time_of_day = time_in(lowered)
    people = list(characters)
    location = "unknown"
    if bible is not None:
        if not people:
            people = [c.name for c in bible.characters if c.name.lower() in lowered
                      or c.name.split()[0].lower() in lowered.split()]
        if text is not None and ledger is not None and (framing is None or not people):
            read_framing, read_time, read_people = read_with_model(prompt, bible, text, ledger)
            framing, time_of_day = framing or read_framing, time_of_day or read_time
            people = people or read_people
        unknown = [n for n in people if n not in {c.name for c in bible.characters}]
        if unknown:
            raise ValueError(f"{', '.join(unknown)} not in the bible (it has "
                             f"{', '.join(c.name for c in bible.characters)})")
        named = [loc for loc in bible.locations if loc.name.lower() in lowered]
        location = (named or bible.locations)[0].name
    framing, time_of_day = framing or "medium", time_of_day or "day"
    if framing in ("two-shot", "over-shoulder") and len(people) < 2:
        framing = "medium"
    return Shot(id="e00s00", episode=0, scene=0, index=0, framing=framing, duration_s=2.0, characters=people,
                speaker=people[0] if people else None, location=location, time_of_day=time_of_day,
                action=prompt[:200], prompt=prompt, seed=0)


def time_in(lowered: str) -> str | None:
    return next((t for t, words in TIME_WORDS if any(re.search(rf"\b{re.escape(w)}\b", lowered) for w in words)),
                None)


def _any_word(lowered: str, words: tuple[str, ...]) -> bool:
    return any(re.search(rf"(?<![\w.]){re.escape(w)}(?!\w)", lowered) for w in words)


def claims_from_prompt(prompt: str) -> PromptClaims:
    """What the prompt's words say the frame shows: people count, time of day, interior or exterior."""
    lowered = " ".join(prompt.lower().split())
    nouns = "|".join(PERSON_NOUNS)
    people: int | None = None
    counted = re.search(rf"\b({'|'.join(sorted(NUMBERS, key=len, reverse=True))}|\d+)\s+(?:[a-z-]+\s+)?"
                        rf"(?:{nouns})\b", lowered)
    if re.search(NOBODY, lowered) or re.search(rf"\bempty\s+(?:[a-z-]+\s+)?(?:{'|'.join(PLACES)})\b", lowered):
        people = 0
    elif counted:
        word = counted.group(1)
        people = int(word) if word.isdigit() else NUMBERS[word]
    interior, exterior = _any_word(lowered, INTERIOR), _any_word(lowered, EXTERIOR)
    # people spoken of without a count: person words and pronouns, framings that frame people, and names (a
    # capitalised word inside a sentence)
    named = re.search(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+", " ".join(prompt.split()))
    spoken_of = _any_word(lowered, PERSON_NOUNS) or _any_word(lowered, ("he", "she", "they", "his", "her", "their")) \
        or _any_word(lowered, ("two-shot", "two shot", "over-the-shoulder", "over the shoulder", "close-up")) \
        or named is not None
    return PromptClaims(
        people=people,
        mentions_people=people is None and spoken_of,
        time_of_day=time_in(lowered),
        kind="interior" if interior and not exterior else "exterior" if exterior and not interior else None)
