"""Text backend for any OpenAI-compatible server (vLLM, llama.cpp's servers, OpenAI itself), through the openai SDK.

Structured output differs by server, so `structured_mode` picks what is sent:
- "json_schema" (vLLM, OpenAI): `response_format={"type": "json_schema", "json_schema": {...}}`. vLLM removed its
  `guided_json` field in v0.12; it is not sent.
- "json_object_schema" (llama-cpp-python's `python -m llama_cpp.server` and llama.cpp's `llama-server`):
  `{"type": "json_object", "schema": ...}`, their own extension. llama_cpp.server refuses "json_schema" (HTTP 500
  with a validation error naming response_format): that is a configuration error naming the setting to change
  (tests/test_text_server.py, docs/text-servers.md).
Ollama's native API is another backend (tools/text/ollama.py). Either way the caller validates the reply (pydantic).

Why the openai SDK and not langchain-openai's ChatOpenAI (which wraps the same SDK): ChatOpenAI drops the fields of
the completion it does not know, and the accounting needs llama-server's `timings` object (its own prompt and
generation milliseconds); the SDK keeps unknown fields in `.model_extra`, and gives `finish_reason` as sent.

Failures (tools/text/servers.py): the SDK itself retries connection errors (refused, reset, a body cut off mid-way),
timeouts, 408/409/429 and 5xx with exponential backoff, `max_retries` times; what still fails is a TextBackendError
that names the server, for the graph node's RetryPolicy and then a resumable stop. A request the server refused (400,
422) or a reply cut off by the token limit is a content failure the agent re-asks; 401/403/404 is a configuration
error.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from .base import JsonRequest, TextResult, chat_messages
from .servers import cut_off, describe, misconfigured, refused, send, server_down, slots_for

StructuredMode = Literal["json_schema", "json_object_schema"]


def response_format(schema: dict, mode: StructuredMode) -> dict:
    if mode == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema, "strict": False}}
    if mode == "json_object_schema":
        return {"type": "json_object", "schema": schema}
    raise ValueError(f"unknown structured mode {mode!r} for an OpenAI-compatible server; known: json_schema, "
                     "json_object_schema (Ollama's 'ollama' mode is tools/text/ollama.py)")


def llama_server_seconds(extra: dict[str, Any] | None) -> float | None:
    """llama.cpp's llama-server adds `timings` (milliseconds of prompt processing and of generation) to a
    completion; vLLM and llama-cpp-python's server send nothing of the kind."""
    timings = (extra or {}).get("timings")
    if not isinstance(timings, dict):
        return None
    parts = [timings.get(key) for key in ("prompt_ms", "predicted_ms")]
    parts = [float(p) for p in parts if isinstance(p, int | float)]
    return sum(parts) / 1000.0 if parts else None


def _refuses_response_format_type(message: str) -> bool:
    """Whether a server's validation error is about `response_format.type` itself (llama-cpp-python's server:
    `'loc': ('body', 'response_format', 'type')`), not an error elsewhere that merely quotes the request body."""
    return "response_format.type" in message or \
        re.search(r"'loc'\W+[^)\]]*response_format\W+type\b", message) is not None


