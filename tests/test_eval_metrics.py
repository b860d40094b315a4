"""Each eval metric on crafted inputs: a good series passes, and each crafted failure is caught by its metric."""

from __future__ import annotations

import pytest

from dramafactory.evals import bible_metrics as bm
from dramafactory.evals import script_metrics as sm
from dramafactory.evals import shotlist_metrics as shm
from dramafactory.evals.compare import compare, status_of
from dramafactory.evals.continuity_metrics import score_continuity
from dramafactory.evals.e2e_metrics import score_e2e
from dramafactory.evals.metrics import MetricResult
from dramafactory.schemas import (
    Beat,
    Character,
    DialogueLine,
    EpisodeOutline,
    EpisodeScript,
    Location,
    Look,
    RunSummary,
    Scene,
    SeriesBible,
    SeriesConcept,
    Shot,
    ShotList,
    Voice,
)

CONCEPT = SeriesConcept(logline="A night-shift nurse discovers the billionaire patient she saved is her runaway "
                                "father.", genre="family")


def person(name: str, gender: str, age: int, hair: str, colour: str, voice: str, pitch: int = 50) -> Character:
    return Character(name=name, role="ally", gender=gender, age=age,
                     look=Look(hair_color=hair, hair_style="short", skin_tone="light", build="slim",
                               face="a scar", palette=[colour, "#202020"]),
                     wardrobe=f"a {colour} coat", voice=Voice(description="calm", voice_id=voice, pitch=pitch))


def cast() -> list[Character]:
    lead = person("Mira Chen", "female", 29, "black", "#1f4e8c", "en-us+f3")
    lead = lead.model_copy(update={"role": "protagonist"})
    return [lead, person("Victor Hale", "male", 61, "silver", "#8c1f1f", "en-us+m3"),
            person("Rosa Diaz", "female", 35, "red", "#2f8c3a", "en-us+f4")]


def bible(characters: list[Character] | None = None) -> SeriesBible:
    characters = characters or cast()
    names = [c.name for c in characters]
    return SeriesBible(
        title="Night Debt", logline=CONCEPT.logline, genre="family", tone="melodramatic",
        synopsis="A nurse on the night shift saves a billionaire patient and discovers he is the father who ran "
                 "away from her.",
        characters=characters,
        locations=[Location(name="Ward Seven", kind="interior", description="a hospital ward", setting="hospital")],
        episodes=[EpisodeOutline(number=1, title="The Patient", hook="A dying billionaire says her name.",
                                 conflict="She must save the runaway father who left her.",
                                 cliffhanger="He signs a will.", characters=names)])


def line(i: int, speaker: str, text: str) -> DialogueLine:
    return DialogueLine(id=f"s1b{i}l1", speaker=speaker, text=text)


GOOD_LINES = [("hook", "Mira Chen", "You know my name. How do you know my name?"),
              ("pressure", "Victor Hale", "I held you the day you were born, in this very hospital."),
              ("reveal", "Mira Chen", "My father left when I was six. He never called once."),
              ("reversal", "Victor Hale", "I called every birthday. Your mother hung up."),
              ("cliffhanger", "Mira Chen", "Then why is your lawyer outside with police?")]


def script(lines=GOOD_LINES, kinds=None) -> EpisodeScript:
    beats = [Beat(kind=kind, action=f"Mira checks the monitor, beat {i}", lines=[line(i, who, text)])
             for i, (kind, who, text) in enumerate(lines)]
    if kinds:
        beats = [b.model_copy(update={"kind": k}) for b, k in zip(beats, kinds, strict=True)]
    return EpisodeScript(episode=1, title="The Patient", scenes=[
        Scene(number=1, location="Ward Seven", time_of_day="night", characters=["Mira Chen", "Victor Hale"],
              beats=beats)])


def names(results: list[MetricResult]) -> dict[str, MetricResult]:
    return {r.name: r for r in results}


