"""Clips from a diffusers image-to-video pipeline (DRAMAFACTORY_VIDEO_BACKEND=diffusers).

The accepted keyframe is the clip's first frame; the shot's action and camera move are the prompt
(tools/video/base.motion_prompt). The clip is made once, at the shot's final (voiced) length, in the model's frame
rule (4k+1 for Wan, 8k+1 for LTX-Video: the pipeline's temporal VAE factor, else the preset's), capped at what the
model makes (the preset's max_frames); assembly holds the last frame of a capped clip. Wan2.2-TI2V-5B
(`WanImageToVideoPipeline`) is the documented default, LTX-Video distilled the fast option (tools/presets.yaml).

One worker thread per pipeline (tools/gpu/worker.py) makes every call; memory is shared with the image pipeline
through tools/gpu/memory.py, so a card too small for both moves the idle one to the CPU.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from dramafactory.config import Settings
from dramafactory.tools.gpu.hosted import HostedPipeline, shared_backend
from dramafactory.tools.gpu.memory import GPUMemory
from dramafactory.tools.gpu.pipelines import LoadedPipeline, PipelineInfo
from dramafactory.tools.gpu.setup import diffusers_missing, setup
from dramafactory.tools.gpu.worker import PipelineWorker
from dramafactory.tools.image.diffusers_image import fit
from dramafactory.tools.presets import GenerationOptions
from dramafactory.tools.registry import Availability

from .base import ClipRequest, ClipResult, frame_count
from .encode import write_clip


def as_uint8_frames(frames: Any) -> np.ndarray:
    """A pipeline's frames (a float array in [0, 1], a uint8 array, or a list of PIL images) as (N, H, W, 3)
    uint8."""
    if isinstance(frames, list) and frames and isinstance(frames[0], Image.Image):
        return np.stack([np.asarray(f.convert("RGB")) for f in frames])
    arr = np.asarray(frames)
    if arr.ndim == 5:  # (batch, frames, H, W, 3): one clip per call here
        arr = arr[0]
    if arr.dtype != np.uint8:
        arr = (np.clip(arr, 0.0, 1.0) * 255).round().astype(np.uint8)
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise RuntimeError(f"the video pipeline returned frames of shape {arr.shape}, expected (N, H, W, 3)")
    return arr


class DiffusersVideo(HostedPipeline):
    def __init__(self, opts: GenerationOptions, info: PipelineInfo, *, device: str, memory: GPUMemory):
        super().__init__("video", opts, info, device=device, memory=memory)
        self._frame_step: int | None = None
        # Clips are not batched: each starts from its own keyframe, and one 5 s clip already fills the card.
        self.worker = PipelineWorker("video", self._animate, device=device, max_batch=1)

    def _on_loaded(self, loaded: LoadedPipeline) -> None:
        # The model's own frame rule wins over the preset's: its temporal VAE factor (Wan names it
        # vae_scale_factor_temporal, LTX-Video vae_temporal_compression_ratio).
        for attribute in ("vae_scale_factor_temporal", "vae_temporal_compression_ratio"):
            factor = getattr(loaded.pipe, attribute, None)
            if isinstance(factor, int) and factor > 0:
                self._frame_step = factor
                return
        self._frame_step = self.options.frame_step or 4

    @property
    def fps(self) -> float:
        return float(self.options.fps or 24)

    def frames_for(self, duration_s: float) -> int:
        self._ensure_loaded()
        assert self._frame_step is not None
        return frame_count(duration_s, self.fps, self._frame_step, self.options.max_frames)

    def animate(self, request: ClipRequest) -> ClipResult:
        frames_wanted = self.frames_for(request.duration_s)
        frames, share = self.worker.submit((), (request, frames_wanted))
        started = time.perf_counter()  # the pipeline's share is the worker's; the encode is this thread's own
        out = Path(request.out_path)
        out.parent.mkdir(parents=True, exist_ok=True)
        width, height, count = write_clip(frames, out, self.fps)
        notes = list(share.notes)
        if count / self.fps + 1e-6 < request.duration_s:
            notes.append(f"clip capped at {count} frames ({count / self.fps:.2f} s) of the shot's "
                         f"{request.duration_s:.2f} s: assembly holds its last frame for the rest")
        return ClipResult(path=out, frames=count, fps=self.fps, width=width, height=height,
                          seconds=share.wall_seconds + time.perf_counter() - started, backend=self.name,
                          model=self.model,
                          duration_s=count / self.fps, gpu_seconds=share.gpu_seconds, notes=notes,
                          cpu_seconds=share.cpu_seconds, cpu_scope=share.cpu_scope)

    def _animate(self, jobs: list[tuple[ClipRequest, int]]) -> list[np.ndarray]:

        out = []
        width, height = self.options.size()
        params = self.info.call_params
        for request, frames in jobs:
            keyframe = fit(Image.open(request.keyframe).convert("RGB"), width, height)
            kwargs: dict[str, Any] = {
                "image": keyframe, "prompt": request.prompt, "width": width, "height": height, "num_frames": frames,
                "num_inference_steps": self.options.steps,
                "generator": self.generator(request.seed)}
            if "guidance_scale" in params:
                kwargs["guidance_scale"] = self.options.guidance
            if "negative_prompt" in params and request.shot.negative_prompt:
                kwargs["negative_prompt"] = request.shot.negative_prompt
            if "output_type" in params:
                kwargs["output_type"] = "np"
            if "frame_rate" in params:  # LTX-Video conditions on the frame rate it is asked for
                kwargs["frame_rate"] = int(round(self.fps))
            with self.memory.use(self.key) as loaded:
                result = loaded.pipe(**kwargs)
            out.append(as_uint8_frames(result.frames))
        return out


# --- the backend's entry in tools/registry.py ----------------------------------------------------------------------

def check(settings: Settings) -> Availability:
    if diffusers_missing():
        return Availability(False, "diffusers is not installed", "pip install '.[gpu]' (docs/gpu.md)")
    ready = setup(settings, "video")
    opts = ready.options
    width, height = opts.size()
    return Availability(True, f"{ready.info.describe()} on {ready.device}, {width}x{height} at {opts.fps or 24:g} "
                              f"fps, {opts.steps} steps, up to {opts.max_frames or 'any'} frames")


def from_settings(settings: Settings) -> DiffusersVideo:
    ready = setup(settings, "video")
    return shared_backend(DiffusersVideo, ready.options, ready.info, device=ready.device, memory=ready.memory)  # type: ignore[return-value]
