"""Graph state. Values are plain JSON-able dicts (pydantic models dumped), validated again where they are read,
so a checkpoint never depends on how a class pickles."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Annotated, TypedDict

from langgraph.channels.delta import DeltaChannel


def merge_takes(old: list[dict], batches: Sequence[list[dict]]) -> list[dict]:
    """Takes are keyed by (shot, attempt): a later report on the same take (a check across shots, a person's
    approval) replaces the earlier one; a new take is added. No take is ever dropped.

    Given all of a step's writes at once (LangGraph's DeltaChannel), so a step of a thousand shots merges once
    instead of once per shot (a binary reducer rebuilt the whole list per write: quadratic in the shot count). Its
    checkpoints hold the step's new takes, with a full copy every SNAPSHOT_EVERY updates, rather than every take so
    far in each step's checkpoint. Batching-invariant, as DeltaChannel requires: merging two batches one after the
    other gives what merging them together gives (a key keeps the place of its first take)."""
    merged = {(t["shot_id"], t["attempt"]): t for t in old}
    for batch in batches:
        for take in batch or ():
            merged[(take["shot_id"], take["attempt"])] = take
    return list(merged.values())


# A full copy of the takes every this many updates of the channel, so a resumed run replays at most this many
# steps' writes (DeltaChannel's default is 100). DeltaChannel is marked beta in LangGraph 1.x; it reads a checkpoint
# written by the binary reducer before it (a plain list) as its starting value, so older runs resume.
SNAPSHOT_EVERY = 20


def merge_clips(old: dict, new: dict) -> dict:
    """Clips are keyed by the keyframe take they animate: a clip once made is kept (a resumed run reuses it)."""
    return {**(old or {}), **(new or {})}


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
    takes: Annotated[list[dict], DeltaChannel(merge_takes, snapshot_frequency=SNAPSHOT_EVERY)]
    stage_times: Annotated[list[dict], operator.add]
    episodes_done: Annotated[list[dict], operator.add]
    checkpoints: dict  # where the run pauses for a person (graphs.review.Checkpoints)
    notes: dict  # "bible" / "script:<n>" -> the note of the last rejection, for the redo
    revisions: dict  # same keys -> how many times that step was redone after a rejection
    reviews: Annotated[list[dict], operator.add]  # every decision a person made, in order (the audit trail)
    references: dict  # character name -> its reference sheet record (graphs/references.py)
    clips: Annotated[dict, merge_clips]  # "shot_id/attempt" of the keyframe -> its clip record (graphs/clips.py)


class ShotState(TypedDict, total=False):
    shot: dict
    series: str  # the bible's title: the key of the canonical looks in the continuity memory
    cast: dict  # name -> Character dict, the whole series cast (QC names a wrong person)
    feedback: str | None  # the QC reason of the previous take, for the revision
    location: dict
    seed: int
    attempt: int
    pending: dict  # the take just rendered, waiting for QC
    references: dict  # name -> run-relative path of the visible characters' accepted reference sheets
    takes: list[dict]  # the Send's empty list; the node's output goes to SeriesState.takes (merge_takes)


class ShotOutput(TypedDict):
    takes: list[dict]


class ClipState(TypedDict):
    shot: dict  # the shot at its final (voiced) length
    take: dict  # the keyframe take to animate
