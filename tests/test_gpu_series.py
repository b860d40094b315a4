"""A whole series through the graph on the diffusers keyframe and clip backends, pointed at tiny randomly initialised
pipeline folders (tests/tiny_pipelines.py) on the CPU. Text and speech are the fast fakes of tests/fakes.py.

Noise is what random weights draw: QC must fail those frames and send the shots to review (that is the right answer),
and the episode must still finish, assembled from the clips."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dramafactory.graphs.backends import build_context
from dramafactory.graphs.runner import produce
from dramafactory.schemas import RunSummary, SeriesConcept
from dramafactory.tools.assembly.video import probe
from dramafactory.tools.image.base import ImageRequest, ImageResult

from .conftest import tiny_settings
from .fakes import FakeSpeech, FakeText

pytest.importorskip("diffusers")


def _concept() -> SeriesConcept:
    return SeriesConcept(logline="A night-shift nurse discovers the billionaire patient she saved is her runaway "
                                 "father.", genre="family", episodes=1, seconds_per_episode=20)


def _settings(tiny_models, video: str | None = "image_to_video", image_extra: dict | None = None,
              video_extra: dict | None = None, **extra):
    values = {"width": 180, "height": 320, "fps": 8, "music": True, "max_attempts": 2, **extra}
    return tiny_settings(tiny_models, video=video, image_extra=image_extra, video_extra=video_extra, **values)


@pytest.fixture(scope="module")
def gpu_run(tiny_models, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("gpu-series")
    # options no other test uses: this run's backends are its own, so it is the run that loads them
    ctx = build_context(run_dir, _settings(tiny_models, image_extra={"max_batch": 3}, video_extra={"guidance": 1.5}),
                        text=FakeText(), speech=FakeSpeech())
    outcome = produce(ctx, concept=_concept(), seed=5)
    return ctx, outcome


def test_the_series_finishes_on_diffusers_keyframes_and_clips(gpu_run, tiny_models):
    ctx, outcome = gpu_run
    run = ctx.run_dir
    assert outcome.status == "finished"
    shots = json.loads((run / "episodes/01/shots.json").read_text())["shots"]
    assert shots
    for record in shots:
        takes = record["takes"]
        assert takes and all(t["backend"] == "diffusers" and t["model"] == str(tiny_models("reference_image"))
                             for t in takes)
        assert all(t["qc"] is not None and t["qc"]["scores"] for t in takes)  # every take carries a QC report
        assert record["clip"] is not None and (run / record["clip"]["path"]).is_file()
        assert record["clip_fallback"] is None
        frames = record["clip"]["frames"]
        assert (frames - 1) % 4 == 0 and record["clip"]["backend"] == "diffusers"
    info = probe(run / "episodes/01/episode.mp4")
    assert info["height"] > info["width"] and info["has_audio"]
    summary = RunSummary.model_validate_json((run / "summary.json").read_text())
    assert summary.clip_shots == len(shots) and summary.clip_fallbacks == 0
    assert "clip" in {s.stage for s in summary.stages}


def test_noise_frames_fail_qc_and_go_to_review(gpu_run):
    ctx, _ = gpu_run
    shots = json.loads((ctx.run_dir / "episodes/01/shots.json").read_text())["shots"]
    # random weights draw noise: no take may pass, and every shot is queued for a person
    assert all(not t["accepted"] for r in shots for t in r["takes"])
    assert all(r["needs_review"] for r in shots)
    queue = json.loads((ctx.run_dir / "review_queue.json").read_text())
    assert {q["shot"] for q in queue} == {r["shot"]["id"] for r in shots}
    reasons = " ".join(t["qc"]["verdict"] for r in shots for t in r["takes"])
    assert "pass" not in reasons.split()
    # the footage scorers are in every report of a shot with people: judged where the picture allows, else said
    for record in shots:
        if record["shot"]["characters"] and record["shot"]["framing"] != "insert":
            for take in record["takes"]:
                names = {s["scorer"] for s in take["qc"]["scores"]}
                assert "adherence_people" in names and any(n.startswith("identity:") for n in names), names


def test_noise_reference_sheets_are_not_used_and_say_why(gpu_run):
    ctx, _ = gpu_run
    sheets = json.loads((ctx.run_dir / "references.json").read_text())["sheets"]
    bible = json.loads((ctx.run_dir / "bible.json").read_text())
    assert set(sheets) == {c["name"] for c in bible["characters"]}
    for sheet in sheets.values():
        assert not sheet["accepted"] and sheet["why_unused"] and (ctx.run_dir / sheet["path"]).is_file()
    shots = json.loads((ctx.run_dir / "episodes/01/shots.json").read_text())["shots"]
    conditioned = [c for r in shots for t in r["takes"] for c in t["conditioning"]]
    assert conditioned and all(c.startswith("none: no accepted reference sheet") for c in conditioned)


def test_the_ledger_holds_the_backends_own_figures_and_the_loads(gpu_run):
    ctx, _ = gpu_run
    rows = [json.loads(line) for line in (ctx.run_dir / "ledger.jsonl").read_text().splitlines()]
    renders = [r for r in rows if r["stage"] == "render"]
    assert renders and all(r["backend"] == "diffusers" and r["cpu_scope"] == "process" for r in renders)
    assert all(r["gpu_seconds"] == 0.0 and r["batch"] >= 1 for r in renders)  # CPU device: no GPU did the work
    loads = {r["stage"] for r in rows if r["kind"] == "load"}
    assert {"reference.load", "clip.load"} <= loads  # the sheets come first: the image pipeline loads for them
    shots = json.loads((ctx.run_dir / "episodes/01/shots.json").read_text())["shots"]
    made = sum(len(r["clip"]["attempts"]) for r in shots)
    assert len([r for r in rows if r["stage"] == "clip" and r["kind"] == "call"]) == made  # each clip billed once
    assert len([r for r in rows if r["stage"] == "qc" and r["model"] == "clip-checks"]) == made


def test_every_clip_carries_its_qc_and_the_ones_qc_did_not_pass_are_queued(gpu_run):
    ctx, _ = gpu_run
    shots = json.loads((ctx.run_dir / "episodes/01/shots.json").read_text())["shots"]
    for record in shots:
        clip = record["clip"]
        scorers = {s["scorer"] for s in clip["qc"]["scores"]}
        assert {"clip_readable", "clip_length", "clip_frozen", "clip_starts_from_keyframe"} <= scorers
        for attempt in clip["attempts"]:
            assert attempt["qc"]["scores"] and (ctx.run_dir / attempt["path"]).is_file()
    queue = json.loads((ctx.run_dir / "review_queue.json").read_text())
    queued = {q["shot"] for q in queue if q.get("kind") == "clip"}
    assert queued == {r["shot"]["id"] for r in shots if not r["clip"]["accepted"]}
    summary = RunSummary.model_validate_json((ctx.run_dir / "summary.json").read_text())
    assert summary.clips_flagged == len(queued)


class PortraitSheets:
    """A test double around the real diffusers backend: reference sheets are a real photograph of one person (so
    they pass QC and are embedded); every shot is drawn by the real pipeline, conditioned on the accepted sheet."""

    def __init__(self, inner, photo: Path):
        self.inner, self.photo = inner, photo
        self.name = inner.name
        self.wants_reference_sheets = True
        self.references_seen: list[dict] = []

    def people_scorer(self):
        return self.inner.people_scorer()

    def render(self, request: ImageRequest) -> ImageResult:
        if not request.shot.id.startswith("ref-"):
            self.references_seen.append({n: str(p) for n, p in request.references.items()})
            return self.inner.render(request)
        portrait = Image.open(self.photo).convert("RGB")
        canvas = Image.new("RGB", (request.width, request.height), (200, 200, 205))
        scale = 0.8 * request.width / portrait.width
        portrait = portrait.resize((int(portrait.width * scale), int(portrait.height * scale)))
        canvas.paste(portrait, ((request.width - portrait.width) // 2, request.height // 5))
        request.out_path.parent.mkdir(parents=True, exist_ok=True)
        canvas.save(request.out_path)
        return ImageResult(request.out_path, request.width, request.height, 0.01, self.name, model="photo")


def test_accepted_reference_sheets_are_embedded_and_condition_every_shot(tiny_models, tmp_path):
    pytest.importorskip("dlib")
    from matplotlib import cbook

    from dramafactory.tools import registry

    photo = Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    settings = _settings(tiny_models, video=None, width=360, height=640)
    image = PortraitSheets(registry.build("image", settings), photo)
    ctx = build_context(tmp_path / "run", settings, text=FakeText(), speech=FakeSpeech(), image=image)
    assert produce(ctx, concept=_concept(), seed=5).status == "finished"
    sheets = json.loads((ctx.run_dir / "references.json").read_text())["sheets"]
    assert all(s["accepted"] and s["embedded"] for s in sheets.values()), sheets
    store = ctx.memory.references()
    bible = json.loads((ctx.run_dir / "bible.json").read_text())
    for character in bible["characters"]:
        stored = store.get(bible["title"], character["name"])
        assert stored is not None and len(stored.embedding) == 128
    shots = json.loads((ctx.run_dir / "episodes/01/shots.json").read_text())["shots"]
    for record in shots:
        for take in record["takes"]:
            visible = record["shot"]["characters"]
            assert take["conditioning"] == [f"reference:{n}" for n in visible]
            assert set(take["references"]) == set(visible)  # the sheets of the people in the shot
    assert any(image.references_seen)  # the pipeline was handed the sheets (shots with nobody get none)
    assert np.asarray(Image.open(ctx.run_dir / next(iter(sheets.values()))["path"])).std() > 10


class _Crash(BaseException):
    """A test double of the process dying mid-clip (not an Exception: nothing in the graph may catch it)."""


class CountingVideo:
    """The real clip backend, counting calls; optionally the process 'dies' on the nth clip."""

    def __init__(self, inner, crash_on: int | None = None):
        self.inner, self.crash_on, self.calls = inner, crash_on, []
        self.name, self.model, self.version = inner.name, inner.model, inner.version

    def take_load_seconds(self) -> float:
        return self.inner.take_load_seconds()

    def animate(self, request):
        self.calls.append(request.shot.id)
        if self.crash_on is not None and len(self.calls) == self.crash_on:
            raise _Crash("killed")
        return self.inner.animate(request)


def test_a_crash_mid_clips_resumes_without_remaking_or_rebilling_committed_clips(tiny_models, tmp_path):
    from dramafactory.tools import registry

    settings = _settings(tiny_models)
    run_dir = tmp_path / "run"
    dying = CountingVideo(registry.build("video", settings), crash_on=4)
    with pytest.raises(_Crash):
        produce(build_context(run_dir, settings, text=FakeText(), speech=FakeSpeech(), video=dying),
                concept=_concept(), seed=5)
    made = sorted(p.name for p in (run_dir / "episodes/01/clips").glob("*.mp4"))
    assert len(made) >= 1 and not (run_dir / "episodes/01/episode.mp4").exists()
    again = CountingVideo(registry.build("video", settings))
    outcome = produce(build_context(run_dir, settings, text=FakeText(), speech=FakeSpeech(), video=again),
                      concept=None, resume=True)
    assert outcome.status == "finished"
    shots = json.loads((run_dir / "episodes/01/shots.json").read_text())["shots"]
    committed = {p.split("_a")[0] for p in made}
    assert not committed & set(again.calls), "a committed clip was made again"
    assert set(again.calls) == {r["shot"]["id"] for r in shots} - committed
    rows = [json.loads(line) for line in (run_dir / "ledger.jsonl").read_text().splitlines()]
    clip_calls = [r["shot"] for r in rows if r["stage"] == "clip" and r["kind"] == "call"]
    billed = sorted(r["shot"]["id"] for r in shots for _ in r["clip"]["attempts"])
    assert sorted(clip_calls) == billed  # each clip that was kept billed once, none twice


def test_a_failed_clip_falls_back_to_the_keyframe_marked(tiny_models, tmp_path):
    from dramafactory.tools import registry

    settings = _settings(tiny_models)

    class OneBadClip(CountingVideo):
        def animate(self, request):
            if request.shot.id.endswith("s02"):
                raise RuntimeError("the pipeline produced NaNs")
            return super().animate(request)

    ctx = build_context(tmp_path / "run", settings, text=FakeText(), speech=FakeSpeech(),
                        video=OneBadClip(registry.build("video", settings)))
    assert produce(ctx, concept=_concept(), seed=5).status == "finished"
    shots = {r["shot"]["id"]: r for r in json.loads((ctx.run_dir / "episodes/01/shots.json").read_text())["shots"]}
    bad = shots["e01s02"]
    assert bad["clip"] is None and "NaNs" in bad["clip_fallback"] and "camera motion" in bad["clip_fallback"]
    assert all(r["clip"] for sid, r in shots.items() if sid != "e01s02")
    summary = RunSummary.model_validate_json((ctx.run_dir / "summary.json").read_text())
    assert summary.clip_fallbacks == 1 and summary.clip_shots == len(shots) - 1


def test_a_crash_mid_reference_sheets_resumes_without_redrawing_finished_sheets(tiny_models, tmp_path):
    from dramafactory.tools import registry

    settings = _settings(tiny_models, video=None, max_attempts=1)

    class DiesOnThirdSheet:
        """The real diffusers backend; the process 'dies' on the third reference sheet (a test double)."""

        def __init__(self, inner):
            self.inner, self.name, self.calls = inner, inner.name, []
            self.wants_reference_sheets = True

        def people_scorer(self):
            return None

        def render(self, request):
            if request.shot.id.startswith("ref-"):
                self.calls.append(request.shot.id)
                if len(self.calls) == 3 and not getattr(self, "survive", False):
                    raise _Crash("killed")
            return self.inner.render(request)

    run_dir = tmp_path / "run"
    dying = DiesOnThirdSheet(registry.build("image", settings))
    with pytest.raises(_Crash):
        produce(build_context(run_dir, settings, text=FakeText(), speech=FakeSpeech(), image=dying),
                concept=_concept(), seed=5)
    finished = dying.calls[:2]
    again = DiesOnThirdSheet(registry.build("image", settings))
    again.survive = True
    assert produce(build_context(run_dir, settings, text=FakeText(), speech=FakeSpeech(), image=again),
                   concept=None, resume=True).status == "finished"
    assert not set(finished) & set(again.calls), "a finished sheet was drawn again"
    rows = [json.loads(line) for line in (run_dir / "ledger.jsonl").read_text().splitlines()]
    billed = [r["shot"] for r in rows if r["stage"] == "reference" and r["kind"] == "call"]
    assert len(billed) == len(set(billed)) == 3  # each sheet billed once


class PhotographTakes:
    """A test double around the real diffusers backend: the reference sheets are real photographs (the labelled
    footage set's), and one take is replaced by a photograph of the right person and one by the wrong person's;
    every other picture is drawn by the real pipeline."""

    def __init__(self, inner, sheets: dict[str, np.ndarray], takes: dict[str, np.ndarray]):
        self.inner, self.sheets, self.takes = inner, sheets, takes
        self.name, self.wants_reference_sheets = inner.name, True

    def people_scorer(self):
        return self.inner.people_scorer()

    def render(self, request: ImageRequest) -> ImageResult:
        shot = request.shot
        photo = self.sheets.get(shot.characters[0]) if shot.id.startswith("ref-") else self.takes.get(shot.id)
        if photo is None:
            return self.inner.render(request)
        request.out_path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(photo).save(request.out_path)
        return ImageResult(request.out_path, request.width, request.height, 0.01, self.name, model="photo")


def test_a_take_replaced_by_a_photograph_of_the_right_or_wrong_person_gets_the_right_verdict(tiny_models, tmp_path):
    pytest.importorskip("dlib")
    pytest.importorskip("skimage")
    from dramafactory.evals.footage_set import items
    from dramafactory.tools import registry

    frames = {item.id: item for item in items()}
    settings = _settings(tiny_models, video=None, width=720, height=1280, max_attempts=1)
    # a first pass to learn the cast and the shots (the fake text model is deterministic for a seed)
    probe_ctx = build_context(tmp_path / "probe", settings, text=FakeText(), speech=FakeSpeech(),
                              image=registry.build("image", settings))
    produce(probe_ctx, concept=_concept(), seed=5, stop_after="cinematographer")
    bible = json.loads((tmp_path / "probe/bible.json").read_text())
    shots = json.loads((tmp_path / "probe/episodes/01/shotlist.json").read_text())["shots"]
    first, second = bible["characters"][0]["name"], bible["characters"][1]["name"]
    alone = {name: next(s["id"] for s in shots if s["characters"] == [name]) for name in (first, second)}
    image = PhotographTakes(registry.build("image", settings),
                            sheets={first: frames["paste-c-coffee"].frame(), second: frames["paste-h-rocket"].frame()},
                            takes={alone[first]: frames["medium-c"].frame(),    # her: the right person
                                   alone[second]: frames["medium-c"].frame()})  # her again: the wrong person
    ctx = build_context(tmp_path / "run", settings, text=FakeText(), speech=FakeSpeech(), image=image)
    assert produce(ctx, concept=_concept(), seed=5).status == "finished"
    sheets = json.loads((ctx.run_dir / "references.json").read_text())["sheets"]
    assert sheets[first]["accepted"] and sheets[second]["accepted"]
    records = {r["shot"]["id"]: r for r in json.loads((ctx.run_dir / "episodes/01/shots.json").read_text())["shots"]}

    def scores(shot_id):
        return {s["scorer"]: s for s in records[shot_id]["takes"][0]["qc"]["scores"]}

    right, wrong = scores(alone[first]), scores(alone[second])
    assert right[f"identity:{first}"]["passed"] and right[f"identity:{first}"]["judged"]
    assert not wrong[f"identity:{second}"]["passed"] and wrong[f"identity:{second}"]["judged"]
    assert first in wrong[f"identity:{second}"]["reason"] and second in wrong[f"identity:{second}"]["reason"]
    # every other take was drawn by the tiny pipeline (noise): its footage checks are listed, not judged
    for shot_id, record in records.items():
        if shot_id not in alone.values() and record["shot"]["characters"]:
            assert "adherence_people" in scores(shot_id)
