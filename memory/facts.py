"""Series memory: the facts a series establishes as it goes, kept in the run's Chroma store and found by meaning.

After an episode's script is approved, code reads its beats (no model call) for what is now true: a secret
revealed, a relation exposed and who now knows it, a prop held or destroyed, an injury, a change of clothes.
They go into the `facts` collection beside `characters` (same store, same packaged MiniLM), one row per fact with
an id made from what it says, so a resumed run upserts the same rows instead of adding copies. Before a later
episode is written, the facts nearest to its outline and people are recalled by similarity and handed to the
writer as short sentences; the cinematographer dresses each character in their last change of clothes.
evals/fact_metrics.py uses the same extraction to count later writing that contradicts an earlier fact.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from dramafactory import kinship
from dramafactory.schemas import EpisodeScript, Relation, Scene, SeriesBible

from .embeddings import PackagedMiniLM

COLLECTION = "facts"
FactKind = Literal["secret revealed", "knows", "relation exposed", "prop", "injury", "clothes", "other"]
MAX_TEXT = 200  # a fact is a sentence the writer reads inside its ask, not a paragraph

# --- the vocabulary the extraction reads ------------------------------------------------------------------------

# Each relation kind's words, and the words the other side of it uses ("my father" / "my daughter"), from the shared
# vocabulary (dramafactory/kinship.py). Series memory reads the familiar forms ("daddy", "papa", "mama") and the
# accented spellings, but not "groom"/"bride" (a wedding's role, not what a character calls their fiance), as before;
# partner, lover, friend, rival and ex have no other-side words here (the same word on both sides, or none).
_READS = {**kinship.FAMILIAR, **kinship.SPELLINGS}
RELATION_WORDS: dict[str, tuple[str, ...]] = {
    kind: kinship.words_for(kind, _READS) for kind in (
        "father", "mother", "parent", "son", "daughter", "child", "brother", "sister", "sibling", "husband", "wife",
        "spouse", "fiance", "fiancee", "ex", "boss", "employee", "partner", "lover", "friend", "rival")}
# The other side's words never took "daddy" (a son's "my daddy" is not read as the relation): kept so, as before.
_READS_BACK = {w: kind for w, kind in _READS.items() if w != "daddy"}
INVERSE_WORDS: dict[str, tuple[str, ...]] = {kind: kinship.other_side_words(kind, _READS_BACK)
                                             for kind in kinship.OTHER_SIDE}
PROPS = ("letter", "envelope", "photo", "photograph", "key", "ring", "necklace", "file", "folder", "contract",
         "will", "deed", "ticket", "phone", "recording", "tape", "diary", "journal", "gun", "knife", "pistol",
         "passport", "badge", "locket", "watch", "briefcase", "safe", "document", "documents", "papers", "receipt",
         "certificate", "map", "notebook", "laptop", "usb", "drive", "bracelet", "earring", "medal", "money",
         "cheque", "wallet", "bag", "box", "bottle", "vial", "pills", "syringe", "chart", "invitation")
# Props that are also verbs ("the guards watch", "the man will"): a prop only right after its determiner or after
# one of these words ("his old watch", "the forged will").
VERB_LIKE = {"will", "watch", "safe", "drive", "tape", "map", "chart", "box"}
PROP_ADJECTIVES = {"old", "new", "last", "real", "forged", "original", "second", "changed", "gold", "golden",
                   "silver", "stolen", "secret", "father's", "mother's", "dead", "hidden", "missing"}
_PROP = re.compile(r"\b(?P<det>the|a|an|his|her|my|your|their|our|that|this)\s+(?P<between>(?:[\w'-]+\s+){0,2}?)"
                   r"(?P<prop>" + "|".join(PROPS) + r")s?\b", re.I)
DESTROY = re.compile(r"\b(burn(?:s|ed|ing)?|tears? up|tore up|torn up|rips? up|ripped up|shred(?:s|ded)?|"
                     r"smash(?:es|ed)?|shatter(?:s|ed)?|destroy(?:s|ed)?|crush(?:es|ed)?|delete(?:s|d)?|"
                     r"erase(?:s|d)?|snaps? in (?:half|two)|break(?:s)? in (?:half|two)|sinks?|sank|"
                     r"throws? (?:it |them )?into the (?:fire|sea|river|lake|furnace))\b", re.I)
LOSE = re.compile(r"\b(los(?:es|t)|is gone|are gone|vanish(?:es|ed)|is stolen|was stolen|is missing|"
                  r"goes missing|went missing)\b", re.I)
INJURY = re.compile(r"\b(wounded|wound|bleed(?:s|ing)?|injur(?:ed|y|ies)|bandaged?|limp(?:s|ing)?|bruised?|"
                    r"in a sling|sling|stitches|broken (?:arm|leg|wrist|rib|ribs|nose|hand|ankle)|sprained|"
                    r"stabbed|stabs|shot in the|gash|concussion|burned (?:hand|arm|face))\b", re.I)
# verbs that hurt someone else: the hurt one is the name after the verb, not the sentence's subject
HURTS_OTHER = re.compile(r"\b(stabs|shoots|slashes|cuts|wounds|punches|strikes|hits)\b", re.I)
HEALED = re.compile(r"\b(heal(?:s|ed)|recover(?:s|ed)|(?:takes off|removes|unwraps) (?:the|his|her) "
                    r"(?:bandage|sling|cast|stitches)|cast (?:comes )?off|stitches out)\b", re.I)
BODY = re.compile(r"\b(arm|leg|wrist|hand|head|shoulder|ankle|ribs?|face|nose|knee|eye|cheek|lip|back|side|"
                  r"forehead|neck|foot)\b", re.I)
UNHURT = re.compile(r"\b(unhurt|unharmed|uninjured|not a scratch|without a scratch|no wound|no injury|"
                    r"not (?:hurt|injured|wounded)|perfectly fine|never been hurt)\b", re.I)
GARMENTS = ("dress", "gown", "suit", "uniform", "jacket", "coat", "scrubs", "shirt", "blouse", "sweater",
            "hoodie", "jeans", "skirt", "tuxedo", "robe", "apron", "veil", "scarf", "hat", "boots", "heels",
            "overalls", "coveralls", "parka", "cardigan", "vest", "pajamas", "pyjamas", "disguise", "costume",
            "trench", "blazer", "raincoat", "gloves", "cap", "sari", "kimono", "wetsuit", "tunic", "cloak")
_GARMENT = "|".join(GARMENTS)
# the outfit: a short phrase after a change-of-clothes verb that ends on a garment (not "the coat pocket")
CLOTHES = re.compile(
    r"\b(?:changes? (?:out of [^.,;]+? )?into|changed into|puts? on|slips? into|slipped into|now wears|"
    r"is now wearing|is wearing|wears|wearing|dressed in|dresses in|dons|arrives in|returns in)\s+"
    r"(?P<outfit>(?:[\w'-]+\s+){0,5}?(?:" + _GARMENT + r")s?)\b"
    r"(?!\s+(?:pocket|sleeve|collar|button|hanger|rack|closet|hook))", re.I)
NEGATION = re.compile(r"\b(not|never|no|nobody|none|neither|nor|cannot)\b|n't\b", re.I)
FIRST_OR_SECOND = re.compile(r"\b(i|i'm|i am|me|my|you|you're|you are|your)\b", re.I)
REVEALING = ("reveal", "cliffhanger")
_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\s+--?\s+")


class Fact(BaseModel):
    """One thing the series has established. `text` is the sentence the writer reads; `subject` and `state` are
    what code compares (the prop and whether it still exists, the relation, the outfit, the hurt body part)."""

    series: str
    episode: int = Field(ge=1)
    scene: int = Field(default=0, ge=0, description="The scene it happened in; 0 for the episode as a whole.")
    kind: FactKind
    who: list[str] = Field(default_factory=list, description="The characters it is about, by name.")
    text: str = Field(min_length=1, max_length=MAX_TEXT + 40)
    subject: str = Field(default="", description="prop noun, relation kind, outfit words or body part.")
    state: str = Field(default="", description="prop: present/destroyed/lost; injury: hurt/healed; relation: "
                                               "'person|kind|of'.")

    @property
    def id(self) -> str:
        """Made from what the fact says and where, so the same script always gives the same ids (a resumed run
        upserts its rows again instead of adding copies)."""
        key = json.dumps([self.series, self.episode, self.scene, self.kind, sorted(self.who), self.subject,
                          self.state, self.text], ensure_ascii=False)
        return hashlib.sha1(key.encode()).hexdigest()[:24]


# --- extraction ---------------------------------------------------------------------------------------------------

class Names:
    """Finds the cast in text by full, first or last name (a part two characters share is left out: ambiguous)."""

    def __init__(self, names: Iterable[str]):
        self.full = list(names)
        parts: dict[str, list[str]] = {}
        for name in self.full:
            pieces = name.split()
            for part in {name, pieces[0], pieces[-1]}:
                parts.setdefault(part.lower(), []).append(name)
        self._of = {part: owners[0] for part, owners in parts.items() if len(set(owners)) == 1}
        alternatives = sorted(self._of, key=len, reverse=True)
        self._pattern = re.compile(r"\b(" + "|".join(re.escape(a) for a in alternatives) + r")\b", re.I) \
            if alternatives else None

    def found(self, text: str) -> list[tuple[int, str]]:
        """(position, full name) of each mention, in order."""
        if self._pattern is None:
            return []
        return [(m.start(), self._of[m.group(1).lower()]) for m in self._pattern.finditer(text)]

    def in_text(self, text: str) -> list[str]:
        out: list[str] = []
        for _, name in self.found(text):
            if name not in out:
                out.append(name)
        return out

    def before(self, text: str, position: int) -> str | None:
        """The last name mentioned before `position`: the subject of the clause that holds it."""
        earlier = [name for at, name in self.found(text) if at < position]
        return earlier[-1] if earlier else None

    def after(self, text: str, position: int) -> str | None:
        later = [name for at, name in self.found(text) if at >= position]
        return later[0] if later else None


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if s.strip()]


def series_relations(bible: SeriesBible) -> list[Relation]:
    """The bible's relations by name, and the premise's (by key) where casting filled in both names."""
    found = list(bible.relations)
    names = {c.name for c in bible.characters}
    if bible.premise is not None:
        by_key = {p.key: p.name for p in bible.premise.everyone()}
        for relation in bible.premise.relations:
            person, of = by_key.get(relation.person, ""), by_key.get(relation.of, "")
            if person in names and of in names and person != of:
                found.append(relation.model_copy(update={"person": person, "of": of}))
    unique: dict[tuple[str, str, str], Relation] = {}
    for relation in found:
        if relation.kind in RELATION_WORDS and relation.person != relation.of:
            unique.setdefault((relation.person, relation.kind, relation.of), relation)
    return list(unique.values())


def relation_pattern(relation: Relation) -> re.Pattern[str]:
    words = set(RELATION_WORDS.get(relation.kind, ())) | set(INVERSE_WORDS.get(relation.kind, ()))
    return re.compile(r"\b(" + "|".join(sorted(map(re.escape, words), key=len, reverse=True)) + r")s?\b", re.I)


def relation_sentence(relation: Relation) -> str:
    return f"{relation.person} is {relation.of}'s {relation.kind}"


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT].rsplit(" ", 1)[0] + "..."


@dataclass
class _Extractor:
    bible: SeriesBible
    script: EpisodeScript
    names: Names = field(init=False)
    relations: list[Relation] = field(init=False)
    facts: dict[str, Fact] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.names = Names(c.name for c in self.bible.characters)
        self.relations = series_relations(self.bible)

    def add(self, scene: Scene, kind: FactKind, who: list[str], text: str, subject: str = "",
            state: str = "") -> None:
        fact = Fact(series=self.bible.title, episode=self.script.episode, scene=scene.number, kind=kind,
                    who=who, text=_clip(text), subject=subject, state=state)
        # one fact per thing per episode: a relation said twice in an episode is one fact
        key = json.dumps([kind, sorted(who), subject, state]) if kind != "secret revealed" else fact.id
        self.facts.setdefault(key, fact)

    def run(self) -> list[Fact]:
        for scene in self.script.scenes:
            for beat in scene.beats:
                if beat.kind in REVEALING and beat.action.strip():
                    who = self.names.in_text(beat.action) or list(scene.characters)
                    self.add(scene, "secret revealed", who, f"Revealed in episode {self.script.episode}: "
                                                            f"{beat.action.strip()}")
                subject = scene.characters[0] if scene.characters else None
                for sentence in sentences(beat.action):
                    named = self.names.in_text(sentence)
                    subject = named[0] if named else subject  # "She ..." is still the last one named
                    self.relation(scene, sentence, speaker=None)
                    # a reveal's action is its own fact already: only a change to a prop there is news
                    self.prop(scene, sentence, subject, changes_only=beat.kind in REVEALING)
                    self.injury(scene, sentence, subject)
                    self.clothes(scene, sentence, subject)
                for line in beat.lines:
                    for sentence in sentences(line.text):
                        self.relation(scene, sentence, speaker=line.speaker)
        return list(self.facts.values())

    def relation(self, scene: Scene, sentence: str, speaker: str | None) -> None:
        """A relation exposed: the sentence names it (either side's word), both people are there, and it says so
        rather than asks or denies it. A line must tie it to the people: the speaker is one side and says
        I/you ("You are my father"), or it names one side; an action must name one side."""
        if sentence.rstrip().endswith("?") or NEGATION.search(sentence):
            return
        named = self.names.in_text(sentence)
        present = set(scene.characters) | set(named) | ({speaker} if speaker else set())
        for relation in self.relations:
            if not relation_pattern(relation).search(sentence):
                continue
            sides = {relation.person, relation.of}
            if not sides <= present:
                continue
            by_side = speaker in sides and FIRST_OR_SECOND.search(sentence)
            if not (by_side or sides & set(named)):
                continue
            said = relation_sentence(relation)
            who = [relation.person, relation.of]
            self.add(scene, "relation exposed", who, f"Revealed in episode {self.script.episode}: {said}.",
                     relation.kind, f"{relation.person}|{relation.kind}|{relation.of}")
            knowers = list(scene.characters) or who  # everyone in the scene heard it
            self.add(scene, "knows", knowers, f"{_and(knowers)} know that {said}.", relation.kind,
                     f"{relation.person}|{relation.kind}|{relation.of}")

    def prop(self, scene: Scene, sentence: str, subject: str | None, changes_only: bool = False) -> None:
        for match in _PROP.finditer(sentence):
            prop = match.group("prop").lower()
            if prop in VERB_LIKE and (match.group("det").lower() in ("that", "this") or
                                      not set(match.group("between").lower().split()) <= PROP_ADJECTIVES):
                continue  # "that will", "the man will": the verb
            who = [subject] if subject else []
            if DESTROY.search(sentence):
                self.add(scene, "prop", who, f"In episode {self.script.episode} the {prop} was destroyed: "
                                             f"{sentence}", prop, "destroyed")
            elif LOSE.search(sentence):
                self.add(scene, "prop", who, f"In episode {self.script.episode} the {prop} went missing: "
                                             f"{sentence}", prop, "lost")
            elif not changes_only:
                self.add(scene, "prop", who, f"The {prop} is in play (episode {self.script.episode}): {sentence}",
                         prop, "present")

    def injury(self, scene: Scene, sentence: str, subject: str | None) -> None:
        healed = HEALED.search(sentence)
        match = healed or INJURY.search(sentence)
        if not match:
            return
        hurter = HURTS_OTHER.search(sentence)
        who = (self.names.after(sentence, hurter.end()) if hurter else None) or \
            self.names.before(sentence, match.start()) or subject
        if not who:
            return
        part = BODY.search(sentence)
        body = part.group(1).lower() if part else ""
        if healed:
            self.add(scene, "injury", [who], f"{who} has healed (episode {self.script.episode}).", body, "healed")
        else:
            where = f" ({body})" if body else ""
            self.add(scene, "injury", [who], f"{who} is injured{where} since episode {self.script.episode}: "
                                             f"{sentence}", body, "hurt")

    def clothes(self, scene: Scene, sentence: str, subject: str | None) -> None:
        match = CLOTHES.search(sentence)
        if not match:
            return
        who = self.names.before(sentence, match.start()) or subject
        if not who:
            return
        outfit = match.group("outfit").strip()
        self.add(scene, "clothes", [who], f"{who} wears {outfit} since episode {self.script.episode}.", outfit,
                 "wearing")


def extract_facts(bible: SeriesBible, script: EpisodeScript) -> list[Fact]:
    """What the script establishes, read by code from its beats' actions and lines, in script order."""
    return _Extractor(bible, script).run()


# --- the store ------------------------------------------------------------------------------------------------------

def _who(fact: Fact) -> str:
    return "|".join(fact.who)


class FactMemory:
    """The `facts` collection of the run's Chroma store (the folder CharacterMemory opens: `run_dir / "memory"`)."""

    def __init__(self, path: Path, embedding_function: PackagedMiniLM | None = None):
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        # The same settings as CharacterMemory's client: Chroma shares one system per folder and refuses a second
        # client on it with other settings.
        client = chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False))
        self._collection = client.get_or_create_collection(
            COLLECTION, embedding_function=embedding_function or PackagedMiniLM(), metadata={"hnsw:space": "cosine"})

    @classmethod
    def for_run(cls, run_dir: Path) -> FactMemory:
        return cls(Path(run_dir) / "memory")

    def record(self, facts: list[Fact]) -> None:
        """Upsert by the facts' stable ids: recording the same facts again (a resumed run, a retried node) changes
        nothing."""
        unique = {f.id: f for f in facts}
        if not unique:
            return
        self._collection.upsert(
            ids=list(unique), documents=[f.text for f in unique.values()],
            metadatas=[{"series": f.series, "episode": f.episode, "scene": f.scene, "kind": f.kind,
                        "who": _who(f), "fact": f.model_dump_json()} for f in unique.values()])

    def record_episode(self, series: str, episode: int, facts: list[Fact]) -> None:
        """The episode's facts, replacing what was recorded for it before: a script that changed since (a retried
        node that drew a different script) leaves none of its old facts behind."""
        keep = {f.id for f in facts}
        old = self._collection.get(where={"$and": [{"series": series}, {"episode": episode}]}, include=[])
        stale = [i for i in old["ids"] if i not in keep]
        if stale:
            self._collection.delete(ids=stale)
        self.record(facts)

    def all(self, series: str) -> list[Fact]:
        found = self._collection.get(where={"series": series}, include=["metadatas"])
        facts = [Fact.model_validate_json(m["fact"]) for m in found["metadatas"]]
        return sorted(facts, key=lambda f: (f.episode, f.scene, f.kind, f.text))

    def recall(self, series: str, query: str, people: list[str], before_episode: int, k: int = 6) -> list[Fact]:
        """The k facts of earlier episodes nearest in meaning to `query` (an outline or a scene's action) and its
        people, nearest first. A fact about one of `people` is preferred over an equally near one about others;
        the same thing established again in a later episode is given once (its first telling)."""
        where = {"$and": [{"series": series}, {"episode": {"$lt": before_episode}}]}
        available = len(self._collection.get(where=where, include=[])["ids"])
        if available == 0 or k <= 0:
            return []
        text = f"{query} People: {', '.join(people)}." if people else query
        hits = self._collection.query(query_texts=[text], n_results=min(available, max(k * 4, 12)), where=where,
                                      include=["metadatas", "distances"])
        scored = []
        for meta, distance in zip(hits["metadatas"][0], hits["distances"][0], strict=True):
            fact = Fact.model_validate_json(meta["fact"])
            about = bool(set(fact.who) & set(people))
            scored.append((float(distance) - (0.05 if about else 0.0), fact.episode, fact))
        scored.sort(key=lambda s: (s[0], s[1]))
        out: list[Fact] = []
        seen: set[str] = set()
        for _, _, fact in scored:
            key = json.dumps([fact.kind, sorted(fact.who), fact.subject, fact.state]) \
                if fact.kind != "secret revealed" else fact.id
            if key not in seen:
                seen.add(key)
                out.append(fact)
        return out[:k]

    def last_outfits(self, series: str, people: list[str], before_episode: int) -> dict[str, Fact]:
        """Each of `people`'s latest change of clothes before the episode (by episode and scene, not by meaning:
        what they wore last is the latest, however it is worded)."""
        where = {"$and": [{"series": series}, {"kind": "clothes"}, {"episode": {"$lt": before_episode}}]}
        found = self._collection.get(where=where, include=["metadatas"])
        latest: dict[str, Fact] = {}
        for meta in found["metadatas"]:
            fact = Fact.model_validate_json(meta["fact"])
            for name in fact.who:
                if name in people and (name not in latest or
                                       (fact.episode, fact.scene) > (latest[name].episode, latest[name].scene)):
                    latest[name] = fact
        return latest


