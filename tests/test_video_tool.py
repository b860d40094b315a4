"""The video tool: the clip contract (frame counts, motion prompts), clip files, and episodes assembled from clips."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dramafactory.schemas import Shot
from dramafactory.tools.assembly.video import AssemblyError, ClipSpec, assemble_episode, probe
from dramafactory.tools.video.base import ClipRequest, ClipResult, VideoBackend, frame_count, motion_prompt
from dramafactory.tools.video.encode import read_clip, write_clip

W, H, FPS = 90, 160, 12  # the episode: small and slow, so assembly takes a fraction of a second
BG = (20, 20, 80)


def _shot(**update: object) -> Shot:
    fields: dict[str, object] = {
        "id": "e01s02", "episode": 1, "scene": 1, "index": 1, "framing": "close-up", "camera_move": "push-in",
        "duration_s": 2.3, "characters": ["MAYA"], "location": "Cafe", "time_of_day": "night",
        "action": "Maya slams the cup down",
        "prompt": "Vertical 9:16 frame, close-up. Maya at the counter, neon light.", "seed": 7,
    }
    fields.update(update)
    return Shot.model_validate(fields)


def _square_frames(n: int, width: int, height: int, *, axis: int) -> np.ndarray:
    """A white 6x6 square on a dark ground, moving along ``axis`` (1: x, 0: y) from one edge to the other."""
    frames = np.empty((n, height, width, 3), dtype=np.uint8)
    frames[:] = BG
    for k in range(n):
        pos = _square_pos(k, n, width if axis == 1 else height)
        if axis == 1:
            frames[k, height // 2 - 3 : height // 2 + 3, pos : pos + 6] = 255
        else:
            frames[k, pos : pos + 6, width // 2 - 3 : width // 2 + 3] = 255
    return frames


def _square_pos(k: int, n: int, side: int) -> int:
    return round(k * (side - 6) / max(1, n - 1))


def _centroid(frame: np.ndarray) -> tuple[float, float]:
    """(x, y) of the bright pixels, as a fraction of the frame's width and height."""
    ys, xs = np.nonzero(frame.astype(np.int16).sum(axis=2) > 3 * 160)
    assert xs.size, "no square in the frame"
    return float(xs.mean() + 0.5) / frame.shape[1], float(ys.mean() + 0.5) / frame.shape[0]


def _silence(path: Path, seconds: float, rate: int = 22050) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(b"\0\0" * int(seconds * rate))
    return path


def _diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


# --------------------------------------------------------------------------- contract


def test_frame_count_follows_the_models_frame_rule() -> None:
    assert frame_count(2.3, 24, 4) == 57  # 55.2 frames needed -> 4*14+1
    assert frame_count(5.0, 16, 4) == 81  # Wan's 81 frames at 16 fps: exactly 80 needed, not rounded up past it
    assert frame_count(2.0, 24, 4) == 49
    assert frame_count(5.0, 24, 8) == 121  # LTX-Video: 8k+1
    assert frame_count(3.0, 24, 8) == 73
    assert frame_count(49 / 24, 24, 8) == 49  # an exact fit stays
    for seconds in (0.4, 1.1, 2.3, 3.7, 6.25):
        for step in (4, 8):
            n = frame_count(seconds, 24, step)
            assert (n - 1) % step == 0 and n >= seconds * 24 - 1e-6 and n - step < seconds * 24


def test_frame_count_minimum_and_cap() -> None:
    assert frame_count(0.01, 24, 4) == 5  # never fewer than one latent after the first frame
    assert frame_count(0.0, 24, 8) == 9
    assert frame_count(10.0, 24, 8, max_frames=121) == 121
    assert frame_count(10.0, 16, 4, max_frames=100) == 97  # the largest 4k+1 <= 100
    assert frame_count(1.0, 16, 4, max_frames=100) == 17  # the cap only caps
    with pytest.raises(ValueError, match="max_frames"):
        frame_count(1.0, 24, 8, max_frames=8)
    with pytest.raises(ValueError):
        frame_count(1.0, 0, 4)


