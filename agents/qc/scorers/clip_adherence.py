"""Prompt adherence: does the frame show what its prompt describes? Optional; it needs a CLIP or SigLIP folder the
user already has on disk (DRAMAFACTORY_QC_CLIP_MODEL_PATH) and the `clip` extra (transformers). Nothing is ever
downloaded: a model that cannot be loaded makes the scorer say so (judged=False) instead of passing the frame."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PIL import Image

from dramafactory.schemas import ScoreResult

SCORER = "clip_adherence"
TEXT_KEYS = ("input_ids", "attention_mask", "position_ids")  # the rest (pixel_values, SigLIP2 masks) is image input


class ClipAdherence:
    def __init__(self, model_path: Path, threshold: float) -> None:
        self.model_path = Path(model_path)
        self.threshold = threshold
        self._model: Any = None
        self._processor: Any = None
        self._device = "cpu"
        self._max_text = 77
        self._load_error: str | None = None  # cached: a broken folder is reported on every frame, not reloaded
        self._lock = threading.Lock()  # shot branches score in parallel threads: load the model once

    def _load(self) -> None:
        # Imported here so the package imports (and the other scorers run) without the `clip` extra.
        import torch
        from transformers import AutoModel, AutoProcessor

        if not self.model_path.is_dir():
            raise FileNotFoundError("no such folder")
        # local_files_only: the path is a folder on disk; never fall back to the hub, even if it looks like a repo id.
        model = AutoModel.from_pretrained(str(self.model_path), local_files_only=True)
        self._processor = AutoProcessor.from_pretrained(str(self.model_path), local_files_only=True)
        self._device = "cuda" if torch.cuda.is_available() else "cpu"
        # Pad and truncate to the model's own text length: SigLIP was trained on max_length padding, and a tiny
        # or custom tokenizer may not know the limit (model_max_length unset) and overflow the position table.
        self._max_text = int(model.config.text_config.max_position_embeddings)
        self._model = model.to(self._device).eval()  # last: other threads take a set _model as "ready"

    def _fail(self, error: str) -> ScoreResult:
        return ScoreResult(scorer=SCORER, score=0.0, threshold=self.threshold, passed=False, judged=False,
                           reason=f"CLIP model at {self.model_path} cannot be used: {error}; "
                                  "fix DRAMAFACTORY_QC_CLIP_MODEL_PATH or unset it")

    def score(self, image: Image.Image, prompt: str) -> ScoreResult:
        with self._lock:
            if self._model is None and self._load_error is None:
                try:
                    self._load()
                except Exception as exc:  # missing folder, corrupt files, transformers absent: "cannot judge"
                    self._load_error = f"{type(exc).__name__}: {exc}"
        if self._load_error is not None:
            return self._fail(self._load_error)
        try:
            import torch

            inputs = self._processor(text=[prompt], images=[image.convert("RGB")], return_tensors="pt",
                                     padding="max_length", truncation=True, max_length=self._max_text)
            # Pixels follow the weights' dtype: a float16 checkpoint on CUDA rejects float32 input.
            inputs = {k: v.to(self._device, self._model.dtype) if v.is_floating_point() else v.to(self._device)
                      for k, v in inputs.items()}
            with torch.inference_mode():
                embeddings = [self._model.get_image_features(**{k: v for k, v in inputs.items() if k not in TEXT_KEYS}),
                              self._model.get_text_features(**{k: v for k, v in inputs.items() if k in TEXT_KEYS})]
            # transformers 4.x returns the projected embeddings as a tensor; newer releases may return an output
            # object that carries them in pooler_output.
            image_emb, text_emb = (e if isinstance(e, torch.Tensor) else e.pooler_output for e in embeddings)
            similarity = round(float(torch.nn.functional.cosine_similarity(image_emb.float(), text_emb.float())[0]), 4)
        except Exception as exc:  # a bad frame or an incompatible model must not stop the episode
            return self._fail(f"{type(exc).__name__}: {exc}")
        passed = similarity >= self.threshold
        reason = "" if passed else (f"the frame does not match its prompt (CLIP similarity {similarity} < "
                                    f"{self.threshold}); render what the prompt describes: {prompt[:80]}")
        return ScoreResult(scorer=SCORER, score=similarity, threshold=self.threshold, passed=passed, reason=reason)
