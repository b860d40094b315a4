"""The storyboard renderer: size, determinism, placement by framing, distinct characters, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dramafactory.schemas import Character, Location, Look, Shot, Voice
from dramafactory.tools.image.base import ImageBackend, ImageRequest
from dramafactory.tools.image.storyboard import StoryboardRenderer


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
