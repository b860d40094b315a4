"""The writer for a small model (text_strategy "tiny", the packaged 0.5B): code decides who speaks each line and
with what emotion; the model writes each beat's action and each line, one call at a time. The capable strategy
falls back to a scene written this way (write_scene) when its one call for the scene fails.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel

from dramafactory.schemas import Beat, DialogueLine, EpisodeScript, Location, Scene, SeriesBible, SeriesConcept

from ..context import AgentContext
from ..director.story import inversion_problem, named_logline
from ..parallel import run_all
from ..structured import (
    Check,
    StructuredOutputError,
    ask_json,
    no_copy_of_example,
    stable_seed,
    with_note,
    written_in,
)
from . import prompts
from .beats import (
    absent_kin_words,
    kin_swap_problem,
    line_purpose,
    phantom_relative_problem,
    stock_line,
    tie_words,
)
from .checks import (
    BEATS,
    EMOTIONS,
    LINES_PER_SECOND,
    REPEAT_REASON,
    SCENE_MOOD,
    ActionReply,
    LineReply,
    action_check,
    beat_plan,
    line_checks,
    scene_casts,
    second_person,
    spoken,
)

SCENE_BEATS = [BEATS[:3], BEATS[3:]]  # two scenes: the set-up beats, then the turn and the cliffhanger


def scene_location(bible: SeriesBible, scene_index: int) -> Location:
    return bible.locations[scene_index % len(bible.locations)]


@dataclass
class EpisodeJob:
    """One episode's script: what every ask of either strategy needs."""

    ctx: AgentContext
    bible: SeriesBible
    concept: SeriesConcept
    episode: int
    seed: int
    earlier_lines: list[str]  # every line of the series' earlier episodes: no line may repeat one
    note: str | None = None
    # Per scene, the facts the series memory recalled for it (memory/facts.py): what earlier episodes established.
    established: list[list[str]] = field(default_factory=list)
    counts: list[int] = field(init=False)  # lines per beat, in BEATS order
    casts: list[list[str]] = field(init=False)

    def __post_init__(self) -> None:
        self.counts = beat_plan(max(len(BEATS), round(self.concept.seconds_per_episode * LINES_PER_SECOND)))
        self.casts = scene_casts(self.bible, self.episode)

    @property
    def premise_line(self) -> str:
        """The logline with the cast's names in it: what the story is, for every ask."""
        premise = self.bible.premise
        return named_logline(self.bible.logline, premise) if premise else self.bible.logline

    def premise_checks(self, text_of: Callable[[BaseModel], str]) -> list[Check]:
        """No answer may swap who did what to whom in the premise ('a patient saved by her runaway father')."""
        premise = self.bible.premise
        if premise is None:
            return []
        return [lambda reply: inversion_problem(text_of(reply), premise)]

    @property
    def cast_names(self) -> list[str]:
        return [c.name for c in self.bible.characters]

    def established_text(self, scene_index: int) -> str:
        facts = self.established[scene_index] if scene_index < len(self.established) else []
        return prompts.ESTABLISHED.format(facts=" ".join(facts[:4])) if facts else ""

    @property
    def outline_text(self) -> str:
        outline = self.bible.episodes[self.episode - 1]
        return f"{outline.hook} {outline.conflict} {outline.cliffhanger}"

    @property
    def base(self) -> list[Check]:
        return [no_copy_of_example(prompts.EXAMPLE_NAMES, prompts.EXAMPLE_TEXTS), written_in(self.concept.language)]

    def location(self, scene_index: int) -> Location:
        return scene_location(self.bible, scene_index)

    def line_id(self, scene_index: int, kind: str, line_number: int) -> str:
        return f"e{self.episode:02d}s{scene_index + 1}b{BEATS.index(kind) + 1}l{line_number + 1}"

    def scene(self, scene_index: int, beats: list[Beat]) -> Scene:
        location = self.location(scene_index)
        mood = SCENE_MOOD.get(self.concept.genre.lower(), "tense")
        return Scene(number=scene_index + 1, location=location.name, time_of_day=location.time_of_day,
                     characters=self.casts[scene_index], mood="tense" if scene_index == 0 and mood != "romantic"
                     else mood, beats=beats)


