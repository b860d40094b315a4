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
        main = subject or shot.characters[0]
        return [main], [c for c in shot.characters if c != main]  # a listed partner's shoulder is no intruder
    if shot.framing == "over-shoulder" and len(shot.characters) > 1:
        facing = subject or shot.characters[-1]
        return [facing], [c for c in shot.characters if c != facing]
    return list(shot.characters), []


# Framings where every listed person faces the camera large enough for the detector: a face not found there is a
# person not on screen. In wider framings a face may be turned away or too small for it: fewer faces than people
# is then "not judged", never a missing person.
FACES_EXPECTED = ("close-up", "medium")


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
    known = [n for n in must if have_reference.get(n)]
    unsheeted = [n for n in must if not have_reference.get(n)]  # nobody can tell their face from a stranger's
    out = [_people(shot, reading, known, unsheeted, allowed, seen)]
    # in a wider framing with fewer faces than people, an unseen person may be turned away: not judged absent
    lenient = shot.framing not in FACES_EXPECTED and reading.count < len(must)
    for name in must:
        out.append(_identity(name, reading, have_reference.get(name, False), threshold, must + allowed, lenient))
    out += _framing(shot, reading, must)
    return out


def _people(shot: Shot, reading: FootageReading, known: list[str], unsheeted: list[str], allowed: list[str],
            seen: str) -> ScoreResult:
    must = known + unsheeted
    faces_expected = shot.framing in FACES_EXPECTED

    def result(problems: list[str], judged: bool = True, note: str = "") -> ScoreResult:
        reason = ("; ".join(problems) + f" (the frame shows: {seen})") if problems else note
        return ScoreResult(scorer="adherence_people", score=0.0 if problems or not judged else 1.0, threshold=1.0,
                           passed=not problems and judged, judged=judged or bool(problems), reason=reason)

    if not must:
        return result([f"the shot lists nobody, but the frame shows {seen}: show the empty location"]
                      if reading.count else [])
    if reading.count == 0:
        if faces_expected:
            return result([f"nobody on screen: the shot shows {', '.join(must)}"])
        return result([], judged=False, note=f"no face found in a {shot.framing}: its people may be turned away "
                                              f"or too small for the face detector; who is on screen is not judged")
    problems = []
    for name in reading.duplicates:
        problems.append(f"{name} appears twice")
    named_intruders = [f for f in reading.faces if f.name is not None and f.name not in must + allowed]
    problems += [f"{f.name} should not be in this shot" for f in named_intruders]
    unknown = reading.unknown
    # Unknown faces may be the characters who have no reference sheet (up to that many): they are not strangers.
    strangers = unknown[len(unsheeted):]
    problems += [f"{_face_note(f)} is in the frame" for f in strangers]
    missing = [n for n in known if n not in reading.names]
    undercount = reading.count < len(must)
    if missing and (faces_expected or not undercount) and not reading.unidentifiable:
        problems.append(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not on screen")
    if problems:
        return result(problems)
    why = []
    if missing:
        why.append(f"{', '.join(missing)} not found: "
                   + ("faces too small to recognise" if reading.unidentifiable else
                      f"fewer faces than people in a {shot.framing} (turned away or too small)"))
    if unsheeted:
        why.append(f"{', '.join(unsheeted)} {'has' if len(unsheeted) == 1 else 'have'} no accepted reference "
                   "sheet: their faces cannot be told from a stranger's")
    if why:
        return result([], judged=False, note="who is on screen is not judged: " + "; ".join(why))
    return result([])


def _identity(name: str, reading: FootageReading, has_sheet: bool, threshold: float, expected: list[str],
              lenient: bool = False) -> ScoreResult:
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
    others = [f for f in reading.faces if f.name and f.name not in expected]  # not someone who belongs here
    if others:
        who = ", ".join(f"{f.name} ({f.distance_to_nearest:.2f})" for f in others)
        return ScoreResult(scorer=scorer, score=0.0, threshold=threshold, passed=False,
                           reason=f"{who} is on screen instead of {name}: render {name}, as on their sheet")
    if reading.unidentifiable:
        return ScoreResult(scorer=scorer, score=0.0, threshold=threshold, passed=False, judged=False,
                           reason=f"{name}'s identity is not judged: the face on screen is too small to recognise; "
                                  f"frame them closer")
    if lenient:
        return ScoreResult(scorer=scorer, score=0.0, threshold=threshold, passed=False, judged=False,
                           reason=f"{name}'s face was not found: in this framing they may be turned away or too "
                                  f"small for the face detector (not judged)")
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
