"""The kinship vocabulary the director, the writer and series memory share: which words name a relation, what the
other side of it is called by gender, and the synonyms a logline or a line uses for it ("dad", "groom").

A leaf module on purpose (it imports nothing from the project): schemas <- memory/tools <- agents <- graphs <- api
may all read it. evals/story_metrics.py keeps its own copy on purpose: an eval that shared the director's vocabulary
could not catch the director misreading a word.

Each caller takes the part it needs; where a caller reads a narrower part (the writer's kin-swap check knows "dad"
but not "papa"), that caller says so where it takes it, so that widening one caller is a decision, not a side effect.
"""

from __future__ import annotations

# The relation nouns a logline uses for a person: word -> (relation kind, gender the word gives, generation against
# the one it is related to). Work ties ("boss", "maid") are here too: the premise reads them the same way.
KIN: dict[str, tuple[str, str | None, str | None]] = {
    "father": ("father", "male", "older"), "dad": ("father", "male", "older"), "mother": ("mother", "female", "older"),
    "mom": ("mother", "female", "older"), "mum": ("mother", "female", "older"),
    "stepfather": ("father", "male", "older"), "stepmother": ("mother", "female", "older"),
    "son": ("son", "male", "younger"), "daughter": ("daughter", "female", "younger"),
    "stepson": ("son", "male", "younger"), "stepdaughter": ("daughter", "female", "younger"),
    "child": ("child", None, "younger"), "baby": ("child", None, "younger"),
    "brother": ("brother", "male", "same"), "sister": ("sister", "female", "same"),
    "stepbrother": ("brother", "male", "same"), "stepsister": ("sister", "female", "same"),
    "twin": ("sibling", None, "same"), "sibling": ("sibling", None, "same"),
    "husband": ("husband", "male", "same"), "wife": ("wife", "female", "same"),
    "spouse": ("spouse", None, "same"), "fiance": ("fiance", "male", "same"), "fiancé": ("fiance", "male", "same"),
    "fiancee": ("fiancee", "female", "same"), "fiancée": ("fiancee", "female", "same"),
    "ex": ("ex", None, "same"), "ex-husband": ("ex", "male", "same"), "ex-wife": ("ex", "female", "same"),
    "ex-fiance": ("ex", "male", "same"), "ex-fiancé": ("ex", "male", "same"), "ex-fiancee": ("ex", "female", "same"),
    "ex-boyfriend": ("ex", "male", "same"), "ex-girlfriend": ("ex", "female", "same"),
    "boyfriend": ("lover", "male", "same"), "girlfriend": ("lover", "female", "same"),
    "lover": ("lover", None, "same"), "boss": ("boss", None, None), "employer": ("boss", None, None),
    "partner": ("partner", None, "same"), "friend": ("friend", None, "same"), "rival": ("rival", None, "same"),
    "grandfather": ("other", "male", "older"), "grandmother": ("other", "female", "older"),
    "uncle": ("other", "male", "older"), "aunt": ("other", "female", "older"),
    "nephew": ("other", "male", "younger"), "niece": ("other", "female", "younger"), "cousin": ("other", None, "same"),
    "mentor": ("other", None, "older"), "assistant": ("employee", None, None), "secretary": ("employee", None, None),
    "bodyguard": ("employee", None, None), "maid": ("employee", "female", None), "butler": ("employee", "male", None),
    "groom": ("fiance", "male", "same"), "bride": ("fiancee", "female", "same"),
    "stepchild": ("child", None, "younger"), "heir": ("other", "male", None), "heiress": ("other", "female", None),
}

# Synonyms, by what they are: familiar forms of a parent, the accented spellings, and the wedding's role names.
# Kept apart because callers differ on which they read (see each caller).
FAMILIAR = {"dad": "father", "daddy": "father", "papa": "father", "mom": "mother", "mum": "mother", "mama": "mother"}
SPELLINGS = {"fiancé": "fiance", "fiancée": "fiancee"}
ROLE_NAMES = {"groom": "fiance", "bride": "fiancee"}
SYNONYMS = {**FAMILIAR, **SPELLINGS, **ROLE_NAMES}

