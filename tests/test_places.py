"""Places from the concept: the logline's world picks the settings (stems, phrases, named places over implied ones),
a place with no backdrop is flagged and keeps its name, names fit the place, and every setting has a backdrop of
its own that the storyboard renderer draws."""

from __future__ import annotations

import json
import random
import time
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
import yaml

from dramafactory.agents.director import places
from dramafactory.schemas import (
    Character,
    EpisodeOutline,
    Location,
    Look,
    Premise,
    PremisePerson,
    Relation,
    SeriesBible,
    Shot,
    Voice,
)
from dramafactory.tools.image.base import ImageRequest
from dramafactory.tools.image.storyboard import StoryboardRenderer
from dramafactory.tools.image.storyboard.backdrops import BACKDROPS
from dramafactory.tools.image.storyboard.scene import setting_of

from .api_support import KEYS
from .test_api_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, ui_server  # noqa: F401 (ui_server: a fixture)

GOLDEN = Path(__file__).resolve().parent.parent / "evals" / "golden" / "concepts.yaml"

# golden id -> the settings its logline's world asks for (all of them, in any order)
GOLDEN_SETTINGS = {
    "revenge": {"ballroom", "office"},  # the engagement party, the company she now owns
    "romance": {"church", "ballroom"},  # the wedding and its reception
    "family": {"hospital", "home"},  # the night-shift nurse, her runaway father
    "workplace": {"office", "bar"},  # the accountant and her boss; after-work drinks
    "fantasy": {"palace kitchen", "castle"},  # the palace cook, the young emperor
    "thriller": {"car", "street"},  # the ride-share's back seat, the city outside
}

NEW_LOGLINES = [
    ("A public defender discovers the judge presiding over her biggest trial is the man who framed her brother.",
     "drama", "courtroom"),
    ("A deckhand on a fishing boat learns the captain's daughter sold the crew's catch to smugglers.",
     "thriller", "boat"),
    ("A glaciologist at a research station in Antarctica finds her missing husband's name in a buried logbook.",
     "mystery", "research station"),
    ("A kitchen maid in the royal palace overhears the queen plotting against her own son.", "fantasy",
     "palace kitchen"),
]


def _golden() -> list[dict]:
    return yaml.safe_load(GOLDEN.read_text())["concepts"]


@pytest.mark.parametrize("concept", _golden(), ids=lambda c: c["id"])
def test_golden_loglines_get_their_worlds(concept: dict) -> None:
    settings, flags = places.pick_settings(concept["logline"], concept["genre"])
    assert set(settings) == GOLDEN_SETTINGS[concept["id"]], settings
    assert flags == []


@pytest.mark.parametrize("logline, genre, setting", NEW_LOGLINES, ids=[s for *_, s in NEW_LOGLINES])
def test_new_worlds_are_staged_where_the_logline_says(logline: str, genre: str, setting: str) -> None:
    settings, flags = places.pick_settings(logline, genre)
    assert setting in settings and len(settings) == 2 and flags == []


def test_the_antarctic_station_goes_out_onto_the_snow() -> None:
    settings, _ = places.pick_settings(NEW_LOGLINES[2][0], "mystery")
    assert settings == ["research station", "snowfield"]


def test_words_match_by_stem_and_phrase() -> None:
    assert places.stem("courtrooms") == "courtroom" and places.stem("churches") == "church"
    assert places.stem("cities") == "city" and places.stem("boss") == "boss" and places.stem("CEO's") == "ceo"
    assert places.pick_settings("Two rival chefs share the kitchens of a cruise ship.", "comedy")[0][0] == "kitchen"
    assert "boat" in places.pick_settings("Sisters inherit three fishing boats and a feud.", "family")[0]
    assert "court" not in places.tokens("ride-share") and places.tokens("ride-share") == ["ride", "share"]
    # a phrase uses its words: "police station" is not also a research "station"
    assert places.match_settings("A rookie cop guards the police station alone.")[0].setting == "police station"


def test_an_unknown_world_is_flagged_and_keeps_its_own_name() -> None:
    logline = "A lighthouse keeper finds a stranger washed ashore who claims to be her drowned husband."
    settings, flags = places.pick_settings(logline, "mystery")
    assert settings[0] == "exterior:lighthouse"
    assert flags == ["no backdrop for 'lighthouse': drawn as a generic exterior"]
    name, interior, description = places.name_location(settings[0], 3, "en")
    assert "lighthouse" in name and not interior and description == "a lighthouse"
    assert setting_of(Location(name=name, kind="exterior", description=description, setting=settings[0])) == "exterior"


