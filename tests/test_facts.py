"""Series memory (memory/facts.py): facts read from scripts, kept in the run's Chroma store by stable ids, recalled
by meaning; the cinematographer dresses characters as last seen; the contradiction eval on crafted series."""

from __future__ import annotations

import inspect

import pytest

from dramafactory.agents.cinematographer.agent import plan_shots
from dramafactory.evals.fact_metrics import fact_contradictions
from dramafactory.graphs import nodes
from dramafactory.graphs.runner import produce
from dramafactory.memory.facts import (
    Fact,
    FactMemory,
    Outfits,
    extract_facts,
    recall_for_episode,
    recall_for_scenes,
    series_outfits,
)
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

LENA, FRANK, ROSA = "Lena Ortiz", "Frank Ortiz", "Rosa Diaz"
WARDROBE = {LENA: "blue nurse scrubs", FRANK: "a grey hospital gown", ROSA: "a green wool coat"}


def person(name: str, gender: str, age: int, role: str) -> Character:
    return Character(name=name, role=role, gender=gender, age=age,
                     look=Look(hair_color="black", hair_style="short", skin_tone="olive", build="slim",
                               face="a mole", palette=["#1f4e8c", "#202020"]),
                     wardrobe=WARDROBE[name], voice=Voice(description="calm", voice_id="en-us"))


def bible(episodes: int = 3) -> SeriesBible:
    cast = [person(LENA, "female", 29, "protagonist"), person(FRANK, "male", 62, "father"),
            person(ROSA, "female", 35, "ally")]
    outlines = [
        EpisodeOutline(number=1, title="The Patient", hook="Lena saves a billionaire in the ER.",
                       conflict="He knows her name.", cliffhanger="He is her father.", characters=[LENA, FRANK]),
        EpisodeOutline(number=2, title="The Letter", hook="Lena confronts her father Frank about why he left.",
                       conflict="Frank begs her to forgive him.", cliffhanger="Rosa overhears them.",
                       characters=[LENA, FRANK, ROSA]),
        EpisodeOutline(number=3, title="The Will", hook="Rosa brings the lawyer.", conflict="Frank's will is read.",
                       cliffhanger="Lena walks out.", characters=[LENA, FRANK, ROSA]),
    ][:episodes]
    return SeriesBible(
        title="Night Shift Blood", logline="A night-shift nurse discovers the billionaire patient she saved is her "
                                           "runaway father.",
        genre="family", tone="melodramatic", synopsis="A nurse learns the billionaire she saved is her father.",
        characters=cast,
        locations=[Location(name="Ward Seven", kind="interior", description="a hospital ward", setting="hospital"),
                   Location(name="Ortiz Penthouse", kind="interior", description="a glass penthouse",
                            setting="office")],
        episodes=outlines, relations=[Relation(person=FRANK, kind="father", of=LENA, words="her runaway father")])


def scene(number: int, people: list[str], beats: list[tuple[str, str, list[tuple[str, str]]]]) -> Scene:
    built = [Beat(kind=kind, action=action,
                  lines=[DialogueLine(id=f"s{number}b{i}l{j}", speaker=who, text=text)
                         for j, (who, text) in enumerate(lines)])
             for i, (kind, action, lines) in enumerate(beats)]
    return Scene(number=number, location="Ward Seven", time_of_day="night", characters=people, beats=built)


def episode_one() -> EpisodeScript:
    return EpisodeScript(episode=1, title="The Patient", scenes=[
        scene(1, [LENA, FRANK], [
            ("hook", "Lena pulls the billionaire back from cardiac arrest and pockets his key.", [(FRANK, "You have your mother's eyes.")]),
            ("pressure", "Lena's hand is bleeding from the broken glass.", [(LENA, "Who are you to say that?")]),
            ("reveal", "Frank pulls an old letter from his wallet and shows Lena her own birth name.",
             [(LENA, "You are my father.")]),
        ]),
        scene(2, [FRANK, ROSA], [
            ("reversal", "Frank burns the letter in the sink before Rosa can read it.", [(ROSA, "What was that?")]),
            ("cliffhanger", "Rosa changes into a black evening gown for the gala.",
             [(FRANK, "Tell no one what you saw.")]),
        ]),
    ])


def episode_two() -> EpisodeScript:
    return EpisodeScript(episode=2, title="The Letter", scenes=[
        scene(1, [LENA, FRANK], [
            ("hook", "Lena, her hand bandaged, blocks Frank's way out of the ward.",
             [(LENA, "You left us when I was six, Dad.")]),
            ("pressure", "Frank sinks into the chair, grey with shame.", [(FRANK, "I sent money every winter.")]),
            ("reveal", "Lena finds the photographs of her mother in his drawer.", [(LENA, "You kept these?")]),
        ]),
        scene(2, [LENA, ROSA], [
            ("reversal", "Rosa watches from the doorway.", [(ROSA, "Your father is lying to you.")]),
            ("cliffhanger", "Lena turns away from Rosa.", [(LENA, "Then I will find out why.")]),
        ]),
    ])


