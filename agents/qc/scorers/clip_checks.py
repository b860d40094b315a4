"""Clip checks: is an animated shot a usable clip? It decodes, it covers its shot, it neither goes black, freezes
nor flickers, it starts from the accepted keyframe, and (given a face embedder) the people in it stay who they were.

They look only at the clip's pixels, so they judge any video backend. The pixel checks stream every frame decoded
small (SMALL, 90x160: a few kB a frame, so long clips cost no memory and no full-size decoding); only the first and
the last frame are decoded at the clip's own size, for the face check.

Every threshold below was measured on clips written by tools.video.encode.write_clip (H.264, crf 17) from two
photographs (matplotlib's Grace Hopper, scikit-image's astronaut) panned and zoomed a little per frame, and from the
broken variants of tests/test_clip_checks.py; the measured values are quoted next to each field.
"""

from __future__ import annotations

import math
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from dramafactory.schemas import ScoreResult
from dramafactory.tools.assembly.ffmpeg import AssemblyError, ffmpeg_exe, probe, stderr_tail
from dramafactory.tools.video.encode import read_clip
from dramafactory.tools.vision.faces import SAME_PERSON_DISTANCE, Face, FaceEmbedder, FacesUnavailable

__all__ = ["SMALL", "THUMB", "ClipLimits", "score_clip"]

SMALL = (90, 160)  # (width, height) every frame is decoded at for the pixel checks: 9:16, as the episode
THUMB = (45, 80)  # first frame vs keyframe: greyscale thumbnails (half of SMALL), so grain and VAE blur do not count
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # Rec.601, as PIL's "L"
_FLAT_STD = 2.0  # a thumbnail with less spread than this (grey levels) has no pattern to correlate
_FLAT_MEAN_DIFF = 10.0  # ... then the first frame must be flat too, within this many levels of the keyframe's mean
_FPS_RE = re.compile(r"Video:[^\n]*?,\s*(\d+(?:\.\d+)?)\s*fps")
_TBR_RE = re.compile(r"Video:[^\n]*?,\s*(\d+(?:\.\d+)?)\s*tbr")


