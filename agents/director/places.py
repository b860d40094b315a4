"""Where the story happens, decided in code from the logline's words: which settings (backdrop families the
storyboard renderer draws), what each place is called, and at what time of day a scene is set there.

A logline names its world ("a research station in Antarctica", "a fishing boat") or implies it by its people ("a
night-shift nurse", "a ride-share driver"). Words that name the place count twice as much as people who imply it,
and words are compared by stem, so "courtrooms" finds the courtroom. A place word the library has no backdrop for
("a lighthouse") is never swapped silently for an unrelated stock room: it is drawn with the nearest or a generic
backdrop, keeps its own name, and a flag says so, for the reviewer to see at the bible checkpoint.
"""

from __future__ import annotations

import random
import re
from typing import NamedTuple

from faker import Faker

from dramafactory.schemas import TimeOfDay

LOCALES = {"en": "en_US", "en-us": "en_US", "en-gb": "en_GB"}


class Setting(NamedTuple):
    """One backdrop family: the words that name it, interior or not, a name template and a description."""

    keywords: frozenset[str]  # words or phrases that name the place itself (stemmed when matched)
    interior: bool
    name: str  # template: {last} {first} {company} {street} {number} {ordinal} {saint}
    description: str


def _s(keywords: str, interior: bool, name: str, description: str) -> Setting:
    return Setting(frozenset(k.strip() for k in keywords.split(",")), interior, name, description)


SETTINGS: dict[str, Setting] = {
    "hospital": _s("hospital, ward, clinic, icu, emergency room, infirmary, intensive care", True,
                   "{last} Memorial Hospital, Ward 7", "a hospital ward with a bed, monitors and a window"),
    "office": _s("office, company, boardroom, firm, startup, corporation, headquarters, agency, bank", True,
                 "{company} Tower, 32nd floor", "a glass-walled executive office with a desk and a city view"),
    "home": _s("home, house, apartment, living room, mansion, family home, penthouse", True,
               "The {last} family apartment", "a living room with a sofa, a lamp and family photos"),
    "restaurant": _s("restaurant, cafe, diner, bistro, noodle shop, bakery, cafeteria", True,
                     "{last}'s Bistro", "a small restaurant with booths, warm lamps and a counter"),
    "kitchen": _s("kitchen, scullery, galley kitchen", True,
                  "The kitchen at {last}'s", "a working kitchen with a steel counter, a stove and hanging pans"),
    "palace kitchen": _s("palace kitchen, royal kitchen, castle kitchen", True,
                         "The palace kitchens of {last}holt",
                         "a vaulted palace kitchen with a hearth fire, copper pots and a long wooden table"),
    "castle": _s("castle, palace, throne, kingdom, empire, citadel, fortress, dungeon, royal court", True,
                 "The throne hall of {last}holt", "a stone hall with banners, pillars and a throne"),
    "school": _s("school, campus, college, university, classroom, academy, dormitory", True,
                 "{last} Academy, room 204", "a classroom with desks, a blackboard and tall windows"),
    "bar": _s("bar, club, nightclub, pub, lounge, casino, tavern", True,
              "The {last} Lounge", "a dim cocktail bar with stools and bottles glowing on shelves"),
    "warehouse": _s("warehouse, dock, docks, pier, factory, hideout, shipyard", True,
                    "Pier {number} warehouse", "a cavernous warehouse with crates, chains and a high window"),
    "street": _s("street, city, alley, road, town, neighbourhood, neighborhood, downtown", False,
                 "{street}", "a city street with shopfronts, a streetlamp and parked cars"),
    "rooftop": _s("rooftop, roof, skyline, terrace, balcony", False,
                  "{company} Tower rooftop", "a rooftop terrace with railings over the skyline"),
    "forest": _s("forest, woods, village, mountain, camp, jungle, valley", False,
                 "The {last} woods", "a forest path between tall pines"),
    "courtroom": _s("courtroom, courthouse, trial, tribunal, witness stand, in court, court case", True,
                    "Courtroom 3, {last} County Courthouse",
                    "a wood-panelled courtroom with the judge's bench, the witness stand and a flag"),
    "boat": _s("boat, ship, trawler, yacht, deck, vessel, ferry, fishing boat, sailboat, schooner, harbour, harbor",
               False, "The {first} May, out of {last} Harbour",
               "the deck of a fishing boat at sea, with a wheelhouse, nets and rope coils"),
    "research station": _s("research station, polar station, research base, outpost, base camp, science station",
                           True, "{last} Polar Research Station",
                           "the common room of a polar research station with bunks, instruments and a frosted "
                           "porthole"),
    "snowfield": _s("snowfield, ice, glacier, tundra, snow, antarctica, arctic, iceberg, ice shelf, blizzard, pole",
                    False, "The ice field below {last} Ridge",
                    "a wind-blown snowfield with a red station hut, a marker flag and a low sun"),
    "car": _s("car, taxi, cab, limo, limousine, back seat, ride share, rideshare, sedan, van", True,
              "A grey sedan on {street}", "inside a car: the front seats, the dashboard and the street through "
              "the windows"),
    "church": _s("church, chapel, cathedral, altar, wedding venue, wedding chapel, aisle", True,
                 "St {saint}'s Chapel", "a chapel with pews, an altar under a stained-glass window and candles"),
    "ballroom": _s("ballroom, ball, gala, party, banquet, reception, engagement party, masquerade, dance hall",
                   True, "The {last} Ballroom", "a ballroom with chandeliers, tall mirrors and a dance floor"),
    "police station": _s("police station, precinct, jail, interrogation room, police department, station house, "
                         "holding cell", True, "The {ordinal} Precinct",
                         "a police squad room with desks, a wanted board and an interview-room window"),
    "hotel": _s("hotel, motel, resort, inn, suite, hotel room", True,
                "Room {number}12, The {last} Hotel", "a hotel room with a made bed, a luggage rack and heavy curtains"),
}

