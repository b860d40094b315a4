"""Concurrent independent calls (agents/parallel.py) and the capable-model strategy (text_strategy "capable"),
on fake text backends (tests/fakes.py and the test-only fakes below): no model runs here."""

from __future__ import annotations

import contextvars
import json
import random
import re
import threading
import time

import pytest

from dramafactory.agents.director import places
from dramafactory.agents.director.agent import write_bible
from dramafactory.agents.director.cast_plan import plan_cast
from dramafactory.agents.director.checks import DUPLICATE_WANT
from dramafactory.agents.parallel import run_all
from dramafactory.agents.structured import stable_seed
from dramafactory.agents.writer.agent import BEATS, EMOTIONS, beat_plan, scene_casts, write_script
from dramafactory.config import Settings
from dramafactory.graphs.backends import build_context
from dramafactory.graphs.runner import produce
from dramafactory.tools.text.base import JsonRequest, TextBackendError, TextResult

from .fakes import CAST_WANTS, FakeImage, FakeSpeech, FakeText

LINE_ID = re.compile(r"e\d{2}s[12]b[1-5]l\d+")


class CountingText(FakeText):
    """A fake server backend (tests only): takes `max_in_flight` calls at once, holds each a moment, and counts
    how many were in flight together."""

    def __init__(self, max_in_flight: int = 3, hold: float = 0.03, **kwargs):
        super().__init__(**kwargs)
        self.max_in_flight = max_in_flight
        self.hold = hold
        self.in_flight = 0
        self.peak = 0
        self._gauge = threading.Lock()

    def complete_json(self, request: JsonRequest) -> TextResult:
        with self._gauge:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            time.sleep(self.hold)
            return super().complete_json(request)
        finally:
            with self._gauge:
                self.in_flight -= 1


def kind_of(request: JsonRequest) -> str:
    keys = set(request.schema.get("properties", {}))
    if "characters" in keys:
        return "cast"
    if keys == {"episodes"}:
        return "outlines"
    if keys and keys <= set(BEATS):
        return "scene"
    return "tiny"


# The profiles a capable fake writes for code's cast: one want and secret per person, none alike.
FAKE_PROFILES = [*CAST_WANTS, ("To buy back the land the family lost to the bank.",
                               "Burned the ledger that named the real owner."),
                 ("To leave the city before the trial begins.", "Still keeps the key to the locked archive.")]


def cast_names(ask: str) -> list[str]:
    """The cast the capable ask gives, in order ('- Mia Cole (protagonist, female, 29): ...')."""
    return re.findall(r"^- (.+?) \(", ask, re.M)


class CapableText(FakeText):
    """FakeText, answering the capable cast ask (code's cast, the model's profiles) for the people the ask names
    (tests only: tests/fakes.py's fake_cast invents its own three people, as the capable cast ask once asked)."""

    def _capable(self, request: JsonRequest, keys: set[str], ask: str) -> dict | None:
        names = cast_names(ask)
        if {"characters", "title", "synopsis"} <= keys and names:  # an ask without a cast: fake_cast's people
            return {"characters": [{"name": n, "want": w, "secret": s}
                                   for n, (w, s) in zip(names, FAKE_PROFILES, strict=False)],
                    "title": "The Fake Capable Series",
                    "synopsis": f"{names[0]} takes on {names[1]}. Nothing is as it seems."}
        return super()._capable(request, keys, ask)


class ScriptedText(CapableText):
    """A fake (tests only) that answers the capable schemas with prepared JSON, in order (the last one again once
    they run out), and everything else like FakeText; it keeps every ask it was sent, by kind."""

    def __init__(self, **replies: list[dict]):
        super().__init__()
        self.replies = {kind: [json.dumps(r) for r in answers] for kind, answers in replies.items()}
        self.asks: dict[str, list[str]] = {}

    def complete_json(self, request: JsonRequest) -> TextResult:
        kind = kind_of(request)
        with self._lock:
            self.asks.setdefault(kind, []).append(request.messages[-1][1])
            queue = self.replies.get(kind)
            text = (queue.pop(0) if len(queue) > 1 else queue[0]) if queue else None
        if text is None:
            return super().complete_json(request)
        return TextResult(text, 300, 200, 0.001, self.model, self.name)


