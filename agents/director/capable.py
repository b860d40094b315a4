"""The director for a capable model (text_strategy "capable"): one structured call writes the cast with the title
and synopsis, one more all the episode outlines (in batches of OUTLINES_PER_CALL, so the ask fits a 4096-token
context). Their answers pass the same checks as the tiny path's, plus checks of the cast itself.

Code still draws the looks, wardrobe and voices (by the model's genders) and the locations: the storyboard renderer
and the voice bank only know their own vocabularies. A part whose call fails after its re-asks is written the tiny
way instead, and bible.flags says so: a fallback is never silent.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from typing import Literal

from pydantic import BaseModel, Field, create_model

from dramafactory.schemas import Character, EpisodeOutline, SeriesBible
from dramafactory.tools.speech.voicebank import allocate_voices

from ..structured import Check, StructuredOutputError, each_part
from . import casting, prompts
from .checks import Outline, TitleSynopsis, answer_checks, cast_line, outline_problem, profile_problem, title_problem
from .tiny import (
    DirectorAsk,
    assemble,
    characters_of,
    draw_locations,
    episode_outline,
    plan_cast,
    write_outlines,
    write_profiles_and_title,
)

OUTLINES_PER_CALL = 10  # 10 x ~180 tokens of answer plus the ask and its example stay inside 4096 tokens
CAST_TOKENS = 700
OUTLINE_TOKENS = 180
NAME = re.compile(r"[^\W\d_][\w'-]+")


class CastMember(BaseModel):
    role: Literal["protagonist", "antagonist", "ally"]
    name: str = Field(max_length=60, description="First and last name.")
    gender: Literal["female", "male"]
    age: int = Field(ge=16, le=85)
    description: str = Field(max_length=80, description="Who they are in a few words, e.g. 'the palace cook'.")
    want: str = Field(max_length=200)
    secret: str = Field(max_length=200)


class CastReply(BaseModel):
    # The cast comes first: the synopsis must name it, and a model writes in field order.
    characters: list[CastMember] = Field(min_length=3, max_length=3)
    title: str = Field(max_length=80)
    synopsis: str = Field(max_length=600)


def cast_problem(reply: CastReply, logline: str, lead_cue: str | None) -> str | None:
    """The cast the rest of the pipeline can use: the roles the writer expects, in order (writer.scene_casts),
    names that are people's and not the logline's or the example's, the lead the logline describes."""
    people = reply.characters
    if [c.role for c in people] != casting.ROLES:
        return "the cast is exactly three people, in this order: the protagonist, the antagonist, the ally"
    avoid = casting.concept_words(logline) | {n.lower() for n in prompts.EXAMPLE_NAMES}
    for c in people:
        parts = c.name.split()
        # up to four parts: "Luis de la Renta" (seen from the packaged model) is a person's name too
        if not 2 <= len(parts) <= 4 or not all(NAME.fullmatch(p) for p in parts):
            return f"give the {c.role} a first and a last name, like a real person's"
        taken = sorted(casting.concept_words(c.name) & avoid)
        if taken:
            return (f"{taken[0].title()} comes from the series line or the example, not a name; give the {c.role} "
                    "a real first and last name of their own")
    for which, position in (("first", 0), ("last", -1)):
        counts = Counter(c.name.split()[position].lower() for c in people)
        twice = [n for n, k in counts.items() if k > 1]
        if twice:
            return f"every person needs a {which} name of their own; {twice[0].title()} is used twice"
    if lead_cue and people[0].gender != lead_cue:
        return (f"the series line makes the protagonist a {'woman' if lead_cue == 'female' else 'man'}: the "
                f"protagonist's gender is {lead_cue}")
    for index, c in enumerate(people):
        if not c.description.strip():
            return f"describe the {c.role} in a few words"
        reason = profile_problem(c.want, c.secret, c.name, [o.want for o in people[:index]])
        if reason:
            return f"{c.name}: {reason}"
    names = [c.name for c in people]
    return title_problem(reply.title, reply.synopsis, names, cast_line(names, [c.description for c in people]))


def cast_checks(language: str, logline: str) -> list[Check]:
    cue = casting.lead_gender_cue(logline)
    own: Check = lambda reply: cast_problem(reply, logline, cue)  # noqa: E731
    # The cast check first: on a name copied from the example it says what to do instead.
    return [own, *(each_part(c) for c in answer_checks(language, prompts.CAPABLE_EXAMPLE_TEXTS))]


