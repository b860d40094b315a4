"""What every diffusers backend shares: its options, model and device, one lazy load of its pipeline into the
process's GPU memory manager, and the load time reported once (the caller writes a load row to the ledger)."""

from __future__ import annotations

import threading

from dramafactory.tools.presets import GenerationOptions

from .device import torch_dtype
from .memory import GPUMemory
from .pipelines import LoadedPipeline, PipelineInfo, load_pipeline


class HostedPipeline:
    name = "diffusers"

    def __init__(self, role: str, opts: GenerationOptions, info: PipelineInfo, *, device: str, memory: GPUMemory):
        self.options = opts
        self.info = info
        self.device = device
        self.memory = memory
        self.model = opts.model
        self.key = f"{role}:{opts.model}#{id(self)}"  # its own entry in the memory manager, whoever else loads it
        self._loaded = False
        self._load_lock = threading.Lock()
        self._unreported_load = 0.0  # load seconds not yet written to the ledger
        import diffusers

        self.version = f"diffusers {diffusers.__version__}, {info.class_name}"

    def _ensure_loaded(self) -> None:
        with self._load_lock:
            if self._loaded:
                return
            loaded = load_pipeline(self.info, device=self.device, dtype=torch_dtype(self.options.dtype, self.device))
            self.memory.register(self.key, loaded)
            self._unreported_load = loaded.load_seconds
            self._on_loaded(loaded)
            self._loaded = True

    def _on_loaded(self, loaded: LoadedPipeline) -> None:
        """What a backend reads off its pipeline once it is loaded (e.g. the video model's frame rule)."""

    def generator(self, seed: int):  # noqa: ANN201 - torch.Generator
        """A take's own random stream, on the device the pipeline draws its noise on."""
        import torch

        return torch.Generator(device="cpu" if self.device == "cpu" else "cuda").manual_seed(seed)

    def take_load_seconds(self) -> float:
        """Seconds spent loading the pipeline not yet reported; reported once."""
        with self._load_lock:
            load, self._unreported_load = self._unreported_load, 0.0
        return load


_SHARED: dict[tuple, HostedPipeline] = {}
_SHARED_LOCK = threading.Lock()


def shared_backend(cls: type[HostedPipeline], opts: GenerationOptions, info: PipelineInfo, *, device: str,
                   memory: GPUMemory) -> HostedPipeline:
    """The process's one backend per class, options, model folder and device. Every run the process makes (the HTTP
    service runs several at once) uses it, so a pipeline is loaded once, counted once against the VRAM budget, and
    called by its one worker thread only: two runs never call one pipeline from two threads."""
    key = (cls, opts.model_dump_json(), str(info.folder), device, id(memory))
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = cls(opts, info, device=device, memory=memory)  # type: ignore[call-arg]
        return _SHARED[key]
