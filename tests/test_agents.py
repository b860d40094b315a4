"""Each agent with the fake text backend (tests only): structure from code, checks that reject bad answers."""

from __future__ import annotations

import json

import pytest

from dramafactory.agents.cinematographer.agent import plan_shots, retime
from dramafactory.agents.director.agent import write_bible
from dramafactory.agents.structured import StructuredOutputError, ask_json
from dramafactory.agents.writer.agent import LineReply, beat_plan, line_checks, write_script
from dramafactory.tools.text.base import TextResult

from .fakes import FakeText


@pytest.fixture
def ctx(fake_context):
    return fake_context()


def test_director_casts_distinct_people_with_distinct_looks_and_voices(ctx, concept):
    bible = write_bible(ctx, concept, seed=5)
    names = [c.name for c in bible.characters]
    assert len(set(names)) == 3 and all(len(n.split()) == 2 for n in names)
    assert len({c.look.hair_color for c in bible.characters}) == 3
    assert len({c.look.palette[0] for c in bible.characters}) == 3
    assert len({(c.voice.engine, c.voice.voice_id, c.voice.pitch) for c in bible.characters}) == 3
    assert bible.characters[0].gender == "female"  # "she" in the logline
    assert not any(w.lower() in {"nurse", "billionaire", "night-shift"} for n in names for w in n.split())
    assert bible.episodes[0].characters == names and not bible.flags


def test_director_is_reproducible_for_a_seed(fake_context, concept, tmp_path):
    a = write_bible(fake_context(tmp_path / "a"), concept, seed=11)
    b = write_bible(fake_context(tmp_path / "b"), concept, seed=11)
    c = write_bible(fake_context(tmp_path / "c"), concept, seed=12)
    assert a == b
    assert [x.name for x in a.characters] != [x.name for x in c.characters]


def test_two_series_with_the_same_seed_get_different_casts(fake_context, concept, tmp_path):
    other = concept.model_copy(update={"logline": "A palace cook learns the poison she serves is meant for her "
                                                  "sister.", "genre": "fantasy"})
    a = write_bible(fake_context(tmp_path / "a"), concept, seed=0)
    b = write_bible(fake_context(tmp_path / "b"), other, seed=0)
    assert not {c.name for c in a.characters} & {c.name for c in b.characters}
    assert [c.look.palette[0] for c in a.characters] != [c.look.palette[0] for c in b.characters]


def test_writer_follows_the_beat_sheet_and_only_the_cast_speaks(ctx, concept):
    bible = write_bible(ctx, concept, seed=5)
    script = write_script(ctx, bible, concept, 1, seed=5, earlier_lines=[])
    kinds = [b.kind for s in script.scenes for b in s.beats]
    assert kinds == ["hook", "pressure", "reveal", "reversal", "cliffhanger"]
    lines = script.lines()
    assert len(lines) == sum(beat_plan(round(concept.seconds_per_episode * 0.2)))
    assert {ln.speaker for ln in lines} <= {c.name for c in bible.characters}
    assert len({ln.text for ln in lines}) == len(lines)


@pytest.mark.parametrize("line, reason", [
    ("Mia Cole walks to the window and sighs.", "own name"),
    ("She says that the money is gone.", "narration"),
    ("(angrily) Get out of my house.", "narration"),
    ("Give me back the ring you stole from me.", "repeats"),
    ("Emotion: shocked. Beat: hook.", "instructions"),
    ("I'm sorry, but I can't assist with that.", "assistant"),
    ("Give me back the ring you stole. And leave now.", "repeats"),
    ("You say it. Sam is your father.", "say 'you' to Sam"),  # about the listener, to the listener
])
def test_line_checks_reject_the_small_model_failure_kinds(line, reason):
    check = line_checks("Mia Cole", "Sam Hart", "Mia opens the drawer.", ["Give me back the ring you stole."])
    assert reason in check(LineReply(line=line))


def test_line_checks_accept_a_spoken_line():
    check = line_checks("Mia Cole", "Sam Hart", "Mia opens the drawer.", ["Where were you last night?"])
    assert check(LineReply(line="You kept this from me for ten years, Sam.")) is None


def test_broken_json_is_re_asked_with_the_reason(ctx):
    text = FakeText(broken=1)
    reply = ask_json(text, ctx.ledger, stage="writer.line", schema=LineReply, system="s", examples=[], ask="a",
                     seed=1)
    assert reply.line and text.calls == 2
    rows = ctx.ledger.rows()
    assert len(rows) == 2 and rows[0]["stage"] == "writer.line"


def test_persistently_broken_model_raises_after_bounded_tries(ctx):
    class Broken:
        name, model = "broken", "broken"

        def complete_json(self, request):
            return TextResult("not json", 1, 1, 0.0, self.model, self.name)

    with pytest.raises(StructuredOutputError, match="3 tries"):
        ask_json(Broken(), ctx.ledger, stage="x", schema=LineReply, system="s", examples=[], ask="a", seed=1)


