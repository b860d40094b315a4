"""Prompt adherence: does the frame show the shot's spec (who is on screen, and in which order from screen left)?
The spec is structured (Shot.characters, framing), so the check is exact; the people are found from pixels by the
people-scorer of the backend that drew the frame (tools/image/base.PeopleScorer), which also says who its drawing
shows for the shot (`reading.visible`: a close-up shows only its subject)."""

from __future__ import annotations

from dramafactory.schemas import ScoreResult, Shot
from dramafactory.tools.image.base import PeopleReading

# A wide shot's figures are small (garment at most ~22% of the picture's width on the labelled set), every closer
# framing's are large (at least ~36%): between them, the scale tells a wide from a closer shot. Medium, two-shot
# and close-up overlap in scale, so they are not told apart here.
WIDE_MAX_WIDTH = 0.29


def score_adherence(shot: Shot, reading: PeopleReading) -> list[ScoreResult]:
    expected, seen = reading.visible, reading.seen
    names = [s.name for s in seen]
    if shot.framing == "insert":
        # an insert shows a prop and at most its owner's hand (a sleeve in their colours): nobody's face
        owner = shot.speaker if shot.speaker in shot.characters else (shot.characters[0] if shot.characters else None)
        extra = [n for n in names if n != owner]
        return [ScoreResult(scorer="adherence_people", score=0.0 if extra else 1.0, threshold=1.0, passed=not extra,
                            reason=f"an insert shows the prop, but {', '.join(extra)} is in the frame; frame only "
                                   f"the object" if extra else "")]
    missing = [n for n in expected if n not in names]
    extra = [n for n in names if n not in expected]
    union = len(set(expected) | set(names))
    jaccard = len(set(expected) & set(names)) / union if union else 1.0
    problems = []
    if missing:
        problems.append(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not in the frame")
    if extra:
        problems.append(f"{', '.join(extra)} should not be in this shot")
    if not expected and names:
        problems.append("the shot lists nobody: show the empty location")
    out = [ScoreResult(scorer="adherence_people", score=round(jaccard, 4), threshold=1.0, passed=not problems,
                       reason="; ".join(problems) + f" (the shot shows: {', '.join(expected) or 'nobody'})"
                       if problems else "")]
    if not problems and expected:
        widest = max(s.width for s in seen) / reading.width
        wide = widest <= WIDE_MAX_WIDTH
        ok = wide == (shot.framing == "wide")
        out.append(ScoreResult(scorer="adherence_framing", score=round(widest, 4), threshold=WIDE_MAX_WIDTH,
                               passed=ok, reason="" if ok else
                               f"the people are framed {'wide (small, full figure)' if wide else 'close'}; "
                               f"the shot is a {shot.framing}"))
    if not problems and len(expected) > 1:
        in_order = names == expected
        out.append(ScoreResult(scorer="adherence_order", score=1.0 if in_order else 0.0, threshold=1.0,
                               passed=in_order,
                               reason="" if in_order else
                               f"screen order is {', '.join(names)}; it must be {', '.join(expected)} from the "
                               f"left (keep screen direction)"))
    return out