def test_a_named_place_outranks_one_only_implied_by_the_people() -> None:
    settings, flags = places.pick_settings("A detective hunts a killer between a lighthouse and a prison.", "crime")
    assert settings == ["exterior:lighthouse", "interior:prison"] and len(flags) == 2


def test_a_place_without_its_own_backdrop_uses_the_nearest_that_shares_its_parts() -> None:
    settings, flags = places.pick_settings("A young monk hides a runaway bride in the temple.", "drama")
    assert settings == ["church:temple", "ballroom"] and flags == ["no backdrop for 'temple': drawn as the nearest backdrop, church"]
    assert setting_of(Location(name="The temple of Hale", kind="interior", description="a temple",
                               setting="church:temple")) == "church"


def test_a_third_named_place_is_reported_not_swapped_in() -> None:
    settings, flags = places.pick_settings("A judge's trial moves from the courthouse to a fishing boat and a prison.",
                                           "drama")
    assert set(settings) == {"courtroom", "boat"}
    assert flags == ["'prison' is not staged: the series uses courtroom and boat"]


@pytest.mark.parametrize("logline", ["Two rivals share a secret.", "Someone lies."])
def test_no_place_in_the_logline_falls_back_to_the_genre_and_says_so(logline: str) -> None:
    settings, flags = places.pick_settings(logline, "romance")
    assert settings == places.GENRE_SETTINGS["romance"]
    assert flags and "names no place" in flags[0]


def test_names_fit_the_place() -> None:
    name, interior, _ = places.name_location("courtroom", 7, "en")
    assert name.startswith("Courtroom 3, ") and name.endswith(" County Courthouse") and interior
    assert places.name_location("palace kitchen", 7, "en")[0].startswith("The palace kitchens of ")
    assert "Precinct" in places.name_location("police station", 7, "en")[0]
    assert places.name_location("police station", 7, "en")[0].split()[1][-2:] in ("st", "nd", "rd", "th")
    for setting, entry in places.SETTINGS.items():
        name, interior, description = places.name_location(setting, 11, "en")
        assert name and "{" not in name and interior == entry.interior and description == entry.description


def test_time_of_day_follows_the_place() -> None:
    rng = random.Random(0)
    assert places.time_of_day_for("ballroom", 0, rng) == "night"
    assert places.time_of_day_for("courtroom", 1, rng) == "day"
    assert places.time_of_day_for("exterior:lighthouse", 1, rng) in ("day", "dusk", "night")


def test_every_setting_has_its_own_backdrop() -> None:
    for setting in places.SETTINGS:
        assert setting in BACKDROPS, setting
        assert setting_of(Location(name="x", kind="interior", description="x", setting=setting)) == setting


def _cast() -> dict[str, Character]:
    look = Look(hair_color="black", hair_style="bob", skin_tone="olive", build="slim", face="freckles",
                palette=["#1F2F5C", "#F5F5F5", "#D4A017"])
    return {"Ana Reyes": Character(name="Ana Reyes", role="protagonist", gender="female", age=30, look=look,
                                   wardrobe="navy coat", voice=Voice(description="calm", voice_id="en-us"))}


def _render(tmp_path: Path, setting: str, tod: str, people: list[str]) -> np.ndarray:
    name, interior, description = places.name_location(setting, 5, "en")
    location = Location(name=name, kind="interior" if interior else "exterior", description=description,
                        setting=setting)
    shot = Shot(id="e01s01", episode=1, scene=1, index=0, framing="wide", duration_s=2.0, characters=people,
                speaker=people[0] if people else None, location=name, time_of_day=tod,
                action="They wait.", prompt="storyboard", seed=1)
    path = tmp_path / f"{setting.replace(' ', '_').replace(':', '-')}_{tod}.png"
    result = StoryboardRenderer().render(ImageRequest(shot=shot, cast=_cast(), location=location, seed=1,
                                                      out_path=path, width=180, height=320))
    from PIL import Image

    with Image.open(result.path) as img:
        return np.asarray(img.convert("RGB"), dtype=np.float32)


def test_each_setting_renders_as_a_place_of_its_own(tmp_path: Path) -> None:
    """Day and night, every setting draws; no two settings' empty wide shots are the same picture (a setting
    silently drawn as another's backdrop would be)."""
    frames = {}
    for setting in [*places.SETTINGS, "exterior:lighthouse", "interior:prison"]:
        day, night = _render(tmp_path, setting, "day", []), _render(tmp_path, setting, "night", [])
        assert day.std() > 15 and night.mean() < day.mean(), setting
        frames[setting] = day
    for a, b in combinations(places.SETTINGS, 2):
        assert np.abs(frames[a] - frames[b]).mean() > 8, (a, b)
    assert np.abs(frames["exterior:lighthouse"] - frames["interior:prison"]).mean() > 8