# --- bible ---------------------------------------------------------------------------------------------------

def test_a_good_bible_passes_every_bible_metric():
    results = bm.score_bible(bible(), CONCEPT)
    assert all(r.passed for r in results), [r for r in results if not r.passed]


def test_three_characters_with_one_look_fail_distinct_looks():
    same = [person(n, "female", 30, "black", "#1f4e8c", v) for n, v in
            (("Mira Chen", "en-us+f3"), ("Rosa Diaz", "en-us+f4"), ("Lena Park", "en-us+f2"))]
    result = bm.distinct_looks(bible(same))
    assert not result.passed and result.value == 0.0
    assert "look alike" in result.detail[0]


def test_one_voice_for_two_characters_fails_distinct_voices():
    chars = cast()
    chars[2] = chars[2].model_copy(update={"voice": chars[0].voice})
    result = bm.distinct_voices(bible(chars))
    assert not result.passed and result.value == pytest.approx(2 / 3, abs=1e-3)


def test_names_made_of_the_concept_or_a_role_fail():
    chars = cast()
    chars[1] = chars[1].model_copy(update={"name": "Nightshift Billionaire"})
    chars[2] = chars[2].model_copy(update={"name": "the nurse"})
    result = bm.names_are_names(bible(chars), CONCEPT)
    assert not result.passed and result.value == pytest.approx(1 / 3, abs=1e-3)
    assert any("Nightshift" in d for d in result.detail)


def test_an_outline_without_the_lead_and_an_unused_character_fail():
    b = bible()
    outline = b.episodes[0].model_copy(update={"characters": ["Victor Hale", "Rosa Diaz"]})
    result = bm.outlines_use_cast(b.model_copy(update={"episodes": [outline]}))
    assert not result.passed
    assert any("lead" in d for d in result.detail) and any("Mira Chen is in no episode" in d for d in result.detail)


def test_a_bible_about_another_story_fails_concept_adherence():
    b = bible().model_copy(update={"title": "Space Pirates", "synopsis": "Pirates raid a moon colony for water.",
                                   "episodes": [EpisodeOutline(number=1, title="Raid", hook="Lasers.",
                                                               conflict="Water.", cliffhanger="Boom.",
                                                               characters=["Mira Chen", "Victor Hale"])]})
    assert not bm.concept_adherence(b, CONCEPT).passed


# --- script --------------------------------------------------------------------------------------------------

def test_a_good_script_passes_every_script_metric():
    results = names(sm.score_scripts([script()], bible(), target_seconds=20))
    assert all(r.passed for r in results.values()), [r for r in results.values() if not r.passed]


def test_a_script_without_a_hook_fails_hook_first():
    kinds = ["pressure", "pressure", "reveal", "reversal", "cliffhanger"]
    result = sm.hook_first(script(kinds=kinds))
    assert not result.passed and "not a hook" in result.detail[0]


def test_a_script_that_ends_on_a_reversal_fails_cliffhanger_last():
    kinds = ["hook", "pressure", "reveal", "cliffhanger", "reversal"]
    assert not sm.cliffhanger_last(script(kinds=kinds)).passed


def test_a_scene_whose_lines_loop_fails_no_repeats():
    looping = GOOD_LINES[:2] + [("reveal", "Mira Chen", "You know my name. How do you know my name?"),
                                ("reversal", "Victor Hale", "I held you the day you were born in this hospital!"),
                                GOOD_LINES[4]]
    result = sm.no_repeats([script(looping)])
    assert not result.passed and result.value == pytest.approx(0.6)


def test_narration_and_a_self_naming_line_fail_speech():
    lines = [GOOD_LINES[0], ("pressure", "Victor Hale", "Victor says he is sorry (quietly)."),
             ("reveal", "Mira Chen", "Mira is angry and leaves the ward now."), *GOOD_LINES[3:]]
    result = sm.speech(script(lines))
    assert result.value == pytest.approx(0.6) and not result.passed


