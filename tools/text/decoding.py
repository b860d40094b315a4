"""What a request says its reply must not contain, enforced by the embedded model while it writes.

A 0.5B model's rejected lines are mostly of a few kinds (measured on the README's concept: 9 of 16 rejected line
tries copied an earlier line, 4 copied the few-shot example, 5 had the speaker say their own name). Re-asking with
the reason costs a call and often gets the same mistake back; masking the tokens that would make the mistake costs
a dictionary lookup per token. The checks still judge every reply: this only makes the first try pass more often.

- `banned_phrases` ("Mary", "Bryan is"): the last token of the phrase is masked whenever the tokens before it
  were just written; a one-token phrase is masked everywhere.
- `banned_spellings`: a name of four letters or more masks every token that starts a word with its first four
  letters ("Bryant", "Bryans" for Bryan): masked a name's exact tokens, the model spells it another way. Tokens
  that begin one of `allowed_words` (the other people's names) stay free.
- `no_repeat`: no run of `NO_REPEAT_TOKENS` tokens of these texts is written again (no-repeat n-grams, against
  the given texts rather than the reply itself).
- `no_copy`: the same with runs of `NO_COPY_TOKENS`, in the text's case and in lower case, for the few-shot
  examples' answers: a golden run's lines took "Prove it, who would believe a wedding planner over a married
  man?" from "Prove it. Who would believe a maid over a Hale?", past the 4-token rule by a comma and a capital.

Hand-written because llama-cpp-python offers only a per-token logit bias, and the rule here depends on the tokens
just written. Server backends (vLLM, llama.cpp's server, Ollama) do not get these hints; their replies go through
the same checks and re-asks.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

NO_REPEAT_TOKENS = 4  # four tokens: "You have saved me" may not come back; "You are" and "I know" still may
NO_COPY_TOKENS = 3  # the examples' "who would believe", "desk drawer as"; an example is never what a series says


def phrase_variants(phrase: str) -> list[str]:
    """How a phrase can appear in running text: after a space or not, as given or capitalised (not lowercased: a
    name that is also a word, "Park", "Hope", stays free as the word)."""
    forms = {phrase, phrase[:1].upper() + phrase[1:]}
    return sorted(forms | {" " + form for form in forms})


def word_start_index(vocabulary: Sequence[str]) -> dict[str, set[int]]:
    """Token ids by the first four characters of their text, leading spaces dropped: built once per model, so a
    name's prefix ban is a lookup (a scan of Qwen's 151k tokens per call cost ~40 ms)."""
    index: dict[str, set[int]] = defaultdict(set)
    for token, text in enumerate(vocabulary):
        word = text.lstrip(" ")
        if len(word) >= 4:
            index[word[:4]].add(token)
    return dict(index)


def glued_twins(vocabulary: Sequence[str]) -> dict[int, int]:
    """Each token whose text starts with a space, to the token of the same text without it ("saved" for " saved")."""
    by_text = {text: token for token, text in enumerate(vocabulary)}
    return {token: by_text[text[1:]] for token, text in enumerate(vocabulary)
            if text.startswith(" ") and len(text) > 1 and text[1:] in by_text}


class DecodeGuard:
    """A llama-cpp-python logits processor: masks the tokens that would write a banned phrase or repeat a run of
    tokens of a given text. `tokenize` turns text into the model's token ids (no BOS)."""

    def __init__(self, tokenize: Callable[[str], Sequence[int]], *, banned_phrases: Iterable[str] = (),
                 no_repeat: Iterable[str] = (), repeat_tokens: int = NO_REPEAT_TOKENS, no_copy: Iterable[str] = (),
                 banned_spellings: Iterable[str] = (), allowed_words: Iterable[str] = (),
                 word_starts: Mapping[str, set[int]] | None = None, glued: Mapping[int, int] | None = None) -> None:
        """`word_starts`: the tokens whose text (leading spaces dropped) starts with each four-letter string
        (`word_start_index`; for `banned_spellings`; None: those are skipped). `glued`: each token that starts with
        a space, to the same text without it (`glued_twins`): a masked " saved" also masks "saved", or the model
        writes the masked word glued to the one before ("havesaved", seen in a README run's subtitle)."""
        self.glued = glued or {}
        self.always: set[int] = set()
        # after[k][the last k tokens written] -> the tokens that may not come next
        self.after: dict[int, dict[tuple[int, ...], set[int]]] = defaultdict(lambda: defaultdict(set))
        for phrase in banned_phrases:
            if len(phrase.strip()) >= 3:  # "de", "la": word pieces of everything else
                for form in phrase_variants(phrase.strip()):
                    self._ban(tokenize(form))
        if word_starts:
            free: set[int] = set()
            for word in allowed_words:
                for form in phrase_variants(word.strip()):
                    free.update(tokenize(form)[:1])
            for name in banned_spellings:
                if len(name) >= 4 and name.isalpha():
                    self.always |= word_starts.get(name[:1].upper() + name[1:4], set()) - free
        # an example's text, sentence by sentence: a short run across a full stop (" this. You") is no copy
        copy_sentences = [part for text in no_copy for part in re.split(r"(?<=[.!?])\s+", text.strip()) if part]
        for texts, run, cases in ((no_repeat, repeat_tokens, False), (copy_sentences, NO_COPY_TOKENS, True)):
            for text in texts:
                for form in {text.strip(), " " + text.strip(), *((text.strip().lower(), " " + text.strip().lower())
                                                                  if cases else ())}:
                    tokens = tokenize(form)
                    for end in range(run, len(tokens) + 1):
                        self._ban(tokens[end - run:end])
        self.masked = 0  # how many token choices the guard changed, for tests and tuning

    def _ban(self, tokens: Sequence[int]) -> None:
        if len(tokens) == 1:
            self.always.add(tokens[0])
        elif tokens:
            self.after[len(tokens) - 1][tuple(tokens[:-1])].add(tokens[-1])

    def banned_next(self, written: Sequence[int]) -> set[int]:
        banned = set(self.always)
        for k, rules in self.after.items():
            if len(written) >= k:
                banned |= rules.get(tuple(written[len(written) - k:]), set())
        return banned | {self.glued[t] for t in banned if t in self.glued}

    def __bool__(self) -> bool:
        return bool(self.always or self.after)

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        longest = max(self.after, default=0)
        banned = self.banned_next([int(t) for t in input_ids[len(input_ids) - longest:]] if longest else [])
        if banned:
            ids = np.fromiter(banned, dtype=np.intp)
            # Only where the model would otherwise pick one: a masked token it would not choose changes nothing.
            if int(np.argmax(scores)) in banned:
                self.masked += 1
            scores[ids] = -np.inf
        return scores
