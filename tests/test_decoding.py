"""What a request says a reply must not contain, enforced while the embedded model decodes (tools/text/decoding.py),
and how the writer fills it in. A fake tokenizer (one id per word) stands in for the model's."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dramafactory.agents.structured import ask_json
from dramafactory.agents.writer.checks import LineReply, line_checks
from dramafactory.agents.writer.tiny import line_bans
from dramafactory.tools.ledger import Ledger
from dramafactory.tools.text.base import JsonRequest, TextResult
from dramafactory.tools.text.decoding import DecodeGuard, phrase_variants, word_start_index


class WordTokens:
    """One token per space-separated word, a leading space kept with the word (as byte-level BPE does)."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def __call__(self, text: str) -> list[int]:
        words = text.split(" ")
        pieces = [(" " if i or text.startswith(" ") else "") + w for i, w in enumerate(words) if w]
        return [self.ids.setdefault(p, len(self.ids)) for p in pieces]

    def vocabulary(self) -> list[str]:
        return sorted(self.ids, key=self.ids.get)


def test_a_run_of_tokens_of_an_earlier_line_cannot_be_written_again_but_shorter_runs_can():
    tok = WordTokens()
    guard = DecodeGuard(tok, no_repeat=["I am not the one who lied"], repeat_tokens=4)
    written = tok(" I am not the")  # the model has just written a 4-token run's first three tokens... and more
    assert tok(" one")[0] not in guard.banned_next(written[:3])  # "I am not" -> " the" is the ban, not " one"
    assert tok(" the")[0] in guard.banned_next(written[:3])
    assert tok(" one")[0] in guard.banned_next(written[1:4])  # "am not the" -> " one"
    assert guard.banned_next(tok(" You are")) == set()  # runs the text does not have are free


def test_an_examples_text_may_not_be_copied_even_three_tokens_long_in_either_case():
    tok = WordTokens()
    guard = DecodeGuard(tok, no_copy=["Prove it. Who would believe a maid over a Hale?"])
    assert tok(" believe")[0] in guard.banned_next(tok(" who would"))  # lower case too: "Prove it, who would ..."
    assert tok(" believe")[0] in guard.banned_next(tok(" Who would"))
    assert guard.banned_next(tok(" would you")) == set()
    assert tok(" Who")[0] not in guard.banned_next(tok(" Prove it."))  # runs across a full stop are free
    earlier = DecodeGuard(tok, no_repeat=["Prove it. Who would believe a maid over a Hale?"])
    assert tok(" believe")[0] not in earlier.banned_next(tok(" Who would"))  # an earlier line: 4-token runs only


def test_a_banned_name_is_masked_everywhere_and_so_are_words_spelled_from_it():
    tok = WordTokens()
    for word in (" Bryant", " Bryans'", " Brave", " Mary", " is", " Bry", " Michelle", " Michael", "la"):
        tok(word)
    index = word_start_index(tok.vocabulary())
    guard = DecodeGuard(tok, banned_phrases=["Bryan", "Mary is", "la"], banned_spellings=["Bryan"],
                        word_starts=index)
    banned = guard.banned_next([])
    assert {tok(" Bryan")[0], tok("Bryan")[0], tok(" Bryant")[0], tok(" Bryans'")[0]} <= banned
    assert tok(" Brave")[0] not in banned and tok(" Bry")[0] not in banned  # three letters are not the name
    assert tok(" is")[0] in guard.banned_next(tok(" Mary")) and tok(" is")[0] not in banned
    assert tok("la")[0] not in banned  # a two-letter name part would mask a piece of every word
    # Michael may say Michelle's name, which starts with his own four letters
    michael = DecodeGuard(tok, banned_phrases=["Michael"], banned_spellings=["Michael"],
                          allowed_words=["Michelle"], word_starts=index).banned_next([])
    assert tok(" Michael")[0] in michael and tok(" Michelle")[0] not in michael


def test_the_guard_masks_scores_so_the_best_banned_token_is_never_chosen():
    tok = WordTokens()
    guard = DecodeGuard(tok, banned_phrases=["Bryan"])
    scores = np.zeros(len(tok.ids) + 2, dtype=np.single)
    scores[tok(" Bryan")[0]] = 5.0
    out = guard(np.array(tok(" Hello"), dtype=np.intc), scores)
    assert np.isneginf(out[tok(" Bryan")[0]]) and guard.masked == 1
    assert not DecodeGuard(tok) and DecodeGuard(tok, banned_phrases=["Xavi"])


def test_phrase_variants_cover_case_and_a_leading_space():
    assert set(phrase_variants("Bryan is")) == {"Bryan is", " Bryan is"}
    assert set(phrase_variants("mary is")) == {"mary is", "Mary is", " mary is", " Mary is"}


def test_the_writer_bans_the_speakers_names_and_talking_about_the_listener():
    bans = line_bans("Bryan Williams", "Mary Williams")
    assert {"Bryan", "Williams", "Mary is", "Mary was", "My name is"} <= set(bans) and "Mary" not in bans


def test_a_name_spelled_another_way_is_still_the_speakers_own_name():
    check = line_checks("Bryan Williams", "Mary Williams", "Mary faces Bryan.", [])
    assert "own name" in check(LineReply(line="Bryans' wealth is the truth, Mary."))
    assert "own name" in check(LineReply(line="Bryant, you are my daughter."))
    assert check(LineReply(line="You are my daughter, Mary. Be brave.")) is None
    assert check(LineReply(line="Will you ever forgive me, Mary?")) is None  # the surname's letters are free
    to_michelle = line_checks("Michael Stone", "Michelle Grant", "Michael faces Michelle.", [], ["Michael Stone"])
    assert to_michelle(LineReply(line="Michelle, look at me. I came back for you.")) is None
    assert "own name" in to_michelle(LineReply(line="Michaels never run. I came back."))


