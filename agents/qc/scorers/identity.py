"""Character identity on storyboard frames: is each person in the shot the person the bible describes?

The reference is the character's canonical look as stored in the continuity memory (Chroma), not the look the
render request carried: a renderer that drew someone else, or the right name on the wrong look, fails here. For
storyboard frames the look's features are its painted colours (wardrobe, hair, skin); for realistic renders a face
embedding model would stand in this place.
"""

from __future__ import annotations

from dramafactory.schemas import Character, ScoreResult, Shot
from dramafactory.tools.image.storyboard import visible_characters

from .figures import Sighting

FEATURES = ("main", "hair", "skin")
MIN_COVER = {"main": 0.05, "hair": 0.003, "skin": 0.003}  # share of the figure box: each feature must really be there
BACK_FEATURES = ("main", "hair")
MIN_COVER_BACK = {"main": 0.01, "hair": 0.1}  # a head seen from behind fills its box with hair


def score_identity(shot: Shot, references: dict[str, Character | None], seen: list[Sighting],
                   min_identity: float) -> list[ScoreResult]:
    out = []
    by_name = {s.name: s for s in seen}
    for name in visible_characters(shot):
        reference = references.get(name)
        if reference is None:
            out.append(ScoreResult(scorer=f"identity:{name}", score=0.0, threshold=min_identity, passed=False,
                                   judged=False, reason=f"no canonical look for {name} in the continuity memory; "
                                                        f"register the bible's characters before rendering"))
            continue
        sighting = by_name.get(name)
        # from behind there is no face: the hair and the garment are what can be checked
        features, minimum = (BACK_FEATURES, MIN_COVER_BACK) if sighting and sighting.back else (FEATURES, MIN_COVER)
        found = [f for f in features if sighting is not None and sighting.cover[f] >= minimum[f]]
        score = len(found) / len(features)
        look = reference.look
        out.append(ScoreResult(
            scorer=f"identity:{name}", score=round(score, 4), threshold=min_identity, passed=score >= min_identity,
            reason="" if score >= min_identity else
            f"{name} does not look like {name}: draw {look.hair_color} {look.hair_style} hair, {look.skin_tone} "
            f"skin, {reference.wardrobe} ({look.palette[0]})"))
    return out