def test_motion_prompt_drops_fixes_and_names_the_move() -> None:
    shot = _shot(prompt="Close-up of Maya at the counter, neon light. Fix: add LEO on the left. Fix: brighter")
    prompt = motion_prompt(shot)
    assert "Fix" not in prompt and "LEO" not in prompt and "brighter" not in prompt
    assert prompt.startswith("Close-up of Maya at the counter, neon light. ")
    assert "Maya slams the cup down" in prompt
    assert prompt.endswith("The camera slowly pushes in.")
    assert motion_prompt(_shot(camera_move="static")).endswith("Locked-off camera.")
    assert "pans left" in motion_prompt(_shot(camera_move="pan-left"))
    # An action the prompt already says is not repeated.
    said = motion_prompt(_shot(prompt="Wide shot. Maya slams the cup down. Location: Cafe."))
    assert said.lower().count("maya slams the cup down") == 1


def test_backend_protocol_and_results() -> None:
    class Fake:
        name = "fake"

        def animate(self, request: ClipRequest) -> ClipResult:
            return ClipResult(path=request.out_path, frames=9, fps=8.0, width=16, height=28, seconds=0.1,
                              backend=self.name, model="none", duration_s=9 / 8)

    request = ClipRequest(shot=_shot(), keyframe=Path("k.png"), prompt=motion_prompt(_shot()), seed=7,
                          duration_s=2.3, out_path=Path("c.mp4"))
    assert (request.width, request.height) == (720, 1280)
    assert isinstance(Fake(), VideoBackend)
    result = Fake().animate(request)
    assert result.notes == [] and result.gpu_seconds is None


# --------------------------------------------------------------------------- clip files


def test_write_read_round_trip_with_odd_sizes(tmp_path: Path) -> None:
    frames = _square_frames(10, 17, 29, axis=1)  # odd sides: cropped to 16x28 for yuv420p
    width, height, n = write_clip(frames, tmp_path / "odd.mp4", fps=8)
    assert (width, height, n) == (16, 28, 10)
    info = probe(tmp_path / "odd.mp4")
    assert (info["width"], info["height"]) == (16, 28)
    back = list(read_clip(tmp_path / "odd.mp4", 16, 28))
    assert len(back) == 10 and back[0].shape == (28, 16, 3) and back[0].dtype == np.uint8
    assert _centroid(back[-1])[0] > _centroid(back[0])[0] + 0.4  # the square crossed the frame
    # PIL images in, and read back at another size ("cover": scaled to fill, the overflow cropped).
    images = [Image.fromarray(f) for f in _square_frames(6, 16, 28, axis=0)]
    assert write_clip(images, tmp_path / "pil.mp4", fps=8.0) == (16, 28, 6)
    big = list(read_clip(tmp_path / "pil.mp4", 64, 64))
    assert len(big) == 6 and big[0].shape == (64, 64, 3)
    # Another frame rate: 6 frames at 8 fps last 0.75 s, 18 frames at 24 fps.
    assert abs(len(list(read_clip(tmp_path / "pil.mp4", 16, 28, fps=24))) - 18) <= 1
    assert len(list(read_clip(tmp_path / "pil.mp4", 16, 28, max_frames=4))) == 4


def test_write_clip_rejects_bad_frames(tmp_path: Path) -> None:
    with pytest.raises(AssemblyError, match="no frames"):
        write_clip([], tmp_path / "empty.mp4", fps=8)
    with pytest.raises(AssemblyError, match="uint8"):
        write_clip(np.zeros((3, 28, 16, 3), dtype=np.float32), tmp_path / "float.mp4", fps=8)
    mixed = [Image.new("RGB", (16, 28)), Image.new("RGB", (18, 28))]
    with pytest.raises(AssemblyError, match="frame 1"):
        write_clip(mixed, tmp_path / "mixed.mp4", fps=8)


def test_read_clip_names_an_undecodable_file(tmp_path: Path) -> None:
    bad = tmp_path / "garbage.mp4"
    bad.write_bytes(b"this is not an mp4 " * 50)
    with pytest.raises(AssemblyError, match="garbage.mp4"):
        list(read_clip(bad, 16, 28))
    with pytest.raises(AssemblyError, match="missing.mp4"):
        list(read_clip(tmp_path / "missing.mp4", 16, 28))


# --------------------------------------------------------------------------- episodes from clips


