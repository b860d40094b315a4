"""Reading footage against reference sheets (tools/vision/footage.py) and the footage suite (evals/footage_eval.py)
on the labelled set built from package photographs (evals/footage_set.py: Collins and Hopper, public domain).

Measured here (dlib-bin 20.0.1, HOG upsample=1, 2 CPU cores): one read of a 720x1280 frame ~0.35-0.6 s; the whole
suite (40 frames, a Chroma ReferenceStore in a temp folder) 17-24 s. Same-person distances across crops 0.03-0.25,
different people 0.66-0.88 (the two cast 0.66-0.72, strangers 0.76-0.88).
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

pytest.importorskip("dlib", reason="dlib is not installed (pip install dlib-bin face-recognition-models)")
pytest.importorskip("skimage.data", reason="scikit-image is not installed (the source of most of the set)")

from dramafactory.evals import footage_set as fs  # noqa: E402
from dramafactory.evals.footage_eval import calibrate_threshold, evaluate_footage  # noqa: E402
from dramafactory.tools.vision.faces import SAME_PERSON_DISTANCE, Face, FaceEmbedder, faces_available  # noqa: E402
from dramafactory.tools.vision.footage import (  # noqa: E402
    FACE_FRACTION_CLOSE_UP,
    FACE_FRACTION_WIDE,
    FootageReading,
    SeenFace,
    framing_from_faces,
    read_footage,
)

if not faces_available()[0]:
    pytest.skip(faces_available()[1], allow_module_level=True)


@pytest.fixture(scope="module")
def embedder() -> FaceEmbedder:
    from dramafactory.tools.vision.faces import shared_embedder

    return shared_embedder()  # the product's one embedder


@pytest.fixture(scope="module")
def references(embedder: FaceEmbedder) -> dict[str, np.ndarray]:
    return {name: embedder.embed_one(fs.reference_sheet(name)).embedding for name in fs.CAST}


def item(id: str) -> fs.FootageItem:
    return next(i for i in fs.items() if i.id == id)


def test_right_person_under_another_crop(embedder: FaceEmbedder, references: dict) -> None:
    for id, who, other in (("close-c-flip", "collins", "hopper"), ("medium-h", "hopper", "collins")):
        reading = read_footage(item(id).frame(), references, embedder)
        assert isinstance(reading, FootageReading) and reading.count == 1
        (face,) = reading.faces
        assert isinstance(face, SeenFace) and face.identifiable and face.embedding is not None
        assert face.name == who and face.nearest == who and face.distance_to_nearest < SAME_PERSON_DISTANCE
        assert face.runner_up is not None and face.runner_up[0] == other and face.runner_up[1] > SAME_PERSON_DISTANCE
        assert reading.found([who]) and reading.found(who) and not reading.found([who, other])
        assert reading.missing([who, other]) == [other] and reading.unexpected([who]) == []


def test_different_person_is_unknown_or_named_wrong_with_its_distance(embedder: FaceEmbedder,
                                                                      references: dict) -> None:
    # an uncast stranger: no sheet within the threshold, the nearest is still reported
    (face,) = read_footage(item("stranger-1").frame(), references, embedder).faces
    assert face.name is None and face.unknown and face.nearest in fs.CAST
    assert face.distance_to_nearest > SAME_PERSON_DISTANCE  # measured 0.79
    # Hopper against Collins' sheet only: unknown at dlib's threshold ...
    frame = item("medium-h").frame()
    only_collins = {"collins": references["collins"]}
    reading = read_footage(frame, only_collins, embedder)
    (face,) = reading.faces
    assert face.name is None and face.nearest == "collins" and face.distance_to_nearest > SAME_PERSON_DISTANCE
    assert face.runner_up is None and reading.unexpected(["collins"]) == [face]
    # ... and named wrong under a loose threshold, with the distance that shows how far off it is
    (loose,) = read_footage(frame, only_collins, embedder, threshold=0.8).faces
    assert loose.name == "collins" and loose.distance_to_nearest == pytest.approx(face.distance_to_nearest)
    assert read_footage(frame, only_collins, embedder, threshold=0.8).threshold == 0.8


def test_no_person_count_zero(embedder: FaceEmbedder, references: dict) -> None:
    for id in ("empty-coffee", "empty-chelsea"):
        reading = read_footage(item(id).frame(), references, embedder)
        assert reading.count == 0 and reading.faces == [] and reading.names == []
        assert reading.framing is None and "no face" in reading.framing_basis


def test_two_people_both_named(embedder: FaceEmbedder, references: dict) -> None:
    reading = read_footage(item("two-shot").frame(), references, embedder)
    assert reading.count == 2
    assert reading.names == ["collins", "hopper"]  # left to right, as placed
    assert reading.faces[0].box[0] < reading.faces[1].box[0]
    assert reading.found(fs.CAST) and reading.missing(fs.CAST) == [] and reading.duplicates == []
    assert reading.framing == "two-shot"
    json.dumps(reading.to_dict())  # plain types


def test_framing_close_up_and_wide(embedder: FaceEmbedder, references: dict) -> None:
    close = read_footage(item("close-c").frame(), references, embedder)  # the photo cropped tight around the face
    assert close.framing == "close-up" and "largest face" in close.framing_basis
    wide = read_footage(item("wide-h").frame(), references, embedder)  # a small figure, face ~0.04 of the height
    assert wide.framing == "wide" and wide.names == ["hopper"]


def test_reference_store_agrees_with_dict(embedder: FaceEmbedder, references: dict, tmp_path) -> None:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    from dramafactory.memory.references import ReferenceStore

    store = ReferenceStore(chromadb.PersistentClient(path=str(tmp_path),
                                                     settings=ChromaSettings(anonymized_telemetry=False)))
    for name, embedding in references.items():
        store.add(fs.SERIES, name, f"references/{name}.png", embedding, model="dlib")
    store.add("another-series", "collins-lookalike", "x.png", references["collins"], model="dlib")
    frame = item("two-shot-swap").frame()
    by_store = read_footage(frame, store, embedder, series=fs.SERIES)
    by_dict = read_footage(frame, references, embedder)
    assert by_store.names == by_dict.names == ["hopper", "collins"]
    for a, b in zip(by_store.faces, by_dict.faces, strict=True):
        assert a.distance_to_nearest == pytest.approx(b.distance_to_nearest, abs=1e-4)
    with pytest.raises(ValueError, match="series"):
        read_footage(frame, store, embedder)
    with pytest.raises(TypeError, match="references"):
        read_footage(frame, [references["collins"]], embedder)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="threshold"):
        read_footage(frame, references, embedder, threshold=0)


def test_framing_from_faces_rules() -> None:
    def face(height: int, left: int = 0) -> Face:
        return Face((left, 0, left + height, height), 1.0, None, True)

    h = 1280
    assert framing_from_faces([face(round(FACE_FRACTION_CLOSE_UP * h) + 1)], h)[0] == "close-up"
    assert framing_from_faces([face(round(FACE_FRACTION_CLOSE_UP * h) - 2)], h)[0] == "medium"
    assert framing_from_faces([face(round(FACE_FRACTION_WIDE * h) + 1)], h)[0] == "medium"
    assert framing_from_faces([face(round(FACE_FRACTION_WIDE * h) - 2)], h)[0] == "wide"
    assert framing_from_faces([face(200), face(180, 400)], h)[0] == "two-shot"
    framing, basis = framing_from_faces([face(200), face(80, 400)], h)  # one near, one far: not a two-shot
    assert framing == "medium" and "not a two-shot" in basis
    assert framing_from_faces([face(60), face(55, 400)], h)[0] == "wide"  # two small figures: a wide shot
    framing, basis = framing_from_faces([face(200), face(190, 250), face(180, 500)], h)
    assert framing == "medium" and "3 faces" in basis
    assert framing_from_faces([], h)[0] is None
    assert "over-shoulder" in framing_from_faces([face(200)], h)[1]  # says what it does not judge
    with pytest.raises(ValueError, match="frame_height"):
        framing_from_faces([face(10)], 0)


def test_the_set_is_deterministic_and_labelled() -> None:
    all_items = fs.items()
    assert len(all_items) == 40 and len({i.id for i in all_items}) == 40
    first = all_items[0].frame()
    assert first.shape == (fs.H, fs.W, 3) and first.dtype == np.uint8
    assert np.array_equal(first, all_items[0].frame())
    assert {i.framing for i in all_items} == {None, *fs.FRAMINGS}
    assert sum(not i.faces for i in all_items) == 7  # frames without a person
    assert item("swap-h-on-c").shows == ("hopper",) and item("swap-h-on-c").expected == ("collins",)
    sheet = fs.reference_sheet("collins")
    assert sheet.shape == (512, 512, 3)


def test_calibrate_threshold() -> None:
    separable = calibrate_threshold([0.1, 0.3], [0.7, 0.9], 0.6)
    assert separable["separable"] and separable["best"] == pytest.approx(0.5) and separable["margin"] == 0.2
    assert separable["margin_different_in_use"] == pytest.approx(0.1)
    overlapping = calibrate_threshold([0.1, 0.65], [0.6, 0.9], 0.6)
    assert overlapping["separable"] is False and overlapping["errors_at_best"] == 1


@pytest.fixture(scope="module")
def report(embedder: FaceEmbedder) -> dict:
    started = time.perf_counter()
    result = evaluate_footage(embedder=embedder)
    result["_wall"] = time.perf_counter() - started
    return result


def test_evaluate_footage_runs_and_reports(report: dict) -> None:
    assert report["_wall"] < 60
    json.dumps(report)
    assert report["set"]["frames"] == 40 and report["threshold"] == SAME_PERSON_DISTANCE
    checks = report["checks"]
    for name in ("identity", "wrong_person", "missing_person", "extra_person"):
        assert {"tp", "fp", "fn", "tn", "precision", "recall", "false_positives", "false_negatives"} <= set(checks[name])
        assert checks[name]["positives"] > 0
    assert {"accuracy", "per_class", "confusion", "wrong"} <= set(checks["framing"])
    assert set(checks["framing"]["per_class"]) >= {"close-up", "medium", "wide", "two-shot", "none"}
    assert 0 <= checks["count"]["accuracy"] <= 1
    assert {"same_person", "different_person"} <= set(report["distances"])
    assert {"best", "separable", "margin_same_in_use", "margin_different_in_use"} <= set(report["threshold_calibration"])
    assert {"ranges", "thresholds"} <= set(report["framing_calibration"])


def test_identity_is_exact_on_this_set(report: dict) -> None:
    identity = report["checks"]["identity"]
    assert identity["precision"] == 1.0 and identity["recall"] == 1.0, identity
    assert report["faces"]["cast_named_wrong"] == [] and report["faces"]["stranger_named"] == []
    same, different = report["distances"]["same_person"], report["distances"]["different_person"]
    assert same["max"] < SAME_PERSON_DISTANCE < different["min"]  # measured 0.25 and 0.66
