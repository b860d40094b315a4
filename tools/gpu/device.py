"""Where GPU backends run and in which precision: CUDA by default, the CPU only when asked (tests, a laptop)."""

from __future__ import annotations

from typing import Any

from .errors import BackendUnavailable

DTYPES = ("bfloat16", "float16", "float32")


def cuda_state() -> tuple[bool, str]:
    """Whether CUDA can be used, and what torch says about it (for errors and `dramafactory backends`)."""
    import torch

    available = torch.cuda.is_available()
    build = torch.version.cuda or "none (a CPU build)"
    return available, f"torch {torch.__version__}, CUDA {build}, devices: {torch.cuda.device_count()}"


def resolve_device(setting: str, role: str) -> str:
    """'cuda' needs a CUDA device (say so before any work); 'cpu' runs anywhere, slowly."""
    if setting == "cpu":
        return "cpu"
    available, about = cuda_state()
    if not available:
        raise BackendUnavailable(
            role, f"a GPU backend is configured but no CUDA device is usable ({about})",
            "install the CUDA build of torch and `pip install .[gpu]` on a GPU machine (docs/gpu.md), or set "
            "DRAMAFACTORY_DEVICE=cpu to run the pipelines on the CPU (only tiny models are practical there)")
    return "cuda"


def torch_dtype(name: str, device: str) -> Any:
    """The torch dtype for a preset's precision. On the CPU half precision is emulated and slow: float32."""
    import torch

    if name not in DTYPES:
        raise ValueError(f"unknown dtype {name!r}; known: {', '.join(DTYPES)}")
    if device == "cpu":
        return torch.float32
    return getattr(torch, name)


def is_out_of_memory(exc: BaseException) -> bool:
    """CUDA's out-of-memory error (torch.OutOfMemoryError), also when a library re-raised it as a RuntimeError."""
    import torch

    oom = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
    return isinstance(exc, oom) or (isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower())


def empty_cache(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.empty_cache()
