"""Text backend contract: one JSON-constrained chat completion per call.

Agents never talk to llama.cpp or an HTTP server directly; they build a JsonRequest and a backend chosen by
configuration answers it. The same contract carries the embedded GGUF model, a llama.cpp server, Ollama and vLLM.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class JsonRequest:
    system: str
    messages: list[tuple[str, str]]  # (role, content): few-shot turns first, the real ask last
    schema: dict[str, Any]  # JSON Schema the reply must follow
    max_tokens: int = 160
    temperature: float = 0.7
    seed: int = 0
    stop: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TextResult:
    text: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    model: str
    backend: str


class TextBackendError(RuntimeError):
    """A backend failed in a way a retry may fix (timeout, connection, server error)."""


@runtime_checkable
class TextBackend(Protocol):
    name: str
    model: str

    def complete_json(self, request: JsonRequest) -> TextResult: ...
