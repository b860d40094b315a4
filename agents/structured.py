"""Ask the text backend for one small JSON object, validate it, and re-ask with the reason when it is rejected.

This is the only place agents meet the model. A 0.5B model fails in known ways (broken JSON, numbers out of
bounds, narration instead of speech, copied lines), so every answer goes through pydantic and the caller's own
checks; a rejected answer is sent back with the reason, a bounded number of times, then StructuredOutputError
(the callers then use flagged stock text). A failure of the backend itself (TextBackendError: server down, timeout,
5xx) is not a bad answer: it is recorded and raised, so the graph node's RetryPolicy retries it and then the run
stops, resumable, instead of finishing on stock text.
"""

from __future__ import annotations

import difflib
import json
import unicodedata
import zlib
from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from dramafactory.tools.ledger import Ledger
from dramafactory.tools.text.base import JsonRequest, TextBackend, TextBackendError, TextResult, UnusableReply

M = TypeVar("M", bound=BaseModel)
Check = Callable[[M], str | None]  # returns a reason to reject, or None


class StructuredOutputError(RuntimeError):
    def __init__(self, stage: str, reasons: list[str]):
        self.stage = stage
        self.reasons = reasons
        super().__init__(f"{stage}: the text model gave no acceptable answer after {len(reasons)} tries: {reasons[-1]}")


def similar(a: str, b: str) -> float:
    """How alike two texts are, ignoring case (0..1): the measure of every copy and repeat check."""
    return difflib.SequenceMatcher(None, a.lower(), b.lower()).ratio()


def stable_seed(*parts: object) -> int:
    """A seed derived from the run seed and the call's identity, so reruns ask the same questions the same way."""
    return zlib.crc32(json.dumps(parts, default=str).encode()) & 0x7FFFFFFF


def no_copy_of_example(example_names: set[str], example_texts: list[str]) -> Check:
    """Small models copy their few-shot example (names, whole sentences); reject that with a reason."""

    def check(answer: BaseModel) -> str | None:
        for value in answer.model_dump().values():
            if not isinstance(value, str):
                continue
            words = {w.strip(".,!?;:'\"").removesuffix("'s") for w in value.split()}
            if "example" in value.lower():
                return "write about this series itself, in its own words"
            leaked = sorted(words & example_names)
            if leaked:
                return f"{', '.join(leaked)} is not anyone in this series; use only the names given in the question"
            if any(similar(value, t) > 0.75 for t in example_texts):
                return "use fresh words about this series"
        return None

    return check


def written_in(language: str) -> Check:
    """A small model drifts into another script mid-sentence (seen: "uncover the 真相 behind" in an English
    synopsis). For a language written in Latin letters, any letter of another script is sent back."""

    def check(answer: BaseModel) -> str | None:
        for value in answer.model_dump().values():
            if isinstance(value, str):
                foreign = [ch for ch in value if ch.isalpha() and not unicodedata.name(ch, "").startswith("LATIN")]
                if foreign:
                    return f"write only in English words; {''.join(foreign[:6])!r} is not English"
        return None

    def anything(answer: BaseModel) -> str | None:
        return None

    return check if language.lower().split("-")[0] in LATIN_LANGUAGES else anything


LATIN_LANGUAGES = {"en", "es", "fr", "de", "it", "pt", "nl", "sv", "da", "no", "pl", "cs", "ro", "tr", "id", "vi"}


def each_part(check: Check) -> Check:
    """no_copy_of_example and written_in read an answer's own string fields; a nested answer (a cast, a list of
    outlines, a scene) is checked part by part, so a copied name or a foreign script deep inside is still caught."""

    def parts(model: BaseModel):
        yield model
        for field in type(model).model_fields:
            value = getattr(model, field)
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, BaseModel):
                    yield from parts(item)

    def check_parts(answer: BaseModel) -> str | None:
        return next((r for r in (check(part) for part in parts(answer)) if r), None)

    return check_parts


def parse_reply(text: str, schema: type[M]) -> M:
    # llama.cpp can emit raw control characters inside strings: strict=False accepts them.
    data = json.loads(text, strict=False)
    return schema.model_validate(data)


def with_note(ask: str, note: str | None) -> str:
    """A person rejected the last draft with a note (a review checkpoint): every ask of the redo carries it."""
    if not note:
        return ask
    return f"{ask}\nA reviewer rejected the last draft with this note; follow it: {' '.join(note.split())}"


