"""What the writer accepts from the model and the beat sheet it writes to, shared by both strategies (tiny: one
action or line per call; capable: a whole scene per call), so every line passes the same checks either way.

Code decides the beat sheet (hook, pressure, reveal, reversal, cliffhanger), who is in each scene and how many lines
each beat gets; every line is checked for the failure kinds of a small model (narration, self-naming, repeats,
prompt echoes).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel, Field

from dramafactory.schemas import SeriesBible

from ..structured import Check, similar

BEATS = ["hook", "pressure", "reveal", "reversal", "cliffhanger"]
BEAT_WEIGHTS = [2, 3, 3, 2, 2]
EMOTIONS = {
    "hook": ["shocked", "cold"], "pressure": ["angry", "mocking", "pleading"], "reveal": ["shocked", "determined"],
    "reversal": ["determined", "mocking", "cold"], "cliffhanger": ["afraid", "shocked", "cold"],
}
SCENE_MOOD = {"romance": "romantic", "fantasy": "mysterious", "thriller": "tense", "family": "sad",
              "mystery": "mysterious", "revenge": "tense", "workplace": "tense"}
LINES_PER_SECOND = 0.2  # a 60 s episode carries about 12 lines at micro-drama pace
NARRATION = re.compile(r"\b(says|said|asks|asked|replies|replied|narrator|whispers|shouts)\b|[*()\[\]]|:\s", re.I)
PROMPT_ECHO = re.compile(r"\b(emotion|beat|protagonist|antagonist|wants:|earlier lines)\b", re.I)
# A coder-tuned small model drifts into assistant talk ("I'm sorry, but I can't assist") or talks about the story.
ASSISTANT_TALK = re.compile(
    r"\b(assist|as an ai|story|scene|episode|dialogue|character|example)\b|^i'?m sorry,? but|\bi (can't|cannot) help with",
    re.I)


class ActionReply(BaseModel):
    action: str = Field(max_length=300)


class LineReply(BaseModel):
    line: str = Field(max_length=300)


def beat_plan(total_lines: int) -> list[int]:
    """Lines per beat, at least one each, in the beat sheet's proportions."""
    weight = sum(BEAT_WEIGHTS)
    counts = [max(1, round(total_lines * w / weight)) for w in BEAT_WEIGHTS]
    while sum(counts) > total_lines and max(counts) > 1:
        counts[counts.index(max(counts))] -= 1
    while sum(counts) < total_lines:
        counts[counts.index(min(counts))] += 1
    return counts


def scene_casts(bible: SeriesBible, episode: int) -> list[list[str]]:
    """Two two-handers per episode, paired by the premise: the lead faces the person the story turns on first
    (the daughter confronts the father), then the pairs the relations give (the groom and his brother), then the
    lead with everyone else; the pairings rotate over a series so every character carries scenes."""
    names = [c.name for c in bible.characters]
    lead, central, *others = names
    pairs: list[list[str]] = [[lead, central]]
    for relation in bible.relations:
        pair = [relation.of, relation.person] if relation.of == lead or relation.of != central else \
            [relation.person, relation.of]
        if set(pair) != {lead, central} and all(p in names for p in pair) and \
                not any(set(pair) == set(q) for q in pairs):
            pairs.append(pair)
    for other in others:
        for pair in ([other, lead], [central, other]):
            if not any(set(pair) == set(q) for q in pairs):
                pairs.append(pair)
    if len(pairs) == 1:
        pairs.append([central, lead])
    return [pairs[(episode - 1) % len(pairs)], pairs[episode % len(pairs)]]


def second_person(want: str) -> str:
    """'To keep her family safe.' -> 'to keep your family safe': the speaker hears their want as their own."""
    text = want.strip().rstrip(".")
    text = re.sub(r"\b(her|his|their)\b", "your", text, flags=re.I)
    text = re.sub(r"\b(she|he|they)\b", "you", text, flags=re.I)
    return text[:1].lower() + text[1:]


def sentences(text: str) -> list[str]:
    """The sentences of a line long enough to count as a repeat (three words or more)."""
    return [p for p in re.split(r"(?<=[.!?])\s+", text.strip()) if len(p.split()) >= 3]


def clean_line(text: str, speaker: str = "") -> str:
    """Strip quotes, and a 'Name:' prefix the model copies from the transcript format of earlier lines."""
    text = text.strip().strip('"“”').strip()
    for prefix in (speaker, speaker.split()[0] if speaker else ""):
        if prefix and text.lower().startswith(prefix.lower() + ":"):
            text = text[len(prefix) + 1:].strip().strip('"“”').strip()
    return text


