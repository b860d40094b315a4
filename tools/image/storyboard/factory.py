"""The storyboard renderer's entry in the backend registry (tools/registry.py)."""

from __future__ import annotations

from dramafactory.config import Settings
from dramafactory.tools.image.base import ImageBackend
from dramafactory.tools.registry import Availability

from .renderer import StoryboardRenderer


def from_settings(settings: Settings) -> ImageBackend:
    renderer: ImageBackend = StoryboardRenderer(use_feedback=settings.render_feedback == "on")
    if settings.fault_rate > 0:  # a QC drill: break a share of the takes on purpose
        from dramafactory.tools.image.faults import FaultyRenderer

        renderer = FaultyRenderer(renderer, settings.fault_rate)
    return renderer


def check(settings: Settings) -> Availability:
    return Availability(True, "Pillow and numpy on this machine's CPU, no model")