def outlines_schema(count: int) -> type[BaseModel]:
    return create_model("Outlines", episodes=(list[Outline], Field(min_length=count, max_length=count)))


def outlines_checks(names: list[str], cast: str, earlier: list[str], first: int, language: str) -> list[Check]:
    def check(reply) -> str | None:
        cliffhangers = list(earlier)
        for offset, o in enumerate(reply.episodes):
            reason = outline_problem(o, names, cast, cliffhangers)
            if reason:
                return f"episode {first + offset}: {reason}"
            cliffhangers.append(o.cliffhanger)
        return None

    return [check, *(each_part(c) for c in answer_checks(language, prompts.CAPABLE_EXAMPLE_TEXTS))]


def write_cast(d: DirectorAsk) -> CastReply:
    concept = d.concept
    cue = casting.lead_gender_cue(concept.logline)
    text = prompts.CAST_ASK.format(logline=concept.logline, genre=concept.genre, tone=concept.tone,
                                   episodes=concept.episodes, lead=prompts.LEAD_RULE.format(gender=cue) if cue else "")
    return d("director.cast", CastReply, [prompts.CAST_EXAMPLE], text, "cast",
             cast_checks(concept.language, concept.logline), max_tokens=CAST_TOKENS, system=prompts.CAPABLE_SYSTEM)


def write_all_outlines(d: DirectorAsk, head: TitleSynopsis, names: list[str], cast: str
                       ) -> tuple[list[EpisodeOutline], list[str]]:
    outlines: list[EpisodeOutline] = []
    flags: list[str] = []
    total = d.concept.episodes
    for first in range(1, total + 1, OUTLINES_PER_CALL):
        last = min(total, first + OUTLINES_PER_CALL - 1)
        count = last - first + 1
        previous = (f"The episode before ended: {outlines[-1].cliffhanger}" if outlines
                    else "This is the first episode.")
        text = prompts.OUTLINES_ASK.format(title=head.title, synopsis=head.synopsis, cast=cast, first=first,
                                           last=last, total=total, previous=previous, count=count)
        try:
            reply = d("director.outlines", outlines_schema(count), [prompts.OUTLINES_EXAMPLE], text,
                      ("outlines", first),
                      outlines_checks(names, cast, [o.cliffhanger for o in outlines], first, d.concept.language),
                      max_tokens=OUTLINE_TOKENS * count + 60, system=prompts.CAPABLE_SYSTEM)
            outlines += [episode_outline(first + i, o, names) for i, o in enumerate(reply.episodes)]
        except StructuredOutputError as exc:
            span = f"episode {first}" if count == 1 else f"episodes {first}-{last}"
            flags.append(f"outlines of {span}: written one by one ({exc.reasons[-1]})")
            written, more = write_outlines(d, head, names, cast, range(first, last + 1), outlines)
            outlines += written
            flags += more
    return outlines, flags


def write_bible(d: DirectorAsk) -> SeriesBible:
    rng = random.Random(d.cast_seed)
    flags: list[str] = []
    plan = None
    try:
        reply = write_cast(d)
    except StructuredOutputError as exc:
        flags.append(f"cast: written field by field ({exc.reasons[-1]})")
        plan = plan_cast(d.concept, rng, d.cast_seed)
        profiles, head, more = write_profiles_and_title(d, plan)
        flags += more
        characters, names, cast = characters_of(plan, profiles), plan.names, plan.line
    else:
        head = TitleSynopsis(title=reply.title, synopsis=reply.synopsis)
        genders = [c.gender for c in reply.characters]
        looks = casting.draw_looks(genders, rng)
        voices = allocate_voices(genders)
        characters = [Character(name=" ".join(c.name.split()), role=c.role, description=c.description.strip(), gender=c.gender,
                                age=c.age, look=look, wardrobe=wardrobe, voice=voice, want=c.want, secret=c.secret)
                      for c, (look, wardrobe), voice in zip(reply.characters, looks, voices, strict=True)]
        names = [c.name for c in characters]
        cast = cast_line(names, [c.description for c in characters])
    locations, place_flags = draw_locations(d.concept, d.cast_seed, rng)
    outlines, more = write_all_outlines(d, head, names, cast)
    return assemble(d.concept, head, characters, locations, outlines, flags + place_flags + more, plan)
