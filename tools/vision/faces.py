"""Face detection and 128-d face embeddings on any RGB frame (dlib + the CC0 models of `face-recognition-models`).

For QC on real footage: how many faces a frame shows, and whether a face is the character of a reference sheet
(`FaceEmbedder.distance(a, b) < SAME_PERSON_DISTANCE`, dlib's convention).

Install: `pip install dlib-bin face-recognition-models` (a prebuilt dlib wheel and ~125 MB of model files; nothing is
downloaded at run time). `face_recognition_models/__init__.py` imports `pkg_resources`, which fresh venvs no longer
have, so that package is never imported here: its `models/` folder is found with `importlib.util.find_spec`.

Detector: dlib's HOG frontal-face detector. The MMOD CNN detector (also shipped) finds more profile/occluded faces
but took 6 s on an empty 720x1280 frame and 15-21 s on a 512x512 portrait (upsampled once) on 2 CPU cores against
0.1-0.3 s for HOG, so it is opt-in (`FaceEmbedder(detector="cnn")`), meant for a CUDA build of dlib (`dlib-bin` is
CPU-only).
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

INSTALL_HINT = "pip install '.[gpu]'  (or: pip install dlib-bin face-recognition-models)"

# dlib's convention: two embeddings of the same person are usually closer than 0.6 (Euclidean).
SAME_PERSON_DISTANCE = 0.6

# Faces narrower than this (frame pixels) get no embedding. The ResNet embeds a 150x150 chip; measured on two
# portraits, a face shrunk to 32 px lies 0.25-0.28 from its full-size embedding, at 20 px 0.47-0.48 and at 12 px
# 0.56-0.67, i.e. below ~30 px the shrinkage alone eats most of the 0.6 same-person margin (the two different people
# were 0.70 apart), so an identity verdict on such a face would be noise.
MIN_EMBED_FACE_PX = 32

# HOG detections scoring below this are dropped. dlib's own threshold is 0.0; on scikit-image's astronaut photo the
# mission patch on the suit scores 0.12 at threshold 0, while real faces scored 0.8-1.6 (0.4-0.6 for 16-24 px faces
# found with upsample=2).
MIN_HOG_SCORE = 0.3
MIN_CNN_SCORE = 0.3

# The frame is downscaled (before dlib's upsampling) so that its long side times 2**upsample stays within this:
# a 1080x1920 frame is searched at full size with upsample=1; a 4K frame at half size (faces from ~80 px).
MAX_SEARCH_SIDE = 3840

# The HOG detector's window is 80x80 px: it finds faces of about 80 / 2**upsample px (40 px with upsample=1).
HOG_WINDOW_PX = 80

_MODEL_FILES = {
    "shape_predictor": "shape_predictor_5_face_landmarks.dat",
    "recognition": "dlib_face_recognition_resnet_model_v1.dat",
    "cnn": "mmod_human_face_detector.dat",
}

Box = tuple[int, int, int, int]


class FacesUnavailable(RuntimeError):
    """dlib or the model files of face-recognition-models are missing."""


class NotOneFace(ValueError):
    """A reference image shows no face, or several."""


class NotAnImage(ValueError):
    """The array is not an image this module reads (uint8 HxW, HxWx1, HxWx3 or HxWx4)."""


@dataclass(frozen=True)
class Face:
    box: Box  # left, top, right, bottom in frame pixels (right/bottom exclusive, clipped to the frame)
    score: float  # detector confidence (HOG: SVM margin, CNN: MMOD confidence)
    # 128-d float32; None when the face is narrower than MIN_EMBED_FACE_PX. Not compared (arrays have no ==/hash).
    embedding: np.ndarray | None = field(compare=False)
    landmarks_ok: bool  # the 5 landmarks (eye corners, nose) lie plausibly inside the box

    @property
    def size(self) -> int:
        """The face's smaller side in frame pixels."""
        left, top, right, bottom = self.box
        return min(right - left, bottom - top)


