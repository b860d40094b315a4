"""The storyboard renderer: size, determinism, placement by framing, distinct characters, errors, and retakes that
act on QC's reason."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dramafactory.schemas import Character, Location, Look, Shot, Voice
from dramafactory.tools.image.base import ImageBackend, ImageRequest, feedback_history
from dramafactory.tools.image.storyboard import StoryboardRenderer, picture_box
from dramafactory.tools.image.storyboard.fixes import read_feedback


def _character(name: str, gender: str, hair: str, style: str, skin: str, build: str, palette: list[str],
               wardrobe: str, face: str = "sharp cheekbones") -> Character:
    return Character(
        name=name, role="lead", gender=gender, age=30,
        look=Look(hair_color=hair, hair_style=style, skin_tone=skin, build=build, face=face, palette=palette),
        wardrobe=wardrobe, voice=Voice(description="calm", voice_id="en-us+f3"),
    )


CAST = {
    "Mira Chen": _character("Mira Chen", "female", "black", "long straight", "light", "slim",
                            ["#2f6fb0", "#f2efe6", "#c8a040"], "navy blazer over a white blouse", "mole under left eye"),
    "Victor Hale": _character("Victor Hale", "male", "silver", "slicked back", "fair", "broad",
                              ["#2b2b33", "#e8e8e8", "#9b1c2c"], "charcoal suit with a crimson tie", "stubble"),
    "Jade Okoro": _character("Jade Okoro", "female", "auburn", "curly", "deep brown", "athletic",
                             ["#c0392b", "#3b3b3b"], "red dress"),
}
OFFICE = Location(name="Hale Tower office", kind="interior", description="glass and steel", setting="office")
STREET = Location(name="Harbor street", kind="exterior", description="wet asphalt", setting="street")


def _shot(framing: str, characters: list[str], speaker: str | None = None, move: str = "static",
          tod: str = "day") -> Shot:
    return Shot(id="e01s03", episode=1, scene=3, index=2, framing=framing, camera_move=move, duration_s=2.5,
                characters=characters, speaker=speaker, location="office", time_of_day=tod,
                action="Mira slams the contract on the desk and stares Victor down while the city glitters below.",
                prompt="storyboard", seed=5)


def _request(tmp_path: Path, shot: Shot, seed: int = 7, location: Location = OFFICE, name: str = "f.png",
             **kw: int) -> ImageRequest:
    return ImageRequest(shot=shot, cast=CAST, location=location, seed=seed, out_path=tmp_path / "sub" / name, **kw)


def _pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)


def test_protocol_size_and_mode(tmp_path: Path) -> None:
    renderer = StoryboardRenderer()
    assert isinstance(renderer, ImageBackend)
    assert renderer.name == "storyboard"
    result = renderer.render(_request(tmp_path, _shot("medium", ["Mira Chen"], "Mira Chen", "push-in")))
    assert result.path.exists() and result.backend == "storyboard"
    with Image.open(result.path) as img:
        assert img.format == "PNG"
        assert img.size == (720, 1280)
        assert img.mode == "RGB"
    assert (result.width, result.height) == (720, 1280)
    assert result.seconds > 0


def test_custom_size(tmp_path: Path) -> None:
    result = StoryboardRenderer().render(_request(tmp_path, _shot("two-shot", ["Mira Chen", "Victor Hale"]),
                                                  width=360, height=640))
    with Image.open(result.path) as img:
        assert img.size == (360, 640)
    for fig in result.figures:
        assert 0 <= fig.box[0] < fig.box[2] <= 360 and 0 <= fig.box[1] < fig.box[3] <= 640


def test_deterministic(tmp_path: Path) -> None:
    shot = _shot("two-shot", ["Mira Chen", "Victor Hale"], "Victor Hale", "pan-left", "dusk")
    a = StoryboardRenderer().render(_request(tmp_path, shot, name="a.png"))
    b = StoryboardRenderer().render(_request(tmp_path, shot, name="b.png"))
    assert a.path.read_bytes() == b.path.read_bytes()
    assert a.figures == b.figures
    c = StoryboardRenderer().render(_request(tmp_path, shot, seed=8, name="c.png"))
    assert c.path.read_bytes() != a.path.read_bytes()


def test_close_up_face_is_large(tmp_path: Path) -> None:
    result = StoryboardRenderer().render(_request(tmp_path, _shot("close-up", ["Mira Chen", "Victor Hale"],
                                                                  "Victor Hale")))
    assert [f.name for f in result.figures] == ["Victor Hale"]  # the speaker gets the close-up
    x0, y0, x1, y1 = result.figures[0].face_box
    assert (x1 - x0) > 0.25 * 720
    assert y1 < 0.78 * 1280  # the face stays out of the subtitle zone


def test_two_shot_left_to_right_in_listed_order(tmp_path: Path) -> None:
    for names in (["Mira Chen", "Victor Hale"], ["Victor Hale", "Mira Chen"]):
        result = StoryboardRenderer().render(_request(tmp_path, _shot("two-shot", names, names[1])))
        assert [f.name for f in result.figures] == names
        left, right = result.figures
        assert (left.face_box[0] + left.face_box[2]) / 2 < (right.face_box[0] + right.face_box[2]) / 2
        for fig in result.figures:
            assert fig.face_box[3] < 0.78 * 1280


def test_distinct_characters_have_distinct_colours(tmp_path: Path) -> None:
    result = StoryboardRenderer().render(_request(tmp_path, _shot("two-shot", ["Mira Chen", "Jade Okoro"])))
    px = _pixels(result.path)

    def mean_colour(box: tuple[int, int, int, int]) -> np.ndarray:
        x0, y0, x1, y1 = box
        return px[y0:y1, x0:x1].reshape(-1, 3).mean(axis=0)

    mira, jade = result.figures
    # torso region: below the face box, within the figure box
    torso = [(f.face_box[0], f.face_box[3] + 60, f.face_box[2], f.face_box[3] + 200) for f in (mira, jade)]
    assert np.linalg.norm(mean_colour(torso[0]) - mean_colour(torso[1])) > 40
    assert np.linalg.norm(mean_colour(mira.face_box) - mean_colour(jade.face_box)) > 25


def test_same_character_looks_the_same_across_shots(tmp_path: Path) -> None:
    r = StoryboardRenderer()
    a = r.render(_request(tmp_path, _shot("medium", ["Mira Chen"]), seed=1, name="a.png"))
    b = r.render(_request(tmp_path, _shot("medium", ["Mira Chen"]), seed=2, name="b.png"))
    fa, fb = a.figures[0].face_box, b.figures[0].face_box
    assert abs((fa[2] - fa[0]) - (fb[2] - fb[0])) <= 2
    ca = _pixels(a.path)[fa[1]:fa[3], fa[0]:fa[2]].reshape(-1, 3).mean(axis=0)
    cb = _pixels(b.path)[fb[1]:fb[3], fb[0]:fb[2]].reshape(-1, 3).mean(axis=0)
    assert np.linalg.norm(ca - cb) < 12


def test_frame_is_not_flat(tmp_path: Path) -> None:
    for framing, names in (("wide", ["Mira Chen", "Victor Hale", "Jade Okoro"]), ("insert", ["Mira Chen"]),
                           ("over-shoulder", ["Victor Hale", "Mira Chen"])):
        result = StoryboardRenderer().render(_request(tmp_path, _shot(framing, names), name=f"{framing}.png"))
        px = _pixels(result.path)
        assert px.std() > 25
        picture = px[300:1000, 40:680]
        assert len(np.unique(picture.astype(np.uint8).reshape(-1, 3)[::7], axis=0)) > 200


def test_over_shoulder_and_wide_placement(tmp_path: Path) -> None:
    r = StoryboardRenderer()
    os_ = r.render(_request(tmp_path, _shot("over-shoulder", ["Victor Hale", "Mira Chen"], "Mira Chen"), name="o.png"))
    back, front = os_.figures
    assert (back.name, front.name) == ("Victor Hale", "Mira Chen")
    assert (back.face_box[2] - back.face_box[0]) > (front.face_box[2] - front.face_box[0])  # foreground is larger
    assert back.face_box[0] < front.face_box[0]
    wide = r.render(_request(tmp_path, _shot("wide", ["Mira Chen", "Victor Hale", "Jade Okoro"]), name="w.png"))
    assert [f.name for f in wide.figures] == ["Mira Chen", "Victor Hale", "Jade Okoro"]
    centres = [(f.box[0] + f.box[2]) / 2 for f in wide.figures]
    assert centres == sorted(centres)
    for f in wide.figures:
        assert f.box[3] - f.box[1] < 0.6 * 1280  # full figures, small in the room
        assert f.face_box[3] < 0.75 * 1280


def test_insert_has_no_faces(tmp_path: Path) -> None:
    result = StoryboardRenderer().render(_request(tmp_path, _shot("insert", ["Mira Chen"])))
    assert result.figures == []


def test_unknown_character_raises_key_error(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="Nobody"):
        StoryboardRenderer().render(_request(tmp_path, _shot("two-shot", ["Mira Chen", "Nobody"])))


def test_wide_with_zero_characters_and_night_exterior(tmp_path: Path) -> None:
    result = StoryboardRenderer().render(_request(tmp_path, _shot("wide", [], tod="night"), location=STREET))
    assert result.figures == []
    px = _pixels(result.path)
    assert px.std() > 20
    day = StoryboardRenderer().render(_request(tmp_path, _shot("wide", [], tod="day"), location=STREET, name="d.png"))
    picture = (slice(200, 1200), slice(20, 700))
    assert _pixels(day.path)[picture].mean() > px[picture].mean() + 25  # night is darker


def test_unknown_setting_and_words_fall_back(tmp_path: Path) -> None:
    odd = _character("Zed Q", "male", "teal-ish", "mohawk", "lavender", "wiry", ["#123456", "#abcdef"], "robe")
    cast = {**CAST, "Zed Q": odd}
    location = Location(name="Bridge", kind="interior", description="x", setting="spaceship")
    request = ImageRequest(shot=_shot("medium", ["Zed Q"], "Zed Q", "tilt-up", "dawn"), cast=cast,
                           location=location, seed=3, out_path=tmp_path / "odd.png", feedback="face too small")
    result = StoryboardRenderer().render(request)
    assert [f.name for f in result.figures] == ["Zed Q"]


# --- retakes: the renderer acts on QC's reason where its drawing can, and says what it changed ------------------

def _retake(tmp_path: Path, shot: Shot, feedback: str | None, name: str, renderer: StoryboardRenderer | None = None,
            cast: dict[str, Character] | None = None, **kw: int):
    request = ImageRequest(shot=shot, cast=cast or CAST, location=OFFICE, seed=7, out_path=tmp_path / name,
                           feedback=feedback, **kw)
    return (renderer or StoryboardRenderer()).render(request)


def _picture(path: Path) -> np.ndarray:
    left, top, right, bottom = picture_box(720, 1280)
    return _pixels(path)[top:bottom, left:right]


def test_too_dark_relights_the_set_brighter_and_keeps_the_cast_colours(tmp_path: Path) -> None:
    shot = _shot("two-shot", ["Mira Chen", "Victor Hale"], "Victor Hale", tod="night")
    plain = _retake(tmp_path, shot, None, "plain.png")
    dark = _retake(tmp_path, shot, "the frame is almost black; fix the exposure", "dark.png")
    bright = _retake(tmp_path, shot, "the frame is almost white; fix the exposure", "bright.png")
    assert dark.applied == ["lighting"] and dark.feedback_ignored is None
    assert _picture(dark.path).mean() > _picture(plain.path).mean() + 5
    assert _picture(bright.path).mean() < _picture(plain.path).mean() - 5
    # people are recognised by the bible's colours: a re-lit set leaves them as they were
    x0, y0, x1, y1 = plain.figures[0].face_box
    assert np.abs(_pixels(dark.path)[y0:y1, x0:x1] - _pixels(plain.path)[y0:y1, x0:x1]).mean() < 1.0


def test_a_missing_person_is_staged_clear_of_the_edges(tmp_path: Path) -> None:
    shot = _shot("over-shoulder", ["Victor Hale", "Mira Chen"], "Mira Chen")
    plain = _retake(tmp_path, shot, None, "plain.png")
    left = picture_box(720, 1280)[0]
    assert min(f.box[0] for f in plain.figures) <= left + 2  # the foreground shoulder is cut by the frame's edge
    fixed = _retake(tmp_path, shot, "Victor Hale is not in the frame (the shot shows: Victor Hale, Mira Chen)",
                    "fixed.png")
    assert fixed.applied == ["staging"]
    assert [f.name for f in fixed.figures] == ["Victor Hale", "Mira Chen"]
    assert all(f.box[0] > left + 20 and f.box[2] < 720 - left - 20 for f in fixed.figures)
    a, b = (f.face_box for f in fixed.figures)
    assert a[2] < b[0] and not any(f.name.endswith("(back)") for f in fixed.figures)  # both faces seen, apart
    close = _shot("close-up", ["Jade Okoro"], "Jade Okoro")
    tight, whole = (_retake(tmp_path, close, fb, f"c{i}.png") for i, fb in enumerate(
        [None, "the people are framed wide (small, full figure); the shot is a close-up"]))
    assert whole.applied == ["staging"]  # a close-up cannot move in: it shows its person whole instead
    assert whole.figures[0].face_box[2] - whole.figures[0].face_box[0] < \
        0.75 * (tight.figures[0].face_box[2] - tight.figures[0].face_box[0])


def test_an_extra_person_is_left_out_as_qc_names_the_cast(tmp_path: Path) -> None:
    misread = _shot("two-shot", ["Mira Chen", "Victor Hale"], "Mira Chen")  # the generator added Victor
    fixed = _retake(tmp_path, misread, "Victor Hale should not be in this shot (the shot shows: Mira Chen)", "x.png")
    assert [f.name for f in fixed.figures] == ["Mira Chen"] and "staging" in fixed.applied
    empty = _retake(tmp_path, misread, "Mira Chen, Victor Hale should not be in this shot; the shot lists nobody: "
                                       "show the empty location (the shot shows: nobody)", "e.png")
    assert empty.figures == []


def test_a_framing_failure_moves_the_camera(tmp_path: Path) -> None:
    shot = _shot("wide", ["Mira Chen", "Victor Hale", "Jade Okoro"])
    plain = _retake(tmp_path, shot, None, "plain.png")
    wider = _retake(tmp_path, shot, "the people are framed close; the shot is a wide", "wider.png")
    assert wider.applied == ["framing"]
    width = [max(f.box[2] - f.box[0] for f in r.figures) for r in (plain, wider)]
    assert width[1] < width[0] / 1.25
    medium = _shot("medium", ["Mira Chen"], "Mira Chen")
    closer = _retake(tmp_path, medium, "the people are framed wide (small, full figure); the shot is a medium",
                     "closer.png")
    base = _retake(tmp_path, medium, None, "base.png")
    assert closer.figures[0].face_box[2] - closer.figures[0].face_box[0] > \
        1.25 * (base.figures[0].face_box[2] - base.figures[0].face_box[0])


def test_a_drifted_wardrobe_is_painted_in_the_canonical_colour_qc_names(tmp_path: Path) -> None:
    mira = CAST["Mira Chen"]
    drifted = mira.model_copy(update={"look": mira.look.model_copy(update={"palette": ["#2fb06f", "#f2efe6", "#c8a040"]})})
    shot = _shot("medium", ["Mira Chen"], "Mira Chen")
    canonical = _retake(tmp_path, shot, None, "canonical.png")
    as_drawn = _retake(tmp_path, shot, None, "drawn.png", cast={"Mira Chen": drifted})
    fixed = _retake(tmp_path, shot, "Mira Chen's wardrobe has drifted from the canonical #2f6fb0: keep 'navy blazer "
                                    "over a white blouse'", "fixed.png", cast={"Mira Chen": drifted})
    assert fixed.applied == ["wardrobe"]
    assert fixed.path.read_bytes() == canonical.path.read_bytes()
    assert as_drawn.path.read_bytes() != canonical.path.read_bytes()
    stranger = drifted.model_copy(update={"look": drifted.look.model_copy(update={"hair_color": "platinum blonde"})})
    redressed = _retake(tmp_path, shot, "Mira Chen does not look like Mira Chen: draw black long straight hair, light "
                                        "skin, navy blazer over a white blouse (#2f6fb0)", "who.png",
                        cast={"Mira Chen": stranger})
    assert "wardrobe" in redressed.applied


def test_feedback_withheld_changes_nothing_and_says_so(tmp_path: Path) -> None:
    shot = _shot("two-shot", ["Mira Chen", "Victor Hale"], "Victor Hale")
    plain = _retake(tmp_path, shot, None, "plain.png")
    off = _retake(tmp_path, shot, "the frame is almost black; fix the exposure", "off.png",
                  renderer=StoryboardRenderer(use_feedback=False))
    assert off.path.read_bytes() == plain.path.read_bytes()
    assert off.applied == [] and "withheld" in (off.feedback_ignored or "")


def test_feedback_no_drawing_can_answer_is_recorded_with_why(tmp_path: Path) -> None:
    shot = _shot("medium", ["Mira Chen"], "Mira Chen")
    plain = _retake(tmp_path, shot, None, "plain.png")
    noise = _retake(tmp_path, shot, "the frame is noise, not a picture; render the scene; make it pop", "n.png")
    assert noise.path.read_bytes() == plain.path.read_bytes() and noise.applied == []
    assert "draws no noise" in noise.feedback_ignored and "make it pop: not a reason" in noise.feedback_ignored


def test_fixes_add_up_over_a_shots_retakes(tmp_path: Path) -> None:
    shot = _shot("wide", ["Mira Chen", "Victor Hale"]).model_copy(update={
        "prompt": "storyboard Fix: the people are framed close; the shot is a wide"})
    both = _retake(tmp_path, shot, "the frame is almost black; fix the exposure", "both.png")
    assert both.applied == ["lighting", "framing"]  # the earlier framing fix stays in place
    again = shot.model_copy(update={"prompt": shot.prompt + " Fix: the people are framed close; the shot is a wide"})
    assert read_feedback(feedback_history(ImageRequest(shot=again, cast=CAST, location=OFFICE, seed=1,
                                                       out_path=tmp_path / "z.png")), again).zoom < 1 / 1.9


def test_a_persistent_bias_sticks_across_seeds_and_only_a_fix_gets_past_it(tmp_path: Path) -> None:
    from dramafactory.agents.cinematographer.agent import revise
    from dramafactory.agents.qc.agent import QCAgent, TakeUnderReview
    from dramafactory.config import Settings
    from dramafactory.tools.image.faults import FaultyRenderer

    agent = QCAgent(Settings(_env_file=None, width=360, height=640))
    base = _shot("medium", ["Mira Chen"], "Mira Chen")
    probe = FaultyRenderer(StoryboardRenderer(), rate=0.0, persistent_rate=1.0)
    shot = next(s for s in (base.model_copy(update={"id": f"e01s{i:02d}"}) for i in range(40))
                if probe.bias(ImageRequest(shot=s, cast=CAST, location=OFFICE, seed=0, out_path=tmp_path / "p.png"))
                == "wardrobe_drift")
    for use_feedback, passes in ((False, [False, False, False]), (True, [False, True])):
        renderer = FaultyRenderer(StoryboardRenderer(use_feedback), rate=0.0, persistent_rate=1.0)
        take, feedback, verdicts = shot, None, []
        for attempt in range(1, len(passes) + 1):
            if feedback:
                take = revise(take, feedback, attempt, 11)
            out = tmp_path / f"{use_feedback}_{shot.id}_a{attempt}.png"
            renderer.render(ImageRequest(shot=take, cast=CAST, location=OFFICE, seed=take.seed, out_path=out,
                                         width=360, height=640, feedback=feedback))
            assert json.loads(out.with_suffix(".fault.json").read_text())["faults"] == ["wardrobe_drift"]
            report = agent.score(TakeUnderReview(path=out, shot=take, location=OFFICE, cast=CAST,
                                                 references=dict(CAST)))
            verdicts.append(report.passed)
            feedback = report.reason
        assert verdicts == passes, (use_feedback, feedback)


def test_every_reason_qc_gives_a_faulty_take_is_read(tmp_path: Path) -> None:
    """The table follows QC's own texts: the reasons QC gives broken storyboard takes each map to a fix or a why."""
    from dramafactory.agents.qc.agent import QCAgent, TakeUnderReview
    from dramafactory.config import Settings
    from dramafactory.tools.image.faults import FaultyRenderer

    agent = QCAgent(Settings(_env_file=None, width=360, height=640))
    renderer = FaultyRenderer(StoryboardRenderer(), rate=1.0, persistent_rate=1.0)
    reasons = set()
    for i, (framing, people) in enumerate([("medium", ["Mira Chen"]), ("wide", ["Mira Chen", "Victor Hale",
                                           "Jade Okoro"]), ("over-shoulder", ["Victor Hale", "Mira Chen"])] * 5):
        shot = _shot(framing, people, people[-1]).model_copy(update={"id": f"e01s{i:02d}"})
        out = tmp_path / f"t{i}.png"
        renderer.render(ImageRequest(shot=shot, cast=CAST, location=OFFICE, seed=i, out_path=out, width=360,
                                     height=640))
        report = agent.score(TakeUnderReview(path=out, shot=shot, location=OFFICE, cast=CAST,
                                             references=dict(CAST)))
        reasons.add(report.reason)
    assert len(reasons) >= 6
    for reason in reasons:
        direction = read_feedback([reason], _shot("medium", ["Mira Chen"], "Mira Chen"))
        assert not any("not a reason" in note for note in direction.ignored), reason