def ask_json(
    backend: TextBackend,
    ledger: Ledger,
    *,
    stage: str,
    schema: type[M],
    system: str,
    examples: list[tuple[str, str]],
    ask: str,
    seed: int,
    checks: list[Check] | None = None,
    max_tries: int = 3,
    max_tokens: int = 160,
    temperature: float = 0.7,
    banned_phrases: tuple[str, ...] = (),
    no_repeat: tuple[str, ...] = (),
    no_copy: tuple[str, ...] = (),
    banned_spellings: tuple[str, ...] = (),
    allowed_words: tuple[str, ...] = (),
    reask: Callable[[list[str]], str] | None = None,
    avoid_rejected_for: tuple[str, ...] = (),
) -> M:
    """`banned_phrases`, `no_repeat`, `no_copy`, `banned_spellings` (and `allowed_words`, their exceptions) are what the
    answer must not contain, for a backend that can keep it out while decoding (tools/text/decoding.py); the
    checks judge the answer either way. `reask`: the question for a re-ask, given the reasons so far (a line
    that copied the earlier lines is re-asked without them); `avoid_rejected_for`: the reasons whose rejected
    answers' words join `no_repeat` for the tries after them (a line refused as a repeat; never an answer refused
    for anything else, whose words may be the ones it must say, nor one that must restate the logline)."""
    messages: list[tuple[str, str]] = []
    for user, assistant in examples:
        messages += [("user", user), ("assistant", assistant)]
    messages.append(("user", ask))
    reasons: list[str] = []  # why each try failed, for the flag and the error
    rules: list[str] = []  # what the model is told on the re-ask
    json_schema = schema.model_json_schema()
    rejected: list[str] = []  # the rejected answers' own words, kept out of later tries (avoid_rejected_for)
    for attempt in range(max_tries):
        request = JsonRequest(system=system, messages=list(messages), schema=json_schema,
                              max_tokens=max_tokens, temperature=min(1.2, temperature + 0.15 * attempt),
                              seed=seed + attempt, banned_phrases=banned_phrases, no_repeat=(*no_repeat, *rejected),
                              no_copy=no_copy,
                              banned_spellings=banned_spellings, allowed_words=allowed_words)
        try:
            result = backend.complete_json(request)
        except TextBackendError as exc:
            remote = getattr(backend, "remote", False)
            ledger.record(stage=stage, backend=backend.name, model=backend.model, seconds=0.0, kind="error",
                          remote=remote, gpu_seconds=None if remote else 0.0,
                          version=getattr(backend, "version", ""), attempt=attempt + 1, error=str(exc)[:300])
            raise
        except UnusableReply as exc:  # the model ran but made nothing of this request: re-ask like a bad answer
            reasons.append(str(exc))
            if exc.hint:  # only what the model can act on goes into its rules, never a server's URL or a setting
                rules.append(exc.hint)
                messages = messages[:-1] + [("user", _with_rules(reask(reasons) if reask else ask, rules))]
            _record_load(ledger, backend, stage, exc.load_seconds, exc.load_cpu_seconds, exc.remote)
            ledger.record(stage=stage, backend=backend.name, model=backend.model, seconds=exc.seconds,
                          cpu_seconds=exc.cpu_seconds, cpu_scope=exc.cpu_scope, gpu_seconds=exc.gpu_seconds,
                          remote=exc.remote, version=getattr(backend, "version", ""), attempt=attempt + 1,
                          rejected=str(exc)[:300], prompt_tokens=exc.prompt_tokens,
                          completion_tokens=exc.completion_tokens, **_server_timing(exc.server_seconds))
            continue
        answer: M | None = None
        try:
            answer = parse_reply(result.text, schema)
        except (json.JSONDecodeError, ValidationError) as exc:
            reason = f"the reply was not valid JSON for the schema ({str(exc).splitlines()[0]})"
        else:
            reason = next((r for r in (check(answer) for check in checks or []) if r), None)
        # One ledger row per call, with the verdict: rejected answers and their reasons feed the evals.
        _record_call(ledger, backend, result, stage=stage, attempt=attempt + 1,
                     **({"rejected": reason, "reply": result.text[:300]} if reason else {}))
        if reason is None and answer is not None:
            return answer
        reasons.append(reason)
        rules.append(reason)
        if reason in avoid_rejected_for and answer is not None:
            rejected += _strings(answer)
        # Re-ask with the reasons as rules, but without the rejected answer: shown its own bad answer, a 0.5B model
        # mostly repeats it (measured: the same reply three times in a row).
        messages = messages[:-1] + [("user", _with_rules(reask(reasons) if reask else ask, rules))]
    raise StructuredOutputError(stage, reasons)


def _strings(answer: BaseModel) -> list[str]:
    """An answer's own text fields (not its JSON keys and quotes: those every answer must write)."""
    return [value for value in answer.model_dump().values() if isinstance(value, str) and value.strip()]


def _with_rules(ask: str, rules: list[str]) -> str:
    listed = "\n".join(f"- {r}" for r in dict.fromkeys(rules))
    return f"{ask}\nRules for this answer:\n{listed}"


def _record_load(ledger: Ledger, backend: TextBackend, stage: str, seconds: float, cpu_seconds: float | None,
                 remote: bool) -> None:
    if seconds:  # the model was loaded for this call: its own row, so load time is never hidden
        ledger.record(stage=f"{stage.split('.')[0]}.load", backend=backend.name, model=backend.model,
                      seconds=seconds, kind="load", version=getattr(backend, "version", ""), remote=remote,
                      cpu_seconds=cpu_seconds, cpu_scope="process", gpu_seconds=None if remote else 0.0)


def _record_call(ledger: Ledger, backend: TextBackend, result: TextResult, *, stage: str, **extra: object) -> None:
    _record_load(ledger, backend, stage, result.load_seconds, result.load_cpu_seconds, result.remote)
    ledger.record(stage=stage, backend=result.backend, model=result.model, seconds=result.seconds,
                  prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens,
                  cpu_seconds=result.cpu_seconds, cpu_scope=result.cpu_scope, gpu_seconds=result.gpu_seconds,
                  remote=result.remote, version=getattr(backend, "version", ""),
                  **_server_timing(result.server_seconds), **extra)


def _server_timing(server_seconds: float | None) -> dict[str, float]:
    """The server's own compute time for the call, next to our wall clock (which also holds queueing and the
    network). Only where the server reports it: rows of local calls stay as they were."""
    return {} if server_seconds is None else {"server_seconds": round(server_seconds, 4)}
