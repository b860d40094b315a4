"""The story metrics on hand-made bibles and scripts: a faithful series passes, and each crafted failure (a cast
without the father, a relation the wrong way round, the README's inverted synopsis, lines off the premise, stock
lines) is caught by its metric. Also the golden labels load and are validated, and an old baseline that lacks
the new metrics compares as 'new', not as an error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from dramafactory.evals import story_metrics as st
from dramafactory.evals import suites
from dramafactory.evals.compare import compare
from dramafactory.evals.golden import GOLDEN_FILE, PremiseLabels, load_golden
from dramafactory.evals.production import Production
from dramafactory.schemas import (
    Beat,
    Character,
    DialogueLine,
    EpisodeOutline,
    EpisodeScript,
    Location,
    Look,
    Relation,
    Scene,
    SeriesBible,
    SeriesConcept,
    Voice,
)

GOLDEN = load_golden()
FAMILY = GOLDEN.pick(["family"])[0]
LABELS = FAMILY.labels
SYNOPSIS = "Lena discovers that Frank, the patient she saved, is her runaway father."
INVERTED = "Two leads discover a wealthy patient who saved her runaway father."


def person(name: str, role: str, description: str, gender: str, age: int, colour: str, voice: str,
           phrase: str = "") -> Character:
    return Character(name=name, role=role, description=description, gender=gender, age=age, logline_phrase=phrase,
                     look=Look(hair_color="black", hair_style="short", skin_tone="light", build="slim",
                               face="a scar", palette=[colour, "#202020"]),
                     wardrobe=f"a {colour} coat", voice=Voice(description="calm", voice_id=voice))


def cast() -> list[Character]:
    return [person("Lena Ortiz", "protagonist", "the night-shift nurse", "female", 29, "#1f4e8c", "en-us+f3",
                   "a night-shift nurse"),
            person("Frank Hale", "father", "the billionaire patient", "male", 61, "#8c1f1f", "en-us+m3",
                   "the billionaire patient she saved"),
            person("Rosa Diaz", "ally", "a ward sister's friend", "female", 35, "#2f8c3a", "en-us+f4")]


FATHER = Relation(person="Frank Hale", kind="father", of="Lena Ortiz", words="her runaway father")


def bible(characters: list[Character] | None = None, relations: list[Relation] | None = None,
          synopsis: str = SYNOPSIS, hook: str = "Frank opens his eyes and says Lena's name.") -> SeriesBible:
    characters = characters or cast()
    return SeriesBible(
        title="Night Debt", logline=FAMILY.logline, genre="family", tone="melodramatic", synopsis=synopsis,
        characters=characters, relations=[FATHER] if relations is None else relations,
        locations=[Location(name="Ward Seven", kind="interior", description="a hospital ward", setting="hospital")],
        episodes=[EpisodeOutline(number=1, title="The Patient", hook=hook,
                                 conflict="She must decide whether to tell him she is his daughter.",
                                 cliffhanger="He signs a will that names her.",
                                 characters=[c.name for c in characters])])


def script(texts: list[str], episode: int = 1, fallback: set[int] | frozenset = frozenset()) -> EpisodeScript:
    kinds = ["hook", "pressure", "reveal", "reversal", "cliffhanger"]
    beats = [Beat(kind=kinds[min(i, 4)], action="Lena checks the monitor.",
                  lines=[DialogueLine(id=f"s1b{i}l1", speaker="Lena Ortiz" if i % 2 == 0 else "Frank Hale",
                                      text=text, fallback=i in fallback)])
             for i, text in enumerate(texts)]
    return EpisodeScript(episode=episode, title="The Patient", scenes=[
        Scene(number=1, location="Ward Seven", time_of_day="night", characters=["Lena Ortiz", "Frank Hale"],
              beats=beats)])


ON_PREMISE = ["You were my patient for three nights.", "I saved your life, and you never called.",
              "My father ran away when I was six.", "Your mother never told you I was your dad?",
              "Then the billionaire in bed four is my runaway father."]


# --- labels --------------------------------------------------------------------------------------------------

def test_every_golden_concept_has_labels_whose_loglines_read_uninverted():
    for concept in GOLDEN.concepts:
        labels = concept.labels
        assert labels is not None and len(labels.people) >= 2 and labels.facts, concept.id
        # the logline itself, read as a synopsis, must pass its own labels: the reader is not the failure
        assert st.inversions(concept.logline, st.Reader(labels), True) == [], concept.id
    assert {"family", "workplace"} <= set(GOLDEN.presets["story3"].concepts)
    assert GOLDEN.presets["story3"].episodes == 3


def test_labels_naming_an_unlabelled_person_or_a_phrase_as_a_word_are_refused(tmp_path: Path):
    with pytest.raises(ValidationError, match="unlabelled people"):
        PremiseLabels.model_validate({"people": [{"label": "nurse", "words": ["nurse"]}],
                                      "relations": [{"person": "father", "kind": "father", "of": "nurse"}]})
    with pytest.raises(ValidationError, match="single lower-case words"):
        PremiseLabels.model_validate({"people": [{"label": "nurse", "words": ["night nurse"]}]})
    with pytest.raises(ValidationError, match="neither an agent nor an object"):
        PremiseLabels.model_validate({"people": [{"label": "nurse", "words": ["nurse"]}],
                                      "facts": [{"act": ["save"]}]})
    broken = tmp_path / "concepts.yaml"
    broken.write_text(GOLDEN_FILE.read_text(encoding="utf-8").replace("kind: [father, parent]", "kind: [uncle]"),
                      encoding="utf-8")
    with pytest.raises(ValidationError):
        load_golden(broken)


def test_a_single_kind_in_the_labels_reads_as_a_list():
    labels = PremiseLabels.model_validate({"people": [{"label": "a", "words": ["a"]}, {"label": "b", "words": ["b"]}],
                                           "relations": [{"person": "a", "kind": "boss", "of": "b"}]})
    assert labels.relations[0].kind == ["boss"] and labels.lead.label == "a"


# --- bible ---------------------------------------------------------------------------------------------------

def test_a_faithful_bible_passes_every_story_metric():
    results = st.score_story_bible(bible(), LABELS)
    assert [r.name for r in results] == st.BIBLE_METRICS
    assert all(r.passed and r.value == 1.0 for r in results), results


def test_a_cast_without_the_father_fails_logline_people_cast():
    chars = cast()
    chars[1] = chars[1].model_copy(update={"role": "antagonist", "description": "a hospital lawyer",
                                           "logline_phrase": ""})
    result = st.logline_people_cast(bible(chars, relations=[]), LABELS)
    assert not result.passed and result.value == 0.5
    assert "father/dad/patient/billionaire" in result.detail[0]


def test_one_character_cannot_stand_for_two_logline_people():
    """The groom's brother is described with 'groom' too; he must not also count as the groom."""
    romance = GOLDEN.pick(["romance"])[0].labels
    chars = [person("Emma Cole", "protagonist", "the wedding planner", "female", 30, "#1f4e8c", "en-us+f3"),
             person("Jake Ross", "love interest", "the groom's brother", "male", 32, "#8c1f1f", "en-us+m3")]
    result = st.logline_people_cast(bible(chars, relations=[]), romance)
    assert not result.passed and result.value == pytest.approx(2 / 3, abs=1e-3)
    chars.append(person("Ryan Ross", "antagonist", "the groom, her ex-fiance", "male", 33, "#2f8c3a", "en-us+m4"))
    assert st.logline_people_cast(bible(chars, relations=[]), romance).passed