def ask_action(job: EpisodeJob, scene_index: int, kind: str, written: list[str] | None = None) -> tuple[str, str | None]:
    """One beat's action, or stock text and the flag saying so. `written`: the actions written before it, which it
    must not copy runs of (filled in order where the calls run one at a time; a backend taking several at once
    ignores the hint anyway)."""
    location, cast = job.location(scene_index), job.casts[scene_index]
    try:
        return ask_json(
            job.ctx.text, job.ctx.ledger, stage="writer.action", schema=ActionReply, system=prompts.SYSTEM,
            examples=[prompts.ACTION_EXAMPLE], seed=stable_seed(job.seed, job.episode, kind),
            ask=with_note(prompts.ACTION_ASK.format(premise=job.premise_line, established=job.established_text(scene_index),
                                                    outline=job.outline_text, location=location.name,
                                                    time=location.time_of_day, characters=", ".join(cast), kind=kind,
                                                    guide=prompts.BEAT_GUIDE[kind]), job.note),
            checks=[*job.base, action_check(cast), *job.premise_checks(lambda r: r.action),
                    lambda r: phantom_relative_problem(r.action, job.bible)],
            max_tries=job.ctx.settings.max_reasks, max_tokens=80, banned_phrases=absent_kin_words(job.bible),
            no_repeat=tuple(written or ()), no_copy=(prompts.ACTION_EXAMPLE_TEXT,),
        ).action.strip(), None
    except StructuredOutputError as exc:
        return f"{cast[0]} faces {cast[1]}.", f"episode {job.episode} {kind} action: stock text ({exc.reasons[-1]})"


# "Mary can be your daughter", said to Mary (README run): the checks refuse is/was/has/will; the guard keeps out more
LISTENER_VERBS = ("is", "was", "has", "will", "can", "can't", "does", "doesn't", "would")


def line_bans(speaker: str, listener: str) -> tuple[str, ...]:
    """What a line may not say, kept out while the model writes it: the speaker's own name, and talking about the
    listener to the listener ("Bryan is your father", said to Bryan), which the checks refuse anyway; and "My name
    is", which they do not. The first name's other spellings are kept out too (`banned_spellings`, in ask_line)."""
    listener_first = listener.split()[0]
    # "My name is Steven Robinson", said by Mary (README run): the small model mixes up who speaks
    return (*speaker.split(), *(f"{listener_first} {verb}" for verb in LISTENER_VERBS), "My name is", "My name's")


def ask_line(job: EpisodeJob, *, line_id: str, kind: str, speaker: str, listener: str, emotion: str, action: str,
             recent: list[str], used: list[str]) -> tuple[DialogueLine, str | None]:
    """One line for a fixed speaker, checked against `used` (every line it must not repeat); a stock line and its
    flag when the model gives no acceptable one. The ask says what the listener is to the speaker and what the
    beat's line does with the premise (confront, deny, reveal the relation, plead, raise the stakes)."""
    character = job.bible.character(speaker)
    listener_first = listener.split()[0]
    purpose = line_purpose(job.bible, kind, speaker, listener)
    # the purpose's own instruction words, without what it asks the line to say (the truth, the stakes), which a
    # good line does say: "What happens if the truth comes out?" for "raise the stakes: what happens if ..."
    instruction = re.sub(r"\{\w+\}", "", prompts.LINE_PURPOSE[kind])

    def line_ask(earlier: list[str]) -> str:
        return with_note(prompts.LINE_ASK.format(
            action=action, speaker=speaker.split()[0],
            role=", ".join(filter(None, [character.role, character.description])), want=second_person(character.want),
            listener=listener, tie=tie_words(job.bible, speaker, listener), emotion=emotion, premise=job.premise_line,
            earlier="\n".join(earlier[-2:]) or "(none)", purpose=purpose,
            listener_first=listener_first), job.note)

    def reask(reasons: list[str]) -> str:
        # A 0.5B model rewords the lines it is shown (measured on the README concept: 7 of 8 rejected line tries
        # repeated one of the two earlier lines in the ask): after a repeat, it is asked without them.
        return line_ask([] if REPEAT_REASON in reasons else recent)

    try:
        reply = ask_json(
            job.ctx.text, job.ctx.ledger, stage="writer.line", schema=LineReply, system=prompts.SYSTEM,
            examples=prompts.LINE_EXAMPLES, seed=stable_seed(job.seed, line_id), ask=line_ask(recent), reask=reask,
            checks=[*job.base, line_checks(speaker, listener, action, used, job.cast_names, instruction),
                    lambda r: kin_swap_problem(spoken(r.line, speaker), job.bible, speaker, listener)],
            max_tries=job.ctx.settings.max_reasks, max_tokens=60, temperature=0.8,
            banned_phrases=(*line_bans(speaker, listener), *absent_kin_words(job.bible)), no_repeat=tuple(used),
            no_copy=tuple(prompts.EXAMPLE_TEXTS),
            avoid_rejected_for=(REPEAT_REASON,), banned_spellings=(speaker.split()[0],),
            allowed_words=tuple(part for name in job.cast_names if name != speaker for part in name.split()),
        )
        text, fallback, flag = spoken(reply.line, speaker), False, None
    except StructuredOutputError as exc:
        text, fallback = stock_line(job.bible, kind, speaker, listener, used), True
        flag = f"{line_id}: stock line ({exc.reasons[-1]})"
    return DialogueLine(id=line_id, speaker=speaker, text=text, emotion=emotion, fallback=fallback), flag


