"""Graph state. Values are plain JSON-able dicts (pydantic models dumped), validated again where they are read,
so a checkpoint never depends on how a class pickles."""

from __future__ import annotations

import operator
from typing import Annotated, TypedDict


class SeriesState(TypedDict, total=False):
    concept: dict
    seed: int
    bible: dict
    episode: int  # the episode being produced, 1-based
    script: dict
    shotlist: dict
    moods: dict  # scene number (as str) -> mood, for the music bed
    voices: dict  # dialogue line id -> {"path": str, "seconds": float}
    earlier_lines: list[str]  # every line written so far in the series, so no line repeats across episodes
    takes: Annotated[list[dict], operator.add]
    stage_times: Annotated[list[dict], operator.add]
    episodes_done: Annotated[list[dict], operator.add]


class ShotState(TypedDict, total=False):
    shot: dict
    cast: dict  # name -> Character dict, the canonical looks of the people in the shot
    location: dict
    seed: int
    attempt: int
    pending: dict  # the take just rendered, waiting for QC
    takes: Annotated[list[dict], operator.add]


class ShotOutput(TypedDict):
    takes: list[dict]
