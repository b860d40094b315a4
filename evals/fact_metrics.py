"""Series memory eval: does a later episode contradict what an earlier one established?

The facts are read from each script by the same code the run's memory uses (memory/facts.py): a relation exposed
and who heard it, an injury, a prop destroyed. A later episode's action or line contradicts one when
- someone who knows a relation says or is shown not knowing it ("I don't even know who my father is" after "You
  are my father" was said in front of her); a denial ("You are not my father") is a choice a character makes,
  drama, and is not counted;
- someone injured is shown or says they are unhurt, with no healing in between;
- a prop destroyed is used again ("Frank reads the letter" after the letter was burned), with no copy, second one
  or replacement in between.
Only writing from episode 2 on is checked against facts of episodes before it; a single episode is not
applicable and passes, saying so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dramafactory.memory.facts import (
    DESTROY,
    FIRST_OR_SECOND,
    UNHURT,
    Fact,
    Names,
    extract_facts,
    relation_pattern,
    sentences,
    series_relations,
)
from dramafactory.schemas import EpisodeScript, Relation, SeriesBible

from .metrics import MAX_DETAIL, MetricResult, at_most

NAME = "script.fact_contradictions"
IGNORANCE = re.compile(r"\b(?:don't|do not|doesn't|does not|didn't|did not|never) (?:even |really )?know\b|"
                       r"\bno idea\b|\bnever (?:knew|met)\b|\bwho (?:my|her|his|your|our) (?:real )?\w+ (?:is|was)\b|"
                       r"\bwish (?:i|she|he) knew\b|\b(?:find|finding|search for|searching for|looking for|"
                       r"look for) (?:my|her|his) (?:real )?\w+\b|\bnever told (?:me|her|him) who\b", re.I)
RHETORICAL = re.compile(r"^\s*(?:do|did|don't) you (?:even )?know\b|^\s*you know\b", re.I)
USE = re.compile(r"\b(holds?|holding|reads?|reading|opens?|opening|shows?|showing|waves?|waving|hands?|gives?|"
                 r"takes? out|pulls? out|unfolds?|plays?|grips?|clutch(?:es|ing)?|uses?|using|pockets?|slides?|"
                 r"pass(?:es)?|presses|signs?|here is|here's|points? (?:at|to))\b", re.I)
REPLACED = re.compile(r"\b(another|a copy|copy of|copies|new|second|spare|duplicate|replacement|remains|ashes|"
                      r"what(?:'s| is) left|pieces|fragments?|scraps?)\b", re.I)


@dataclass
class _State:
    """What is true at a point of the series, updated as its facts are read in order."""

    knowers: dict[tuple[str, str, str], tuple[set[str], Fact]] = field(default_factory=dict)
    hurt: dict[str, Fact] = field(default_factory=dict)
    destroyed: dict[str, Fact] = field(default_factory=dict)

    def learn(self, facts: list[Fact]) -> None:
        for fact in facts:
            if fact.kind == "knows":
                person, kind, of = fact.state.split("|")
                known, first = self.knowers.get((person, kind, of), (set(), fact))
                self.knowers[(person, kind, of)] = (known | set(fact.who), first)
            elif fact.kind == "injury":
                for name in fact.who:
                    if fact.state == "healed":
                        self.hurt.pop(name, None)
                    else:
                        self.hurt.setdefault(name, fact)
            elif fact.kind == "prop" and fact.state == "destroyed":
                self.destroyed.setdefault(fact.subject, fact)


def _relation(relations: list[Relation], key: tuple[str, str, str]) -> Relation | None:
    return next((r for r in relations if (r.person, r.kind, r.of) == key), None)


def _contradictions(sentence: str, speaker: str | None, names: Names, relations: list[Relation],
                    state: _State) -> list[Fact]:
    """The earlier facts `sentence` (an action, or a line `speaker` says) goes against."""
    found: list[Fact] = []
    named = set(names.in_text(sentence))
    speaking_of_self = speaker is not None and FIRST_OR_SECOND.search(sentence)
    if IGNORANCE.search(sentence) and not RHETORICAL.search(sentence):
        for key, (known, fact) in state.knowers.items():
            relation = _relation(relations, key)
            if relation is None or not relation_pattern(relation).search(sentence):
                continue
            if named & known or (speaking_of_self and speaker in known):
                found.append(fact)
    if UNHURT.search(sentence):
        for name, fact in state.hurt.items():
            if name in named or (speaking_of_self and speaker == name):
                found.append(fact)
    for prop, fact in list(state.destroyed.items()):
        mention = re.search(rf"\b(?:the|his|her|my|your|their|that)\s+(?:[\w'-]+\s+){{0,2}}?{re.escape(prop)}s?\b",
                            sentence, re.I)
        if not mention and not re.search(rf"\b{re.escape(prop)}s?\b", sentence, re.I):
            continue
        if REPLACED.search(sentence) or DESTROY.search(sentence):
            state.destroyed.pop(prop)  # a copy, or its remains: from here on the prop exists (or is gone again)
            continue
        if mention and USE.search(sentence):
            found.append(fact)
    return found


def fact_contradictions(bible: SeriesBible, scripts: list[EpisodeScript]) -> list[MetricResult]:
    """Later writing that contradicts a fact an earlier episode established: a count, where none is the pass."""
    ordered = sorted(scripts, key=lambda s: s.episode)
    if len(ordered) < 2:
        result = at_most(NAME, 0, 0, ["not applicable: fewer than two episodes"])
        return [result]
    names = Names(c.name for c in bible.characters)
    relations = series_relations(bible)
    state = _State()
    failures: list[str] = []
    for script in ordered:
        for scene in script.scenes:
            for beat in scene.beats:
                said = [(s, None) for s in sentences(beat.action)] + \
                    [(s, line.speaker) for line in beat.lines for s in sentences(line.text)]
                for sentence, speaker in said:
                    for fact in _contradictions(sentence, speaker, names, relations, state):
                        where = f"episode {script.episode} scene {scene.number}"
                        by = f"{speaker}: " if speaker else ""
                        failures.append(f"{where}: {by}{sentence!r} contradicts episode {fact.episode}: {fact.text}")
        state.learn(extract_facts(bible, script))  # this episode's facts bind the episodes after it
    return [at_most(NAME, len(failures), 0, failures[:MAX_DETAIL])]