# People and doings that imply a place without naming it (counted once; a place word counts twice).
CUES: dict[str, frozenset[str]] = {k: frozenset(v.split(", ")) for k, v in {
    "hospital": "nurse, doctor, patient, surgeon, surgery, paramedic, medic, coma",
    "office": "ceo, boss, intern, corporate, accountant, secretary, assistant, workplace, executive, employee, "
              "colleague, coworker, promotion, laundering, merger",
    "home": "family, mother, father, wife, husband, daughter, son, divorce, marriage, stepmother, twins, widow, "
            "stepfather, sister, brother",
    "restaurant": "waiter, waitress, dinner, chef, diner, menu",
    "kitchen": "cook, chef, recipe, dishwasher, baker, kitchen porter, scullion",
    "castle": "queen, king, prince, princess, emperor, empress, dragon, magic, witch, sword, sorcerer, knight, "
              "royal, fantasy, duke, duchess, heir, throne",
    "school": "student, teacher, exam, professor, principal, classmate",
    "bar": "bartender, drinks, bouncer, cocktail",
    "warehouse": "smuggler, gang, kidnap, hostage, mafia, heist, cartel, smuggle, kidnapper",
    "street": "chase, crime, mugging",
    "rooftop": "stars, proposal",
    "forest": "wolf, hunter, hike, werewolf",
    "courtroom": "judge, jury, juror, defendant, prosecutor, attorney, lawyer, public defender, verdict, witness, "
                 "testify, testimony, lawsuit, acquittal",
    "boat": "captain, crew, deckhand, fisherman, sailor, sea, ocean, voyage, sail, skipper, fishing",
    "research station": "antarctica, antarctic, arctic, polar, glaciologist, expedition, researcher, "
                        "meteorologist, scientist",
    "snowfield": "polar, expedition, frozen, explorer, sled",
    "car": "driver, passenger, chauffeur, commute, road trip",
    "church": "wedding, bride, groom, priest, vicar, nun, funeral, vow, congregation, altar boy",
    "ballroom": "engagement, dance, debutante, socialite, waltz, wedding",
    "police station": "police, detective, cop, officer, sergeant, inspector, arrest, suspect, interrogation, "
                      "confession",
    "hotel": "concierge, bellhop, housekeeper, receptionist, maid, honeymoon",
}.items()}