def test_the_protagonist_label_must_be_the_first_character():
    chars = cast()
    chars[0], chars[2] = chars[2].model_copy(update={"role": "protagonist"}), chars[0].model_copy(
        update={"role": "ally"})
    result = st.logline_people_cast(bible(chars), LABELS)
    assert not result.passed and "protagonist" in result.detail[0]


def test_a_missing_or_reversed_relation_fails_relations_cast_and_the_inverse_passes():
    assert not st.relations_cast(bible(relations=[]), LABELS).passed
    reversed_ = Relation(person="Lena Ortiz", kind="father", of="Frank Hale")
    result = st.relations_cast(bible(relations=[reversed_]), LABELS)
    assert not result.passed and "the bible says ['Lena Ortiz father of Frank Hale']" in result.detail[0]
    daughter = Relation(person="Lena Ortiz", kind="daughter", of="Frank Hale")
    assert st.relations_cast(bible(relations=[daughter]), LABELS).passed
    thriller = GOLDEN.pick(["thriller"])[0].labels
    none = st.relations_cast(bible(relations=[]), thriller)
    assert none.passed and "not applicable" in none.detail[0]


def test_the_readmes_inverted_synopsis_fails_and_the_correct_one_passes():
    bad = st.premise_not_inverted(bible(synopsis=INVERTED), LABELS)
    assert not bad.passed and bad.value == 0.5
    assert "synopsis" in bad.detail[0] and "the father saved, where the nurse does" in bad.detail[0]
    assert st.premise_not_inverted(bible(synopsis=SYNOPSIS), LABELS).passed


