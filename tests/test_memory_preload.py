"""The embedding model loads in the background while the director's text calls run (memory/embeddings.py)."""

from __future__ import annotations

from dramafactory.memory import embeddings
from dramafactory.memory.characters import CharacterMemory


def test_preload_loads_the_packaged_model_once_and_a_later_embedding_uses_it(monkeypatch):
    loads: list[str] = []
    monkeypatch.setattr(embeddings, "_MODELS", {})
    real = embeddings._load

    def counting(path: str):
        loads.append(path)
        return real(path)

    monkeypatch.setattr(embeddings, "_load", counting)
    minilm = embeddings.PackagedMiniLM()
    minilm.preload().join(timeout=120)
    assert minilm.model_path in embeddings._MODELS
    assert len(minilm(["a nurse in a green coat"])[0]) == 384
    assert loads == [minilm.model_path] * 2 and len(embeddings._MODELS) == 1  # the second call found it loaded


def test_a_failed_preload_is_left_for_the_first_real_use_to_report(monkeypatch):
    def broken(path: str):
        raise OSError("model folder missing")

    monkeypatch.setattr(embeddings, "_load", broken)
    embeddings.PackagedMiniLM("/nowhere").preload().join(timeout=10)  # no exception escapes the thread


def test_warm_up_starts_the_embedding_functions_preload(tmp_path):
    class Recording(embeddings.PackagedMiniLM):
        started = 0

        def preload(self):
            Recording.started += 1

    CharacterMemory(tmp_path / "memory", embedding_function=Recording()).warm_up()
    assert Recording.started == 1
