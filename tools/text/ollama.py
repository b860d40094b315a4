"""Text backend for Ollama's native chat API, whose `format` field carries the JSON schema the reply must follow.

The factory's base URL setting is the same for every server kind (`http://HOST:11434/v1`, what Ollama's
OpenAI-compatible endpoint uses); the native root is that URL without the trailing `/v1`, and a call is
POST {root}/api/chat with `{"model", "messages", "stream": false, "format": SCHEMA, "options": {...}}`.

Why a small httpx call and not langchain-ollama's ChatOllama: it is one POST, httpx is already installed (a dependency
of langchain-core and chromadb), and the raw reply is needed for the accounting (`prompt_eval_duration`,
`eval_duration`, in ns) and for `done_reason` ("length": cut off by the token limit). ChatOllama would add two
dependencies (langchain-ollama, ollama) for the same request.

Failures are classified as for every server (tools/text/servers.py). httpx does not retry on its own, so the
retries the openai SDK does for the other servers are done here the same way: connection errors (refused, reset, a
body cut off mid-way), timeouts, 408/409/429 and 5xx, `max_retries` times, with exponential backoff from 0.5 s up to
8 s, less up to 25% jitter.
"""

from __future__ import annotations

import random
import time
from typing import Any

import httpx

from .base import JsonRequest, TextResult, chat_messages
from .servers import cut_off, describe, misconfigured, refused, send, server_down, slots_for

RETRY_STATUSES = {408, 409, 429}


def native_root(base_url: str) -> str:
    root = base_url.rstrip("/")
    return root.removesuffix("/v1")


def ollama_server_seconds(body: dict[str, Any]) -> float | None:
    """The server's compute time for the request: prompt evaluation plus generation, as llama-server's timings are
    counted (not `total_duration`, which also holds a model load the request may have caused); ns to seconds."""
    parts = [body.get(key) for key in ("prompt_eval_duration", "eval_duration")]
    parts = [float(p) for p in parts if isinstance(p, int | float)]
    return sum(parts) / 1e9 if parts else None


class _Retryable(Exception):
    def __init__(self, cause: Exception):
        super().__init__(str(cause))
        self.cause = cause


class OllamaText:
    name = "ollama"
    remote = True

    def __init__(self, *, base_url: str, model: str, api_key: str = "EMPTY", timeout_s: float = 120.0,
                 max_retries: int = 2, max_in_flight: int = 8, client: httpx.Client | None = None):
        self.model = model
        self.base_url = base_url
        self.structured_mode = "ollama"
        self.max_retries = max(0, int(max_retries))
        self._url = native_root(base_url) + "/api/chat"
        self._slots = slots_for(base_url, max_in_flight)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key and api_key != "EMPTY" else {}
        # httpx.Client is thread-safe (a connection pool): one per backend, shared by the calling threads.
        self._client = client or httpx.Client(timeout=timeout_s, headers=headers)

    @property
    def max_in_flight(self) -> int:
        return self._slots.limit

    @property
    def version(self) -> str:
        return f"httpx {httpx.__version__} (Ollama /api/chat)"

    def complete_json(self, request: JsonRequest) -> TextResult:
        messages = chat_messages(request)
        options: dict[str, Any] = {"temperature": request.temperature, "seed": request.seed,
                                   "num_predict": request.max_tokens}
        if request.stop:
            options["stop"] = list(request.stop)
        payload = {"model": self.model, "messages": messages, "stream": False, "format": request.schema,
                   "options": options}
        where = f"the Ollama server at {self.base_url} (model {self.model})"
        body, call = send(self._slots, lambda: self._post(payload),
                          lambda exc, seconds, cpu: self._classify(exc, where, seconds, cpu))
        prompt_tokens = int(body.get("prompt_eval_count") or 0)
        completion_tokens = int(body.get("eval_count") or 0)
        server_seconds = ollama_server_seconds(body)
        if body.get("done_reason") == "length":
            raise cut_off(where, request.max_tokens, call.wall_seconds, call.cpu_seconds, prompt_tokens=prompt_tokens,
                          completion_tokens=completion_tokens, server_seconds=server_seconds)
        message = body.get("message") or {}
        return TextResult(text=str(message.get("content") or ""), prompt_tokens=prompt_tokens,
                          completion_tokens=completion_tokens, seconds=call.wall_seconds,
                          model=str(body.get("model") or self.model), backend=self.name, cpu_seconds=call.cpu_seconds,
                          cpu_scope="thread", gpu_seconds=None, remote=True, server_seconds=server_seconds)

    def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        for attempt in range(self.max_retries + 1):
            try:
                return self._post_once(payload)
            except _Retryable as exc:
                if attempt == self.max_retries:
                    raise exc.cause  # noqa: B904 - the transport's own error (its cause kept) is what failed
                delay = min(0.5 * 2.0 ** attempt, 8.0) * (1 - 0.25 * random.random())  # jitter: retries from many threads spread out
                time.sleep(delay)
        raise AssertionError("unreachable")

    def _post_once(self, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self._client.post(self._url, json=payload)  # reads the whole body: a cut one raises here
        except httpx.TransportError as exc:  # refused, reset, timed out, a body shorter than announced
            raise _Retryable(exc) from exc
        if response.status_code in RETRY_STATUSES or response.status_code >= 500:
            raise _Retryable(httpx.HTTPStatusError(f"HTTP {response.status_code}: {response.text[:200]}",
                                                   request=response.request, response=response))
        if response.status_code >= 400:  # Ollama's {"error": ...} says why ("model 'x' not found"): keep it
            raise httpx.HTTPStatusError(f"HTTP {response.status_code}: {response.text[:200]}",
                                        request=response.request, response=response)
        body = response.json()  # a 200 whose body is not JSON: the server misbehaves (transient, below)
        # A 200 that is not a chat reply (a proxy's page, {"error": ...}, no message): the server is not serving,
        # and stock text in its place would finish the run on nothing.
        if not isinstance(body, dict) or "error" in body or not isinstance(body.get("message"), dict):
            raise ValueError(f"the reply is not an Ollama chat reply: {str(body)[:100]}")
        return body

    def _classify(self, exc: Exception, where: str, seconds: float, cpu_seconds: float) -> Exception:
        detail = describe(exc)
        status = exc.response.status_code if isinstance(exc, httpx.HTTPStatusError) else None
        if status in (400, 422):
            return refused(where, detail, seconds, cpu_seconds)
        if status in (401, 403, 404):
            return misconfigured(where, detail, f"pull the model on the server (ollama pull {self.model}) or set "
                                 "DRAMAFACTORY_OPENAI_MODEL to one it has (ollama list), check "
                                 "DRAMAFACTORY_OPENAI_API_KEY and that DRAMAFACTORY_OPENAI_BASE_URL is "
                                 "http://HOST:11434/v1, then resume the run")
        return server_down(where, self.base_url, detail, backend=self.name,
                           timed_out=isinstance(exc, httpx.TimeoutException))