def test_a_stranger_speaking_fails_known_speakers():
    lines = [GOOD_LINES[0], ("pressure", "Rosa Diaz", "Visiting hours ended an hour ago, sir."), *GOOD_LINES[2:]]
    result = sm.known_speakers(script(lines), bible())
    assert not result.passed and "without being in it" in result.detail[0]


def test_a_monologue_too_long_for_the_episode_fails_dialogue_fit():
    long = [(k, s, " ".join(["word"] * 60)[:239]) for k, s, _ in GOOD_LINES]
    assert not sm.dialogue_fit(script(long), bible(), target_seconds=30).passed
    assert not sm.dialogue_fit(script(), bible(), target_seconds=120).passed  # and too little is a silent film


def test_writing_that_contradicts_the_bible_is_counted():
    s = script()
    beat = s.scenes[0].beats[0].model_copy(update={"action": "Victor stares at the door as she shakes. Mira, "
                                                             "blonde and tired, steps back."})
    lines = [line(9, "Victor Hale", "I'm 35, I was young and scared.")]
    beat = beat.model_copy(update={"lines": lines})
    crafted = s.model_copy(update={"scenes": [s.scenes[0].model_copy(update={"beats": [beat,
                                                                                         *s.scenes[0].beats[1:]]})]})
    found = sm.contradictions([crafted], bible())
    assert len(found) == 3, found
    assert not sm.bible_contradictions([crafted], bible()).passed


def test_ordinary_writing_is_no_contradiction():
    s = script()
    beat = s.scenes[0].beats[0].model_copy(update={
        "action": "Victor grabs her wrist. Rosa, red-haired and furious, blocks the door.",
        "lines": [line(9, "Mira Chen", "I'm 5 minutes from the ward and I am 31 years old.")]})
    crafted = s.model_copy(update={"scenes": [s.scenes[0].model_copy(update={"beats": [beat,
                                                                                         *s.scenes[0].beats[1:]]})]})
    assert sm.contradictions([crafted], bible()) == []


def test_an_unknown_speaker_is_reported_by_known_speakers_not_a_crash():
    lines = [GOOD_LINES[0], ("pressure", "The Stranger", "I am 70 years old and I saw it all."), *GOOD_LINES[2:]]
    assert sm.contradictions([script(lines)], bible()) == []
    assert not sm.known_speakers(script(lines), bible()).passed


def test_beats_out_of_order_and_an_unknown_location_fail_valid():
    kinds = ["hook", "reveal", "pressure", "reversal", "cliffhanger"]
    assert "out of the beat sheet's order" in sm.valid(script(kinds=kinds), bible()).detail[0]
    s = script()
    moved = s.model_copy(update={"scenes": [s.scenes[0].model_copy(update={"location": "The Moon"})]})
    assert not sm.valid(moved, bible()).passed


def test_no_script_reads_as_a_failure_not_a_pass():
    results = sm.score_scripts([], bible(), 30)
    assert results and not any(r.passed for r in results)


def test_a_character_without_a_voice_description_fails_complete():
    chars = cast()
    chars[1] = chars[1].model_copy(update={"voice": chars[1].voice.model_copy(update={"description": " "})})
    result = bm.complete(bible(chars))
    assert not result.passed and "voice description" in result.detail[0]


def test_a_surname_that_is_a_concept_word_is_still_a_name():
    concept = SeriesConcept(logline="A palace cook must poison the young emperor she raised.", genre="fantasy")
    chars = cast()
    chars[0] = chars[0].model_copy(update={"name": "Mira Young"})
    assert bm.names_are_names(bible(chars), concept).passed


# --- shot list -----------------------------------------------------------------------------------------------