GENRE_SETTINGS = {
    "revenge": ["office", "home"], "romance": ["restaurant", "rooftop"], "family": ["home", "restaurant"],
    "workplace": ["office", "bar"], "fantasy": ["castle", "forest"], "thriller": ["warehouse", "street"],
    "mystery": ["street", "home"], "comedy": ["restaurant", "office"], "drama": ["home", "street"],
    "medical": ["hospital", "home"], "horror": ["forest", "home"], "legal": ["courtroom", "office"],
    "crime": ["police station", "street"],
}

# Where a story in one setting goes next when the logline names only one place.
COMPANIONS = {
    "hospital": "home", "office": "bar", "home": "street", "restaurant": "street", "kitchen": "restaurant",
    "palace kitchen": "castle", "castle": "palace kitchen", "school": "home", "bar": "street",
    "warehouse": "street", "street": "home", "rooftop": "street", "forest": "home", "courtroom": "office",
    "boat": "warehouse", "research station": "snowfield", "snowfield": "research station", "car": "street",
    "church": "ballroom", "ballroom": "hotel", "police station": "street", "hotel": "bar",
}

# Places people name that have no backdrop of their own: (interior?, the nearest backdrop or None for a generic
# one, a name template). The nearest must share the place's parts (a temple's aisle and altar are a church's).
UNDRAWN: dict[str, tuple[bool, str | None, str]] = {
    "lighthouse": (False, None, "The {last} Point lighthouse"), "island": (False, None, "{last} Island"),
    "beach": (False, None, "{last} Beach"), "desert": (False, None, "The desert past {last} Wells"),
    "farm": (False, None, "The {last} farm"), "ranch": (False, None, "The {last} ranch"),
    "vineyard": (False, None, "The {last} vineyard"), "cemetery": (False, None, "{last} Cemetery"),
    "graveyard": (False, None, "{last} Cemetery"), "shore": (False, None, "The shore at {last} Bay"),
    "coast": (False, None, "The coast road at {last} Bay"), "cliff": (False, None, "{last} Cliffs"),
    "lake": (False, None, "Lake {last}"), "river": (False, None, "The {last} river bank"),
    "bridge": (False, None, "The {last} Bridge"), "stadium": (False, None, "{last} Stadium"),
    "racetrack": (False, None, "{last} Raceway"), "circus": (False, None, "The {last} Brothers circus"),
    "carnival": (False, None, "The {last} carnival"), "zoo": (False, None, "{last} Zoo"),
    "battlefield": (False, None, "The field at {last} Ford"), "orchard": (False, None, "The {last} orchard"),
    "planet": (False, None, "The surface of {last} IV"), "moon": (False, None, "{last} Crater"),
    "prison": (True, None, "{last} State Prison"), "museum": (True, None, "The {last} Museum"),
    "airport": (True, None, "{last} International Airport"), "train": (True, None, "The {last} Express"),
    "subway": (True, None, "{last} Street subway station"), "spaceship": (True, None, "The starship {last}"),
    "starship": (True, None, "The starship {last}"), "submarine": (True, None, "The submarine {last}"),
    "plane": (True, None, "Flight {number}0"), "theatre": (True, None, "The {last} Theatre"),
    "theater": (True, None, "The {last} Theater"), "gym": (True, None, "{last}'s Gym"),
    "salon": (True, None, "{last}'s salon"), "studio": (True, None, "{last} Studios"),
    "newsroom": (True, "office", "The {last} Herald newsroom"), "laboratory": (True, None, "The {last} Lab"),
    "lab": (True, None, "The {last} Lab"), "shop": (True, None, "{last}'s shop"),
    "store": (True, None, "{last}'s store"), "mall": (True, None, "{last} Mall"),
    "supermarket": (True, None, "{last}'s supermarket"), "bunker": (True, None, "The {last} bunker"),
    "monastery": (True, "church", "{last} Abbey"), "temple": (True, "church", "The temple of {last}"),
    "mosque": (True, "church", "The {last} mosque"), "cabin": (True, None, "The {last} cabin"),
    "barn": (True, None, "The {last} barn"), "greenhouse": (True, None, "The {last} greenhouse"),
    "library": (True, None, "The {last} Library"), "gallery": (True, None, "The {last} Gallery"),
    "spa": (True, "hotel", "The {last} Spa"), "orphanage": (True, None, "{last} House orphanage"),
    "asylum": (True, "hospital", "{last} Asylum"), "embassy": (True, "office", "The {last} embassy"),
}