def test_a_retake_records_what_changed(fake_context, concept, tmp_path: Path) -> None:
    """changes=["seed"] when feedback is withheld; the fix as well when the renderer acted on it."""
    from dramafactory.graphs.runner import produce

    class BlackFirst:
        """The storyboard, but the first take of one shot comes out black."""

        name = "storyboard"

        def __init__(self, inner: StoryboardRenderer) -> None:
            self.inner = inner

        def render(self, request: ImageRequest):
            result = self.inner.render(request)
            # the first take: <shot>_a1.png, or <shot>_a1.c<claim>.png where the shot ledger names the claim
            if request.shot.id == "e01s02" and request.out_path.name.split(".")[0].endswith("_a1"):
                Image.new("RGB", (request.width, request.height), (3, 3, 3)).save(result.path)
            return result

    for use_feedback, expected in ((False, ["seed"]), (True, ["seed", "lighting"])):
        ctx = fake_context(run_dir=tmp_path / f"run{use_feedback}", image=BlackFirst(StoryboardRenderer(use_feedback)))
        produce(ctx, concept=concept, seed=7)
        shots = json.loads((ctx.run_dir / "episodes/01/shots.json").read_text())["shots"]
        takes = next(s for s in shots if s["shot"]["id"] == "e01s02")["takes"]
        assert takes[0]["changes"] == [] and takes[1]["changes"] == expected
        # a black frame is also flat and blurred: flat is re-lit, blur is nothing the storyboard drew
        assert ("withheld" if not use_feedback else "the frame is blurred") in takes[1]["feedback_ignored"]


def test_revise_keeps_every_reason_for_the_renderer(tmp_path: Path) -> None:
    from dramafactory.agents.cinematographer.agent import revise

    shot = _shot("wide", ["Mira Chen"])
    once = revise(shot, "the people are framed close; the shot is a wide", 2, 11)
    twice = revise(once, "the frame is almost black; fix the exposure", 3, 11)
    assert len({shot.seed, once.seed, twice.seed}) == 3
    request = ImageRequest(shot=twice, cast=CAST, location=OFFICE, seed=twice.seed, out_path=tmp_path / "r.png",
                           feedback="the frame is almost black; fix the exposure")
    assert feedback_history(request) == ["the people are framed close; the shot is a wide",
                                         "the frame is almost black; fix the exposure"]


def test_the_render_feedback_setting_reaches_the_renderer() -> None:
    from dramafactory.config import Settings
    from dramafactory.graphs.backends import build_image

    assert build_image(Settings(_env_file=None)).use_feedback
    assert not build_image(Settings(_env_file=None, render_feedback="off")).use_feedback
    drill = build_image(Settings(_env_file=None, render_feedback="off", fault_rate=0.3))
    assert not drill.inner.use_feedback  # the fault injector wraps the renderer it was given
