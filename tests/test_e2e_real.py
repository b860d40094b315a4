"""End to end on the real embedded default (packaged Qwen GGUF, storyboard renderer, voice bank, ffmpeg).

Slow (a few minutes on 2 cores); CI runs it too."""

from __future__ import annotations

import json

import pytest

from dramafactory.config import Settings
from dramafactory.graphs.backends import build_context
from dramafactory.graphs.runner import produce
from dramafactory.schemas import EpisodeScript, SeriesBible, SeriesConcept
from dramafactory.tools.assembly.video import probe

pytestmark = pytest.mark.slow


def test_one_minute_episode_on_the_embedded_default(tmp_path):
    concept = SeriesConcept(logline="A junior lawyer discovers her mentor buried the evidence that would free her "
                                    "brother.", genre="thriller", seconds_per_episode=60)
    ctx = build_context(tmp_path / "run", Settings(_env_file=None))
    outcome = produce(ctx, concept=concept, seed=4)
    assert outcome.status == "finished"
    run = ctx.run_dir
    bible = SeriesBible.model_validate_json((run / "bible.json").read_text())
    script = EpisodeScript.model_validate_json((run / "episodes/01/script.json").read_text())
    lines = script.lines()
    assert {ln.speaker for ln in lines} <= {c.name for c in bible.characters}
    assert sum(ln.fallback for ln in lines) <= len(lines) // 2, "the model must write most lines itself"
    info = probe(run / "episodes/01/episode.mp4")
    assert (info["width"], info["height"]) == (720, 1280) and info["has_audio"]
    assert 48 <= info["duration"] <= 72
    shots = json.loads((run / "episodes/01/shots.json").read_text())["shots"]
    assert len(shots) >= 8
    srt = (run / "episodes/01/episode.srt").read_text()
    assert srt.count("-->") == len(lines) and all(ln.text.split()[0] in srt for ln in lines)
    rows = [json.loads(x) for x in (run / "ledger.jsonl").read_text().splitlines()]
    assert any(r["backend"] == "llama-cpp" and r["completion_tokens"] > 0 for r in rows)


def test_same_concept_and_seed_give_the_same_plan(tmp_path):
    concept = SeriesConcept(logline="A palace cook learns the queen she serves poisoned the old king.",
                            genre="fantasy", seconds_per_episode=30)
    outputs = []
    for name in ("a", "b"):
        ctx = build_context(tmp_path / name, Settings(_env_file=None))
        produce(ctx, concept=concept, seed=9, stop_after="cinematographer")
        outputs.append([(tmp_path / name / f).read_text() for f in
                        ("bible.json", "episodes/01/script.json", "episodes/01/shotlist.json")])
    assert outputs[0] == outputs[1]