def _completion_choice(reply: Any) -> Any:
    """The first choice of a chat completion, or None when the reply is not one (the SDK hands back a 200 that is
    not JSON as a plain string, and keeps an unexpected JSON shape as it came)."""
    from openai.types.chat import ChatCompletion

    if not isinstance(reply, ChatCompletion) or (reply.model_extra or {}).get("error") or not reply.choices:
        return None
    choice = reply.choices[0]
    return choice if getattr(choice, "message", None) is not None else None


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
        max_in_flight: int = 8,
        client: Any = None,
    ):
        response_format({}, structured_mode)  # an unknown mode fails here, at construction, not at the first call
        self.model = model
        self.base_url = base_url
        self.structured_mode = structured_mode
        # Shared by every backend object of this process that talks to this server (tools/text/servers.py).
        self._slots = slots_for(base_url, max_in_flight)
        if client is None:
            import openai

            # One client per backend; it is thread-safe (a pooled HTTP client), so complete_json may be called from
            # many threads at once. Its own retries (exponential backoff from 0.5 s) come before the graph's.
            client = openai.OpenAI(base_url=base_url, api_key=api_key or "EMPTY", timeout=timeout_s,
                                   max_retries=max_retries)
        self._client = client

    @property
    def max_in_flight(self) -> int:
        """How many calls this process keeps in flight at this server, all backends together (the smallest asked)."""
        return self._slots.limit

    @property
    def version(self) -> str:
        import openai

        return f"openai-python {openai.__version__}"

    def complete_json(self, request: JsonRequest) -> TextResult:
        messages = chat_messages(request)
        where = f"the OpenAI-compatible text server at {self.base_url} (model {self.model})"
        reply, call = send(
            self._slots,
            lambda: self._client.chat.completions.create(
                model=self.model, messages=messages,
                response_format=response_format(request.schema, self.structured_mode),
                max_tokens=request.max_tokens, temperature=request.temperature, seed=request.seed,
                **({"stop": list(request.stop)} if request.stop else {})),  # no `"stop": null` on the wire
            lambda exc, seconds, cpu: self._classify(exc, where, seconds, cpu))
        choice = _completion_choice(reply)
        if choice is None:
            # A 200 that is not a chat completion (a proxy's HTML page, a JSON list, {"error": ...}, no choices):
            # the server is not serving; stock text in its place would finish the run on nothing.
            raise server_down(where, self.base_url, f"the reply is not a chat completion: {str(reply)[:160]}",
                              backend=self.name)
        usage = getattr(reply, "usage", None)
        prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
        server_seconds = llama_server_seconds(reply.model_extra)
        if choice.finish_reason == "length":
            raise cut_off(where, request.max_tokens, call.wall_seconds, call.cpu_seconds, prompt_tokens=prompt_tokens,
                          completion_tokens=completion_tokens, server_seconds=server_seconds)
        return TextResult(
            text=choice.message.content or "",
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            seconds=call.wall_seconds,
            model=str(reply.model or self.model),
            backend=self.name,
            cpu_seconds=call.cpu_seconds,
            cpu_scope="thread",
            gpu_seconds=None,  # a remote server's GPU time: OpenAI-compatible servers do not report it
            remote=True,
            server_seconds=server_seconds,
        )

    def _classify(self, exc: Exception, where: str, seconds: float, cpu_seconds: float) -> Exception:
        """What a failed request means. The server refused this request (400, 422: e.g. a prompt past its context):
        a content failure, re-asked. Wrong key, model or path (401, 403, 404): a configuration error no retry fixes.
        Anything else (connection refused or cut, timeout, 429 and 5xx after the client's own retries, a body that
        is not a completion): the server is not serving, a TextBackendError that stops the run resumably."""
        import openai

        detail = describe(exc)
        kind = response_format({}, self.structured_mode)["type"]
        if isinstance(exc, openai.APIStatusError) and _refuses_response_format_type(str(exc)) and kind in str(exc):
            # The server does not take this kind of response_format at all: no retry or re-ask helps. Seen:
            # llama-cpp-python's server answers "json_schema" with HTTP 500 and a validation error naming
            # response_format.type (docs/text-servers.md).
            return misconfigured(where, detail, f"this server does not take response_format {kind!r}: set "
                                 "DRAMAFACTORY_OPENAI_STRUCTURED_MODE to json_object_schema for llama.cpp's servers, "
                                 "json_schema for vLLM or OpenAI, ollama for Ollama, then resume the run")
        if isinstance(exc, openai.BadRequestError | openai.UnprocessableEntityError):
            return refused(where, detail, seconds, cpu_seconds)
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError | openai.NotFoundError):
            return misconfigured(where, detail, "check DRAMAFACTORY_OPENAI_MODEL (the name the server serves), "
                                 "DRAMAFACTORY_OPENAI_API_KEY and that DRAMAFACTORY_OPENAI_BASE_URL ends in /v1, "
                                 "then resume the run")
        return server_down(where, self.base_url, detail, backend=self.name,
                           timed_out=isinstance(exc, openai.APITimeoutError))
