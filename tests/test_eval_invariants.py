"""The guarantees behind the eval's invariants (evals/invariants.py), tested on the agents that make them.

These properties read 1.0 on every production because code decides them, so the evals check them without scoring
them. Here each guarantee is driven directly: the writer and the cinematographer's planner, on a cooperative model
and on one whose every answer is rejected (stock text everywhere), over several episodes and lengths. If the code
that guarantees one of them changes, a test here fails before any eval has to.
"""

from __future__ import annotations

import pytest

from dramafactory.agents.cinematographer.agent import plan_shots
from dramafactory.agents.director.agent import write_bible
from dramafactory.agents.writer.agent import BEATS, write_script
from dramafactory.evals import script_metrics as sm
from dramafactory.evals import shotlist_metrics as shm
from dramafactory.evals.invariants import INVARIANTS
from dramafactory.schemas import Beat, DialogueLine, EpisodeScript, Scene
from dramafactory.tools.text.base import TextResult

from .fakes import FakeText


class Unusable(FakeText):
    """Every answer arrives and fails the checks (not JSON): the agents fall back to their flagged stock text."""

    def complete_json(self, request):
        self.calls += 1
        return TextResult("not json", 1, 1, 0.0, self.model, self.name)


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    """A bible from the fake model, registered in the continuity memory as the graph does before writing."""
    from dramafactory.config import Settings
    from dramafactory.graphs.backends import build_context
    from dramafactory.schemas import SeriesConcept

    from .fakes import FakeImage, FakeSpeech

    concept = SeriesConcept(logline="A night-shift nurse discovers the billionaire patient she saved is her "
                                    "runaway father.", genre="family", episodes=3, seconds_per_episode=30)
    settings = Settings(_env_file=None, width=180, height=320, fps=8, qc_people="off")
    ctx = build_context(tmp_path_factory.mktemp("run"), settings, text=FakeText(), image=FakeImage(),
                        speech=FakeSpeech())
    bible = write_bible(ctx, concept, seed=5)
    ctx.memory.register(bible.characters, series=bible.title)
    return ctx, bible, concept


def script_checks(script: EpisodeScript, bible) -> dict[str, object]:
    return {"script.valid": sm.valid(script, bible), "script.hook_first": sm.hook_first(script),
            "script.cliffhanger_last": sm.cliffhanger_last(script),
            "script.known_speakers": sm.known_speakers(script, bible)}


def shotlist_checks(shotlist, script: EpisodeScript, canonical) -> dict[str, object]:
    return {"shotlist.lines_covered": shm.lines_covered(shotlist, script),
            "shotlist.canonical_looks": shm.canonical_looks(shotlist, canonical),
            "shotlist.screen_direction": shm.screen_direction(shotlist, script)}


@pytest.mark.parametrize("model", ["cooperative", "unusable"])
@pytest.mark.parametrize(("episode", "seconds"), [(1, 30), (2, 60), (3, 15), (1, 120)])
def test_the_writer_and_the_planner_keep_every_invariant(series, model, episode, seconds):
    """Episodes 1 to 3 rotate the scene casts; 15 s to 120 s change how many lines each beat gets (beat_plan)."""
    ctx, bible, concept = series
    ctx.text = FakeText() if model == "cooperative" else Unusable()
    concept = concept.model_copy(update={"seconds_per_episode": seconds})
    script = write_script(ctx, bible, concept, episode, seed=episode * 7, earlier_lines=[])
    if model == "unusable":
        assert script.flags and all(line.fallback for line in script.lines())  # stock text, not the model's
    # the writer's structure, stated directly: the beat sheet in order, every beat carrying an action and a line,
    # speakers from the scene's own cast
    assert [b.kind for s in script.scenes for b in s.beats] == BEATS
    assert all(b.action.strip() and b.lines for s in script.scenes for b in s.beats)
    assert all(line.speaker in s.characters for s in script.scenes for b in s.beats for line in b.lines)
    canonical = lambda name: ctx.memory.canonical(bible.title, name)  # noqa: E731 - as the eval reads it
    shotlist, _ = plan_shots(ctx, bible, script, seed=episode, target_seconds=seconds)
    checks = {**script_checks(script, bible), **shotlist_checks(shotlist, script, canonical)}
    assert set(checks) == set(INVARIANTS)  # every invariant the evals check is driven here
    broken = {name: r.detail for name, r in checks.items() if not (r.passed and r.value == 1.0)}
    assert not broken


def test_the_planner_covers_every_line_and_describes_every_person_whatever_the_script(series):
    """lines_covered and canonical_looks hold for any script, not only the writer's: a shot per line, and the
    memory's description of everyone listed. This script has one scene, three lines per beat, one speaker for a
    whole beat and intense emotions throughout (close-ups, and the framing changes that avoid repeats)."""
    ctx, bible, _ = series
    ctx.text = FakeText()
    a, b = bible.characters[0].name, bible.characters[1].name
    beats = [Beat(kind=kind, action=f"{a.split()[0]} turns to {b.split()[0]}.",
                  lines=[DialogueLine(id=f"x{i}l{n}", speaker=a if i % 2 else b, text=f"Line {i} {n}, said now.",
                                      emotion="shocked") for n in range(3)])
             for i, kind in enumerate(BEATS)]
    script = EpisodeScript(episode=1, title="t", scenes=[
        Scene(number=1, location=bible.locations[0].name, time_of_day=bible.locations[0].time_of_day,
              characters=[a, b], beats=beats)])
    shotlist, _ = plan_shots(ctx, bible, script, seed=3, target_seconds=60)
    canonical = lambda name: ctx.memory.canonical(bible.title, name)  # noqa: E731
    assert shm.lines_covered(shotlist, script).value == 1.0
    assert shm.canonical_looks(shotlist, canonical).value == 1.0
