"""Footage suite: read every frame of the labelled footage set (evals/footage_set.py) against the cast's reference
sheets, stored in a real Chroma ReferenceStore in a temporary folder, and measure each check QC makes on footage.

Checks, each with TP/FP/FN/TN counts, precision = TP / (TP + FP) and recall = TP / (TP + FN) (None when the
denominator is 0), and the ids of the frames it got wrong:

- identity, per (frame, cast member) pair over the whole cast: positive = that cast member is truly on screen;
  predicted = a face in the frame was named that cast member.
- wrong_person, per frame: positive = someone else stands in an expected person's place, i.e. at least one
  expected cast member is not on screen AND someone not expected is (a stranger, or a cast member the shot did not
  list, including a face swap: another person's face on the expected person's body). Predicted = at least one
  expected name is not found AND the reading has an unexpected face (an unknown face, or a name not expected).
  A face matched to the wrong reference sheet is counted face by face under "faces" (misnamed).
- missing_person, per (frame, expected cast member) pair: positive = that expected person is not on screen;
  predicted = no face was named them.
- extra_person, per frame: positive = someone not expected is on screen (a stranger, an unlisted cast member, a
  person the detector cannot see, like the profile); predicted = the reading has an unknown face or an unexpected
  name. Overlaps wrong_person by design: a stand-in is both an extra and (with the missing one) a wrong person.
- count, per frame: the number of faces read equals the number of people on screen.
- framing, per frame: the framing read against the framing the frame was built at (None for frames without a
  person); per class precision/recall and the confusion matrix (rows: label, columns: reading).

Also: face-level results (each detection matched to the face placed there), the distances of same-person pairs
(a cast member's face in a frame to their own sheet) and different-person pairs (to another's sheet; a stranger's
face to every sheet), the threshold that separates them best with its margins, and the framing calibration (the
detected face-height fractions per labelled framing and where the thresholds sit between them).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections import Counter

import numpy as np

from dramafactory.memory.references import ReferenceStore
from dramafactory.tools.vision import footage as footage_mod
from dramafactory.tools.vision.faces import SAME_PERSON_DISTANCE, FaceEmbedder
from dramafactory.tools.vision.footage import FootageReading, SeenFace, read_footage

from .footage_set import CAST, SERIES, FaceTruth, FootageItem, items, reference_sheet

MODEL = "dlib face_recognition_resnet_model_v1"  # as graphs/references.py records it


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


class _Tally:
    """Binary decisions of one check: counts, precision, recall, and the ids of the mistakes."""

    def __init__(self) -> None:
        self.counts = Counter()
        self.false_positives: list[str] = []
        self.false_negatives: list[str] = []

    def add(self, key: str, truth: bool, predicted: bool) -> None:
        self.counts[("t" if truth == predicted else "f") + ("p" if predicted else "n")] += 1
        if predicted and not truth:
            self.false_positives.append(key)
        elif truth and not predicted:
            self.false_negatives.append(key)

    def report(self) -> dict:
        tp, fp, fn, tn = (self.counts[k] for k in ("tp", "fp", "fn", "tn"))
        return {"tp": tp, "fp": fp, "fn": fn, "tn": tn, "positives": tp + fn, "n": tp + fp + fn + tn,
                "precision": _rate(tp, tp + fp), "recall": _rate(tp, tp + fn),
                "false_positives": self.false_positives, "false_negatives": self.false_negatives}


def _match(reading: FootageReading, truths: tuple[FaceTruth, ...]) -> list[tuple[SeenFace, FaceTruth | None]]:
    """Each detected face paired with the placed face whose (25%-grown) box holds its centre, nearest first."""
    out = []
    for face in reading.faces:
        cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
        best, best_d = None, float("inf")
        for truth in truths:
            left, top, right, bottom = truth.box
            gx, gy = 0.25 * (right - left), 0.25 * (bottom - top)
            if left - gx <= cx <= right + gx and top - gy <= cy <= bottom + gy:
                d = (cx - (left + right) / 2) ** 2 + (cy - (top + bottom) / 2) ** 2
                if d < best_d:
                    best, best_d = truth, d
        out.append((face, best))
    return out


def _stats(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    q = np.quantile(np.array(ordered), [0.05, 0.5, 0.95])
    return {"n": len(ordered), "min": round(ordered[0], 4), "p05": round(float(q[0]), 4),
            "median": round(float(q[1]), 4), "mean": round(statistics.fmean(ordered), 4),
            "p95": round(float(q[2]), 4), "max": round(ordered[-1], 4), "values": [round(v, 3) for v in ordered]}


def calibrate_threshold(same: list[float], different: list[float], in_use: float) -> dict:
    """The same-person distance threshold that separates the two distributions best, and the margins.

    Separable (max same < min different): the midpoint, with equal margins either side. Otherwise the cut among the
    midpoints of adjacent sorted values with the fewest errors (same pairs above it + different pairs at/below)."""
    if not same or not different:
        return {"separable": None, "note": "needs both same- and different-person pairs"}
    max_same, min_diff = max(same), min(different)
    out: dict = {"in_use": in_use, "max_same": round(max_same, 4), "min_different": round(min_diff, 4),
                 "margin_same_in_use": round(in_use - max_same, 4),
                 "margin_different_in_use": round(min_diff - in_use, 4),
                 "errors_in_use": sum(d > in_use for d in same) + sum(d <= in_use for d in different)}
    if max_same < min_diff:
        best = (max_same + min_diff) / 2
        out.update(separable=True, best=round(best, 4), margin=round(best - max_same, 4), errors_at_best=0)
        return out
    values = sorted(same + different)
    cuts = [(a + b) / 2 for a, b in zip(values, values[1:], strict=False)]
    scored = [(sum(d > t for d in same) + sum(d <= t for d in different), t) for t in cuts]
    errors, best = min(scored)
    out.update(separable=False, best=round(best, 4), margin=0.0, errors_at_best=errors)
    return out


def _framing_report(rows: list[tuple[str, str | None, str | None]]) -> dict:
    """rows: (id, label, reading). Per class precision/recall, accuracy and the confusion matrix."""
    classes = sorted({label or "none" for _, label, _ in rows} | {pred or "none" for _, _, pred in rows})
    confusion = {c: dict.fromkeys(classes, 0) for c in classes}
    for _, label, pred in rows:
        confusion[label or "none"][pred or "none"] += 1
    per_class = {}
    for c in classes:
        tp = confusion[c][c]
        labelled = sum(confusion[c].values())
        read = sum(confusion[r][c] for r in classes)
        per_class[c] = {"n": labelled, "correct": tp, "precision": _rate(tp, read), "recall": _rate(tp, labelled)}
    correct = sum(confusion[c][c] for c in classes)
    return {"accuracy": _rate(correct, len(rows)), "correct": correct, "n": len(rows), "per_class": per_class,
            "confusion": confusion, "wrong": [f"{i}: {label} read as {pred}" for i, label, pred in rows
                                              if label != pred]}


def _framing_calibration(fractions: dict[str, list[float]]) -> dict:
    """The detected largest-face fractions per labelled framing, and the gaps the thresholds should sit in."""
    ranges = {c: {"n": len(v), "min": round(min(v), 4), "max": round(max(v), 4), "values": sorted(round(x, 3)
              for x in v)} for c, v in fractions.items() if v}
    out: dict = {"ranges": ranges, "thresholds": {"close_up": footage_mod.FACE_FRACTION_CLOSE_UP,
                                                  "wide": footage_mod.FACE_FRACTION_WIDE,
                                                  "two_shot_min_ratio": footage_mod.TWO_SHOT_MIN_RATIO}}
    for name, low, high in (("wide", "wide", "medium"), ("close_up", "medium", "close-up")):
        if low in ranges and high in ranges:
            gap = (ranges[low]["max"], ranges[high]["min"])
            out[f"{name}_gap"] = list(gap)
            out[f"{name}_midpoint"] = round(sum(gap) / 2, 4)
            out[f"{name}_threshold_in_gap"] = gap[0] < out["thresholds"][name] <= gap[1]
    return out


def evaluate_footage(threshold: float | None = None, *, embedder: FaceEmbedder | None = None,
                     upsample: int = 1) -> dict:
    """Run read_footage over the labelled set and report the checks (see the module docstring). Plain JSON types."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    started = time.perf_counter()
    threshold = SAME_PERSON_DISTANCE if threshold is None else float(threshold)
    embedder = embedder or FaceEmbedder()
    embedder.load()
    cast = list(CAST)
    references = {name: embedder.embed_one(reference_sheet(name)).embedding for name in cast}

    checks = {name: _Tally() for name in ("identity", "wrong_person", "missing_person", "extra_person")}
    count_rows, framing_rows, item_rows = [], [], []
    faces = {"cast_named_right": 0, "cast_named_wrong": [], "cast_left_unknown": [], "stranger_named": [],
             "stranger_unknown": 0, "not_detected": [], "false_detections": [], "unidentifiable": 0}
    same: list[float] = []
    different: list[float] = []
    fractions: dict[str, list[float]] = {"close-up": [], "medium": [], "wide": [], "two-shot": []}
    two_shot_ratios: list[float] = []

    with tempfile.TemporaryDirectory(prefix="footage-eval-") as folder:
        client = chromadb.PersistentClient(path=folder, settings=ChromaSettings(anonymized_telemetry=False))
        store = ReferenceStore(client)
        for name in cast:
            store.add(SERIES, name, f"references/{name}.png", references[name], model=MODEL)
        item: FootageItem
        for item in items():
            reading = read_footage(item.frame(), store, embedder, threshold, series=SERIES, upsample=upsample)
            expected, shows = set(item.expected), set(item.shows)
            others_on_screen = any(f.who not in expected for f in item.faces)
            for name in cast:
                checks["identity"].add(f"{item.id}:{name}", name in shows, name in reading.names)
            for name in item.expected:
                checks["missing_person"].add(f"{item.id}:{name}", name not in shows, name not in reading.names)
            unexpected = reading.unexpected(item.expected)
            checks["wrong_person"].add(item.id, bool(expected - shows) and others_on_screen,
                                       bool(reading.missing(item.expected)) and bool(unexpected))
            checks["extra_person"].add(item.id, others_on_screen, bool(unexpected))
            count_rows.append((item.id, item.people, reading.count))
            framing_rows.append((item.id, item.framing, reading.framing))
            if reading.faces and item.framing in fractions:
                heights = sorted((f.height for f in reading.faces), reverse=True)
                fractions[item.framing].append(heights[0] / reading.frame_size[1])
                if item.framing == "two-shot" and len(heights) > 1:
                    two_shot_ratios.append(heights[1] / heights[0])

            matched = _match(reading, item.faces)
            for truth in item.faces:
                if not any(t is truth for _, t in matched):
                    faces["not_detected"].append(f"{item.id}:{truth.who}")
            for face, truth in matched:
                if truth is None:
                    faces["false_detections"].append({"item": item.id, "box": list(face.box), "name": face.name})
                    continue
                if face.embedding is None:
                    faces["unidentifiable"] += 1
                    continue
                for name in cast:
                    d = FaceEmbedder.distance(face.embedding, references[name])
                    (same if truth.who == name else different).append(d)
                where = {"item": item.id, "truth": truth.who, "named": face.name, "nearest": face.nearest,
                         "distance": round(face.distance_to_nearest or 0.0, 4)}
                if truth.who in CAST:
                    if face.name == truth.who:
                        faces["cast_named_right"] += 1
                    elif face.name is None:
                        faces["cast_left_unknown"].append(where)
                    else:
                        faces["cast_named_wrong"].append(where)
                elif face.name is None:
                    faces["stranger_unknown"] += 1
                else:
                    faces["stranger_named"].append(where)
            item_rows.append({"id": item.id, "kind": item.kind, "expected": list(item.expected),
                              "shows": list(item.shows), "people": item.people, "framing": item.framing,
                              "reading": reading.to_dict()})
        del store, client  # let Chroma's files close before the folder goes

    count_right = sum(want == got for _, want, got in count_rows)
    kinds = Counter(i.kind for i in items())
    return {
        "set": {"frames": len(items()), "kinds": dict(sorted(kinds.items())), "cast": cast, "series": SERIES,
                "frame_size": [720, 1280]},
        "threshold": threshold,
        "upsample": upsample,
        "checks": {**{name: tally.report() for name, tally in checks.items()},
                   "count": {"accuracy": _rate(count_right, len(count_rows)), "correct": count_right,
                             "n": len(count_rows),
                             "wrong": [f"{i}: {want} people, read {got}" for i, want, got in count_rows
                                       if want != got]},
                   "framing": _framing_report(framing_rows)},
        "faces": faces,
        "distances": {"same_person": _stats(same), "different_person": _stats(different),
                      "reference_to_reference": round(FaceEmbedder.distance(*references.values()), 4)
                      if len(references) == 2 else None},
        "threshold_calibration": calibrate_threshold(same, different, threshold),
        "framing_calibration": {**_framing_calibration(fractions),
                                "two_shot_ratios": sorted(round(r, 3) for r in two_shot_ratios)},
        "items": item_rows,
        "seconds": round(time.perf_counter() - started, 2),
    }


if __name__ == "__main__":  # python -m dramafactory.evals.footage_eval: the report as JSON, without the per-frame rows
    import json
    import sys

    result = evaluate_footage(float(sys.argv[1]) if len(sys.argv) > 1 else None)
    result.pop("items")
    sys.stdout.write(json.dumps(result, indent=1) + "\n")