def shot(i: int, framing: str, people: list[str], line_id: str | None = None, speaker: str | None = None,
         seconds: float = 4.0, prompt: str | None = None) -> Shot:
    b = bible()
    described = " ".join(f"{c.name} {c.look.hair_color} hair wearing {c.wardrobe}" for c in b.characters
                         if c.name in people)
    return Shot(id=f"e01s{i:02d}", episode=1, scene=1, index=i, framing=framing, duration_s=seconds,
                characters=people, speaker=speaker, location="Ward Seven", time_of_day="night", action="x",
                prompt=prompt if prompt is not None else f"{framing} of {described}", dialogue_line=line_id, seed=i)


def good_shotlist() -> ShotList:
    m, v = "Mira Chen", "Victor Hale"
    return ShotList(episode=1, shots=[
        shot(0, "wide", [m, v]),
        shot(1, "close-up", [m], "s1b0l1", m),
        shot(2, "over-shoulder", [m, v], "s1b1l1", v),
        shot(3, "close-up", [m], "s1b2l1", m),
        shot(4, "medium", [v], "s1b3l1", v),
        shot(5, "close-up", [m], "s1b4l1", m),
    ])


def canonical(name: str) -> Character:
    return bible().character(name)


def test_a_good_shotlist_passes_every_shotlist_metric():
    results = shm.score_shotlists([good_shotlist()], [script()], 24, canonical)
    assert all(r.passed for r in results), [r for r in results if not r.passed]


def test_a_shotlist_that_misses_a_line_fails_lines_covered():
    missing = good_shotlist().model_copy(update={"shots": good_shotlist().shots[:-1]})
    result = shm.lines_covered(missing, script())
    assert not result.passed and "s1b4l1" in result.detail[0]


def test_durations_that_do_not_add_up_fail_duration_fit():
    assert not shm.duration_fit(good_shotlist(), 60).passed


def test_a_prompt_without_the_canonical_look_fails():
    shots = good_shotlist().shots
    shots[1] = shots[1].model_copy(update={"prompt": "close-up of a woman in a hospital"})
    result = shm.canonical_looks(ShotList(episode=1, shots=shots), canonical)
    assert not result.passed and "Mira Chen's name, hair, wardrobe" in result.detail[0]


def test_three_medium_shots_running_fail_monotony():
    m, v = "Mira Chen", "Victor Hale"
    monotone = ShotList(episode=1, shots=[shot(0, "wide", [m, v])] + [
        shot(i, "medium", [m if i % 2 else v], f"s1b{i - 1}l1", m if i % 2 else v) for i in range(1, 6)])
    result = shm.framing_run(monotone)
    assert result.value == 5 and not result.passed


def test_a_character_who_jumps_screen_side_breaks_the_180_rule():
    shots = good_shotlist().shots
    shots[2] = shots[2].model_copy(update={"characters": ["Victor Hale", "Mira Chen"]})
    result = shm.screen_direction(ShotList(episode=1, shots=shots), script())
    assert not result.passed and result.value == 0.5


def test_an_exchange_covered_by_one_two_shot_has_no_reverse():
    m, v = "Mira Chen", "Victor Hale"
    flat = ShotList(episode=1, shots=[shot(i, "two-shot" if i % 2 else "wide", [m, v], f"s1b{i}l1",
                                           [m, v][i % 2]) for i in range(5)])
    result = shm.reverse_shots(flat, script())
    assert result.value == 0.0 and not result.passed


# --- continuity, e2e, compare -----------------------------------------------------------------------------------

def test_a_character_whose_look_changes_fails_continuity():
    steady = {"shots": ["a", "b", "c"], "identity": {"Mira": {"a": 1.0, "b": 1.0, "c": 1.0}},
              "drift": {"Mira": {"a": 2.0, "b": 3.0, "c": 2.5}}}
    changed = {"shots": ["a", "b", "c"], "identity": {"Mira": {"a": 1.0, "b": 0.33, "c": 1.0}},
               "drift": {"Mira": {"a": 2.0, "b": 64.0, "c": 2.5}}}
    assert all(r.passed for r in score_continuity(steady))
    failed = {r.name for r in score_continuity(changed) if not r.passed}
    assert failed == {"continuity.identity_mean", "continuity.identity_worst", "continuity.drift_mean",
                      "continuity.drift_worst"}


