"""ffmpeg plumbing shared by episode assembly and the video tool: the binary, probing, and raw-RGB pipes.

ffmpeg comes only from the ``imageio-ffmpeg`` package; a system ffmpeg is never used. Frames cross the process
boundary as raw rgb24 (stdin when encoding, stdout when decoding), so no intermediate image files are written.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

__all__ = [
    "AssemblyError",
    "FFmpegMissing",
    "decode_rgb",
    "encode_rgb",
    "ffmpeg_exe",
    "probe",
    "raw_input_args",
    "stderr_tail",
]


class AssemblyError(RuntimeError):
    """Episode assembly failed (bad input, or ffmpeg failed; the message carries its stderr tail)."""


class FFmpegMissing(AssemblyError):
    """The bundled ffmpeg binary could not be found."""


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


def stderr_tail(text: str, lines: int = 15) -> str:
    """The last lines of ffmpeg's stderr: where it says what went wrong."""
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
        raise AssemblyError(f"cannot probe {path}:\n{stderr_tail(info)}")
    hours, minutes, secs = duration_match.groups()
    video_match = _VIDEO_RE.search(info)
    return {
        "duration": int(hours) * 3600 + int(minutes) * 60 + float(secs),
        "width": int(video_match.group(1)) if video_match else 0,
        "height": int(video_match.group(2)) if video_match else 0,
        "has_audio": _AUDIO_RE.search(info) is not None,
    }


# --------------------------------------------------------------------------- raw RGB pipes


_FRAME_BYTES = {"rgb24": lambda w, h: w * h * 3, "yuv420p": lambda w, h: w * h + 2 * ((w // 2) * (h // 2))}


def raw_input_args(width: int, height: int, fps: float, pix_fmt: str = "rgb24") -> list[str]:
    """ffmpeg input options for raw frames of ``width``x``height`` (``pix_fmt``: rgb24 or yuv420p) on stdin."""
    if pix_fmt not in _FRAME_BYTES:
        raise ValueError(f"unsupported raw pixel format {pix_fmt!r}")
    return ["-f", "rawvideo", "-pix_fmt", pix_fmt, "-s", f"{width}x{height}", "-framerate", f"{fps:.6g}",
            "-i", "pipe:0"]  # fmt: skip


def encode_rgb(cmd: list[str], chunks: Iterable[bytes], out_path: Path) -> None:
    """Run ``cmd`` (an ffmpeg command reading raw frames from stdin) and feed it ``chunks``.

    stderr goes to a temporary file rather than a pipe: nobody reads it while frames are written, and a full
    stderr pipe would deadlock a long encode. An exception from ``chunks`` (a frame that could not be made) kills
    ffmpeg and propagates unchanged; ffmpeg failing (including a broken stdin pipe) raises AssemblyError with its
    stderr tail.
    """
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err)
        assert proc.stdin is not None
        failure: OSError | None = None
        try:
            for buf in chunks:
                try:
                    proc.stdin.write(buf)
                except OSError as exc:  # BrokenPipeError included: ffmpeg exited, its stderr says why
                    failure = exc
                    break
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            try:
                proc.stdin.close()
            except OSError:
                pass
            close = getattr(chunks, "close", None)  # stop a frame generator (and what it reads from) now
            if close is not None:
                close()
        rc = proc.wait()
        err.seek(0)
        stderr = err.read().decode("utf-8", errors="replace")
    if rc != 0 or failure is not None:
        raise AssemblyError(f"ffmpeg failed (exit {rc}) writing {out_path}:\n{stderr_tail(stderr) or failure}")


def decode_rgb(
    path: Path | str,
    width: int,
    height: int,
    *,
    fps: float | None = None,
    max_frames: int | None = None,
    pix_fmt: str = "rgb24",
) -> Iterator[np.ndarray]:
    """Frames of the video at ``path`` as (height, width, 3) uint8 arrays, scaled and centre-cropped to cover
    ``width``x``height`` (the aspect is kept, the overflow is cut, as a still is framed).

    ``pix_fmt="yuv420p"`` gives each frame as ffmpeg's planar bytes instead, a flat uint8 array (Y, then U, then
    V; ``width`` and ``height`` even): what episode assembly encodes from, converted by ffmpeg rather than numpy.

    ``fps`` resamples the clip in time (frames repeated or dropped), so a clip made at its model's rate plays at
    its real speed in an episode of another rate; ``max_frames`` stops decoding there. Frames are streamed, never
    all held: a 5 s clip at 720x1280 is over 300 MB raw. Raises AssemblyError naming the file when ffmpeg cannot
    decode it or it holds no frame. Closing the iterator early stops ffmpeg.
    """
    path = Path(path)
    if not path.is_file():
        raise AssemblyError(f"cannot decode clip {path}: file does not exist")
    filters = [] if fps is None else [f"fps={fps:.6g}"]
    filters += [f"scale={width}:{height}:force_original_aspect_ratio=increase", f"crop={width}:{height}", "setsar=1"]
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-i", str(path),
           "-an", "-sn", "-vf", ",".join(filters)]  # fmt: skip
    if max_frames is not None:
        cmd += ["-frames:v", str(max(0, max_frames))]
    if pix_fmt not in _FRAME_BYTES:
        raise ValueError(f"unsupported raw pixel format {pix_fmt!r}")
    cmd += ["-f", "rawvideo", "-pix_fmt", pix_fmt, "pipe:1"]
    size = _FRAME_BYTES[pix_fmt](width, height)
    shape = (height, width, 3) if pix_fmt == "rgb24" else (size,)
    count = 0
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
        assert proc.stdout is not None
        try:
            while True:
                buf = proc.stdout.read(size)
                if len(buf) < size:  # end of stream (a partial frame only comes with a failure, reported below)
                    break
                count += 1
                yield np.frombuffer(buf, dtype=np.uint8).reshape(shape)
            rc = proc.wait()
        finally:
            if proc.poll() is None:  # the consumer stopped early, or raised: do not leave ffmpeg running
                proc.kill()
                proc.wait()
            proc.stdout.close()
        err.seek(0)
        stderr = err.read().decode("utf-8", errors="replace")
    if rc != 0:
        raise AssemblyError(f"cannot decode clip {path} (ffmpeg exit {rc}):\n{stderr_tail(stderr)}")
    if count == 0 and max_frames != 0:
        raise AssemblyError(f"cannot decode clip {path}: it holds no video frame\n{stderr_tail(stderr)}".rstrip())
