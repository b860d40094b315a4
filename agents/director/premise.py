"""The premise, decided in code from the logline before the model writes a word: who the protagonist is, every
other person the logline names or implies, how they are related, the secret or discovery, and what is at stake.

Why code and not the model: the packaged 0.5B model inverted the nurse logline's premise ("a wealthy patient who
saved her runaway father") and cast nobody as the father. Why not spaCy: its small English pipeline reaches PyPI
only as re-uploads by third parties whose files cannot be checked against Explosion's release here, and measured on
our golden loglines (en_core_web_sm 3.8.0 re-upload) it tagged "returns" in "A maid humiliated at a billionaire's
engagement party returns ..." as a noun; a parser that knows which nouns are people was needed either way. So this
is a small chunker over a lexicon of person nouns: loglines are one or two sentences in a narrow register
("A <role> <verb>s <someone> ...").

Every decision the text does not settle (no person named, people only as pronouns, more people than a cast holds,
a gender the logline does not give) is written to `Premise.flags`, which the reviewer sees at the bible checkpoint.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dramafactory.kinship import KIN
from dramafactory.schemas import Premise, PremisePerson, Relation

MAX_CAST = 6

# Nouns that name a person (or a body of people acting as one, such as "the council"). Loglines use roles,
# occupations and kinship terms (KIN, the shared vocabulary in dramafactory/kinship.py); a word missing here is not a
# person to the parser, which is why the list is broad.
GENDERED = {
    "man": "male", "woman": "female", "boy": "male", "girl": "female", "king": "male", "queen": "female",
    "prince": "male", "princess": "female", "emperor": "male", "empress": "female", "widow": "female",
    "widower": "male", "actress": "female", "actor": None, "waitress": "female", "waiter": "male", "lady": "female",
    "gentleman": "male", "duke": "male", "duchess": "female", "lord": "male", "monk": "male", "nun": "female",
    "priest": "male", "sultan": "male", "concubine": "female", "countess": "female", "count": "male",
    "baron": "male", "baroness": "female", "mistress": "female", "housewife": "female", "nurse": "female",
    "madam": "female", "businessman": "male", "businesswoman": "female", "policeman": "male",
    "policewoman": "female", "fisherman": "male", "chairman": "male", "chairwoman": "female", "landlady": "female",
    "landlord": "male", "hostess": "female", "host": None, "empress-dowager": "female",
}
ROLES = {
    "crew", "board", "gang", "cult", "nurse", "doctor", "surgeon", "patient", "billionaire", "millionaire", "ceo", "cook", "chef", "driver",
    "passenger", "accountant", "lawyer", "attorney", "judge", "detective", "officer", "cop", "agent", "spy", "thief",
    "con", "conman", "con-man", "killer", "murderer", "assassin", "soldier", "captain", "sailor", "pilot", "teacher",
    "student", "intern", "planner", "designer", "singer", "dancer", "artist", "writer", "journalist", "reporter",
    "scientist", "researcher", "professor", "engineer", "programmer", "hacker", "banker", "broker", "trader",
    "investor", "heir", "heiress", "tycoon", "mogul", "magnate", "executive", "manager", "director", "producer",
    "star", "celebrity", "influencer", "model", "photographer", "bartender", "barista", "cleaner", "janitor",
    "gardener", "chauffeur", "guard", "prisoner", "inmate", "witness", "suspect", "victim", "stranger", "neighbor",
    "neighbour", "tenant", "orphan", "widow", "mayor", "senator", "president", "minister", "general", "commander",
    "vet", "paramedic", "firefighter", "fisher", "farmer", "rancher", "hunter", "healer", "witch",
    "wizard", "sorcerer", "mage", "knight", "warrior", "servant", "slave", "peasant", "merchant", "noble",
    "nobleman", "noblewoman", "emperor", "empress", "king", "queen", "prince", "princess", "consort", "regent",
    "council", "councillor", "councilor", "dealer", "smuggler", "gangster", "boss", "mobster", "bandit", "pirate",
    "stepmother", "mentor", "coach", "athlete", "player", "boxer", "fighter", "climber", "explorer", "astronaut",
    "sheriff", "deputy", "ranger", "marshal", "inspector", "auditor", "clerk", "cashier", "receptionist",
    "housekeeper", "nanny", "tutor", "governess", "babysitter", "caretaker", "surrogate", "donor", "landlord",
    "landlady", "owner", "founder", "partner", "colleague", "coworker", "co-worker", "roommate", "classmate",
    "bully", "blackmailer", "impostor", "imposter", "twin", "lookalike", "double", "bodyguard", "maid", "butler",
    "waiter", "waitress", "courier", "delivery", "mechanic", "plumber", "electrician", "carpenter", "baker",
    "butcher", "tailor", "florist", "jeweler", "jeweller", "priest", "pastor", "monk", "nun", "prophet", "oracle",
    "vampire", "werewolf", "ghost", "alien", "robot", "android", "cyborg", "mermaid", "dragon-rider", "chosen",
    "someone", "everyone", "somebody", "person", "people", "man", "woman", "boy", "girl", "kid",
    "teenager", "teen", "lady", "gentleman", "guy", "psychiatrist", "therapist", "pharmacist",
    "midwife", "dentist", "cousin", "grandson", "granddaughter", "ex", "prosecutor", "defendant", "juror",
    "hostage", "kidnapper", "runaway", "fugitive", "refugee", "immigrant", "socialite", "bride",
    "groom", "bridesmaid", "best-man", "fiance", "fiancee", "captive", "stewardess", "attendant", "captain's", "guide", "monarch", "duke", "duchess", "lord", "baron", "cardinal", "pope", "shaman",
    "alchemist", "apprentice", "squire", "archer", "guardian", "protector", "rescuer", "savior", "saviour",
    "doppelganger", "nemesis", "enemy", "ally", "admirer", "stalker", "fan", "ceo's", "billionaire's",
}
PERSON_NOUNS = set(KIN) | set(GENDERED) | ROLES
# Words that look like people but name a group's member only as a title here ("names her partner").
TITLE_VERBS = {"names", "makes", "appoints", "promotes", "crowns", "elects", "hires", "declares"}
GUISE_VERBS = {"returns", "returning", "comes", "poses", "posing", "disguised", "undercover", "reborn", "back"}
GROUPS = {"council", "crew", "board", "family", "police", "gang", "court", "cult", "army", "people"}
GENERIC = {"man", "woman", "person", "someone", "somebody", "stranger", "guy", "people", "everyone"}
DETERMINERS = {"a", "an", "the", "her", "his", "their", "my", "your", "our", "its", "this", "that", "one"}
POSSESSIVE_PRONOUNS = {"her": "female", "his": "male", "their": None}
SUBJECT_PRONOUNS = {"she": "female", "he": "male", "her": "female", "him": "male", "hers": "female"}
STOP = {"who", "whom", "whose", "that", "which", "is", "was", "are", "were", "be", "been", "and", "or", "but", "in",
        "on", "at", "of", "for", "to", "from", "with", "by", "as", "into", "before", "after", "while", "when",
        "until", "unless", "because", "she", "he", "they", "it", "every", "each", "all", "some", "any", "no",
        "days", "weeks", "years", "hours", "moments"} | DETERMINERS
DISCOVERY_VERBS = {"discovers", "discover", "learns", "learn", "finds", "realises", "realizes", "uncovers",
                   "suspects", "notices", "recognises", "recognizes", "overhears", "sees", "finds out", "learned",
                   "discovered", "realised", "realized"}
STAKE_MARKERS = re.compile(r"\b(?:(?:days|hours|weeks|moments|minutes)\s+before|before|until|unless|or\s+lose|"
                           r"while\s+(?:secretly\s+)?|to\s+save|to\s+stop|to\s+win|to\s+keep|just\s+as)\b", re.I)
AGE_WORDS = {"young": "younger", "teenage": "younger", "little": "younger", "old": "older", "elderly": "older",
             "aging": "older", "ageing": "older", "aged": "older"}
WORD = re.compile(r"[A-Za-zÀ-ÿ][A-Za-zÀ-ÿ'’-]*|[.,;:!?]")


@dataclass
class _Phrase:
    """A person noun phrase found in the logline: its words, its head noun, and who owns it ("her father")."""

    start: int  # token index of the first word (the determiner)
    end: int  # one past the head
    head: str
    text: str
    owner_pronoun: str | None = None  # "her" in "her runaway father"
    owner: _Phrase | None = None  # the possessor phrase: "the groom" in "the groom's brother"
    modifiers: list[str] = field(default_factory=list)
    clause: str = ""  # a following relative clause, "she saved"
    possessor: bool = False  # "the groom" in "the groom's brother": named as someone's, not the subject

    @property
    def generic(self) -> bool:
        """'the man', 'a woman': a phrase that says only that someone is there (never picked as the lead)."""
        return self.head in GENERIC and not self.modifiers


def _tokens(logline: str) -> list[str]:
    return WORD.findall(logline.replace("’", "'"))


def _bare(word: str) -> str:
    return word.lower().removesuffix("'s").removesuffix("'")


def _is_person(word: str) -> bool:
    w = _bare(word)
    return w in PERSON_NOUNS or (w.endswith("s") and w[:-1] in PERSON_NOUNS and w[:-1] not in {"bos"})


def _is_name(tokens: list[str], i: int) -> bool:
    """A capitalised word that is not the first of a sentence and not a known noun: a person's own name."""
    word = tokens[i]
    if not word[:1].isupper() or i == 0 or tokens[i - 1] in {".", "!", "?"}:
        return False
    return _bare(word) not in PERSON_NOUNS and _bare(word) not in STOP and word.upper() != word