def write_lines(job: EpisodeJob, scene_index: int, actions: dict[str, str], used: list[str],
                flags: list[str]) -> Scene:
    """The scene's lines, in order: each reads the last two lines, so they stay sequential. Speakers alternate and
    emotions follow the beat. Appends every line to `used` and every fallback to `flags`."""
    cast = job.casts[scene_index]
    beats: list[Beat] = []
    turn = 0
    for kind in SCENE_BEATS[scene_index]:
        lines: list[DialogueLine] = []
        for line_number in range(job.counts[BEATS.index(kind)]):
            speaker, listener = cast[turn % 2], cast[(turn + 1) % 2]
            turn += 1
            recent = [f"{ln.speaker}: {ln.text}" for b in beats for ln in b.lines] + \
                [f"{ln.speaker}: {ln.text}" for ln in lines]
            line, flag = ask_line(job, line_id=job.line_id(scene_index, kind, line_number), kind=kind,
                                  speaker=speaker, listener=listener,
                                  emotion=EMOTIONS[kind][line_number % len(EMOTIONS[kind])], action=actions[kind],
                                  recent=recent, used=used)
            flags += [flag] if flag else []
            used.append(line.text)
            lines.append(line)
        beats.append(Beat(kind=kind, action=actions[kind], lines=lines))
    return job.scene(scene_index, beats)


def ask_actions(job: EpisodeJob, scene_indexes: list[int], flags: list[str]) -> dict[str, str]:
    """The beats' actions do not depend on each other: sent together (run_all; inline and in order on a backend
    that takes one call at a time)."""
    kinds = [(s, kind) for s in scene_indexes for kind in SCENE_BEATS[s]]
    written: list[str] = []

    def action(scene_index: int, kind: str) -> tuple[str, str | None]:
        answer = ask_action(job, scene_index, kind, list(written))
        written.append(answer[0])
        return answer

    calls: list[Callable[[], tuple[str, str | None]]] = [lambda s=s, k=k: action(s, k) for s, k in kinds]
    answers = run_all(job.ctx.text, calls)
    flags += [flag for _, flag in answers if flag]
    return {kind: action for (_, kind), (action, _) in zip(kinds, answers, strict=True)}


def write_scene(job: EpisodeJob, scene_index: int, used: list[str]) -> tuple[Scene, list[str]]:
    """One scene the tiny way (the capable strategy's fallback): its actions, then its lines."""
    flags: list[str] = []
    actions = ask_actions(job, [scene_index], flags)
    return write_lines(job, scene_index, actions, used, flags), flags


def write_script(job: EpisodeJob) -> EpisodeScript:
    # All actions first, then all lines: consecutive calls then share their prompt prefix (system and examples),
    # which llama.cpp keeps in its KV cache instead of evaluating it again.
    flags: list[str] = []
    actions = ask_actions(job, list(range(len(SCENE_BEATS))), flags)
    used = list(job.earlier_lines)
    scenes = [write_lines(job, index, actions, used, flags) for index in range(len(SCENE_BEATS))]
    return EpisodeScript(episode=job.episode, title=job.bible.episodes[job.episode - 1].title, scenes=scenes,
                         flags=flags)
