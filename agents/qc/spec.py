"""Turn a free-text prompt (the `dramafactory qc` command) into the structured spec QC checks a frame against.

Code reads what words settle exactly: framing and time-of-day words, the bible's character and location names,
and the --character names given. What the words leave open (a prompt with no framing word, people described
rather than named: "the nurse confronts her father") goes to the text model, constrained to the bible's names
and the framing vocabulary, so its answer is always a valid spec (docs/decisions/0002: structure first).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import create_model

from dramafactory.agents.structured import ask_json
from dramafactory.schemas import Framing, SeriesBible, Shot, TimeOfDay
from dramafactory.tools.ledger import Ledger
from dramafactory.tools.text.base import TextBackend

FRAMING_WORDS = [("over-shoulder", ("over-the-shoulder", "over the shoulder", "over-shoulder")),
                 ("close-up", ("close-up", "close up", "closeup")), ("two-shot", ("two-shot", "two shot")),
                 ("insert", ("insert",)), ("wide", ("wide", "establishing", "full shot")), ("medium", ("medium",))]
TIMES = ("dawn", "dusk", "night", "day")


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
    time_of_day = next((t for t in TIMES if re.search(rf"\b{t}\b", lowered)), None)
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