def test_e2e_reads_the_summary_and_an_unfinished_run_fails():
    summary = RunSummary(title="t", episodes=1, target_seconds_per_episode=60, episode_seconds=[63.0], stages=[],
                         shots=16, takes=20, first_pass_usable_rate=0.75, final_usable_rate=1.0,
                         attempts_per_shot=1.25, model_calls=40, prompt_tokens=1, completion_tokens=1,
                         fallback_lines=0, cpu_seconds=100, wall_seconds=120, cost_per_finished_minute_usd=0.002)
    results = names(score_e2e(summary))
    assert not results["e2e.first_pass_usable"].passed and results["e2e.final_usable"].passed
    assert results["e2e.seconds_per_finished_minute"].value == pytest.approx(114.3, abs=0.1)
    assert not score_e2e(None)[0].passed


def test_compare_flags_a_regression_past_its_tolerance_and_a_missing_metric():
    baseline = {"metrics": {"script.speech": {"mean": 1.0, "better": "higher"},
                            "shotlist.max_framing_run": {"mean": 2.0, "better": "lower"},
                            "script.no_repeats": {"mean": 1.0, "better": "higher"}}}
    now = {"metrics": {"script.speech": {"mean": 0.98, "better": "higher"},
                       "shotlist.max_framing_run": {"mean": 3.0, "better": "lower"}}}
    result = compare(now, baseline)
    assert result["deltas"]["script.speech"]["status"] == "ok"
    assert result["deltas"]["shotlist.max_framing_run"]["status"] == "regressed"
    assert result["deltas"]["script.no_repeats"]["status"] == "missing"
    assert set(result["regressions"]) == {"shotlist.max_framing_run", "script.no_repeats"} and not result["passed"]


@pytest.mark.parametrize(("delta", "better", "status"), [(0.1, "higher", "improved"), (-0.1, "lower", "improved"),
                                                         (0.1, "lower", "regressed"), (0.2, "band", "regressed"),
                                                         (5.0, "lower", "report only")])
def test_status_follows_the_metric_direction(delta, better, status):
    assert status_of(delta, better, None if status == "report only" else 0.05) == status


def test_a_name_that_is_a_place_fails_but_a_place_named_after_a_family_does_not():
    chars = cast()
    chars[2] = chars[2].model_copy(update={"name": "Ward Seven"})
    result = bm.names_are_names(bible(chars), CONCEPT)
    assert result.value == pytest.approx(2 / 3, abs=1e-3) and "a place" in result.detail[0]
    b = bible()
    tower = b.locations[0].model_copy(update={"name": "Chen Group Tower"})
    assert bm.names_are_names(b.model_copy(update={"locations": [tower]}), CONCEPT).passed