def _phrases(tokens: list[str]) -> list[_Phrase]:
    """Person noun phrases: a determiner or possessive, up to four modifiers, then the first person noun not followed
    by another ("the billionaire patient": head "patient"; "a billionaire's engagement party": "a billionaire")."""
    found: list[_Phrase] = []
    i = 0
    while i < len(tokens):
        word = tokens[i].lower()
        starts = word in DETERMINERS or word.endswith("'s") and _is_person(word)
        if not starts and _is_name(tokens, i):
            j = i
            while j + 1 < len(tokens) and _is_name(tokens, j + 1):
                j += 1
            found.append(_Phrase(i, j + 1, " ".join(tokens[i:j + 1]), " ".join(tokens[i:j + 1])))
            i = j + 1
            continue
        if word not in DETERMINERS:
            i += 1
            continue
        head_at = None
        j = i + 1
        while j < len(tokens) and j <= i + 5:
            w = tokens[j]
            if w in {".", ",", ";", ":", "!", "?"} or (_bare(w) in STOP and _bare(w) != "ex"):
                break
            if _is_person(w) and not (j + 1 < len(tokens) and _is_person(tokens[j + 1])
                                      and not tokens[j].lower().endswith("'s")):
                head_at = j
                break
            if w.lower().endswith("'s"):  # a possessor that is not a person ("the company's"): no phrase here
                break
            j += 1
        if head_at is None:
            i += 1
            continue
        phrase = _Phrase(i, head_at + 1, _bare(tokens[head_at]),
                         " ".join(tokens[i:head_at + 1]).removesuffix("'s"),
                         owner_pronoun=word if word in POSSESSIVE_PRONOUNS else None,
                         modifiers=[t.lower() for t in tokens[i + 1:head_at]])
        found.append(phrase)
        i = head_at + 1
    # A possessor followed directly by a name ("her father's Daniel"): the name's phrase carries its possessor. Not
    # dead code, though it fires on none of the golden, test or docs loglines: _possessed_phrases takes only a person
    # noun after a possessor ("the groom's brother"), never a name, and a phrase without a determiner can only be a
    # name here. It names no relation (a name is no kinship word); it keeps the possessor in the person's words,
    # which the description and named_logline read. (It also takes a capitalised place, "the mayor's Paris
    # apartment", as it takes any capitalised word for a name.)
    merged: list[_Phrase] = []
    for phrase in found:
        if merged and tokens[merged[-1].end - 1].lower().endswith("'s") and phrase.start == merged[-1].end \
                and tokens[phrase.start].lower() not in DETERMINERS:
            owner = merged[-1]
            merged.append(_Phrase(owner.start, phrase.end, phrase.head, f"{owner.text}'s {phrase.text}",
                                  owner=owner, modifiers=phrase.modifiers))
            continue
        merged.append(phrase)
    return merged