def plan_of(concept, seed: int = 5):
    """Code's cast for the concept at the run seed, drawn as write_bible draws it."""
    cast_seed = stable_seed(seed, concept.logline, concept.genre)
    return plan_cast(concept, random.Random(cast_seed), cast_seed)


def cast(names: list[str], profiles: list[tuple[str, str]] | None = None, title: str = "Father on Ward Seven",
         synopsis: str | None = None) -> dict:
    profiles = profiles or FAKE_PROFILES[:len(names)]
    return {"characters": [{"name": n, "want": w, "secret": s} for n, (w, s) in zip(names, profiles, strict=True)],
            "title": title,
            "synopsis": synopsis or f"{names[0]} saves {names[1]} and learns the truth. {names[-1]} keeps it quiet."}


def outline(names: list[str]) -> dict:
    lead, other, third = (n.split()[0] for n in (names[0], names[1], names[-1]))
    return {"title": "The Chart", "hook": f"{lead} reads the name on the chart twice.",
            "conflict": f"{other} offers {lead} money to forget what she saw.",
            "cliffhanger": f"{third} tears the page out of the admissions book."}


@pytest.fixture
def capable_context(tmp_path, fast_settings: Settings):
    settings = fast_settings.model_copy(update={"text_strategy": "capable"})

    def make(text, name: str = "run"):
        return build_context(tmp_path / name, settings, text=text, image=FakeImage(), speech=FakeSpeech())

    return make


def call_rows(ctx, prefix: str) -> list[dict]:
    return [r for r in ctx.ledger.rows() if r["stage"].startswith(prefix) and r["kind"] == "call"]


# --- the concurrency helper ---------------------------------------------------------------------------------


def test_run_all_keeps_input_order_and_never_exceeds_the_limit():
    backend = CountingText(max_in_flight=3)
    request = JsonRequest(system="s", messages=[("user", "a")], schema={"properties": {"line": {}}})

    def call(i: int):
        time.sleep(0.02 * (5 - i % 5))  # later calls finish first: the order must come from the input
        backend.complete_json(request)
        return i

    assert run_all(backend, [lambda i=i: call(i) for i in range(10)]) == list(range(10))
    assert backend.peak == 3


def test_run_all_runs_inline_on_a_one_call_backend():
    main = threading.get_ident()
    assert run_all(FakeText(), [threading.get_ident, threading.get_ident]) == [main, main]
    assert run_all(CountingText(max_in_flight=4), [threading.get_ident]) == [main]  # one call: no thread either


def test_run_all_re_raises_the_first_failure_in_input_order_after_every_call_finished():
    finished: list[str] = []

    def slow_failure():
        time.sleep(0.1)
        finished.append("slow")
        raise TextBackendError("first in order")

    def quick_failure():
        raise ValueError("first in time")

    with pytest.raises(TextBackendError, match="first in order"):
        run_all(CountingText(max_in_flight=3), [lambda: 1, slow_failure, quick_failure])
    assert finished == ["slow"]  # run_all waited for the running call instead of leaving its thread behind


def test_run_all_cancels_the_calls_not_started_once_one_failed():
    started: list[int] = []

    def call(i: int):
        started.append(i)
        if i == 0:
            raise TextBackendError("server down")
        time.sleep(0.2)
        return i

    with pytest.raises(TextBackendError):
        run_all(CountingText(max_in_flight=2), [lambda i=i: call(i) for i in range(6)])
    assert len(started) < 6


def test_run_all_copies_contextvars_into_its_workers():
    var: contextvars.ContextVar[str] = contextvars.ContextVar("writer", default="unset")
    var.set("stream-writer")
    main = threading.get_ident()
    seen = run_all(CountingText(max_in_flight=2), [lambda: (var.get(), threading.get_ident())] * 3)
    assert [value for value, _ in seen] == ["stream-writer"] * 3
    assert any(ident != main for _, ident in seen)


