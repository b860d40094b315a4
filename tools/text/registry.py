"""Build the text backend a configuration names. Unknown keys fail loudly with the known ones listed."""

from __future__ import annotations

from pathlib import Path

from .base import TextBackend

KNOWN = ("embedded", "llama-cpp", "openai")
# How each DRAMAFACTORY_OPENAI_STRUCTURED_MODE asks the server for JSON (docs/text-servers.md), for `check`.
STRUCTURED_MODES = {
    "json_schema": "as response_format json_schema (vLLM, OpenAI)",
    "json_object_schema": "as response_format json_object with a schema (llama.cpp's servers)",
    "ollama": "as Ollama's own format field, on its native /api/chat",
}


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
    max_in_flight: int = 8,
    embedded_model: str = "qwen2.5-coder-0.5b",
) -> TextBackend:
    if kind == "embedded":
        from .embedded_model import ensure_embedded_model, packaged
        from .llamacpp import LlamaCppText

        return LlamaCppText(ensure_embedded_model(cache_dir, embedded_model), n_threads=threads,
                            model=packaged(embedded_model).name)
    if kind == "llama-cpp":
        from .llamacpp import LlamaCppText

        if model_path is None:
            raise ValueError("text backend 'llama-cpp' needs DRAMAFACTORY_TEXT_MODEL_PATH (a .gguf file)")
        return LlamaCppText(model_path, n_threads=threads)
    if kind == "openai":
        if structured_mode == "ollama":  # Ollama's native API: its `format` field carries the schema
            from .ollama import OllamaText

            return OllamaText(base_url=base_url, api_key=api_key, model=model, timeout_s=timeout_s,
                              max_retries=max_retries, max_in_flight=max_in_flight)
        from .openai_compat import OpenAICompatText

        return OpenAICompatText(base_url=base_url, api_key=api_key, model=model, structured_mode=structured_mode,
                                timeout_s=timeout_s, max_retries=max_retries, max_in_flight=max_in_flight)
    raise ValueError(f"unknown text backend {kind!r}; known: {', '.join(KNOWN)}")


# --- the role's entries in tools/registry.py ---------------------------------------------------------------------

def from_settings(settings) -> TextBackend:  # noqa: ANN001 - dramafactory.config.Settings
    from dramafactory.errors import DramaError

    from .embedded_model import EmbeddedModelError

    try:
        return build_text_backend(
            settings.text_backend, model_path=settings.text_model_path, threads=settings.text_threads,
            cache_dir=settings.model_cache_dir, base_url=settings.openai_base_url, api_key=settings.openai_api_key,
            model=settings.openai_model, structured_mode=settings.openai_structured_mode,
            timeout_s=settings.openai_timeout_s, max_retries=settings.openai_max_retries,
            max_in_flight=settings.openai_max_in_flight, embedded_model=settings.embedded_model)
    except (EmbeddedModelError, ValueError) as exc:
        raise DramaError(str(exc), "reinstall with the README's run command, or set DRAMAFACTORY_TEXT_MODEL_PATH") \
            from exc


def check(settings):  # noqa: ANN001, ANN201 - Settings -> tools.registry.Availability
    """What the configured text backend would use; no model is loaded and no server is called."""
    import importlib.util

    from dramafactory.tools.registry import Availability

    kind = settings.text_backend
    if kind in ("embedded", "llama-cpp") and importlib.util.find_spec("llama_cpp") is None:
        return Availability(False, "llama-cpp-python is not installed", "reinstall with the README's run command")
    if kind == "embedded":
        return Availability(True, f"the packaged GGUF model {settings.embedded_model}, on this machine's CPU")
    if kind == "llama-cpp":
        path = settings.text_model_path
        if path is None or not Path(path).is_file():
            return Availability(False, f"no GGUF file at {path}", "set DRAMAFACTORY_TEXT_MODEL_PATH to a .gguf file")
        return Availability(True, f"{path} on this machine's CPU")
    if kind == "openai":
        from dramafactory.tools.presets import preset

        expected = preset(settings.preset).text
        note = "" if expected.model == settings.openai_model else \
            f"; the {settings.preset} preset expects {expected.model} on {expected.server}"
        mode = settings.openai_structured_mode
        how = STRUCTURED_MODES.get(mode)
        if how is None:
            return Availability(False, f"unknown structured mode {mode!r}",
                                f"set DRAMAFACTORY_OPENAI_STRUCTURED_MODE to one of: {', '.join(STRUCTURED_MODES)}")
        return Availability(True, f"model {settings.openai_model} at {settings.openai_base_url} (not contacted "
                                  f"by this check), structured output {how}, at most "
                                  f"{settings.openai_max_in_flight} requests in flight{note}")
    return Availability(False, f"unknown text backend {kind!r}", f"one of: {', '.join(KNOWN)}")
