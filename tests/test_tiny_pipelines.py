"""The tiny offline diffusers pipelines of tests/tiny_pipelines.py: built in code, saved, loaded back with
HF_HUB_OFFLINE=1 through DiffusionPipeline.from_pretrained (as the product loads a model), and driven on the CPU."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
diffusers = pytest.importorskip("diffusers")

from .tiny_pipelines import BUILDERS, TINY_SETTINGS, tiny_pipeline_dir  # noqa: E402

PROMPTS = ["a night-shift nurse in a hospital corridor", "her billionaire father at the window, rain",
           "close-up of a letter on the table"]
CLASSES = {"reference_image": "Flux2KleinPipeline", "plain_image": "ZImagePipeline",
           "image_to_video": "WanImageToVideoPipeline", "ltx_image_to_video": "LTXImageToVideoPipeline"}


def _no_network(*args, **kwargs):
    raise OSError("the tiny pipelines must build and load without any network access")


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny_pipelines")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", _no_network)
        for kind in BUILDERS:
            tiny_pipeline_dir(kind, root)
    return root


@pytest.fixture(scope="session")
def pipes(tiny_root: Path) -> dict:
    """Each tiny pipeline loaded back as the product loads one: HF_HUB_OFFLINE=1, CPU, float32."""
    import huggingface_hub.constants

    loaded = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
        mp.setattr(socket.socket, "connect", _no_network)
        for kind in BUILDERS:
            pipe = diffusers.DiffusionPipeline.from_pretrained(str(tiny_root / kind))  # float32 by default
            pipe.to("cpu")
            pipe.set_progress_bar_config(disable=True)
            loaded[kind] = pipe
    return loaded


def _gen(seed: int):
    return torch.Generator(device="cpu").manual_seed(seed)


def _image_kwargs(kind: str) -> dict:
    s = TINY_SETTINGS[kind]
    return {"width": s["width"], "height": s["height"], "num_inference_steps": s["steps"],
            "guidance_scale": s["guidance"]}


def test_versions_import_together():
    from diffusers import Flux2KleinPipeline, WanImageToVideoPipeline, ZImagePipeline  # noqa: F401

    print(f"diffusers {diffusers.__version__}, transformers {transformers.__version__}, "  # noqa: T201
          f"torch {torch.__version__}")
    assert diffusers.__version__ == "0.42.1"


def test_saved_folders_are_small_and_cached(tiny_root: Path):
    for kind in BUILDERS:
        folder = tiny_root / kind
        index = folder / "model_index.json"
        assert index.is_file()
        assert CLASSES[kind] in index.read_text()
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        assert size < 5 * 2**20, f"{kind} is {size} bytes"
        stamp = index.stat().st_mtime_ns
        assert tiny_pipeline_dir(kind, tiny_root) == folder
        assert index.stat().st_mtime_ns == stamp  # reused, not rebuilt
    with pytest.raises(ValueError, match="unknown tiny pipeline"):
        tiny_pipeline_dir("nope", tiny_root)


def test_loaded_offline_as_the_declared_classes(pipes: dict):
    for kind, pipe in pipes.items():
        assert type(pipe).__name__ == CLASSES[kind]
        assert pipe.dtype == torch.float32


@pytest.mark.parametrize("kind", ["reference_image", "plain_image"])
def test_image_single_and_batch(pipes: dict, kind: str):
    pipe, s = pipes[kind], TINY_SETTINGS[kind]
    single = pipe(prompt=PROMPTS[1], generator=_gen(1), **_image_kwargs(kind)).images
    assert len(single) == 1 and single[0].size == (s["width"], s["height"])
    batch = pipe(prompt=list(PROMPTS), generator=[_gen(i) for i in range(3)], output_type="np",
                 **_image_kwargs(kind)).images
    assert batch.shape == (3, s["height"], s["width"], 3)
    assert np.isfinite(batch).all() and batch.std() > 0


def test_reference_images_single_and_batch(pipes: dict):
    pipe, s = pipes["reference_image"], TINY_SETTINGS["reference_image"]
    refs = [Image.new("RGB", (64, 128), (200, 40, 40)), Image.new("RGB", (96, 64), (40, 40, 200))]  # >= 64 px a side
    plain = pipe(prompt=PROMPTS[0], generator=_gen(0), output_type="np", **_image_kwargs("reference_image")).images
    one = pipe(prompt=PROMPTS[0], image=refs[:1], generator=_gen(0), output_type="np",
               **_image_kwargs("reference_image")).images
    assert one.shape == (1, s["height"], s["width"], 3)
    assert not np.allclose(one, plain)  # the reference reached the transformer
    batch = pipe(prompt=list(PROMPTS), image=refs, generator=[_gen(i) for i in range(3)],
                 **_image_kwargs("reference_image")).images
    assert [im.size for im in batch] == [(s["width"], s["height"])] * 3


@pytest.mark.parametrize("kind", ["image_to_video", "ltx_image_to_video"])
def test_image_to_video_frames(pipes: dict, kind: str):
    pipe, s = pipes[kind], TINY_SETTINGS[kind]
    keyframe = Image.fromarray(np.random.default_rng(0).integers(0, 255, (s["height"], s["width"], 3), np.uint8))
    frames = pipe(image=keyframe, prompt=PROMPTS[0], width=s["width"], height=s["height"],
                  num_frames=s["num_frames"], num_inference_steps=s["steps"], guidance_scale=s["guidance"],
                  generator=_gen(0), output_type="np").frames
    assert frames.shape == (1, s["num_frames"], s["height"], s["width"], 3)
    assert np.isfinite(frames).all() and frames.min() >= 0.0 and frames.max() <= 1.0
    temporal = getattr(pipe, "vae_scale_factor_temporal", None) or pipe.vae_temporal_compression_ratio
    assert temporal == s["frame_step"] and (s["num_frames"] - 1) % temporal == 0
