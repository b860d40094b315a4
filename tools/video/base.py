"""Video backend contract: one short clip per shot, animated from the shot's accepted keyframe.

A backend turns a ``ClipRequest`` (the keyframe, what moves in it, how long the voiced shot lasts) into an MP4 at
its model's own size and rate; assembly scales and crops the clip to the episode and holds its last frame when the
model could not make the whole shot (clip models make a few seconds at most).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from dramafactory.schemas import Shot
from dramafactory.tools.image.base import FIX_MARKER

__all__ = ["CAMERA_WORDS", "ClipRequest", "ClipResult", "VideoBackend", "frame_count", "motion_prompt"]


@dataclass(frozen=True)
class ClipRequest:
    shot: Shot
    keyframe: Path  # the accepted keyframe PNG: the clip's first frame
    prompt: str  # what moves: motion_prompt(shot)
    seed: int
    duration_s: float  # the shot's final, voiced length
    out_path: Path  # where to write the MP4; the caller keys it by shot and attempt
    width: int = 720  # the episode's size; a backend renders at its model's own size and assembly fits it
    height: int = 1280


@dataclass(frozen=True)
class ClipResult:
    path: Path
    frames: int
    fps: float
    width: int  # of the written clip
    height: int
    seconds: float  # wall time
    backend: str
    model: str
    duration_s: float  # frames / fps: may be shorter than the request's (see notes)
    gpu_seconds: float | None = None
    # What the caller should know about the clip, e.g. "clip capped at 121 frames (5.0 s); assembly holds its last
    # frame for the rest".
    notes: list[str] = field(default_factory=list)
    # The backend's own measurement of the work (done on its pipeline worker's thread), for the ledger.
    cpu_seconds: float | None = None
    cpu_scope: str | None = None


@runtime_checkable
class VideoBackend(Protocol):
    name: str

    def animate(self, request: ClipRequest) -> ClipResult: ...


def frame_count(duration_s: float, fps: float, step: int, max_frames: int | None = None) -> int:
    """How many frames to ask a video model for to cover ``duration_s`` at ``fps``.

    Video diffusion models take ``step * k + 1`` frames only (Wan: step 4, LTX-Video: step 8): their temporal VAE
    encodes the first frame on its own and then compresses every ``step`` following frames into one latent, so any
    other count is rounded by the model or rejected. This is the smallest such count with at least
    ``duration_s * fps`` frames, never fewer than ``step + 1`` (one latent after the first frame), and, with
    ``max_frames`` (what the model or the memory allows), at most the largest ``step * k + 1 <= max_frames``.
    """
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if step < 1:
        raise ValueError(f"step must be at least 1, got {step}")
    # Rounded before ceil: 2.3 s * 24 fps is 55.199999999999996 in floats, and 5.0 s * 16 fps must stay 80.
    needed = math.ceil(round(max(0.0, duration_s) * fps, 6))
    k = max(1, math.ceil((needed - 1) / step))
    if max_frames is not None:
        k_max = (max_frames - 1) // step
        if k_max < 1:
            raise ValueError(f"max_frames {max_frames} is below the shortest clip of step {step} ({step + 1} frames)")
        k = min(k, k_max)
    return step * k + 1


# The camera move of a shot (schemas.CameraMove) as a video model's prompt says it.
CAMERA_WORDS = {
    "static": "locked-off camera",
    "push-in": "the camera slowly pushes in",
    "pull-out": "the camera slowly pulls back",
    "pan-left": "the camera slowly pans left",
    "pan-right": "the camera slowly pans right",
    "tilt-up": "the camera slowly tilts up",
    "tilt-down": "the camera slowly tilts down",
}


def _sentence(text: str) -> str:
    text = text.strip().rstrip(".").strip()
    return text[:1].upper() + text[1:] if text else ""


def motion_prompt(shot: Shot) -> str:
    """The prompt a shot's clip is made from: its picture prompt, its action and its camera move in words.

    QC's fixes (after FIX_MARKER) are dropped: they correct the keyframe, which is already accepted, and words
    like "add the missing person" would make a clip model change the picture mid-shot. The action is added when the
    prompt does not already say it (the cinematographer's prompts usually do), since it is what should move.
    """
    picture = shot.prompt.split(FIX_MARKER)[0]
    parts = [_sentence(picture)]
    action = _sentence(shot.action)
    if action and action.lower() not in picture.lower():
        parts.append(action)
    parts.append(_sentence(CAMERA_WORDS.get(shot.camera_move, CAMERA_WORDS["static"])))
    return ". ".join(p for p in parts if p) + "."
