"""Presets: one data file (presets.yaml) naming the model per role and its settings; settings override any value."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

PRESETS_FILE = Path(__file__).with_name("presets.yaml")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TextPreset(_Model):
    server: str
    model: str


class GenerationOptions(_Model):
    """What a diffusers backend is driven with. In settings every field is optional (an override of the preset)."""

    model: str
    steps: int = Field(ge=1, le=200)
    guidance: float = Field(ge=0.0, le=30.0)
    width: int = Field(ge=16, le=4096)
    height: int = Field(ge=16, le=4096)
    multiple: int = Field(default=16, ge=1, le=256, description="Width and height are rounded to this.")
    dtype: str = "bfloat16"
    max_batch: int = Field(default=1, ge=1, le=64)
    fps: float | None = Field(default=None, gt=0, le=120)
    frame_step: int | None = Field(default=None, ge=1, le=64, description="Frames are frame_step*k + 1.")
    max_frames: int | None = Field(default=None, ge=1, le=2000)

    def size(self) -> tuple[int, int]:
        """Width and height rounded down to the model's multiple (at least one multiple): close to 9:16 (704x1280
        for a multiple of 32); keyframes and clips are cover-fitted to the episode's exact size."""
        def down(value: int) -> int:
            return max(self.multiple, value // self.multiple * self.multiple)

        return down(self.width), down(self.height)


class Preset(_Model):
    summary: str
    text: TextPreset
    image: GenerationOptions
    video: GenerationOptions


@lru_cache(maxsize=1)
def presets() -> dict[str, Preset]:
    raw = yaml.safe_load(PRESETS_FILE.read_text(encoding="utf-8"))
    return {name: Preset.model_validate(body) for name, body in raw.items()}


def preset(name: str) -> Preset:
    known = presets()
    if name not in known:
        raise ValueError(f"unknown preset {name!r}; known: {', '.join(known)}")
    return known[name]


def options(name: str, role: str, model: str | None, overrides: dict) -> GenerationOptions:
    """The preset's options for a role ('image' or 'video'), with the configured model and overrides applied."""
    base = getattr(preset(name), role)
    update = {k: v for k, v in overrides.items() if v is not None}
    if model:
        update["model"] = model
    return GenerationOptions.model_validate({**base.model_dump(), **update})