def _possessed_phrases(tokens: list[str]) -> list[_Phrase]:
    """'the groom's brother' reads as two people: the possessor and the possessed. _phrases stops at a possessor, so
    the possessed head (with no determiner of its own) is picked up here."""
    phrases = _phrases(tokens)
    out: list[_Phrase] = []
    for phrase in phrases:
        out.append(phrase)
        last = tokens[phrase.end - 1]
        if not last.lower().endswith("'s"):
            continue
        j = phrase.end
        mods: list[str] = []
        while j < len(tokens) and j <= phrase.end + 4:
            w = tokens[j]
            if w in {".", ",", ";", ":"} or _bare(w) in STOP:
                break
            if _is_person(w) and not (j + 1 < len(tokens) and _is_person(tokens[j + 1])):
                out.append(_Phrase(phrase.start, j + 1, _bare(w), f"{phrase.text.removesuffix(chr(39) + 's')}'s "
                                   f"{' '.join(tokens[phrase.end:j + 1])}", owner=phrase,
                                   modifiers=mods))
                break
            mods.append(w.lower())
            j += 1
        phrase.text = phrase.text.removesuffix("'s")
        phrase.possessor = True
    return out


def _clause_after(tokens: list[str], phrase: _Phrase) -> str:
    """An object relative clause right after the phrase: 'the billionaire patient she saved' -> 'she saved'."""
    if phrase.end + 1 < len(tokens) and tokens[phrase.end].lower() in {"she", "he", "they", "i"}:
        verb = tokens[phrase.end + 1]
        if verb.lower() not in {"is", "was", "are", "were", "has", "had"} and re.fullmatch(r"[a-z]+(ed|s)", verb):
            return f"{tokens[phrase.end]} {verb}"
    return ""


