"""The cinematographer: turns a script into a shot list with generation prompts, and revises prompts after QC.

Film grammar is decided in code (an establishing wide per scene, a shot per spoken line so the speaker is on
screen, inserts on reveals, no two consecutive shots with the same framing, one screen side per character in a
scene); each character's description in a prompt is retrieved from the continuity memory, never re-invented,
and they wear what they were last seen in (memory/facts.py: a change of clothes in this or an earlier episode
replaces the bible's wardrobe from the scene it happens in). The model picks each scene's mood and lighting.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from dramafactory.memory.facts import Outfits
from dramafactory.schemas import EpisodeScript, Framing, Mood, Scene, SeriesBible, Shot, ShotList
from dramafactory.tools.image.base import FIX_MARKER

from ..context import AgentContext
from ..parallel import run_all
from ..structured import StructuredOutputError, ask_json, stable_seed
from . import prompts

WORDS_PER_SECOND = 2.6
ESTABLISHING_S = 2.4
INSERT_S = 1.6
SILENT_FLOOR_S = 1.4  # an establishing shot or insert shorter than this reads as a glitch
INTENSE = {"shocked", "afraid", "angry"}


class SceneLook(BaseModel):
    mood: Mood
    lighting: str = Field(max_length=120)


def dialogue_seconds(text: str) -> float:
    return min(8.0, max(1.6, len(text.split()) / WORDS_PER_SECOND + 0.7))


def _avoid_repeat(framing: Framing, previous: Framing | None) -> Framing:
    if framing != previous:
        return framing
    return {"close-up": "over-shoulder", "over-shoulder": "medium", "medium": "close-up",
            "two-shot": "over-shoulder", "wide": "two-shot", "insert": "medium"}[framing]


def describe(ctx: AgentContext, series: str, names: list[str], outfits: Outfits | None = None,
             scene: int = 0) -> str:
    """Each person's canonical look; the clothes are the ones they were last seen in (`outfits`), else the
    bible's wardrobe."""
    parts = []
    for name in names:
        c = ctx.memory.canonical(series, name)
        look = c.look
        wearing = (outfits.at(name, scene) if outfits else None) or c.wardrobe
        parts.append(f"{c.name} ({c.age}, {look.build}, {look.skin_tone} skin, {look.hair_color} {look.hair_style} "
                     f"hair, {look.face}, wearing {wearing})")
    return "; ".join(parts) + ". " if parts else ""


def scene_look(ctx: AgentContext, bible: SeriesBible, script: EpisodeScript, scene: Scene, seed: int) -> SceneLook:
    location = bible.location(scene.location)
    beats_text = " ".join(b.action for b in scene.beats)
    try:
        return ask_json(ctx.text, ctx.ledger, stage="cinematographer.scene", schema=SceneLook,
                        system=prompts.SYSTEM, examples=[prompts.LIGHTING_EXAMPLE],
                        ask=prompts.LIGHTING_ASK.format(location=location.name, description=location.description,
                                                        time=scene.time_of_day, beats=beats_text[:400]),
                        seed=stable_seed(seed, script.episode, scene.number), max_tries=ctx.settings.max_reasks,
                        max_tokens=60)
    except StructuredOutputError:
        return SceneLook(mood=scene.mood, lighting="soft key light, deep shadows")


