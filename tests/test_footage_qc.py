"""QC of footage on real photographs nobody here drew (evals/footage_set.py builds 9:16 frames from photographs
that ship in packages): who is on screen, judged by faces against reference sheets made from other crops."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dramafactory.agents.qc.agent import QCAgent, TakeUnderReview
from dramafactory.config import Settings
from dramafactory.schemas import Character, Location, Look, Shot, Voice

pytest.importorskip("dlib")
pytest.importorskip("skimage")

from dramafactory.evals.footage_set import CAST, items, reference_sheet  # noqa: E402
from dramafactory.tools.vision.faces import shared_embedder  # noqa: E402

ITEMS = {item.id: item for item in items()}
WARD = Location(name="ward", kind="interior", description="a hospital ward")


def _character(name: str) -> Character:
    look = Look(hair_color="brown", hair_style="short", skin_tone="fair", build="slim", face="a calm gaze",
                palette=["#203040", "#c0c0c0"])
    return Character(name=name, role="lead", gender="female", age=40, look=look, wardrobe="a dark jacket",
                     voice=Voice(description="calm", voice_id="en-us+f3"))


@pytest.fixture(scope="module")
def sheets():
    return {name: shared_embedder().embed_one(reference_sheet(name)).embedding for name in CAST}


@pytest.fixture(scope="module")
def agent():
    return QCAgent(Settings(_env_file=None, width=720, height=1280))


def _judge(agent, tmp_path: Path, item_id: str, framing: str, characters: list[str], sheets, speaker=None):
    path = tmp_path / f"{item_id}.png"
    Image.fromarray(ITEMS[item_id].frame()).save(path)
    shot = Shot(id="e01s01", episode=1, scene=1, index=0, framing=framing, duration_s=2.0, characters=characters,
                speaker=speaker, location="ward", time_of_day="day", action="she looks up", seed=1,
                prompt=f"{framing} of {', '.join(characters) or 'the empty ward'}")
    cast = {name: _character(name) for name in CAST}
    report = agent.score(TakeUnderReview(path=path, shot=shot, location=WARD, cast=cast,
                                         references={n: cast[n] for n in characters}, backend="diffusers",
                                         faces=sheets))
    return report, {s.scorer: s for s in report.scores}


def test_the_same_person_under_another_crop_passes_identity(agent, tmp_path, sheets):
    # (the set's close-ups are her 512 px photograph enlarged: QC fails them as blurred, rightly; a medium is sharp)
    report, by = _judge(agent, tmp_path, "medium-c", "medium", ["collins"], sheets)
    assert by["identity:collins"].passed and by["identity:collins"].judged
    assert by["identity:collins"].score < 0.6  # the distance to her sheet
    assert by["adherence_people"].passed and by["adherence_framing"].passed
    assert report.verdict == "pass", report.reason


def test_a_different_person_fails_identity_with_a_reason_naming_both(agent, tmp_path, sheets):
    report, by = _judge(agent, tmp_path, "medium-h", "medium", ["collins"], sheets)
    identity = by["identity:collins"]
    assert not identity.passed and identity.judged
    assert "hopper" in identity.reason and "collins" in identity.reason
    assert report.verdict == "fail"


def test_a_frame_with_nobody_against_a_close_up_fails_nobody_on_screen(agent, tmp_path, sheets):
    report, by = _judge(agent, tmp_path, "empty-coffee", "close-up", ["hopper"], sheets)
    assert not by["adherence_people"].passed and "nobody on screen" in by["adherence_people"].reason
    assert report.verdict == "fail"


def test_a_stranger_beside_the_cast_is_an_extra_person(agent, tmp_path, sheets):
    _, by = _judge(agent, tmp_path, "extra-stranger", "medium", ["collins"], sheets)
    assert not by["adherence_people"].passed and by["adherence_people"].judged
    assert "unknown person" in by["adherence_people"].reason
    assert by["identity:collins"].passed


def test_a_missing_cast_member_is_named(agent, tmp_path, sheets):
    _, by = _judge(agent, tmp_path, "missing-h", "medium", ["collins", "hopper"], sheets)
    assert "hopper is not on screen" in by["adherence_people"].reason and by["adherence_people"].judged
    identity = by["identity:hopper"]
    assert not identity.passed and identity.judged and "collins" not in identity.reason  # she belongs here
    assert by["identity:collins"].passed


def test_fewer_faces_than_people_in_a_wider_framing_is_not_judged_absent(agent, tmp_path, sheets):
    # in a two-shot or a wide, a person may be turned away or too small for a frontal face detector
    _, by = _judge(agent, tmp_path, "missing-h", "two-shot", ["collins", "hopper"], sheets)
    assert not by["adherence_people"].judged and not by["identity:hopper"].judged
    assert by["identity:collins"].passed


def test_a_wide_frame_is_not_a_close_up(agent, tmp_path, sheets):
    _, by = _judge(agent, tmp_path, "wide-h", "close-up", ["hopper"], sheets)
    assert not by["adherence_framing"].passed and "wide" in by["adherence_framing"].reason


def test_a_character_without_a_reference_face_is_not_judged_never_passed(agent, tmp_path, sheets):
    for known in ({"hopper": sheets["hopper"]}, {}):
        report, by = _judge(agent, tmp_path, "medium-c", "medium", ["collins"], known)
        assert not by["identity:collins"].judged and not by["identity:collins"].passed
        # her face cannot be told from a stranger's: not a missing person, not an extra one, and not a pass
        assert not by["adherence_people"].judged
        assert report.verdict == "partial" and {"identity:collins", "adherence_people"} <= set(report.not_judged)


def test_two_accepted_footage_takes_in_a_row_are_checked_without_a_palette(agent, tmp_path, sheets):
    # the check across shots (duplicate, wardrobe continuity) runs on consecutive accepted takes of a scene
    takes = []
    for item_id, name in (("medium-c", "collins"), ("medium-h", "hopper")):
        path = tmp_path / f"{item_id}.png"
        Image.fromarray(ITEMS[item_id].frame()).save(path)
        shot = Shot(id=f"e01s0{len(takes) + 1}", episode=1, scene=1, index=len(takes), framing="medium",
                    duration_s=2.0, characters=[name], location="ward", time_of_day="day", action="x", seed=1,
                    prompt=f"medium shot of {name}")
        cast = {n: _character(n) for n in CAST}
        takes.append(TakeUnderReview(path=path, shot=shot, location=WARD, cast=cast, references={name: cast[name]},
                                     backend="diffusers", faces=sheets))
    scores = agent.score_sequence(takes[1], takes[0])
    assert scores[0].scorer == "duplicate" and scores[0].passed
    assert not any(s.scorer.startswith("continuity:") for s in scores)


def test_a_wide_frame_without_a_detectable_face_is_not_judged_empty(agent, tmp_path, sheets):
    _, by = _judge(agent, tmp_path, "profile-cameraman", "wide", ["collins"], sheets)
    assert not by["adherence_people"].judged and "not judged" in by["adherence_people"].reason


def test_over_the_shoulder_framing_is_not_judged_from_faces(agent, tmp_path, sheets):
    _, by = _judge(agent, tmp_path, "medium-c", "over-shoulder", ["hopper", "collins"], sheets, speaker="collins")
    assert not by["adherence_framing"].judged
    assert by["identity:collins"].passed and "identity:hopper" not in by  # hopper is the back of a head


def test_an_undecodable_frame_is_not_judged_and_goes_to_a_person(agent, tmp_path, sheets):
    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG not really")
    shot = Shot(id="e01s01", episode=1, scene=1, index=0, framing="close-up", duration_s=2.0, characters=["hopper"],
                location="ward", time_of_day="day", action="x", seed=1, prompt="close-up of hopper")
    report = agent.score(TakeUnderReview(path=path, shot=shot, location=WARD, cast={}, backend="diffusers",
                                         faces=sheets))
    assert not report.passed and report.needs_human and "cannot be read" in report.reason


def test_a_noise_frame_lists_the_footage_checks_it_could_not_make(agent, tmp_path, sheets):
    path = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (1280, 720, 3), dtype=np.uint8)).save(path)
    shot = Shot(id="e01s01", episode=1, scene=1, index=0, framing="close-up", duration_s=2.0, characters=["hopper"],
                location="ward", time_of_day="day", action="x", seed=1, prompt="close-up of hopper")
    report = agent.score(TakeUnderReview(path=path, shot=shot, location=WARD, cast={}, backend="diffusers",
                                         faces=sheets))
    by = {s.scorer: s for s in report.scores}
    assert report.verdict == "fail" and not by["adherence_people"].judged and not by["identity:hopper"].judged


def test_the_qc_command_judges_footage_against_reference_portraits(tmp_path):
    import json

    from typer.testing import CliRunner

    from dramafactory.cli import app

    for name in CAST:
        Image.fromarray(reference_sheet(name)).save(tmp_path / f"{name}.png")
    Image.fromarray(ITEMS["medium-h"].frame()).save(tmp_path / "take.png")
    Image.fromarray(ITEMS["empty-coffee"].frame()).save(tmp_path / "nobody.png")
    runner = CliRunner(env={"DRAMAFACTORY_WIDTH": "720", "DRAMAFACTORY_HEIGHT": "1280"})

    def qc(prompt, *refs):
        result = runner.invoke(app, ["qc", str(tmp_path / "take.png"), "--prompt", prompt,
                                     *[a for r in refs for a in ("--reference", r)]])
        return result.exit_code, json.loads(result.stdout)

    refs = [f"{n}={tmp_path / n}.png" for n in CAST]
    code, right = qc("medium shot of hopper", *refs)
    scores = {s["scorer"]: s for s in right["scores"]}
    assert scores["identity:hopper"]["passed"] and scores["adherence_people"]["passed"], right
    code, wrong = qc("medium shot of collins", *refs)
    scores = {s["scorer"]: s for s in wrong["scores"]}
    assert code == 1 and not scores["identity:collins"]["passed"] and "hopper" in scores["identity:collins"]["reason"]
    # a portrait with no face cannot serve as a reference: said, and that identity is not judged
    code, unusable = qc("medium shot of hopper", f"hopper={tmp_path / 'nobody.png'}")
    assert "no face" in unusable["unusable_references"]["hopper"]
    assert "identity:hopper" in unusable["not_judged"]


def test_the_qc_command_judges_a_clip(tmp_path):
    import json

    from typer.testing import CliRunner

    from dramafactory.cli import app
    from dramafactory.tools.video.encode import write_clip

    frame = ITEMS["medium-h"].frame()
    write_clip(np.stack([frame[::4, ::4]] * 24), tmp_path / "still.mp4", 12)
    result = CliRunner().invoke(app, ["qc", str(tmp_path / "still.mp4"), "--prompt", "hopper looks up"])
    report = json.loads(result.stdout)
    frozen = next(s for s in report["scores"] if s["scorer"] == "clip_frozen")
    assert result.exit_code == 1 and not frozen["passed"] and "frozen" in frozen["reason"].lower()