def _identity(tokens: list[str], a: _Phrase, b: _Phrase) -> bool:
    """'<a> [she saved] is [really] <b>': the two phrases name one person (the logline's twist, usually)."""
    between = [t.lower() for t in tokens[a.end:b.start]]
    core = [w for w in between if w not in {"really", "actually", "secretly", "truly", "none", "other", "than"}]
    if not core or core[-1] not in {"is", "was", "are", "were"}:
        return False
    rest = core[:-1]
    if rest and rest[0] in {"in", "on", "at", "from", "behind", "beside", "next"} and len(rest) <= 5 \
            and not {",", "."} & set(rest):
        return True  # "the passenger in her back seat is the man ..."
    return len(rest) <= 2 and all(w in {"she", "he", "they", "saved", "loves", "married", "hired", "met", "rescued",
                                        "nursed", "treated", "picked", "drives", "serves", "follows"}
                                  or re.fullmatch(r"[a-z]+ed", w) for w in rest)


def _clean(text: str) -> str:
    return " ".join(text.split()).strip(" ,.;:")


def _description(phrase: _Phrase) -> str:
    """'A night-shift nurse' -> 'the night-shift nurse'; 'her runaway father' -> 'her runaway father'."""
    words = phrase.text.split()
    if words and words[0].lower() in {"a", "an", "the", "one"}:
        words = ["the", *words[1:]]
    return " ".join(w if w[:1].isupper() and i and not w.isupper() and _is_name([*words], i) else w.lower()
                    if w.upper() != w or len(w) <= 1 else w for i, w in enumerate(words))[:80]


def _gender(phrase: _Phrase) -> str | None:
    head = phrase.head
    if head in KIN and KIN[head][1]:
        return KIN[head][1]
    if head in GENDERED:
        return GENDERED[head]
    return None


def _generation(phrase: _Phrase) -> str | None:
    for mod in phrase.modifiers:
        if mod in AGE_WORDS:
            return AGE_WORDS[mod]
    return KIN[phrase.head][2] if phrase.head in KIN else None