# --- the tiny director, concurrent ---------------------------------------------------------------------------


def test_tiny_director_asks_profiles_and_title_together(fake_context, concept):
    text = CountingText(max_in_flight=3)
    ctx = fake_context(text=text)
    bible = write_bible(ctx, concept, seed=5)
    assert text.peak > 1 and text.peak <= 3
    stages = [r["stage"] for r in call_rows(ctx, "director.")]
    assert stages.count("director.profile") == 3 and stages.count("director.title") == 1
    assert len({c.want for c in bible.characters}) == 3 and not bible.flags


class SameWant(CountingText):
    """Every profile ask gets the same want (tests only), unless the ask says the want copies another one."""

    _asks_lock = threading.Lock()

    def complete_json(self, request: JsonRequest) -> TextResult:
        if {"want", "secret"} <= set(request.schema["properties"]):
            ask = request.messages[-1][1]
            with self._asks_lock:  # called from several threads at once
                self.asks = getattr(self, "asks", []) + [ask]
            name = ask.split("hidden secret of ")[1].split(",")[0]
            want = "To win back the family house by the end of summer."
            if "copies another character's want" in ask:
                want = {0: "To expose the board before the vote.", 1: "To leave town with a clean record."}[
                    len([a for a in self.asks if "copies" in a]) % 2]
            return TextResult(json.dumps({"want": want, "secret": f"Hid the key from everyone ({len(name)})."}),
                              1, 1, 0.0, self.model, self.name)
        return super().complete_json(request)


def test_a_want_copied_by_a_concurrent_profile_is_asked_again_with_the_others_known(fake_context, concept):
    text = SameWant(max_in_flight=3)
    ctx = fake_context(text=text)
    bible = write_bible(ctx, concept, seed=5)
    wants = [c.want for c in bible.characters]
    assert wants[0] == "To win back the family house by the end of summer."
    assert len(set(wants)) == 3 and not bible.flags
    repairs = [a for a in text.asks if "copies another character's want" in a]
    assert len(repairs) == 2 and len(text.asks) == 5  # only the two copies were asked again


def test_one_call_at_a_time_a_copied_want_is_re_asked_inside_its_own_ask_as_before(fake_context, concept):
    # The embedded model (max_in_flight 1): each profile knows the wants before it, and a copy is the same ask's
    # next attempt (its rejection in the ledger, no separate repair ask), as the director always did.
    text = SameWant(max_in_flight=1)
    ctx = fake_context(text=text)
    bible = write_bible(ctx, concept, seed=5)
    assert len({c.want for c in bible.characters}) == 3 and not bible.flags
    profiles = [r for r in call_rows(ctx, "director.profile")]
    assert [r["attempt"] for r in profiles] == [1, 1, 2, 1, 2]
    assert [r.get("rejected") for r in profiles if r.get("rejected")] == [DUPLICATE_WANT] * 2
    stages = [r["stage"] for r in call_rows(ctx, "director.")]
    assert stages.index("director.title") == len(profiles)  # the title after the profiles, as before


def test_names_with_particles_are_matched_as_whole_words():
    from dramafactory.agents.director.checks import mentions_cast, profile_problem

    name = "Luis de la Renta"
    assert profile_problem("To find the hidden evidence before the trial.", "She lied under oath about the place.",
                           name) is None  # "de" and "la" are inside other words, not the name
    assert profile_problem("To make Luis pay for the lie.", "Has a second family abroad.", name)
    assert not mentions_cast("Someone decides to leave the place.", [name, "Mia Hart"])
    assert not mentions_cast("She reads the chart.", ["Mia Hart"]) and mentions_cast("Hart's letter", ["Mia Hart"])