def episode_three(contradicting: bool) -> EpisodeScript:
    if contradicting:
        beats = [("hook", "Lena, unhurt, runs up the stairs two at a time.",
                  [(LENA, "I don't even know who my father is.")]),
                 ("pressure", "Frank reads the letter aloud to the lawyer.", [(FRANK, "It says everything.")])]
    else:
        beats = [("hook", "Lena grips the rail with her bandaged hand.",
                  [(LENA, "My father owes me the truth.")]),
                 ("pressure", "Frank holds up a copy of the letter for the lawyer.", [(FRANK, "It says everything.")])]
    return EpisodeScript(episode=3, title="The Will", scenes=[
        scene(1, [LENA, FRANK], beats),
        scene(2, [LENA, ROSA], [("reversal", "Rosa signs the papers.", [(ROSA, "It is done.")]),
                                ("cliffhanger", "Lena walks out into the rain.", [(LENA, "Goodbye, Rosa.")])]),
    ])


def kinds(facts: list[Fact]) -> dict[str, list[Fact]]:
    out: dict[str, list[Fact]] = {}
    for fact in facts:
        out.setdefault(fact.kind, []).append(fact)
    return out


# --- extraction --------------------------------------------------------------------------------------------------

def test_extraction_reads_reveals_relations_props_injuries_and_clothes():
    facts = extract_facts(bible(), episode_one())
    by = kinds(facts)
    assert {f.state for f in by["relation exposed"]} == {f"{FRANK}|father|{LENA}"}
    assert by["knows"][0].who == [LENA, FRANK] and "Frank Ortiz is Lena Ortiz's father" in by["knows"][0].text
    assert len(by["secret revealed"]) == 2  # the reveal's and the cliffhanger's actions
    props = {(f.subject, f.state) for f in by["prop"]}
    assert ("letter", "destroyed") in props and ("key", "present") in props
    assert ("letter", "present") not in props  # shown in the reveal: that action is the reveal's own fact
    injury = by["injury"][0]
    assert (injury.who, injury.state, injury.subject) == ([LENA], "hurt", "hand")
    clothes = by["clothes"][0]
    assert (clothes.who, clothes.subject, clothes.scene) == ([ROSA], "a black evening gown", 2)
    assert all(f.series == "Night Shift Blood" and f.episode == 1 for f in facts)
    assert extract_facts(bible(), episode_one()) == facts  # code, not a model: the same script, the same facts
    assert len({f.id for f in facts}) == len(facts)


def test_questions_denials_and_strangers_expose_no_relation():
    lines = [(LENA, "Are you my father?"), (LENA, "You are not my father."), (ROSA, "My father was a sailor.")]
    script = EpisodeScript(episode=1, title="x", scenes=[
        scene(1, [LENA, FRANK, ROSA], [("hook", "Lena checks the monitor.", lines)])])
    assert not kinds(extract_facts(bible(), script)).get("relation exposed")


def test_a_verb_that_spells_a_prop_is_no_prop():
    script = EpisodeScript(episode=1, title="x", scenes=[scene(1, [LENA, FRANK], [
        ("hook", "The guards watch as the old man will not let go. Lena reads her father's will.", [])])])
    props = [(f.subject, f.text) for f in extract_facts(bible(), script) if f.kind == "prop"]
    assert [p for p, _ in props] == ["will"] and "Lena reads her father's will" in props[0][1]


def test_a_premise_relation_by_key_counts_once_its_people_are_cast():
    from dramafactory.schemas import Premise, PremisePerson

    premise = Premise(protagonist=PremisePerson(key="lead", phrase="a night-shift nurse", name=LENA),
                      people=[PremisePerson(key="p1", phrase="her runaway father", name=FRANK)],
                      relations=[Relation(person="p1", kind="father", of="lead")])
    keyed = bible().model_copy(update={"relations": [], "premise": premise})
    assert kinds(extract_facts(keyed, episode_one()))["relation exposed"][0].state == f"{FRANK}|father|{LENA}"


# --- the store ---------------------------------------------------------------------------------------------------

def test_recording_again_upserts_and_a_redrawn_episode_leaves_no_stale_facts(tmp_path):
    series, facts = bible(), extract_facts(bible(), episode_one())
    FactMemory(tmp_path / "memory").record_episode(series.title, 1, facts)
    reopened = FactMemory(tmp_path / "memory")  # a resumed run: a new process on the same folder
    reopened.record_episode(series.title, 1, facts)
    reopened.record(facts)
    assert reopened.all(series.title) == sorted(facts, key=lambda f: (f.episode, f.scene, f.kind, f.text))
    redrawn = facts[:2]
    reopened.record_episode(series.title, 1, redrawn)
    assert {f.id for f in FactMemory(tmp_path / "memory").all(series.title)} == {f.id for f in redrawn}


