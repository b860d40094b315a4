"""Text backend on llama-cpp-python: any local GGUF, with JSON output guaranteed by construction.

Two ways to get JSON out of the model:
- **Field prefill** (flat objects of string fields, which is what every agent asks for): the reply is written
  field by field. We put `{"field": "` in the assistant's mouth, let the model write until the closing quote,
  then add `", "next": "` and continue; the prompt prefix stays in llama.cpp's KV cache between fields.
  Why not a grammar here: llama-cpp-python 0.3.36 applies the grammar sampler before top-k, over Qwen's 151k-token
  vocabulary, which measured 75–200 ms per token on 2 cores against ~30 ms without it (bench notes in README).
- **Grammar** (`response_format` with a JSON schema) for any other schema.
Either way the caller validates with pydantic and re-asks on failure.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dramafactory.tools.accounting import measure, usable_cores

from .base import JsonRequest, TextResult, UnusableReply, chat_messages
from .decoding import DecodeGuard, glued_twins, word_start_index


def flat_string_fields(schema: dict[str, Any]) -> list[str] | None:
    """The field names, in order, if the schema is an object of free-text strings; else None."""
    props = schema.get("properties")
    if schema.get("type") != "object" or not props:
        return None
    for spec in props.values():
        if spec.get("type") != "string" or "enum" in spec:  # enums need the grammar to stay inside the set
            return None
    return list(props)


def cpu_has_amx(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this CPU has Intel AMX tiles. llama.cpp built for such a CPU (GGML_NATIVE) puts the weights in its
    AMX buffer type, and llama-cpp-python 0.3.36's build then crashes with SIGSEGV in the first decode (measured on
    a Xeon with amx_int8/amx_bf16: a bare `create_completion` segfaults; with the extra buffer types off it runs)."""
    try:
        flags = next((line for line in cpuinfo.read_text().splitlines() if line.startswith("flags")), "")
    except OSError:
        return False
    return any(flag.startswith("amx") for flag in flags.split())


_PARAMS_LOCK = threading.Lock()
TOKEN_CACHE_SIZE = 20_000  # texts the decode guard's tokenizations are kept for (a 60-episode series: ~1,500 lines)


def _skipping_extra_buffers(default):  # noqa: ANN001, ANN202 - llama-cpp-python's ctypes factory
    """`default` (llama_model_default_params) with `use_extra_bufts` turned off, marked so it is not wrapped twice."""
    if getattr(default, "without_extra_buffers", False):
        return default

    def params():
        value = default()
        value.use_extra_bufts = False
        return value

    params.without_extra_buffers = True  # type: ignore[attr-defined]
    return params


def without_extra_buffers() -> None:
    """Make every later model load in this process skip the extra buffer types (serve_llamacpp's server process,
    which loads its model inside llama-cpp-python's own code)."""
    import llama_cpp.llama_cpp as native

    native.llama_model_default_params = _skipping_extra_buffers(native.llama_model_default_params)


@contextlib.contextmanager
def _model_params(*, extra_buffers: bool) -> Iterator[None]:
    """Load with llama.cpp's extra (repacking) buffer types on or off. llama-cpp-python's `Llama()` takes no
    argument for `use_extra_bufts` and loads inside its constructor from `llama_model_default_params()`, so the
    default is wrapped for the duration of the load (under a lock: two backends may load at once)."""
    if extra_buffers:
        yield
        return
    import llama_cpp.llama_cpp as native

    with _PARAMS_LOCK:
        default = native.llama_model_default_params
        native.llama_model_default_params = _skipping_extra_buffers(default)
        try:
            yield
        finally:
            native.llama_model_default_params = default