def test_a_backend_failure_in_a_concurrent_ask_stops_the_director(fake_context, concept):
    class DownOnTitle(CountingText):
        def complete_json(self, request):
            if "synopsis" in request.schema["properties"]:
                raise TextBackendError("connection refused")
            return super().complete_json(request)

    ctx = fake_context(text=DownOnTitle(max_in_flight=3))
    with pytest.raises(TextBackendError):
        write_bible(ctx, concept, seed=5)
    assert any(r["kind"] == "error" and r["stage"] == "director.title" for r in ctx.ledger.rows())


# --- the capable director ------------------------------------------------------------------------------------


def test_capable_director_casts_the_premise_and_keeps_the_models_profiles(capable_context, fake_context, concept,
                                                                         tmp_path):
    plan = plan_of(concept)
    text = ScriptedText(cast=[cast(plan.names)], outlines=[{"episodes": [outline(plan.names)]}])
    ctx = capable_context(text)
    bible = write_bible(ctx, concept, seed=5)
    people = bible.characters
    # code's cast, as the tiny strategy draws it: names, roles, descriptions, genders, ages, looks and voices
    tiny = write_bible(fake_context(tmp_path / "tiny"), concept, seed=5)
    assert [(c.name, c.role, c.description, c.gender, c.age, c.look, c.voice, c.logline_phrase) for c in people] \
        == [(c.name, c.role, c.description, c.gender, c.age, c.look, c.voice, c.logline_phrase)
            for c in tiny.characters]
    assert bible.premise == tiny.premise and bible.relations == tiny.relations
    assert [loc.name for loc in bible.locations] == [loc.name for loc in tiny.locations]
    # the model's words: every want and secret, the title, the synopsis after the premise as code states it
    assert [(c.want, c.secret) for c in people] == FAKE_PROFILES[:len(people)]
    assert bible.title == "Father on Ward Seven" and bible.synopsis.endswith("keeps it quiet.")
    assert bible.synopsis.startswith("A night-shift nurse, " + people[0].name)
    assert bible.episodes[0].hook == outline(plan.names)["hook"]
    assert bible.episodes[0].characters == plan.names
    assert {loc.setting for loc in bible.locations} <= set(places.SETTINGS) and not bible.flags
    assert [r["stage"] for r in call_rows(ctx, "director.")] == ["director.cast", "director.outlines"]
    ask = text.asks["cast"][0]
    assert cast_names(ask) == plan.names and f"{people[1].name} (antagonist, male, {people[1].age})" in ask


@pytest.mark.parametrize("logline, genre", [
    ("A night-shift nurse discovers the billionaire patient she saved is her runaway father.", "family"),
    ("A fisherman's daughter discovers the stranger at her door is the father she buried.", "mystery"),
])
def test_the_capable_cast_of_a_father_and_daughter_has_both_related_the_father_a_generation_older(
        capable_context, concept, logline, genre):
    story = concept.model_copy(update={"logline": logline, "genre": genre})
    text = CapableText()
    bible = write_bible(capable_context(text), story, seed=5)
    by_name = {c.name: c for c in bible.characters}
    ties = [(r.person, r.kind, r.of) for r in bible.relations]
    assert len(ties) == 1, ties
    person, kind, of = ties[0]
    father, daughter = (person, of) if kind == "father" else (of, person)
    assert kind in {"father", "daughter"} and {father, daughter} <= set(by_name)
    assert by_name[daughter].gender == "female" and by_name[father].gender == "male"
    assert by_name[father].age - by_name[daughter].age >= 20
    assert by_name[daughter].role == "protagonist"
    assert "father" in by_name[father].description or "fisherman" in by_name[father].description
    assert not any(f.startswith("cast:") for f in bible.flags)  # the model's profiles were kept, on code's cast