def test_recall_finds_the_relevant_fact_by_meaning_and_only_from_earlier_episodes(tmp_path):
    memory = FactMemory(tmp_path / "memory")
    title = bible().title

    def fact(episode: int, kind: str, who: list[str], text: str) -> Fact:
        return Fact(series=title, episode=episode, kind=kind, who=who, text=text)

    relevant = fact(1, "relation exposed", [FRANK, LENA], "Revealed in episode 1: Frank Ortiz is Lena Ortiz's father.")
    unrelated = fact(1, "prop", [ROSA], "The parking ticket is in play: Rosa pays for the parking ticket.")
    later = fact(3, "secret revealed", [FRANK, LENA], "Revealed in episode 3: Frank Ortiz is Lena Ortiz's father "
                                                      "and he left her.")
    other_series = Fact(series="Another Show", episode=1, kind="relation exposed", who=[FRANK, LENA],
                        text="Frank Ortiz is Lena Ortiz's father.")
    memory.record([relevant, unrelated, later, other_series])
    outline = "Lena confronts her father Frank about why he left the family."
    hits = memory.recall(title, outline, [LENA, FRANK], before_episode=3, k=5)
    assert hits[0] == relevant and hits.index(unrelated) > 0
    assert later not in hits and other_series not in hits
    # the writer's query for episode 2 of the crafted bible is its outline and people
    assert recall_for_episode(memory, bible(), 2)[0] == relevant
    assert recall_for_episode(memory, bible(), 1) == []


def test_each_scene_recalls_what_concerns_its_own_people(tmp_path):
    memory = FactMemory(tmp_path / "memory")
    title = bible().title
    about_father = Fact(series=title, episode=1, kind="relation exposed", who=[FRANK, LENA],
                        text="Revealed in episode 1: Frank Ortiz is Lena Ortiz's father.")
    about_rosa = Fact(series=title, episode=1, kind="prop", who=[ROSA],
                      text="The parking ticket is in play: Rosa pays for the parking ticket.")
    memory.record([about_father, about_rosa])
    first, second = recall_for_scenes(memory, bible(), 2, [("the ward", [LENA, FRANK]), ("the garage", [ROSA])],
                                      k=1)
    assert first == [about_father] and second == [about_rosa]
    assert recall_for_scenes(memory, bible(), 1, [("the ward", [LENA])]) == [[]]


# --- the cinematographer dresses them as last seen ---------------------------------------------------------------

def test_a_change_of_clothes_dresses_the_character_from_that_scene_on(fake_context):
    ctx = fake_context()
    series = bible()
    ctx.memory.register(series.characters, series=series.title)
    script = episode_one()
    changes = [f for f in extract_facts(series, script) if f.kind == "clothes"]
    carried = {LENA: Fact(series=series.title, episode=1, kind="clothes", who=[LENA], text="x",
                          subject="a red raincoat")}
    shotlist, _ = plan_shots(ctx, series, script, 3, 30, Outfits(carried=carried, changes=changes))
    rosa = [s for s in shotlist.shots if ROSA in s.characters]
    lena = [s for s in shotlist.shots if LENA in s.characters]
    assert rosa and all("a black evening gown" in s.prompt and WARDROBE[ROSA] not in s.prompt for s in rosa)
    assert lena and all("wearing a red raincoat" in s.prompt and WARDROBE[LENA] not in s.prompt for s in lena)
    frank = [s for s in shotlist.shots if FRANK in s.characters]
    assert all(WARDROBE[FRANK] in s.prompt for s in frank)  # nobody changed his clothes: the bible's wardrobe
    plain, _ = plan_shots(ctx, series, script, 3, 30)
    assert all(WARDROBE[ROSA] in s.prompt for s in plain.shots if ROSA in s.characters)


def test_outfits_from_the_scripts_alone_match_what_the_run_dresses():
    two = episode_two().model_copy(deep=True)
    two.scenes[1].beats[0].action = "Lena slips into a white silk dress for the gala."
    outfits = series_outfits(bible(), [episode_one(), two, episode_three(False)], 2)
    assert outfits.at(ROSA, 1) == "a black evening gown"  # carried over from episode 1
    assert (outfits.at(LENA, 1), outfits.at(LENA, 2)) == (None, "a white silk dress")