class LlamaCppText:
    name = "llama-cpp"
    remote = False
    max_in_flight = 1  # one llama.cpp context behind a lock: a second call in flight would only wait

    def __init__(self, model_path: Path, *, n_ctx: int = 4096, n_threads: int | None = None, model: str | None = None):
        self.model_path = Path(model_path)
        self.model = model or self.model_path.stem
        self._n_ctx = n_ctx
        # All the cores this process may use by default (its affinity, not the host's count: a container limited
        # to 2 CPUs on a big host must not start a thread per host core). Left as None, llama-cpp-python generates
        # on cpu_count // 2 threads: one of the two cores CI and a laptop have (measured on 2 cores: 13.9 tok/s on
        # one thread, 24.7 on two).
        self._n_threads = n_threads or usable_cores()
        self._llm = None
        self._formatter = None
        self._vocab: tuple[dict[str, set[int]], dict[int, int]] | None = None
        # Every line call hands the guard the series' earlier lines again: each is tokenized once, not per call.
        self._token_cache: dict[str, tuple[int, ...]] = {}
        # llama.cpp contexts are not thread-safe; agents may be called from LangGraph worker threads.
        self._lock = threading.Lock()

    @property
    def version(self) -> str:
        from importlib.metadata import version

        return f"llama-cpp-python {version('llama-cpp-python')}"

    def _load(self):
        if self._llm is None:
            if not self.model_path.is_file():
                raise FileNotFoundError(f"text model not found: {self.model_path}")
            from llama_cpp import Llama  # imported lazily: the compiled library is heavy
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            with _model_params(extra_buffers=not cpu_has_amx()):
                self._llm = Llama(model_path=str(self.model_path), n_ctx=self._n_ctx, n_threads=self._n_threads,
                                  seed=0, verbose=False)
            template = self._llm.metadata.get("tokenizer.chat_template")
            if template:
                eos = self._llm._model.token_get_text(self._llm.token_eos())
                self._formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token="")
        return self._llm

    def complete_json(self, request: JsonRequest) -> TextResult:
        messages = chat_messages(request)
        with self._lock:
            loading = self._llm is None
            with measure("process") as load:
                llm = self._load()
            fields = flat_string_fields(request.schema)
            # Process scope: llama.cpp computes on its own threads, and the lock keeps other text calls out.
            failure: Exception | None = None
            with measure("process") as call:
                try:
                    if fields and self._formatter is not None:
                        text, prompt_tokens, completion_tokens = self._prefill_fields(llm, messages, fields, request)
                    else:
                        text, prompt_tokens, completion_tokens = self._grammar(llm, messages, request)
                except (RuntimeError, ValueError) as exc:  # context overflow or a decode failure: a content failure
                    failure = exc
        cost = {"cpu_seconds": call.cpu_seconds, "cpu_scope": "process", "gpu_seconds": 0.0,
                "load_seconds": load.wall_seconds if loading else 0.0,
                "load_cpu_seconds": load.cpu_seconds if loading else None}
        if failure is not None:
            raise UnusableReply(f"llama.cpp could not answer this request: {failure}", seconds=call.wall_seconds,
                                **cost) from failure
        return TextResult(text=text, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                          seconds=call.wall_seconds, model=self.model, backend=self.name, **cost)

    def _vocabulary_index(self, llm) -> tuple[dict[str, set[int]], dict[int, int]]:
        """The model's tokens by how their text starts, and each spaced token's unspaced twin (0.4 s once per
        model)."""
        if self._vocab is None:
            # 'Ġ' (byte-level BPE: Qwen, GPT-2) and '▁' (SentencePiece: Llama, Mistral, Gemma) mark a leading space.
            texts = [llm._model.token_get_text(i).replace("Ġ", " ").replace("▁", " ") for i in range(llm.n_vocab())]
            self._vocab = (word_start_index(texts), glued_twins(texts))
        return self._vocab

    def _tokenize(self, text: str) -> tuple[int, ...]:
        """`text` as the loaded model's tokens (no BOS), cached; called under the backend's lock."""
        tokens = self._token_cache.get(text)
        if tokens is None:
            if len(self._token_cache) >= TOKEN_CACHE_SIZE:  # a factory's many series: start over, not grow
                self._token_cache.clear()
            tokens = self._token_cache[text] = tuple(self._llm.tokenize(text.encode(), add_bos=False, special=False))
        return tokens

    def _guard(self, llm, request: JsonRequest):
        """The request's banned phrases and texts not to repeat, as a logits processor (None when it has none)."""
        if not (request.banned_phrases or request.no_repeat or request.no_copy or request.banned_spellings):
            return None
        from llama_cpp import LogitsProcessorList

        starts, glued = self._vocabulary_index(llm)
        guard = DecodeGuard(self._tokenize, banned_phrases=request.banned_phrases, no_repeat=request.no_repeat,
                            no_copy=request.no_copy, banned_spellings=request.banned_spellings, allowed_words=request.allowed_words,
                            word_starts=starts, glued=glued)
        return LogitsProcessorList([guard]) if guard else None

    def _grammar(self, llm, messages, request: JsonRequest) -> tuple[str, int, int]:
        reply = llm.create_chat_completion(
            messages=messages, response_format={"type": "json_object", "schema": request.schema},
            max_tokens=request.max_tokens, temperature=request.temperature, seed=request.seed, repeat_penalty=1.15,
            stop=request.stop or None, logits_processor=self._guard(llm, request))
        usage = reply.get("usage") or {}
        return (reply["choices"][0]["message"].get("content") or "", int(usage.get("prompt_tokens", 0)),
                int(usage.get("completion_tokens", 0)))

    def _prefill_fields(self, llm, messages, fields: list[str], request: JsonRequest) -> tuple[str, int, int]:
        prompt = self._formatter(messages=messages).prompt
        guard = self._guard(llm, request)
        values: dict[str, str] = {}
        prompt_tokens = completion_tokens = 0
        budget = request.max_tokens
        for index, field in enumerate(fields):
            prefix = ("{" if index == 0 else ", ") + json.dumps(field) + ': "'
            prompt += prefix
            cap = max(12, min(budget, request.max_tokens * 2 // (len(fields) + 1)))
            out = llm.create_completion(prompt=prompt, max_tokens=cap, temperature=request.temperature,
                                        seed=request.seed + index, repeat_penalty=1.15, stop=['"', "\n"],
                                        logits_processor=guard)
            piece = out["choices"][0]["text"]
            usage = out.get("usage") or {}
            prompt_tokens += int(usage.get("prompt_tokens", 0))
            used = int(usage.get("completion_tokens", 0))
            completion_tokens += used
            budget -= used
            if out["choices"][0].get("finish_reason") == "length":
                # Ran out of tokens mid-string: keep the whole sentences written so far; with none, hand back the
                # broken JSON so the caller re-asks.
                cut = max(piece.rfind(mark) for mark in ".!?")
                if cut < 0:
                    return prompt[prompt.rindex("{"):] + piece, prompt_tokens, completion_tokens
                piece = piece[: cut + 1]
            piece = piece.rstrip("\\")
            values[field] = piece
            prompt += piece + '"'
        return json.dumps(values), prompt_tokens, completion_tokens
