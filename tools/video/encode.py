"""Clip files: frames a video model made, written to H.264 MP4, and clips read back as episode-sized frames.

Both go through the imageio-ffmpeg binary with raw RGB on a pipe (the plumbing is shared with episode assembly,
tools.assembly.ffmpeg), so no frame is written to disk as an image and no system ffmpeg is needed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from dramafactory.tools.assembly.ffmpeg import AssemblyError, decode_rgb, encode_rgb, ffmpeg_exe, raw_input_args

__all__ = ["read_clip", "write_clip"]

Frames = np.ndarray | Iterable[Image.Image] | Iterable[np.ndarray]


def _rgb_bytes(frame: Image.Image | np.ndarray, index: int, size: tuple[int, int] | None) -> tuple[bytes, int, int]:
    if isinstance(frame, Image.Image):
        img = frame if frame.mode == "RGB" else frame.convert("RGB")
        width, height = img.size
        data = img.tobytes()
    else:
        arr = np.asarray(frame)
        if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
            raise AssemblyError(f"frame {index} must be (H, W, 3) uint8, got {arr.shape} {arr.dtype}")
        height, width = arr.shape[:2]
        data = np.ascontiguousarray(arr).tobytes()
    if size is not None and (width, height) != size:
        raise AssemblyError(f"frame {index} is {width}x{height}, the first frame was {size[0]}x{size[1]}")
    return data, width, height


def write_clip(frames: Frames, path: Path | str, fps: float, *, crf: int = 17,
               preset: str = "veryfast") -> tuple[int, int, int]:
    """Write ``frames`` (an (N, H, W, 3) uint8 array, or PIL images / (H, W, 3) arrays in order) to an H.264 MP4
    (yuv420p, faststart) at ``fps``; returns the written clip's (width, height, frames).

    yuv420p needs even sides, and model sizes are not always even: an odd side loses its last pixel row or column
    (cropped, not padded, so no black line shows once assembly scales the clip). The default crf is high quality
    on purpose: assembly re-encodes the clip into the episode, and a second lossy pass shows on the first one's
    artefacts. Frames are streamed to ffmpeg one at a time.
    """
    if fps <= 0:
        raise AssemblyError(f"fps must be positive, got {fps}")
    path = Path(path)
    if isinstance(frames, np.ndarray) and (frames.ndim != 4 or frames.shape[0] == 0):
        raise AssemblyError(f"frames must be an (N, H, W, 3) array with N >= 1, got shape {frames.shape}")
    iterator = iter(frames)
    try:
        first = next(iterator)
    except StopIteration:
        raise AssemblyError(f"no frames to write to {path}") from None
    first_bytes, width, height = _rgb_bytes(first, 0, None)
    even_w, even_h = width - width % 2, height - height % 2
    if even_w < 2 or even_h < 2:
        raise AssemblyError(f"frames of {width}x{height} are too small for an H.264 clip")
    count = 0

    def chunks() -> Iterator[bytes]:
        nonlocal count
        yield first_bytes
        count = 1
        for index, frame in enumerate(iterator, start=1):
            yield _rgb_bytes(frame, index, (width, height))[0]
            count = index + 1

    path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *raw_input_args(width, height, fps)]
    if (even_w, even_h) != (width, height):
        cmd += ["-vf", f"crop={even_w}:{even_h}:0:0"]
    cmd += ["-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p",
            "-movflags", "+faststart", str(path)]  # fmt: skip
    encode_rgb(cmd, chunks(), path)
    return even_w, even_h, count


def read_clip(path: Path | str, width: int, height: int, *, fps: float | None = None,
              max_frames: int | None = None) -> Iterator[np.ndarray]:
    """The clip's frames as (height, width, 3) uint8 arrays, scaled and centre-cropped to cover width x height.

    ``fps`` resamples it to another frame rate (an episode's), ``max_frames`` stops early. Streams: iterate it
    (or list() it for a short clip). Raises AssemblyError naming the file when it cannot be decoded.
    """
    return decode_rgb(path, width, height, fps=fps, max_frames=max_frames)
