"""Text backends' own logic, without a server or weights."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
from openai.types.chat import ChatCompletion

from dramafactory.config import Settings
from dramafactory.tools.text.base import JsonRequest, TextBackend
from dramafactory.tools.text.embedded_model import EmbeddedModelError, verify_file
from dramafactory.tools.text.llamacpp import LlamaCppText, flat_string_fields
from dramafactory.tools.text.ollama import OllamaText, native_root, ollama_server_seconds
from dramafactory.tools.text.openai_compat import OpenAICompatText, llama_server_seconds, response_format
from dramafactory.tools.text.registry import build_text_backend, check

from .fakes import FakeText


def test_flat_string_schemas_use_field_prefill_and_others_the_grammar():
    assert flat_string_fields({"type": "object", "properties": {"a": {"type": "string"},
                                                                "b": {"type": "string"}}}) == ["a", "b"]
    assert flat_string_fields({"type": "object", "properties": {"a": {"enum": ["x"], "type": "string"}}}) is None
    assert flat_string_fields({"type": "object", "properties": {"n": {"type": "integer"}}}) is None
    assert flat_string_fields({"type": "array"}) is None


def test_response_format_per_server_kind():
    schema = {"type": "object"}
    assert response_format(schema, "json_schema") == {"type": "json_schema", "json_schema": {
        "name": "reply", "schema": schema, "strict": False}}
    assert response_format(schema, "json_object_schema") == {"type": "json_object", "schema": schema}
    with pytest.raises(ValueError, match="ollama"):
        OpenAICompatText(base_url="http://unused/v1", model="m", structured_mode="ollama", client=object())


class FakeCompletions:
    """A test fake of the openai client's `chat.completions`: answers from FakeText, records what it was sent and
    how many calls were in flight at once (each call takes `delay` seconds)."""

    def __init__(self, delay: float = 0.0, extra: dict | None = None):
        self.text, self.delay, self.extra = FakeText(), delay, extra or {}
        self.sent: list[dict] = []
        self.in_flight = self.peak = 0
        self._lock = threading.Lock()
        self.chat = SimpleNamespace(completions=self)

    def create(self, **kwargs) -> ChatCompletion:
        with self._lock:
            self.sent.append(kwargs)
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            time.sleep(self.delay)
            fmt = kwargs["response_format"]
            schema = fmt["json_schema"]["schema"] if fmt["type"] == "json_schema" else fmt["schema"]
            with self._lock:
                result = self.text.complete_json(JsonRequest(system="s", messages=[("user", "u")], schema=schema))
            return ChatCompletion.model_validate({
                "id": "fake", "object": "chat.completion", "created": 0, "model": "served-name",
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": result.text}}],
                "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}, **self.extra})
        finally:
            with self._lock:
                self.in_flight -= 1


LINE = {"type": "object", "properties": {"line": {"type": "string"}}}


def test_openai_compatible_backend_sends_the_modes_format_and_returns_text_usage_and_timing():
    fake = FakeCompletions(extra={"timings": {"prompt_ms": 250.0, "predicted_ms": 1000.0, "predicted_n": 3}})
    backend = OpenAICompatText(base_url="http://unused-1/v1", model="m", structured_mode="json_object_schema",
                               client=fake)
    result = backend.complete_json(JsonRequest(system="s", messages=[("user", "u")], schema=LINE, max_tokens=33,
                                               seed=5, stop=["\n"]))
    assert result.text.startswith('{"line": ')
    assert (result.prompt_tokens, result.completion_tokens, result.backend, result.model) == (7, 3, "openai",
                                                                                            "served-name")
    assert (result.remote, result.gpu_seconds, result.cpu_scope, result.server_seconds) == (True, None, "thread",
                                                                                            1.25)
    sent = fake.sent[0]
    assert sent["response_format"] == {"type": "json_object", "schema": LINE}
    assert (sent["max_tokens"], sent["seed"], sent["stop"], sent["model"]) == (33, 5, ["\n"], "m")
    assert "guided_json" not in sent and "guided_json" not in (sent.get("extra_body") or {})


def test_server_timings_are_read_only_where_the_server_reports_them():
    assert llama_server_seconds({"timings": {"prompt_ms": 100, "predicted_ms": 400.5}}) == pytest.approx(0.5005)
    assert llama_server_seconds({}) is None and llama_server_seconds(None) is None
    assert ollama_server_seconds({"prompt_eval_duration": 2 * 10**8, "eval_duration": 3 * 10**8,
                                  "total_duration": 5 * 10**9}) == pytest.approx(0.5)  # the load is not compute
    assert ollama_server_seconds({"total_duration": 10**9}) is None  # it may hold a model load: not compute
    assert ollama_server_seconds({}) is None
    assert native_root("http://gpu-box:11434/v1") == native_root("http://gpu-box:11434/v1/") == "http://gpu-box:11434"


def test_in_flight_limit_is_shared_per_server_and_the_smallest_wins():
    fake = FakeCompletions(delay=0.05)
    url = "http://in-flight-test/v1"
    first = OpenAICompatText(base_url=url, model="m", max_in_flight=3, client=fake)
    second = OpenAICompatText(base_url=url + "/", model="m", max_in_flight=2, client=fake)  # same server
    other = OpenAICompatText(base_url="http://another-server/v1", model="m", max_in_flight=5, client=FakeCompletions())
    assert (first.max_in_flight, second.max_in_flight, other.max_in_flight) == (2, 2, 5)
    request = JsonRequest(system="s", messages=[("user", "u")], schema=LINE)
    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(lambda i: (first, second)[i % 2].complete_json(request), range(12)))
    assert len(results) == 12 and all(r.text.startswith('{"line"') for r in results)
    assert fake.peak == 2  # both objects together, never more; and the limit was reached, so it was not serial
    assert all(r.seconds < 0.5 for r in results)  # a call's seconds are the request's, not the wait for a slot


def test_backends_say_how_many_calls_they_take_at_once():
    assert LlamaCppText.max_in_flight == 1

    class Minimal:  # a test fake with only the required attributes: max_in_flight is optional in the protocol
        name, model, version = "minimal", "m", "0"

        def complete_json(self, request: JsonRequest):
            raise NotImplementedError

    assert isinstance(Minimal(), TextBackend) and getattr(Minimal(), "max_in_flight", 1) == 1
    backend = OllamaText(base_url="http://ollama-limit-test:11434/v1", model="qwen2.5:7b", max_in_flight=4)
    assert backend.max_in_flight == 4 and isinstance(backend, TextBackend)


def test_registry_builds_each_structured_mode_and_check_names_it():
    ollama = build_text_backend("openai", base_url="http://reg-ollama:11434/v1", model="qwen2.5:7b",
                                structured_mode="ollama", max_in_flight=3)
    assert isinstance(ollama, OllamaText) and ollama.max_in_flight == 3 and ollama.remote
    vllm = build_text_backend("openai", base_url="http://reg-vllm:8000/v1", model="Qwen/Qwen2.5-7B-Instruct",
                              structured_mode="json_schema", max_in_flight=6)
    assert isinstance(vllm, OpenAICompatText) and vllm.structured_mode == "json_schema" and vllm.max_in_flight == 6
    for mode, words in [("json_schema", "response_format json_schema"), ("json_object_schema", "json_object with a"),
                        ("ollama", "Ollama's own format field")]:
        settings = Settings(_env_file=None, text_backend="openai", openai_structured_mode=mode,
                            openai_max_in_flight=5)
        found = check(settings)
        assert found.ok and words in found.detail and "5 requests in flight" in found.detail, found


def test_registry_rejects_unknown_backends_and_missing_paths():
    with pytest.raises(ValueError, match="known: embedded, llama-cpp, openai"):
        build_text_backend("gpt-magic")
    with pytest.raises(ValueError, match="DRAMAFACTORY_TEXT_MODEL_PATH"):
        build_text_backend("llama-cpp")


def test_model_file_hash_is_checked(tmp_path):
    path = tmp_path / "m.gguf"
    path.write_bytes(b"not the model")
    with pytest.raises(EmbeddedModelError, match="sha256"):
        verify_file(path, "0" * 64)


def test_each_packaged_model_is_joined_from_its_own_pinned_parts_and_checked(tmp_path, monkeypatch):
    from dramafactory.tools.text import embedded_model as em

    with pytest.raises(EmbeddedModelError, match="known: qwen2.5-coder-0.5b, qwen2.5-coder-1.5b"):
        em.ensure_embedded_model(tmp_path, "qwen-9b")
    # a model whose parts are not installed says which package is missing
    monkeypatch.setitem(em.MODELS, "absent", em.PackagedModel(name="absent", packages=["no-such-part1"],
                                                              version="1", size=1, sha256="0" * 64))
    with pytest.raises(EmbeddedModelError, match="package no-such-part1 missing"):
        em.ensure_embedded_model(tmp_path, "absent")
    # the two pinned models are joined under their own names: choosing one never loads the other's file
    assert len({m.name for m in em.MODELS.values()}) == len(em.MODELS)
    assert check(Settings(_env_file=None, embedded_model="qwen2.5-coder-1.5b")).detail.startswith(
        "the packaged GGUF model qwen2.5-coder-1.5b")


def test_only_a_refusal_of_response_format_type_itself_is_a_structured_mode_error():
    from dramafactory.tools.text.openai_compat import _refuses_response_format_type

    # llama-cpp-python's server refusing "json_schema" (seen): the setting is wrong, no retry helps
    assert _refuses_response_format_type("Error code: 500 - 1 validation error: {'type': 'literal_error', 'loc': "
                                         "('body', 'response_format', 'type'), 'input': 'json_schema'}")
    # another field's error that quotes the whole request body: not about the structured mode
    assert not _refuses_response_format_type("Error code: 422 - {'loc': ('body', 'messages', 0), 'input': "
                                             "{'response_format': {'type': 'json_schema'}}}")


def test_amx_is_read_from_the_cpu_flags(tmp_path):
    from dramafactory.tools.text.llamacpp import cpu_has_amx

    with_amx, without = tmp_path / "amx", tmp_path / "plain"
    with_amx.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f amx_bf16 amx_tile amx_int8\n")
    without.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f\n")
    assert cpu_has_amx(with_amx) and not cpu_has_amx(without)
    assert not cpu_has_amx(tmp_path / "missing")


def test_llama_loads_without_extra_buffer_types_only_while_asked_and_restores_the_default():
    pytest.importorskip("llama_cpp")
    import llama_cpp.llama_cpp as native

    from dramafactory.tools.text.llamacpp import _model_params

    default = native.llama_model_default_params
    with _model_params(extra_buffers=False):
        assert native.llama_model_default_params().use_extra_bufts is False
    assert native.llama_model_default_params is default and default().use_extra_bufts is True
    with _model_params(extra_buffers=True):
        assert native.llama_model_default_params is default


def test_llama_generates_on_every_core_unless_told_otherwise(tmp_path):
    import os

    assert LlamaCppText(tmp_path / "m.gguf")._n_threads == len(os.sched_getaffinity(0))
    assert LlamaCppText(tmp_path / "m.gguf", n_threads=1)._n_threads == 1


def test_the_server_launcher_turns_the_extra_buffer_types_off_for_the_whole_process(monkeypatch):
    pytest.importorskip("llama_cpp")
    import llama_cpp.llama_cpp as native

    from dramafactory.tools.text.llamacpp import without_extra_buffers

    monkeypatch.setattr(native, "llama_model_default_params", native.llama_model_default_params)  # restored after
    without_extra_buffers()
    once = native.llama_model_default_params
    without_extra_buffers()  # a second call does not wrap the wrapper
    assert native.llama_model_default_params is once and once().use_extra_bufts is False
