"""People in footage, from faces: is each person the shot lists on screen, and the right person, and nobody else;
is the framing the shot's? The faces are read by the backend's face scorer (tools/image/face_people.py) against
the series' reference sheets in the continuity memory; this turns the reading into verdicts and reasons.

Who must show a face depends on the framing: a close-up shows its subject; an over-the-shoulder shot shows the
facing person, the other is seen from behind (no face to find, so never "missing"); an insert shows no face. A
character without an accepted reference sheet cannot be recognised: their identity is "not judged", never passed.
"""

from __future__ import annotations

from dramafactory.schemas import ScoreResult, Shot
from dramafactory.tools.vision.footage import FRAMINGS_JUDGED, FootageReading, SeenFace


def expected_faces(shot: Shot) -> tuple[list[str], list[str]]:
    """(who must show a face, who may be in the frame without one), screen-left first."""
    if shot.framing == "insert" or not shot.characters:
        return [], []
    subject = shot.speaker if shot.speaker in shot.characters else None
    if shot.framing == "close-up":
        return [subject or shot.characters[0]], []
    if shot.framing == "over-shoulder" and len(shot.characters) > 1:
        facing = subject or shot.characters[-1]
        return [facing], [c for c in shot.characters if c != facing]
    return list(shot.characters), []


def _face_note(face: SeenFace) -> str:
    if not face.identifiable:
        return "a face too small to recognise"
    if face.name:
        return f"{face.name} ({face.distance_to_nearest:.2f})"
    if face.nearest is not None and face.distance_to_nearest is not None:
        return f"an unknown person (nearest: {face.nearest} at {face.distance_to_nearest:.2f})"
    return "an unknown person (no reference sheet to compare with)"


def not_judged(shot: Shot, why: str) -> list[ScoreResult]:
    """The footage checks a take could not have, each said so (a picture too broken to look at people in)."""
    must, _ = expected_faces(shot)
    out = [ScoreResult(scorer="adherence_people", score=0.0, threshold=1.0, passed=False, judged=False,
                       reason=f"who is on screen is not judged: {why}")]
    out += [ScoreResult(scorer=f"identity:{n}", score=0.0, threshold=0.0, passed=False, judged=False,
                        reason=f"{n}'s identity is not judged: {why}") for n in must]
    return out


def score_footage(shot: Shot, reading: FootageReading, have_reference: dict[str, bool]) -> list[ScoreResult]:
    must, allowed = expected_faces(shot)
    threshold = reading.threshold
    seen = ", ".join(_face_note(f) for f in reading.faces) or "nobody"
    if shot.framing == "insert":
        faces = reading.count
        return [ScoreResult(scorer="adherence_people", score=0.0 if faces else 1.0, threshold=1.0,
                            passed=not faces, reason=f"an insert shows the prop, but the frame shows {seen}; frame "
                                                     f"only the object" if faces else "")]
    problems = []
    if must and reading.count == 0:
        problems.append(f"nobody on screen: the shot shows {', '.join(must)}")
    elif not must and not shot.characters and reading.count:
        problems.append(f"the shot lists nobody, but the frame shows {seen}: show the empty location")
    else:
        missing = [n for n in must if n not in reading.names]
        small = reading.unidentifiable
        if missing and small:  # the missing may be the faces too small to recognise: nothing can be said
            return [ScoreResult(scorer="adherence_people", score=0.0, threshold=1.0, passed=False, judged=False,
                                reason=f"{len(small)} face(s) too small to recognise ({', '.join(str(f.size_px) for f in small)} px): "
                                       f"who they are is not judged; frame them closer"),
                    *[_identity(n, reading, have_reference.get(n, False), threshold) for n in must]]
        if missing:
            problems.append(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not on screen")
        for face in reading.unexpected(must + allowed):
            problems.append(f"{face.name} should not be in this shot" if face.name
                            else f"{_face_note(face)} is in the frame")
        for name in reading.duplicates:
            problems.append(f"{name} appears twice")
    out = [ScoreResult(scorer="adherence_people", score=0.0 if problems else 1.0, threshold=1.0,
                       passed=not problems,
                       reason=("; ".join(problems) + f" (the frame shows: {seen})") if problems else "")]
    for name in must:
        out.append(_identity(name, reading, have_reference.get(name, False), threshold))
    out += _framing(shot, reading, must)
    return out


def _identity(name: str, reading: FootageReading, has_sheet: bool, threshold: float) -> ScoreResult:
    scorer = f"identity:{name}"
    if not has_sheet:
        return ScoreResult(scorer=scorer, score=0.0, threshold=threshold, passed=False, judged=False,
                           reason=f"{name} has no accepted reference sheet with a face: nothing to recognise them "
                                  f"by (a person must check it is {name})")
    mine = [f for f in reading.faces if f.name == name]
    if mine:
        best = min(f.distance_to_nearest or 0.0 for f in mine)
        return ScoreResult(scorer=scorer, score=round(best, 4), threshold=threshold, passed=True, reason="")
    near = [f for f in reading.faces if f.nearest == name and f.distance_to_nearest is not None]
    if near:  # a face whose nearest sheet is theirs, but too far to be them
        d = min(f.distance_to_nearest or 0.0 for f in near)
        return ScoreResult(scorer=scorer, score=round(d, 4), threshold=threshold, passed=False,
                           reason=f"{name} does not look like {name}: face distance {d:.2f} from their reference "
                                  f"sheet (at most {threshold:.2f}); render them as on the sheet")
    others = [f for f in reading.faces if f.name and f.name != name]
    if others:
        who = ", ".join(f"{f.name} ({f.distance_to_nearest:.2f})" for f in others)
        return ScoreResult(scorer=scorer, score=0.0, threshold=threshold, passed=False,
                           reason=f"{who} is on screen instead of {name}: render {name}, as on their sheet")
    if reading.unidentifiable:
        return ScoreResult(scorer=scorer, score=0.0, threshold=threshold, passed=False, judged=False,
                           reason=f"{name}'s identity is not judged: the face on screen is too small to recognise; "
                                  f"frame them closer")
    return ScoreResult(scorer=scorer, score=0.0, threshold=threshold, passed=False,
                       reason=f"{name} is not on screen (no face of theirs found)")


def _framing(shot: Shot, reading: FootageReading, must: list[str]) -> list[ScoreResult]:
    wanted = shot.framing
    if wanted not in FRAMINGS_JUDGED:
        return [ScoreResult(scorer="adherence_framing", score=0.0, threshold=1.0, passed=False, judged=False,
                            reason=f"a {wanted} framing is not judged from faces ({reading.framing_basis})")]
    if reading.framing is None:
        return [ScoreResult(scorer="adherence_framing", score=0.0, threshold=1.0, passed=False, judged=not must,
                            reason=f"no face to judge the {wanted} framing by")] if must else []
    # two people at a medium distance read as a two-shot, and a two-shot of one visible face as a medium
    same = {wanted, reading.framing} <= {"medium", "two-shot"} if len(must) <= 2 else False
    ok = reading.framing == wanted or same
    return [ScoreResult(scorer="adherence_framing", score=1.0 if ok else 0.0, threshold=1.0, passed=ok,
                        reason="" if ok else f"the frame reads as a {reading.framing} ({reading.framing_basis}); "
                                             f"the shot is a {wanted}")]
