"""Clip QC (agents/qc/scorers/clip_checks.py) on clips written with tools.video.encode.write_clip: real photographs
(matplotlib's Grace Hopper, scikit-image's astronaut: Eileen Collins, NASA, public domain) panned and zoomed a
little per frame as a good clip, and the ways an animated shot goes wrong."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dramafactory.agents.qc.scorers.clip_checks import ClipLimits, score_clip
from dramafactory.tools.video.encode import write_clip

FPS = 16.0
SIZE = (288, 512)  # the clip's own (model) size, 9:16
KEY_SIZE = (720, 1280)  # the keyframe's (episode) size
N = 33  # 2.06 s at 16 fps, a Wan-like 4k+1 frame count


@pytest.fixture(scope="module")
def hopper() -> np.ndarray:
    from dramafactory.evals.footage_set import photo

    return photo("hopper").copy()  # the labelled set's source photographs, one loader for both


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    pytest.importorskip("skimage.data", reason="scikit-image is not installed (source of the astronaut photo)")
    from dramafactory.evals.footage_set import photo

    return photo("collins").copy()


# Where each photograph's 9:16 window starts: the face's centre (x) and the window's top and height (source px).
WINDOWS = {"hopper": (273.0, 20.0, 560.0), "astronaut": (220.0, 10.0, 480.0)}


def window(name: str, i: float, pan: float = 1.0, zoom: float = 0.003) -> tuple[float, float, float, float]:
    """Frame i's crop box in the photograph: panning ``pan`` source px right per frame, zooming in by ``zoom``."""
    cx, top, height = WINDOWS[name]
    h = height * (1 - zoom * i)
    w = h * 9 / 16
    left = cx - w / 2 + pan * i - 10
    return left, top + (height - h) / 2, left + w, top + (height + h) / 2


def moving(photo: np.ndarray, name: str, n: int = N, size: tuple[int, int] = SIZE, **motion) -> list[np.ndarray]:
    im = Image.fromarray(photo)
    return [np.asarray(im.resize(size, Image.Resampling.BICUBIC, box=window(name, i, **motion))) for i in range(n)]


def keyframe_of(photo: np.ndarray, name: str, path: Path) -> Path:
    Image.fromarray(photo).resize(KEY_SIZE, Image.Resampling.BICUBIC, box=window(name, 0)).save(path)
    return path


def by_name(results) -> dict:
    return {r.scorer: r for r in results}