def test_continuity_measures_real_frames_and_catches_a_look_that_changes_mid_series(tmp_path):
    """Storyboard frames of one character over three shots; in the second the renderer drew her jacket in
    another colour. The suite finds that shot (and only that one) from the pixels."""
    from dramafactory.evals.continuity_metrics import heatmap, measure
    from dramafactory.evals.qc_set import _drifted
    from dramafactory.tools.image.base import ImageRequest
    from dramafactory.tools.image.storyboard import StoryboardRenderer

    from .test_storyboard import CAST, OFFICE

    series = bible(list(CAST.values())).model_copy(update={"locations": [OFFICE]})
    records = []
    for i in range(3):
        shot = Shot(id=f"e01s{i + 1:02d}", episode=1, scene=1, index=i, framing="medium", duration_s=2.0,
                    characters=["Mira Chen"], speaker="Mira Chen", location=OFFICE.name, time_of_day="day",
                    action="x", prompt="x", seed=i)
        drawn = {**CAST, "Mira Chen": _drifted(CAST["Mira Chen"], 40)} if i == 1 else CAST
        StoryboardRenderer().render(ImageRequest(shot=shot, cast=drawn, location=OFFICE, seed=3, width=360,
                                                 height=640, out_path=tmp_path / f"{shot.id}.png"))
        records.append({"shot": shot.model_dump(mode="json"), "chosen_take": 1,
                        "takes": [{"attempt": 1, "asset": f"{shot.id}.png", "backend": "storyboard"}]})
    measured = measure(tmp_path, [{"shots": records}], series, series.character)
    assert set(measured["drift"]["Mira Chen"]) == {"e01s01", "e01s02", "e01s03"}
    assert measured["drift"]["Mira Chen"]["e01s02"] > 18 > measured["drift"]["Mira Chen"]["e01s01"]
    results = names(score_continuity(measured))
    assert not results["continuity.drift_worst"].passed and "e01s02" in results["continuity.drift_worst"].detail[0]
    assert heatmap(measured)["characters"] == ["Mira Chen"]


def test_first_takes_that_qc_rejected_lower_the_renderers_identity_but_not_the_takes_used(tmp_path):
    """QC's selection is no measurement: shot 1's first take drew someone else under Mira's name (QC rejected
    it, the second take is used). The takes used still score 1.0; the first-take and all-take figures show what
    the renderer delivered."""
    from dramafactory.evals.continuity_metrics import measure
    from dramafactory.tools.image.base import ImageRequest
    from dramafactory.tools.image.storyboard import StoryboardRenderer

    from .test_storyboard import CAST, OFFICE

    series = bible(list(CAST.values())).model_copy(update={"locations": [OFFICE]})
    stranger = {**CAST, "Mira Chen": CAST["Jade Okoro"].model_copy(update={"name": "Mira Chen"})}
    records = []
    for i, drawn_by_attempt in enumerate([[stranger, CAST], [CAST]]):
        shot = Shot(id=f"e01s{i + 1:02d}", episode=1, scene=1, index=i, framing="medium", duration_s=2.0,
                    characters=["Mira Chen"], speaker="Mira Chen", location=OFFICE.name, time_of_day="day",
                    action="x", prompt="x", seed=i)
        takes = []
        for attempt, drawn in enumerate(drawn_by_attempt, start=1):
            asset = f"{shot.id}_{attempt}.png"
            StoryboardRenderer().render(ImageRequest(shot=shot, cast=drawn, location=OFFICE, seed=3, width=360,
                                                     height=640, out_path=tmp_path / asset))
            takes.append({"attempt": attempt, "asset": asset, "backend": "storyboard",
                          "accepted": attempt == len(drawn_by_attempt)})
        records.append({"shot": shot.model_dump(mode="json"), "chosen_take": len(takes), "takes": takes})
    measured = measure(tmp_path, [{"shots": records}], series, series.character)
    wrong = next(t for t in measured["takes"] if t["shot"] == "e01s01" and t["attempt"] == 1)
    assert wrong["first"] and not wrong["chosen"] and wrong["identity"]["Mira Chen"] < 0.6
    results = names(score_continuity(measured))
    assert results["continuity.identity_mean"].value == 1.0 and results["continuity.identity_mean"].passed
    first = results["continuity.identity_first_take"]
    assert first.value == pytest.approx((wrong["identity"]["Mira Chen"] + 1.0) / 2, abs=1e-3)
    assert not first.passed and "e01s01 take 1" in first.detail[0]
    every = results["continuity.identity_all_takes"]
    assert every.value == pytest.approx((wrong["identity"]["Mira Chen"] + 2.0) / 3, abs=1e-3)
    assert first.value < every.value < 1.0


