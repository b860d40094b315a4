"""Story suite: is the production the concept's story? Measured against hand labels (evals/golden/concepts.yaml),
never against the director's own premise parse, so a parser that misreads the logline cannot grade itself.

- bible.logline_people_cast: each labelled person of the logline is a distinct character, found by the words of
  its role, description or logline phrase (the protagonist must be characters[0]).
- bible.relations_cast: bible.relations holds each labelled relation between the right two characters (either
  direction: "Frank is Lena's father" or "Lena is Frank's daughter").
- bible.premise_not_inverted: no sentence of the synopsis or of an outline swaps who did what to whom (a patient
  who saved her father, where she saved him) or whose relation it is (the patient's father, where he is hers).
- script.premise_engagement: the share of lines that engage the premise: a premise person named by description
  or relation ("my father", "the patient"), or a content word of the discovery or stakes (by stem).
- script.stock_line_rate and script.stock_lines_max: fallback lines per line, and the most in one episode.

The inversion check is deliberately a small pattern reader, not a parser: it reads the agent just before a
labelled act and the object just after it, with passives ("was saved by") and object gaps ("the patient she
saved") handled, and it only reports what it can read; an unresolved sentence is no evidence either way.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from dramafactory.schemas import Character, EpisodeScript, SeriesBible

from .bible_metrics import STOPWORDS
from .golden import LabelFact, LabelRelation, PremiseLabels
from .metrics import MetricResult, at_most, not_measured, share

ENGAGEMENT = 0.4  # at least two lines in five serve the premise; today's drift was one in three or fewer
STOCK_RATE = 0.15  # fallback lines per line over the series (one in a 45 s episode of about nine lines)
STOCK_PER_EPISODE = 1  # the goal: at most one stock line in any episode
BIBLE_METRICS = ["bible.logline_people_cast", "bible.relations_cast", "bible.premise_not_inverted"]
SCRIPT_METRICS = ["script.premise_engagement"]

# The words that say a relation kind in English, and each kind's generic and inverse kinds.
KIND_WORDS: dict[str, set[str]] = {
    "father": {"father", "dad", "daddy"}, "mother": {"mother", "mom", "mum", "mommy", "mummy"},
    "parent": {"parent"}, "son": {"son"}, "daughter": {"daughter"}, "child": {"child"},
    "brother": {"brother"}, "sister": {"sister"}, "sibling": {"sibling"}, "husband": {"husband"},
    "wife": {"wife"}, "spouse": {"spouse"}, "fiance": {"fiance"}, "fiancee": {"fiancee"},
    "ex": {"ex", "ex-fiance", "ex-fiancee", "ex-husband", "ex-wife", "ex-boyfriend", "ex-girlfriend"},
    "boss": {"boss", "employer", "manager", "supervisor"}, "employee": {"employee", "assistant", "subordinate"},
    "partner": {"partner"}, "lover": {"lover"}, "friend": {"friend"}, "rival": {"rival"},
}
GENERIC = {"father": "parent", "mother": "parent", "son": "child", "daughter": "child", "brother": "sibling",
           "sister": "sibling", "husband": "spouse", "wife": "spouse", "fiance": "fiancee", "fiancee": "fiance"}
_PARENT, _CHILD = {"father", "mother", "parent"}, {"son", "daughter", "child"}
_SIBLING, _SPOUSE = {"brother", "sister", "sibling"}, {"husband", "wife", "spouse"}
INVERSE: dict[str, set[str]] = {
    **{k: _CHILD for k in _PARENT}, **{k: _PARENT for k in _CHILD}, **{k: _SIBLING for k in _SIBLING},
    **{k: _SPOUSE for k in _SPOUSE}, "fiance": {"fiance", "fiancee"}, "fiancee": {"fiance", "fiancee"},
    "ex": {"ex"}, "boss": {"employee"}, "employee": {"boss"}, "partner": {"partner"}, "lover": {"lover"},
    "friend": {"friend"}, "rival": {"rival"}, "same person": {"same person"}, "other": {"other"},
}

# Tokens that end a clause for the pattern reader, auxiliaries that make an act passive, relative pronouns the
# agent of an act may stand behind, and the copulas after which an act has no object of its own.
BREAKS = {".", ",", ";", ":", "!", "?", "and", "but", "or", "while", "because", "when", "after", "before", "if",
          "so", "until", "as"}
PASSIVE = {"was", "is", "were", "are", "been", "being", "be", "gets", "got"}
RELATIVE = {"who", "whom", "that", "which"}
COPULA = {"is", "was", "are", "were", "has", "had", "will", "would", "turns", "becomes"}
# After a possessive pronoun, a following word in this set means the pronoun is the object ("names her partner"
# is not read this way: partner is a noun); "saved her." or "saved her from" are.
FUNCTION = BREAKS | {"to", "from", "with", "in", "at", "for", "on", "by", "is", "was", "that", "into", "again",
                     "now", "once", "back", "off", "out", "up", "down", "away"}
PREPOSITIONS = {"for", "to", "with", "on", "at", "from", "of", "against"}
LOOK_BACK, LOOK_AHEAD = 4, 5
SUBJECT_PRONOUNS = {"she": "female", "he": "male", "herself": "female", "himself": "male", "him": "male"}
POSSESSIVES = {"her": "female", "his": "male"}


def tokens(text: str) -> list[str]:
    """Lower-case words (hyphenated compounds kept whole, accents dropped: fiancé is fiance), punctuation as
    tokens and a possessive 's split off: "the billionaire's party" is the, billionaire, 's, party."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().replace("`", "'")
    out: list[str] = []
    for tok in re.findall(r"[a-z0-9]+(?:[-'][a-z0-9]+)*|[.,;:!?]", text):
        if tok.endswith("'s") and len(tok) > 2:
            out += [tok[:-2], "'s"]
        else:
            out.append(tok)
    return out


