"""Technical scorers: is the take a usable picture at all? Readable, 9:16 at the configured size, not flat, exposed,
not clipped, sharp, and not a copy of the previous shot. They look only at pixels, so they judge any backend."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from dramafactory.config import QCThresholds
from dramafactory.schemas import ScoreResult

THUMB = (36, 64)  # duplicate check: compare small greyscale thumbnails, so grain and jitter do not matter


@dataclass(frozen=True)
class Frame:
    """A decoded take: RGB pixels (H, W, 3) as uint8, and its grey levels as float32."""

    path: Path
    rgb: np.ndarray
    gray: np.ndarray

    @property
    def size(self) -> tuple[int, int]:
        return self.rgb.shape[1], self.rgb.shape[0]


class UnreadableFrame(Exception):
    pass


def load_frame(path: Path) -> Frame:
    try:
        with Image.open(path) as image:
            image.load()
            rgb = image.convert("RGB")
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise UnreadableFrame(f"the frame file {path.name} cannot be read ({exc})") from exc
    pixels = np.asarray(rgb, dtype=np.uint8)
    return Frame(path=Path(path), rgb=pixels, gray=np.asarray(rgb.convert("L"), dtype=np.float32))


def unreadable(reason: str) -> ScoreResult:
    # Nothing in an undecodable file can be judged: not a pass, and not a verdict a redraw is known to cure; a
    # person looks at it (the take goes to review with this reason).
    return ScoreResult(scorer="readable", score=0.0, threshold=1.0, passed=False, judged=False, reason=reason)


def laplacian_variance(gray: np.ndarray) -> float:
    lap = -4 * gray[1:-1, 1:-1] + gray[:-2, 1:-1] + gray[2:, 1:-1] + gray[1:-1, :-2] + gray[1:-1, 2:]
    return float(lap.var())


def score_technical(frame: Frame, width: int, height: int, limits: QCThresholds) -> list[ScoreResult]:
    w, h = frame.size
    out = [ScoreResult(scorer="aspect", score=round(w / h, 4), threshold=round(width / height, 4),
                       passed=(w, h) == (width, height),
                       reason="" if (w, h) == (width, height) else
                       f"the frame is {w}x{h}; it must be {width}x{height} (9:16 portrait)")]
    std, mean = float(frame.gray.std()), float(frame.gray.mean())
    flat = std < limits.min_contrast
    out.append(ScoreResult(scorer="not_flat", score=round(std, 2), threshold=limits.min_contrast, passed=not flat,
                           reason="the frame is one flat colour; draw the scene" if flat else ""))
    exposed = limits.min_exposure <= mean <= limits.max_exposure
    out.append(ScoreResult(scorer="exposure", score=round(mean, 2), threshold=limits.min_exposure, passed=exposed,
                           reason="" if exposed else
                           f"the frame is almost {'black' if mean < limits.min_exposure else 'white'}; fix the "
                           f"exposure"))
    clipped = float(((frame.gray <= 2) | (frame.gray >= 253)).mean())
    out.append(ScoreResult(scorer="clipping", score=round(clipped, 4), threshold=limits.max_clipped,
                           passed=clipped <= limits.max_clipped,
                           reason="" if clipped <= limits.max_clipped else
                           f"{clipped:.0%} of the frame is clipped to pure black or white"))
    grain = float(np.median(np.abs(np.diff(frame.gray, axis=1))))
    noisy = grain > limits.max_grain
    out.append(ScoreResult(scorer="noise", score=round(grain, 2), threshold=limits.max_grain, passed=not noisy,
                           reason="the frame is noise, not a picture; render the scene" if noisy else ""))
    sharp = laplacian_variance(frame.gray[::2, ::2])
    out.append(ScoreResult(scorer="sharpness", score=round(sharp, 1), threshold=limits.min_sharpness,
                           passed=sharp >= limits.min_sharpness,
                           reason="" if sharp >= limits.min_sharpness else "the frame is blurred; render it sharp"))
    return out


def _thumb(frame: Frame) -> np.ndarray:
    small = Image.fromarray(frame.gray.astype(np.uint8)).resize(THUMB, Image.Resampling.BOX)
    arr = np.asarray(small, dtype=np.float32)
    return (arr - arr.mean()) / (arr.std() + 1e-6)


def similarity(a: Frame, b: Frame) -> float:
    """Correlation of two frames' small greyscale thumbnails: 1.0 for the same picture."""
    return float((_thumb(a) * _thumb(b)).mean())


def score_duplicate(frame: Frame, previous: Frame, previous_id: str, limits: QCThresholds) -> ScoreResult:
    sim = similarity(frame, previous)
    dup = sim > limits.max_duplicate
    return ScoreResult(scorer="duplicate", score=round(sim, 4), threshold=limits.max_duplicate, passed=not dup,
                       reason=f"the frame repeats shot {previous_id}; show this shot's own framing and action"
                       if dup else "")
