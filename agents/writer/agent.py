"""The writer: turns one episode outline into a script of scenes, beats and spoken lines.

Code decides the beat sheet (hook, pressure, reveal, reversal, cliffhanger), who is in each scene, who speaks
each line and with what emotion; the model writes each beat's action and each line, one at a time, and every
line is checked for the failure kinds of a small model (narration, self-naming, repeats, prompt echoes).
"""

from __future__ import annotations

import difflib
import re

from pydantic import BaseModel, Field

from dramafactory.schemas import Beat, DialogueLine, EpisodeScript, Scene, SeriesBible, SeriesConcept

from ..context import AgentContext
from ..structured import StructuredOutputError, ask_json, no_copy_of_example, stable_seed, with_note, written_in
from . import prompts

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


def _similar(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.lower(), b.lower()).ratio()


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
    """Two two-handers per episode; the pairings rotate so every character carries scenes across a series."""
    lead, rival, ally = (c.name for c in bible.characters[:3])
    pairs = [[lead, rival], [ally, lead], [rival, ally]]
    first = pairs[(episode - 1) % 3]
    second = pairs[episode % 3]
    return [first, second]


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


def line_checks(speaker: str, listener: str, action: str, earlier: list[str]):
    speaker_parts = [p.lower() for p in speaker.split()]

    def check(reply: LineReply) -> str | None:
        line = clean_line(reply.line, speaker)
        words = line.split()
        if not 2 <= len(words) <= 24:
            return "the line must be 2 to 20 words"
        if any(p in (w.strip(".,!?;:'\"").lower().removesuffix("'s") for w in words) for p in speaker_parts):
            return f"{speaker} must not say their own name; speak in the first person"
        if PROMPT_ECHO.search(line):
            return "that repeats the instructions; write what the character says"
        if NARRATION.search(line):
            return "that is narration or a stage direction; write only the words spoken aloud"
        if ASSISTANT_TALK.search(line):
            return "that is assistant or story talk; write what this person says in the moment"
        if _similar(line, action) > 0.6:
            return "that restates the action; write what the character says about it"
        for old in earlier:
            if _similar(line, old) > 0.75 or any(_similar(a, b) > 0.8 for a in sentences(line) for b in sentences(old)):
                return "that repeats an earlier line; say something new"  # quoting it makes the model copy it
        return None

    return check


def action_check(cast: list[str]):
    firsts = [name.split()[0].lower() for name in cast]

    def check(reply: ActionReply) -> str | None:
        if not 4 <= len(reply.action.split()) <= 32:
            return "one sentence of 5 to 20 words"
        if not any(first in reply.action.lower() for first in firsts):
            return f"name who acts: {' or '.join(cast)}"
        return None

    return check


def write_script(ctx: AgentContext, bible: SeriesBible, concept: SeriesConcept, episode: int, seed: int,
                 earlier_lines: list[str], note: str | None = None) -> EpisodeScript:
    """`note`: a reviewer's note on a rejected draft; it goes into every ask (the graph also changes the seed)."""
    outline = bible.episodes[episode - 1]
    outline_text = f"{outline.hook} {outline.conflict} {outline.cliffhanger}"
    counts = beat_plan(max(len(BEATS), round(concept.seconds_per_episode * LINES_PER_SECOND)))
    casts = scene_casts(bible, episode)
    flags: list[str] = []
    used = list(earlier_lines)
    mood = SCENE_MOOD.get(concept.genre.lower(), "tense")
    no_copy = no_copy_of_example(prompts.EXAMPLE_NAMES, prompts.EXAMPLE_TEXTS)
    script = written_in(concept.language)
    scene_beats = [BEATS[:3], BEATS[3:]]
    # All actions first, then all lines: consecutive calls then share their prompt prefix (system and examples),
    # which llama.cpp keeps in its KV cache instead of evaluating it again.
    actions: dict[str, str] = {}
    for scene_index, kinds in enumerate(scene_beats):
        location = bible.locations[scene_index % len(bible.locations)]
        cast = casts[scene_index]
        for kind in kinds:
            try:
                actions[kind] = ask_json(
                    ctx.text, ctx.ledger, stage="writer.action", schema=ActionReply, system=prompts.SYSTEM,
                    examples=[prompts.ACTION_EXAMPLE], seed=stable_seed(seed, episode, kind),
                    ask=with_note(prompts.ACTION_ASK.format(outline=outline_text, location=location.name,
                                                  time=location.time_of_day, characters=", ".join(cast), kind=kind,
                                                  guide=prompts.BEAT_GUIDE[kind]), note),
                    checks=[no_copy, script, action_check(cast)], max_tries=ctx.settings.max_reasks, max_tokens=80,
                ).action.strip()
            except StructuredOutputError as exc:
                flags.append(f"episode {episode} {kind} action: stock text ({exc.reasons[-1]})")
                actions[kind] = f"{cast[0]} faces {cast[1]}."
    scenes: list[Scene] = []
    for scene_index, kinds in enumerate(scene_beats):
        location = bible.locations[scene_index % len(bible.locations)]
        cast = casts[scene_index]
        beats: list[Beat] = []
        turn = 0
        for kind in kinds:
            beat_number = BEATS.index(kind)
            action = actions[kind]
            lines: list[DialogueLine] = []
            for line_number in range(counts[beat_number]):
                speaker = cast[turn % 2]
                listener = cast[(turn + 1) % 2]
                turn += 1
                emotion = EMOTIONS[kind][line_number % len(EMOTIONS[kind])]
                character = bible.character(speaker)
                recent = [f"{ln.speaker}: {ln.text}" for b in beats for ln in b.lines] + \
                    [f"{ln.speaker}: {ln.text}" for ln in lines]
                line_id = f"e{episode:02d}s{scene_index + 1}b{beat_number + 1}l{line_number + 1}"
                try:
                    reply = ask_json(
                        ctx.text, ctx.ledger, stage="writer.line", schema=LineReply, system=prompts.SYSTEM,
                        examples=prompts.LINE_EXAMPLES, seed=stable_seed(seed, line_id),
                        ask=with_note(prompts.LINE_ASK.format(action=action, speaker=speaker.split()[0],
                                                    role=", ".join(filter(None, [character.role,
                                                                                 character.description])),
                                                    want=second_person(character.want), listener=listener,
                                                    emotion=emotion,
                                                    earlier="\n".join(recent[-2:]) or "(none)",
                                                    speaker_first=speaker.split()[0],
                                                    listener_first=listener.split()[0]), note),
                        checks=[no_copy, script, line_checks(speaker, listener, action, used)],
                        max_tries=ctx.settings.max_reasks, max_tokens=60, temperature=0.8,
                    )
                    text, fallback = clean_line(reply.line, speaker), False
                except StructuredOutputError as exc:
                    stock = [s for s in prompts.STOCK_LINES[kind] if all(_similar(s, u) <= 0.75 for u in used)]
                    text, fallback = (stock or prompts.STOCK_LINES[kind])[0], True
                    flags.append(f"{line_id}: stock line ({exc.reasons[-1]})")
                used.append(text)
                lines.append(DialogueLine(id=line_id, speaker=speaker, text=text, emotion=emotion, fallback=fallback))
            beats.append(Beat(kind=kind, action=action, lines=lines))
        scenes.append(Scene(number=scene_index + 1, location=location.name, time_of_day=location.time_of_day,
                            characters=cast, mood="tense" if scene_index == 0 and mood != "romantic" else mood,
                            beats=beats))
    return EpisodeScript(episode=episode, title=outline.title, scenes=scenes, flags=flags)
