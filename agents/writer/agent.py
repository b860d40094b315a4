"""The writer: turns one episode outline into a script of scenes, beats and spoken lines.

Code decides the beat sheet (hook, pressure, reveal, reversal, cliffhanger), who is in each scene and how many lines
each beat gets (agents/writer/checks.py). With text_strategy "tiny" (the packaged 0.5B, agents/writer/tiny.py) code
also decides who speaks each line and with what emotion, and the model writes each beat's action and each line, one
at a time; with "capable" (agents/writer/capable.py) one call writes a whole scene. Every line passes the same
checks for the failure kinds of a small model (narration, self-naming, repeats, prompt echoes) either way.
"""

from __future__ import annotations

from dramafactory.schemas import EpisodeScript, SeriesBible, SeriesConcept

from ..context import AgentContext
from . import capable, tiny
from .checks import (
    BEATS,
    EMOTIONS,
    LINES_PER_SECOND,
    ActionReply,
    LineReply,
    action_check,
    beat_plan,
    clean_line,
    line_checks,
    scene_casts,
    second_person,
    sentences,
)

__all__ = ["BEATS", "EMOTIONS", "LINES_PER_SECOND", "ActionReply", "LineReply", "action_check", "beat_plan",
           "clean_line", "line_checks", "scene_casts", "scene_settings", "second_person", "sentences",
           "write_script"]


def scene_settings(bible: SeriesBible, episode: int) -> list[tuple[str, list[str]]]:
    """Each scene of `episode` as code decides it before anything is written: its location and who is in it."""
    return [(tiny.scene_location(bible, index).name, cast) for index, cast in enumerate(scene_casts(bible, episode))]


def write_script(ctx: AgentContext, bible: SeriesBible, concept: SeriesConcept, episode: int, seed: int,
                 earlier_lines: list[str], note: str | None = None,
                 established: list[list[str]] | None = None) -> EpisodeScript:
    """`note`: a reviewer's note on a rejected draft; it goes into every ask (the graph also changes the seed).
    `established`: per scene, facts earlier episodes established (the series memory's recall for that scene's
    place and people: scene_settings), put into that scene's asks."""
    strategy = capable.write_script if ctx.settings.text_strategy == "capable" else tiny.write_script
    return strategy(tiny.EpisodeJob(ctx, bible, concept, episode, seed, list(earlier_lines), note,
                                    list(established or [])))
