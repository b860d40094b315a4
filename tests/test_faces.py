"""Face detection + embeddings (tools/vision/faces.py) on real photographs that ship inside installed packages:
matplotlib's `grace_hopper.jpg` (Grace Hopper, US Navy photo, public domain) and scikit-image's `astronaut.png`
(Eileen Collins, NASA, public domain; these tests skip where scikit-image is not installed).

Measured here (dlib-bin 20.0.1, HOG detector, 2 CPU cores), each portrait pasted into a 720x1280 frame:
  same person, other crop/scale/mirror:  Collins 0.199 (1.3x, mirrored) and 0.086 (0.7x); Hopper 0.145 (0.8x,
                                         mirrored) and 0.075 (1.4x)
  the two different people:              0.653-0.689 across all those variants
  model load ~0.4 s; one detect + embed on a 720x1280 frame ~0.3-0.5 s.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image, ImageOps

pytest.importorskip("dlib", reason="dlib is not installed (pip install dlib-bin face-recognition-models)")

from dramafactory.tools.vision import faces as faces_mod  # noqa: E402
from dramafactory.tools.vision.faces import (  # noqa: E402
    MIN_EMBED_FACE_PX,
    SAME_PERSON_DISTANCE,
    Face,
    FaceEmbedder,
    FacesUnavailable,
    NotAnImage,
    NotOneFace,
    faces_available,
)

if not faces_available()[0]:
    pytest.skip(faces_available()[1], allow_module_level=True)

W, H = 720, 1280  # a vertical micro-drama frame


@pytest.fixture(scope="module")
def embedder() -> FaceEmbedder:
    fe = FaceEmbedder()
    fe.load()
    return fe


@pytest.fixture(scope="module")
def hopper() -> np.ndarray:
    from dramafactory.evals.footage_set import photo

    return photo("hopper").copy()  # the labelled set's source photographs, one loader for both


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    pytest.importorskip("skimage.data", reason="scikit-image is not installed (source of the astronaut photo)")
    from dramafactory.evals.footage_set import photo

    return photo("collins").copy()


def frame(photo: np.ndarray, at: tuple[int, int] = (100, 300), scale: float = 1.0, crop=None, mirror: bool = False,
          size: tuple[int, int] = (W, H), base: np.ndarray | None = None) -> np.ndarray:
    """The photo (optionally cropped, scaled, mirrored) pasted at `at` (left, top) into a grey frame of `size`."""
    im = Image.fromarray(photo)
    if crop:
        im = im.crop(crop)
    if mirror:
        im = ImageOps.mirror(im)
    if scale != 1.0:
        im = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)
    canvas = Image.fromarray(base) if base is not None else Image.new("RGB", size, (40, 40, 40))
    canvas.paste(im, at)
    return np.asarray(canvas)


def inside(box: tuple[int, int, int, int], region: tuple[int, int, int, int]) -> bool:
    return box[0] >= region[0] and box[1] >= region[1] and box[2] <= region[2] and box[3] <= region[3]


def test_available() -> None:
    assert faces_available() == (True, "")


@pytest.mark.parametrize("who", ["hopper", "astronaut"])
def test_one_face_per_portrait_in_a_frame(embedder: FaceEmbedder, who: str, request) -> None:
    photo = request.getfixturevalue(who)
    found = embedder.detect(frame(photo))
    assert len(found) == 1
    face = found[0]
    assert isinstance(face, Face)
    assert inside(face.box, (100, 300, 100 + photo.shape[1], 300 + photo.shape[0]))
    assert face.size >= 80 and face.score > 0.5 and face.landmarks_ok
    assert face.embedding is not None and face.embedding.shape == (128,) and face.embedding.dtype == np.float32


def test_same_person_other_crop_scale_mirror(embedder: FaceEmbedder, hopper: np.ndarray, astronaut: np.ndarray) -> None:
    for photo, variants in (
        (hopper, [dict(at=(150, 600), scale=0.8, crop=(100, 50, 450, 420), mirror=True),
                  dict(at=(0, 200), scale=1.4, crop=(150, 100, 400, 380))]),
        (astronaut, [dict(at=(20, 500), scale=1.3, crop=(100, 0, 400, 300), mirror=True),
                     dict(at=(300, 100), scale=0.7, crop=(120, 20, 330, 240))]),
    ):
        reference = embedder.embed_one(photo)  # the bare photo, as a reference sheet would give it
        for variant in variants:
            (face,) = embedder.detect(frame(photo, **variant))
            assert FaceEmbedder.distance(reference, face) < SAME_PERSON_DISTANCE, variant


def test_different_people(embedder: FaceEmbedder, hopper: np.ndarray, astronaut: np.ndarray) -> None:
    (a,) = embedder.detect(frame(hopper))
    (b,) = embedder.detect(frame(astronaut, at=(40, 500), scale=1.2, mirror=True))
    assert FaceEmbedder.distance(a, b) > SAME_PERSON_DISTANCE  # measured 0.65-0.69
    assert FaceEmbedder.distance(a.embedding, a.embedding) == 0.0
    assert a == Face(a.box, a.score, None, a.landmarks_ok) and len({a, b}) == 2  # comparable/hashable, embedding aside


def test_no_person_no_face(embedder: FaceEmbedder) -> None:
    gradient = np.broadcast_to(np.linspace(0, 255, W, dtype=np.uint8)[None, :, None], (H, W, 3)).copy()
    flat = np.full((H, W, 3), 128, np.uint8)
    assert embedder.detect(gradient) == []
    assert embedder.detect(flat) == []
    with pytest.raises(NotOneFace, match="no face found in the reference image"):
        embedder.embed_one(flat)


def test_no_person_in_photographs(embedder: FaceEmbedder) -> None:
    data = pytest.importorskip("skimage.data")
    assert embedder.detect(frame(data.coffee(), at=(0, 400))) == []
    assert embedder.detect(frame(data.rocket(), at=(0, 400))) == []


def test_two_faces(embedder: FaceEmbedder, hopper: np.ndarray, astronaut: np.ndarray) -> None:
    both = frame(astronaut, at=(50, 100), crop=(100, 0, 350, 250))
    both = frame(hopper, at=(200, 700), crop=(120, 80, 430, 380), base=both)
    found = embedder.detect(both)
    assert len(found) == 2
    upper, lower = sorted(found, key=lambda face: face.box[1])
    assert inside(upper.box, (50, 100, 300, 350)) and inside(lower.box, (200, 700, 510, 1000))
    assert FaceEmbedder.distance(upper, embedder.embed_one(astronaut)) < SAME_PERSON_DISTANCE
    assert FaceEmbedder.distance(lower, embedder.embed_one(hopper)) < SAME_PERSON_DISTANCE
    with pytest.raises(NotOneFace, match="2 faces in the reference image"):
        embedder.embed_one(both)


def test_face_below_minimum_is_not_embedded(embedder: FaceEmbedder, hopper: np.ndarray) -> None:
    # Hopper's face is ~187 px wide in the photo: scaled to ~22 px and ~14 px (found as 27 and 19 px boxes)
    unembedded = 0
    for scale in (22 / 187, 14 / 187):
        tiny = frame(hopper, at=(150, 150), scale=scale, size=(480, 480))
        assert embedder.detect(tiny, upsample=1) == []  # HOG with one upsampling finds faces from ~40 px
        for face in embedder.detect(tiny, upsample=2):
            assert face.size < MIN_EMBED_FACE_PX and face.embedding is None
            unembedded += 1
    assert unembedded >= 1  # the ~22 px face is found with upsample=2, and left unembedded
    with pytest.raises(NotOneFace, match="too small to embed"):
        embedder.embed_one(frame(hopper, at=(150, 150), scale=22 / 187, size=(480, 480)), upsample=2)
    assert embedder.detect(np.zeros((9, 9, 3), np.uint8)) == []


def test_huge_frame_boxes_map_back(embedder: FaceEmbedder, hopper: np.ndarray) -> None:
    big = frame(hopper, at=(2000, 900), scale=2.0, size=(3840, 2160))  # searched at half size
    (face,) = embedder.detect(big)
    assert inside(face.box, (2000, 900, 2000 + 2 * hopper.shape[1], 900 + 2 * hopper.shape[0]))
    assert face.size > 300
    assert FaceEmbedder.distance(face, embedder.embed_one(hopper)) < SAME_PERSON_DISTANCE


def test_grey_rgba_and_single_channel(embedder: FaceEmbedder, hopper: np.ndarray) -> None:
    grey = np.asarray(Image.fromarray(hopper).convert("L"))
    rgba = np.asarray(Image.fromarray(hopper).convert("RGBA"))
    reference = embedder.embed_one(hopper)
    for image in (grey, grey[:, :, None], rgba, hopper[:, ::-1]):  # the last: a non-contiguous view
        face = embedder.embed_one(image)
        assert FaceEmbedder.distance(face, reference) < SAME_PERSON_DISTANCE


@pytest.mark.parametrize("bad", [
    np.zeros((64, 64, 3), np.float32),
    np.zeros((64, 64, 2), np.uint8),
    np.zeros((64,), np.uint8),
    np.zeros((2, 64, 64, 3), np.uint8),
    np.zeros((4, 4, 3), np.uint8),
    [[0, 1], [2, 3]],
    "frame.png",
])
def test_not_an_image(embedder: FaceEmbedder, bad) -> None:
    with pytest.raises(NotAnImage, match="image"):
        embedder.detect(bad)


def test_bad_arguments(embedder: FaceEmbedder) -> None:
    with pytest.raises(ValueError, match="upsample"):
        embedder.detect(np.zeros((64, 64, 3), np.uint8), upsample=-1)
    with pytest.raises(ValueError, match="detector"):
        FaceEmbedder(detector="mtcnn")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="without an embedding"):
        FaceEmbedder.distance(Face((0, 0, 10, 10), 1.0, None, True), np.zeros(128, np.float32))


def test_concurrent_detects_agree(embedder: FaceEmbedder, hopper: np.ndarray) -> None:
    image = frame(hopper, size=(720, 720))
    results: list[list[Face]] = []

    def work() -> None:
        results.append(embedder.detect(image))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 3
    assert all(len(r) == 1 and r[0].box == results[0][0].box for r in results)
    assert all(np.array_equal(r[0].embedding, results[0][0].embedding) for r in results)


def test_cnn_detector_small_image(embedder: FaceEmbedder, hopper: np.ndarray) -> None:
    # opt-in: ~0.8 s on a 256x256 image without upsampling on 2 CPU cores (6 s for an empty 720x1280 frame)
    small = np.asarray(Image.fromarray(hopper).resize((213, 250)))
    (face,) = FaceEmbedder(detector="cnn").detect(small, upsample=0)
    assert face.landmarks_ok and face.embedding is not None
    assert FaceEmbedder.distance(face, embedder.embed_one(hopper)) < SAME_PERSON_DISTANCE


def test_missing_models_name_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    real = faces_mod.importlib.util.find_spec
    monkeypatch.setattr(faces_mod.importlib.util, "find_spec",
                        lambda name, *a: None if name == "face_recognition_models" else real(name, *a))
    ok, why = faces_available()
    assert not ok and "pip install" in why and "face-recognition-models" in why
    with pytest.raises(FacesUnavailable, match="pip install"):
        FaceEmbedder().load()