def _bad(plan, case: str) -> dict:
    names = plan.names
    if case == "order":
        return cast([names[1], names[0], *names[2:]])
    if case == "invented":
        return cast(["Mia Cole", *names[1:]])
    if case == "copied want":
        return cast(names, [FAKE_PROFILES[0], (FAKE_PROFILES[0][0], FAKE_PROFILES[1][1]), *FAKE_PROFILES[2:len(names)]])
    if case == "inverted":
        first, father = names[0].split()[0], names[1].split()[0]
        return cast(names, synopsis=f"{first} learns the truth about {father}'s father. {father} hides it.")
    if case == "unnamed synopsis":
        return cast(names, synopsis="A nurse learns the truth. Nothing is as it seems.")
    if case == "example copy":
        return cast(names, [("To clear her brother's name before the wedding.", FAKE_PROFILES[0][1]),
                            *FAKE_PROFILES[1:len(names)]])
    if case == "own name":
        own = names[0].split()[0]
        return cast(names, [(f"To make {own} proud of herself again.", FAKE_PROFILES[0][1]),
                            *FAKE_PROFILES[1:len(names)]])
    raise AssertionError(case)


@pytest.mark.parametrize("case, reason", [
    ("order", "answer for the cast exactly as given, in this order"),
    ("invented", "answer for the cast exactly as given"),
    ("copied want", DUPLICATE_WANT),
    ("inverted", "not the other way round"),
    ("unnamed synopsis", "the synopsis must name the cast"),
    ("example copy", "use fresh words"),
    ("own name", None),  # mended to a pronoun, as on the tiny path: no re-ask
])
def test_a_bad_cast_answer_is_asked_again_with_the_reason(capable_context, concept, case, reason):
    plan = plan_of(concept)
    text = ScriptedText(cast=[_bad(plan, case), cast(plan.names)], outlines=[{"episodes": [outline(plan.names)]}])
    bible = write_bible(capable_context(text), concept, seed=5)
    assert [c.name for c in bible.characters] == plan.names and not bible.flags
    if reason is None:
        assert len(text.asks["cast"]) == 1
        assert bible.characters[0].want == "To make her proud of herself again."
        return
    first, second = text.asks["cast"]
    assert reason not in first and reason in second
    assert [(c.want, c.secret) for c in bible.characters] == FAKE_PROFILES[:len(plan.names)]


def test_a_cast_that_never_passes_falls_back_to_the_tiny_profiles_with_a_flag(capable_context, fake_context,
                                                                             concept, tmp_path):
    plan = plan_of(concept)
    text = ScriptedText(cast=[_bad(plan, "copied want")])  # outlines: the fake's, for code's cast
    ctx = capable_context(text)
    bible = write_bible(ctx, concept, seed=5)
    assert any(f.startswith("cast: written field by field (") and DUPLICATE_WANT in f for f in bible.flags)
    tiny = write_bible(fake_context(tmp_path / "tiny"), concept, seed=5)
    assert [c.name for c in bible.characters] == [c.name for c in tiny.characters]  # code's names, as tiny draws
    assert [c.look for c in bible.characters] == [c.look for c in tiny.characters]
    assert bible.premise == tiny.premise and bible.relations == tiny.relations
    stages = [r["stage"] for r in call_rows(ctx, "director.")]
    assert stages.count("director.cast") == ctx.settings.max_reasks and stages.count("director.profile") == 3
    assert "director.title" in stages and "director.outlines" in stages


def test_outlines_that_never_pass_are_written_one_by_one_with_a_flag(capable_context, concept):
    plan = plan_of(concept)
    nameless = {**outline(plan.names), "hook": "Someone reads a file.", "conflict": "Money is offered.",
                "cliffhanger": "A page is torn out."}
    text = ScriptedText(cast=[cast(plan.names)], outlines=[{"episodes": [nameless]}])
    ctx = capable_context(text)
    bible = write_bible(ctx, concept, seed=5)
    assert "name who acts" in text.asks["outlines"][1]
    assert bible.flags and bible.flags[0].startswith("outlines of episode 1: written one by one (episode 1: name who")
    assert "director.outline" in [r["stage"] for r in call_rows(ctx, "director.")]
    lead = plan.names[0].split()[0]
    assert lead in bible.episodes[0].hook + bible.episodes[0].conflict + bible.episodes[0].cliffhanger


