"""Text backends' own logic, without a server or weights."""

from __future__ import annotations

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from dramafactory.tools.text.base import JsonRequest
from dramafactory.tools.text.embedded_model import EmbeddedModelError, verify_file
from dramafactory.tools.text.llamacpp import flat_string_fields
from dramafactory.tools.text.openai_compat import OpenAICompatText, response_format
from dramafactory.tools.text.registry import build_text_backend


def test_flat_string_schemas_use_field_prefill_and_others_the_grammar():
    assert flat_string_fields({"type": "object", "properties": {"a": {"type": "string"},
                                                                "b": {"type": "string"}}}) == ["a", "b"]
    assert flat_string_fields({"type": "object", "properties": {"a": {"enum": ["x"], "type": "string"}}}) is None
    assert flat_string_fields({"type": "object", "properties": {"n": {"type": "integer"}}}) is None
    assert flat_string_fields({"type": "array"}) is None


def test_response_format_per_server_kind():
    schema = {"type": "object"}
    assert response_format(schema, "json_schema")["json_schema"]["schema"] is schema
    assert response_format(schema, "json_object_schema") == {"type": "json_object", "schema": schema}


def test_openai_compatible_backend_returns_text_and_usage():
    chat = GenericFakeChatModel(messages=iter([AIMessage(content='{"line": "hi"}',
                                                         usage_metadata={"input_tokens": 7, "output_tokens": 3,
                                                                         "total_tokens": 10})]))
    backend = OpenAICompatText(base_url="http://unused", model="m", chat_model=chat)
    result = backend.complete_json(JsonRequest(system="s", messages=[("user", "u")], schema={"type": "object"}))
    assert (result.text, result.prompt_tokens, result.completion_tokens, result.backend) == ('{"line": "hi"}', 7, 3,
                                                                                             "openai")


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
