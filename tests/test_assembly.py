"""Episode assembly: MP4 muxing, SRT, burned-in subtitles, audio mixing, contact sheets."""

from __future__ import annotations

import re
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from dramafactory.tools.assembly import video
from dramafactory.tools.assembly.contact_sheet import make_contact_sheet, sheet_size
from dramafactory.tools.assembly.subtitles import Cue, draw_subtitle, font_safe, format_timestamp, to_srt, wrap_text
from dramafactory.tools.assembly.video import (
    AssemblyError,
    ClipSpec,
    FFmpegMissing,
    assemble_episode,
    mix_audio,
    normalise_move,
    probe,
)

W, H = 180, 320
SR = 22050


def _png(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (W, H)) -> Path:
    img = Image.new("RGB", size, colour)
    draw = ImageDraw.Draw(img)
    draw.ellipse((size[0] * 0.2, size[1] * 0.2, size[0] * 0.8, size[1] * 0.5), fill=(250, 220, 40))
    draw.rectangle((0, size[1] * 0.6, size[0], size[1] * 0.7), fill=(30, 90, 30))
    img.save(path)
    return path


def _tone(path: Path, seconds: float, freq: float = 440.0, rate: int = SR, amp: float = 0.5) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    pcm = (amp * np.sin(2 * np.pi * freq * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm.tobytes())
    return path


def _read(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as wav:
        assert wav.getnchannels() == 1 and wav.getsampwidth() == 2
        rate = wav.getframerate()
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
    return data, rate


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0


def _frame_at(mp4: Path, t: float, out_png: Path) -> np.ndarray:
    cmd = [video.ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-ss", f"{t:.3f}", "-i", str(mp4)]
    subprocess.run([*cmd, "-frames:v", "1", str(out_png)], check=True, capture_output=True)
    with Image.open(out_png) as img:
        return np.asarray(img.convert("RGB"), dtype=np.float32)


@pytest.fixture(scope="module")
def episode(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    d = tmp_path_factory.mktemp("episode")
    clips = [
        ClipSpec(_png(d / "s1.png", (40, 60, 120)), 1.0, "push-in"),
        ClipSpec(_png(d / "s2.png", (120, 40, 60), size=(360, 640)), 1.0, "static"),
        ClipSpec(_png(d / "s3.png", (60, 120, 40), size=(400, 400)), 1.0, "pan-left"),
    ]
    wav = mix_audio([(0.2, _tone(d / "line.wav", 1.5))], 2.0, d / "mix.wav")  # shorter than the video: padded
    cues = [Cue(0.1, 0.9, "Where were you last night?", "MAYA"), Cue(1.2, 2.6, "Nowhere that concerns you.", "LEO")]
    with_subs = assemble_episode(clips, wav, cues, d / "with.mp4", width=W, height=H)
    without = assemble_episode(clips, wav, [], d / "without.mp4", width=W, height=H)
    return {"dir": d, "clips": clips, "cues": cues, "with": with_subs, "without": without, "wav": wav}


def test_episode_is_portrait_with_audio_and_exact_duration(episode: dict[str, object]) -> None:
    result = episode["with"]
    assert isinstance(result, video.AssemblyResult)
    assert result.path.is_file() and result.path.stat().st_size > 0
    info = probe(result.path)
    assert info["width"] == W and info["height"] == H
    assert info["height"] > info["width"]
    assert info["has_audio"] is True
    assert abs(float(info["duration"]) - 3.0) <= 0.1
    assert abs(result.duration - 3.0) <= 0.1
    assert (result.width, result.height) == (W, H)
    assert result.seconds > 0


def test_audio_longer_than_video_is_trimmed(episode: dict[str, object], tmp_path: Path) -> None:
    long_wav = _tone(tmp_path / "long.wav", 5.0)
    clips = episode["clips"]
    assert isinstance(clips, list)
    result = assemble_episode(clips[:2], long_wav, [], tmp_path / "short.mp4", width=W, height=H, fps=12)
    assert abs(result.duration - 2.0) <= 0.1


def test_subtitles_are_burned_in(episode: dict[str, object]) -> None:
    d = episode["dir"]
    assert isinstance(d, Path)
    with_subs, without = episode["with"], episode["without"]
    t = 1.5  # middle of the static clip, inside the second cue
    a = _frame_at(with_subs.path, t, d / "a.png")
    b = _frame_at(without.path, t, d / "b.png")
    bottom = slice(int(H * 0.8), H)
    top = slice(0, int(H * 0.5))
    diff_bottom = float(np.abs(a[bottom] - b[bottom]).mean())
    diff_top = float(np.abs(a[top] - b[top]).mean())
    assert diff_bottom > 8.0, diff_bottom
    assert diff_top < 3.0, diff_top
    # After the last cue ends (2.6 s) nothing is drawn.
    c = _frame_at(with_subs.path, 2.75, d / "c.png")
    e = _frame_at(without.path, 2.75, d / "e.png")
    assert float(np.abs(c[bottom] - e[bottom]).mean()) < 3.0


def test_draw_subtitle_marks_bottom_band_only() -> None:
    frame = Image.new("RGB", (W, H), (90, 90, 90))
    draw_subtitle(frame, "A line long enough to need wrapping onto a second line, surely")
    arr = np.asarray(frame, dtype=np.int16)
    changed_rows = np.nonzero(np.abs(arr - 90).sum(axis=(1, 2)))[0]
    assert changed_rows.size > 0
    assert changed_rows.min() >= int(H * 0.75)
    assert changed_rows.max() < H
    assert (arr > 200).any()  # white text present


SRT_BLOCK = re.compile(
    r"(\d+)\n(\d{2}):(\d{2}):(\d{2}),(\d{3}) --> (\d{2}):(\d{2}):(\d{2}),(\d{3})\n((?:.+\n)+)",
)


def test_srt_format() -> None:
    cues = [
        Cue(0.0, 1.5, "Hello.", "A"),
        Cue(61.25, 63.0, "This is a considerably longer line that has to be wrapped for phones.", "B"),
        Cue(3725.5, 3726.0, "Late.", "C"),
    ]
    srt = to_srt(cues)
    blocks = SRT_BLOCK.findall(srt)
    assert len(blocks) == 3
    assert [int(b[0]) for b in blocks] == [1, 2, 3]

    def secs(h: str, m: str, s: str, ms: str) -> float:
        return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000

    for block, cue in zip(blocks, cues, strict=True):
        assert secs(*block[1:5]) == pytest.approx(cue.start)
        assert secs(*block[5:9]) == pytest.approx(cue.end)
        lines = block[9].strip("\n").split("\n")
        assert 1 <= len(lines) <= 2
        assert all(len(line) <= 40 for line in lines)
        assert cue.speaker not in block[9].split()  # speaker names are not written
    assert "01:02:05,500 --> 01:02:06,000" in srt
    assert len(SRT_BLOCK.findall(srt)[1][9].strip().split("\n")) == 2


def test_wrap_and_timestamp_helpers() -> None:
    assert format_timestamp(0) == "00:00:00,000"
    assert format_timestamp(59.9996) == "00:01:00,000"
    assert wrap_text("short") == ["short"]
    assert font_safe("Café — naïve…") == "Cafe  -  naive..."
    very_long = "word " * 40
    lines = wrap_text(very_long)
    assert len(lines) == 2
    assert " ".join(lines) == very_long.strip()


def test_mix_audio_places_tone_at_offset(tmp_path: Path) -> None:
    tone = _tone(tmp_path / "tone.wav", 0.5, rate=16000)  # different rate: resampled
    out = mix_audio([(1.0, tone)], 3.0, tmp_path / "mix.wav", sample_rate=SR)
    data, rate = _read(out)
    assert rate == SR
    assert len(data) == 3 * SR

    def window(a: float, b: float) -> float:
        return _rms(data[int(a * SR) : int(b * SR)])

    assert window(0.0, 0.95) < 1e-3
    assert window(1.05, 1.45) == pytest.approx(0.5 / np.sqrt(2), rel=0.1)
    assert window(1.55, 3.0) < 1e-3
    # The tone's frequency survives resampling: zero crossings of 440 Hz over 0.4 s ~ 352.
    seg = data[int(1.05 * SR) : int(1.45 * SR)]
    crossings = int(np.sum(np.abs(np.diff(np.signbit(seg).astype(np.int8)))))
    assert abs(crossings - 352) <= 6


def test_mix_audio_bed_and_limiter(tmp_path: Path) -> None:
    loud = _tone(tmp_path / "loud.wav", 1.0, amp=0.9)
    bed = (0.5 * np.sin(2 * np.pi * 110 * np.arange(SR // 2) / SR)).astype(np.float32)  # 0.5 s: must loop
    out = mix_audio([(0.0, loud), (0.0, loud)], 2.0, tmp_path / "mix.wav", bed=bed, bed_gain_db=-20.0)
    data, _ = _read(out)
    assert np.abs(data).max() < 1.0  # summed to ~1.8 but soft-limited, no wrap-around
    tail = data[int(1.2 * SR) : int(1.9 * SR)]  # only the looped bed here
    assert _rms(tail) == pytest.approx(0.5 * 0.1 / np.sqrt(2), rel=0.1)


def test_contact_sheet_grid(tmp_path: Path) -> None:
    items = [
        (_png(tmp_path / f"c{i}.png", (10 * i, 80, 160)), f"S{i:02d} close-up MAYA: a label long enough to wrap")
        for i in range(6)
    ]
    items.append((tmp_path / "missing.png", "S06 placeholder"))
    out = make_contact_sheet(items, tmp_path / "sheet.png", columns=3, thumb_width=120, title="Episode 1")
    with Image.open(out) as sheet:
        size = sheet.size
        first = np.asarray(sheet.convert("RGB"))
    assert size == sheet_size(7, 3, 120, title=True)
    gap = max(6, 120 // 16)
    assert size[0] == 3 * 120 + 4 * gap
    no_title = make_contact_sheet(items[:3], tmp_path / "row.png", columns=3, thumb_width=120)
    with Image.open(no_title) as one_row:
        assert one_row.size[0] == size[0]
        assert one_row.size[1] < size[1] / 2  # one row, no title vs three rows + title
    again = make_contact_sheet(items, tmp_path / "sheet2.png", columns=3, thumb_width=120, title="Episode 1")
    with Image.open(again) as sheet2:
        assert np.array_equal(first, np.asarray(sheet2.convert("RGB")))  # deterministic
    assert tuple(first[5, 5]) == (255, 255, 255)  # white background


def test_missing_image_raises(tmp_path: Path) -> None:
    wav = _tone(tmp_path / "a.wav", 1.0)
    clips = [ClipSpec(tmp_path / "nope.png", 1.0, "static")]
    with pytest.raises(AssemblyError, match="nope.png"):
        assemble_episode(clips, wav, [], tmp_path / "x.mp4", width=W, height=H)


def test_unreadable_image_and_bad_encoder_settings_raise(tmp_path: Path) -> None:
    wav = _tone(tmp_path / "a.wav", 1.0)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(AssemblyError, match="bad.png"):
        assemble_episode([ClipSpec(bad, 1.0, "static")], wav, [], tmp_path / "x.mp4", width=W, height=H)
    good = _png(tmp_path / "ok.png", (1, 2, 3))
    with pytest.raises(AssemblyError, match="ffmpeg failed"):
        assemble_episode(
            [ClipSpec(good, 1.0, "static")], wav, [], tmp_path / "y.mp4", width=W, height=H, preset="no-such-preset"
        )


def test_ffmpeg_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    import imageio_ffmpeg

    def boom() -> str:
        raise RuntimeError("No ffmpeg exe could be found")

    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", boom)
    with pytest.raises(FFmpegMissing, match="pip install"):
        video.ffmpeg_exe()
    assert issubclass(FFmpegMissing, AssemblyError)


def test_camera_moves_render_distinct_motion(tmp_path: Path) -> None:
    img = Image.new("RGB", (W, H))
    ImageDraw.Draw(img).rectangle((60, 100, 120, 220), fill=(255, 255, 255))
    img.save(tmp_path / "box.png")
    spec = ClipSpec(tmp_path / "box.png", 1.0, "")
    frames = {}
    for move in video.CAMERA_MOVES:
        renderer = video._ClipRenderer(ClipSpec(spec.image, 1.0, move), W, H)
        start, end = (
            np.asarray(renderer.frame(0.0), dtype=np.float32),
            np.asarray(renderer.frame(1.0), dtype=np.float32),
        )
        assert start.shape == (H, W, 3)
        frames[move] = (start, end)
    assert np.array_equal(*frames["static"])
    for move in video.CAMERA_MOVES[1:]:
        assert np.abs(frames[move][0] - frames[move][1]).mean() > 1.0, move
    # push-in enlarges the white box; pull-out is its reverse.
    white = {m: ((f[0] > 128).sum(), (f[1] > 128).sum()) for m, f in frames.items()}
    assert white["push-in"][1] > white["push-in"][0]
    assert white["pull-out"][1] < white["pull-out"][0]
    assert normalise_move("Slow Push In") == "push-in"
    assert normalise_move("whip-zoom-spin") == "static"