def test_a_character_stands_in_each_new_world(tmp_path: Path) -> None:
    for setting in ("courtroom", "boat", "research station", "snowfield", "palace kitchen", "car"):
        frame = _render(tmp_path, setting, "dusk", ["Ana Reyes"])
        assert frame.std() > 15


# --- the bible review shows the premise (the place flags sit with the bible's flags) ----------------------------

def _premise_bible() -> SeriesBible:
    lead, father = (_cast()["Ana Reyes"], _cast()["Ana Reyes"].model_copy(update={
        "name": "Frank Reyes", "gender": "male", "age": 61, "role": "father", "description": "the billionaire patient"}))
    premise = Premise(
        protagonist=PremisePerson(key="lead", phrase="a night-shift nurse", gender="female", name="Ana Reyes"),
        people=[PremisePerson(key="p1", phrase="the billionaire patient she saved", also=["her runaway father"],
                              gender="male", generation="older", name="Frank Reyes")],
        relations=[Relation(person="p1", kind="father", of="lead", words="her runaway father")],
        discovery="the billionaire patient she saved is her runaway father",
        flags=["no stakes or deadline in the logline"])
    return SeriesBible(
        title="Father on Ward Seven", logline=NEW_LOGLINES[0][0], genre="family", tone="melodramatic",
        synopsis="s", characters=[lead, father], premise=premise,
        relations=[Relation(person="Frank Reyes", kind="father", of="Ana Reyes", words="her runaway father")],
        locations=[Location(name="Ward 7", kind="interior", description="a ward", setting="hospital")],
        episodes=[EpisodeOutline(number=1, title="t", hook="h", conflict="c", cliffhanger="x",
                                 characters=["Ana Reyes", "Frank Reyes"])],
        flags=["no backdrop for 'lighthouse': drawn as a generic exterior"])


def test_the_bible_review_shows_the_premise_and_relations(ui_server: str) -> None:  # noqa: F811
    """The real page in chromium, its review API answered with a crafted bible: the premise's people with their
    relation, the discovery, the parse's flags and the relations between characters are on the page."""
    sync_api = pytest.importorskip("playwright.sync_api")
    expect = sync_api.expect
    expect.set_options(timeout=20_000)
    review = {"id": "r1", "run_id": "run1", "kind": "bible", "episode": None, "status": "pending",
              "created_at": time.time(), "payload": {"bible": _premise_bible().model_dump(mode="json")}}

    def answer(route) -> None:
        path = route.request.url.split(ui_server, 1)[1]
        if not path.startswith(("/reviews", "/series")):  # the page's own files (/ui/reviews.js) are served
            route.continue_()
            return
        body = review if path.startswith("/reviews/r1") else \
            [{k: v for k, v in review.items() if k != "payload"}] if path.startswith("/reviews") else \
            [{"id": "run1", "title": "Father on Ward Seven", "logline": "x"}]
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    with sync_api.sync_playwright() as p:
        if not CHROMIUM.exists():
            pytest.fail(f"{CHROMIUM} is missing: install chromium (apt-get install chromium; CI installs it)")
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1360, "height": 900})
            crashes: list[str] = []
            page.on("pageerror", lambda exc: crashes.append(str(exc)))
            page.route(lambda url: "/reviews" in url or "/series" in url, answer)
            page.goto(f"{ui_server}/ui/")
            page.evaluate(f"localStorage.setItem('dramafactory.apiKey', '{KEYS['acme']}')")
            page.goto(f"{ui_server}/ui/#/reviews/r1")
            expect(page.get_by_test_id("premise")).to_contain_text("is her runaway father")
            expect(page.get_by_test_id("premise")).to_contain_text("none found in the logline")  # no stakes
            people = page.get_by_test_id("premise-person")
            expect(people).to_have_count(2)
            expect(people.nth(0)).to_contain_text("protagonist")
            expect(people.nth(1)).to_contain_text("Frank Reyes is Ana Reyes's father")
            expect(people.nth(1)).to_contain_text("her runaway father")
            expect(page.get_by_test_id("premise-flags")).to_contain_text("no stakes")
            expect(page.get_by_test_id("relation")).to_have_text(
                "Frank Reyes is Ana Reyes's father \u2014 \u201cher runaway father\u201d")
            expect(page.get_by_test_id("bible-flags")).to_contain_text("no backdrop for 'lighthouse'")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "ui_bible_premise.png"), full_page=True)
            page.click("#edit-toggle")  # the premise is edited with the rest of the bible, as JSON
            edited = json.loads(page.input_value("#edit-json"))
            assert edited["premise"]["relations"][0]["kind"] == "father" and edited["relations"]
            assert not crashes, crashes
        finally:
            browser.close()
