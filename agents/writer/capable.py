"""The writer for a capable model (text_strategy "capable"): one structured call per scene writes its beats'
actions and lines; the episode's two scenes go out together (agents/parallel.py).

The schema keeps what code decides in code: the beats and their order (one field per beat kind, as the tiny path
splits them), who may speak (an enum of the scene's two people), the emotions a beat allows (EMOTIONS) and how many
lines each beat gets (beat_plan, give or take one). Every line then passes the same checks as a tiny-path line.
A scene whose call fails after its re-asks is written the tiny way, and script.flags says so.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, create_model

from dramafactory.schemas import Beat, DialogueLine, EpisodeScript, Scene

from ..parallel import run_all
from ..structured import (
    Check,
    StructuredOutputError,
    ask_json,
    each_part,
    no_copy_of_example,
    stable_seed,
    with_note,
    written_in,
)
from . import prompts
from .checks import BEATS, EMOTIONS, ActionReply, LineReply, action_check, line_checks, repeats, spoken
from .tiny import SCENE_BEATS, EpisodeJob, ask_line, write_scene

TOKENS_PER_LINE = 90
TOKENS_PER_BEAT = 60


def planned(job: EpisodeJob, scene_index: int) -> dict[str, int]:
    return {kind: job.counts[BEATS.index(kind)] for kind in SCENE_BEATS[scene_index]}


def scene_schema(job: EpisodeJob, scene_index: int) -> type[BaseModel]:
    cast = tuple(job.casts[scene_index])
    fields: dict = {}
    for kind, count in planned(job, scene_index).items():
        line = create_model(f"{kind.title()}Line", speaker=(Literal[cast], ...),
                            emotion=(Literal[tuple(EMOTIONS[kind])], ...), text=(str, Field(max_length=240)))
        beat = create_model(f"{kind.title()}Beat", action=(str, Field(max_length=300)),
                            lines=(list[line], Field(min_length=max(1, count - 1), max_length=count + 1)))
        fields[kind] = (beat, ...)
    return create_model(f"Scene{scene_index + 1}", **fields)


def scene_problem(reply: BaseModel, job: EpisodeJob, scene_index: int, earlier: list[str]) -> str | None:
    """`earlier`: the lines no line of this scene may repeat (the series' earlier episodes'); the scene's own
    earlier lines are added as the check walks through it."""
    cast = job.casts[scene_index]
    counts = planned(job, scene_index)
    beats = {kind: getattr(reply, kind) for kind in counts}
    total = sum(len(b.lines) for b in beats.values())
    if abs(total - sum(counts.values())) > 1:
        plan = ", ".join(f"{kind} {count}" for kind, count in counts.items())
        return f"write {sum(counts.values())} lines in all ({plan})"
    if {ln.speaker for b in beats.values() for ln in b.lines} != set(cast):
        return f"both {cast[0].split()[0]} and {cast[1].split()[0]} speak in this scene"
    said = list(earlier)
    for kind, beat in beats.items():
        reason = action_check(cast)(ActionReply(action=beat.action))
        if reason:
            return f"the {kind} action: {reason}"
        for number, line in enumerate(beat.lines, 1):
            listener = next(name for name in cast if name != line.speaker)
            reason = line_checks(line.speaker, listener, beat.action, said,
                                 [c.name for c in job.bible.characters])(LineReply(line=line.text))
            if reason:
                return f"{kind} line {number} ({line.speaker.split()[0]}): {reason}"
            said.append(spoken(line.text, line.speaker))
    return None


def scene_ask(job: EpisodeJob, scene_index: int) -> str:
    cast = job.casts[scene_index]
    location = job.location(scene_index)
    people = []
    for name in cast:
        c = job.bible.character(name)
        want = c.want.strip().rstrip(".")
        people.append(prompts.SCENE_PERSON.format(name=name, role=", ".join(filter(None, [c.role, c.description])),
                                                  want=want[:1].lower() + want[1:]))
    counts = planned(job, scene_index)
    beats = "\n".join(prompts.SCENE_BEAT.format(kind=k, guide=prompts.BEAT_GUIDE[k], count=n) for k, n in counts.items())
    return prompts.SCENE_ASK.format(outline=job.outline_text, location=location.name, time=location.time_of_day,
                                    characters=", ".join(cast), people="\n".join(people), count=len(counts),
                                    beats=beats, first=cast[0].split()[0], second=cast[1].split()[0])


def ask_scene(job: EpisodeJob, scene_index: int) -> Scene:
    counts = planned(job, scene_index)
    checks: list[Check] = [
        lambda reply: scene_problem(reply, job, scene_index, job.earlier_lines),
        each_part(no_copy_of_example(prompts.EXAMPLE_NAMES, prompts.CAPABLE_EXAMPLE_TEXTS)),
        each_part(written_in(job.concept.language)),
    ]
    reply = ask_json(job.ctx.text, job.ctx.ledger, stage="writer.scene", schema=scene_schema(job, scene_index),
                     system=prompts.SYSTEM, examples=[prompts.SCENE_EXAMPLE],
                     ask=with_note(scene_ask(job, scene_index), job.note),
                     seed=stable_seed(job.seed, job.episode, "scene", scene_index + 1), checks=checks,
                     max_tries=job.ctx.settings.max_reasks,
                     max_tokens=sum(TOKENS_PER_LINE * (n + 1) + TOKENS_PER_BEAT for n in counts.values()))
    beats = []
    for kind in counts:
        beat = getattr(reply, kind)
        lines = [DialogueLine(id=job.line_id(scene_index, kind, number), speaker=line.speaker,
                              text=spoken(line.text, line.speaker), emotion=line.emotion)
                 for number, line in enumerate(beat.lines)]
        beats.append(Beat(kind=kind, action=beat.action.strip(), lines=lines))
    return job.scene(scene_index, beats)


def write_one(job: EpisodeJob, scene_index: int) -> tuple[Scene, list[str]]:
    try:
        return ask_scene(job, scene_index), []
    except StructuredOutputError as exc:
        flag = f"episode {job.episode} scene {scene_index + 1}: written beat by beat ({exc.reasons[-1]})"
        scene, flags = write_scene(job, scene_index, list(job.earlier_lines))
        return scene, [flag, *flags]


def rewrite_repeats(job: EpisodeJob, first: Scene, second: Scene, flags: list[str]) -> Scene:
    """The two scenes were written at the same time, so neither saw the other's lines: a line of the second that
    repeats one of the first is asked again on its own, the tiny way, knowing every other line."""
    before = [ln.text for b in first.beats for ln in b.lines]
    beats: list[Beat] = []
    for beat in second.beats:
        lines: list[DialogueLine] = []
        for line in beat.lines:
            if repeats(line.text, before):
                said = [f"{ln.speaker}: {ln.text}" for b in beats for ln in b.lines] + \
                    [f"{ln.speaker}: {ln.text}" for ln in lines]
                others = [ln.text for b in second.beats for ln in b.lines if ln.id != line.id]
                listener = next(name for name in second.characters if name != line.speaker)
                line, flag = ask_line(job, line_id=line.id, kind=beat.kind, speaker=line.speaker, listener=listener,
                                      emotion=line.emotion, action=beat.action, recent=said,
                                      used=[*job.earlier_lines, *before, *others])
                flags += [flag] if flag else []
            lines.append(line)
        beats.append(beat.model_copy(update={"lines": lines}))
    return second.model_copy(update={"beats": beats})


def write_script(job: EpisodeJob) -> EpisodeScript:
    written = run_all(job.ctx.text, [lambda i=i: write_one(job, i) for i in range(len(SCENE_BEATS))])
    flags = [flag for _, scene_flags in written for flag in scene_flags]
    scenes = [scene for scene, _ in written]
    scenes[1] = rewrite_repeats(job, scenes[0], scenes[1], flags)
    return EpisodeScript(episode=job.episode, title=job.bible.episodes[job.episode - 1].title, scenes=scenes,
                         flags=flags)
