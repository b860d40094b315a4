"""What a line does with the premise, by beat, and who it is said to: the relation between speaker and listener in
the speaker's own terms ("your runaway father"), the beat's purpose (confront, deny, reveal the relation, plead,
raise the stakes), and the stock line when the model gives none (premise-aware where a relation ties the two).
"""

from __future__ import annotations

import re

from dramafactory import kinship
from dramafactory.schemas import Relation, SeriesBible

from . import prompts
from .checks import similar

# The shared vocabulary (dramafactory/kinship.py): INVERSE names the other side of a relation by gender, KIN_WORDS
# the kinds a line can reveal as family.
INVERSE = kinship.INVERSE
KIN_WORDS = kinship.KIN_KINDS


def _relation(bible: SeriesBible, a: str, b: str) -> Relation | None:
    return next((r for r in bible.relations if {r.person, r.of} == {a, b}), None)


def listener_is(bible: SeriesBible, speaker: str, listener: str) -> str:
    """What the listener is to the speaker, one word ('father'), or '' when no relation ties them."""
    relation = _relation(bible, speaker, listener)
    if relation is None:
        return ""
    if relation.person == listener:
        return relation.kind
    female, male = INVERSE.get(relation.kind, (relation.kind, relation.kind))
    return female if bible.character(listener).gender == "female" else male


def tie_words(bible: SeriesBible, speaker: str, listener: str) -> str:
    """', your runaway father' (the logline's words, second person) or ', your daughter'; '' when unrelated."""
    relation = _relation(bible, speaker, listener)
    if relation is None:
        return ""
    if relation.person == listener and relation.words:
        words = re.sub(r"^(?:her|his|their|my|the|a|an)\s+(?:own\s+)?", "", relation.words.strip(), flags=re.I)
        words = re.sub(r"^[\w-]+'s\s+", "", words)
        return f", your {words}"
    return f", your {listener_is(bible, speaker, listener)}"


def _truth(bible: SeriesBible, speaker: str, listener: str) -> str:
    kind = listener_is(bible, speaker, listener)
    if kind in KIN_WORDS:
        return f"that {listener.split()[0]} is your {kind}"
    premise = bible.premise
    if premise and premise.discovery:
        return f"what you know: {premise.discovery}"
    return "the secret between you"


def line_purpose(bible: SeriesBible, kind: str, speaker: str, listener: str) -> str:
    premise = bible.premise
    stakes = premise.stakes if premise and premise.stakes else prompts.DEFAULT_STAKES
    return prompts.LINE_PURPOSE[kind].format(listener=listener.split()[0], truth=_truth(bible, speaker, listener),
                                             stakes=stakes)


def stock_line(bible: SeriesBible, kind: str, speaker: str, listener: str, used: list[str]) -> str:
    """The stock line for a beat the model gave no acceptable line for (flagged by the caller): about the relation
    that ties speaker and listener where one does, else the plain stock lines; never one too close to a used line."""
    relation_kind = listener_is(bible, speaker, listener)
    candidates = []
    if relation_kind in KIN_WORDS:
        candidates = [line.format(kind=relation_kind) for line in prompts.RELATION_STOCK_LINES[kind]]
    candidates += prompts.STOCK_LINES[kind]
    fresh = [c for c in candidates if all(similar(c, u) <= 0.75 for u in used)]
    return (fresh or candidates)[0]


# The synonyms the kin-swap check reads: "dad", "mom", "mum", the accented spellings and "groom"/"bride". Not
# "daddy", "papa" or "mama" (kinship.FAMILIAR has them for series memory): this check never read them, and widening
# it is a decision of its own.
_SAME = {**{w: kinship.FAMILIAR[w] for w in ("dad", "mom", "mum")}, **kinship.SPELLINGS, **kinship.ROLE_NAMES}
_KIN_PATTERN = "|".join(sorted(KIN_WORDS | set(_SAME), key=len, reverse=True))
_SELF = re.compile(rf"\bI(?:'m|\s+am|\s+was)\s+(?:your|his|her)\s+(?:own\s+|real\s+|runaway\s+)?({_KIN_PATTERN})\b",
                   re.I)
_OTHER = re.compile(rf"\byou(?:'re|\s+are|\s+were)\s+my\s+(?:own\s+|real\s+|runaway\s+)?({_KIN_PATTERN})\b", re.I)


