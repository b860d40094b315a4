"""Episode assembly: Ken Burns clips + burned-in subtitles + audio -> H.264/AAC MP4.

Frames are rendered with Pillow (one pre-scaled base image per clip, then a BILINEAR
resample of a moving crop box per frame) and streamed as raw RGB through a single ffmpeg
process, which muxes them with the episode WAV. ffmpeg comes only from the
``imageio-ffmpeg`` package; a system ffmpeg is never used.
"""

from __future__ import annotations

import logging
import queue
import re
import subprocess
import tempfile
import threading
import time
import wave
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .subtitles import Cue, SubtitleOverlay, subtitle_overlay

__all__ = [
    "CAMERA_MOVES",
    "AssemblyError",
    "AssemblyResult",
    "ClipSpec",
    "FFmpegMissing",
    "assemble_episode",
    "ffmpeg_exe",
    "mix_audio",
    "normalise_move",
    "probe",
]

log = logging.getLogger(__name__)

CAMERA_MOVES = ("static", "push-in", "pull-out", "pan-left", "pan-right", "tilt-up", "tilt-down")
ZOOM = 1.12
CROSSFADE_SECONDS = 0.25

_MOVE_ALIASES = {
    "still": "static",
    "locked-off": "static",
    "none": "static",
    "zoom-in": "push-in",
    "dolly-in": "push-in",
    "push": "push-in",
    "zoom-out": "pull-out",
    "dolly-out": "pull-out",
    "pull-back": "pull-out",
    "pull": "pull-out",
    "pan": "pan-right",
    "tilt": "tilt-up",
}


class AssemblyError(RuntimeError):
    """Episode assembly failed (bad input, or ffmpeg failed; the message carries its stderr tail)."""


class FFmpegMissing(AssemblyError):
    """The bundled ffmpeg binary could not be found."""


@dataclass(frozen=True)
class ClipSpec:
    image: Path  # the shot's still frame (PNG, any size, ideally 9:16)
    duration: float  # seconds
    camera_move: str  # one of CAMERA_MOVES


