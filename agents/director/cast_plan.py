"""The cast, planned in code from the premise: the logline's people become the characters (2 to 6), with the
logline's words as their descriptions, genders the logline gives, ages that follow the relations (a father is a
generation older) and the relations themselves; a supporting role is added only where the premise leaves the lead
nobody to face, or nobody to confide in.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from dramafactory import kinship
from dramafactory.schemas import Look, Premise, Relation, SeriesConcept, Voice
from dramafactory.tools.speech.voicebank import allocate_voices

from . import casting, prompts
from .checks import cast_line
from .premise import parse_premise

# The lead's kin who side with the lead (allies): siblings, children and friends; not parents (dramafactory/kinship.py).
CLOSE_KIN = {"sister", "brother", "sibling", *kinship.CHILDREN, "friend"}
# Added roles: who a micro-drama needs when the logline gives the lead no one to face, or no one to confide in.
ADDED = {
    "antagonist": "the one who stands in {pos} way",
    "confidant": "{pos} closest friend, who knows {pos} secrets",
}


@dataclass
class CastPlan:
    """Who is in the series and how they look and sound: drawn in code, before the model writes a word."""

    names: list[str]
    roles: list[str]
    genders: list[str]
    descriptions: list[str]
    phrases: list[str]  # the logline's words for each character ("" for an added role)
    ages: list[int]
    looks: list[tuple[Look, str]]
    voices: list[Voice]
    premise: Premise
    relations: list[Relation]

    @property
    def line(self) -> str:
        return cast_line(self.names, self.descriptions, self.roles)


def _roles(premise: Premise, logline: str) -> list[str]:
    """The lead; the person the discovery is about (or the one the lead falls for, or the first other) is who the
    lead faces: the antagonist in micro-drama terms, moved to the front of `premise.people` (the writer pairs the
    lead with characters[1] first); close kin and friends of the lead are allies; anyone else a rival."""
    others = premise.people
    if not others:
        return ["protagonist"]
    discovery = premise.discovery.lower()
    falls_for = re.search(r"\b(?:falls for|in love with|falls in love with|marries|marrying)\s+(.+)",
                          logline.lower())
    central = next((i for i, p in enumerate(others) if discovery and (
        p.phrase.lower().split(" she ")[0] in discovery or any(a.lower() in discovery for a in p.also))), None)
    loved = sorted((i for i, p in enumerate(others) if falls_for and falls_for.group(1).startswith(p.phrase.lower())),
                   key=lambda i: -len(others[i].phrase))  # "the groom's brother", not "the groom"
    love = loved[0] if loved else None
    central = central if central is not None else love if love is not None else 0
    if central:
        others.insert(0, others.pop(central))
        love = 0 if love == central else love + 1 if love is not None and love < central else love
        central = 0
    kin_of_lead = {r.person for r in premise.relations if r.of == "lead" and r.kind in CLOSE_KIN}
    roles = []
    for index, person in enumerate(others):
        if index == central:
            roles.append("love interest" if index == love else "antagonist")
        elif person.key in kin_of_lead:
            roles.append("ally")
        else:
            roles.append("rival")
    return ["protagonist", *roles]


def _age(generation: str | None, role: str, lead_age: int, rng: random.Random, child: bool = False) -> int:
    """A generation apart for parents and children; 'the young emperor' is younger than the lead, not a child."""
    if generation == "older":
        return min(85, lead_age + rng.randint(22, 30))
    if generation == "younger":
        return max(6, lead_age - rng.randint(20, 26)) if child else max(16, lead_age - rng.randint(3, 9))
    if generation == "same":
        return max(18, lead_age + rng.randint(-4, 5))
    low, high = casting.AGE_RANGES.get(role, (24, 50))
    return rng.randint(low, high)


def _possessive(gender: str) -> str:
    return "her" if gender == "female" else "his"


def _description(person_description: str, also: list[str], lead_first: str) -> str:
    """'the billionaire patient' + ['her runaway father'] -> 'the billionaire patient, Lena's runaway father': the
    pronoun made a name, since a description is read away from the logline."""
    parts = [re.sub(r"^(?:her|his|their)\s+(?:own\s+)?", f"{lead_first}'s ", person_description, flags=re.I)]
    for phrase in also:
        words = re.sub(r"^(?:her|his|their)\s+(?:own\s+)?", f"{lead_first}'s ", phrase.strip(), flags=re.I)
        words = re.sub(r"^(?:a|an|the)\s+", "the ", words, flags=re.I)
        if words.lower() not in person_description.lower():
            parts.append(words)
    return ", ".join(p for p in parts if p)[:80].rstrip(", ")


FAMILY = kinship.BLOOD


def _family_names(names: list[str], people: list, premise: Premise) -> list[str]:
    """Blood relatives share a last name (the relative takes the other's), unless that would repeat a full name."""
    index = {p.key: i for i, p in enumerate(people)}
    names = list(names)
    for relation in premise.relations:
        if relation.kind not in FAMILY:
            continue
        a, b = index[relation.person], index[relation.of]
        surname = names[b].split()[-1]
        renamed = " ".join([*names[a].split()[:-1], surname])
        if renamed not in names:
            names[a] = renamed
    return names


def plan_cast(concept: SeriesConcept, rng: random.Random, cast_seed: int) -> CastPlan:
    premise = parse_premise(concept.logline)
    roles = _roles(premise, concept.logline)  # first: it puts the person the story turns on next to the lead
    people = premise.everyone()
    lead_gender = people[0].gender or casting.lead_gender_cue(concept.logline) or rng.choice(["female", "male"])
    genders = [lead_gender] + [p.gender or rng.choice(["female", "male"]) for p in people[1:]]
    descriptions = [p.description for p in people]
    phrases = [p.phrase for p in people]
    # A lead with nobody to face gets an antagonist; a lead with one other person gets a confidant, so an episode's
    # second scene has someone to tell the secret to (scene pairings: agents/writer/checks.scene_casts).
    for added in (["antagonist", "confidant"] if len(people) == 1 else ["confidant"] if len(people) == 2 else []):
        gender = "male" if lead_gender == "female" else "female" if added == "antagonist" else rng.choice(
            ["female", "male"])
        roles.append(added)
        genders.append(gender)
        descriptions.append(ADDED[added].format(pos=_possessive(lead_gender)))
        phrases.append("")
        premise.flags.append(f"added a supporting role the logline does not name: {roles[-1]} "
                             f"({descriptions[-1]})")
    avoid = casting.concept_words(concept.logline) | {n.lower() for n in prompts.EXAMPLE_NAMES}
    names = casting.pick_names(genders, concept.language, cast_seed, avoid,
                               casting.name_world(concept.logline, concept.genre))
    names = _family_names(names, people, premise)
    lead_first = names[0].split()[0]
    for index, person in enumerate(people):
        person.name = names[index]
        if not person.description and index == 0:
            descriptions[0] = person.description = ("the one caught up in it" if not person.phrase
                                                    else descriptions[0])
        descriptions[index] = _description(descriptions[index], person.also, lead_first)
    for index in range(len(people), len(names)):
        descriptions[index] = descriptions[index].replace(f"{_possessive(lead_gender)} ", f"{lead_first}'s ")
    lead_age = rng.randint(*casting.AGE_RANGES["protagonist"])
    children = {r.person for r in premise.relations if r.of == "lead" and r.kind in kinship.CHILDREN}
    ages = [lead_age] + [_age(p.generation, roles[i + 1], lead_age, rng, p.key in children)
                         for i, p in enumerate(people[1:])]
    ages += [rng.randint(*casting.AGE_RANGES["antagonist" if r == "antagonist" else "ally"])
             for r in roles[len(people):]]
    # The lead's own relation to an older person ("a fisherman's daughter") puts that person a generation up.
    for relation in premise.relations:
        if relation.person == "lead" and relation.kind in kinship.CHILDREN:
            owner = [p.key for p in people].index(relation.of)
            ages[owner] = max(ages[owner], lead_age + rng.randint(22, 30))
    by_key = {p.key: p.name for p in people}
    relations = [Relation(person=by_key[r.person], kind=r.kind, of=by_key[r.of], words=r.words)
                 for r in premise.relations]
    looks = casting.draw_looks(genders, rng, ages)
    voices: list[Voice] = allocate_voices(genders)
    return CastPlan(names=names, roles=roles, genders=genders, descriptions=descriptions, phrases=phrases,
                    ages=ages, looks=looks, voices=voices, premise=premise, relations=relations)
