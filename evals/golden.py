"""The golden concepts and the named presets (evals/golden/concepts.yaml), validated on load."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dramafactory.schemas import RelationKind, SeriesConcept

GOLDEN_FILE = Path(__file__).parent / "golden" / "concepts.yaml"
SUITE_NAMES = ("bible", "script", "shotlist", "continuity", "e2e", "qc")


class LabelPerson(BaseModel):
    """One person of the logline, labelled by hand: the words a character cast as them is described by (any one
    of them in its role, description or logline phrase), like ../shared/tools/check_premise.py's role groups."""

    model_config = ConfigDict(extra="forbid")
    label: str = Field(pattern=r"^[a-z0-9-]+$")
    words: list[str] = Field(min_length=1)
    gender: Literal["female", "male"] | None = None

    @field_validator("words")
    @classmethod
    def _single_words(cls, words: list[str]) -> list[str]:
        # matched against a character's tokens, so a phrase could never match; hyphenated compounds are one token
        bad = [w for w in words if not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", w)]
        if bad:
            raise ValueError(f"person words must be single lower-case words: {bad}")
        return words


class LabelRelation(BaseModel):
    """`person` is `of`'s `kind` (any of the kinds listed: 'ex' or 'fiance' for an ex-fiance), by label."""

    model_config = ConfigDict(extra="forbid")
    person: str
    kind: list[RelationKind] = Field(min_length=1)
    of: str

    @field_validator("kind", mode="before")
    @classmethod
    def _one_or_many(cls, kind: object) -> object:
        return [kind] if isinstance(kind, str) else kind


class LabelFact(BaseModel):
    """Who did what to whom in the premise, for the inversion check: `agent` does `act` to `object` (either may
    be left out when the logline does not say, e.g. who humiliated the maid). `act` lists word prefixes (four
    letters or more match any longer word: 'humiliat') or phrases ('meant for'). `scope` 'opening' checks only
    the synopsis and episode 1's outline: an act later episodes may rightly turn round (her revenge humiliates
    him)."""

    model_config = ConfigDict(extra="forbid")
    agent: str | None = None
    act: list[str] = Field(min_length=1)
    object: str | None = None
    scope: Literal["all", "opening"] = "all"

    @model_validator(mode="after")
    def _someone(self) -> LabelFact:
        if self.agent is None and self.object is None:
            raise ValueError(f"fact {self.act} names neither an agent nor an object: it cannot be inverted")
        return self


class PremiseLabels(BaseModel):
    """A golden concept's premise, labelled by hand (independent of the director's parser). people[0] is the
    protagonist; discovery and stakes are the logline's words for them, whose content words a line may use to
    engage the premise."""

    model_config = ConfigDict(extra="forbid")
    people: list[LabelPerson] = Field(min_length=1)
    relations: list[LabelRelation] = Field(default_factory=list)
    facts: list[LabelFact] = Field(default_factory=list)
    discovery: str = ""
    stakes: str = ""

    @model_validator(mode="after")
    def _known_labels(self) -> PremiseLabels:
        labels = [p.label for p in self.people]
        if len(set(labels)) != len(labels):
            raise ValueError(f"person labels must be distinct: {labels}")
        used = [r.person for r in self.relations] + [r.of for r in self.relations] + \
            [x for f in self.facts for x in (f.agent, f.object) if x is not None]
        stray = sorted(set(used) - set(labels))
        if stray:
            raise ValueError(f"relations or facts name unlabelled people {stray}; the people are {labels}")
        return self

    @property
    def lead(self) -> LabelPerson:
        return self.people[0]


class GoldenConcept(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9-]+$")
    genre: str
    tone: str = "melodramatic"
    logline: str
    labels: PremiseLabels | None = Field(default=None, description="Hand labels for the story metrics.")

    def concept(self, episodes: int, seconds: int) -> SeriesConcept:
        return SeriesConcept(logline=self.logline, genre=self.genre, tone=self.tone, episodes=episodes,
                             seconds_per_episode=seconds)


class QCSetSize(BaseModel):
    series: int = Field(default=6, ge=1)
    shots: int = Field(default=16, ge=2)


class Preset(BaseModel):
    model_config = ConfigDict(extra="forbid")
    concepts: list[str]
    episodes: int = Field(default=1, ge=1, le=10)
    seconds: int = Field(default=60, ge=20, le=300)
    seeds: list[int] = Field(default=[0], min_length=1)
    suites: list[str]
    qc: QCSetSize = QCSetSize()


class GoldenSet(BaseModel):
    concepts: list[GoldenConcept]
    presets: dict[str, Preset]

    def pick(self, ids: list[str] | None) -> list[GoldenConcept]:
        if not ids:
            return list(self.concepts)
        known = {c.id: c for c in self.concepts}
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise ValueError(f"unknown golden concept(s) {unknown}; the set has {sorted(known)}")
        return [known[i] for i in ids]


def load_golden(path: Path = GOLDEN_FILE) -> GoldenSet:
    golden = GoldenSet.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    for name, preset in golden.presets.items():
        golden.pick(preset.concepts)
        stray = [s for s in preset.suites if s not in SUITE_NAMES]
        if stray:
            raise ValueError(f"preset {name} names unknown suites {stray}; suites are {SUITE_NAMES}")
    return golden