@dataclass(frozen=True)
class AssemblyResult:
    path: Path
    duration: float  # probed from the written file
    width: int
    height: int
    seconds: float  # wall time spent assembling


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary shipped by ``imageio-ffmpeg``."""
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - dependency is declared
        raise FFmpegMissing(
            "ffmpeg is unavailable: the imageio-ffmpeg package is not installed (pip install imageio-ffmpeg)"
        ) from exc
    try:
        exe = imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as exc:
        raise FFmpegMissing(
            f"ffmpeg binary not found ({exc}); reinstall it with: pip install --force-reinstall imageio-ffmpeg"
        ) from exc
    if not exe or not Path(exe).exists():
        raise FFmpegMissing(
            f"ffmpeg binary not found at {exe!r}; reinstall it with: pip install --force-reinstall imageio-ffmpeg"
        )
    return exe


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


# --------------------------------------------------------------------------- probing

_DURATION_RE = re.compile(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)")
_VIDEO_RE = re.compile(r"Stream #[^\n]*?:\s*Video:[^\n]*?,\s*(\d+)x(\d+)")
_AUDIO_RE = re.compile(r"Stream #[^\n]*?:\s*Audio:")


def probe(path: Path | str) -> dict[str, float | int | bool]:
    """Duration (s), width, height and has_audio, parsed from ``ffmpeg -hide_banner -i`` stderr."""
    path = Path(path)
    if not path.exists():
        raise AssemblyError(f"cannot probe {path}: file does not exist")
    proc = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True, errors="replace"
    )
    info = proc.stderr
    duration_match = _DURATION_RE.search(info)
    if duration_match is None:
        raise AssemblyError(f"cannot probe {path}:\n{_tail(info)}")
    hours, minutes, secs = duration_match.groups()
    video_match = _VIDEO_RE.search(info)
    return {
        "duration": int(hours) * 3600 + int(minutes) * 60 + float(secs),
        "width": int(video_match.group(1)) if video_match else 0,
        "height": int(video_match.group(2)) if video_match else 0,
        "has_audio": _AUDIO_RE.search(info) is not None,
    }


# --------------------------------------------------------------------------- audio


def _read_wav(path: Path, sample_rate: int) -> np.ndarray:
    """Mono float32 samples in [-1, 1] at ``sample_rate`` (linear resampling if needed)."""
    try:
        with wave.open(str(path), "rb") as wav:
            channels = wav.getnchannels()
            width = wav.getsampwidth()
            rate = wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except FileNotFoundError as exc:
        raise AssemblyError(f"dialogue WAV not found: {path}") from exc
    except (wave.Error, EOFError) as exc:
        raise AssemblyError(f"cannot read WAV {path}: {exc}") from exc
    if width == 2:
        data = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif width == 1:
        data = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 4:
        data = np.frombuffer(raw, dtype="<i4").astype(np.float32) / 2147483648.0
    elif width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        ints = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
        data = ints.astype(np.float32) / float(1 << 23)
    else:
        raise AssemblyError(f"unsupported WAV sample width {width} bytes in {path}")
    if channels > 1:
        data = data[: len(data) - len(data) % channels].reshape(-1, channels).mean(axis=1)
    if rate != sample_rate and len(data) > 0:
        n_out = max(1, int(round(len(data) * sample_rate / rate)))
        x_out = np.arange(n_out, dtype=np.float64) * (rate / sample_rate)
        data = np.interp(x_out, np.arange(len(data), dtype=np.float64), data).astype(np.float32)
    return data.astype(np.float32, copy=False)


def _soft_limit(signal: np.ndarray, threshold: float = 0.89) -> np.ndarray:
    """Leave samples below ``threshold`` alone; compress the rest smoothly towards 1.0 (tanh knee)."""
    mag = np.abs(signal)
    over = mag > threshold
    if not np.any(over):
        return signal
    out = signal.copy()
    head = 1.0 - threshold
    out[over] = np.sign(signal[over]) * (threshold + head * np.tanh((mag[over] - threshold) / head))
    return out


def mix_audio(
    tracks: list[tuple[float, Path]],
    total_seconds: float,
    out_wav: Path,
    sample_rate: int = 22050,
    bed: np.ndarray | None = None,
    bed_gain_db: float = -18.0,
) -> Path:
    """Mix dialogue WAVs onto a silent track of ``total_seconds`` and write 16-bit mono WAV.

    Each ``(start_seconds, wav_path)`` is placed at its start (resampled to ``sample_rate``
    if needed; anything past the end is cut). ``bed`` (float32 mono at ``sample_rate``) is
    looped/trimmed to length and added at ``bed_gain_db``. The sum is soft-limited.
    """
    if total_seconds <= 0:
        raise AssemblyError(f"total_seconds must be positive, got {total_seconds}")
    n_total = int(round(total_seconds * sample_rate))
    mix = np.zeros(n_total, dtype=np.float32)
    for start, path in tracks:
        samples = _read_wav(Path(path), sample_rate)
        offset = max(0, int(round(start * sample_rate)))
        if offset >= n_total or len(samples) == 0:
            continue
        end = min(n_total, offset + len(samples))
        mix[offset:end] += samples[: end - offset]
    if bed is not None:
        bed_arr = np.asarray(bed, dtype=np.float32).reshape(-1)
        if bed_arr.size:
            looped = np.resize(bed_arr, n_total)  # np.resize repeats the array to fill
            mix += looped * np.float32(10.0 ** (bed_gain_db / 20.0))
    mix = _soft_limit(mix)
    pcm = np.clip(np.round(mix * 32767.0), -32768, 32767).astype("<i2")
    out_wav = Path(out_wav)
    out_wav.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(out_wav), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm.tobytes())
    return out_wav


# --------------------------------------------------------------------------- frames


def normalise_move(move: str) -> str:
    """Map a free-form camera move onto CAMERA_MOVES (unknown moves fall back to static)."""
    key = re.sub(r"[\s_]+", "-", (move or "").strip().lower())
    for prefix in ("slow-", "gentle-", "subtle-", "fast-"):
        if key.startswith(prefix):
            key = key[len(prefix) :]
    key = _MOVE_ALIASES.get(key, key)
    if key not in CAMERA_MOVES:
        log.warning("unknown camera move %r: rendering it static", move)
        return "static"
    return key


def _ease(p: float) -> float:
    """Smoothstep ease in/out on [0, 1]."""
    p = min(1.0, max(0.0, p))
    return p * p * (3.0 - 2.0 * p)


def _cover_crop(img: Image.Image, aspect: float) -> tuple[float, float, float, float]:
    """Centred box of ``img`` with the target aspect (w / h) that covers the frame."""
    w, h = img.size
    if w / h > aspect:
        cw = h * aspect
        return ((w - cw) / 2.0, 0.0, (w + cw) / 2.0, float(h))
    ch = w / aspect
    return (0.0, (h - ch) / 2.0, float(w), (h + ch) / 2.0)


class _ClipRenderer:
    """Pre-scales one clip's still once, then renders any frame of its camera move."""

    def __init__(self, spec: ClipSpec, width: int, height: int) -> None:
        self.move = normalise_move(spec.camera_move)
        self.width = width
        self.height = height
        try:
            with Image.open(spec.image) as src:
                img = src.convert("RGB")
        except (FileNotFoundError, UnidentifiedImageError, OSError) as exc:
            raise AssemblyError(f"cannot read shot image {spec.image}: {exc}") from exc
        scale = 1.0 if self.move == "static" else ZOOM
        self.base_w = int(round(width * scale))
        self.base_h = int(round(height * scale))
        box = _cover_crop(img, width / height)
        self.base = img.resize((self.base_w, self.base_h), Image.Resampling.LANCZOS, box=box)
        self._static: Image.Image | None = self.base if self.move == "static" else None

    def frame(self, progress: float) -> Image.Image:
        if self._static is not None:
            return self._static
        p = _ease(progress)
        w, h, bw, bh = self.width, self.height, self.base_w, self.base_h
        if self.move in ("push-in", "pull-out"):
            z = 1.0 + (ZOOM - 1.0) * (p if self.move == "push-in" else 1.0 - p)
            cw, ch = bw / z, bh / z
            x0, y0 = (bw - cw) / 2.0, (bh - ch) / 2.0
            box = (x0, y0, x0 + cw, y0 + ch)
            return self.base.resize((w, h), Image.Resampling.BILINEAR, box=box)
        # Pans and tilts: the crop box keeps its size and slides along one axis. A sub-pixel
        # slide is a linear blend of the two neighbouring integer crops (exact 1-D bilinear),
        # several times cheaper than a resample.
        span_x, span_y = bw - w, bh - h
        if self.move in ("pan-left", "pan-right"):
            pos = span_x * (p if self.move == "pan-right" else 1.0 - p)  # pan-right: view travels left -> right
            return self._slide(pos, span_x, horizontal=True)
        pos = span_y * (p if self.move == "tilt-down" else 1.0 - p)  # tilt-down: view travels top -> bottom
        return self._slide(pos, span_y, horizontal=False)

    def _slide(self, pos: float, span: int, *, horizontal: bool) -> Image.Image:
        w, h = self.width, self.height
        pos = min(float(span), max(0.0, pos))
        i = min(int(pos), max(0, span - 1))
        frac = pos - i
        if horizontal:
            y0 = (self.base_h - h) // 2
            a = self.base.crop((i, y0, i + w, y0 + h))
            if frac < 1e-3 or span == 0:
                return a
            b = self.base.crop((i + 1, y0, i + 1 + w, y0 + h))
        else:
            x0 = (self.base_w - w) // 2
            a = self.base.crop((x0, i, x0 + w, i + h))
            if frac < 1e-3 or span == 0:
                return a
            b = self.base.crop((x0, i + 1, x0 + w, i + 1 + h))
        return Image.blend(a, b, frac)