# The ask keeps a line to 14 words; a longer one is cut after a whole sentence (fit_line) to what was asked. Measured
# (2026-12-04): at 16, with a long first sentence keeping the rest, a smoke episode's 6 lines carried 30 s of speech
# in 30 s and its shots ran 41 s; at 12, golden lines fell to 0.61 of the episode's time and fewer of them named the
# premise (engagement 0.48 -> 0.39: the cut sentence was often the one about the story).
SPOKEN_WORDS = 14


def fit_line(text: str, words: int = SPOKEN_WORDS) -> str:
    """An accepted line that runs long, cut after its last whole sentence within `words` (a small model writes a
    good first sentence and then explains it: "If the truth comes out, what will happen to Andrew? He should have
    been in charge of your company."). A line whose first sentence is already too long keeps that sentence whole
    (the checks allow up to 24 words, and half a sentence is worse than a long one) and loses the rest. Measured:
    the smoke episode's 30 s carried 31 s of speech before lines were cut (see SPOKEN_WORDS)."""
    if len(text.split()) <= words:
        return text
    parts = re.split(r"(?<=[.!?])\s+", text.strip())
    kept: list[str] = []
    for part in parts:
        if len(" ".join([*kept, part]).split()) > words:
            break
        kept.append(part)
    return " ".join(kept) if kept else parts[0]


def spoken(reply_line: str, speaker: str = "") -> str:
    """The words a reply's line puts in the episode: cleaned, then cut to length."""
    return fit_line(clean_line(reply_line, speaker))


def repeats(line: str, earlier: Sequence[str]) -> bool:
    """A line repeats an earlier one when it is close to it as a whole, or reuses one of its sentences."""
    return any(similar(line, old) > 0.75 or any(similar(a, b) > 0.8 for a in sentences(line) for b in sentences(old))
               for old in earlier)


def _spells(word: str, name: str, others: Sequence[str]) -> bool:
    """'Bryans'' or 'Bryant' for Bryan: a capitalised word that starts with the first name's first four letters
    (the embedded model, kept from a name's own tokens, spells it another way) and is not one of the other
    people's names (Michelle talking to Michael)."""
    word = word.strip(".,!?;:'\"’").removesuffix("'s").removesuffix("’s").lower()
    return len(name) >= 4 and word[:1].isalpha() and word.startswith(name[:4]) and word != name and \
        not any(word.startswith(other) or other.startswith(word) for other in others)


REPEAT_REASON = "that repeats an earlier line; say something new"  # quoting the line makes the model copy it


def line_checks(speaker: str, listener: str, action: str, earlier: Sequence[str],
                cast: Sequence[str] = (), purpose: str = "") -> Check:
    """`cast`: every character's name, so a word that begins another person's name is never read as the speaker
    spelling their own. `purpose`: the instruction words of what the ask told the line to do, which the line must
    not recite ("You deny it or threaten what Bryan stands to lose", seen in a README run)."""
    speaker_parts = [p.lower() for p in speaker.split()]
    others = [part.lower() for name in [*cast, listener] if name != speaker for part in name.split()]
    listener_first = listener.split()[0] if listener else ""

    def check(reply: LineReply) -> str | None:
        line = spoken(reply.line, speaker)  # what the episode will say: cut, a line can come to restate the action
        words = line.split()
        if not 2 <= len(words) <= 24:
            return "the line must be 2 to 20 words"
        if any(p in (w.strip(".,!?;:'\"").lower().removesuffix("'s") for w in words) for p in speaker_parts) or \
                any(w[:1].isupper() and _spells(w, speaker_parts[0], others) for w in words):
            return f"{speaker} must not say their own name; speak in the first person"
        if listener_first and re.search(rf"\b{re.escape(listener_first)}\s+(?:is|was|has|will)\b", line, re.I):
            # "Bryan is your father", said to Bryan: the 0.5B model talks about the listener, or mixes up who is who
            return f"you are talking to {listener_first}: say 'you' to {listener_first}, not '{listener_first} is'"
        if PROMPT_ECHO.search(line):
            return "that repeats the instructions; write what the character says"
        if NARRATION.search(line):
            return "that is narration or a stage direction; write only the words spoken aloud"
        if ASSISTANT_TALK.search(line):
            return "that is assistant or story talk; write what this person says in the moment"
        if similar(line, action) > 0.6:
            return "that restates the action; write what the character says about it"
        if purpose and similar(line, purpose) > 0.6:
            return "that repeats the instructions; write what the character says"
        if repeats(line, earlier):
            return REPEAT_REASON
        return None

    return check


def action_check(cast: list[str]) -> Check:
    firsts = [name.split()[0].lower() for name in cast]

    def check(reply: ActionReply) -> str | None:
        if not 4 <= len(reply.action.split()) <= 32:
            return "one sentence of 5 to 20 words"
        if not any(first in reply.action.lower() for first in firsts):
            return f"name who acts: {' or '.join(cast)}"
        return None

    return check
