"""Find, inspect and load a diffusers pipeline for a role, never downloading anything.

A model is a folder saved with `save_pretrained`, or a Hugging Face id already in the local cache. Before any weight
is read, its `model_index.json` says which pipeline class it is; the class's call signature says what it does
(text-to-image, with or without reference images; image-to-video), so a video model given as the image model, or a
pipeline whose packages are missing, is refused with the fix before the run spends anything.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .errors import BackendUnavailable

Kind = Literal["text-to-image", "image-to-image", "text-to-video", "image-to-video", "other"]
ROLE_KIND: dict[str, Kind] = {"image": "text-to-image", "video": "image-to-video"}
ROLE_SETTING = {"image": "DRAMAFACTORY_IMAGE_MODEL", "video": "DRAMAFACTORY_VIDEO_MODEL"}

# Packages a pipeline family needs beyond diffusers/transformers, which diffusers only reports when the call is
# made (Wan's prompt cleaning calls ftfy and fails with a NameError without it).
EXTRA_PACKAGES: dict[str, tuple[str, ...]] = {"Wan": ("ftfy",), "SkyReels": ("ftfy",)}
SLOW_TOKENIZERS = {"T5Tokenizer": "sentencepiece", "LlamaTokenizer": "sentencepiece", "GemmaTokenizer":
                   "sentencepiece", "UMT5Tokenizer": "sentencepiece"}


@dataclass(frozen=True)
class PipelineInfo:
    source: str  # what the user configured: a folder or an id
    folder: Path  # where its files are
    class_name: str
    kind: Kind
    takes_references: bool  # its call takes reference images (`image=[...]`) beside the prompt
    call_params: frozenset[str] = field(default_factory=frozenset)

    def describe(self) -> str:
        refs = ", takes reference images" if self.takes_references else ""
        return f"{self.class_name} ({self.kind}{refs}) from {self.folder}"


def resolve_source(source: str, role: str) -> Path:
    """The local folder of a configured model: the path itself, or the id's snapshot in the local cache."""
    setting = ROLE_SETTING.get(role, "the model setting")
    path = Path(source).expanduser()
    # A hub id is "org/name"; anything absolute, relative-looking or deeper is a path the user meant.
    looks_like_path = path.is_absolute() or source.startswith((".", "~")) or source.count("/") != 1
    if path.is_dir():
        if not (path / "model_index.json").is_file():
            raise BackendUnavailable(role, f"{source} is not a diffusers pipeline folder (no model_index.json)",
                                     f"point {setting} at a folder saved with save_pretrained, or a model id")
        return path
    if path.exists() or looks_like_path:
        cause = f"{source} is a file, not a pipeline folder" if path.exists() else \
            f"the model path {source} does not exist"
        raise BackendUnavailable(role, cause, f"set {setting} to a folder saved with save_pretrained (or an id in "
                                              "the local Hugging Face cache)")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:  # local_files_only: a cache lookup; the factory never downloads weights at run time
        return Path(snapshot_download(source, local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError) as exc:
        raise BackendUnavailable(
            role, f"no folder {source} exists and the model id {source!r} is not in the local Hugging Face cache; "
                  "weights are never downloaded at run time",
            f"download it once where the network is allowed (`hf download {source}`), or set {setting} to a local "
            "folder") from exc


# Pipelines whose call takes a LIST of reference images beside the prompt, shared by every prompt of a batch, and
# draws from the prompt when none is given. Others with an `image` argument take one picture per prompt to edit
# (FluxKontext) or need one (Qwen-Image-Edit-Plus fails without it): they are not used as reference-takers.
REFERENCE_LISTS = frozenset({"Flux2KleinPipeline", "Flux2Pipeline"})


def _kind(params: dict[str, inspect.Parameter]) -> tuple[Kind, bool]:
    video = "num_frames" in params
    image_in = "image" in params
    if video:
        return ("image-to-video" if image_in else "text-to-video"), False
    if "prompt" not in params:
        return "other", False
    if image_in and ("strength" in params or params["image"].default is inspect.Parameter.empty):
        return "image-to-image", False  # it transforms a given picture rather than drawing one from the prompt
    return "text-to-image", image_in


def inspect_pipeline(source: str, role: str) -> PipelineInfo:
    """What the configured model is, read from its model_index.json, checked against what the role needs."""
    folder = resolve_source(source, role)
    setting = ROLE_SETTING.get(role, "the model setting")
    try:
        index = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
        if not isinstance(index, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        raise BackendUnavailable(role, f"{folder}/model_index.json cannot be read ({type(exc).__name__}: {exc})",
                                 f"save the pipeline again with save_pretrained, or point {setting} elsewhere") \
            from exc
    class_name = str(index.get("_class_name", ""))
    try:
        import diffusers
    except ImportError as exc:
        raise BackendUnavailable(role, "diffusers is not installed", "pip install '.[gpu]'") from exc
    cls = getattr(diffusers, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, diffusers.DiffusionPipeline)):
        raise BackendUnavailable(role, f"{folder} names the pipeline class {class_name!r}, which diffusers "
                                       f"{diffusers.__version__} does not have",
                                 "upgrade diffusers, or choose a model of a supported pipeline class")
    params = dict(inspect.signature(cls.__call__).parameters)
    kind, references = _kind(params)
    references = references and class_name in REFERENCE_LISTS
    wanted = ROLE_KIND.get(role)
    if wanted and kind != wanted:
        other = {"image-to-video": "DRAMAFACTORY_VIDEO_MODEL", "text-to-image": "DRAMAFACTORY_IMAGE_MODEL"}
        hint = f" (it may be meant as {other[kind]})" if kind in other and other[kind] != setting else ""
        raise BackendUnavailable(role, f"{source} holds a {class_name}, a {kind} pipeline; the {role} role needs a "
                                       f"{wanted} pipeline{hint}", f"set {setting} to a {wanted} model")
    missing = missing_packages(class_name, index, folder)
    if missing:
        raise BackendUnavailable(role, f"{class_name} needs the package(s) {', '.join(missing)}, not installed",
                                 f"pip install {' '.join(missing)} (or pip install '.[gpu]')")
    return PipelineInfo(source=source, folder=folder, class_name=class_name, kind=kind,
                        takes_references=references, call_params=frozenset(params))


def missing_packages(class_name: str, index: dict[str, Any], folder: Path | None = None) -> list[str]:
    """The Python packages the pipeline's components or its family need that cannot be imported here."""
    needed: list[str] = []
    for component, value in index.items():  # components: "text_encoder": ["transformers", "UMT5EncoderModel"]
        if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and value[0]:
            needed.append(value[0])
            # A slow tokenizer class needs sentencepiece unless the folder has its fast tokenizer.json (transformers
            # 5 records T5Tokenizer for what tokenizer.json backs).
            fast = folder is not None and (folder / component / "tokenizer.json").is_file()
            if value[1] in SLOW_TOKENIZERS and not fast:
                needed.append(SLOW_TOKENIZERS[value[1]])
    for prefix, packages in EXTRA_PACKAGES.items():
        if class_name.startswith(prefix):
            needed += packages
    return sorted({name for name in needed if importlib.util.find_spec(name) is None})


@dataclass
class LoadedPipeline:
    info: PipelineInfo
    pipe: Any
    device: str
    dtype: Any
    load_seconds: float
    bytes: int  # parameter bytes: what it takes on the card when resident


def load_pipeline(info: PipelineInfo, *, device: str, dtype: Any) -> LoadedPipeline:
    """Load the pipeline's weights from local files only (to the CPU first: GPUMemory decides where it lives)."""
    from diffusers import DiffusionPipeline

    start = time.perf_counter()
    pipe = DiffusionPipeline.from_pretrained(str(info.folder), dtype=dtype, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    size = 0
    for component in pipe.components.values():
        params = getattr(component, "parameters", None)
        if callable(params):
            size += sum(p.numel() * p.element_size() for p in params())
    return LoadedPipeline(info=info, pipe=pipe, device=device, dtype=dtype,
                          load_seconds=time.perf_counter() - start, bytes=size)
