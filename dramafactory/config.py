"""Settings, read once at the edges (CLI, API, bench) from DRAMAFACTORY_* environment variables or a .env file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DRAMAFACTORY_", env_file=".env", extra="ignore")

    # Text: "embedded" (the packaged GGUF), "llama-cpp" (any local GGUF at text_model_path),
    # "openai" (any OpenAI-compatible endpoint: vLLM, llama.cpp server, Ollama).
    text_backend: Literal["embedded", "llama-cpp", "openai"] = "embedded"
    text_model_path: Path | None = None
    text_threads: int | None = Field(default=None, description="CPU threads for llama.cpp; default: all cores.")
    openai_base_url: str = "http://127.0.0.1:8000/v1"
    openai_api_key: str = "EMPTY"
    openai_model: str = "Qwen/Qwen2.5-7B-Instruct"
    openai_structured_mode: Literal["json_schema", "json_object_schema"] = "json_schema"
    model_cache_dir: Path | None = None

    image_backend: Literal["storyboard"] = "storyboard"
    speech_backend: Literal["voicebank"] = "voicebank"
    piper_model_path: Path | None = Field(default=None, description="A better piper voice (.onnx) for male leads.")
    espeak_binary: str = "espeak-ng"

    width: int = 720
    height: int = 1280
    fps: int = 24
    max_attempts: int = Field(default=3, ge=1, le=10)
    max_reasks: int = Field(default=3, ge=1, le=10, description="Re-asks of the text model per rejected answer.")
    music: bool = True

    # Accounting: what one CPU-hour and one GPU-hour cost on the user's hardware (for cost per finished minute).
    cpu_hour_usd: float = 0.04
    gpu_hour_usd: float = 2.0
