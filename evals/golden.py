"""The golden concepts and the named presets (evals/golden/concepts.yaml), validated on load."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from dramafactory.schemas import SeriesConcept

GOLDEN_FILE = Path(__file__).parent / "golden" / "concepts.yaml"
SUITE_NAMES = ("bible", "script", "shotlist", "continuity", "e2e", "qc")


class GoldenConcept(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9-]+$")
    genre: str
    tone: str = "melodramatic"
    logline: str

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
