"""Character continuity memory: canonical looks in a Chroma collection inside the run folder.

The director registers every character of the bible; the cinematographer retrieves each one's canonical look
by name when writing prompts (so a prompt never drifts from the bible), and QC/evals can search by description.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from dramafactory.schemas import Character

from .embeddings import PackagedMiniLM

COLLECTION = "characters"
_REFERENCES_LOCK = threading.Lock()


def canonical_description(character: Character) -> str:
    look = character.look
    return (
        f"{character.name}, {character.age}-year-old {character.gender}, {look.build} build, {look.skin_tone} skin, "
        f"{look.hair_color} {look.hair_style} hair, {look.face}; wears {character.wardrobe}"
    )


class CharacterMemory:
    def __init__(self, path: Path, embedding_function: PackagedMiniLM | None = None):
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        self._client = chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False))
        self._ef = embedding_function or PackagedMiniLM()
        self._collection = self._client.get_or_create_collection(
            COLLECTION, embedding_function=self._ef, metadata={"hnsw:space": "cosine"}
        )
        self._canonical: dict[tuple[str, str], Character] = {}  # canonical() reads, until register() changes them

    def warm_up(self) -> None:
        """Start loading the embedding model now (in the background), for a register() that comes later."""
        preload = getattr(self._ef, "preload", None)
        if preload is not None:
            preload()

    def register(self, characters: list[Character], series: str) -> None:
        self._canonical.clear()
        self._collection.upsert(
            ids=[self._id(series, c.name) for c in characters],
            documents=[canonical_description(c) for c in characters],
            metadatas=[{"series": series, "name": c.name, "character": c.model_dump_json()} for c in characters],
        )

    def references(self):  # noqa: ANN201 - memory.references.ReferenceStore
        """The characters' reference sheets (face embeddings), in the same Chroma store."""
        from .references import ReferenceStore

        with _REFERENCES_LOCK:  # parallel shot branches ask for it at once
            if not hasattr(self, "_references"):
                self._references = ReferenceStore(self._client)
        return self._references

    def canonical(self, series: str, name: str) -> Character:
        """The character's canonical look. Kept in memory after the first read (until register() changes the
        looks): QC and every take's id ask for the looks of each shot's people, and a store read per ask was a
        few ms per shot at a thousand shots."""
        key = (series, name)
        cached = self._canonical.get(key)
        if cached is None:
            found = self._collection.get(ids=[self._id(series, name)], include=["metadatas"])
            if not found["ids"]:
                raise KeyError(f"no canonical look for {name!r} in series {series!r}")
            cached = self._canonical[key] = Character.model_validate_json(found["metadatas"][0]["character"])
        return cached.model_copy(deep=True)

    def search(self, series: str, description: str, k: int = 3) -> list[tuple[str, float]]:
        """Characters whose canonical description is nearest to `description`, with cosine distance."""
        hits = self._collection.query(query_texts=[description], n_results=k, where={"series": series},
                                      include=["metadatas", "distances"])
        return [(m["name"], float(d)) for m, d in zip(hits["metadatas"][0], hits["distances"][0], strict=True)]

    @staticmethod
    def _id(series: str, name: str) -> str:
        return json.dumps([series, name])
