"""The director for a small model (text_strategy "tiny", the packaged 0.5B): code casts the series, the model
writes one short field per call (each character's want and secret, the title and synopsis, one outline per
episode). The capable strategy falls back to these parts when its larger calls fail.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pydantic import BaseModel

from dramafactory.schemas import Character, EpisodeOutline, Location, Premise, SeriesBible, SeriesConcept

from ..context import AgentContext
from ..parallel import in_flight_limit, run_all
from ..structured import Check, StructuredOutputError, ask_json, stable_seed, with_note
from . import places, prompts
from .cast_plan import CastPlan, plan_cast
from .checks import (
    DUPLICATE_WANT,
    STOCK_PROFILES,
    Outline,
    Profile,
    TitleSynopsis,
    answer_checks,
    depersonalised,
    duplicates,
    outline_check,
    profile_check,
    stock_outline,
    stock_title,
    title_check,
)
from .story import named_logline


@dataclass
class DirectorAsk:
    """One bible's asks: the run seed, the reviewer's note and the checks every answer gets."""

    ctx: AgentContext
    concept: SeriesConcept
    seed: int
    note: str | None = None
    # Casting is drawn from the run seed *and* the concept: with the seed alone, every series of a slate produced
    # with the default seed got the same three names and looks (measured by `eval golden`, series.distinct_*).
    cast_seed: int = field(init=False)

    def __post_init__(self) -> None:
        self.cast_seed = stable_seed(self.seed, self.concept.logline, self.concept.genre)

    @property
    def base(self) -> list[Check]:
        return answer_checks(self.concept.language)

    def __call__(self, stage: str, schema: type[BaseModel], examples: list[tuple[str, str]], text: str, key: object,
                 checks: list[Check], max_tokens: int = 160, system: str = prompts.SYSTEM):
        """`checks` is the whole list: the tiny asks put `base` first, the capable ones their own checks first."""
        return ask_json(self.ctx.text, self.ctx.ledger, stage=stage, schema=schema, system=system,
                        examples=examples, ask=with_note(text, self.note), seed=stable_seed(self.seed, key),
                        checks=checks, max_tries=self.ctx.settings.max_reasks, max_tokens=max_tokens,
                        # the examples' sentences, kept out while the embedded model writes (ADR 0016)
                        no_repeat=tuple(prompts.CAPABLE_EXAMPLE_TEXTS))


def write_profiles_and_title(d: DirectorAsk, plan: CastPlan) -> tuple[list[Profile], TitleSynopsis, list[str]]:
    """The three profiles and the title/synopsis are independent asks, sent together (run_all). A profile must
    not copy another character's want: checked after the first pass, and only a copy is asked again, with the
    other wants known (asked one after another they were checked as they came; asked together, none knows the
    others yet)."""
    concept = d.concept

    premise_line = named_logline(concept.logline, plan.premise)

    def ask_profile(index: int, others: tuple[str, ...] = (), repair: bool = False) -> tuple[Profile, str | None]:
        name, role = plan.names[index], plan.roles[index]
        text = prompts.PROFILE_ASK.format(logline=premise_line, genre=concept.genre, tone=concept.tone,
                                          cast=plan.line, name=name,
                                          role=role + (f", {plan.descriptions[index]}" if plan.descriptions[index]
                                                       else ""))
        key: tuple = ("profile", index)
        if repair:  # the rule up front, and its own seed (the first pass's would give the copy again)
            text, key = f"{text}\nRules for this answer:\n- {DUPLICATE_WANT}", ("profile", index, "again")
        gender = plan.genders[index]
        try:
            reply = d("director.profile", Profile, prompts.PROFILE_EXAMPLES, text, key,
                      [*d.base, profile_check(name, others, plan.premise, gender)])
            return depersonalised(reply, name, gender), None
        except StructuredOutputError as exc:
            stock = STOCK_PROFILES.get(role, STOCK_PROFILES["ally"])
            return Profile(**stock), f"profile of {name}: stock text ({exc.reasons[-1]})"

    def ask_title() -> tuple[TitleSynopsis, str | None]:
        try:
            return d("director.title", TitleSynopsis, [prompts.TITLE_EXAMPLE],
                     prompts.TITLE_ASK.format(logline=premise_line, genre=concept.genre, tone=concept.tone,
                                              cast=plan.line), "title",
                     [*d.base, title_check(plan.names, plan.line, plan.premise)], max_tokens=200), None
        except StructuredOutputError as exc:
            return stock_title(concept, premise_line), f"title and synopsis: stock text ({exc.reasons[-1]})"

    if in_flight_limit(d.ctx.text) == 1:
        # One call at a time (the embedded model): each profile is checked against the wants before it inside its
        # own asks, so a copy is re-asked at once, as it always was: the same requests, seeds and ledger.
        answers: list[tuple[Profile, str | None]] = []
        for index in range(len(plan.names)):
            answers.append(ask_profile(index, tuple(p.want for p, _ in answers)))
        head, head_flag = ask_title()
    else:
        calls: list[Callable[[], tuple[BaseModel, str | None]]] = [
            *(lambda i=i: ask_profile(i) for i in range(len(plan.names))), ask_title]
        *answers, (head, head_flag) = run_all(d.ctx.text, calls)
    profiles = [p for p, _ in answers]
    profile_flags = [f for _, f in answers]
    for index in range(len(profiles)):
        if duplicates(profiles[index].want, [p.want for p in profiles[:index]]):
            others = tuple(p.want for j, p in enumerate(profiles) if j != index)
            profiles[index], profile_flags[index] = ask_profile(index, others, repair=True)
    if not head_flag:
        # The synopsis opens on the premise as code states it, so it cannot be inverted; the model's sentence
        # (checked against the premise) says what happens next.
        head = TitleSynopsis(title=head.title, synopsis=f"{premise_line} {head.synopsis.strip()}"[:600])
    return profiles, head, [f for f in [*profile_flags, head_flag] if f]


def characters_of(plan: CastPlan, profiles: list[Profile]) -> list[Character]:
    return [Character(name=name, role=role, description=description, gender=gender, age=age, look=look,
                      wardrobe=wardrobe, voice=voice, want=profile.want, secret=profile.secret,
                      logline_phrase=phrase)
            for name, role, description, gender, age, (look, wardrobe), voice, profile, phrase
            in zip(plan.names, plan.roles, plan.descriptions, plan.genders, plan.ages, plan.looks, plan.voices,
                   profiles, plan.phrases, strict=True)]


def draw_locations(concept: SeriesConcept, cast_seed: int, rng: random.Random) -> tuple[list[Location], list[str]]:
    """Code picks the settings from the logline's world (agents/director/places.py); a place the storyboard has no
    backdrop for is composed from parts and flagged, never swapped for an unrelated room silently."""
    locations = []
    settings, flags = places.pick_settings(concept.logline, concept.genre)
    for index, setting in enumerate(settings):
        name, interior, description = places.name_location(setting, cast_seed + index, concept.language)
        locations.append(Location(name=name, kind="interior" if interior else "exterior", description=description,
                                  time_of_day=places.time_of_day_for(setting, index, rng), setting=setting))
    return locations, flags


def write_outlines(d: DirectorAsk, head: TitleSynopsis, names: list[str], cast: str, numbers: Iterable[int],
                   before: list[EpisodeOutline], premise: Premise | None = None) -> tuple[list[EpisodeOutline], list[str]]:
    """One outline per episode, in order: each reads the previous episode's cliffhanger, so they stay sequential."""
    outlines = list(before)
    flags: list[str] = []
    for number in numbers:
        previous = (f"The previous episode ended: {outlines[-1].cliffhanger}" if outlines
                    else "This is the first episode.")
        try:
            o = d("director.outline", Outline, [prompts.OUTLINE_EXAMPLE],
                  prompts.OUTLINE_ASK.format(title=head.title, synopsis=head.synopsis, cast=cast, number=number,
                                             total=d.concept.episodes, previous=previous,
                                             focus=prompts.FIRST_EPISODE_FOCUS if number == 1
                                             else prompts.LATER_EPISODE_FOCUS),
                  ("outline", number),
                  [*d.base, outline_check(names, cast, [e.cliffhanger for e in outlines], premise)],
                  max_tokens=220)
        except StructuredOutputError as exc:
            flags.append(f"outline of episode {number}: stock text ({exc.reasons[-1]})")
            o = stock_outline(d.concept, names, number,
                              named_logline(d.concept.logline, premise) if premise else "")
        outlines.append(episode_outline(number, o, names))
    return outlines[len(before):], flags


