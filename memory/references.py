"""Reference sheets in the continuity memory: each character's accepted portrait and its face embedding, in a Chroma
collection of their own beside the canonical looks (memory/characters.py).

The embedding is the face scorer's (dlib's 128-d face descriptor, tools/vision/faces.py), compared by Euclidean
distance as dlib defines it, so a frame's faces are matched by nearest-neighbour query against the series' sheets.
A sheet without an embedding (no face scorer installed, no single face found) is not stored here: it could not be
matched against anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

COLLECTION = "reference_faces"


@dataclass(frozen=True)
class StoredReference:
    series: str
    name: str
    path: str  # run-relative path of the sheet
    embedding: list[float]


class ReferenceStore:
    def __init__(self, client):  # noqa: ANN001 - a chromadb client (the CharacterMemory's)
        # No embedding function: vectors always come from the face scorer, never from a model Chroma would fetch.
        self._collection = client.get_or_create_collection(COLLECTION, embedding_function=None,
                                                           metadata={"hnsw:space": "l2"})

    def add(self, series: str, name: str, path: str, embedding: np.ndarray | list[float], *, model: str) -> None:
        vector = [float(v) for v in np.asarray(embedding, dtype=np.float32).ravel()]
        self._collection.upsert(ids=[json.dumps([series, name])], embeddings=[vector],
                                metadatas=[{"series": series, "name": name, "path": path, "model": model}])

    def remove(self, series: str, name: str) -> None:
        """Forget a character's sheet (their look changed: the old face must not judge the new look)."""
        self._collection.delete(ids=[json.dumps([series, name])])

    def get(self, series: str, name: str) -> StoredReference | None:
        found = self._collection.get(ids=[json.dumps([series, name])], include=["metadatas", "embeddings"])
        if not found["ids"]:
            return None
        meta = found["metadatas"][0]
        return StoredReference(series, name, str(meta["path"]), [float(v) for v in found["embeddings"][0]])

    def nearest(self, series: str, embedding: np.ndarray | list[float], k: int = 3) -> list[tuple[str, float]]:
        """The series' characters whose sheet's face is nearest to this face, with Euclidean distance."""
        count = self._collection.count()
        if count == 0:
            return []
        vector = [float(v) for v in np.asarray(embedding, dtype=np.float32).ravel()]
        hits = self._collection.query(query_embeddings=[vector], n_results=min(k, count), where={"series": series},
                                      include=["metadatas", "distances"])
        # Chroma's l2 space reports squared distances; dlib's threshold (0.6) is on the distance itself.
        return [(m["name"], float(np.sqrt(max(d, 0.0)))) for m, d in
                zip(hits["metadatas"][0], hits["distances"][0], strict=True)]
