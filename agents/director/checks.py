"""What the director accepts from the model, shared by both strategies (tiny: field by field; capable: whole cast
and all outlines in one call each), so a capable model's answer passes exactly the checks a 0.5B model's does.

Each `*_problem` function returns the reason to reject, or None; the reasons are worded for the model, because
ask_json sends them back as rules for the next try.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel, Field

from dramafactory.schemas import Premise, SeriesConcept

from ..structured import Check, no_copy_of_example, similar, written_in
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

DUPLICATE_WANT = "this want copies another character's want; give this character a different goal"


def name_parts(name: str) -> list[str]:
    """The parts of a name that identify the person: "Luis de la Renta" -> Luis, Renta (particles such as "de" and
    "la" are words of other sentences too)."""
    parts = name.split()
    return [part for part in parts if len(part) >= 3 and not part.islower()] or parts


def says_name(text: str, name: str, *, ignore_case: bool = False) -> bool:
    """Whether `text` uses a part of `name` as a whole word ("Hart" is not in "chart"; "Mary" is in "Mary's")."""
    flags = re.IGNORECASE if ignore_case else 0
    return any(re.search(rf"\b{re.escape(part)}\b", text, flags) for part in name_parts(name))


def mentions_cast(text: str, names: Sequence[str]) -> bool:
    return any(says_name(text, name, ignore_case=True) for name in names)


def cast_line(names: Sequence[str], descriptions: Sequence[str], roles: Sequence[str] | None = None) -> str:
    """'Mia Cole (protagonist, the night-shift nurse), ...': how every ask names the cast."""
    roles = list(roles) if roles is not None else casting.ROLES[:len(names)]
    return ", ".join(f"{n} ({r}{', ' + d if d else ''})" for n, r, d in zip(names, roles, descriptions,
                                                                              strict=True))


def answer_checks(language: str, example_texts: list[str] | None = None) -> list[Check]:
    """The checks every director answer gets: no copy of the few-shot examples, written in the concept's script."""
    return [no_copy_of_example(prompts.EXAMPLE_NAMES, example_texts or prompts.EXAMPLE_TEXTS), written_in(language)]


def profile_problem(want: str, secret: str, name: str, others: Sequence[str] = ()) -> str | None:
    """`others`: the wants already given to other characters (each character must want something of their own)."""
    if not (4 <= len(want.split()) <= 25 and 4 <= len(secret.split()) <= 25):
        return "want and secret must each be one short sentence (4 to 20 words)"
    if says_name(f"{want} {secret}", name):
        return f"write it about {name.split()[0]} without using the name (she/he/they)"
    if duplicates(want, others):
        return DUPLICATE_WANT
    if similar(want, secret) > 0.75:
        return "the secret must differ from the want"
    return None


def duplicates(want: str, others: Sequence[str]) -> bool:
    return any(similar(want, o) > 0.75 for o in others)


def depersonalise(text: str, name: str, gender: str) -> str:
    """A character's own name in their want or secret made a pronoun ("To protect Mary's daughter" -> "To protect
    her daughter"): every ask carries the premise with the names in it, and the model copies them; mending the
    words in code costs nothing, a re-ask a whole call."""
    possessive, subject, obj = ("her", "she", "her") if gender == "female" else ("his", "he", "him")
    for form in (name, *name_parts(name)):
        text = re.sub(rf"\b{re.escape(form)}'s\b", possessive, text)
        text = re.sub(rf"(^|[.!?]\s+)\b{re.escape(form)}\b", lambda m: m.group(1) + subject.capitalize(), text)
        text = re.sub(rf"\b({_CLAUSE_OPENERS})\s+{re.escape(form)}\b", rf"\1 {subject}", text)
        text = re.sub(rf"\b{re.escape(form)}\b", obj, text)  # elsewhere: after a verb or a preposition
    return text


_CLAUSE_OPENERS = "and|but|because|when|while|that|as|until|so|if|since|before|after|though"


def depersonalised(profile: Profile, name: str, gender: str) -> Profile:
    return Profile(want=depersonalise(profile.want, name, gender), secret=depersonalise(profile.secret, name, gender))


def profile_check(name: str, others: Sequence[str] = (), premise: Premise | None = None,
                  gender: str | None = None) -> Check:
    """With `gender`, the character's own name is mended to a pronoun before the checks (depersonalise)."""
    from .story import inversion_problem  # story builds on this module's name helpers

    def check(p: Profile) -> str | None:
        if gender is not None:
            p = depersonalised(p, name, gender)
        return profile_problem(p.want, p.secret, name, others) or (
            inversion_problem(f"{p.want} {p.secret}", premise) if premise else None)
    return check


def title_problem(title: str, synopsis: str, names: Sequence[str], cast: str) -> str | None:
    if len(title.split()) > 8 or not title.strip():
        return "the title must be 1 to 6 words"
    if not mentions_cast(synopsis, names):
        return f"the synopsis must name the cast ({cast})"
    return None


def title_check(names: Sequence[str], cast: str, premise: Premise | None = None) -> Check:
    from .story import inversion_problem  # story builds on this module's name helpers

    def check(t: TitleSynopsis) -> str | None:
        return title_problem(t.title, t.synopsis, names, cast) or (
            inversion_problem(f"{t.title}. {t.synopsis}", premise) if premise else None)
    return check


def outline_problem(o: Outline, names: Sequence[str], cast: str, earlier: Sequence[str],
                    premise: Premise | None = None) -> str | None:
    """`earlier`: the cliffhangers of the episodes before this one."""
    from .story import inversion_problem  # story builds on this module's name helpers

    text = o.hook + " " + o.conflict + " " + o.cliffhanger
    if not mentions_cast(text, names):
        return f"name who acts, using the cast ({cast})"
    if premise is not None and (problem := inversion_problem(text, premise)):
        return problem
    if any(similar(o.cliffhanger, e) > 0.7 for e in earlier):
        return "this cliffhanger repeats an earlier episode's; raise the stakes with a new twist"
    return None


def outline_check(names: Sequence[str], cast: str, earlier: Sequence[str], premise: Premise | None = None) -> Check:
    return lambda o: outline_problem(o, names, cast, earlier, premise)


def stock_title(concept: SeriesConcept, premise_line: str = "") -> TitleSynopsis:
    return TitleSynopsis(title=" ".join(concept.logline.split()[:5]).rstrip(".,"),
                         synopsis=premise_line or concept.logline)


def stock_outline(concept: SeriesConcept, names: Sequence[str], number: int, premise_line: str = "") -> Outline:
    first = names[0].split()[0]
    third = names[2] if len(names) > 2 else names[1]
    return Outline(title=f"Episode {number}",
                   hook=(premise_line or casting.logline_about(concept.logline, first)) if number == 1
                   else f"{first} acts on what the last episode revealed.",
                   conflict=f"{names[1]} turns the truth against {first}.",
                   cliffhanger=f"{third} is seen taking {names[1].split()[0]}'s side." if third != names[1]
                   else f"{names[1]} makes a threat {first} cannot ignore.")