def test_writer_falls_back_to_flagged_stock_lines_when_the_model_fails(ctx, concept):
    bible = write_bible(ctx, concept, seed=5)

    class Parrot(FakeText):  # every line restates the same words: rejected as a repeat after the first
        def complete_json(self, request):
            if "line" in request.schema.get("properties", {}):
                return TextResult(json.dumps({"line": "I know what you did."}), 1, 1, 0.0, self.model, self.name)
            return super().complete_json(request)

    ctx.text = Parrot()
    script = write_script(ctx, bible, concept, 1, seed=5, earlier_lines=[])
    fallbacks = [ln for ln in script.lines() if ln.fallback]
    assert fallbacks and len(script.flags) >= len(fallbacks)


def test_cinematographer_covers_every_line_with_its_speaker_on_screen(ctx, concept):
    bible = write_bible(ctx, concept, seed=5)
    ctx.memory.register(bible.characters, series=bible.title)
    script = write_script(ctx, bible, concept, 1, seed=5, earlier_lines=[])
    shotlist, moods = plan_shots(ctx, bible, script, seed=5, target_seconds=concept.seconds_per_episode)
    shots = shotlist.shots
    assert {s.dialogue_line for s in shots if s.dialogue_line} == {ln.id for ln in script.lines()}
    assert all(s.speaker in s.characters for s in shots if s.speaker)
    assert all(a.framing != b.framing for a, b in zip(shots, shots[1:], strict=False))
    assert abs(sum(s.duration_s for s in shots) - concept.seconds_per_episode) < 0.15 * concept.seconds_per_episode
    speaker = bible.character(shots[1].speaker)
    assert speaker.look.hair_color in shots[1].prompt and speaker.wardrobe in shots[1].prompt
    assert set(moods) == {1, 2}


def test_retime_makes_room_for_each_voice_and_keeps_the_target(ctx, concept):
    bible = write_bible(ctx, concept, seed=5)
    ctx.memory.register(bible.characters, series=bible.title)
    script = write_script(ctx, bible, concept, 1, seed=5, earlier_lines=[])
    shots = plan_shots(ctx, bible, script, seed=5, target_seconds=30)[0].shots
    voices = {s.dialogue_line: 2.5 for s in shots if s.dialogue_line}
    timed = retime(shots, voices, 30)
    assert all(s.duration_s >= 2.5 for s in timed if s.dialogue_line)
    assert sum(s.duration_s for s in timed) <= max(30, sum(2.95 for _ in voices) + 1.0 * (len(shots) - len(voices)))


def test_a_small_cast_never_shares_a_base_voice():
    from dramafactory.tools.speech.voicebank import allocate_voices

    for genders in (["male", "male", "male"], ["female", "female", "female"], ["female", "male", "male"]):
        assert len({v.voice_id for v in allocate_voices(genders)}) == 3


def test_a_line_that_reuses_a_sentence_of_an_earlier_line_is_a_repeat():
    check = line_checks("Mia Cole", "Sam Hart", "Mia opens the drawer.",
                        ["I know. It was a letter from my brother. You should have signed it on this."])
    assert "repeats" in check(LineReply(line="You should have signed it on this. Sign the letter."))
    # the checks judge what the episode says: a long line is cut first (fit_line), and its cut sentence is gone
    assert check(LineReply(line="You need to sign the letter right now, tonight. You should have signed it on this.")) \
        is None


def test_an_english_answer_that_drifts_into_another_script_is_sent_back():
    from pydantic import BaseModel

    from dramafactory.agents.structured import written_in

    class Reply(BaseModel):
        synopsis: str

    english = written_in("en")
    assert "not English" in english(Reply(synopsis="They uncover the 真相 behind their past."))
    assert "not English" in english(Reply(synopsis="Она знает правду."))
    assert english(Reply(synopsis="A naïve café owner's rôle, 3 times.")) is None  # Latin letters with accents
    assert written_in("zh")(Reply(synopsis="他们揭开了真相。")) is None  # other languages are not policed here


def test_the_ledger_keeps_the_servers_own_timing_only_where_it_reports_one(ctx):
    class Timed(FakeText):
        def complete_json(self, request):
            reply = super().complete_json(request)
            return TextResult(reply.text, 5, 5, 0.9, self.model, self.name, remote=True, gpu_seconds=None,
                              server_seconds=0.5)

    ask_json(Timed(), ctx.ledger, stage="writer.line", schema=LineReply, system="s", examples=[], ask="a", seed=1)
    ask_json(FakeText(), ctx.ledger, stage="writer.line", schema=LineReply, system="s", examples=[], ask="a", seed=1)
    timed, local = ctx.ledger.rows()
    assert timed["server_seconds"] == 0.5 and timed["seconds"] == 0.9
    assert "server_seconds" not in local