SAINTS = ["Mary", "Anne", "Michael", "Peter", "Jude", "Catherine", "Thomas", "Agnes", "Brigid", "Andrew"]
NIGHT = {"bar", "rooftop", "warehouse", "ballroom"}  # where stories go at night
DAYTIME = {"courtroom", "church", "school"}  # courts, weddings and classes sit by day
_IRREGULAR = {"men": "man", "women": "woman", "children": "child", "wolves": "wolf", "wives": "wife",
              "knives": "knife", "thieves": "thief", "people": "person", "lives": "life", "shelves": "shelf",
              "fishermen": "fisherman", "policemen": "policeman", "cities": "city", "docks": "dock",
              "princesses": "princess", "businesses": "business", "classes": "class", "news": "news"}


def stem(word: str) -> str:
    """A word's stem for matching: lower case, no possessive, plural to singular ("courtrooms" -> "courtroom")."""
    w = word.lower().replace("\u2019", "'").strip("'")
    w = w[:-2] if w.endswith("'s") else w
    if w in _IRREGULAR:
        return _IRREGULAR[w]
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 4 and w.endswith(("ches", "shes", "sses", "xes", "zes")):
        return w[:-2]
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    return w


def tokens(text: str) -> list[str]:
    """The text's word stems in order; hyphenated words are split ("ride-share" -> "ride", "share")."""
    return [stem(w) for w in re.findall(r"[A-Za-z\u2019']+", text.replace("-", " ")) if w.strip("'\u2019")]


def _key(phrase: str) -> tuple[str, ...]:
    return tuple(tokens(phrase))


class Match(NamedTuple):
    setting: str
    score: int
    first: int  # the position of the first matching word in the logline
    words: list[str]


def _find(words: list[str], phrases: dict[tuple[str, ...], list[tuple[str, int]]]) -> dict[str, Match]:
    """Longest phrases first; a word used by a phrase ("police station") is not matched again ("station")."""
    used: set[int] = set()
    found: dict[str, Match] = {}
    for phrase in sorted(phrases, key=len, reverse=True):
        n = len(phrase)
        for i in range(len(words) - n + 1):
            span = set(range(i, i + n))
            if tuple(words[i:i + n]) != phrase or span & used:
                continue
            used |= span
            for setting, weight in phrases[phrase]:
                old = found.get(setting, Match(setting, 0, i, []))
                text = " ".join(phrase)
                if text in old.words:  # a repeated word ("wedding ... wedding") counts once
                    continue
                found[setting] = Match(setting, old.score + weight, min(old.first, i), [*old.words, text])
    return found


def _phrase_table() -> dict[tuple[str, ...], list[tuple[str, int]]]:
    table: dict[tuple[str, ...], list[tuple[str, int]]] = {}
    for setting, entry in SETTINGS.items():
        for word in entry.keywords:
            table.setdefault(_key(word), []).append((setting, 2))
        for word in CUES.get(setting, ()):
            table.setdefault(_key(word), []).append((setting, 1))
    return table


PHRASES = _phrase_table()
UNDRAWN_STEMS = {stem(w): w for w in UNDRAWN}


def match_settings(logline: str) -> list[Match]:
    """Every setting the logline's words point to, best first (score, then the earlier mention)."""
    found = _find(tokens(logline), PHRASES)
    if "kitchen" in found and "castle" in found:  # a kitchen in a palace is the palace kitchen
        kitchen = found.pop("kitchen")
        old = found.get("palace kitchen")
        found["palace kitchen"] = Match("palace kitchen", kitchen.score + (old.score if old else 0),
                                        min(kitchen.first, old.first if old else kitchen.first),
                                        kitchen.words + (old.words if old else []))
    return sorted(found.values(), key=lambda m: (-m.score, m.first))


def undrawn_places(logline: str) -> list[str]:
    """The logline's place words that have no backdrop ("lighthouse"), in logline order, each once."""
    seen: list[str] = []
    for word in tokens(logline):
        place = UNDRAWN_STEMS.get(word)
        if place and place not in seen:
            seen.append(place)
    return seen


