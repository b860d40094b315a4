"""Character identity: is each person in the shot the person the bible describes?

The reference is the character's canonical look as stored in the continuity memory (Chroma), not the look the
render request carried: a renderer that drew someone else, or the right name on the wrong look, fails here. How much
of a look a figure shows is measured by the backend's people-scorer (for storyboard frames: the painted wardrobe,
hair and skin colours; for realistic renders a face embedding would stand in this place); this turns it into a
verdict with a reason the cinematographer can act on.
"""

from __future__ import annotations

from dramafactory.schemas import Character, ScoreResult
from dramafactory.tools.image.base import PeopleReading


def score_identity(reading: PeopleReading, references: dict[str, Character | None],
                   min_identity: float) -> list[ScoreResult]:
    out = []
    by_name = {s.name: s for s in reading.seen}
    for name in reading.visible:
        reference = references.get(name)
        if reference is None:
            out.append(ScoreResult(scorer=f"identity:{name}", score=0.0, threshold=min_identity, passed=False,
                                   judged=False, reason=f"no canonical look for {name} in the continuity memory; "
                                                        f"register the bible's characters before rendering"))
            continue
        sighting = by_name.get(name)
        score = sighting.identity if sighting is not None else 0.0
        look = reference.look
        out.append(ScoreResult(
            scorer=f"identity:{name}", score=round(score, 4), threshold=min_identity, passed=score >= min_identity,
            reason="" if score >= min_identity else
            f"{name} does not look like {name}: draw {look.hair_color} {look.hair_style} hair, {look.skin_tone} "
            f"skin, {reference.wardrobe} ({look.palette[0]})"))
    return out