def _discovery(tokens: list[str], logline: str) -> str:
    """The clause after the discovery verb ('discovers the patient she saved is her father'), or the lead's return
    in a new guise ('returns five years later as the CEO who owns his company'), in the logline's words."""
    lowered = logline.lower()
    guise = re.search(r"\b(?:returns|comes back|reappears)\b.*?\bas\b[^,.;]+", logline, re.I)
    if guise:
        return _clean(guise.group(0))
    for verb in sorted(DISCOVERY_VERBS, key=len, reverse=True):
        match = re.search(rf"\b{verb}\b\s+(?:out\s+)?(?:that\s+)?(?:proof\s+(?:that\s+)?)?(.+)", logline, re.I)
        if match and match.start() < len(lowered):
            rest = match.group(1)
            cut = STAKE_MARKERS.search(rest)
            rest = rest[:cut.start()] if cut else rest
            return _clean(rest.split(",")[0])
    return ""


def _stakes(logline: str) -> str:
    match = STAKE_MARKERS.search(logline)
    if match and match.group(0).lower().startswith("while"):
        return _clean(logline[match.start():])
    return _clean(logline[match.start():]) if match else ""


@dataclass
class _Person:
    phrases: list[_Phrase]
    gender: str | None = None
    generation: str | None = None


def _pronoun_genders(tokens: list[str], people: list[_Person], lead: _Person) -> None:
    """Give a pronoun's gender to the person it most plausibly refers to: a possessive ('her father') or a subject
    pronoun after the lead's phrase is the lead's, unless the lead's gender is already the other one; then it is
    the nearest person before it without a gender ('he names her partner' after 'her boss')."""
    for i, token in enumerate(tokens):
        gender = SUBJECT_PRONOUNS.get(token.lower()) or POSSESSIVE_PRONOUNS.get(token.lower())
        if gender is None:
            continue
        if lead.gender in (None, gender) and lead.phrases[0].start < i:
            lead.gender = lead.gender or gender
            continue
        before = [p for p in people if p is not lead and p.phrases[0].start < i and p.gender is None]
        if before:
            before[-1].gender = gender


def parse_premise(logline: str) -> Premise:
    """The logline's people, relations, discovery and stakes (see the module's docstring for what it can read)."""
    tokens = _tokens(logline)
    phrases = _possessed_phrases(tokens)
    flags: list[str] = []
    # Titles, not people: "days before he names her partner" makes her a partner.
    phrases = [p for p in phrases if not (p.start >= 1 and tokens[p.start - 1].lower() in TITLE_VERBS
                                          and p.owner_pronoun is not None)]
    people: list[_Person] = []
    for phrase in phrases:
        phrase.clause = _clause_after(tokens, phrase)
        merged = next((p for p in people if _identity(tokens, p.phrases[-1], phrase)), None) if people else None
        if merged is not None:
            # the words after the identity's second phrase describe it: "the man every news channel is hunting"
            tail = []
            for token in tokens[phrase.end:phrase.end + 7]:
                if token in {".", ",", ";", ":", "!", "?"}:
                    break
                tail.append(token)
            phrase.clause = phrase.clause or (" ".join(tail) if len(tail) <= 6 else "")
            merged.phrases.append(phrase)
            continue
        people.append(_Person([phrase]))
    # "returns five years later as the CEO", "posing as a maid": the lead in another guise, not a second person
    for person in list(people[1:]):
        phrase = person.phrases[0]
        if phrase.start and tokens[phrase.start - 1].lower() == "as" and \
                GUISE_VERBS & {t.lower() for t in tokens[max(0, phrase.start - 6):phrase.start]}:
            people[0].phrases.append(phrase)
            people.remove(person)
    lead_index = next((i for i, p in enumerate(people) if p.phrases[0].owner_pronoun is None
                       and not p.phrases[0].possessor and not p.phrases[0].generic), None)
    if lead_index is None:
        pronoun = next((t.lower() for t in tokens if t.lower() in {"she", "he"}), None)
        if pronoun:
            lead = _Person([_Phrase(0, 0, pronoun, pronoun)], gender=SUBJECT_PRONOUNS[pronoun])
            flags.append(f"the logline names its lead only as '{pronoun}': the series follows an invented lead "
                         "described by what they do; check the protagonist")
        else:
            lead = _Person([_Phrase(0, 0, "", "")])
            flags.append("the logline names no person: the series follows an invented lead caught up in it; "
                         "check the protagonist and cast")
        people.insert(0, lead)
    else:
        lead = people.pop(lead_index)
        people.insert(0, lead)
    for person in people:
        for phrase in person.phrases:
            person.gender = person.gender or _gender(phrase)
            person.generation = person.generation or _generation(phrase)
    _pronoun_genders(tokens, people, lead)
    # The groom of "<someone>'s wedding" is that someone: "planning her own ex-fiance's wedding" with "the groom".
    wedding_owner = re.search(r"([\w'-]+)'s\s+wedding", logline.lower())
    if wedding_owner:
        owner_head = _bare(wedding_owner.group(1))
        grooms = [p for p in people if any(ph.head == "groom" for ph in p.phrases)]
        owners = [p for p in people if any(ph.head == owner_head for ph in p.phrases) and p not in grooms]
        if grooms and owners and owners[0] is not lead:
            grooms[0].phrases.extend(owners[0].phrases)
            people.remove(owners[0])
    if len(people) > MAX_CAST:
        dropped = [p.phrases[0].text for p in people[MAX_CAST:]]
        flags.append(f"the logline names {len(people)} people; a cast holds at most {MAX_CAST}: left out "
                     + ", ".join(f"'{d}'" for d in dropped))
        people = people[:MAX_CAST]
    keys = {id(p): ("lead" if i == 0 else f"p{i}") for i, p in enumerate(people)}
    relations = _relations(people, keys, lead)
    for person in people[1:]:
        if person.gender is None and person.phrases[0].head not in GROUPS:
            flags.append(f"the logline does not say whether '{person.phrases[0].text}' is a man or a woman: "
                         "casting decides")
    if lead.gender is None and lead.phrases[0].text:
        flags.append(f"the logline does not say whether the lead ('{lead.phrases[0].text}') is a man or a woman: "
                     "casting decides")
    if len(people) == 1:
        flags.append("the logline names nobody but the lead: the director adds who stands in the way")
    discovery = _discovery(tokens, logline)
    stakes = _stakes(logline)
    if not discovery and not stakes:
        flags.append("the logline states no secret and no stakes: the outlines invent them")
    return Premise(protagonist=_premise_person(lead, "lead"),
                   people=[_premise_person(p, keys[id(p)]) for p in people[1:]],
                   relations=relations, discovery=discovery, stakes=stakes, flags=flags)


