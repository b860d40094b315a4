"""The premise in words every ask shares, and the check that no answer swaps who did what to whom.

The 0.5B model, given the bare logline, wrote "discover a wealthy patient who saved her runaway father": the
relative clause turned round and the relation given to the wrong person. Told the premise with the names put in
("A night-shift nurse, Lena Ortiz, discovers the billionaire patient she saved, Frank Hale, is her runaway
father.") and checked against it, it has nothing to invert.
"""

from __future__ import annotations

import re

from dramafactory import kinship
from dramafactory.schemas import Premise


def first(name: str) -> str:
    return name.split()[0] if name else name


def named_logline(logline: str, premise: Premise) -> str:
    """The logline with each person's name after the words that introduce them; a person whose words are inside
    another's ("A fisherman" in "A fisherman's daughter") or who is not in the logline is named after it."""
    text = logline.strip()
    extra: list[str] = []
    cursor = 0
    people = premise.everyone()
    for person in people:
        if not person.name:
            continue
        phrase = person.phrase
        inside_other = any(o is not person and phrase and phrase.lower() in o.phrase.lower() for o in people)
        at = text.lower().find(phrase.lower(), cursor) if phrase and not inside_other else -1
        if at >= 0 and text[at + len(phrase):at + len(phrase) + 2] in {"'s", "’s"}:
            at = -1  # "a billionaire's engagement party": a name cannot go between the possessor and its 's
        if at < 0:
            extra.append(f"{person.name} is {person.description or 'in it'}")
            continue
        end = at + len(phrase)
        after = text[end:end + 1]
        insert = f", {person.name}" + ("" if after in {",", ".", ";", ""} else ",")
        text = text[:end] + insert + text[end:]
        cursor = end + len(insert)
    if extra:
        text = f"{text.rstrip('.')}. " + "; ".join(extra) + "."
    return text


# The words an inversion is checked on, as regex alternatives, by relation kind (from dramafactory/kinship.py). This
# check's own subset, kept as it was: of the familiar forms only "dad", "mom" and "mum"; of the work ties only
# "employee", "assistant" and "maid"; no gender-free kind (parent, child, sibling, spouse), nor partner, lover,
# friend or rival, so those relations are never checked here. Two are patterns, broader than a word list on purpose:
# "fianc[eé]+" takes either spelling of either gender (the model mixes them up), "ex-\w+" any ex- word.
_SPOKEN = {w: kinship.FAMILIAR[w] for w in ("dad", "mom", "mum")}
_RELATION_WORDS = {
    **{kind: "|".join(kinship.words_for(kind, _SPOKEN))
       for kind in ("father", "mother", "son", "daughter", "brother", "sister", "husband", "wife", "boss")},
    **{kind: "|".join(("fianc[eé]+", *kinship.synonyms_of(kind, kinship.ROLE_NAMES))) for kind in ("fiance", "fiancee")},
    "ex": r"ex-\w+|ex", "employee": "|".join(("employee", "assistant", "maid")),
}


def inversion_problem(text: str, premise: Premise) -> str | None:
    """A reason to re-ask when `text` gives a relation to the wrong person ("Frank's father" where Frank is the
    father) or turns the logline's relative clause round ("the patient who saved" where the lead saved the
    patient); None when nothing is swapped. Worded for the model."""
    people = {p.key: p for p in premise.everyone() if p.name}
    for relation in premise.relations:
        person, of = people.get(relation.person), people.get(relation.of)
        words = _RELATION_WORDS.get(relation.kind)
        if person is None or of is None or not words:
            continue
        p, o = re.escape(first(person.name)), re.escape(first(of.name))
        swapped = (rf"\b{p}'s\s+(?:\w+\s+)?(?:{words})\b",  # "Frank's father" (Frank is the father)
                   rf"\b(?:{words})\s+of\s+{p}\b",  # "the runaway father of Frank" (golden eval, 2026-12-03)
                   rf"\b{o},?\s+(?:is\s+)?(?:his|her|the|a)\s+(?:\w+\s+)?(?:{words})\b")  # "Lena, his father"
        if any(re.search(pattern, text, re.I) for pattern in swapped):
            return (f"{first(person.name)} is {first(of.name)}'s {relation.kind}, not the other way round: "
                    f"say it as the premise does")
    for person in premise.people:
        if not person.name:
            continue
        match = re.search(r"\b(?:she|he)\s+(\w+ed)$", person.phrase)
        if not match:
            continue
        verb = match.group(1)
        lead = premise.protagonist
        head = person.phrase[:match.start()].split()[-1]  # "patient" of "the billionaire patient she saved"
        who = rf"(?:{re.escape(head)}|{re.escape(first(person.name))})"
        wrong = (rf"\b{who},?\s+(?:who|that)\s+{verb}\b",  # "the patient who saved", "a patient that saved"
                 rf"\b{verb}\s+by\s+(?:the\s+)?(?:\w+\s+)?{who}\b",  # "saved by Bryan"
                 rf"\b{re.escape(first(person.name))}\s+{verb}\s+{re.escape(first(lead.name))}\b")
        if lead.name and any(re.search(pattern, text, re.I) for pattern in wrong):
            return (f"{first(lead.name)} {verb} {first(person.name)}, not the other way round: say it as the "
                    "premise does")
    return None
