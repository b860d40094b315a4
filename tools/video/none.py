"""The 'none' video backend: no clips are made; assembly moves the camera over each shot's keyframe."""

from __future__ import annotations

from dramafactory.config import Settings
from dramafactory.tools.registry import Availability


def from_settings(settings: Settings) -> None:
    return None


def check(settings: Settings) -> Availability:
    return Availability(True, "keyframes with camera motion (Ken Burns) in assembly")
