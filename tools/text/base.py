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
    # What the reply must not contain, for a backend that can keep it out while decoding (the embedded model:
    # tools/text/decoding.py); others ignore these, and the caller's checks judge every reply either way.
    banned_phrases: tuple[str, ...] = ()  # e.g. the speaker's own name
    # Names no word may be spelled from ("Bryant", "Bryans'" for Bryan), except the words in allowed_words (the
    # other people's names, which the reply may need: Michelle talking to Michael)
    banned_spellings: tuple[str, ...] = ()
    allowed_words: tuple[str, ...] = ()
    no_repeat: tuple[str, ...] = ()  # texts the reply must not copy a run of tokens from (earlier lines)
    # Texts the reply must not copy even a short run from, in any case (the few-shot examples' answers)
    no_copy: tuple[str, ...] = ()


def chat_messages(request: JsonRequest) -> list[dict[str, str]]:
    """The request as the chat messages every chat API takes: the system prompt, then the turns."""
    return [{"role": "system", "content": request.system}] + \
        [{"role": role, "content": content} for role, content in request.messages]


@dataclass(frozen=True)
class TextResult:
    text: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    model: str
    backend: str
    # Accounting for this call (see docs/accounting.md): CPU seconds this process spent on it where the backend
    # can measure them (None: not measured), GPU seconds where it used a GPU (0.0 on CPU, None when a remote server
    # did the work and reported no figure), whether the work ran on another machine, and the seconds spent
    # loading the model when this call had to load it (a separate ledger row).
    cpu_seconds: float | None = None
    cpu_scope: str | None = None  # "thread" or "process" (tools/accounting.py): how cpu_seconds was measured
    gpu_seconds: float | None = 0.0
    remote: bool = False
    load_seconds: float = 0.0
    load_cpu_seconds: float | None = None
    # Seconds the server itself says it computed on this request (llama.cpp's llama-server: `timings.prompt_ms` +
    # `predicted_ms`; Ollama: `prompt_eval_duration` + `eval_duration`). None where the server reports no timing
    # (vLLM, llama-cpp-python's server) or the work ran here. Its own clock, not this machine's: not `seconds`.
    server_seconds: float | None = None


class TextBackendError(RuntimeError):
    """The backend itself failed: the server is down, refused the connection, timed out or answered 5xx.

    This is not a bad answer, so it is never re-asked or replaced by stock text: it propagates to the graph node,
    whose RetryPolicy retries it, and then stops the run (resumable once the backend is back). `fix` tells the
    user what to do; `backend` names which backend failed."""

    def __init__(self, message: str, *, backend: str = "text", fix: str = "check that the text backend is running"):
        super().__init__(message)
        self.backend = backend
        self.fix = fix


class UnusableReply(RuntimeError):
    """The backend ran but could not produce a reply to this request (a model overflowed its context, failed to
    decode, or a server refused the request as malformed). A content failure: the caller re-asks and, failing that,
    uses flagged stock text. It carries what the failed call cost, so the ledger still records it (a reply cut off
    by the token limit was still generated: its tokens and the server's time are carried too)."""

    def __init__(self, message: str, *, seconds: float = 0.0, cpu_seconds: float | None = None,
                 cpu_scope: str | None = None, gpu_seconds: float | None = 0.0, remote: bool = False,
                 load_seconds: float = 0.0, load_cpu_seconds: float | None = None, prompt_tokens: int = 0,
                 completion_tokens: int = 0, server_seconds: float | None = None, hint: str | None = None):
        super().__init__(message)
        # What the model itself should do differently on the re-ask (e.g. answer shorter), or None: the message is
        # for people and logs (it names servers and settings) and is never shown to the model.
        self.hint = hint
        self.seconds, self.cpu_seconds, self.cpu_scope = seconds, cpu_seconds, cpu_scope
        self.gpu_seconds, self.remote = gpu_seconds, remote
        self.load_seconds, self.load_cpu_seconds = load_seconds, load_cpu_seconds
        self.prompt_tokens, self.completion_tokens, self.server_seconds = prompt_tokens, completion_tokens, \
            server_seconds


@runtime_checkable
class TextBackend(Protocol):
    """What agents call. Optional attributes, read with getattr and a default so fakes need not have them:
    `remote` (bool, default False: the work runs on another machine) and `max_in_flight` (int, default 1: how many
    calls the caller may send at once; a server backend enforces it itself across the process, the embedded model
    answers one at a time)."""

    name: str
    model: str
    version: str  # the backend's software version (llama-cpp-python's, the server's), for the ledger

    def complete_json(self, request: JsonRequest) -> TextResult: ...
