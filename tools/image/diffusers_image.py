"""Keyframes from a diffusers text-to-image pipeline (DRAMAFACTORY_IMAGE_BACKEND=diffusers).

Any pipeline `DiffusionPipeline.from_pretrained` loads from a local folder or the local cache (tools/gpu/pipelines
checks its kind before anything loads). Steps, guidance, size and precision come from the preset (tools/presets.yaml)
with the settings' overrides. Each take has its own seed (a `torch.Generator` per image), so a batch draws the same
pictures as one-by-one calls would up to the pipeline's numerics. Shots that arrive together (the parallel shot
branches of an episode) and share their size and reference images are drawn in one pipeline call by the pipeline's
worker (tools/gpu/worker.py), which is also the only thread that touches the pipeline.

References: where the pipeline's call takes `image=[...]` (FLUX.2 [klein], Qwen-Image-Edit-Plus class models), the
visible characters' accepted reference sheets are passed to it and the take records "reference:NAME". Where it does
not, the take records why ("none: ..."), and continuity rests on QC.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from dramafactory.config import Settings
from dramafactory.tools.gpu.hosted import HostedPipeline, shared_backend
from dramafactory.tools.gpu.memory import GPUMemory
from dramafactory.tools.gpu.pipelines import PipelineInfo
from dramafactory.tools.gpu.setup import diffusers_missing, setup
from dramafactory.tools.gpu.worker import PipelineWorker
from dramafactory.tools.presets import GenerationOptions
from dramafactory.tools.registry import Availability

from .base import ImageRequest, ImageResult, PeopleScorer


def fit(image: Image.Image, width: int, height: int) -> Image.Image:
    """Scale to cover width x height and crop the centre: the episode's size, whatever the model's multiple."""
    if image.size == (width, height):
        return image
    scale = max(width / image.width, height / image.height)
    resized = image.convert("RGB").resize((max(width, round(image.width * scale)),
                                           max(height, round(image.height * scale))), Image.Resampling.LANCZOS)
    left, top = (resized.width - width) // 2, (resized.height - height) // 2
    return resized.crop((left, top, left + width, top + height))


class DiffusersImage(HostedPipeline):
    # A portrait per character first: given to pipelines that take references, and what QC matches faces against.
    wants_reference_sheets = True

    def __init__(self, opts: GenerationOptions, info: PipelineInfo, *, device: str, memory: GPUMemory):
        super().__init__("image", opts, info, device=device, memory=memory)
        self.worker = PipelineWorker("image", self._draw, device=device, max_batch=opts.max_batch)

    def people_scorer(self) -> PeopleScorer | None:
        """Faces against the reference sheets (tools/image/face_people.py); None where the face scorer is not
        installed: QC then reports who is on screen "not judged" and the take goes to a person, never a guess."""
        from .people import people_scorer_for

        return people_scorer_for(self.name)

    def render(self, request: ImageRequest) -> ImageResult:
        self._ensure_loaded()
        refs = tuple(sorted((n, str(p)) for n, p in request.references.items() if n in request.shot.characters))
        key = refs if self.info.takes_references else ()
        (image, conditioning), share = self.worker.submit(key, request)
        out = Path(request.out_path)
        out.parent.mkdir(parents=True, exist_ok=True)
        picture = fit(image, request.width, request.height)
        picture.save(out, format="PNG")
        load = self.take_load_seconds()
        return ImageResult(
            path=out, width=picture.width, height=picture.height, seconds=share.wall_seconds, backend=self.name,
            model=self.model, conditioning=conditioning, applied=["prompt"] if request.feedback else [],
            cpu_seconds=share.cpu_seconds, cpu_scope=share.cpu_scope,
            gpu_seconds=share.gpu_seconds if share.gpu_seconds is not None else 0.0,
            load_seconds=load, batch=share.batch, notes=list(share.notes))

    def _conditioning(self, request: ImageRequest) -> list[str]:
        visible = request.shot.characters
        if not visible:
            return []
        if not self.info.takes_references:
            return [f"none: {self.info.class_name} takes no reference images; continuity rests on QC"]
        return [f"reference:{n}" if n in request.references else f"none: no accepted reference sheet for {n}"
                for n in visible]

    def _draw(self, requests: list[ImageRequest]) -> list[tuple[Image.Image, list[str]]]:
        """One pipeline call for a batch (run on the worker thread only)."""

        width, height = self.options.size()
        params = self.info.call_params
        kwargs: dict[str, Any] = {"prompt": [r.shot.prompt for r in requests], "width": width, "height": height,
                                  "num_inference_steps": self.options.steps,
                                  "generator": [self.generator(r.seed) for r in requests]}
        if "true_cfg_scale" in params:
            # Qwen-Image's classifier-free guidance is true_cfg_scale, active only with a negative prompt;
            # its guidance_scale is for guidance-distilled variants.
            kwargs["true_cfg_scale"] = self.options.guidance
            kwargs["negative_prompt"] = [r.shot.negative_prompt or " " for r in requests]
        elif "guidance_scale" in params:
            kwargs["guidance_scale"] = self.options.guidance
        if "negative_prompt" in params and "negative_prompt" not in kwargs \
                and any(r.shot.negative_prompt for r in requests):
            kwargs["negative_prompt"] = [r.shot.negative_prompt for r in requests]
        if "output_type" in params:
            kwargs["output_type"] = "pil"
        first = requests[0]
        if self.info.takes_references:
            sheets = [Path(p) for n, p in sorted(first.references.items()) if n in first.shot.characters]
            if sheets:  # the batch key guarantees every request of the batch has these same references
                kwargs["image"] = [Image.open(p).convert("RGB") for p in sheets]
        with self.memory.use(self.key) as loaded:
            images = loaded.pipe(**kwargs).images
        if len(images) != len(requests):
            raise RuntimeError(f"{self.info.class_name} returned {len(images)} images for {len(requests)} prompts")
        return [(img, self._conditioning(r)) for img, r in zip(images, requests, strict=True)]


# --- the backend's entry in tools/registry.py ----------------------------------------------------------------------

def check(settings: Settings) -> Availability:
    if diffusers_missing():
        return Availability(False, "diffusers is not installed", "pip install '.[gpu]' (docs/gpu.md)")
    ready = setup(settings, "image")
    width, height = ready.options.size()
    return Availability(True, f"{ready.info.describe()} on {ready.device}, {width}x{height}, {ready.options.steps} "
                              f"steps, batch up to {ready.options.max_batch}")


def from_settings(settings: Settings) -> DiffusersImage:
    ready = setup(settings, "image")
    return shared_backend(DiffusersImage, ready.options, ready.info, device=ready.device, memory=ready.memory)  # type: ignore[return-value]