@pytest.mark.parametrize("hook", [
    "Frank saved Lena from the fire years ago.",  # cast names resolve: the father is not the one who saved
    "Lena learns she is the patient's father.",  # whose relation: he is hers, not she his
    "Frank walks out on his daughter Lena again.",  # right: he is the one who ran away
])
def test_an_outline_that_swaps_who_did_what_or_whose_relation_fails(hook):
    result = st.premise_not_inverted(bible(hook=hook), LABELS)
    if "walks out" in hook:
        assert result.passed, result.detail
    else:
        assert not result.passed and result.detail[0].startswith("episode 1 outline")


def test_a_fact_scoped_to_the_opening_may_turn_round_later():
    revenge = GOLDEN.pick(["revenge"])[0].labels
    chars = [person("Ava Stone", "protagonist", "the maid, now a CEO", "female", 30, "#1f4e8c", "en-us+f3"),
             person("Richard Hale", "antagonist", "the billionaire", "male", 34, "#8c1f1f", "en-us+m3")]
    b = bible(chars, relations=[], synopsis="Ava, once humiliated by Richard, returns as the CEO who owns his "
                                            "company.")
    later = b.episodes[0].model_copy(update={"number": 2, "hook": "Ava humiliates Richard before his board."})
    assert st.premise_not_inverted(b.model_copy(update={"episodes": [b.episodes[0], later]}), revenge).passed
    first = b.episodes[0].model_copy(update={"hook": "Ava humiliates Richard at his engagement party."})
    assert not st.premise_not_inverted(b.model_copy(update={"episodes": [first]}), revenge).passed


def test_no_labels_reads_not_measured_never_a_pass():
    assert all(not r.passed and r.detail for r in st.score_story_bible(bible(), None))
    assert [r.name for r in st.score_story_scripts([script(ON_PREMISE)], None) if not r.passed] == \
        ["script.premise_engagement"]


# --- scripts -------------------------------------------------------------------------------------------------

def test_lines_on_the_premise_pass_premise_engagement_and_drifting_lines_fail():
    good = st.premise_engagement([script(ON_PREMISE)], LABELS)
    assert good.passed and good.value == 1.0
    drift = ["It was you. It was always you.", "You don't know if my brother's name is true, but it's not fair.",
             "The coffee here is terrible.", "Go home, it's late.", "My father is the patient."]
    bad = st.premise_engagement([script(drift)], LABELS)
    assert not bad.passed and bad.value == 0.2 and "always you" in bad.detail[0]


def test_stems_count_for_engagement():
    # "saving" and "runaways" are not the discovery's words, but their stems are
    assert st.stem("saving") == st.stem("saved") == st.stem("save")
    assert st.premise_engagement([script(["Stop saving everyone.", "Runaways never come back."] * 2)],
                                 LABELS).value == 1.0


def test_stock_lines_fail_at_two_in_one_episode_and_pass_at_one():
    one = st.stock_lines([script(ON_PREMISE, 1, {0}), script(ON_PREMISE, 2, {4})])
    rate, worst = one
    assert rate.name == "script.stock_line_rate" and rate.value == 0.2 and rate.better == "lower"
    assert worst.passed and worst.value == 1 and not rate.passed  # 2 of 10 lines: above the rate's threshold
    two = st.stock_lines([script(ON_PREMISE * 4, 1, {0, 3})])  # 2 of 20: the rate holds, the episode does not
    assert not two[1].passed and two[1].value == 2 and two[0].passed and two[0].value == 0.1
    assert "e01: 2 stock line(s) of 20" in two[1].detail[0]
    clean = st.stock_lines([script(ON_PREMISE)])
    assert all(r.passed and r.value == 0 for r in clean)


# --- wiring --------------------------------------------------------------------------------------------------

