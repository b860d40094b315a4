"""The director for a capable model (text_strategy "capable"): code casts the series from the premise, as for the
tiny strategy (agents/director/cast_plan.py: the logline's people with their descriptions, genders, ages and
relations); one structured call writes what code cannot, every character's want and secret with the title and
synopsis, and one more all the episode outlines (in batches of OUTLINES_PER_CALL, so the ask fits a 4096-token
context). Their answers pass the same checks as the tiny path's, the premise's inversion check included.

Why code casts here too: asked to cast the series itself, a model cast its own three people whatever the logline
said (the nurse's father was no one's father); the premise is decided in code before the model writes a word.
A part whose call fails after its re-asks is written the tiny way instead, and bible.flags says so: a fallback is
never silent.
"""

from __future__ import annotations

import json
import random

from pydantic import BaseModel, Field, create_model

from dramafactory.schemas import EpisodeOutline, Premise, SeriesBible

from ..structured import Check, StructuredOutputError, each_part
from . import prompts
from .cast_plan import CastPlan, plan_cast
from .checks import (
    Outline,
    Profile,
    TitleSynopsis,
    answer_checks,
    depersonalised,
    outline_problem,
    profile_check,
    title_check,
)
from .story import named_logline
from .tiny import (
    DirectorAsk,
    assemble,
    characters_of,
    draw_locations,
    episode_outline,
    write_outlines,
    write_profiles_and_title,
)

OUTLINES_PER_CALL = 10  # 10 x ~180 tokens of answer plus the ask and its example stay inside 4096 tokens
PROFILE_TOKENS = 110  # a name, a want and a secret
HEAD_TOKENS = 300  # the title and a two-sentence synopsis, and the JSON around it all
OUTLINE_TOKENS = 180

# The ask and its example live here, not in prompts.py, because they are this strategy's alone; the example's
# wants, secrets, title and synopsis are prompts.CAST_EXAMPLE's, so prompts.CAPABLE_EXAMPLE_TEXTS still catches a
# copy of them.
CAST_ASK = (
    "Series: {premise}\nGenre: {genre}. Tone: {tone}. Episodes: {episodes}.\n"
    "The cast is decided; keep every name, role and relation as given:\n{people}\n"
    "For each person, in this order, write a private want and a hidden secret (one short sentence each, without "
    "their own name) that fit who they are in the series. Then a punchy title (at most 6 words) and a two-sentence "
    "synopsis that names the cast."
)


def people_lines(names: list[str], roles: list[str], genders: list[str], ages: list[int],
                 descriptions: list[str]) -> str:
    return "\n".join(f"- {n} ({r}, {g}, {a}){': ' + d if d else ''}"
                      for n, r, g, a, d in zip(names, roles, genders, ages, descriptions, strict=True))


def _example() -> tuple[str, str]:
    shown = json.loads(prompts.CAST_EXAMPLE[1])
    people = shown["characters"]
    ask = CAST_ASK.format(
        premise="A hotel maid, Rosa Diaz, discovers the heir she is marrying, Victor Hale, framed her brother.",
        genre="revenge", tone="melodramatic", episodes=3,
        people=people_lines([p["name"] for p in people], [p["role"] for p in people], [p["gender"] for p in people],
                            [p["age"] for p in people], [p["description"] for p in people]))
    answer = {"characters": [{"name": p["name"], "want": p["want"], "secret": p["secret"]} for p in people],
              "title": shown["title"], "synopsis": shown["synopsis"]}
    return ask, json.dumps(answer, ensure_ascii=False)


CAST_EXAMPLE = _example()


class CastProfile(BaseModel):
    name: str = Field(max_length=60, description="The name as given, to say whose want and secret these are.")
    want: str = Field(max_length=200)
    secret: str = Field(max_length=200)


def cast_schema(count: int) -> type[BaseModel]:
    # The cast comes first: the synopsis must name it, and a model writes in field order.
    return create_model("CastReply", characters=(list[CastProfile], Field(min_length=count, max_length=count)),
                        title=(str, Field(max_length=80)), synopsis=(str, Field(max_length=600)))


def cast_problem(reply, plan: CastPlan) -> str | None:
    """The tiny strategy's checks, on one answer: each profile as profile_check reads it (the character's own name
    mended to a pronoun first, a want of their own, nothing the premise turns round), then the title and synopsis
    as title_check does; and the people answered for are the plan's, in its order."""
    people = reply.characters
    if [" ".join(c.name.split()).lower() for c in people] != [n.lower() for n in plan.names]:
        return f"answer for the cast exactly as given, in this order: {', '.join(plan.names)}"
    wants: list[str] = []
    for c, name, gender in zip(people, plan.names, plan.genders, strict=True):
        profile = Profile(want=c.want, secret=c.secret)
        reason = profile_check(name, tuple(wants), plan.premise, gender)(profile)
        if reason:
            return f"{name}: {reason}"
        wants.append(depersonalised(profile, name, gender).want)
    return title_check(plan.names, plan.line, plan.premise)(TitleSynopsis(title=reply.title,
                                                                          synopsis=reply.synopsis))