def composed(place: str) -> str:
    """The setting for a place with no backdrop of its own: '<backdrop>:<place>' (e.g. 'exterior:lighthouse');
    the renderer draws the backdrop part, the name and description keep the place's own word."""
    interior, nearest, _ = UNDRAWN[place]
    return f"{nearest or ('interior' if interior else 'exterior')}:{place}"


def pick_settings(logline: str, genre: str) -> tuple[list[str], list[str]]:
    """Two settings for the series, in the order the logline reaches them, and flags for the reviewer.

    A place the logline names that has no backdrop is kept (drawn with its nearest or a generic backdrop) and
    flagged, never replaced by an unrelated stock room; a logline that names no place gets its genre's settings,
    and a flag says the place was not in the logline."""
    flags: list[str] = []
    matches = match_settings(logline)
    rank = {m.setting: i for i, m in enumerate(matches)}
    chosen: list[tuple[int, str]] = [(m.first, m.setting) for m in matches[:2]]
    named = {m.setting for m in matches if m.score >= 2}  # a place word, not only people who imply one
    words = tokens(logline)
    for place in undrawn_places(logline):
        implied = [c for c in chosen if c[1] in rank and c[1] not in named]
        if len(chosen) >= 2 and not implied:  # two named places are staged already: say the third is left out
            flags.append(f"'{place}' is not staged: the series uses {' and '.join(s for _, s in chosen)}")
            continue
        setting = composed(place)
        backdrop = setting.split(":")[0]
        how = (f"a generic {backdrop}" if backdrop in ("interior", "exterior")
               else f"the nearest backdrop, {backdrop}")
        flags.append(f"no backdrop for '{place}': drawn as {how}")
        same = [c for c in implied if c[1] == backdrop]  # implied by the people, drawn alike: the same place
        if same:
            chosen.remove(same[0])
        elif len(chosen) >= 2:  # the named place outranks the place only implied by the people
            chosen.remove(max(implied, key=lambda c: rank[c[1]]))
        chosen.append((words.index(stem(place)), setting))
    chosen.sort(key=lambda c: (c[0], rank.get(c[1], -1)))  # logline order; a tie to the better match
    settings = [s for _, s in chosen]
    if not settings:
        settings = list(GENRE_SETTINGS.get(genre.lower(), ["home", "street"]))
        flags.append(f"the logline names no place: settings from the genre ({', '.join(settings)})")
    if len(settings) == 1:
        only = settings[0].split(":")[0]
        companion = COMPANIONS.get(only) or GENRE_SETTINGS.get(genre.lower(), ["home", "street"])[0]
        if companion == only:
            companion = "street" if companion != "street" else "home"
        settings.append(companion)
    return settings, flags


def name_location(setting: str, seed: int, language: str) -> tuple[str, bool, str]:
    """A place name that fits the setting ("Courtroom 3, Hale County Courthouse"), interior?, description."""
    fake = Faker(LOCALES.get(language.lower(), "en_US"))
    fake.seed_instance(seed)
    if ":" in setting:
        backdrop, place = setting.split(":", 1)
        interior, _, template = UNDRAWN.get(place, (backdrop == "interior", None, "The {last} " + place))
        description = f"{'an' if place[0] in 'aeiou' else 'a'} {place}"
    else:
        _, interior, template, description = SETTINGS[setting]
    number = fake.random_int(3, 48)
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    name = template.format(last=fake.last_name(), first=fake.first_name_female(), company=fake.last_name() + " Group",
                           street=fake.street_name(), number=number, ordinal=f"{number}{suffix}",
                           saint=SAINTS[seed % len(SAINTS)])
    return name, interior, description


def time_of_day_for(setting: str, scene_index: int, rng: random.Random) -> TimeOfDay:
    """Night where such places are visited at night, day where they sit by day, otherwise drawn from the rng."""
    base = setting.split(":")[0]
    if base in NIGHT:
        return "night"
    if base in DAYTIME:
        return "day"
    return rng.choice(["day", "dusk", "night"] if scene_index else ["day", "night"])
