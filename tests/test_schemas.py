from __future__ import annotations

import pytest
from pydantic import ValidationError

from dramafactory.schemas import MAX_LOGLINE_CHARS, Look, SeriesConcept


def test_concept_defaults_are_a_one_minute_vertical_episode():
    concept = SeriesConcept(logline="A maid finds out her fiance framed her brother.")
    assert (concept.episodes, concept.seconds_per_episode, concept.aspect, concept.language) == (1, 60, "9:16", "en")


@pytest.mark.parametrize("logline", ["", "   ", "short"])
def test_empty_or_tiny_logline_is_rejected_with_a_reason(logline):
    with pytest.raises(ValidationError, match="too short"):
        SeriesConcept(logline=logline)


def test_oversized_logline_is_rejected():
    with pytest.raises(ValidationError, match=f"limit is {MAX_LOGLINE_CHARS}"):
        SeriesConcept(logline="word " * 10_000)


def test_concept_rejects_unknown_fields_and_other_aspects():
    with pytest.raises(ValidationError):
        SeriesConcept(logline="A maid finds out her fiance framed her brother.", aspect="16:9")
    with pytest.raises(ValidationError):
        SeriesConcept(logline="A maid finds out her fiance framed her brother.", budget=3)


def test_palette_must_be_hex_colours():
    with pytest.raises(ValidationError, match="#RRGGBB"):
        Look(hair_color="black", hair_style="bob", skin_tone="fair", build="slim", face="freckles",
             palette=["red", "#000000"])