def test_outfits_follow_the_scene_order_within_an_episode():
    change = Fact(series="s", episode=2, scene=2, kind="clothes", who=[LENA], text="x", subject="a white dress")
    before = Fact(series="s", episode=1, scene=1, kind="clothes", who=[LENA], text="x", subject="a red raincoat")
    outfits = Outfits(carried={LENA: before}, changes=[change])
    assert [outfits.at(LENA, n) for n in (1, 2, 3)] == ["a red raincoat", "a white dress", "a white dress"]
    assert outfits.at(FRANK, 3) is None


# --- wired into a run -----------------------------------------------------------------------------------------------

@pytest.fixture
def two_episodes() -> SeriesConcept:
    return SeriesConcept(logline="A night-shift nurse discovers the billionaire patient she saved is her runaway "
                                 "father.", genre="family", episodes=2, seconds_per_episode=30)


def spy_writer(monkeypatch) -> list[dict]:
    """The writer as the graph calls it, recording its keyword arguments. Passes `established` on to the real
    writer once it takes it (agents/writer/agent.py, the lead's)."""
    calls: list[dict] = []
    real = nodes.write_script
    takes = "established" in inspect.signature(real).parameters

    def writer(ctx, bible, concept, episode, seed, earlier, note=None, **kwargs):
        calls.append({"episode": episode, **kwargs})
        return real(ctx, bible, concept, episode, seed, earlier, note, **(kwargs if takes else {}))

    monkeypatch.setattr(nodes, "write_script", writer)
    return calls


def test_a_run_records_each_approved_episode_and_hands_the_writer_what_came_before(fake_context, two_episodes,
                                                                                    monkeypatch):
    calls = spy_writer(monkeypatch)
    ctx = fake_context()
    assert produce(ctx, concept=two_episodes, seed=4).status == "finished"
    series = SeriesBible.model_validate_json((ctx.run_dir / "bible.json").read_text())
    stored = FactMemory.for_run(ctx.run_dir).all(series.title)
    scripts = [EpisodeScript.model_validate_json((ctx.run_dir / f"episodes/0{n}/script.json").read_text())
               for n in (1, 2)]
    expected = [f for s in scripts for f in extract_facts(series, s)]
    assert {f.id for f in stored} == {f.id for f in expected} and stored
    assert [c["episode"] for c in calls] == [1, 2]
    assert calls[0]["established"] == []
    recalled = calls[1]["established"]  # per scene of episode 2, from episode 1's facts
    assert len(recalled) == 2 and all(recalled)
    assert set().union(*recalled) <= {f.text for f in expected if f.episode == 1}
    rows = [r for r in ctx.ledger.rows() if r["stage"] == nodes.FACTS_STAGE]
    assert [r["action"] for r in rows] == ["record", "recall", "record"] and all("episode" not in r for r in rows)


def test_a_resumed_run_does_not_duplicate_facts(fake_context, concept, tmp_path, monkeypatch):
    spy_writer(monkeypatch)
    run_dir = tmp_path / "resumed"
    first = fake_context(run_dir)
    assert produce(first, concept=concept, seed=3, stop_after="cinematographer").status == "paused"
    title = SeriesBible.model_validate_json((run_dir / "bible.json").read_text()).title
    before = FactMemory.for_run(run_dir).all(title)
    assert before
    # the node recording them runs again (a retried or resumed cinematographer): the same rows, upserted
    script = EpisodeScript.model_validate_json((run_dir / "episodes/01/script.json").read_text())
    nodes._record_facts(fake_context(run_dir), SeriesBible.model_validate_json((run_dir / "bible.json").read_text()),
                        script)
    assert produce(fake_context(run_dir), concept=None, resume=True).status == "finished"
    assert FactMemory.for_run(run_dir).all(title) == before


# --- the contradiction eval ----------------------------------------------------------------------------------------

def test_a_series_that_contradicts_what_it_established_fails():
    [result] = fact_contradictions(bible(), [episode_one(), episode_two(), episode_three(contradicting=True)])
    assert not result.passed and result.value == 3 and result.better == "lower"
    detail = " ".join(result.detail)
    assert "don't even know who my father is" in detail and "unhurt" in detail and "reads the letter" in detail
    assert all("episode 3" in d for d in result.detail)


def test_a_consistent_series_passes():
    [result] = fact_contradictions(bible(), [episode_one(), episode_two(), episode_three(contradicting=False)])
    assert result.passed and result.value == 0, result.detail


def test_healing_ends_an_injury_and_a_single_episode_is_not_applicable():
    healed = episode_two().model_copy(deep=True)
    healed.scenes[0].beats[0].action = "Lena takes off the bandage; the cut has healed."
    [result] = fact_contradictions(bible(), [episode_one(), healed, episode_three(contradicting=True)])
    assert result.value == 2 and "unhurt" not in " ".join(result.detail)
    [single] = fact_contradictions(bible(), [episode_one()])
    assert single.passed and "not applicable" in single.detail[0]