# Blood relatives, and kin in the wider sense (by marriage or engagement, once or now).
BLOOD = frozenset({"father", "mother", "parent", "son", "daughter", "child", "brother", "sister", "sibling"})
KIN_KINDS = BLOOD | {"husband", "wife", "spouse", "fiance", "fiancee", "ex"}
CHILDREN = frozenset({"son", "daughter", "child"})

# The gendered kinds a gender-free kind covers: a parent is a father or a mother.
MEMBERS = {"parent": ("father", "mother"), "child": ("son", "daughter"), "sibling": ("brother", "sister"),
           "spouse": ("husband", "wife")}
EX_FORMS = ("ex-wife", "ex-husband")  # the ex- words a character uses in a line for "my ex"

# What the other side of a relation is called, by the gender of the one it names: (female, male). A father's
# daughter or son; a husband's wife or (same-sex) husband.
INVERSE: dict[str, tuple[str, str]] = {
    "father": ("daughter", "son"), "mother": ("daughter", "son"), "parent": ("daughter", "son"),
    "son": ("mother", "father"), "daughter": ("mother", "father"), "child": ("mother", "father"),
    "brother": ("sister", "brother"), "sister": ("sister", "brother"), "sibling": ("sister", "brother"),
    "husband": ("wife", "husband"), "wife": ("wife", "husband"), "spouse": ("wife", "husband"),
    "fiance": ("fiancee", "fiance"), "fiancee": ("fiancee", "fiance"), "ex": ("ex", "ex"),
    "boss": ("employee", "employee"), "employee": ("boss", "boss"), "partner": ("partner", "partner"),
    "lover": ("lover", "lover"), "friend": ("friend", "friend"), "rival": ("rival", "rival"),
}

# The kinds the other side of a relation may be, gender unknown: a father is a son's, a daughter's or a child's.
# Narrower than INVERSE for couples (a husband's other side is a wife here), which is how series memory has always
# read a line's words for the other side.
OTHER_SIDE: dict[str, tuple[str, ...]] = {
    "father": ("son", "daughter", "child"), "mother": ("son", "daughter", "child"),
    "parent": ("son", "daughter", "child"),
    "son": ("father", "mother", "parent"), "daughter": ("father", "mother", "parent"),
    "child": ("father", "mother", "parent"),
    "brother": ("brother", "sister", "sibling"), "sister": ("brother", "sister", "sibling"),
    "sibling": ("brother", "sister", "sibling"), "husband": ("wife",), "wife": ("husband",),
    "spouse": ("husband", "wife", "spouse"), "fiance": ("fiancee",), "fiancee": ("fiance",),
    "boss": ("employee",), "employee": ("boss",),
}


def canonical(word: str, synonyms: dict[str, str] = SYNONYMS) -> str:
    """'Dad' -> 'father', 'fiancée' -> 'fiance'... the relation kind a word names; the word itself (lowered) when it
    is no synonym in `synonyms`."""
    word = word.lower()
    return synonyms.get(word, word)


def inverse(kind: str, gender: str | None) -> str:
    """What the other side of `kind` is called when that side's gender is `gender`: inverse('father', 'female') is
    'daughter'. A kind without an inverse names itself; no gender reads as male, as the writer always has."""
    female, male = INVERSE.get(kind, (kind, kind))
    return female if gender == "female" else male


def synonyms_of(kind: str, synonyms: dict[str, str] = SYNONYMS) -> tuple[str, ...]:
    """The words in `synonyms` that name `kind` ('father': 'dad', 'daddy', 'papa')."""
    return tuple(word for word, named in synonyms.items() if named == kind)


def words_for(kind: str, synonyms: dict[str, str] = SYNONYMS) -> tuple[str, ...]:
    """Every word that names `kind`: itself, its synonyms, and for a gender-free kind its gendered ones (a parent is
    called 'father' or 'mother' too; a spouse 'husband' or 'wife'); 'ex' also by its ex- forms."""
    return (kind, *synonyms_of(kind, synonyms), *MEMBERS.get(kind, ()), *(EX_FORMS if kind == "ex" else ()))


def other_side_words(kind: str, synonyms: dict[str, str] = SYNONYMS) -> tuple[str, ...]:
    """Every word the other side of `kind` may be called by (OTHER_SIDE's kinds, each by words_for), no repeats."""
    words: dict[str, None] = {}
    for other in OTHER_SIDE.get(kind, ()):
        words.update(dict.fromkeys(words_for(other, synonyms)))
    return tuple(words)
