"""Looks follow age (agents/director/casting.draw_looks with ages, and the storyboard drawing age on a face), names
follow the world (casting.name_world and pick_names' old-world lists), and the split of the storyboard's world
backdrops (worlds.py, workplaces.py). Pure code: no model."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dramafactory.agents.director import casting
from dramafactory.agents.director.cast_plan import plan_cast
from dramafactory.agents.structured import stable_seed
from dramafactory.schemas import Character, Location, Look, SeriesConcept, Shot, Voice
from dramafactory.tools.image.base import ImageRequest
from dramafactory.tools.image.storyboard import StoryboardRenderer
from dramafactory.tools.image.storyboard.looks import look_of

GREY = ("grey", "gray", "silver", "white", "salt")
NURSE = "A night-shift nurse discovers the billionaire patient she saved is her runaway father."
PALACE = "A palace cook learns the poison she was ordered to serve the young emperor is meant for her own sister."


def _is_grey(hair: str) -> bool:
    return any(w in hair for w in GREY)


def test_hair_follows_age_and_stays_distinct_over_many_casts() -> None:
    for seed in range(300):
        rng = random.Random(seed)
        n = rng.randint(2, 6)
        genders = [rng.choice(["female", "male"]) for _ in range(n)]
        ages = [rng.randint(16, 85) for _ in range(n)]
        looks = casting.draw_looks(genders, random.Random(seed), ages)
        hair = [look.hair_color for look, _ in looks]
        mains = [look.palette[0] for look, _ in looks]
        assert len(set(hair)) == n and len(set(mains)) == n, (seed, hair, mains)
        for age, (look, wardrobe) in zip(ages, looks, strict=True):
            if age < 40:
                assert not _is_grey(look.hair_color), (seed, age, look.hair_color)
            elif age < 50:
                assert look.hair_color == "salt-and-pepper" or not _is_grey(look.hair_color), (seed, age, look)
            elif sum(a >= 50 for a in ages) <= 4:  # four grey shades: a fifth over-50 takes a dark colour
                assert _is_grey(look.hair_color), (seed, age, look.hair_color)
            if age >= 40:
                assert look.face not in casting.YOUTHFUL_FACES, (seed, age, look.face)
            if age >= 50:
                assert "bomber" not in wardrobe and "leather" not in wardrobe, (seed, age, wardrobe)


def test_the_runaway_father_looks_a_generation_older_than_his_daughter() -> None:
    concept = SeriesConcept(logline=NURSE, genre="family")
    seed = stable_seed(0, concept.logline, concept.genre)
    plan = plan_cast(concept, random.Random(seed), seed)
    (daughter, _), (father, _) = casting.draw_looks(plan.genders, random.Random(seed), plan.ages)[:2]
    assert plan.ages[1] >= 50 > 40 > plan.ages[0]
    assert _is_grey(father.hair_color) and not _is_grey(daughter.hair_color)


def test_without_ages_the_draw_is_the_age_blind_one_it_always_was() -> None:
    """Callers that pass no ages (evals/qc_set.py) keep their looks from the same seed."""
    genders = ["female", "male", "female"]
    looks = casting.draw_looks(genders, random.Random(11))
    assert [look.hair_color for look, _ in looks] == random.Random(11).sample(casting.HAIR_COLORS, 3)
    with pytest.raises(ValueError):
        casting.draw_looks(genders, random.Random(11), [30, 40])


@pytest.mark.parametrize(("logline", "genre", "world"), [
    (PALACE, "fantasy", "old-world"),
    (PALACE, "drama", "old-world"),  # "palace" and "emperor" name the world whatever the genre
    ("A young king must choose between his crown and his brother.", "fantasy", "old-world"),
    ("In Victorian London a maid hides a secret from the family she serves.", "mystery", "old-world"),
    (NURSE, "family", "contemporary"),
    ("A prom queen discovers her best friend lied.", "drama", "contemporary"),  # one cue word is no palace
    ("A CEO builds a media empire on lies.", "revenge", "contemporary"),
    ("A witch opens a cafe in Brooklyn.", "fantasy", "contemporary"),  # the cafe is the story's place
])
def test_the_world_of_the_names(logline: str, genre: str, world: str) -> None:
    assert casting.name_world(logline, genre) == world


def test_old_world_names_fit_gender_are_seeded_and_distinct() -> None:
    genders = ["female", "male", "female", "male", "female", "male"]
    avoid = casting.concept_words(PALACE)
    names = casting.pick_names(genders, "en", 7, avoid, "old-world")
    assert names == casting.pick_names(genders, "en", 7, avoid, "old-world")
    assert names != casting.pick_names(genders, "en", 8, avoid, "old-world")
    firsts, lasts = [n.split()[0] for n in names], [n.split()[-1] for n in names]
    assert len(set(firsts)) == len(set(lasts)) == 6
    for first, last, gender in zip(firsts, lasts, genders, strict=True):
        assert first in (casting.OLD_WORLD_FEMALE if gender == "female" else casting.OLD_WORLD_MALE)
        assert last in casting.OLD_WORLD_LAST
    # the contemporary draw is Faker's, as before
    assert casting.pick_names(genders, "en", 7, avoid) == casting.pick_names(genders, "en", 7, avoid, "contemporary")


def test_the_palace_cast_with_old_world_names_keeps_the_sisters_surname(monkeypatch: pytest.MonkeyPatch) -> None:
    """cast_plan.py passing the world (the one-line change at its pick_names call): sisters share a last name."""
    concept = SeriesConcept(logline=PALACE, genre="fantasy")
    world = casting.name_world(concept.logline, concept.genre)
    picked = casting.pick_names
    monkeypatch.setattr(casting, "pick_names",  # still right once cast_plan passes the world itself
                        lambda g, lang, s, avoid, *_, **__: picked(g, lang, s, avoid, world))
    seed = stable_seed(0, concept.logline, concept.genre)
    plan = plan_cast(concept, random.Random(seed), seed)
    firsts = [n.split()[0] for n in plan.names]
    assert all(f in casting.OLD_WORLD_FEMALE + casting.OLD_WORLD_MALE for f in firsts), plan.names
    sisters = [r for r in plan.relations if r.kind == "sister"]
    assert sisters and all(r.person.split()[-1] == r.of.split()[-1] for r in sisters), plan.relations


# --- the storyboard draws age -------------------------------------------------------------------------------------

def _person(age: int, hair: str = "dark brown") -> Character:
    look = Look(hair_color=hair, hair_style="short cropped", skin_tone="light", build="broad", face="a square jaw",
                palette=["#1F2F5C", "#F5F5F5", "#D4A017"])
    return Character(name="Frank Reyes", role="ally", gender="male", age=age, look=look, wardrobe="navy suit jacket",
                     voice=Voice(description="calm", voice_id="en-us"))


def _close_up(tmp_path: Path, person: Character, name: str) -> np.ndarray:
    location = Location(name="Home", kind="interior", description="a living room", setting="home")
    shot = Shot(id="e01s01", episode=1, scene=1, index=0, framing="close-up", duration_s=2.0,
                characters=[person.name], location="Home", time_of_day="day", action="He waits.",
                prompt="storyboard", seed=1)
    result = StoryboardRenderer().render(ImageRequest(shot=shot, cast={person.name: person}, location=location,
                                                      seed=1, out_path=tmp_path / name, width=180, height=320))
    with Image.open(result.path) as img:
        return np.asarray(img.convert("RGB"), dtype=np.int16)


def test_an_old_face_is_drawn_older_and_a_young_one_as_before(tmp_path: Path) -> None:
    young, younger = _close_up(tmp_path, _person(30), "30.png"), _close_up(tmp_path, _person(24), "24.png")
    assert np.array_equal(young, younger)  # nothing of age is drawn before the forties
    lined = _close_up(tmp_path, _person(47), "47.png")
    old = _close_up(tmp_path, _person(70), "70.png")
    assert np.abs(lined - young).sum() > 0 and np.abs(old - lined).sum() > np.abs(lined - young).sum()


def test_greying_hair_is_streaked_and_the_old_stand_shorter() -> None:
    assert look_of(_person(52, "salt-and-pepper")).greying and not look_of(_person(52, "silver")).greying
    assert look_of(_person(70)).height < look_of(_person(40)).height


# --- the split of the world backdrops ------------------------------------------------------------------------------

def test_the_world_backdrops_are_all_registered_after_the_split() -> None:
    from dramafactory.tools.image.storyboard import workplaces, worlds
    from dramafactory.tools.image.storyboard.backdrops import BACKDROPS

    assert list(worlds.WORLD_BACKDROPS) == ["courtroom", "boat", "research station", "snowfield", "kitchen",
                                            "palace kitchen", "church", "ballroom", "police station", "hotel"]
    assert set(workplaces.WORKPLACE_BACKDROPS) < set(worlds.WORLD_BACKDROPS)
    assert all(BACKDROPS[k] is v for k, v in worlds.WORLD_BACKDROPS.items())


def test_a_greying_man_in_a_wide_shot_is_still_found_by_the_people_scorer(tmp_path: Path) -> None:
    """The golden workplace case: the salt-and-pepper boss in a wide night shot in a bar was not found in any of three
    takes while his temples were streaked; strands are drawn only on a head big enough to show them."""
    from dramafactory.tools.image.storyboard_people import StoryboardPeople

    boss = Character(name="Tracy Mathis", role="antagonist", gender="male", age=55,
                     look=Look(hair_color="salt-and-pepper", hair_style="slicked back", skin_tone="olive",
                               build="stocky", face="a square jaw", palette=["#7FB2E5", "#1F2F5C", "#B22234"]),
                     wardrobe="sky blue overcoat over a navy turtleneck, crimson tie",
                     voice=Voice(description="calm", voice_id="en-us"))
    aide = Character(name="Bobby Allen", role="ally", gender="male", age=22,
                     look=Look(hair_color="auburn", hair_style="wavy", skin_tone="brown", build="broad",
                               face="round glasses", palette=["#1F7A80", "#1A1A1A", "#B22234"]),
                     wardrobe="teal trench coat over a black shirt, crimson watch strap",
                     voice=Voice(description="calm", voice_id="en-us"))
    bar = Location(name="The Fields Lounge", kind="interior", time_of_day="night", setting="bar",
                   description="a dim cocktail bar with stools and bottles glowing on shelves")
    cast = {c.name: c for c in (boss, aide)}
    for framing in ("wide", "two-shot"):
        shot = Shot(id="e02s08", episode=2, scene=2, index=7, framing=framing, camera_move="pan-left",
                    duration_s=1.4, characters=list(cast), speaker=None, location=bar.name, time_of_day="night",
                    action="Cathy reveals Tracy's identity.", prompt="storyboard", seed=58066996)
        out = StoryboardRenderer().render(ImageRequest(shot=shot, cast=cast, location=bar, seed=shot.seed,
                                                       out_path=tmp_path / f"{framing}.png", width=720, height=1280))
        with Image.open(out.path) as img:
            frame = np.asarray(img.convert("RGB"))
        seen = StoryboardPeople().read(frame, shot, cast, cast, bar).seen
        assert {s.name for s in seen} == set(cast), framing