def models_dir() -> Path:
    """The installed `face_recognition_models/models` folder (without importing that package)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FacesUnavailable(f"face-recognition-models is not installed: {INSTALL_HINT}")
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    missing = [name for name in _MODEL_FILES.values() if not (folder / name).is_file()]
    if missing:
        raise FacesUnavailable(f"model files missing from {folder}: {', '.join(missing)}; reinstall: {INSTALL_HINT}")
    return folder


def _import_dlib() -> Any:
    try:
        import dlib
    except ImportError as exc:
        raise FacesUnavailable(f"dlib is not installed ({exc}): {INSTALL_HINT}") from exc
    return dlib


def faces_available() -> tuple[bool, str]:
    """Whether face detection/embedding can run here, and why not (for a backends listing). Imports dlib (~10 ms)
    and checks the model files exist; loads no model."""
    try:
        _import_dlib()
        models_dir()
    except FacesUnavailable as exc:
        return False, str(exc)
    return True, ""


def as_rgb(image: Any) -> np.ndarray:
    """A C-contiguous uint8 HxWx3 copy/view of a uint8 grayscale, RGB or RGBA array (alpha dropped)."""
    if not isinstance(image, np.ndarray):
        raise NotAnImage(f"expected a numpy uint8 image array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise NotAnImage(f"expected a uint8 image array, got dtype {image.dtype} (scale to 0-255 and cast first)")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    elif image.ndim == 3 and image.shape[2] in (3, 4):
        image = image[:, :, :3]
    else:
        raise NotAnImage(f"expected an HxW, HxWx3 or HxWx4 image array, got shape {image.shape}")
    if image.shape[0] < 8 or image.shape[1] < 8:
        raise NotAnImage(f"image of shape {image.shape} is too small to search for faces")
    return np.ascontiguousarray(image)


class _Models:
    """The loaded dlib objects and the lock that serialises calls into them."""

    def __init__(self, dlib: Any, folder: Path, cnn: bool) -> None:
        self.dlib = dlib
        self.hog = dlib.get_frontal_face_detector()
        self.shape_predictor = dlib.shape_predictor(str(folder / _MODEL_FILES["shape_predictor"]))
        self.recognition = dlib.face_recognition_model_v1(str(folder / _MODEL_FILES["recognition"]))
        self.cnn = dlib.cnn_face_detection_model_v1(str(folder / _MODEL_FILES["cnn"])) if cnn else None
        self.lock = threading.Lock()


class FaceEmbedder:
    """Finds faces and embeds them. Models load once, on first use (thread-safe); dlib calls are serialised."""

    def __init__(self, detector: Literal["hog", "cnn"] = "hog", min_score: float | None = None) -> None:
        if detector not in ("hog", "cnn"):
            raise ValueError(f"detector must be 'hog' or 'cnn', got {detector!r}")
        self.detector = detector
        self.min_score = (MIN_HOG_SCORE if detector == "hog" else MIN_CNN_SCORE) if min_score is None else min_score
        self._models: _Models | None = None
        self._load_lock = threading.Lock()

    def load(self) -> None:
        """Load the models now (otherwise the first detect does). Raises FacesUnavailable."""
        self._get_models()

    def _get_models(self) -> _Models:
        if self._models is None:
            with self._load_lock:
                if self._models is None:
                    dlib = _import_dlib()
                    self._models = _Models(dlib, models_dir(), cnn=self.detector == "cnn")
        return self._models

    def detect(self, rgb: np.ndarray, upsample: int = 1) -> list[Face]:
        """All faces in the frame, best score first, each with its embedding where it is large enough.

        upsample: dlib's pyramid upsampling; with the HOG detector faces from ~80 / 2**upsample px are found
        (40 px at 1). Large frames are first downscaled so that long side * 2**upsample <= MAX_SEARCH_SIDE.
        """
        if not isinstance(upsample, int) or not 0 <= upsample <= 3:
            raise ValueError(f"upsample must be an int from 0 to 3, got {upsample!r}")
        frame = as_rgb(rgb)
        models = self._get_models()
        height, width = frame.shape[:2]
        scale = min(1.0, MAX_SEARCH_SIDE / (max(height, width) * 2**upsample))
        search = frame if scale == 1.0 else _resize(frame, scale)
        with models.lock:
            found = self._run_detector(models, search, upsample)
            faces = []
            for (left, top, right, bottom), score in found:
                box = (max(0, int(round(left / scale))), max(0, int(round(top / scale))),
                       min(width, int(round(right / scale))), min(height, int(round(bottom / scale))))
                if box[2] - box[0] < 2 or box[3] - box[1] < 2:
                    continue
                faces.append(self._describe(models, frame, box, score))
        faces.sort(key=lambda face: face.score, reverse=True)
        return faces

    def embed_one(self, rgb: np.ndarray, upsample: int = 1) -> Face:
        """The one face of a reference image, with its embedding. Raises NotOneFace for none or several faces, or
        for a face too small to embed."""
        faces = self.detect(rgb, upsample=upsample)
        if not faces:
            raise NotOneFace("no face found in the reference image: give a frontal portrait of one person")
        if len(faces) > 1:
            raise NotOneFace(f"{len(faces)} faces in the reference image: give a portrait of one person")
        face = faces[0]
        if face.embedding is None:
            raise NotOneFace(f"the face in the reference image is {face.size} px wide, too small to embed "
                             f"(at least {MIN_EMBED_FACE_PX} px): give a larger portrait")
        return face

    @staticmethod
    def distance(a: np.ndarray | Face, b: np.ndarray | Face) -> float:
        """Euclidean distance of two embeddings (or Faces); the same person is typically < 0.6."""
        ea = a.embedding if isinstance(a, Face) else a
        eb = b.embedding if isinstance(b, Face) else b
        if ea is None or eb is None:
            raise ValueError("a face without an embedding (too small to embed) has no distance")
        return float(np.linalg.norm(np.asarray(ea, dtype=np.float64) - np.asarray(eb, dtype=np.float64)))

    def _run_detector(self, models: _Models, image: np.ndarray, upsample: int) -> list[tuple[Box, float]]:
        if self.detector == "cnn":
            assert models.cnn is not None
            return [((d.rect.left(), d.rect.top(), d.rect.right() + 1, d.rect.bottom() + 1), float(d.confidence))
                    for d in models.cnn(image, upsample) if d.confidence >= self.min_score]
        rects, scores, _ = models.hog.run(image, upsample, self.min_score)
        return [((r.left(), r.top(), r.right() + 1, r.bottom() + 1), float(s)) for r, s in zip(rects, scores, strict=True)]

    @staticmethod
    def _describe(models: _Models, frame: np.ndarray, box: Box, score: float) -> Face:
        left, top, right, bottom = box
        rect = models.dlib.rectangle(left, top, right - 1, bottom - 1)
        shape = models.shape_predictor(frame, rect)
        points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
        embedding = None
        if min(right - left, bottom - top) >= MIN_EMBED_FACE_PX:
            descriptor = models.recognition.compute_face_descriptor(frame, shape)
            embedding = np.asarray(descriptor, dtype=np.float32)
        return Face(box=box, score=score, embedding=embedding, landmarks_ok=_landmarks_plausible(points, box))


def _landmarks_plausible(points: np.ndarray, box: Box) -> bool:
    """The 5-point model gives, in order, two corners of one eye, two of the other, and the nose base. Plausible:
    all inside the box grown by 20%, outer eye corners 0.3-1.0 box widths apart, the nose below the eyes."""
    if points.shape != (5, 2):
        return False
    left, top, right, bottom = box
    width, height = right - left, bottom - top
    margin_x, margin_y = 0.2 * width, 0.2 * height
    inside = ((points[:, 0] >= left - margin_x) & (points[:, 0] <= right + margin_x)
              & (points[:, 1] >= top - margin_y) & (points[:, 1] <= bottom + margin_y))
    eye_span = abs(points[0, 0] - points[2, 0])
    eyes_y = points[:4, 1].mean()
    return bool(inside.all() and 0.3 * width <= eye_span <= 1.0 * width and points[4, 1] > eyes_y)


def _resize(frame: np.ndarray, scale: float) -> np.ndarray:
    from PIL import Image

    height, width = frame.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.ascontiguousarray(np.asarray(Image.fromarray(frame).resize(size, Image.Resampling.BILINEAR)))


_SHARED: FaceEmbedder | None = None
_SHARED_LOCK = threading.Lock()


def shared_embedder() -> FaceEmbedder:
    """The process's one face embedder: its models load once and every caller (QC of takes, sheets and clips,
    in parallel shot branches) goes through its lock."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = FaceEmbedder()
        return _SHARED
