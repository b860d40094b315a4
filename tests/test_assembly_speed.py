"""The faster assembly path: frames made in planar YUV 4:2:0, camera moves plane by plane, subtitles pasted in planes,
the encoder fed yuv420p with its own x264 settings. Each check compares against the RGB way it replaced."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from dramafactory.tools.assembly import video
from dramafactory.tools.assembly.ffmpeg import decode_rgb, ffmpeg_exe, raw_input_args
from dramafactory.tools.assembly.frames import ClipSpec, StillRenderer, sample
from dramafactory.tools.assembly.subtitles import Cue, draw_subtitle, subtitle_overlay
from dramafactory.tools.assembly.yuv import YuvFrame, rgb_to_yuv420, yuv420_to_rgb

from .test_video_tool import _silence

W, H = 180, 320


def _scene(path: Path, size: tuple[int, int] = (W, H)) -> Path:
    img = Image.new("RGB", size, (40, 60, 120))
    draw = ImageDraw.Draw(img)
    draw.ellipse((size[0] * 0.2, size[1] * 0.2, size[0] * 0.8, size[1] * 0.5), fill=(250, 220, 40))
    draw.rectangle((0, size[1] * 0.6, size[0], size[1] * 0.7), fill=(30, 160, 30))
    draw.rectangle((10, 10, 40, 40), fill=(230, 20, 20))
    img.save(path)
    return path


def _diff(a: Image.Image | np.ndarray, b: Image.Image | np.ndarray) -> float:
    return float(np.abs(np.asarray(a, dtype=np.float32) - np.asarray(b, dtype=np.float32)).mean())


def test_rgb_to_yuv420_matches_ffmpeg_conversion(tmp_path: Path) -> None:
    """Frames used to reach ffmpeg as RGB and be converted there; made in YUV here, they must be the same colours
    (BT.601, limited range), or every episode would change brightness and saturation."""
    rng = np.random.default_rng(3)
    blocks = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    rgb = np.repeat(np.repeat(blocks, 16, axis=0), 16, axis=1)  # 128x128 of flat 16x16 patches
    Image.fromarray(rgb).save(tmp_path / "patches.png")
    raw = subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", str(tmp_path / "patches.png"),
                          "-pix_fmt", "yuv420p", "-f", "rawvideo", "pipe:1"], check=True, capture_output=True).stdout
    theirs = YuvFrame.from_i420(raw, 128, 128)
    y, u, v = rgb_to_yuv420(rgb)
    # Patch centres (8 pixels a side, 4 in chroma): away from the edges, where the two chroma filters differ.
    for mine, ref, step in ((y, theirs.y, 16), (u, theirs.u, 8), (v, theirs.v, 8)):
        centres = np.abs(mine.astype(np.int16) - np.asarray(ref, dtype=np.int16))[step // 2 :: step, step // 2 :: step]
        assert centres.max() <= 1, centres.max()
    # And back: the inverse gives the patches' colours.
    back = yuv420_to_rgb(y, u, v).astype(np.int16)
    assert np.abs(back[4::16, 4::16] - blocks.astype(np.int16)).max() <= 3


def test_yuv_frame_bytes_and_odd_sizes() -> None:
    frame = YuvFrame.from_rgb(Image.new("RGB", (W, H), (255, 255, 255)))
    data = frame.tobytes()
    assert len(data) == W * H * 3 // 2
    assert data[0] == 235 and data[W * H] == 128  # white: limited-range Y, neutral chroma
    again = YuvFrame.from_i420(data, W, H)
    assert again.tobytes() == data
    with pytest.raises(ValueError, match="even"):
        rgb_to_yuv420(np.zeros((5, 4, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="yuv420p frame"):
        YuvFrame.from_i420(data[:-1], W, H)


def test_sample_shifts_crop_blend_and_resample() -> None:
    rng = np.random.default_rng(1)
    img = Image.fromarray(rng.integers(0, 256, size=(40, 60), dtype=np.uint8))
    assert sample(img, (0.0, 0.0, 60.0, 40.0), (60, 40)) is img  # all of it: no copy
    whole = sample(img, (5.0, 3.0, 35.0, 23.0), (30, 20))
    assert np.array_equal(np.asarray(whole), np.asarray(img)[3:23, 5:35])
    half = np.asarray(sample(img, (5.5, 3.0, 35.5, 23.0), (30, 20)), dtype=np.float32)
    arr = np.asarray(img, dtype=np.float32)
    expected = (arr[3:23, 5:35] + arr[3:23, 6:36]) / 2
    assert np.abs(half - expected).max() <= 1.0
    vertical = np.asarray(sample(img, (5.0, 3.25, 35.0, 23.25), (30, 20)), dtype=np.float32)
    assert np.abs(vertical - (0.75 * arr[3:23, 5:35] + 0.25 * arr[4:24, 5:35])).max() <= 1.0
    zoomed = sample(img, (5.0, 3.0, 55.0, 36.0), (30, 20))  # a smaller output: resampled
    assert zoomed.size == (30, 20)
    # A box past the edge is clamped, not read outside the image.
    assert np.array_equal(np.asarray(sample(img, (-3.0, 0.0, 27.0, 20.0), (30, 20))), np.asarray(img)[0:20, 0:30])


@pytest.mark.parametrize("move", ["static", "push-in", "pull-out", "pan-left", "pan-right", "tilt-up", "tilt-down"])
def test_planes_show_what_the_rgb_frame_shows(tmp_path: Path, move: str) -> None:
    renderer = StillRenderer(ClipSpec(_scene(tmp_path / "s.png", (200, 400)), 1.0, move), W, H)
    for progress in (0.0, 0.37, 1.0):
        planes = renderer.planes(progress)
        assert planes.y.size == (W, H) and planes.u.size == (W // 2, H // 2)
        reference = YuvFrame.from_rgb(renderer.frame(progress))
        assert _diff(planes.y, reference.y) < 1.5, (move, progress)
        assert _diff(planes.u, reference.u) < 2.5 and _diff(planes.v, reference.v) < 2.5, (move, progress)
    start, end = renderer.planes(0.0), renderer.planes(1.0)
    if move == "static":
        assert start.y is end.y  # one base, never resampled
    else:
        assert _diff(start.y, end.y) > 1.0


def test_subtitle_planes_match_the_rgb_band() -> None:
    text = "Where were you last night? Nowhere that concerns you."
    base = Image.new("RGB", (W, H), (120, 90, 60))
    rgb = base.copy()
    draw_subtitle(rgb, text)
    overlay = subtitle_overlay(text, W, H)
    assert overlay is not None
    band = overlay.planes(H)
    assert band.top % 2 == 0 and band.top <= overlay.top
    frame = YuvFrame.from_rgb(base)
    untouched = frame.copy()
    band.apply(frame)
    shown = np.asarray(frame.to_rgb(), dtype=np.float32)
    expected = np.asarray(rgb, dtype=np.float32)
    rows = slice(band.top, band.top + band.frame.y.height)
    assert _diff(shown[rows], expected[rows]) < 4.0
    assert (np.asarray(frame.y)[rows] > 200).any()  # white text
    assert np.array_equal(np.asarray(frame.y)[: band.top], np.asarray(untouched.y)[: band.top])  # above: as it was


def test_clip_frames_come_from_ffmpeg_as_planes(tmp_path: Path) -> None:
    clip = tmp_path / "c.mp4"
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc=size=90x160:rate=12:duration=1", "-pix_fmt", "yuv420p", str(clip)], check=True)
    flat = list(decode_rgb(clip, W, H, max_frames=3, pix_fmt="yuv420p"))
    rgb = list(decode_rgb(clip, W, H, max_frames=3))
    assert len(flat) == len(rgb) == 3
    assert flat[0].shape == (W * H * 3 // 2,)
    assert _diff(YuvFrame.from_i420(flat[1], W, H).to_rgb(), rgb[1]) < 6.0
    with pytest.raises(ValueError, match="pixel format"):
        next(decode_rgb(clip, W, H, pix_fmt="rgba"))
    with pytest.raises(ValueError, match="pixel format"):
        raw_input_args(W, H, 24, pix_fmt="gray")


def test_episode_streams_yuv420p_with_the_x264_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[list[str], int, int]] = []
    real = video.encode_rgb

    def spy(cmd: list[str], chunks, out_path: Path) -> None:
        frames = list(chunks)
        seen.append((cmd, len(frames), len({id(f) for f in frames})))
        real(cmd, iter(frames), out_path)

    monkeypatch.setattr(video, "encode_rgb", spy)
    clips = [ClipSpec(_scene(tmp_path / "a.png"), 1.0, "static"), ClipSpec(_scene(tmp_path / "b.png"), 1.0, "push-in")]
    wav = _silence(tmp_path / "mix.wav", 2.0)
    result = video.assemble_episode(clips, wav, [Cue(1.2, 1.6, "Hello.")], tmp_path / "a.mp4", width=W, height=H,
                                    fps=12)
    assert abs(result.duration - 2.0) <= 0.1
    cmd, n_frames, distinct = seen[-1]
    pix = [cmd[i + 1] for i, arg in enumerate(cmd) if arg == "-pix_fmt"]
    assert pix[0] == "yuv420p"  # the input: frames arrive as planes, ffmpeg converts nothing
    assert cmd[cmd.index("-x264-params") + 1] == video.X264_PARAMS
    assert n_frames == 24
    assert distinct < 24 - 10  # the static shot's frames (no cue, no dissolve) are one frame's bytes, reused
    video.assemble_episode(clips, wav, [], tmp_path / "b.mp4", width=W, height=H, fps=12, x264_params=None)
    assert "-x264-params" not in seen[-1][0]


def test_render_frames_dissolve_and_subtitles_in_planes(tmp_path: Path) -> None:
    a = tmp_path / "a.png"
    Image.new("RGB", (W, H), (0, 0, 0)).save(a)
    b = tmp_path / "b.png"
    Image.new("RGB", (W, H), (255, 255, 255)).save(b)
    clips = [ClipSpec(a, 1.0, "static"), ClipSpec(b, 1.0, "static")]
    frames = [YuvFrame.from_i420(f, W, H) for f in video._render_frames(clips, [Cue(0.0, 0.5, "Hi there.")], W, H, 12)]
    assert len(frames) == 24
    luma = [float(np.asarray(f.y)[: H // 2].mean()) for f in frames]  # above the subtitle band
    assert luma[0] == pytest.approx(16, abs=1) and luma[-1] == pytest.approx(235, abs=1)
    fade = luma[12:15]  # 0.25 s at 12 fps: three frames dissolving black into white
    assert all(16 < x < 235 for x in fade) and fade == sorted(fade)
    bottom = slice(int(H * 0.75), H)
    assert np.asarray(frames[0].y)[bottom].max() > 200  # the cue's white text on black
    assert np.asarray(frames[8].y)[bottom].max() < 20  # after it ends
