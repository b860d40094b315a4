"""Text backend for any OpenAI-compatible server (vLLM, llama.cpp server, Ollama), through langchain-openai.

Structured output differs by server: vLLM and OpenAI accept `response_format={"type": "json_schema", ...}`;
llama.cpp's server rejects that and wants its own `{"type": "json_object", "schema": ...}` extension
(verified in shared/langgraph-notes.md §9). `structured_mode` picks which one is sent.
"""

from __future__ import annotations

import time
from typing import Literal

from .base import JsonRequest, TextBackendError, TextResult

StructuredMode = Literal["json_schema", "json_object_schema"]


def response_format(schema: dict, mode: StructuredMode) -> dict:
    if mode == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema, "strict": False}}
    return {"type": "json_object", "schema": schema}


class OpenAICompatText:
    name = "openai"

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str = "EMPTY",
        structured_mode: StructuredMode = "json_schema",
        timeout_s: float = 120.0,
        chat_model=None,
    ):
        self.model = model
        self.structured_mode = structured_mode
        if chat_model is None:
            from langchain_openai import ChatOpenAI

            chat_model = ChatOpenAI(base_url=base_url, api_key=api_key, model=model, timeout=timeout_s, max_retries=2)
        self._chat = chat_model

    def complete_json(self, request: JsonRequest) -> TextResult:
        from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

        kinds = {"user": HumanMessage, "assistant": AIMessage}
        messages = [SystemMessage(request.system)] + [kinds[role](content) for role, content in request.messages]
        bound = self._chat.bind(
            response_format=response_format(request.schema, self.structured_mode),
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            seed=request.seed,
        )
        start = time.perf_counter()
        try:
            reply = bound.invoke(messages)
        except Exception as exc:  # the HTTP client raises many types; all of them mean "this call failed"
            raise TextBackendError(f"{self.model} at the OpenAI-compatible endpoint failed: {exc}") from exc
        usage = getattr(reply, "usage_metadata", None) or {}
        return TextResult(
            text=str(reply.content),
            prompt_tokens=int(usage.get("input_tokens", 0)),
            completion_tokens=int(usage.get("output_tokens", 0)),
            seconds=time.perf_counter() - start,
            model=self.model,
            backend=self.name,
        )