@pytest.fixture(scope="module")
def clips(tmp_path_factory, hopper: np.ndarray, astronaut: np.ndarray) -> dict[str, Path]:
    """Every clip the tests judge, written once: {name: path}."""
    root = tmp_path_factory.mktemp("clips")
    good = {name: moving(photo, name) for name, photo in (("hopper", hopper), ("astronaut", astronaut))}
    frames: dict[str, list[np.ndarray] | np.ndarray] = {"hopper": good["hopper"], "astronaut": good["astronaut"]}
    frames["repeated"] = [good["hopper"][0]] * N
    black = list(good["hopper"])
    black[12:20] = [np.zeros_like(black[0])] * 8  # 0.5 s of black from 0.75 s
    frames["black"] = black
    frames["flicker"] = [np.clip(f.astype(np.float32) * (1.12 if i % 2 else 0.88), 0, 255).astype(np.uint8)
                         for i, f in enumerate(good["hopper"])]
    # Hopper for 0.75 s, a 1 s crossfade, then the astronaut for the last 0.31 s
    fade = []
    for i, (a, b) in enumerate(zip(good["hopper"], good["astronaut"], strict=True)):
        t = min(1.0, max(0.0, (i - 12) / 16))
        fade.append((a * (1 - t) + b * t).round().astype(np.uint8))
    frames["crossfade"] = fade
    # the same crossfade into a frame of two people: Hopper above the astronaut
    top = Image.fromarray(hopper).resize((SIZE[0], SIZE[1] // 2), Image.Resampling.BICUBIC, box=(17, 0, 512, 440))
    bottom = Image.fromarray(astronaut).resize((SIZE[0], SIZE[1] // 2), Image.Resampling.BICUBIC, box=(0, 0, 512, 455))
    two = np.concatenate([np.asarray(top), np.asarray(bottom)], axis=0).astype(np.float32)
    frames["joined"] = [(a * (1 - min(1.0, max(0.0, (i - 12) / 16))) + two * min(1.0, max(0.0, (i - 12) / 16)))
                        .round().astype(np.uint8) for i, a in enumerate(good["hopper"])]
    frames["still"] = np.full((N, SIZE[1], SIZE[0], 3), 90, dtype=np.uint8)  # one flat grey frame repeated
    out = {}
    for name, f in frames.items():
        out[name] = root / f"{name}.mp4"
        write_clip(f, out[name], FPS)
    out["hopper_key"] = keyframe_of(hopper, "hopper", root / "hopper_key.png")
    out["astronaut_key"] = keyframe_of(astronaut, "astronaut", root / "astronaut_key.png")
    out["garbage"] = root / "garbage.mp4"
    out["garbage"].write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    out["empty"] = root / "empty.mp4"
    out["empty"].write_bytes(b"")
    return out


PIXEL_CHECKS = ["clip_readable", "clip_length", "clip_black", "clip_frozen", "clip_flicker",
                "clip_starts_from_keyframe"]


@pytest.mark.parametrize("name", ["hopper", "astronaut"])
def test_good_moving_clip_passes_every_check(clips, name: str) -> None:
    results = score_clip(clips[name], keyframe=clips[f"{name}_key"], target_seconds=N / FPS, fps=FPS)
    assert [r.scorer for r in results] == PIXEL_CHECKS
    for r in results:
        assert r.passed and r.judged and r.reason == "", r


def test_fps_read_from_the_file_and_a_short_hold_passes(clips) -> None:
    # 2.06 s of clip in a 2.8 s shot: a 0.74 s hold (26%) is a held beat, under 1.0 s and 40%
    results = by_name(score_clip(clips["hopper"], keyframe=clips["hopper_key"], target_seconds=2.8))
    assert results["clip_length"].passed, results["clip_length"]
    assert results["clip_length"].score == pytest.approx(2.8 - N / FPS, abs=1e-3)


def test_clip_shorter_than_its_shot_by_two_seconds_fails_length(clips) -> None:
    results = by_name(score_clip(clips["hopper"], keyframe=clips["hopper_key"], target_seconds=N / FPS + 2.0,
                                 fps=FPS))
    length = results["clip_length"]
    assert not length.passed and length.judged
    assert "hold its last frame for 2.00 s" in length.reason and "split the shot" in length.reason
    assert length.score == pytest.approx(2.0)
    # the fraction alone: with the 1 s cap lifted, a 2.06 s clip of a 4.12 s shot still holds 50% (> 40%)
    length = by_name(score_clip(clips["hopper"], keyframe=None, target_seconds=2 * N / FPS, fps=FPS,
                                limits=ClipLimits(max_held_s=5.0)))["clip_length"]
    assert not length.passed and "(50% of the shot" in length.reason


def test_repeated_frame_fails_frozen(clips) -> None:
    for name in ("repeated", "still"):
        results = by_name(score_clip(clips[name], keyframe=clips["hopper_key"], target_seconds=N / FPS, fps=FPS))
        frozen = results["clip_frozen"]
        assert not frozen.passed and frozen.judged, frozen
        assert "frozen" in frozen.reason and "every frame is the same" in frozen.reason
        assert frozen.score == pytest.approx((N - 1) / FPS)
    assert results["clip_black"].passed  # a flat grey still is not black


def test_black_stretch_fails_black_not_frozen(clips) -> None:
    results = by_name(score_clip(clips["black"], keyframe=clips["hopper_key"], target_seconds=N / FPS, fps=FPS))
    black = results["clip_black"]
    assert not black.passed and black.judged
    assert black.score == pytest.approx(0.5) and "black for 0.50 s (frames 12-19, from 0.75 s" in black.reason
    assert results["clip_frozen"].passed  # the black frames stand still, but that is clip_black's finding
    assert results["clip_flicker"].passed  # one fade down and one back up is no flicker
    assert results["clip_starts_from_keyframe"].passed


def test_alternating_bright_and_dark_frames_fail_flicker(clips) -> None:
    results = by_name(score_clip(clips["flicker"], keyframe=clips["hopper_key"], target_seconds=N / FPS, fps=FPS))
    flicker = results["clip_flicker"]
    assert not flicker.passed and flicker.judged and "flickers" in flicker.reason
    assert flicker.score >= 14  # every frame of a 16-frame second reverses
    assert results["clip_frozen"].passed and results["clip_black"].passed


def test_clip_starting_from_another_picture_fails(clips) -> None:
    results = by_name(score_clip(clips["hopper"], keyframe=clips["astronaut_key"], target_seconds=N / FPS, fps=FPS))
    start = results["clip_starts_from_keyframe"]
    assert not start.passed and start.judged
    assert "the clip does not start from its keyframe" in start.reason
    assert start.score < 0.5


def test_no_keyframe_or_unreadable_keyframe_is_not_judged(clips, tmp_path: Path) -> None:
    start = by_name(score_clip(clips["hopper"], keyframe=None, target_seconds=N / FPS, fps=FPS))[
        "clip_starts_from_keyframe"]
    assert not start.passed and not start.judged and "no keyframe" in start.reason
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    start = by_name(score_clip(clips["hopper"], keyframe=bad, target_seconds=N / FPS, fps=FPS))[
        "clip_starts_from_keyframe"]
    assert not start.passed and not start.judged and "bad.png cannot be read" in start.reason


@pytest.mark.parametrize("name", ["garbage", "empty", "missing"])
def test_undecodable_clip_is_one_unjudged_failure(clips, tmp_path: Path, name: str) -> None:
    path = clips.get(name, tmp_path / "missing.mp4")
    results = score_clip(path, keyframe=clips["hopper_key"], target_seconds=2.0, fps=FPS, faces=object())
    assert len(results) == 1
    (r,) = results
    assert r.scorer == "clip_readable" and not r.passed and not r.judged
    assert "cannot be decoded: " in r.reason


def test_a_single_frame_clip_is_frozen(tmp_path: Path, hopper: np.ndarray) -> None:
    path = tmp_path / "one.mp4"
    write_clip(moving(hopper, "hopper", n=1), path, FPS)
    results = by_name(score_clip(path, keyframe=None, target_seconds=0.5, fps=FPS))
    assert not results["clip_frozen"].passed and "single frame" in results["clip_frozen"].reason
    assert results["clip_readable"].passed


# --------------------------------------------------------------------------- faces (dlib)


@pytest.fixture(scope="module")
def embedder():
    pytest.importorskip("dlib", reason="dlib is not installed (pip install dlib-bin face-recognition-models)")
    from dramafactory.tools.vision.faces import FaceEmbedder, faces_available

    ok, why = faces_available()
    if not ok:
        pytest.skip(why)
    fe = FaceEmbedder()
    fe.load()
    return fe


def test_same_person_throughout_passes_identity(clips, embedder) -> None:
    results = by_name(score_clip(clips["hopper"], keyframe=clips["hopper_key"], target_seconds=N / FPS, fps=FPS,
                                 faces=embedder, expected_people=1))
    identity = results["clip_identity_drift"]
    assert identity.passed and identity.judged and identity.reason == "", identity
    assert identity.score < 0.3


def test_crossfade_to_another_person_fails_identity_drift(clips, embedder) -> None:
    results = by_name(score_clip(clips["crossfade"], keyframe=clips["hopper_key"], target_seconds=N / FPS,
                                 fps=FPS, faces=embedder, expected_people=1))
    identity = results["clip_identity_drift"]
    assert not identity.passed and identity.judged
    assert identity.reason.startswith("identity drift:")
    assert f"is {identity.score:.2f} from its nearest face" in identity.reason
    assert identity.score > 0.6
    assert results["clip_starts_from_keyframe"].passed and results["clip_flicker"].passed


def test_someone_joining_the_shot_fails_on_the_face_count(clips, embedder) -> None:
    identity = by_name(score_clip(clips["joined"], keyframe=clips["hopper_key"], target_seconds=N / FPS, fps=FPS,
                                  faces=embedder, expected_people=1))["clip_identity_drift"]
    assert not identity.passed and identity.judged
    assert "starts with 1 face and ends with 2 faces (the shot has 1 person)" in identity.reason
    assert identity.score < 0.3  # Hopper is still Hopper (measured 0.13)
    # without the shot's head count, a count change alone is no verdict on identity
    identity = by_name(score_clip(clips["joined"], keyframe=None, target_seconds=N / FPS, fps=FPS,
                                  faces=embedder))["clip_identity_drift"]
    assert identity.passed and identity.judged


def test_no_face_in_the_first_frame(clips, embedder) -> None:
    identity = by_name(score_clip(clips["still"], keyframe=None, target_seconds=N / FPS, fps=FPS, faces=embedder,
                                  expected_people=1))["clip_identity_drift"]
    assert not identity.passed and not identity.judged and "no face in the clip's first frame" in identity.reason
    # a shot of no one: no face is the right answer
    identity = by_name(score_clip(clips["still"], keyframe=None, target_seconds=N / FPS, fps=FPS, faces=embedder,
                                  expected_people=0))["clip_identity_drift"]
    assert identity.passed and identity.judged