def episode_outline(number: int, o: Outline, names: list[str]) -> EpisodeOutline:
    return EpisodeOutline(number=number, title=o.title, hook=o.hook, conflict=o.conflict, cliffhanger=o.cliffhanger,
                          characters=list(names))


def assemble(concept: SeriesConcept, head: TitleSynopsis, characters: list[Character], locations: list[Location],
             outlines: list[EpisodeOutline], flags: list[str], plan: CastPlan | None = None) -> SeriesBible:
    return SeriesBible(title=head.title, logline=concept.logline, genre=concept.genre, tone=concept.tone,
                       language=concept.language, synopsis=head.synopsis, characters=characters,
                       locations=locations, episodes=outlines, flags=flags,
                       premise=plan.premise if plan else None, relations=plan.relations if plan else [])


def write_bible(d: DirectorAsk) -> SeriesBible:
    rng = random.Random(d.cast_seed)
    plan = plan_cast(d.concept, rng, d.cast_seed)
    profiles, head, flags = write_profiles_and_title(d, plan)
    locations, place_flags = draw_locations(d.concept, d.cast_seed, rng)
    outlines, outline_flags = write_outlines(d, head, plan.names, plan.line, range(1, d.concept.episodes + 1), [],
                                             plan.premise)
    return assemble(d.concept, head, characters_of(plan, profiles), locations, outlines,
                    flags + place_flags + outline_flags, plan)