def cast_checks(language: str, plan: CastPlan) -> list[Check]:
    own: Check = lambda reply: cast_problem(reply, plan)  # noqa: E731
    # The cast check first: it says what to do instead.
    return [own, *(each_part(c) for c in answer_checks(language, prompts.CAPABLE_EXAMPLE_TEXTS))]


def outlines_schema(count: int) -> type[BaseModel]:
    return create_model("Outlines", episodes=(list[Outline], Field(min_length=count, max_length=count)))


def outlines_checks(names: list[str], cast: str, earlier: list[str], first: int, language: str,
                    premise: Premise | None = None) -> list[Check]:
    def check(reply) -> str | None:
        cliffhangers = list(earlier)
        for offset, o in enumerate(reply.episodes):
            reason = outline_problem(o, names, cast, cliffhangers, premise)
            if reason:
                return f"episode {first + offset}: {reason}"
            cliffhangers.append(o.cliffhanger)
        return None

    return [check, *(each_part(c) for c in answer_checks(language, prompts.CAPABLE_EXAMPLE_TEXTS))]


def _whole_sentences(text: str, limit: int) -> str:
    """At most `limit` characters, cut after the last whole sentence that fits (a word cut in half reads as a
    fault), or at the last space when no sentence ends in time."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    end = max(head.rfind(mark) for mark in (". ", "! ", "? "))
    return head[:end + 1] if end > 0 else head[:head.rfind(" ")].rstrip(",;:") if " " in head else head


def write_cast(d: DirectorAsk, plan: CastPlan) -> tuple[list[Profile], TitleSynopsis]:
    """Every character's want and secret, and the title and synopsis, in one call about code's cast. The answer is
    mended and framed: own names made pronouns, the synopsis opening on the premise as code states it (so it cannot
    be inverted), cut after a whole sentence."""
    concept = d.concept
    premise_line = named_logline(concept.logline, plan.premise)
    text = CAST_ASK.format(premise=premise_line, genre=concept.genre, tone=concept.tone, episodes=concept.episodes,
                           people=people_lines(plan.names, plan.roles, plan.genders, plan.ages, plan.descriptions))
    reply = d("director.cast", cast_schema(len(plan.names)), [CAST_EXAMPLE], text, "cast",
              cast_checks(concept.language, plan), max_tokens=PROFILE_TOKENS * len(plan.names) + HEAD_TOKENS,
              system=prompts.CAPABLE_SYSTEM)
    profiles = [depersonalised(Profile(want=c.want, secret=c.secret), name, gender)
                for c, name, gender in zip(reply.characters, plan.names, plan.genders, strict=True)]
    head = TitleSynopsis(title=reply.title, synopsis=_whole_sentences(f"{premise_line} {reply.synopsis.strip()}",
                                                                      600))
    return profiles, head


def write_all_outlines(d: DirectorAsk, head: TitleSynopsis, names: list[str], cast: str,
                       premise: Premise | None = None) -> tuple[list[EpisodeOutline], list[str]]:
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
                      outlines_checks(names, cast, [o.cliffhanger for o in outlines], first, d.concept.language,
                                      premise),
                      max_tokens=OUTLINE_TOKENS * count + 60, system=prompts.CAPABLE_SYSTEM)
            outlines += [episode_outline(first + i, o, names) for i, o in enumerate(reply.episodes)]
        except StructuredOutputError as exc:
            span = f"episode {first}" if count == 1 else f"episodes {first}-{last}"
            flags.append(f"outlines of {span}: written one by one ({exc.reasons[-1]})")
            written, more = write_outlines(d, head, names, cast, range(first, last + 1), outlines, premise)
            outlines += written
            flags += more
    return outlines, flags


def write_bible(d: DirectorAsk) -> SeriesBible:
    rng = random.Random(d.cast_seed)
    flags: list[str] = []
    # Code's cast, drawn as the tiny strategy draws it (same seed, same order of draws): the model writes only
    # what code cannot.
    plan = plan_cast(d.concept, rng, d.cast_seed)
    try:
        profiles, head = write_cast(d, plan)
    except StructuredOutputError as exc:
        flags.append(f"cast: written field by field ({exc.reasons[-1]})")
        profiles, head, more = write_profiles_and_title(d, plan)
        flags += more
    characters = characters_of(plan, profiles)
    locations, place_flags = draw_locations(d.concept, d.cast_seed, rng)
    outlines, more = write_all_outlines(d, head, plan.names, plan.line, plan.premise)
    return assemble(d.concept, head, characters, locations, outlines, flags + place_flags + more, plan)