def plan_shots(ctx: AgentContext, bible: SeriesBible, script: EpisodeScript, seed: int,
               target_seconds: float, outfits: Outfits | None = None) -> tuple[ShotList, dict[int, str]]:
    """`outfits`: what each character was last seen wearing (graphs/nodes.py reads it from the series' facts);
    None dresses everyone in the bible's wardrobe."""
    shots: list[Shot] = []
    moods: dict[int, str] = {}
    previous: Framing | None = None
    # The scenes' looks do not depend on each other: asked together (inline and in order on a one-call backend).
    looks = run_all(ctx.text, [lambda scene=scene: scene_look(ctx, bible, script, scene, seed)
                               for scene in script.scenes])
    for scene, look in zip(script.scenes, looks, strict=True):
        location = bible.location(scene.location)
        moods[scene.number] = look.mood
        left_to_right = list(scene.characters)  # screen sides stay fixed for the whole scene (the 180° rule)

        def add(framing: Framing, camera: str, seconds: float, people: list[str], action: str,
                speaker: str | None = None, line=None, emotion: str = "neutral", scene=scene, location=location,
                look=look) -> None:
            nonlocal previous
            framing = _avoid_repeat(framing, previous)
            previous = framing
            if framing == "close-up" and speaker:
                people = [speaker]
            shot_id = f"e{script.episode:02d}s{len(shots) + 1:02d}"
            speaking = f" {speaker} is speaking, {emotion} expression." if speaker else ""
            prompt = prompts.SHOT_PROMPT.format(
                framing=framing, camera=camera, people=describe(ctx, bible.title, people, outfits, scene.number),
                action=action,
                location=location.name, description=location.description, time=scene.time_of_day,
                lighting=look.lighting, speaking=speaking)
            shots.append(Shot(
                id=shot_id, episode=script.episode, scene=scene.number, index=len(shots), framing=framing,
                camera_move=camera, duration_s=round(seconds, 2), characters=people, speaker=speaker,
                location=location.name, time_of_day=scene.time_of_day, action=action, prompt=prompt,
                negative_prompt=prompts.NEGATIVE_PROMPT, dialogue_line=line.id if line else None,
                seed=stable_seed(seed, shot_id, 1)))

        add("wide", "pan-right" if scene.number % 2 else "pan-left", ESTABLISHING_S, left_to_right,
            scene.beats[0].action)
        line_in_scene = 0
        for beat in scene.beats:
            for index, line in enumerate(beat.lines):
                if line_in_scene == 0:
                    framing, camera = "two-shot", "static"
                elif line.emotion in INTENSE:
                    framing, camera = "close-up", "push-in"
                else:
                    framing, camera = ("over-shoulder", "static") if line_in_scene % 2 else ("medium", "tilt-down")
                people = left_to_right if framing in ("two-shot", "wide") else (
                    [n for n in left_to_right if n != line.speaker] + [line.speaker]
                    if framing == "over-shoulder" else [line.speaker])
                add(framing, camera, dialogue_seconds(line.text), people, beat.action, line.speaker, line,
                    line.emotion)
                line_in_scene += 1
                if index == 0 and beat.kind in ("reveal", "cliffhanger"):
                    add("insert", "push-in", INSERT_S, [], beat.action)
    last = shots[-1]
    if last.speaker:  # the cliffhanger lands on a face, pushing in
        shots[-1] = last.model_copy(update={"framing": "close-up", "camera_move": "push-in",
                                            "characters": [last.speaker]})
    return ShotList(episode=script.episode, shots=fit_duration(shots, target_seconds)), moods


def fit_duration(shots: list[Shot], target: float) -> list[Shot]:
    """Stretch or squeeze the shots without dialogue (and then pauses after lines) towards the target length."""
    total = sum(s.duration_s for s in shots)
    silent = [s for s in shots if not s.speaker]
    gap = target - total
    out = []
    for shot in shots:
        seconds = shot.duration_s
        if gap > 0:
            share = gap / len(shots)
            seconds += share
        elif silent and not shot.speaker:
            seconds = max(SILENT_FLOOR_S, seconds + gap / len(silent))
        out.append(shot.model_copy(update={"duration_s": round(min(seconds, 15.0), 2)}))
    return out


def retime(shots: list[Shot], voice_seconds: dict[str, float], target: float, pad: float = 0.45) -> list[Shot]:
    """After the voices exist: every dialogue shot at least as long as its line, the whole close to the target."""
    timed = [s.model_copy(update={"duration_s": round(max(s.duration_s, voice_seconds[s.dialogue_line] + pad), 2)})
             if s.dialogue_line in voice_seconds else s for s in shots]
    excess = sum(s.duration_s for s in timed) - target
    if excess <= 0:
        return timed
    # Take the excess back from the slack: silent shots first, then the pause after each line.
    for take_from_dialogue in (False, True):
        for i, s in enumerate(timed):
            if bool(s.dialogue_line) != take_from_dialogue or excess <= 0:
                continue
            floor = voice_seconds.get(s.dialogue_line, 0.0) + pad if s.dialogue_line else SILENT_FLOOR_S
            give = min(excess, max(0.0, s.duration_s - floor))
            excess -= give
            timed[i] = s.model_copy(update={"duration_s": round(s.duration_s - give, 2)})
    return timed


def revise(shot: Shot, reason: str, attempt: int, seed: int) -> Shot:
    """A new take of a shot that failed QC: the reason is added to the prompt after the earlier takes' reasons (a
    renderer that acts on them keeps the fixes that cured those failures in place, and steps a fix up for a
    failure that came back), and the seed changes."""
    return shot.model_copy(update={"prompt": f"{shot.prompt}{FIX_MARKER}{reason}",
                                   "seed": stable_seed(seed, shot.id, attempt)})
