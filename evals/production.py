"""A produced run folder, read back for scoring: what the suites measure (the output contract, README)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from dramafactory.schemas import Character, EpisodeScript, RunSummary, SeriesBible, SeriesConcept, ShotList
from dramafactory.tools.ledger import Ledger


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


@dataclass
class Production:
    run_dir: Path
    concept: SeriesConcept
    bible: SeriesBible | None = None
    scripts: list[EpisodeScript] = field(default_factory=list)
    shotlists: list[ShotList] = field(default_factory=list)
    cuts: list[dict] = field(default_factory=list)  # episodes/NN/shots.json: every shot as cut, with its takes
    summary: RunSummary | None = None

    @classmethod
    def load(cls, run_dir: Path) -> Production:
        concept = SeriesConcept.model_validate(_read(run_dir / "concept.json"))
        bible = SeriesBible.model_validate(_read(run_dir / "bible.json")) if (run_dir / "bible.json").is_file() \
            else None
        episodes = sorted(p for p in (run_dir / "episodes").glob("[0-9][0-9]") if p.is_dir())
        scripts = [EpisodeScript.model_validate(_read(p / "script.json")) for p in episodes
                   if (p / "script.json").is_file()]
        shotlists = [ShotList.model_validate(_read(p / "shotlist.json")) for p in episodes
                     if (p / "shotlist.json").is_file()]
        cuts = [_read(p / "shots.json") for p in episodes if (p / "shots.json").is_file()]
        summary = RunSummary.model_validate(_read(run_dir / "summary.json")) \
            if (run_dir / "summary.json").is_file() else None
        return cls(run_dir, concept, bible, scripts, shotlists, cuts, summary)

    @cached_property
    def _memory(self):
        from dramafactory.memory.characters import CharacterMemory

        return CharacterMemory(self.run_dir / "memory")

    def canonical(self, name: str) -> Character:
        """A character's canonical look as the run's continuity memory holds it (the bible if it has none)."""
        assert self.bible is not None
        if (self.run_dir / "memory").is_dir():
            return self._memory.canonical(self.bible.title, name)
        return self.bible.character(name)

    def ledger(self) -> list[dict]:
        return Ledger(self.run_dir / "ledger.jsonl").rows()  # a line torn by a crash is skipped, not fatal

    def contact_sheets(self) -> list[Path]:
        return sorted(self.run_dir.glob("episodes/*/contact_sheet.png"))