class Recording:
    name, model, version = "recording", "fake", "0"

    def __init__(self) -> None:
        self.requests: list[JsonRequest] = []

    def complete_json(self, request: JsonRequest) -> TextResult:
        self.requests.append(request)
        return TextResult('{"line": "You came back."}', 10, 3, 0.001, self.model, self.name)


def test_ask_json_hands_the_hints_to_the_backend(tmp_path):
    backend = Recording()
    ask_json(backend, Ledger(tmp_path / "ledger.jsonl"), stage="writer.line", schema=LineReply, system="s",
             examples=[], ask="a", seed=1, banned_phrases=("Bryan",), no_repeat=("You left me.",))
    assert backend.requests[0].banned_phrases == ("Bryan",) and backend.requests[0].no_repeat == ("You left me.",)


class Scripted(Recording):
    """A fake backend (test only) that gives the scripted replies in order."""

    def __init__(self, *replies: str) -> None:
        super().__init__()
        self.replies = list(replies)

    def complete_json(self, request: JsonRequest) -> TextResult:
        self.requests.append(request)
        return TextResult(json.dumps({"line": self.replies.pop(0)}), 10, 3, 0.001, self.model, self.name)


def test_a_rejected_line_is_kept_out_of_the_re_ask_and_the_re_ask_can_change_the_question(tmp_path):
    backend = Scripted("You left me alone.", "You came home.")
    answer = ask_json(backend, Ledger(tmp_path / "ledger.jsonl"), stage="writer.line", schema=LineReply, system="s",
                      examples=[], ask="with earlier lines", seed=1, no_repeat=("Old line.",),
                      checks=[lambda r: "no 'alone'" if "alone" in r.line else None], avoid_rejected_for=("no 'alone'",),
                      reask=lambda reasons: f"without earlier lines ({len(reasons)})")
    first, second = backend.requests
    assert answer.line == "You came home."
    assert first.no_repeat == ("Old line.",) and second.no_repeat == ("Old line.", "You left me alone.")
    assert first.messages[-1][1] == "with earlier lines"
    assert second.messages[-1][1].startswith("without earlier lines (1)") and "no 'alone'" in second.messages[-1][1]
    plain = Scripted("You left me alone.", "You came home.")
    ask_json(plain, Ledger(tmp_path / "plain.jsonl"), stage="writer.line", schema=LineReply, system="s",
             examples=[], ask="a", seed=1, checks=[lambda r: "no 'alone'" if "alone" in r.line else None])
    assert plain.requests[1].no_repeat == ()  # a synopsis must restate the logline: not kept out unless asked


def test_a_line_that_recites_its_purpose_is_refused():
    purpose = "push back hard: deny it, or threaten what Bryan stands to lose"
    check = line_checks("Mary Stone", "Bryan Stone", "Mary faces Bryan.", [], purpose=purpose)
    assert "instructions" in check(LineReply(line="You deny it or threaten what Bryan stands to lose, just as you did."))
    assert check(LineReply(line="Prove it. Who would take your word over mine?")) is None


@pytest.mark.slow
def test_the_embedded_model_keeps_a_banned_word_out_of_its_reply(tmp_path):
    """With the packaged model: asked to say a name it is banned from, it writes around it."""
    pytest.importorskip("llama_cpp")
    from dramafactory.tools.text.embedded_model import ensure_embedded_model

    try:
        path = ensure_embedded_model(None)
    except Exception as exc:  # noqa: BLE001 - the model is installed by install.sh; without it there is nothing to run
        pytest.skip(f"packaged model not available: {exc}")
    from dramafactory.tools.text.llamacpp import LlamaCppText

    backend = LlamaCppText(path)
    schema = {"type": "object", "properties": {"line": {"type": "string"}}, "required": ["line"]}
    ask = [("user", "Say exactly this sentence: Paris is the capital of France.")]
    free = backend.complete_json(JsonRequest(system="You repeat sentences.", messages=ask, schema=schema,
                                             max_tokens=20, temperature=0.0, seed=1))
    assert "Paris" in free.text
    guarded = backend.complete_json(JsonRequest(system="You repeat sentences.", messages=ask, schema=schema,
                                                max_tokens=20, temperature=0.0, seed=1, banned_phrases=("Paris",),
                                                banned_spellings=("Paris",)))
    assert "Paris" not in guarded.text and "Pari" not in guarded.text


def test_a_long_line_is_cut_after_its_last_whole_sentence_that_fits():
    from dramafactory.agents.writer.checks import fit_line

    long = "If the truth comes out, what will happen to Andrew Patton? He should have been in charge of your company."
    assert fit_line(long) == "If the truth comes out, what will happen to Andrew Patton?"
    short = "You came back. After all these years, you came back."
    assert fit_line(short) == short
    one = "I have waited every single night of my life for a father who never once came home to his own daughter"
    assert fit_line(one) == one  # a first sentence over the limit is kept whole
    assert fit_line(f"{one}. Why?") == f"{one}."  # ... and what follows it is cut


def test_a_masked_spaced_token_masks_its_glued_twin_too():
    from dramafactory.tools.text.decoding import glued_twins

    tok = WordTokens()
    for word in (" saved", "saved", " have", " you"):
        tok(word)
    twins = glued_twins(tok.vocabulary())
    assert twins[tok(" saved")[0]] == tok("saved")[0] and tok(" you")[0] not in twins
    guard = DecodeGuard(tok, no_repeat=["we should not have saved you"], glued=twins)
    banned = guard.banned_next(tok(" should not have"))
    assert {tok(" saved")[0], tok("saved")[0]} <= banned  # not "havesaved" either