def test_capable_outlines_are_checked_against_the_premise(capable_context, concept):
    plan = plan_of(concept)
    lead, father = plan.names[0].split()[0], plan.names[1].split()[0]
    inverted = {**outline(plan.names), "hook": f"{lead} reads {father}'s father's name on the chart."}
    text = ScriptedText(cast=[cast(plan.names)], outlines=[{"episodes": [inverted]}, {"episodes": [outline(plan.names)]}])
    bible = write_bible(capable_context(text), concept, seed=5)
    assert "not the other way round" in text.asks["outlines"][1] and not bible.flags


def test_capable_outlines_come_in_one_call_per_batch_and_chain_cliffhangers(capable_context, concept):
    many = concept.model_copy(update={"episodes": 12})
    ctx = capable_context(CapableText())
    bible = write_bible(ctx, many, seed=3)
    assert [o.number for o in bible.episodes] == list(range(1, 13)) and not bible.flags
    asks = [r for r in call_rows(ctx, "director.outlines")]
    assert len(asks) == 2  # 10 + 2: each call's answer fits a 4096-token context


# --- the capable writer ---------------------------------------------------------------------------------------


@pytest.fixture
def capable_bible(capable_context, concept):
    return write_bible(capable_context(CapableText(), "bible"), concept, seed=5)


def test_capable_writer_writes_each_scene_in_one_call(capable_context, capable_bible, concept):
    ctx = capable_context(FakeText())
    script = write_script(ctx, capable_bible, concept, 1, seed=5, earlier_lines=[])
    assert [b.kind for s in script.scenes for b in s.beats] == BEATS and not script.flags
    for scene, cast_ in zip(script.scenes, scene_casts(capable_bible, 1), strict=True):
        speakers = {ln.speaker for b in scene.beats for ln in b.lines}
        assert speakers == set(cast_) and scene.characters == cast_
        assert all(ln.emotion in EMOTIONS[b.kind] for b in scene.beats for ln in b.lines)
    lines = script.lines()
    assert all(LINE_ID.fullmatch(ln.id) for ln in lines) and len({ln.id for ln in lines}) == len(lines)
    assert abs(len(lines) - sum(beat_plan(round(concept.seconds_per_episode * 0.2)))) <= 2
    assert [r["stage"] for r in call_rows(ctx, "writer.")] == ["writer.scene", "writer.scene"]


def test_the_two_scenes_of_an_episode_are_asked_together(capable_context, capable_bible, concept):
    text = CountingText(max_in_flight=2)
    script = write_script(capable_context(text), capable_bible, concept, 1, seed=5, earlier_lines=[])
    assert text.peak == 2 and not script.flags
    assert [s.number for s in script.scenes] == [1, 2] and [b.kind for s in script.scenes for b in s.beats] == BEATS


class EditedScenes(FakeText):
    """FakeText's scene answers with an edit (tests only): `edit(scene_number, attempt, reply)` changes them."""

    def __init__(self, edit, **kwargs):
        super().__init__(**kwargs)
        self.edit = edit
        self.scene_asks: dict[int, list[str]] = {}

    def complete_json(self, request: JsonRequest) -> TextResult:
        result = super().complete_json(request)
        if kind_of(request) != "scene":
            return result
        number = 1 if "hook" in request.schema["properties"] else 2
        with self._lock:
            asks = self.scene_asks.setdefault(number, [])
            asks.append(request.messages[-1][1])
            attempt = len(asks)
        reply = json.loads(result.text)
        self.edit(number, attempt, reply)
        return TextResult(json.dumps(reply), 1, 1, 0.0, self.model, self.name)


def test_a_narrated_line_in_a_scene_is_asked_again_with_the_reason(capable_context, capable_bible, concept):
    def narrate(number: int, attempt: int, reply: dict) -> None:
        if number == 1 and attempt == 1:
            reply["pressure"]["lines"][0]["text"] = "She says the money is gone."

    text = EditedScenes(narrate)
    script = write_script(capable_context(text), capable_bible, concept, 1, seed=5, earlier_lines=[])
    first, second = text.scene_asks[1]
    assert "narration or a stage direction" not in first
    assert "pressure line 1" in second and "narration or a stage direction" in second
    assert "She says the money is gone." not in [ln.text for ln in script.lines()] and not script.flags


