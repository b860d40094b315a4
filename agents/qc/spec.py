"""Turn a free-text prompt (the `dramafactory qc` command) into the structured spec QC checks a frame against.

Framing and time of day are read from the prompt's words; the people are the --character names given, or else
the bible's characters the prompt names; the location is the bible's location the prompt names, else its first.
(Reading words is exact and instant; the text model is not needed for this vocabulary.)
"""

from __future__ import annotations

import re

from dramafactory.schemas import SeriesBible, Shot

FRAMING_WORDS = [("over-shoulder", ("over-the-shoulder", "over the shoulder", "over-shoulder")),
                 ("close-up", ("close-up", "close up", "closeup")), ("two-shot", ("two-shot", "two shot")),
                 ("insert", ("insert",)), ("wide", ("wide", "establishing", "full shot")), ("medium", ("medium",))]
TIMES = ("dawn", "dusk", "night", "day")


def spec_from_prompt(prompt: str, bible: SeriesBible | None, characters: list[str]) -> Shot:
    text = prompt.lower()
    framing = next((f for f, words in FRAMING_WORDS if any(w in text for w in words)), "medium")
    time_of_day = next((t for t in TIMES if re.search(rf"\b{t}\b", text)), "day")
    people = list(characters)
    location = "unknown"
    if bible is not None:
        if not people:
            people = [c.name for c in bible.characters if c.name.lower() in text
                      or c.name.split()[0].lower() in text.split()]
        unknown = [n for n in people if n not in {c.name for c in bible.characters}]
        if unknown:
            raise ValueError(f"{', '.join(unknown)} not in the bible (it has "
                             f"{', '.join(c.name for c in bible.characters)})")
        named = [loc for loc in bible.locations if loc.name.lower() in text]
        location = (named or bible.locations)[0].name
    if framing in ("two-shot", "over-shoulder") and len(people) < 2:
        framing = "medium"
    return Shot(id="e00s00", episode=0, scene=0, index=0, framing=framing, duration_s=2.0, characters=people,
                speaker=people[0] if people else None, location=location, time_of_day=time_of_day,
                action=prompt[:200], prompt=prompt, seed=0)