@dataclass(frozen=True)
class ClipLimits:
    """The thresholds of the clip checks. Grey levels are 0-255 luma of the frames decoded at SMALL."""

    # clip_length: assembly holds the clip's last frame for the rest of a shot the clip does not cover. A held
    # still at the end of a line reads as a beat (a reaction held) up to about a second; longer, the picture
    # visibly stops while the voice goes on. A clip fails when the hold is longer than max_held_s, or (short
    # shots) than max_held_fraction of the shot: a 1.5 s shot holding 0.7 s is frozen for half its length.
    # frame_count() rounds a request up, so an uncapped backend holds nothing; a model cap does (Wan 81 frames at
    # 16 fps: 5.06 s), and a 7 s shot then holds 1.9 s and fails: split the shot or make a longer clip.
    max_held_s: float = 1.0
    max_held_fraction: float = 0.4
    # clip_black: a frame is black when its mean luma is below black_luma; a run of black frames lasting
    # black_s or more fails (0.25 s: 4 frames at 16 fps, 6 at 24: a visible blink to black, not one dark frame).
    # Measured: black frames decode at mean 0.0; the two photographs at 77 and 115, darkened to a night scene
    # (x0.2) 15 and 23, to near-black (x0.1) 7 and 11. An accepted keyframe is at least QCThresholds.min_exposure
    # (18) bright, so 10 fails only frames far darker than any keyframe the clip was made from.
    black_luma: float = 10.0
    black_s: float = 0.25
    # clip_frozen: neighbouring frames whose mean absolute difference is below frozen_mad stand still; a still
    # run lasting frozen_s or more, or the whole clip, fails. Measured: a repeated frame differs from itself by
    # 0.002-0.019 after H.264 (crf 17-35); the slowest motion tried (no pan, 0.05% zoom per frame) by 0.26 at the
    # least, a 0.1 px per frame pan by 0.41, the test's pan (1 px and 0.3% zoom per frame) by 5.1. 0.07 is about
    # the geometric middle of 0.019 and 0.26 (3.7x from each). Black frames are left to clip_black, not counted.
    frozen_mad: float = 0.07
    frozen_s: float = 0.5
    # clip_flicker: a reversal is a frame whose mean luma jumps by more than flicker_jump levels from its
    # predecessor and back (the other sign, also more than flicker_jump) to its successor; more than
    # flicker_per_s reversals within any one second fail. Measured: good pans and zooms change the mean by at
    # most 0.8 levels a frame; a one-second crossfade from Hopper to the astronaut by up to 2.9 a frame, one way
    # (no reversal); alternating +-12% exposure (the test) jumps 18-20 levels every frame, 15 reversals in a
    # second at 16 fps. 5 levels is 1.7x the crossfade's steepest step and a quarter of the flicker's. One
    # lightning flash is one reversal, a double strike three: four a second allows those.
    flicker_jump: float = 5.0
    flicker_per_s: int = 4
    # clip_starts_from_keyframe: the correlation of the first frame's and the keyframe's greyscale thumbnails
    # (THUMB, each normalised to zero mean and unit spread; 1.0 = the same picture) must reach this. Measured:
    # a 720x1280 keyframe vs its 288x512 clip's first frame 0.9999, vs a 480x832 clip's (another aspect, cropped
    # differently) 0.985-0.990, vs itself blurred (radius 8) 0.987; vs the test pan's frames 4 and 8 (0.25 s,
    # 0.5 s in) 0.91-0.93 and 0.79-0.81; Hopper vs the astronaut 0.02. 0.8 passes a first frame the model
    # softened or reframed a little and fails another picture, or a clip that starts half a second of fast
    # motion away from its keyframe.
    min_start_similarity: float = 0.8
    # clip_identity_drift: a face in the first frame and its match in the last frame further apart than this
    # (dlib embedding distance) are not the same person. dlib's convention; measured: each photograph's face
    # after 2 s of the test pan 0.07-0.12 from where it started, the same frame decoded twice 0.13 (the detector's
    # box jitters by a few pixels, and the embedding with it), Hopper vs the astronaut 0.69.
    identity_distance: float = SAME_PERSON_DISTANCE


@dataclass(frozen=True)
class _Scan:
    """What the pixel checks need from a clip, gathered in one small-size pass."""

    frames: int
    means: np.ndarray  # (frames,) mean luma per frame
    mads: np.ndarray  # (frames - 1,) mean absolute luma difference of each frame and the next
    first: np.ndarray  # the first frame's luma at SMALL, (160, 90) float32


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float32) @ _LUMA


def _scan(clip: Path) -> _Scan:
    means: list[float] = []
    mads: list[float] = []
    first: np.ndarray | None = None
    previous: np.ndarray | None = None
    for rgb in read_clip(clip, *SMALL):
        grey = _luma(rgb)
        means.append(float(grey.mean()))
        if previous is None:
            first = grey
        else:
            mads.append(float(np.abs(grey - previous).mean()))
        previous = grey
    assert first is not None  # read_clip raises for a clip without frames
    return _Scan(frames=len(means), means=np.array(means), mads=np.array(mads), first=first)


def _native_fps(clip: Path) -> float | None:
    """The clip's frame rate as its video stream declares it (fps, else tbr), or None."""
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(clip)], capture_output=True,
                          text=True, errors="replace")
    for pattern in (_FPS_RE, _TBR_RE):
        match = pattern.search(proc.stderr)
        if match and float(match.group(1)) > 0:
            return float(match.group(1))
    return None