def test_a_scene_that_never_passes_is_written_the_tiny_way_and_flagged(capable_context, capable_bible, concept):
    def silence_one(number: int, attempt: int, reply: dict) -> None:
        if number == 2:  # only one person ever speaks
            speaker = reply["reversal"]["lines"][0]["speaker"]
            for beat in reply.values():
                for line in beat["lines"]:
                    line["speaker"] = speaker

    text = EditedScenes(silence_one)
    ctx = capable_context(text)
    script = write_script(ctx, capable_bible, concept, 1, seed=5, earlier_lines=[])
    assert script.flags[0].startswith("episode 1 scene 2: written beat by beat (both ")
    assert len(text.scene_asks[2]) == ctx.settings.max_reasks and len(text.scene_asks[1]) == 1
    stages = [r["stage"] for r in call_rows(ctx, "writer.")]
    assert stages.count("writer.scene") == 1 + ctx.settings.max_reasks
    assert stages.count("writer.action") == 2  # scene 2's two beats
    tiny_scene = script.scenes[1]
    assert [b.kind for b in tiny_scene.beats] == ["reversal", "cliffhanger"]
    assert all(LINE_ID.fullmatch(ln.id) for b in tiny_scene.beats for ln in b.lines)
    assert abs(len(script.lines()) - sum(beat_plan(round(concept.seconds_per_episode * 0.2)))) <= 2


def test_a_second_scene_line_that_repeats_the_first_scene_is_asked_again(capable_context, capable_bible, concept):
    copied: list[str] = []

    def repeat(number: int, attempt: int, reply: dict) -> None:
        if number == 1:
            copied.append(reply["hook"]["lines"][0]["text"])
        else:
            reply["reversal"]["lines"][0]["text"] = "You swore you would never come back here."

    ctx = capable_context(EditedScenes(repeat))
    script = write_script(ctx, capable_bible, concept, 1, seed=5, earlier_lines=[])
    assert copied == ["You swore you would never come back here."]  # the two scenes said the same line
    texts = [ln.text for ln in script.lines()]
    assert texts.count(copied[0]) == 1 and not script.flags
    assert [r["stage"] for r in call_rows(ctx, "writer.line")] == ["writer.line"]
    assert script.scenes[1].beats[0].lines[0].id == "e01s2b4l1"


def test_scene_lines_are_checked_against_the_series_earlier_lines(capable_context, capable_bible, concept):
    text = FakeText()
    earlier = ["You swore you would never come back here."]
    ctx = capable_context(text)
    script = write_script(ctx, capable_bible, concept, 1, seed=5, earlier_lines=earlier)
    assert earlier[0] not in [ln.text for ln in script.lines()]
    rejected = [r["rejected"] for r in call_rows(ctx, "writer.scene") if r.get("rejected")]
    assert rejected and "repeats an earlier line" in rejected[0]


# --- the whole series graph -----------------------------------------------------------------------------------


def test_the_series_graph_finishes_on_the_capable_strategy(capable_context, concept):
    ctx = capable_context(CapableText())
    outcome = produce(ctx, concept=concept, seed=7)
    assert outcome.status == "finished"
    director = call_rows(ctx, "director.")
    assert len(director) == 2  # against 1 + 3 + 1 + episodes on the tiny strategy
    assert len(call_rows(ctx, "writer.scene")) == 2 and not call_rows(ctx, "writer.line")
    script = json.loads((ctx.run_dir / "episodes/01/script.json").read_text())
    assert not script["flags"]


def test_a_long_capable_synopsis_is_cut_after_a_whole_sentence():
    from dramafactory.agents.director.capable import _whole_sentences

    text = "Mary finds her father. " * 30
    cut = _whole_sentences(text, 100)
    assert len(cut) <= 100 and cut.endswith("father.") and _whole_sentences("Short one.", 100) == "Short one."
    assert _whole_sentences("word " * 40, 50).split()[-1] == "word"