def test_a_band_metric_moving_into_its_band_improves_and_moving_within_it_is_no_change():
    band = {"better": "band", "threshold": [0.35, 0.9]}
    into = compare({"metrics": {"m": {"mean": 0.6, **band}}}, {"metrics": {"m": {"mean": 0.2, **band}}})
    assert into["deltas"]["m"]["status"] == "improved" and into["passed"]
    within_band = compare({"metrics": {"m": {"mean": 0.8, **band}}}, {"metrics": {"m": {"mean": 0.4, **band}}})
    assert within_band["deltas"]["m"]["status"] == "ok"
    out_of = compare({"metrics": {"m": {"mean": 1.2, **band}}}, {"metrics": {"m": {"mean": 0.8, **band}}})
    assert out_of["deltas"]["m"]["status"] == "regressed"


def test_compare_refuses_a_baseline_of_another_plan_and_survives_a_null_mean():
    metrics = {"m": {"mean": 1.0, "better": "higher"}}
    result = compare({"metrics": metrics, "settings": {"concepts": ["revenge"], "seconds_per_episode": 30}},
                     {"metrics": {"m": {"mean": None}}, "settings": {"concepts": ["revenge"],
                                                                     "seconds_per_episode": 45}})
    assert result["deltas"]["m"]["status"] == "new"
    assert not result["passed"] and "seconds_per_episode" in result["plan_mismatch"][0]


def test_jet_black_and_black_hair_in_one_colour_are_one_look():
    chars = cast()
    chars[1] = chars[1].model_copy(update={"look": chars[0].look.model_copy(update={"hair_color": "jet black",
                                                                                    "palette": ["#204f8a", "#111"
                                                                                                "111"]})})
    assert not bm.distinct_looks(bible(chars)).passed


def test_an_episode_far_from_its_target_length_and_many_retries_fail_e2e():
    summary = RunSummary(title="t", episodes=1, target_seconds_per_episode=60, episode_seconds=[40.0], stages=[],
                         shots=10, takes=25, first_pass_usable_rate=0.9, final_usable_rate=1.0,
                         attempts_per_shot=2.5, model_calls=1, prompt_tokens=1, completion_tokens=1,
                         fallback_lines=0, cpu_seconds=1, wall_seconds=60)
    results = names(score_e2e(summary))
    assert not results["e2e.length_fit"].passed and not results["e2e.attempts_per_shot"].passed
    empty = summary.model_copy(update={"episode_seconds": []})
    assert not any(r.passed for r in score_e2e(empty))


def test_judge_and_qc_figures_fail_below_their_bars():
    from dramafactory.evals.suites import judge_metrics, qc_metrics

    judged = {"seeds": [1, 2, 3], "unanswered": 2, "hook_strength": {"mean": 2.0, "agreement": 0.33},
              "dialogue_naturalness": {"mean": 4.0, "agreement": 1.0}}
    results = names(judge_metrics(judged))
    assert not results["judge.hook_strength"].passed and results["judge.dialogue_naturalness"].passed
    assert not results["judge.self_agreement"].passed and "2 judge calls" in results["judge.self_agreement"].detail[0]
    qc = names(qc_metrics({"precision": 0.95, "recall": 0.7, "false_alarm_rate": 0.2}))
    assert qc["qc.precision"].passed and not qc["qc.recall"].passed and not qc["qc.false_alarm_rate"].passed


def test_the_same_cast_in_two_series_fails_across_series():
    other = bible().model_copy(update={"title": "Other Show"})
    results = names(bm.across_series({"a": bible(), "b": other}))
    assert results["series.distinct_names"].value == 0 and results["series.distinct_looks"].value == 0
    renamed = [c.model_copy(update={"name": f"{c.name.split()[0]} Okafor",
                                    "look": c.look.model_copy(update={"hair_color": "auburn"})})
               for c in cast()]
    results = names(bm.across_series({"a": bible(), "b": bible(renamed)}))
    assert results["series.distinct_names"].passed and results["series.distinct_looks"].passed
