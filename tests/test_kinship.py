"""The one kinship vocabulary (dramafactory/kinship.py) and each caller's view of it: every view below is the table
that caller defined itself before the vocabulary was shared, so a change to kinship.py that widens or narrows a
caller shows up here as a decision, not a side effect. evals/story_metrics.py keeps its own copy on purpose."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from dramafactory import kinship
from dramafactory.agents.director import cast_plan, premise, story
from dramafactory.agents.writer import beats
from dramafactory.memory import facts

ROOT = Path(__file__).resolve().parents[1]


def test_kinship_is_a_leaf_module():
    tree = ast.parse((ROOT / "dramafactory" / "kinship.py").read_text())
    imported = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert imported <= {"__future__"}, imported


def test_helpers():
    assert kinship.canonical("Dad") == "father" and kinship.canonical("groom") == "fiance"
    assert kinship.canonical("fiancée") == "fiancee" and kinship.canonical("uncle") == "uncle"
    assert kinship.canonical("papa", {"dad": "father"}) == "papa"  # a caller's narrower synonyms
    assert kinship.inverse("father", "female") == "daughter" and kinship.inverse("father", "male") == "son"
    assert kinship.inverse("husband", "female") == "wife" and kinship.inverse("uncle", "female") == "uncle"
    assert kinship.synonyms_of("father") == ("dad", "daddy", "papa")
    assert set(kinship.words_for("parent")) == {"parent", "father", "mother"}
    assert set(kinship.words_for("ex")) == {"ex", "ex-wife", "ex-husband"}
    assert set(kinship.other_side_words("father")) == {"son", "daughter", "child"}
    assert all(kind in kinship.INVERSE for kind in kinship.KIN_KINDS)


def test_the_premise_reads_the_shared_person_nouns():
    assert premise.KIN is kinship.KIN
    assert premise.KIN["dad"] == ("father", "male", "older") and premise.KIN["groom"] == ("fiance", "male", "same")
    assert set(kinship.KIN) <= premise.PERSON_NOUNS


def test_the_writers_view_is_as_it_was():
    assert beats.KIN_WORDS == {"father", "mother", "parent", "son", "daughter", "child", "brother", "sister",
                               "sibling", "husband", "wife", "spouse", "fiance", "fiancee", "ex"}
    assert beats._SAME == {"dad": "father", "mom": "mother", "mum": "mother", "fiancé": "fiance",
                           "fiancée": "fiancee", "groom": "fiance", "bride": "fiancee"}  # no daddy/papa/mama
    assert set(beats._KIN_PATTERN.split("|")) == set(beats.KIN_WORDS) | set(beats._SAME)
    assert beats.INVERSE["father"] == ("daughter", "son") and beats.INVERSE["boss"] == ("employee", "employee")


def test_the_inversion_checks_view_is_as_it_was():
    assert {k: set(v.split("|")) for k, v in story._RELATION_WORDS.items()} == {
        "father": {"father", "dad"}, "mother": {"mother", "mom", "mum"}, "son": {"son"}, "daughter": {"daughter"},
        "brother": {"brother"}, "sister": {"sister"}, "husband": {"husband"}, "wife": {"wife"},
        "fiance": {"fianc[eé]+", "groom"}, "fiancee": {"fianc[eé]+", "bride"}, "ex": {r"ex-\w+", "ex"},
        "boss": {"boss"}, "employee": {"employee", "assistant", "maid"}}
    assert re.fullmatch(story._RELATION_WORDS["fiance"], "fiancée")


def test_series_memorys_view_is_as_it_was():
    parent = {"father", "mother", "parent", "dad", "mom", "mum", "papa", "mama"}  # no "daddy", as before
    child = {"son", "daughter", "child"}
    siblings = {"brother", "sister", "sibling"}
    assert {k: set(v) for k, v in facts.RELATION_WORDS.items()} == {
        "father": {"father", "dad", "daddy", "papa"}, "mother": {"mother", "mom", "mum", "mama"},
        "parent": {"parent", "father", "mother"}, "son": {"son"}, "daughter": {"daughter"},
        "child": child, "brother": {"brother"}, "sister": {"sister"}, "sibling": siblings,
        "husband": {"husband"}, "wife": {"wife"}, "spouse": {"spouse", "husband", "wife"},
        "fiance": {"fiance", "fiancé"}, "fiancee": {"fiancee", "fiancée"}, "ex": {"ex", "ex-wife", "ex-husband"},
        "boss": {"boss"}, "employee": {"employee"}, "partner": {"partner"}, "lover": {"lover"},
        "friend": {"friend"}, "rival": {"rival"}}
    assert {k: set(v) for k, v in facts.INVERSE_WORDS.items()} == {
        "father": child, "mother": child, "parent": child, "son": parent, "daughter": parent, "child": parent,
        "brother": siblings, "sister": siblings, "sibling": siblings, "husband": {"wife"}, "wife": {"husband"},
        "spouse": {"husband", "wife", "spouse"}, "fiance": {"fiancee", "fiancée"}, "fiancee": {"fiance", "fiancé"},
        "boss": {"employee"}, "employee": {"boss"}}


def test_the_cast_plans_view_is_as_it_was():
    assert cast_plan.FAMILY == {"father", "mother", "parent", "son", "daughter", "child", "brother", "sister",
                                "sibling"}
    assert cast_plan.CLOSE_KIN == {"sister", "brother", "sibling", "son", "daughter", "child", "friend"}


def test_the_eval_keeps_its_own_copy():
    source = (ROOT / "evals" / "story_metrics.py").read_text()
    assert "kinship" not in source  # the eval must not share the director's vocabulary