def recall_for_episode(memory: FactMemory, bible: SeriesBible, episode: int, k: int = 6) -> list[Fact]:
    """What the writer of `episode` must not contradict: the earlier facts nearest to its outline and people."""
    if episode <= 1 or episode > len(bible.episodes):
        return []
    outline = bible.episodes[episode - 1]
    query = f"{outline.title}. {outline.hook} {outline.conflict} {outline.cliffhanger}"
    return memory.recall(bible.title, query, list(outline.characters), before_episode=episode, k=k)


def recall_for_scenes(memory: FactMemory, bible: SeriesBible, episode: int, scenes: list[tuple[str, list[str]]],
                      k: int = 4) -> list[list[Fact]]:
    """Per scene of `episode` (its location and who is in it): the earlier facts nearest to the episode's outline
    as that scene plays it, preferring facts about the people on screen. Two scenes with different people recall
    different things (the father's secret for the daughter's scene, the confidant's promise for his)."""
    if episode <= 1 or episode > len(bible.episodes):
        return [[] for _ in scenes]
    outline = bible.episodes[episode - 1]
    story = f"{outline.hook} {outline.conflict} {outline.cliffhanger}"
    recalled = []
    for location, people in scenes:
        near = memory.recall(bible.title, f"{story} Scene: {location}, with {', '.join(people)}.", list(people),
                             before_episode=episode, k=k * 3)
        # The episode's outline dominates the query's meaning; what the scene's own people did comes first.
        near.sort(key=lambda fact: not set(fact.who) & set(people))
        recalled.append(near[:k])
    return recalled


