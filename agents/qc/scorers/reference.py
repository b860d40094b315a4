"""A reference sheet must show one face the face scorer can embed: that embedding is what every later shot of the
character is matched against (memory/references.py). A sheet with no face, or several, cannot serve as one."""

from __future__ import annotations

import numpy as np

from dramafactory.schemas import ScoreResult


def score_reference_face(rgb: np.ndarray) -> tuple[ScoreResult, np.ndarray | None]:
    """The check and, when it passed, the face's embedding. Without the face scorer installed the check is not
    judged (a person must look), never passed."""
    try:
        from dramafactory.tools.vision.faces import FacesUnavailable, NotOneFace, shared_embedder
    except ImportError as exc:
        return ScoreResult(scorer="reference_face", score=0.0, threshold=1.0, passed=False, judged=False,
                           reason=f"the face scorer is not installed ({exc}): pip install '.[gpu]'"), None
    try:
        face = shared_embedder().embed_one(rgb)
    except FacesUnavailable as exc:
        return ScoreResult(scorer="reference_face", score=0.0, threshold=1.0, passed=False, judged=False,
                           reason=str(exc)), None
    except (NotOneFace, ValueError) as exc:  # no face, several, too small; or not a picture (NotAnImage)
        return ScoreResult(scorer="reference_face", score=0.0, threshold=1.0, passed=False,
                           reason=f"the reference sheet cannot serve: {exc}"), None
    if face.embedding is None:
        return ScoreResult(scorer="reference_face", score=0.0, threshold=1.0, passed=False,
                           reason="the face on the reference sheet is too small to embed: frame it closer"), None
    return ScoreResult(scorer="reference_face", score=1.0, threshold=1.0, passed=True, reason=""), face.embedding
