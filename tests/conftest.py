from __future__ import annotations

from pathlib import Path

import pytest

from dramafactory.config import Settings
from dramafactory.graphs.backends import build_context
from dramafactory.schemas import SeriesConcept

from .fakes import FakeImage, FakeSpeech, FakeText


@pytest.fixture
def concept() -> SeriesConcept:
    return SeriesConcept(logline="A night-shift nurse discovers the billionaire patient she saved is her runaway "
                                 "father.", genre="family", episodes=1, seconds_per_episode=30)


@pytest.fixture
def fast_settings() -> Settings:
    # the fake image backend draws no people, so these settings check takes technically only
    return Settings(_env_file=None, width=180, height=320, fps=8, music=True, qc_people="off")


@pytest.fixture
def fake_context(tmp_path: Path, fast_settings: Settings):
    def make(run_dir: Path | None = None, text=None, image=None, speech=None):
        return build_context(run_dir or tmp_path / "run", fast_settings, text=text or FakeText(),
                             image=image or FakeImage(), speech=speech or FakeSpeech())
    return make


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """Folders of tiny randomly initialised diffusers pipelines (tests/tiny_pipelines.py), built once per session."""
    pytest.importorskip("diffusers")
    from .tiny_pipelines import tiny_pipeline_dir

    root = tmp_path_factory.mktemp("tiny-pipelines")
    return lambda kind: tiny_pipeline_dir(kind, root)


def tiny_settings(tiny_models, *, image: str = "reference_image", video: str | None = "image_to_video",
                  image_extra: dict | None = None, video_extra: dict | None = None, **extra) -> Settings:
    """Settings that point the diffusers backends at tiny pipeline folders, on the CPU."""
    from .tiny_pipelines import TINY_SETTINGS

    keys = ("width", "height", "multiple", "steps", "guidance", "dtype", "max_batch", "fps", "frame_step",
            "max_frames")

    def opts(kind: str) -> dict:
        return {k: v for k, v in TINY_SETTINGS[kind].items() if k in keys}

    values = {"image_backend": "diffusers", "image_model": str(tiny_models(image)),
              "image_options": opts(image) | (image_extra or {}), "device": "cpu"}
    if video:
        values.update(video_backend="diffusers", video_model=str(tiny_models(video)),
                      video_options=opts(video) | (video_extra or {}))
    return Settings(_env_file=None, **{**values, **extra})


def fresh_backend(settings: Settings, role: str):
    """A diffusers backend of its own, with its own memory manager: for tests that change it (its worker's window,
    a stand-in pipeline), where the process-wide shared one (tools/gpu/hosted.shared_backend) would leak."""
    from dramafactory.tools.gpu.memory import GPUMemory
    from dramafactory.tools.gpu.setup import setup
    from dramafactory.tools.image.diffusers_image import DiffusersImage
    from dramafactory.tools.video.diffusers_video import DiffusersVideo

    ready = setup(settings, role)
    cls = DiffusersImage if role == "image" else DiffusersVideo
    return cls(ready.options, ready.info, device=ready.device, memory=GPUMemory(device="cpu",
                                                                               budget_bytes=float("inf")))