def _frame_plan(clips: Sequence[ClipSpec], fps: int) -> list[tuple[int, int]]:
    """(first_frame, n_frames) per clip; boundaries are rounded cumulative times, so the total is exact."""
    plan: list[tuple[int, int]] = []
    t = 0.0
    first = 0
    for clip in clips:
        t += clip.duration
        last = int(round(t * fps))
        plan.append((first, max(0, last - first)))
        first = last
    return plan


def _render_frames(
    clips: Sequence[ClipSpec], cues: Sequence[Cue], width: int, height: int, fps: int
) -> Iterator[bytes]:
    """Yield raw rgb24 frames for the whole episode."""
    plan = _frame_plan(clips, fps)
    fade_frames = int(round(CROSSFADE_SECONDS * fps))
    overlays: list[tuple[float, float, SubtitleOverlay]] = []
    for cue in sorted(cues, key=lambda c: (c.start, c.end)):
        overlay = subtitle_overlay(cue.text, width, height)
        if overlay is not None and cue.end > cue.start:
            overlays.append((cue.start, cue.end, overlay))

    def overlay_at(t: float) -> int:
        found = -1
        for i, (start, end, _ov) in enumerate(overlays):
            if start <= t < end:
                found = i  # latest-starting active cue wins
        return found

    prev_last: Image.Image | None = None
    last_key: tuple[object, ...] | None = None
    last_bytes = b""
    for clip_index, (clip, (first, n_frames)) in enumerate(zip(clips, plan, strict=True)):
        renderer = _ClipRenderer(clip, width, height)
        fade = min(fade_frames, n_frames // 2) if prev_last is not None else 0
        frame_img: Image.Image | None = None
        for k in range(n_frames):
            t = (first + k) / fps
            progress = k / (n_frames - 1) if n_frames > 1 else 1.0
            cue_index = overlay_at(t)
            in_fade = k < fade
            static = renderer.move == "static"
            key = (clip_index, cue_index, k if (in_fade or not static) else -1)
            if key == last_key:
                yield last_bytes
                continue
            frame_img = renderer.frame(progress)
            if in_fade and prev_last is not None:
                frame_img = Image.blend(prev_last, frame_img, (k + 1) / (fade + 1))
            if cue_index >= 0:
                if frame_img is renderer.base:
                    frame_img = frame_img.copy()
                overlays[cue_index][2].apply(frame_img)
            last_key = key
            last_bytes = frame_img.tobytes()
            yield last_bytes
        if n_frames > 0:
            prev_last = renderer.frame(1.0)


def _threaded(gen: Iterator[bytes], depth: int = 6) -> Iterator[bytes]:
    """Run a frame generator in a worker thread so rendering overlaps the pipe writes and encoding."""
    q: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work() -> None:
        try:
            for item in gen:
                while not stop.is_set():
                    try:
                        q.put(("frame", item), timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(("done", None))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the consumer thread
            q.put(("error", exc))

    worker = threading.Thread(target=work, name="episode-frames", daemon=True)
    worker.start()
    try:
        while True:
            kind, payload = q.get()
            if kind == "frame":
                yield payload  # type: ignore[misc]
            elif kind == "error":
                raise payload  # type: ignore[misc]
            else:
                return
    finally:
        stop.set()
        worker.join(timeout=5)


def assemble_episode(
    clips: list[ClipSpec],
    audio_wav: Path,
    cues: list[Cue],
    out_mp4: Path,
    *,
    width: int = 720,
    height: int = 1280,
    fps: int = 24,
    crf: int = 23,
    preset: str = "veryfast",
    tune: str | None = None,
) -> AssemblyResult:
    """Render the clips (Ken Burns moves, 0.25 s dissolves, burned subtitles) and mux with the WAV.

    The MP4 (H.264 yuv420p + AAC 128k, faststart) lasts exactly ``sum(clip.duration)``; the
    audio is padded with silence or trimmed to match.
    """
    started = time.perf_counter()
    if not clips:
        raise AssemblyError("no clips to assemble")
    if width <= 0 or height <= 0 or width % 2 or height % 2:
        raise AssemblyError(f"frame size must be positive and even for yuv420p, got {width}x{height}")
    if fps <= 0:
        raise AssemblyError(f"fps must be positive, got {fps}")
    for clip in clips:
        if not clip.duration > 0:
            raise AssemblyError(f"clip {clip.image} has non-positive duration {clip.duration}")
        if not Path(clip.image).is_file():
            raise AssemblyError(f"shot image not found: {clip.image}")
    audio_wav = Path(audio_wav)
    if not audio_wav.is_file():
        raise AssemblyError(f"episode audio not found: {audio_wav}")
    exe = ffmpeg_exe()
    total = sum(c.duration for c in clips)
    out_mp4 = Path(out_mp4)
    out_mp4.parent.mkdir(parents=True, exist_ok=True)

    cmd = [
        exe, "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-framerate", str(fps), "-i", "pipe:0",
        "-i", str(audio_wav),
        "-map", "0:v:0", "-map", "1:a:0",
        "-c:v", "libx264", "-preset", preset, "-crf", str(crf),
    ]  # fmt: skip
    if tune:
        cmd += ["-tune", tune]
    cmd += [
        "-pix_fmt", "yuv420p", "-r", str(fps),
        "-af", "apad", "-c:a", "aac", "-b:a", "128k",
        "-t", f"{total:.3f}", "-movflags", "+faststart",
        str(out_mp4),
    ]  # fmt: skip

    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err)
        assert proc.stdin is not None
        failure: BaseException | None = None
        try:
            for buf in _threaded(_render_frames(clips, cues, width, height, fps)):
                proc.stdin.write(buf)
        except (BrokenPipeError, OSError) as exc:
            failure = exc
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            try:
                proc.stdin.close()
            except OSError:
                pass
        rc = proc.wait()
        err.seek(0)
        stderr = err.read().decode("utf-8", errors="replace")
    if rc != 0 or failure is not None:
        raise AssemblyError(f"ffmpeg failed (exit {rc}) writing {out_mp4}:\n{_tail(stderr) or failure}")
    info = probe(out_mp4)
    return AssemblyResult(
        path=out_mp4,
        duration=float(info["duration"]),
        width=int(info["width"]),
        height=int(info["height"]),
        seconds=time.perf_counter() - started,
    )