def test_episode_mixes_clips_and_stills(tmp_path: Path) -> None:
    # Shot 1: a 0.5 s clip (6 frames at 12 fps) for a 1.5 s shot: its last frame is held for 1 s.
    # Shot 2: a still, static. Shot 3: a 1.67 s clip for a 1.0 s shot: trimmed, from its start.
    short = _square_frames(6, 16, 28, axis=1)
    long = _square_frames(20, 16, 28, axis=0)  # moves over a pixel a frame, so each frame differs
    write_clip(short, tmp_path / "short.mp4", fps=FPS)
    write_clip(long, tmp_path / "long.mp4", fps=FPS)
    Image.new("RGB", (W, H), (200, 60, 40)).save(tmp_path / "still.png")
    specs = [
        ClipSpec(tmp_path / "key1.png", 1.5, "push-in", clip=tmp_path / "short.mp4"),  # keyframe never read
        ClipSpec(tmp_path / "still.png", 1.0, "static"),
        ClipSpec(tmp_path / "key3.png", 1.0, "pan-left", clip=tmp_path / "long.mp4"),
    ]
    result = assemble_episode(specs, _silence(tmp_path / "mix.wav", 3.5), [], tmp_path / "ep.mp4",
                              width=W, height=H, fps=FPS)
    assert (result.clip_shots, result.still_shots) == (2, 1)
    assert abs(probe(result.path)["duration"] - 3.5) <= 0.1  # dissolves overlap shots, they add no time
    frames = list(read_clip(result.path, W, H))
    assert len(frames) == 42  # 18 + 12 + 12 at 12 fps

    # Shot 1, frames 0-17: the clip's own motion for 6 frames (no camera move added), then its last frame held.
    xs = [_centroid(f)[0] for f in frames[:6]]
    assert all(b > a for a, b in zip(xs, xs[1:], strict=False)), xs
    assert _diff(frames[0], frames[5]) > 5.0
    expected_last = list(read_clip(tmp_path / "short.mp4", W, H))[-1]
    for held in frames[6:18]:
        assert _diff(held, frames[5]) < 2.0
        assert _diff(held, expected_last) < 4.0
    assert _centroid(frames[17]) == pytest.approx(_centroid(expected_last), abs=0.03)

    # Shot 2, frames 18-29: a dissolve from the held frame (3 frames), then the still.
    assert _diff(frames[25], frames[29]) < 2.0
    assert np.allclose(frames[27][H // 2, 10].astype(float), (200, 60, 40), atol=12)

    # Shot 3, frames 30-41: dissolve in, then the long clip's frames 3-11; its remaining 8 frames are cut.
    long_back = list(read_clip(tmp_path / "long.mp4", W, H))
    for k in range(4, 12):
        assert _centroid(frames[30 + k])[1] == pytest.approx(_centroid(long_back[k])[1], abs=0.04), k
    ys = [_centroid(f)[1] for f in frames[34:42]]
    assert all(b > a for a, b in zip(ys, ys[1:], strict=False)), ys
    assert _centroid(frames[41])[1] < _centroid(long_back[-1])[1] - 0.3  # the clip's end never shows


def test_undecodable_or_missing_clip_raises_naming_it(tmp_path: Path) -> None:
    wav = _silence(tmp_path / "mix.wav", 1.0)
    Image.new("RGB", (W, H), (1, 2, 3)).save(tmp_path / "still.png")
    bad = tmp_path / "broken_clip.mp4"
    bad.write_bytes(bytes(range(256)) * 20)
    with pytest.raises(AssemblyError, match="broken_clip.mp4"):
        assemble_episode([ClipSpec(tmp_path / "still.png", 1.0, "static", clip=bad)], wav, [],
                         tmp_path / "x.mp4", width=W, height=H, fps=FPS)
    with pytest.raises(AssemblyError, match="gone.mp4"):
        assemble_episode([ClipSpec(tmp_path / "still.png", 1.0, "static", clip=tmp_path / "gone.mp4")], wav, [],
                         tmp_path / "y.mp4", width=W, height=H, fps=FPS)


def test_clip_failing_while_decoding_stops_the_episode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A clip that probes fine but breaks mid-stream fails assembly with its error (nothing falls back)."""
    from dramafactory.tools.assembly import frames as frame_sources

    write_clip(_square_frames(6, 16, 28, axis=1), tmp_path / "cut.mp4", fps=FPS)

    def breaks(path: Path, width: int, height: int, **_: object):
        yield np.zeros((height, width, 3), dtype=np.uint8)
        raise AssemblyError(f"cannot decode clip {path}: truncated")

    monkeypatch.setattr(frame_sources, "decode_rgb", breaks)
    spec = ClipSpec(tmp_path / "k.png", 1.0, "static", clip=tmp_path / "cut.mp4")
    with pytest.raises(AssemblyError, match="cut.mp4: truncated"):
        assemble_episode([spec], _silence(tmp_path / "mix.wav", 1.0), [], tmp_path / "x.mp4", width=W, height=H,
                         fps=FPS)