def stem(word: str) -> str:
    """A crude stem, enough to join saved/saving/save and humiliated/humiliation: common suffixes off, a final
    e off, at most five letters kept."""
    for suffix in ("ing", "ed", "es", "s", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word[:5]


def _is(token: str, word: str) -> bool:
    """A label's word in a text: the word itself or its plural (nurses)."""
    return token in (word, word + "s", word + "es")


def _character_text(c: Character) -> list[str]:
    # who the character is: role, description and logline phrase; never want or secret (those name others)
    return tokens(f"{c.role} {c.description} {c.logline_phrase}")


def cast_people(bible: SeriesBible, labels: PremiseLabels) -> dict[str, Character]:
    """Each labelled person's character: a maximum matching of labels to distinct characters whose words fit,
    so one character cannot stand for two people (a 'groom's brother' is not also the groom). The protagonist
    label may only be characters[0]."""
    fits: dict[str, list[int]] = {}
    for i, person in enumerate(labels.people):
        candidates = [0] if i == 0 else range(len(bible.characters))
        fits[person.label] = [j for j in candidates
                              if any(_is(t, w) for t in _character_text(bible.characters[j]) for w in person.words)]
    owner: dict[int, str] = {}

    def claim(label: str, seen: set[int]) -> bool:  # augmenting path (Kuhn): a handful of people, no library
        for j in fits[label]:
            if j in seen:
                continue
            seen.add(j)
            if j not in owner or claim(owner[j], seen):
                owner[j] = label
                return True
        return False

    for person in labels.people:
        claim(person.label, set())
    return {label: bible.characters[j] for j, label in owner.items()}


def logline_people_cast(bible: SeriesBible, labels: PremiseLabels) -> MetricResult:
    cast = cast_people(bible, labels)
    failures = []
    for i, person in enumerate(labels.people):
        if person.label in cast:
            continue
        where = "the protagonist (characters[0])" if i == 0 else "another character"
        failures.append(f"{where} is not the {person.label}: no role/description/logline phrase says "
                        f"{'/'.join(person.words)}")
    return share("bible.logline_people_cast", failures, len(labels.people))


def _kinds(relation: LabelRelation) -> tuple[set[str], set[str]]:
    """The kinds that say this relation from `person` (father, parent), and from `of` (daughter, son, child)."""
    same = set(relation.kind) | {GENERIC[k] for k in relation.kind if k in GENERIC}
    inverse = set().union(*(INVERSE.get(k, set()) for k in relation.kind))
    return same, inverse


def relations_cast(bible: SeriesBible, labels: PremiseLabels) -> MetricResult:
    cast = cast_people(bible, labels)
    failures = []
    for rel in labels.relations:
        person, of = cast.get(rel.person), cast.get(rel.of)
        if person is None or of is None:
            failures.append(f"{rel.person} {'/'.join(rel.kind)} of {rel.of}: "
                            f"{'the ' + (rel.person if person is None else rel.of)} is not cast")
            continue
        same, inverse = _kinds(rel)
        found = [r for r in bible.relations
                 if (r.person, r.of) == (person.name, of.name) and r.kind in same
                 or (r.person, r.of) == (of.name, person.name) and r.kind in inverse]
        if not found:
            said = [f"{r.person} {r.kind} of {r.of}" for r in bible.relations
                    if {r.person, r.of} == {person.name, of.name}]
            failures.append(f"no relation says {person.name} ({rel.person}) is {'/'.join(rel.kind)} of {of.name} "
                            f"({rel.of})" + (f"; the bible says {said}" if said else ""))
    return share("bible.relations_cast", failures, len(labels.relations),
                 none_means="the logline states no relation between its people")


@dataclass
class Reader:
    """Resolves the tokens of a text to labelled people: their words, the cast names of their characters, and
    he/she when the gender settles it (an ambiguous pronoun goes to the protagonist, as in the loglines)."""

    labels: PremiseLabels
    names: dict[str, str] = field(default_factory=dict)  # name token -> label

    @classmethod
    def of(cls, bible: SeriesBible, labels: PremiseLabels) -> Reader:
        names: dict[str, set[str]] = {}
        for label, c in cast_people(bible, labels).items():
            for part in tokens(c.name):
                names.setdefault(part, set()).add(label)
        return cls(labels, {t: next(iter(ls)) for t, ls in names.items() if len(ls) == 1})

    def word(self, token: str) -> str | None:
        hits = {p.label for p in self.labels.people if any(_is(token, w) for w in p.words)}
        if token in self.names:
            hits.add(self.names[token])
        return hits.pop() if len(hits) == 1 else None

    def gender(self, gender: str) -> str | None:
        hits = [p.label for p in self.labels.people if p.gender == gender]
        if len(hits) == 1:
            return hits[0]
        return self.labels.lead.label if self.labels.lead.gender == gender else None

    def mention(self, toks: list[str], i: int) -> str | None:
        """The person token i stands for as an argument of an act, or None (a possessor, "the billionaire's
        party", is no argument; nor is "her" before a noun)."""
        tok = toks[i]
        if i + 1 < len(toks) and toks[i + 1] == "'s":
            return None
        if tok in SUBJECT_PRONOUNS:
            return self.gender(SUBJECT_PRONOUNS[tok])
        if tok == "her":
            following = toks[i + 1] if i + 1 < len(toks) else "."
            return self.gender("female") if following in FUNCTION else None
        return self.word(tok)


def _act_at(toks: list[str], i: int, act: list[str]) -> int:
    """The length of the act matched at token i (0 when none): a phrase word by word, a word of four letters or
    more also as a prefix (humiliat matches humiliated)."""
    for phrase in act:
        parts = phrase.split()
        if i + len(parts) > len(toks):
            continue
        if all(toks[i + k] == w or (len(w) >= 4 and toks[i + k].startswith(w)) for k, w in enumerate(parts)):
            return len(parts)
    return 0


def _back(reader: Reader, toks: list[str], v: int) -> tuple[str | None, int, bool]:
    """The nearest person before the act at v: (label, its index, passive?). A comma stops the search unless a
    relative pronoun follows it ("Lena, who saved")."""
    # "was saved" is passive, "is hunting" is not
    passive = v > 0 and toks[v - 1] in PASSIVE and not toks[v].endswith("ing")
    for i in range(v - 1, max(-1, v - 1 - LOOK_BACK), -1):
        if toks[i] in BREAKS and not (toks[i] == "," and i + 1 < v and toks[i + 1] in RELATIVE):
            break
        if (label := reader.mention(toks, i)) is not None:
            return label, i, passive
    return None, -1, passive


def _ahead(reader: Reader, toks: list[str], start: int) -> str | None:
    """The nearest person after `start`, over determiners, adjectives and prepositions, before the clause ends."""
    pronoun: str | None = None
    for i in range(start, min(len(toks), start + LOOK_AHEAD)):
        if toks[i] in BREAKS or toks[i] in COPULA:
            break
        if (label := reader.mention(toks, i)) is not None:
            return label
        if i == start and toks[i] == "her":  # "names her partner": her is the object when no person follows
            pronoun = reader.gender("female")
    return pronoun


def read_act(reader: Reader, toks: list[str], v: int, length: int) -> tuple[str | None, str | None]:
    """(agent, object) of the act at toks[v:v+length], each None where the sentence does not say."""
    before, at, passive = _back(reader, toks, v)
    after = v + length
    if after < len(toks) and toks[after] == "by":  # "was saved by Lena"
        return _ahead(reader, toks, after + 1), before
    if toks[after - 1] in PREPOSITIONS:  # "is meant for her sister": the object follows, whatever the voice
        return (None if passive else before), _ahead(reader, toks, after)
    if passive:  # "Frank was saved": the one before is the object, the agent unsaid
        return None, before
    obj = _ahead(reader, toks, after)
    if obj is None and at == v - 1 and (after >= len(toks) or toks[after] in BREAKS | COPULA):
        # object gap: "the patient she saved is ...": the act's object is the person the clause hangs on
        i = at - 1 - (at - 1 >= 0 and toks[at - 1] in RELATIVE)
        obj = reader.mention(toks, i) if i >= 0 else None
    return before, obj


def _fact_swaps(reader: Reader, toks: list[str], fact: LabelFact) -> list[str]:
    found = []
    for v in range(len(toks)):
        length = _act_at(toks, v, fact.act)
        if not length:
            continue
        agent, obj = read_act(reader, toks, v, length)
        act = " ".join(toks[v:v + length])
        if fact.agent and agent and agent != fact.agent:
            found.append(f"the {agent} {act}, where the {fact.agent} does")
        elif fact.object and obj and obj != fact.object:
            found.append(f"{act} the {obj}, where it is the {fact.object}")
    return found


def _owner_before(reader: Reader, toks: list[str], i: int) -> str | None:
    """The owner of the relation word at i, said before it: "Frank's daughter", "her runaway father" (at most
    two words between)."""
    for j in range(i - 1, max(-1, i - 4), -1):
        if toks[j] in BREAKS:
            return None
        if toks[j] == "'s" and j > 0:
            return reader.word(toks[j - 1])
        if toks[j] in POSSESSIVES:
            return reader.gender(POSSESSIVES[toks[j]])
    return None


def _relation_claims(reader: Reader, toks: list[str]) -> list[tuple[str, str]]:
    """(owner, kind) for each relation word whose owner the text says: before it, or after 'of' ("the father of
    the nurse")."""
    kind_of = {w: k for k, ws in KIND_WORDS.items() for w in ws}
    claims = []
    for i, tok in enumerate(toks):
        if tok not in kind_of:
            continue
        owner = _owner_before(reader, toks, i)
        if owner is None and i + 1 < len(toks) and toks[i + 1] == "of":
            owner = next((label for t in toks[i + 2:i + 5] if (label := reader.word(t))), None)
        if owner:
            claims.append((owner, kind_of[tok]))
    return claims


def _relation_swaps(reader: Reader, toks: list[str], relations: list[LabelRelation]) -> list[str]:
    found = []
    for owner, kind in _relation_claims(reader, toks):
        for rel in relations:
            same, inverse = _kinds(rel)
            right = kind in same and owner == rel.of or kind in inverse and owner == rel.person
            wrong = kind in same and owner == rel.person or kind in inverse and owner == rel.of
            if wrong and not right:
                found.append(f"makes someone the {owner}'s {kind}, where the {rel.person} is the {rel.of}'s "
                             f"{'/'.join(rel.kind)}")
    return found


def inversions(text: str, reader: Reader, opening: bool) -> list[str]:
    """What a text swaps of the premise, per sentence, in words; facts scoped to the opening are read only
    where `opening` (the synopsis and episode 1)."""
    found = []
    for sentence in re.split(r"(?<=[.!?;])\s+", text):
        toks = tokens(sentence)
        why = [w for fact in reader.labels.facts if opening or fact.scope == "all"
               for w in _fact_swaps(reader, toks, fact)]
        why += _relation_swaps(reader, toks, reader.labels.relations)
        found += [f"{sentence.strip()!r}: {w}" for w in dict.fromkeys(why)]
    return found


def premise_not_inverted(bible: SeriesBible, labels: PremiseLabels) -> MetricResult:
    """The share of texts (the synopsis, each outline's hook, conflict and cliffhanger together) that swap
    nothing of the premise."""
    reader = Reader.of(bible, labels)
    texts = [("synopsis", bible.synopsis, True)] + [
        (f"episode {o.number} outline", f"{o.title}. {o.hook} {o.conflict} {o.cliffhanger}", o.number == 1)
        for o in bible.episodes]
    failures = []
    for where, text, opening in texts:
        if found := inversions(text, reader, opening):
            failures.append(f"{where}: {'; '.join(found[:2])}")
    return share("bible.premise_not_inverted", failures, len(texts))


def premise_words(labels: PremiseLabels) -> tuple[set[str], set[str]]:
    """(words, stems) that engage the premise: the people's description words and the relation words of their
    relations (either direction), as words; the discovery's and stakes' content words, as stems."""
    words = {w for p in labels.people for w in p.words}
    for rel in labels.relations:
        same, inverse = _kinds(rel)
        words |= set().union(*(KIND_WORDS.get(k, set()) for k in same | inverse))
    content = [t for t in tokens(f"{labels.discovery} {labels.stakes}") if len(t) >= 4 and t not in STOPWORDS]
    return words, {stem(t) for t in content}


def premise_engagement(scripts: list[EpisodeScript], labels: PremiseLabels,
                       threshold: float = ENGAGEMENT) -> MetricResult:
    words, stems = premise_words(labels)
    failures, total = [], 0
    for script in scripts:
        for line in script.lines():
            total += 1
            toks = tokens(line.text)
            if not any(_is(t, w) for t in toks for w in words) and not {stem(t) for t in toks if len(t) >= 4} & stems:
                failures.append(f"e{script.episode:02d} {line.id} {line.text!r}")
    return share("script.premise_engagement", failures, total, threshold)


def stock_lines(scripts: list[EpisodeScript]) -> list[MetricResult]:
    """Fallback (stock) lines: their share of all lines, and the most in any one episode."""
    per_episode = [(s.episode, [line for line in s.lines() if line.fallback], len(s.lines())) for s in scripts]
    stock = sum(len(f) for _, f, _ in per_episode)
    lines = sum(n for _, _, n in per_episode)
    detail = [f"e{ep:02d}: {len(f)} stock line(s) of {n}: {f[0].text!r}" for ep, f, n in per_episode if f]
    if not lines:
        return not_measured(["script.stock_line_rate", "script.stock_lines_max"], "no line was written")
    worst = max(len(f) for _, f, _ in per_episode)
    return [at_most("script.stock_line_rate", stock / lines, STOCK_RATE, detail),
            at_most("script.stock_lines_max", worst, STOCK_PER_EPISODE, detail)]


def score_story_bible(bible: SeriesBible, labels: PremiseLabels | None) -> list[MetricResult]:
    if labels is None:
        return not_measured(BIBLE_METRICS, "the concept has no hand labels (evals/golden/concepts.yaml)")
    return [logline_people_cast(bible, labels), relations_cast(bible, labels), premise_not_inverted(bible, labels)]


def score_story_scripts(scripts: list[EpisodeScript], labels: PremiseLabels | None) -> list[MetricResult]:
    stock = stock_lines(scripts)
    if labels is None:
        return stock + not_measured(SCRIPT_METRICS, "the concept has no hand labels (evals/golden/concepts.yaml)")
    if not scripts:
        return stock + not_measured(SCRIPT_METRICS, "no script was written")
    return stock + [premise_engagement(scripts, labels)]
