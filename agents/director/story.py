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
        swapped = [rf"\b{p}'s\s+(?:\w+\s+)?(?:{words})\b(?!-)",  # "Frank's father" (Frank is the father)
                   rf"\b(?:{words})\s+of\s+{p}\b",  # "the runaway father of Frank" (golden eval, 2026-12-03)
                   rf"\b{o},?\s+(?:is\s+)?(?:his|her|the|a)\s+(?:\w+\s+)?(?:{words})\b(?!-)"]  # "Lena, his father"
        if of.gender:  # "Frank is his runaway father", Frank being Lena's (golden outlines, 2026-12-04)
            wrong = "his" if of.gender == "female" else "her"
            swapped.append(rf"\b{p}\s+(?:\w+\s+)?(?:is|was)\s+{wrong}\s+(?:\w+\s+)?(?:{words})\b(?!-)")
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
    return act_problem(text, premise)


# Words before a person's phrase that are not an act done to them: articles, the copula, prepositions other than
# "for", and the verbs of finding out, whose object is the clause after them ("learns the poison ...").
_NOT_ACTS = frozenset(
    "a an the her his their its my your our own is was are were be been of at in on with and or but that who whom "
    "which by to from as into than proof learns learned discovers discovered finds found realises realizes realised "
    "realized knows knew sees saw hears heard while when before after against over about like behind beside without "
    "until because through during among despite".split())
# What may stand between the lead's pronoun and the act for the act to be the lead's ("she was ordered to serve"):
# helpers only, so "the man she loves killed her husband" is not read as hers.
_HELPERS = frozenset("was is has had will would must can could ordered meant told forced going supposed to".split())
# Between an act and the person it is done to: at most an article and one word that is not a preposition
_BETWEEN = r"(?:(?:the|her|his|their)\s+)?(?:(?!(?:by|with|and|or|to|for|from|as)\b)\w+\s+)?"


def premise_acts(premise: Premise) -> list[tuple[str, str, bool]]:
    """(act, person key, done by the lead) for each act the logline's discovery or stakes do to a person: "serve
    the young emperor" -> ("serve", emperor, True), "is meant for her own sister" -> ("meant for", sister, False):
    the lead does it where the span says "she"/"he" just before it. A phrase followed by 's names something of theirs
    ("her own ex-fiance's wedding"), not them."""
    acts = []
    for span in (premise.discovery, premise.stakes):
        for person in premise.people:
            for phrase in (person.phrase, *person.also):
                for at in (m.start() for m in re.finditer(re.escape(phrase), span, re.I)) if phrase else ():
                    if span[at + len(phrase):at + len(phrase) + 2] in {"'s", "’s"}:
                        continue
                    before = span[:at].lower().split()
                    act = before[-2:] if before[-1:] == ["for"] else before[-1:]
                    if not act or act[0] in _NOT_ACTS:
                        continue
                    # "she was ordered to serve": the lead's pronoun, with only helpers between it and the act
                    lead_at = max((i for i, w in enumerate(before[:-1]) if w in {"she", "he"}), default=-1)
                    by_lead = len(act) == 1 and lead_at >= 0 and set(before[lead_at + 1:-1]) <= _HELPERS
                    # only a bare present verb ("serve") makes a sentence to say back; not "killed", "poisoning"
                    by_lead = by_lead and re.fullmatch(r"[a-z]+", act[0]) is not None and \
                        not act[0].endswith(("ed", "ing"))
                    acts.append((" ".join(act), person.key, by_lead))
    return list(dict.fromkeys(acts))


def _act_pattern(act: str) -> str:
    """'serve' -> serve, serves, served, serving; 'falls for' -> fall, falls, falling for (not 'fell': only the
    forms that keep the stem)."""
    verb, *rest = act.split()
    stem = re.sub(r"(?:e|es|ed|ing|s)$", "", verb) if len(verb) > 4 else verb
    return r"\s+".join([rf"{re.escape(stem)}(?:e|es|ed|ing|s)?\b", *map(re.escape, rest)])  # not "servants"


def act_problem(text: str, premise: Premise) -> str | None:
    """'meant to serve Catrin' where the cook serves the emperor, 'Matthias will serve' where the cook does: an act
    of the premise done to the wrong person, or by the person it is done to. A reason worded for the model."""
    lead = premise.protagonist
    named = [p for p in premise.everyone() if p.name]
    for act, key, by_lead in premise_acts(premise):
        target = premise.person(key)
        if not target.name or not lead.name:
            continue
        verb = _act_pattern(act)
        verb_word = act.split()[0]
        right = f"{first(lead.name)} {verb_word.removesuffix('s')}s {first(target.name)}" if by_lead else \
            f"{act} {first(target.name)}"
        for other in named:
            if other is target or by_lead and other is lead:  # "Roland is served by Beatrix", Beatrix the lead
                continue
            o = re.escape(first(other.name))
            if re.search(rf"\b{verb}\s+(?:to\s+)?{_BETWEEN}{o}\b(?!['’]s)", text, re.I):
                return f"say it as the premise does: {right} (not {first(other.name)})"
        t = re.escape(first(target.name))
        # "Matthias will serve", "Matthias is meant to serve" (golden fantasy synopsis, 2026-12-04)
        helper = r"(?:(?:will|would|must|has|had)\s+|(?:is|was)\s+(?:meant|ordered|going|supposed)\s+to\s+)?"
        if by_lead and re.search(rf"\b{t}\s+{helper}{verb}\b", text, re.I):
            return f"{right}, not the other way round: say it as the premise does"
    return None