def write_run(run_dir: Path, b: SeriesBible, scripts: list[EpisodeScript]) -> Production:
    run_dir.mkdir(parents=True)
    concept = SeriesConcept(logline=FAMILY.logline, genre="family", episodes=len(scripts), seconds_per_episode=30)
    (run_dir / "concept.json").write_text(concept.model_dump_json(), encoding="utf-8")
    (run_dir / "bible.json").write_text(b.model_dump_json(), encoding="utf-8")
    for s in scripts:
        folder = run_dir / "episodes" / f"{s.episode:02d}"
        folder.mkdir(parents=True)
        (folder / "script.json").write_text(s.model_dump_json(), encoding="utf-8")
    return Production.load(run_dir)


def test_score_case_adds_the_story_metrics_and_a_fact_metric_placeholder(tmp_path, fast_settings, monkeypatch):
    production = write_run(tmp_path / "run", bible(synopsis=INVERTED), [script(ON_PREMISE)])
    metrics, _ = suites.score_case(production, ["bible", "script"], fast_settings, LABELS)
    by_name = {m.name: m for m in metrics}
    assert set(st.BIBLE_METRICS + st.SCRIPT_METRICS) | {"script.stock_line_rate", "script.stock_lines_max",
                                                         "script.fact_contradictions"} <= set(by_name)
    assert not by_name["bible.premise_not_inverted"].passed and by_name["script.premise_engagement"].passed
    facts = by_name["script.fact_contradictions"]
    if not (Path(suites.__file__).parent / "fact_metrics.py").is_file():
        assert not facts.passed and "not measured" in facts.detail[0]


def test_a_fact_metrics_module_that_is_present_is_used(tmp_path, fast_settings, monkeypatch):
    import sys
    import types

    from dramafactory.evals.metrics import MetricResult

    fake = types.ModuleType("dramafactory.evals.fact_metrics")
    fake.fact_contradictions = lambda bible, scripts: [MetricResult(name="script.fact_contradictions",
                                                                    value=len(scripts), passed=True)]
    monkeypatch.setitem(sys.modules, "dramafactory.evals.fact_metrics", fake)
    production = write_run(tmp_path / "run", bible(), [script(ON_PREMISE), script(ON_PREMISE, 2)])
    (facts,) = [m for m in suites.score_case(production, ["script"], fast_settings, LABELS)[0]
                if m.name == "script.fact_contradictions"]
    assert facts.passed and facts.value == 2


def test_a_new_run_against_the_old_golden_baseline_shows_the_story_metrics_as_new():
    baseline = json.loads((Path(suites.__file__).parent / "baselines" / "golden.json").read_text(encoding="utf-8"))
    # the baseline as it was before the story metrics (2026-12-01): the committed one has them since 2026-12-03
    story = set(st.BIBLE_METRICS) | {"script.stock_line_rate", "script.stock_lines_max"}
    baseline["metrics"] = {name: m for name, m in baseline["metrics"].items() if name not in story}
    now = {name: dict(m) for name, m in baseline["metrics"].items()}
    for m in st.score_story_bible(bible(synopsis=INVERTED), LABELS) + st.stock_lines([script(ON_PREMISE)]):
        now[m.name] = {"mean": m.value, "min": m.value, "max": m.value, "threshold": m.threshold,
                       "better": m.better, "passed": m.passed, "cases": 1}
    result = compare({"settings": baseline["settings"], "metrics": now, "cases": []}, baseline)
    assert result["passed"] and not result["regressions"], result["regressions"]
    assert {n for n, d in result["deltas"].items() if d["status"] == "new"} == \
        set(st.BIBLE_METRICS) | {"script.stock_line_rate", "script.stock_lines_max"}


def test_the_report_shows_a_new_metric_against_an_old_baseline(tmp_path):
    from dramafactory.evals.report import write_report

    baseline = {"created": "before", "settings": {}, "metrics": {}}
    m = st.premise_not_inverted(bible(synopsis=INVERTED), LABELS)
    results = {"suite": "golden", "label": "test", "passed": False, "settings": {}, "cases": [],
               "metrics": {m.name: {"mean": m.value, "min": m.value, "max": m.value, "threshold": m.threshold,
                                    "better": m.better, "passed": m.passed, "cases": 1}}}
    results["compare"] = {"baseline": "old.json", **compare(results, baseline)}
    page = write_report(results, tmp_path).read_text(encoding="utf-8")
    assert results["compare"]["deltas"][m.name]["status"] == "new" and ">new<" in page
