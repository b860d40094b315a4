"""Build the text backend a configuration names. Unknown keys fail loudly with the known ones listed."""

from __future__ import annotations

from pathlib import Path

from .base import TextBackend

KNOWN = ("embedded", "llama-cpp", "openai")


def build_text_backend(
    kind: str,
    *,
    model_path: Path | None = None,
    threads: int | None = None,
    cache_dir: Path | None = None,
    base_url: str = "",
    api_key: str = "EMPTY",
    model: str = "",
    structured_mode: str = "json_schema",
    timeout_s: float = 120.0,
    max_retries: int = 2,
) -> TextBackend:
    if kind == "embedded":
        from .embedded_model import MODEL_NAME, ensure_embedded_model
        from .llamacpp import LlamaCppText

        return LlamaCppText(ensure_embedded_model(cache_dir), n_threads=threads, model=MODEL_NAME)
    if kind == "llama-cpp":
        from .llamacpp import LlamaCppText

        if model_path is None:
            raise ValueError("text backend 'llama-cpp' needs DRAMAFACTORY_TEXT_MODEL_PATH (a .gguf file)")
        return LlamaCppText(model_path, n_threads=threads)
    if kind == "openai":
        from .openai_compat import OpenAICompatText

        return OpenAICompatText(base_url=base_url, api_key=api_key, model=model, structured_mode=structured_mode,
                                timeout_s=timeout_s, max_retries=max_retries)
    raise ValueError(f"unknown text backend {kind!r}; known: {', '.join(KNOWN)}")
