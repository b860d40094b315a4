"""Text backend on llama-cpp-python: any local GGUF, with JSON-schema-constrained decoding (a grammar)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from .base import JsonRequest, TextBackendError, TextResult


class LlamaCppText:
    name = "llama-cpp"

    def __init__(self, model_path: Path, *, n_ctx: int = 2048, n_threads: int | None = None, model: str | None = None):
        self.model_path = Path(model_path)
        self.model = model or self.model_path.stem
        self._n_ctx = n_ctx
        self._n_threads = n_threads
        self._llm = None
        # llama.cpp contexts are not thread-safe; agents may be called from LangGraph worker threads.
        self._lock = threading.Lock()

    def _load(self):
        if self._llm is None:
            if not self.model_path.is_file():
                raise FileNotFoundError(f"text model not found: {self.model_path}")
            from llama_cpp import Llama  # imported lazily: the compiled library is heavy

            self._llm = Llama(
                model_path=str(self.model_path),
                n_ctx=self._n_ctx,
                n_threads=self._n_threads,
                seed=0,
                verbose=False,
            )
        return self._llm

    def complete_json(self, request: JsonRequest) -> TextResult:
        messages = [{"role": "system", "content": request.system}]
        messages += [{"role": role, "content": content} for role, content in request.messages]
        with self._lock:
            llm = self._load()
            start = time.perf_counter()
            try:
                reply = llm.create_chat_completion(
                    messages=messages,
                    response_format={"type": "json_object", "schema": request.schema},
                    max_tokens=request.max_tokens,
                    temperature=request.temperature,
                    seed=request.seed,
                    repeat_penalty=1.15,
                    stop=request.stop or None,
                )
            except (RuntimeError, ValueError) as exc:  # context overflow or a decode failure: worth one more try
                raise TextBackendError(f"llama.cpp failed: {exc}") from exc
            seconds = time.perf_counter() - start
        usage = reply.get("usage") or {}
        return TextResult(
            text=reply["choices"][0]["message"].get("content") or "",
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            seconds=seconds,
            model=self.model,
            backend=self.name,
        )