@dataclass
class Outfits:
    """What each character wears, scene by scene: their last change of clothes in earlier episodes, then this
    episode's changes from the scene they happen in. None: the bible's wardrobe."""

    carried: dict[str, Fact] = field(default_factory=dict)
    changes: list[Fact] = field(default_factory=list)

    def at(self, name: str, scene: int) -> str | None:
        now = [f for f in self.changes if f.kind == "clothes" and name in f.who and f.scene <= scene]
        if now:
            return max(now, key=lambda f: f.scene).subject
        carried = self.carried.get(name)
        return carried.subject if carried else None


def series_outfits(bible: SeriesBible, scripts: list[EpisodeScript], episode: int) -> Outfits:
    """What each character wears in `episode`, from the series' scripts alone (no store): for evals that check a
    shot's wardrobe words against what the cinematographer was given (graphs/nodes.py builds the same from the
    store)."""
    carried: dict[str, Fact] = {}
    changes: list[Fact] = []
    for script in sorted(scripts, key=lambda s: s.episode):
        if script.episode > episode:
            break
        clothes = [f for f in extract_facts(bible, script) if f.kind == "clothes"]
        if script.episode == episode:
            changes = clothes
            continue
        for fact in clothes:  # in script order: a later change wins
            for name in fact.who:
                carried[name] = fact
    return Outfits(carried=carried, changes=changes)