def _premise_person(person: _Person, key: str) -> PremisePerson:
    first, *rest = person.phrases
    specific = next((p for p in person.phrases if p.head not in GENERIC and p.owner_pronoun is None), first)
    phrase_text = first.text + (f" {first.clause}" if first.clause else "")
    return PremisePerson(key=key, phrase=_clean(phrase_text),
                         also=[_clean(f"{p.text} {p.clause}" if p.clause else p.text) for p in rest],
                         description=_description(specific) if specific.text else "",
                         gender=person.gender, generation=person.generation)  # type: ignore[arg-type]


def _relations(people: list[_Person], keys: dict[int, str], lead: _Person) -> list[Relation]:
    """Kinship and work ties the phrases state: 'her runaway father' (of the lead, if 'her' is the lead's), 'the
    groom's brother' (of the groom)."""
    relations: list[Relation] = []
    phrase_owner: dict[int, _Person] = {id(ph): p for p in people for ph in p.phrases}
    for person in people:
        for phrase in person.phrases:
            if phrase.head not in KIN:
                continue
            kind = KIN[phrase.head][0]
            owner: _Person | None = None
            if phrase.owner_pronoun is not None:
                # the nearest person named before the phrase whose gender fits the pronoun ('his twin sister' after
                # 'a con man'), else the lead
                wanted = POSSESSIVE_PRONOUNS[phrase.owner_pronoun]
                before = [p for p in people if p is not person and p.phrases[0].start < phrase.start
                          and (wanted is None or p.gender == wanted)]
                owner = before[-1] if before else lead
            elif phrase.owner is not None:
                owner = phrase_owner.get(id(phrase.owner))
            elif kind in {"fiance", "fiancee"} and person is not lead:
                continue  # "the groom" alone: engaged, but to whom the logline does not say
            if owner is None or owner is person:
                continue
            relations.append(Relation(person=keys[id(person)], kind=kind, of=keys[id(owner)],  # type: ignore[arg-type]
                                      words=phrase.text))
    return relations
