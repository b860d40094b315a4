"""Character memory in Chroma with the packaged MiniLM embeddings (no downloads)."""

from __future__ import annotations

from dramafactory.agents.director.agent import write_bible
from dramafactory.memory.characters import CharacterMemory, canonical_description


def test_register_then_retrieve_canonical_looks_after_reopening(fake_context, concept, tmp_path):
    ctx = fake_context()
    bible = write_bible(ctx, concept, seed=2)
    ctx.memory.register(bible.characters, series=bible.title)
    reopened = CharacterMemory(ctx.run_dir / "memory")  # a new process resuming the run
    for character in bible.characters:
        assert reopened.canonical(bible.title, character.name) == character
    target = bible.characters[1]
    hits = reopened.search(bible.title, canonical_description(target), k=3)
    assert hits[0][0] == target.name and hits[0][1] < hits[1][1]