def kin_swap_problem(line: str, bible: SeriesBible, speaker: str, listener: str) -> str | None:
    """'I am your daughter' said by the father, 'you're my father' said to a friend: the small models mix up who is
    whose kin. A reason worded for the model, or None."""
    speaker_is = listener_is(bible, listener, speaker)  # what the speaker is to the listener
    listener_kind = listener_is(bible, speaker, listener)
    for pattern, truth, who in ((_SELF, speaker_is, "you are"), (_OTHER, listener_kind, f"{listener.split()[0]} is")):
        match = pattern.search(line)
        if match:
            said = _SAME.get(match.group(1).lower(), match.group(1).lower())
            if said != truth:
                fact = f"{who} {'their ' + truth if truth else 'not family'}"
                return f"{fact} to each other here ({speaker.split()[0]} speaks to {listener.split()[0]}); " \
                       f"do not say '{match.group(0)}'"
    return None


_RELATIVE_WORDS = {word: kind for word, (kind, _, _) in kinship.KIN.items() if kind in KIN_WORDS}
_POSSESSED = re.compile(rf"\b([A-Z][\w-]*)'s\s+(?:\w+\s+)?({'|'.join(sorted(_RELATIVE_WORDS, key=len, reverse=True))})\b")


def phantom_relative_problem(text: str, bible: SeriesBible) -> str | None:
    """'Mary's father pushes Bryan', where Bryan is her father: a beat action that makes a relative someone else
    than the character the relation names (the viewer sees two men where the story has one). A reason worded for
    the model, or None. A relative the story does not have ("Jason's brother") is let through: refusing it was
    measured worse (thriller, golden seed: 13 of 20 action tries refused, the model wrote the reason into the next
    action, "Caitlin reveals that Jason has never had a brother", and two actions went to stock text)."""
    by_first = {c.name.split()[0]: c.name for c in bible.characters}
    for match in _POSSESSED.finditer(text):
        owner = by_first.get(match.group(1))
        if owner is None:
            continue
        kind = _RELATIVE_WORDS[match.group(2).lower()]
        kinds = {kind, *kinship.MEMBERS.get(kind, ())}
        relative = next((c.name for c in bible.characters if c.name != owner
                         and listener_is(bible, owner, c.name) in kinds), None)
        if relative is None:
            continue
        first = relative.split()[0]
        before = text[:match.start()]
        if re.search(rf"(?:\b{re.escape(first)},\s*|\b(?:is|was|as|being)\s+)$", before):
            continue  # "Bryan, Mary's father, begs", "Bryan admits he is Mary's father": one man, named
        after = text[match.end():]
        if re.match(rf",?\s+{re.escape(first)}\b", after):  # "Mary's father, Bryan, ...": one man, named
            after = after.lstrip(", ")[len(first):]
        if re.search(rf"\b{re.escape(first)}\b", before + after):
            return f"{match.group(0)} is {first}: say {first} once, not as two people"
    return None


def absent_kin_words(bible: SeriesBible) -> tuple[str, ...]:
    """The family words no relation of the story gives ("brother" in a story with no brother): kept out of actions
    and lines while the model writes (decode-time, no re-ask). The 0.5B model takes them from the few-shot example
    ("framed her brother"): a golden thriller's actions gave the driver's fare a brother in 6 of 10 beats, and a
    golden maid said "my wife". Only words of four letters or more: a banned word is masked as a token, glued
    forms too, and "son" or "dad" are pieces of names ("Ja|son"); not "baby", which lovers say."""
    present: set[str] = set()
    for relation in bible.relations:
        present |= {relation.kind, *kinship.MEMBERS.get(relation.kind, ()), *INVERSE.get(relation.kind, ())}
        if relation.kind in {"ex", "fiance", "fiancee", "husband", "wife", "spouse"}:  # an ex was a fiance or a spouse
            present |= {"ex", "fiance", "fiancee", "husband", "wife", "spouse"}
    present |= {kind for kind, members in kinship.MEMBERS.items() if present & set(members)}  # a daughter: a child
    present |= {word for word, kind in kinship.SYNONYMS.items() if kind in present}  # "groom" for a fiance
    # never a word the logline itself uses ("the groom's brother")
    said = set(re.findall(r"[a-zé]+(?:-[a-zé]+)*", bible.logline.lower()))
    return tuple(word for word, (kind, _, _) in kinship.KIN.items()
                 if kind in KIN_WORDS and kind not in present and word not in present and "-" not in word
                 and len(word) >= 4 and word != "baby" and word not in said)
