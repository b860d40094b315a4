"""The director: writes the series bible from a concept.

Code decides cast slots, names, looks, voices and locations (agents/director/casting.py); the text model writes
each character's want and secret, the title and synopsis, and one outline per episode, one small call at a time.
"""

from __future__ import annotations

import difflib
import random

from pydantic import BaseModel, Field

from dramafactory.schemas import Character, EpisodeOutline, Location, SeriesBible, SeriesConcept, Voice
from dramafactory.tools.speech.voicebank import allocate_voices

from ..context import AgentContext
from ..structured import StructuredOutputError, ask_json, no_copy_of_example, stable_seed, with_note, written_in
from . import casting, prompts


class Profile(BaseModel):
    want: str = Field(max_length=200)
    secret: str = Field(max_length=200)


class TitleSynopsis(BaseModel):
    title: str = Field(max_length=80)
    synopsis: str = Field(max_length=600)


class Outline(BaseModel):
    title: str = Field(max_length=80)
    hook: str = Field(max_length=240)
    conflict: str = Field(max_length=240)
    cliffhanger: str = Field(max_length=240)


# Stock profiles when the model gives no acceptable answer (flagged in bible.flags).
STOCK_PROFILES = {
    "protagonist": {"want": "To get to the truth and set things right.",
                    "secret": "Knew more than they admit from the very start."},
    "antagonist": {"want": "To keep everything gained, whatever it costs.",
                   "secret": "Is behind the lie that started all of this."},
    "ally": {"want": "To protect the lead, even from the lead's own anger.",
             "secret": "Owes the antagonist a debt that has not been paid."},
}


def _similar(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.lower(), b.lower()).ratio()


def _mentions_cast(text: str, names: list[str]) -> bool:
    lowered = text.lower()
    return any(part.lower() in lowered for name in names for part in name.split())


