"""The GPU backends' core without a GPU: model lookup and kind checks, the pipeline worker (batching, out-of-memory
halving), the VRAM manager, presets and the backend registry. Fakes here are test doubles and say so."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from dramafactory.config import Settings
from dramafactory.errors import DramaError
from dramafactory.tools import registry
from dramafactory.tools.gpu import device as gpu_device
from dramafactory.tools.gpu.errors import BackendUnavailable, GPUOutOfMemory
from dramafactory.tools.gpu.memory import GIB, GPUMemory
from dramafactory.tools.gpu.pipelines import LoadedPipeline, PipelineInfo, inspect_pipeline, missing_packages
from dramafactory.tools.gpu.worker import PipelineWorker
from dramafactory.tools.presets import options, presets


def _index(folder: Path, class_name: str, **components) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model_index.json").write_text(json.dumps({"_class_name": class_name, **components}))
    return folder


# --- finding and inspecting a model (model_index.json only: no weights are read) ----------------------------------

def test_a_model_path_that_does_not_exist_names_the_role_and_setting(tmp_path):
    with pytest.raises(BackendUnavailable) as err:
        inspect_pipeline(str(tmp_path / "no-such-model"), "image")
    assert "does not exist" in err.value.cause and "DRAMAFACTORY_IMAGE_MODEL" in err.value.fix
    assert err.value.role == "image"


def test_a_folder_that_is_not_a_pipeline_is_refused(tmp_path):
    (tmp_path / "weights").mkdir()
    with pytest.raises(BackendUnavailable, match="no model_index.json"):
        inspect_pipeline(str(tmp_path / "weights"), "image")


def test_an_id_not_in_the_local_cache_is_never_downloaded(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(BackendUnavailable) as err:
        inspect_pipeline("someone/some-model-that-is-not-cached", "video")
    assert "not in the local Hugging Face cache" in err.value.cause
    assert "hf download someone/some-model-that-is-not-cached" in err.value.fix
    assert "DRAMAFACTORY_VIDEO_MODEL" in err.value.fix


def test_a_video_model_given_as_the_image_model_is_refused_with_the_fix(tmp_path):
    folder = _index(tmp_path / "wan", "WanImageToVideoPipeline", transformer=["diffusers", "WanTransformer3DModel"])
    with pytest.raises(BackendUnavailable) as err:
        inspect_pipeline(str(folder), "image")
    assert "WanImageToVideoPipeline, a image-to-video pipeline" in err.value.cause
    assert "DRAMAFACTORY_VIDEO_MODEL" in err.value.cause and "text-to-image" in err.value.fix


def test_an_image_model_given_as_the_video_model_is_refused(tmp_path):
    folder = _index(tmp_path / "klein", "Flux2KleinPipeline")
    with pytest.raises(BackendUnavailable, match="the video role needs a image-to-video pipeline"):
        inspect_pipeline(str(folder), "video")


def test_an_img2img_pipeline_is_not_a_keyframe_model(tmp_path):
    folder = _index(tmp_path / "sdxl", "StableDiffusionXLImg2ImgPipeline")
    with pytest.raises(BackendUnavailable, match="image-to-image"):
        inspect_pipeline(str(folder), "image")


def test_kinds_and_reference_support_come_from_the_call_signature(tmp_path):
    klein = inspect_pipeline(str(_index(tmp_path / "k", "Flux2KleinPipeline")), "image")
    plain = inspect_pipeline(str(_index(tmp_path / "z", "ZImagePipeline")), "image")
    wan = inspect_pipeline(str(_index(tmp_path / "w", "WanImageToVideoPipeline")), "video")
    assert (klein.kind, klein.takes_references) == ("text-to-image", True)
    assert (plain.kind, plain.takes_references) == ("text-to-image", False)
    assert wan.kind == "image-to-video" and "num_frames" in wan.call_params


def test_an_unknown_pipeline_class_names_the_diffusers_version(tmp_path):
    with pytest.raises(BackendUnavailable, match="does not have"):
        inspect_pipeline(str(_index(tmp_path / "x", "NoSuchPipeline")), "image")


def test_a_pipeline_that_needs_a_missing_package_says_which(tmp_path, monkeypatch):
    # Wan cleans prompts with ftfy; diffusers only fails at call time without it (a NameError)
    real = __import__("importlib").util.find_spec
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None if name == "ftfy" else real(name, *a))
    assert missing_packages("WanImageToVideoPipeline", {}) == ["ftfy"]
    folder = _index(tmp_path / "wan", "WanImageToVideoPipeline")
    with pytest.raises(BackendUnavailable) as err:
        inspect_pipeline(str(folder), "video")
    assert "ftfy" in err.value.cause and "pip install ftfy" in err.value.fix


def test_a_slow_tokenizer_needs_sentencepiece(monkeypatch):
    real = __import__("importlib").util.find_spec
    monkeypatch.setattr("importlib.util.find_spec",
                        lambda name, *a: None if name == "sentencepiece" else real(name, *a))
    assert missing_packages("FluxPipeline", {"tokenizer_2": ["transformers", "T5Tokenizer"]}) == ["sentencepiece"]


def test_cuda_missing_where_a_gpu_backend_is_configured(monkeypatch):
    monkeypatch.setattr(gpu_device, "cuda_state", lambda: (False, "torch 2.13.0+cpu, CUDA none"))
    with pytest.raises(BackendUnavailable) as err:
        gpu_device.resolve_device("cuda", "image")
    assert "no CUDA device" in err.value.cause and "DRAMAFACTORY_DEVICE=cpu" in err.value.fix
    assert gpu_device.resolve_device("cpu", "image") == "cpu"


def test_out_of_memory_is_recognised_in_both_forms():
    import torch

    assert gpu_device.is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"))
    assert gpu_device.is_out_of_memory(RuntimeError("CUDA error: out of memory"))
    assert not gpu_device.is_out_of_memory(ValueError("bad shape"))


# --- the pipeline worker ---------------------------------------------------------------------------------------

def test_jobs_that_arrive_together_share_one_call_and_keys_keep_them_apart():
    calls: list[list[str]] = []

    def run(batch):
        calls.append(list(batch))
        return [f"image of {p}" for p in batch]

    worker = PipelineWorker("test", run, device="cpu", max_batch=4, window_s=0.2)
    results: dict[str, str] = {}

    def submit(key, payload):
        results[payload] = worker.submit(key, payload)

    threads = [threading.Thread(target=submit, args=("scene-1" if i < 3 else "scene-2", f"p{i}")) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert {p: r for p, (r, _) in results.items()} == {f"p{i}": f"image of p{i}" for i in range(5)}
    assert sorted(len(c) for c in calls) == [2, 3]  # one call per key, all of a key's jobs together
    shares = {p: s for p, (_, s) in results.items()}
    assert shares["p0"].batch == 3 and shares["p3"].batch == 2
    assert shares["p0"].gpu_seconds is None and shares["p0"].cpu_scope == "process"


def test_cuda_out_of_memory_halves_the_batch_and_later_batches_stay_small():
    import torch

    seen: list[int] = []

    def run(batch):
        seen.append(len(batch))
        if len(batch) > 1:  # a test double of a card that fits one image at a time
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 8.00 GiB")
        return [p * 10 for p in batch]

    worker = PipelineWorker("test", run, device="cpu", max_batch=4, window_s=0.3)
    out: dict[int, tuple] = {}
    threads = [threading.Thread(target=lambda i=i: out.__setitem__(i, worker.submit("k", i))) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert {i: r for i, (r, _) in out.items()} == {0: 0, 1: 10, 2: 20, 3: 30}
    assert seen[0] == 4 and seen[1] == 2 and seen.count(1) == 4
    assert worker.max_batch == 1
    assert any("halved to 2" in n for n in out[0][1].notes)


def test_out_of_memory_on_a_single_image_is_a_clear_error():
    import torch

    def run(batch):
        raise torch.OutOfMemoryError("CUDA out of memory")

    worker = PipelineWorker("image", run, device="cpu", max_batch=1)
    with pytest.raises(GPUOutOfMemory, match="batch of one"):
        worker.submit("k", 1)


def test_an_error_reaches_the_caller_and_the_worker_keeps_serving():
    def run(batch):
        if batch == ["bad"]:
            raise ValueError("the pipeline rejected it")
        return batch

    worker = PipelineWorker("t", run, device="cpu", max_batch=1)
    with pytest.raises(ValueError, match="rejected"):
        worker.submit("k", "bad")
    assert worker.submit("k", "good")[0] == "good"


def test_one_thread_calls_the_pipeline_however_many_branches_submit():
    callers: set[str] = set()

    def run(batch):
        callers.add(threading.current_thread().name)
        time.sleep(0.01)
        return batch

    worker = PipelineWorker("solo", run, device="cpu", max_batch=2, window_s=0.01)
    threads = [threading.Thread(target=worker.submit, args=("k", i)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert callers == {"pipeline-solo"}


# --- the VRAM manager (pipelines are test doubles that record where they were moved) ----------------------------

@dataclass
class _Pipe:
    moves: list[str]
    offloaded: bool = False

    def to(self, where: str) -> None:
        self.moves.append(where)

    def enable_model_cpu_offload(self, device: str) -> None:
        self.offloaded = True


def _loaded(gib: float) -> LoadedPipeline:
    info = PipelineInfo(source="x", folder=Path("x"), class_name="X", kind="text-to-image", takes_references=False)
    return LoadedPipeline(info=info, pipe=_Pipe([]), device="cuda", dtype=None, load_seconds=0.0,
                          bytes=int(gib * GIB))


def test_pipelines_stay_resident_while_they_fit_and_the_idle_one_moves_when_not():
    memory = GPUMemory(device="cuda", budget_bytes=30 * GIB)
    image, video = _loaded(12), _loaded(20)
    memory.register("image", image)
    memory.register("video", video)
    with memory.use("image"):
        pass
    assert memory.resident() == {"image": "gpu", "video": "cpu"}
    with memory.use("video"):
        assert memory.resident() == {"image": "cpu", "video": "gpu"}
    assert image.pipe.moves == ["cuda", "cpu"] and video.pipe.moves == ["cuda"]
    assert any("moved image to the CPU to make room for video" in e for e in memory.events)


def test_a_pipeline_larger_than_the_budget_runs_with_model_offload():
    memory = GPUMemory(device="cuda", budget_bytes=8 * GIB)
    big = _loaded(20)
    memory.register("video", big)
    with memory.use("video"):
        pass
    assert big.pipe.offloaded and memory.resident() == {"video": "offload"}


def test_a_pipeline_in_use_is_never_moved_another_waits():
    memory = GPUMemory(device="cuda", budget_bytes=25 * GIB)
    memory.register("image", _loaded(12))
    memory.register("video", _loaded(20))
    order: list[str] = []
    inside = threading.Event()

    def hold_image():
        with memory.use("image"):
            inside.set()
            time.sleep(0.3)
            order.append("image done")

    holder = threading.Thread(target=hold_image)
    holder.start()
    inside.wait(5)
    with memory.use("video"):
        order.append("video running")
    holder.join(5)
    assert order == ["image done", "video running"]


# --- presets -------------------------------------------------------------------------------------------------

def test_presets_name_a_model_per_role_and_sizes_round_to_the_models_multiple():
    known = presets()
    assert {"throughput", "quality"} <= set(known)
    for preset in known.values():
        assert preset.image.model and preset.video.model and preset.text.model
        width, height = preset.video.size()
        assert width % preset.video.multiple == 0 and height % preset.video.multiple == 0
    opts = options("throughput", "image", "/models/mine", {"steps": 8, "width": 730})
    assert opts.model == "/models/mine" and opts.steps == 8 and opts.size() == (720, 1280)


def test_settings_override_a_preset_from_the_environment(monkeypatch):
    monkeypatch.setenv("DRAMAFACTORY_IMAGE_OPTIONS__STEPS", "12")
    monkeypatch.setenv("DRAMAFACTORY_VIDEO_OPTIONS__MAX_FRAMES", "81")
    settings = Settings(_env_file=None)
    assert settings.image_options.steps == 12 and settings.video_options.max_frames == 81
    with pytest.raises(ValueError):
        Settings(_env_file=None, image_options={"steps": 0})


# --- the registry ----------------------------------------------------------------------------------------------

def test_every_role_has_its_default_and_unknown_names_list_the_known_ones():
    settings = Settings(_env_file=None)
    for role in registry.ROLES:
        assert registry.configured_name(role, settings) in registry.entries(role)
    with pytest.raises(DramaError) as err:
        registry.build("image", Settings(_env_file=None, image_backend="dalle"))
    assert "storyboard" in err.value.fix and "diffusers" in err.value.fix


def test_a_configured_backend_that_cannot_run_stops_before_any_work(tmp_path):
    settings = Settings(_env_file=None, image_backend="diffusers", device="cpu", image_model=str(tmp_path / "nope"))
    with pytest.raises(DramaError) as err:
        registry.build("image", settings)
    assert err.value.cause.startswith("image backend 'diffusers': the model path")
    rows = {(r["role"], r["name"]): r for r in registry.report(settings)}
    assert rows[("image", "diffusers")]["configured"] and not rows[("image", "diffusers")]["ok"]
    assert rows[("image", "storyboard")]["ok"] and rows[("video", "none")]["configured"]


def test_a_wrong_result_count_fails_the_callers_and_never_kills_the_worker():
    def run(batch):
        return batch[:-1] if len(batch) > 1 or batch == ["short"] else batch

    worker = PipelineWorker("t", run, device="cpu", max_batch=1)
    with pytest.raises(RuntimeError, match="returned 0 results for 1 jobs"):
        worker.submit("k", "short")
    assert worker.submit("k", "fine")[0] == "fine"  # the thread lives on


def test_the_out_of_memory_retry_runs_after_the_failed_call_is_released():
    import gc
    import weakref

    import torch

    alive: list[bool] = []
    held: list = []

    def run(batch):
        if held:  # a retry: the failed call's tensor must be gone by now
            alive.append(held[0]() is not None)
        if len(batch) > 1:
            activations = torch.zeros(16)
            held.append(weakref.ref(activations))
            raise torch.OutOfMemoryError("CUDA out of memory")
        return batch

    worker = PipelineWorker("t", run, device="cpu", max_batch=2, window_s=0.3)
    threads = [threading.Thread(target=worker.submit, args=("k", i)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    gc.collect()
    assert alive and not any(alive)
