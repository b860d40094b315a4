"""Text backend for any OpenAI-compatible server (vLLM, llama.cpp server, Ollama), through langchain-openai.

Structured output differs by server: vLLM and OpenAI accept `response_format={"type": "json_schema", ...}`;
llama.cpp's server rejects that and wants its own `{"type": "json_object", "schema": ...}` extension
(tried against both servers). `structured_mode` picks which one is sent.

A failure of the server itself (connection refused, timeout, 5xx after the client's own retries) raises
TextBackendError, which stops the run resumably; a reply that arrived but is not the JSON asked for, or a request
the server refused (400, 422), is a content failure the agents re-ask (agents/structured.py); a wrong model, key or
path (401, 403, 404) is a configuration error that stops the run with the fix.
"""

from __future__ import annotations

from typing import Literal

from dramafactory.errors import DramaError
from dramafactory.tools.accounting import measure

from .base import JsonRequest, TextBackendError, TextResult, UnusableReply

StructuredMode = Literal["json_schema", "json_object_schema"]


def response_format(schema: dict, mode: StructuredMode) -> dict:
    if mode == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema, "strict": False}}
    return {"type": "json_object", "schema": schema}


class OpenAICompatText:
    name = "openai"
    remote = True

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str = "EMPTY",
        structured_mode: StructuredMode = "json_schema",
        timeout_s: float = 120.0,
        max_retries: int = 2,
        chat_model=None,
    ):
        self.model = model
        self.base_url = base_url
        self.structured_mode = structured_mode
        if chat_model is None:
            from langchain_openai import ChatOpenAI

            # The OpenAI client retries connection errors, timeouts, 429 and 5xx itself, with exponential backoff;
            # what is still failing after that is a TextBackendError for the graph's RetryPolicy.
            chat_model = ChatOpenAI(base_url=base_url, api_key=api_key, model=model, timeout=timeout_s,
                                    max_retries=max_retries)
        self._chat = chat_model

    @property
    def version(self) -> str:
        from importlib.metadata import version

        return f"langchain-openai {version('langchain-openai')}"

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
        # Thread scope: only this process's own share (the HTTP client); the model's time is the server's.
        with measure("thread") as call:
            try:
                reply = bound.invoke(messages)
            except Exception as exc:  # noqa: BLE001 - sorted below into content, configuration and transport
                failure = exc
            else:
                failure = None
        if failure is not None:
            raise self._classify(failure, call.wall_seconds, call.cpu_seconds) from failure
        usage = getattr(reply, "usage_metadata", None) or {}
        served = (getattr(reply, "response_metadata", None) or {}).get("model_name") or self.model
        return TextResult(
            text=str(reply.content),
            prompt_tokens=int(usage.get("input_tokens", 0)),
            completion_tokens=int(usage.get("output_tokens", 0)),
            seconds=call.wall_seconds,
            model=str(served),
            backend=self.name,
            cpu_seconds=call.cpu_seconds,
            cpu_scope="thread",
            gpu_seconds=None,  # a remote server's GPU time: OpenAI-compatible servers do not report it
            remote=True,
        )

    def _classify(self, exc: Exception, seconds: float, cpu_seconds: float) -> Exception:
        """What a failed request means. The server refused this request (400, 422: e.g. a prompt past its context):
        a content failure, re-asked. Wrong key, model or path (401, 403, 404): a configuration error no retry fixes.
        Anything else (connection refused, timeout, 429 and 5xx after the client's own retries): the server is
        not serving, a TextBackendError that stops the run resumably."""
        import openai

        detail = f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
        where = f"the OpenAI-compatible text server at {self.base_url} (model {self.model})"
        if isinstance(exc, openai.BadRequestError | openai.UnprocessableEntityError):
            return UnusableReply(f"{where} refused the request: {detail}", seconds=seconds, cpu_seconds=cpu_seconds,
                                 cpu_scope="thread", gpu_seconds=None, remote=True)
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError | openai.NotFoundError):
            return DramaError(f"{where} rejected the factory's configuration: {detail}",
                              "check DRAMAFACTORY_OPENAI_MODEL (the name the server serves), DRAMAFACTORY_OPENAI_API_KEY "
                              "and that DRAMAFACTORY_OPENAI_BASE_URL ends in /v1, then resume the run")
        return TextBackendError(f"{where} failed: {detail}", backend=f"{self.name} at {self.base_url}",
                                fix=f"start the server at {self.base_url} or point DRAMAFACTORY_OPENAI_BASE_URL at a "
                                    "running one")