def write_bible(ctx: AgentContext, concept: SeriesConcept, seed: int, note: str | None = None) -> SeriesBible:
    """`note`: a reviewer's note on a rejected draft; it goes into every ask (the graph also changes the seed)."""
    # Casting is drawn from the run seed *and* the concept: with the seed alone, every series of a slate produced
    # with the default seed got the same three names and looks (measured by `eval golden`, series.distinct_*).
    cast_seed = stable_seed(seed, concept.logline, concept.genre)
    rng = random.Random(cast_seed)
    flags: list[str] = []
    avoid = casting.concept_words(concept.logline) | {n.lower() for n in prompts.EXAMPLE_NAMES}
    genders = casting.decide_genders(concept.logline, rng)
    names = casting.pick_names(genders, concept.language, cast_seed, avoid)
    looks = casting.draw_looks(genders, rng)
    voices: list[Voice] = allocate_voices(genders)
    lead = casting.lead_description(concept.logline)
    descriptions = [lead, "", ""]
    cast_line = ", ".join(f"{n} ({r}{', ' + d if d else ''})"
                          for n, r, d in zip(names, casting.ROLES, descriptions, strict=True))

    no_copy = no_copy_of_example(prompts.EXAMPLE_NAMES, prompts.EXAMPLE_TEXTS)
    script = written_in(concept.language)

    def ask(stage, schema, examples, text, key, checks, max_tokens=160):
        return ask_json(ctx.text, ctx.ledger, stage=stage, schema=schema, system=prompts.SYSTEM,
                        examples=examples, ask=with_note(text, note), seed=stable_seed(seed, key), checks=[no_copy, script, *checks],
                        max_tries=ctx.settings.max_reasks, max_tokens=max_tokens)

    characters: list[Character] = []
    for index, (name, role, gender) in enumerate(zip(names, casting.ROLES, genders, strict=True)):
        others = [c.want for c in characters]

        def profile_checks(p: Profile, others=others, name=name) -> str | None:
            if not (4 <= len(p.want.split()) <= 25 and 4 <= len(p.secret.split()) <= 25):
                return "want and secret must each be one short sentence (4 to 20 words)"
            if any(part in f"{p.want} {p.secret}" for part in name.split()):
                return f"write it about {name.split()[0]} without using the name (she/he/they)"
            if any(_similar(p.want, o) > 0.75 for o in others):
                return "this want copies another character's want; give this character a different goal"
            if _similar(p.want, p.secret) > 0.75:
                return "the secret must differ from the want"
            return None

        try:
            profile = ask("director.profile", Profile, prompts.PROFILE_EXAMPLES,
                          prompts.PROFILE_ASK.format(logline=concept.logline, genre=concept.genre, tone=concept.tone,
                                                     cast=cast_line, name=name,
                                                     role=role + (f", {descriptions[index]}" if index == 0 and lead
                                                                  else "")),
                          ("profile", index), [profile_checks])
        except StructuredOutputError as exc:
            flags.append(f"profile of {name}: stock text ({exc.reasons[-1]})")
            profile = Profile(**STOCK_PROFILES[role])
        lo, hi = casting.AGE_RANGES[role]
        look, wardrobe = looks[index]
        characters.append(Character(name=name, role=role, description=descriptions[index], gender=gender, age=rng.randint(lo, hi), look=look,
                                    wardrobe=wardrobe, voice=voices[index], want=profile.want, secret=profile.secret))

    def title_checks(t: TitleSynopsis) -> str | None:
        if len(t.title.split()) > 8 or not t.title.strip():
            return "the title must be 1 to 6 words"
        if not _mentions_cast(t.synopsis, names):
            return f"the synopsis must name the cast ({cast_line})"
        return None

    try:
        head = ask("director.title", TitleSynopsis, [prompts.TITLE_EXAMPLE],
                   prompts.TITLE_ASK.format(logline=concept.logline, genre=concept.genre, tone=concept.tone,
                                            cast=cast_line), "title", [title_checks], max_tokens=200)
    except StructuredOutputError as exc:
        flags.append(f"title and synopsis: stock text ({exc.reasons[-1]})")
        head = TitleSynopsis(title=" ".join(concept.logline.split()[:5]).rstrip(".,"), synopsis=concept.logline)

    settings = casting.pick_settings(concept.logline, concept.genre)
    locations = []
    for index, setting in enumerate(settings):
        name, interior, description = casting.name_location(setting, cast_seed + index, concept.language)
        locations.append(Location(name=name, kind="interior" if interior else "exterior", description=description,
                                  time_of_day=casting.time_of_day_for(setting, index, rng), setting=setting))

    outlines: list[EpisodeOutline] = []
    for number in range(1, concept.episodes + 1):
        previous = (f"The previous episode ended: {outlines[-1].cliffhanger}" if outlines
                    else "This is the first episode.")

        def outline_checks(o: Outline, earlier=tuple(outlines)) -> str | None:
            if not _mentions_cast(o.hook + " " + o.conflict + " " + o.cliffhanger, names):
                return f"name who acts, using the cast ({cast_line})"
            if any(_similar(o.cliffhanger, e.cliffhanger) > 0.7 for e in earlier):
                return "this cliffhanger repeats an earlier episode's; raise the stakes with a new twist"
            return None

        try:
            o = ask("director.outline", Outline, [prompts.OUTLINE_EXAMPLE],
                    prompts.OUTLINE_ASK.format(title=head.title, synopsis=head.synopsis, cast=cast_line,
                                               number=number, total=concept.episodes, previous=previous),
                    ("outline", number), [outline_checks], max_tokens=220)
        except StructuredOutputError as exc:
            flags.append(f"outline of episode {number}: stock text ({exc.reasons[-1]})")
            first = names[0].split()[0]
            o = Outline(title=f"Episode {number}",
                        hook=casting.logline_about(concept.logline, first) if number == 1
                        else f"{first} acts on what the last episode revealed.",
                        conflict=f"{names[1]} turns the truth against {first}.",
                        cliffhanger=f"{names[2]} is seen taking {names[1].split()[0]}'s side.")
        outlines.append(EpisodeOutline(number=number, title=o.title, hook=o.hook, conflict=o.conflict,
                                       cliffhanger=o.cliffhanger, characters=list(names)))

    return SeriesBible(title=head.title, logline=concept.logline, genre=concept.genre, tone=concept.tone,
                       language=concept.language, synopsis=head.synopsis, characters=characters,
                       locations=locations, episodes=outlines, flags=flags)