def _frame_at(clip: Path, index: int, width: int, height: int) -> np.ndarray:
    """Frame ``index`` of the clip at width x height. ffmpeg decodes up to it but pipes out that frame only."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-i", str(clip), "-an", "-sn",
           "-vf", f"select=eq(n\\,{index}),scale={width}:{height},setsar=1", "-frames:v", "1",
           "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True)
    size = width * height * 3
    if proc.returncode != 0 or len(proc.stdout) < size:
        tail = stderr_tail(proc.stderr.decode("utf-8", errors="replace"))
        raise AssemblyError(f"cannot decode frame {index} of {clip} (ffmpeg exit {proc.returncode}) {tail}".strip())
    return np.frombuffer(proc.stdout[:size], dtype=np.uint8).reshape(height, width, 3)


def _longest_run(mask: np.ndarray) -> tuple[int, int]:
    """Length and start index of the longest run of True in ``mask`` ((0, 0) when there is none)."""
    best, best_start, run, start = 0, 0, 0, 0
    for i, flag in enumerate(mask):
        if flag:
            if run == 0:
                start = i
            run += 1
            if run > best:
                best, best_start = run, start
        else:
            run = 0
    return best, best_start


def _frames_for(seconds: float, fps: float) -> int:
    """The number of frames (at least 1) that lasts ``seconds``; the 1e-6 keeps 0.25 s * 16 fps at 4."""
    return max(1, math.ceil(seconds * fps - 1e-6))


def _one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _unjudged(scorer: str, threshold: float, reason: str) -> ScoreResult:
    return ScoreResult(scorer=scorer, score=0.0, threshold=threshold, passed=False, judged=False, reason=reason)


# --------------------------------------------------------------------------- the checks


def _length(frames: int, fps: float, target: float, limits: ClipLimits) -> ScoreResult:
    seconds = frames / fps
    if not target > 0:
        return _unjudged("clip_length", limits.max_held_s,
                         f"the shot has no length to cover (target {target} s); time the shot before animating it")
    held = max(0.0, target - seconds)
    allowed = min(limits.max_held_s, limits.max_held_fraction * target)
    ok = held <= allowed + 1e-9
    return ScoreResult(
        scorer="clip_length", score=round(held, 3), threshold=round(allowed, 3), passed=ok,
        reason="" if ok else
        f"the clip lasts {seconds:.2f} s ({frames} frames at {fps:g} fps) but its shot lasts {target:.2f} s: "
        f"assembly would hold its last frame for {held:.2f} s ({held / target:.0%} of the shot; at most "
        f"{allowed:.2f} s reads as a held beat, not a freeze); split the shot or shorten its line, or animate more "
        f"frames")


def _black(scan: _Scan, fps: float, limits: ClipLimits) -> tuple[ScoreResult, np.ndarray]:
    black = scan.means < limits.black_luma
    run, start = _longest_run(black)
    need = _frames_for(limits.black_s, fps)
    ok = run < need
    if ok:
        reason = ""
    elif run == scan.frames:
        reason = "the clip is black from start to end; animate the keyframe again"
    else:
        reason = (f"the clip goes black for {run / fps:.2f} s (frames {start}-{start + run - 1}, from "
                  f"{start / fps:.2f} s; mean brightness below {limits.black_luma:g} of 255); animate it again "
                  f"with another seed")
    return ScoreResult(scorer="clip_black", score=round(run / fps, 3), threshold=limits.black_s, passed=ok,
                       reason=reason), black


def _frozen(scan: _Scan, fps: float, black: np.ndarray, limits: ClipLimits) -> ScoreResult:
    if scan.frames < 2:
        return ScoreResult(scorer="clip_frozen", score=round(1 / fps, 3), threshold=limits.frozen_s, passed=False,
                           reason="the clip is a single frame, a still: animate the keyframe into a moving clip")
    still = (scan.mads < limits.frozen_mad) & ~(black[:-1] | black[1:])  # a black stretch is clip_black's finding
    run, start = _longest_run(still)
    seconds = run / fps
    whole = run == scan.frames - 1
    ok = run < _frames_for(limits.frozen_s, fps) and not whole
    if ok:
        reason = ""
    elif whole:
        reason = ("the clip is frozen: every frame is the same picture; animate it again and say in the motion "
                  "prompt what moves (the action, the camera move)")
    else:
        reason = (f"the clip is frozen for {seconds:.2f} s (frames {start}-{start + run}, from {start / fps:.2f} s, "
                  f"the picture does not change); animate it again and say in the motion prompt what moves")
    return ScoreResult(scorer="clip_frozen", score=round(seconds, 3), threshold=limits.frozen_s, passed=ok,
                       reason=reason)


def _flicker(scan: _Scan, fps: float, limits: ClipLimits) -> ScoreResult:
    steps = np.diff(scan.means)
    big = np.abs(steps) > limits.flicker_jump
    # reversal at frame i + 1: a big jump into it and a big jump of the other sign out of it
    reversals = big[:-1] & big[1:] & (np.sign(steps[:-1]) != np.sign(steps[1:]))
    window = max(2, round(fps))  # one second of frames
    if reversals.size == 0:
        worst, at = 0, 0
    else:
        counts = np.convolve(reversals.astype(int), np.ones(min(window, reversals.size), dtype=int), mode="valid")
        at = int(np.argmax(counts))
        worst = int(counts[at])
    ok = worst <= limits.flicker_per_s
    return ScoreResult(
        scorer="clip_flicker", score=float(worst), threshold=float(limits.flicker_per_s), passed=ok,
        reason="" if ok else
        f"the clip flickers: its brightness jumps back and forth by more than {limits.flicker_jump:g} levels "
        f"{worst} times within one second (from {(at + 1) / fps:.2f} s, largest jump "
        f"{float(np.abs(steps).max()):.0f} of 255); animate it again with another seed")


def _thumb(grey: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(grey.astype(np.float32)).resize(THUMB, Image.Resampling.BOX))


def _starts_from_keyframe(scan: _Scan, keyframe: Path | None, limits: ClipLimits) -> ScoreResult:
    scorer, threshold = "clip_starts_from_keyframe", limits.min_start_similarity
    if keyframe is None:
        return _unjudged(scorer, threshold, "no keyframe was given to compare the clip's first frame with")
    try:
        with Image.open(keyframe) as image:
            image.load()
            # cover SMALL and crop the overflow at the centre, as read_clip frames the clip
            small = ImageOps.fit(image.convert("RGB"), SMALL, Image.Resampling.BICUBIC)
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        return _unjudged(scorer, threshold, f"the keyframe {Path(keyframe).name} cannot be read ({_one_line(exc)})")
    a, b = _thumb(_luma(np.asarray(small))), _thumb(scan.first)
    if a.std() < _FLAT_STD:
        ok = b.std() < _FLAT_STD and abs(float(a.mean() - b.mean())) <= _FLAT_MEAN_DIFF
        sim = 1.0 if ok else 0.0
    else:
        sim = float((((a - a.mean()) / a.std()) * ((b - b.mean()) / (b.std() + 1e-6))).mean())
        ok = sim >= threshold
    return ScoreResult(scorer=scorer, score=round(sim, 4), threshold=threshold, passed=ok,
                       reason="" if ok else
                       f"the clip does not start from its keyframe (first-frame similarity {sim:.2f}, needs "
                       f"{threshold:g}): animate from the accepted keyframe, as the clip's first frame")


def _match(first: list[Face], last: list[Face]) -> list[tuple[float, Face, Face]]:
    """Pairs of first- and last-frame faces, nearest embeddings first, each face in one pair at most."""
    pairs = sorted(((FaceEmbedder.distance(a, b), i, j) for i, a in enumerate(first) for j, b in enumerate(last)
                    if a.embedding is not None and b.embedding is not None), key=lambda p: p[0])
    used_a: set[int] = set()
    used_b: set[int] = set()
    out = []
    for dist, i, j in pairs:
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            out.append((dist, first[i], last[j]))
    return out


def _people(n: int) -> str:
    return f"{n} face{'' if n == 1 else 's'}"


def _identity(clip: Path, frames: int, width: int, height: int, faces: FaceEmbedder, expected: int | None,
              limits: ClipLimits) -> ScoreResult:
    scorer, threshold = "clip_identity_drift", limits.identity_distance
    try:
        first_rgb = next(iter(read_clip(clip, width, height, max_frames=1)))
        last_rgb = first_rgb if frames == 1 else _frame_at(clip, frames - 1, width, height)
        first, last = faces.detect(first_rgb), faces.detect(last_rgb)
    except FacesUnavailable as exc:
        return _unjudged(scorer, threshold, f"faces cannot be compared here: {exc}")
    except (AssemblyError, OSError, RuntimeError, ValueError) as exc:  # dlib raises RuntimeError
        return _unjudged(scorer, threshold, f"the face check failed: {_one_line(exc)}")
    counts = f"the clip starts with {_people(len(first))} and ends with {_people(len(last))}"
    if expected is not None:
        counts += f" (the shot has {expected} {'person' if expected == 1 else 'people'})"
    # the clip changed the count away from the shot's: someone appeared, vanished, or turned away
    count_off = expected is not None and len(last) != expected and len(last) != len(first)
    if not first:
        if expected == 0 and not last:
            return ScoreResult(scorer=scorer, score=0.0, threshold=threshold, passed=True, reason="")
        if count_off:
            return ScoreResult(scorer=scorer, score=0.0, threshold=threshold, passed=False,
                               reason=f"{counts}; keep the shot's people in the clip, no one new")
        return _unjudged(scorer, threshold, f"no face in the clip's first frame, so no identity to follow ({counts})")
    if not any(face.embedding is not None for face in first):
        return _unjudged(scorer, threshold, f"the faces in the clip's first frame are too small to compare "
                                            f"({max(face.size for face in first)} px at most; {counts})")
    pairs = _match(first, last)
    if not pairs:
        if count_off:
            return ScoreResult(scorer=scorer, score=0.0, threshold=threshold, passed=False,
                               reason=f"{counts}; keep the shot's people in frame and facing the camera as in the "
                                      f"keyframe")
        return _unjudged(scorer, threshold, f"no face in the clip's last frame to compare with the first ({counts})")
    dist, a, b = max(pairs, key=lambda p: p[0])
    drift = dist > threshold
    problems = []
    if drift:
        problems.append(f"identity drift: the face at {a.box[:2]} in the first frame is {dist:.2f} from its nearest "
                        f"face in the last frame (same person below {threshold:g}), so the person changes during the "
                        f"clip")
    if count_off:
        problems.append(counts)
    ok = not problems
    return ScoreResult(scorer=scorer, score=round(dist, 4), threshold=threshold, passed=ok,
                       reason="" if ok else "; ".join(problems) + "; animate it again with another seed or less "
                                                                   "motion, keeping the keyframe's people")


def score_clip(clip: Path, *, keyframe: Path | None, target_seconds: float, fps: float | None = None,
               faces: FaceEmbedder | None = None, expected_people: int | None = None,
               limits: ClipLimits = ClipLimits()) -> list[ScoreResult]:
    """QC of one animated shot: clip_readable, clip_length, clip_black, clip_frozen, clip_flicker,
    clip_starts_from_keyframe and, with ``faces`` (a tools.vision.faces.FaceEmbedder), clip_identity_drift.

    clip: the MP4. keyframe: the accepted keyframe it was animated from (None: that check is not judged).
    target_seconds: the shot's voiced length (ClipRequest.duration_s). fps: the clip's frame rate (ClipResult.fps);
    None reads it from the file. expected_people: how many people the shot shows (reported when the face count
    changes; 0 lets a clip without faces pass the face check). An undecodable clip gives one failed, unjudged
    clip_readable result and nothing else; this never raises for a bad file.
    """
    clip = Path(clip)
    if fps is not None and not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    try:
        info = probe(clip)
        if not info["width"] or not info["height"]:
            raise AssemblyError("it has no video stream")
        scan = _scan(clip)
        rate = fps or _native_fps(clip) or scan.frames / max(float(info["duration"]), 1e-3)
    except (AssemblyError, OSError, ValueError) as exc:
        return [_unjudged("clip_readable", 1.0, f"the clip {clip.name} cannot be decoded: {_one_line(exc)}; "
                                                f"animate the shot again")]
    out = [ScoreResult(scorer="clip_readable", score=1.0, threshold=1.0, passed=True, reason="")]
    out.append(_length(scan.frames, rate, target_seconds, limits))
    black_result, black = _black(scan, rate, limits)
    out.append(black_result)
    out.append(_frozen(scan, rate, black, limits))
    out.append(_flicker(scan, rate, limits))
    out.append(_starts_from_keyframe(scan, keyframe, limits))
    if faces is not None:
        out.append(_identity(clip, scan.frames, int(info["width"]), int(info["height"]), faces, expected_people,
                             limits))
    return out
