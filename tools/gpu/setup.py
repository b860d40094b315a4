"""What a diffusers backend is set up from: the preset's options for its role with the settings' overrides, the
device, and the inspected model. Shared by the keyframe and clip backends' registry entries."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from dramafactory.config import Settings
from dramafactory.tools.presets import GenerationOptions, options

from .device import resolve_device
from .memory import GPUMemory, gpu_memory
from .pipelines import PipelineInfo, inspect_pipeline


@dataclass(frozen=True)
class BackendSetup:
    options: GenerationOptions
    device: str
    info: PipelineInfo
    memory: GPUMemory


def diffusers_missing() -> bool:
    return importlib.util.find_spec("diffusers") is None


def setup(settings: Settings, role: str) -> BackendSetup:
    """Everything that can be known before loading a weight: the device, the model, its kind and packages (each
    failure a BackendUnavailable naming the fix)."""
    overrides = getattr(settings, f"{role}_options").model_dump(exclude_none=True)
    opts = options(settings.preset, role, getattr(settings, f"{role}_model"), overrides)
    device = resolve_device(settings.device, role)
    info = inspect_pipeline(opts.model, role)
    return BackendSetup(opts, device, info, gpu_memory(device, settings.vram_gb))
