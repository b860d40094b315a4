"""The diffusers keyframe and clip backends through their real interfaces (the registry builds them from settings),
on tiny randomly initialised pipelines built offline (tests/tiny_pipelines.py) and run on the CPU."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dramafactory.errors import DramaError
from dramafactory.schemas import Character, Location, Look, Shot, Voice
from dramafactory.tools import registry
from dramafactory.tools.assembly.video import probe
from dramafactory.tools.image.base import ImageRequest
from dramafactory.tools.video.base import ClipRequest, motion_prompt

from .conftest import fresh_backend, tiny_settings
from .tiny_pipelines import TINY_SETTINGS

pytest.importorskip("diffusers")

LOOK = Look(hair_color="black", hair_style="bob", skin_tone="olive", build="slim", face="a scar on the chin",
            palette=["#8a1c1c", "#202020"])
MAYA = Character(name="Maya Cole", role="protagonist", gender="female", age=31, look=LOOK, wardrobe="a red coat",
                 voice=Voice(description="calm", voice_id="en-us+f3"))
WARD = Location(name="Ward 7", kind="interior", description="a hospital ward at night", time_of_day="night")


def _shot(index: int, characters: list[str] | None = None) -> Shot:
    return Shot(id=f"e01s{index:02d}", episode=1, scene=1, index=index, framing="close-up", duration_s=2.0,
                characters=["Maya Cole"] if characters is None else characters, location="Ward 7",
                time_of_day="night", action="Maya looks up from the chart", seed=100 + index,
                prompt=f"close-up of Maya Cole, shot {index}, hospital ward at night, cinematic")


def _request(tmp_path: Path, index: int, references: dict[str, Path] | None = None) -> ImageRequest:
    return ImageRequest(shot=_shot(index), cast={"Maya Cole": MAYA}, location=WARD, seed=100 + index,
                        out_path=tmp_path / f"take{index}.png", width=180, height=320,
                        references=references or {})


def _parallel(calls):
    """Run the calls from parallel threads, as the graph's shot branches do; results in call order."""
    out: list = [None] * len(calls)
    threads = [threading.Thread(target=lambda i=i, c=c: out.__setitem__(i, c())) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return out


@pytest.fixture(scope="module")
def klein(tiny_models):
    return fresh_backend(tiny_settings(tiny_models, video=None), "image")


def test_runs_in_one_process_share_one_pipeline_and_its_worker(tiny_models):
    # the HTTP service runs several productions in one process: each builds its context, none may get a pipeline
    # (and worker thread) of its own for the same model and options
    settings = tiny_settings(tiny_models, video=None)
    first, second = registry.build("image", settings), registry.build("image", settings)
    assert first is second and first.worker is second.worker
    other = registry.build("image", tiny_settings(tiny_models, video=None, image_extra={"steps": 3}))
    assert other is not first and other.key != first.key


def test_shots_that_arrive_together_are_drawn_in_one_pipeline_call(klein, tmp_path):
    klein.worker.window_s = 0.5  # the branches start within the window on a loaded machine too
    results = _parallel([lambda i=i: klein.render(_request(tmp_path, i)) for i in range(3)])
    assert 3 in klein.worker.batches
    for i, result in enumerate(results):
        assert result.backend == "diffusers" and result.batch == 3 and result.path == tmp_path / f"take{i}.png"
        with Image.open(result.path) as image:
            assert image.size == (180, 320)  # the episode's size, whatever the model's multiple
        assert result.cpu_seconds is not None and result.cpu_scope == "process" and result.gpu_seconds == 0.0
        assert result.conditioning == ["none: no accepted reference sheet for Maya Cole"]
    pictures = [np.asarray(Image.open(r.path)) for r in results]
    assert not np.array_equal(pictures[0], pictures[1])  # each take its own seed


def test_a_batch_draws_what_one_by_one_calls_with_the_same_seeds_draw(klein, tmp_path):
    klein.worker.window_s = 0.5
    batch = _parallel([lambda i=i: klein.render(_request(tmp_path / "b", i)) for i in range(2)])
    klein.worker.window_s = 0.0
    single = klein.render(_request(tmp_path / "s", 0))
    assert batch[0].batch == 2 and single.batch == 1
    a, b = (np.asarray(Image.open(r.path), dtype=np.int16) for r in (batch[0], single))
    assert np.abs(a - b).max() <= 2  # the same picture up to the pipeline's batched numerics


def test_reference_sheets_condition_the_take_and_the_take_says_so(klein, tmp_path):
    sheet = tmp_path / "maya_sheet.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (256, 144, 3), dtype=np.uint8)).save(sheet)
    klein.worker.window_s = 0.0
    plain = klein.render(_request(tmp_path / "p", 5))
    referenced = klein.render(_request(tmp_path / "r", 5, {"Maya Cole": sheet}))
    assert referenced.conditioning == ["reference:Maya Cole"]
    assert klein.info.takes_references
    assert not np.array_equal(np.asarray(Image.open(plain.path)), np.asarray(Image.open(referenced.path)))


def test_a_pipeline_without_reference_support_still_draws_and_says_so(tiny_models, tmp_path):
    zimage = fresh_backend(tiny_settings(tiny_models, image="plain_image", video=None), "image")
    result = zimage.render(_request(tmp_path, 1, {"Maya Cole": tmp_path / "unused.png"}))
    assert result.path.is_file()
    assert result.conditioning == ["none: ZImagePipeline takes no reference images; continuity rests on QC"]


def test_cuda_out_of_memory_halves_the_batch_through_the_backend(tiny_models, tmp_path):
    import torch

    backend = fresh_backend(tiny_settings(tiny_models, video=None), "image")
    backend.render(_request(tmp_path / "warm", 0))  # loads the pipeline
    loaded = backend.memory._entries[backend.key].loaded
    real = loaded.pipe

    class SmallCard:  # a test double: the real pipeline behind a card that holds one image at a time
        def __call__(self, **kwargs):
            if len(kwargs["prompt"]) > 1:
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
            return real(**kwargs)

    loaded.pipe = SmallCard()
    backend.worker.window_s = 0.5
    results = _parallel([lambda i=i: backend.render(_request(tmp_path, i)) for i in range(4)])
    assert all(r.path.is_file() for r in results)
    assert backend.worker.max_batch == 1
    assert any("halved" in note for r in results for note in r.notes)


def test_the_first_take_reports_the_model_load_once(tiny_models, tmp_path):
    backend = fresh_backend(tiny_settings(tiny_models, video=None), "image")
    first, second = backend.render(_request(tmp_path, 0)), backend.render(_request(tmp_path, 1))
    assert first.load_seconds > 0 and second.load_seconds == 0.0


def test_a_model_path_that_does_not_exist_stops_before_any_work(tiny_models, tmp_path):
    settings = tiny_settings(tiny_models, video=None, image_model=str(tmp_path / "missing"))
    with pytest.raises(DramaError) as err:
        registry.build("image", settings)
    assert "image backend 'diffusers'" in err.value.cause and "does not exist" in err.value.cause
    assert "DRAMAFACTORY_IMAGE_MODEL" in err.value.fix


def test_a_video_model_given_as_the_image_model_is_refused(tiny_models):
    settings = tiny_settings(tiny_models, video=None, image_model=str(tiny_models("image_to_video")))
    with pytest.raises(DramaError, match="WanImageToVideoPipeline, a image-to-video pipeline"):
        registry.build("image", settings)


# --- clips ------------------------------------------------------------------------------------------------------

def _keyframe(tmp_path: Path) -> Path:
    path = tmp_path / "keyframe.png"
    gradient = np.linspace(0, 255, 180 * 320 * 3).reshape(320, 180, 3).astype(np.uint8)
    Image.fromarray(gradient).save(path)
    return path


@pytest.mark.parametrize("kind,step", [("image_to_video", 4), ("ltx_image_to_video", 8)])
def test_a_clip_follows_the_shots_length_and_the_models_frame_rule(tiny_models, tmp_path, kind, step):
    # no frame_step: the pipeline's own temporal factor must win over the preset's (4 for Wan in the presets)
    options = {k: v for k, v in TINY_SETTINGS[kind].items() if k not in ("num_frames", "frame_step")} \
        | {"max_frames": 41}
    video = registry.build("video", tiny_settings(tiny_models, video=kind, video_options=options))
    shot = _shot(1).model_copy(update={"camera_move": "push-in"})
    request = ClipRequest(shot=shot, keyframe=_keyframe(tmp_path), prompt=motion_prompt(shot), seed=3,
                          duration_s=2.0, out_path=tmp_path / "clip.mp4")
    result = video.animate(request)
    fps = video.fps
    assert (result.frames - 1) % step == 0 and result.frames >= 2.0 * fps  # covers the shot, k*step+1
    assert result.frames - step < 2.0 * fps  # and is the shortest such count
    info = probe(result.path)
    assert info["duration"] == pytest.approx(result.frames / fps, abs=0.2)
    assert result.notes == [] and result.model == str(tiny_models(kind))


def test_a_shot_longer_than_the_model_makes_is_capped_and_says_so(tiny_models, tmp_path):
    video = registry.build("video", tiny_settings(tiny_models))  # max_frames 9 at 8 fps: 1.125 s
    shot = _shot(2)
    result = video.animate(ClipRequest(shot=shot, keyframe=_keyframe(tmp_path), prompt=motion_prompt(shot), seed=4,
                                       duration_s=3.0, out_path=tmp_path / "long.mp4"))
    assert result.frames == 9
    assert any("holds its last frame" in note for note in result.notes)


def test_an_image_model_given_as_the_video_model_is_refused(tiny_models):
    settings = tiny_settings(tiny_models, video_model=str(tiny_models("reference_image")))
    with pytest.raises(DramaError, match="video backend 'diffusers'.*Flux2KleinPipeline"):
        registry.build("video", settings)
