"""Speech and clip work through the run's engine (graphs/work.py speak_line, animate_clip): voices go to role
"speech" one line per call, clip attempts to role "video", their requests and results cross as JSON, and the ledger
rows the orchestrator writes read exactly as they do inline."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from langgraph.runtime import Runtime
from PIL import Image

from dramafactory.config import Settings
from dramafactory.graphs.backends import build_context
from dramafactory.graphs.clips import _attempt
from dramafactory.graphs.nodes import voices
from dramafactory.graphs.runner import produce
from dramafactory.graphs.work import (
    ANIMATE,
    SPEAK,
    animate_clip,
    clip_request_from_json,
    clip_request_to_json,
    clip_result_from_json,
    clip_result_to_json,
    speak_line,
    speech_request_from_json,
    speech_request_to_json,
    speech_result_from_json,
    speech_result_to_json,
)
from dramafactory.schemas import EpisodeScript, SeriesConcept, Shot, Take, Voice
from dramafactory.tools.engine import EngineUnavailable, InProcessEngine
from dramafactory.tools.speech.base import SpeechRequest, SpeechResult
from dramafactory.tools.video.base import ClipRequest, ClipResult, motion_prompt

from .fakes import FakeImage, FakeSpeech, FakeText, pan_clip

SETTINGS = dict(width=180, height=320, fps=8, music=True, qc_people="off")  # as conftest's fast_settings
FAILING_SHOT = "e01s02"


class RecordingEngine(InProcessEngine):
    """The in-process engine, noting the role and function of each piece of work. `name` lets a test stand in for
    an engine that runs work out of this process (the voices node speaks lines side by side only there)."""

    def __init__(self, resident, name: str = "in-process"):
        super().__init__(resident)
        self.name = name
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def run(self, role, fn, payload, *, series="", stalled=None):
        with self._lock:
            self.calls.append((role, fn))
        # the payload crosses a process boundary on a cluster: it must survive JSON as it is
        assert json.loads(json.dumps(payload)) == payload
        return super().run(role, fn, payload, series=series, stalled=stalled)


class FakeClipVideo:
    """Pans the keyframe one pixel a frame at 8 fps for the shot's length, written as a real MP4; the first call
    reports a pipeline load; shots in `fail` raise as a broken pipeline would."""

    name = "fake-video"
    model = "fake-i2v"
    version = "fake 1"

    def __init__(self, fail: set[str] | None = None, load_seconds: float = 0.5):
        self.fail = set(fail or ())
        self._unreported = load_seconds
        self.made: list[str] = []

    def take_load_seconds(self) -> float:
        load, self._unreported = self._unreported, 0.0
        return load

    def animate(self, request: ClipRequest) -> ClipResult:
        if request.shot.id in self.fail:
            raise RuntimeError("the pipeline produced NaNs")
        clip = pan_clip(request, self.name, self.model)
        self.made.append(request.shot.id)
        return clip


def _rows(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "ledger.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One fake production with clips, its work through a recording engine that holds no residents (as the
    service's): each work function finds the run's own backends by the payload's run id."""
    run_dir = tmp_path_factory.mktemp("engine-work") / "run"
    video = FakeClipVideo(fail={FAILING_SHOT})
    ctx = build_context(run_dir, Settings(_env_file=None, **SETTINGS), text=FakeText(), image=FakeImage(),
                        speech=FakeSpeech(), video=video)
    engine = RecordingEngine(lambda _role: None)
    ctx.engine = engine
    concept = SeriesConcept(logline="A night-shift nurse discovers the billionaire patient she saved is her runaway "
                                    "father.", genre="family", episodes=1, seconds_per_episode=30)
    outcome = produce(ctx, concept=concept, seed=7)
    assert outcome.status == "finished"
    return {"ctx": ctx, "engine": engine, "video": video,
            "bible": json.loads((run_dir / "bible.json").read_text()),
            "script": json.loads((run_dir / "episodes/01/script.json").read_text()),
            "shots": json.loads((run_dir / "episodes/01/shots.json").read_text())["shots"]}


# --- voices ------------------------------------------------------------------------------------------------------

def test_each_voice_line_is_one_speech_call_and_its_rows_are_as_before(run):
    script = EpisodeScript.model_validate(run["script"])
    lines = [line.id for line in script.lines()]
    calls = run["engine"].calls
    assert [fn for role, fn in calls if role == "speech"] == [SPEAK] * len(lines)
    assert all(role == "speech" for role, fn in calls if fn == SPEAK)
    voiced = [r for r in _rows(run["ctx"].run_dir) if r["stage"] == "voices"]
    assert [r["line"] for r in voiced] == lines  # one row per line, in script order
    words = {line.id: len(line.text.split()) for line in script.lines()}
    for row in voiced:
        assert (row["kind"], row["backend"], row["model"], row["cpu_scope"]) == ("call", "fake-speech", "fake",
                                                                                  "process")
        assert row["audio_seconds"] == round(max(0.6, 0.3 * words[row["line"]]), 3)  # FakeSpeech's own length
    audio = run["ctx"].run_dir / "episodes/01/audio"
    assert sorted(p.stem for p in audio.glob("*.wav")) == sorted(lines)


class LoadingSpeech(FakeSpeech):
    """FakeSpeech whose first line loads a voice model (its own ledger row)."""

    def __init__(self) -> None:
        self.loaded = False

    def synthesize(self, request: SpeechRequest) -> SpeechResult:
        result = super().synthesize(request)
        if self.loaded:
            return result
        self.loaded = True
        return SpeechResult(result.path, result.seconds, result.sample_rate, result.engine, result.compute_seconds,
                            load_seconds=0.25)


def _voices(run, run_dir: Path, speech, engine=None) -> tuple[dict, list[dict]]:
    """The voices node alone on the fixture run's bible and script, in a fresh folder."""
    ctx = build_context(run_dir, Settings(_env_file=None, **SETTINGS), text=FakeText(), image=FakeImage(),
                        speech=speech, video=None)
    ctx.engine = engine
    state = {"episode": 1, "bible": run["bible"], "script": run["script"]}
    out = voices(state, Runtime(context=ctx))
    return out["voices"], _rows(run_dir)


STABLE = ("kind", "stage", "backend", "model", "version", "cpu_scope", "gpu_seconds", "remote", "line",
          "audio_seconds", "tokens")


def test_voices_through_the_engine_write_the_rows_and_output_of_the_inline_call(run, tmp_path):
    inline_out, inline_rows = _voices(run, tmp_path / "inline", LoadingSpeech())
    speech = LoadingSpeech()
    engine = RecordingEngine(lambda role: {"speech": speech}[role])
    engined_out, engined_rows = _voices(run, tmp_path / "engine", speech, engine)
    assert engine.calls == [("speech", SPEAK)] * len(EpisodeScript.model_validate(run["script"]).lines())
    assert list(engined_out) == list(inline_out) and engined_out == inline_out  # same lines, order, paths, lengths
    assert [r["stage"] for r in engined_rows][:2] == ["voices.load", "voices"]  # the load row before its line's
    assert len(engined_rows) == len(inline_rows)
    for ours, theirs in zip(engined_rows, inline_rows, strict=True):
        assert set(ours) == set(theirs)
        assert {k: ours.get(k) for k in STABLE} == {k: theirs.get(k) for k in STABLE}
    assert engined_rows[0]["seconds"] == 0.25  # the load the worker saw, carried back in its result


class LastLineFirst(FakeSpeech):
    """The first line waits until the last line is spoken: only lines spoken side by side get past it. The wait is
    bounded only so that a serial call fails the test instead of hanging it."""

    def __init__(self, first: str, last: str, fail: str | None = None):
        self.first, self.last, self.fail = first, last, fail
        self.last_done = threading.Event()
        self.finished: list[str] = []
        self.lock = threading.Lock()

    def synthesize(self, request: SpeechRequest) -> SpeechResult:
        line = request.out_path.stem
        if line == self.fail:
            raise ConnectionError("the speech worker went away")
        if line == self.first:
            self.last_done.wait(timeout=30)
        result = super().synthesize(request)
        with self.lock:
            self.finished.append(line)
        if line == self.last:
            self.last_done.set()
        return result


def test_an_out_of_process_engine_speaks_lines_side_by_side_and_keeps_script_order(run, tmp_path):
    lines = [line.id for line in EpisodeScript.model_validate(run["script"]).lines()]
    assert len(lines) >= 3
    speech = LastLineFirst(lines[0], lines[-1])
    engine = RecordingEngine(lambda role: {"speech": speech}[role], name="ray")
    out, rows = _voices(run, tmp_path / "parallel", speech, engine)
    assert speech.finished.index(lines[-1]) < speech.finished.index(lines[0])  # they did run side by side
    assert list(out) == lines
    assert [r["line"] for r in rows if r["stage"] == "voices"] == lines  # rows in script order all the same


def test_a_failed_line_propagates_and_the_lines_that_were_spoken_are_billed(run, tmp_path):
    lines = [line.id for line in EpisodeScript.model_validate(run["script"]).lines()]
    speech = LastLineFirst("", lines[-1], fail=lines[1])  # nobody waits: the lines after the failure may be cancelled
    engine = RecordingEngine(lambda role: {"speech": speech}[role], name="ray")
    with pytest.raises(ConnectionError, match="went away"):
        _voices(run, tmp_path / "failing", speech, engine)
    billed = [r["line"] for r in _rows(tmp_path / "failing") if r["stage"] == "voices"]
    assert lines[1] not in billed and sorted(billed) == sorted(speech.finished)  # every spoken line, once
    assert billed == [line for line in lines if line in billed]  # in script order


# --- clips -------------------------------------------------------------------------------------------------------

def test_each_clip_attempt_is_one_video_call_billed_as_before(run):
    records = {r["shot"]["id"]: r for r in run["shots"]}
    made = [a for r in records.values() if r["clip"] for a in r["clip"]["attempts"]]
    failed = [r for r in records.values() if r["clip"] is None]
    assert made and [r["shot"]["id"] for r in failed] == [FAILING_SHOT]
    calls = run["engine"].calls
    assert [fn for role, fn in calls if role == "video"] == [ANIMATE] * (len(made) + 1)  # + the failed attempt
    assert all(role == "video" for role, fn in calls if fn == ANIMATE)
    rows = _rows(run["ctx"].run_dir)
    clip_rows = [r for r in rows if r["stage"] == "clip" and r["kind"] == "call"]
    assert len(clip_rows) == len(made) == len(run["video"].made)
    for row in clip_rows:
        # the backend measured nothing itself: the row holds the worker thread's own figures, as inline
        assert (row["backend"], row["model"], row["version"], row["cpu_scope"]) == ("fake-video", "fake-i2v",
                                                                                     "fake 1", "thread")
        assert row["frames"] > 0 and row["shot"] != FAILING_SHOT
    loads = [r for r in rows if r["stage"] == "clip.load"]
    assert [r["seconds"] for r in loads] == [0.5]  # the load the worker reported, once
    errors = [r for r in rows if r["stage"] == "clip" and r["kind"] == "error"]
    assert [r["shot"] for r in errors] == [FAILING_SHOT] and "NaNs" in errors[0]["error"]
    assert errors[0]["cpu_scope"] == "thread"  # the failed call's own figures came back with its error
    assert "NaNs" in records[FAILING_SHOT]["clip_fallback"]
    judged = [r for r in rows if r["stage"] == "qc" and r["model"] == "clip-checks"]
    assert len(judged) == len(made)  # clip QC stays in the orchestrator, one row per clip made


class Unreachable(InProcessEngine):
    def __init__(self) -> None:
        super().__init__(lambda _role: None)

    def run(self, role, fn, payload, *, series="", stalled=None):
        raise EngineUnavailable("cannot reach the Ray cluster", "start it")


def test_an_engine_that_cannot_run_work_stops_the_clip_instead_of_falling_back(run):
    ctx = run["ctx"]
    record = next(r for r in run["shots"] if r["clip"])
    shot, take = Shot.model_validate(record["shot"]), Take.model_validate(record["takes"][-1])
    before = len(_rows(ctx.run_dir))
    ctx.engine = Unreachable()
    try:
        with pytest.raises(EngineUnavailable):
            _attempt(ctx, shot, take, 9)
    finally:
        ctx.engine = run["engine"]
    assert len(_rows(ctx.run_dir)) == before  # no failed-clip row: the run stops resumable instead


# --- the work functions and their JSON ---------------------------------------------------------------------------

def _shot() -> Shot:
    return Shot(id="e01s01", episode=1, scene=1, index=0, framing="close-up", camera_move="push-in", duration_s=1.5,
                characters=["Maya"], location="Cafe", time_of_day="night", action="Maya slams the cup down",
                prompt="Close-up of Maya at the counter", seed=11)


def test_speech_request_and_result_cross_as_json_run_relative(tmp_path):
    root, elsewhere = tmp_path / "run", tmp_path / "mounted-elsewhere"
    voice = Voice(description="low and dry", engine="espeak-ng", voice_id="en-us+m3", pitch=40, rate_wpm=150)
    request = SpeechRequest(text="You came back.", voice=voice, out_path=root / "episodes/01/audio/l1.wav",
                            emotion="cold")
    data = json.loads(json.dumps(speech_request_to_json(request, root)))
    assert data["out_path"] == "episodes/01/audio/l1.wav"
    assert speech_request_from_json(data, root) == request
    assert speech_request_from_json(data, elsewhere).out_path == elsewhere / "episodes/01/audio/l1.wav"
    result = SpeechResult(root / "episodes/01/audio/l1.wav", 1.25, 22050, "espeak-ng", 0.1, load_seconds=0.5)
    assert speech_result_from_json(json.loads(json.dumps(speech_result_to_json(result, root))), root) == result
    outside = SpeechResult(tmp_path / "tmp.wav", 1.0, 22050, "piper", 0.1)
    assert speech_result_from_json(speech_result_to_json(outside, root), root) == outside  # kept absolute


def test_clip_request_and_result_cross_as_json_run_relative(tmp_path):
    root = tmp_path / "run"
    shot = _shot()
    request = ClipRequest(shot=shot, keyframe=root / "episodes/01/takes/e01s01_a1.c1.png", prompt=motion_prompt(shot),
                          seed=3, duration_s=1.5, out_path=root / "episodes/01/clips/e01s01_a1.mp4", width=180,
                          height=320)
    data = json.loads(json.dumps(clip_request_to_json(request, root)))
    assert (data["keyframe"], data["out_path"]) == ("episodes/01/takes/e01s01_a1.c1.png",
                                                   "episodes/01/clips/e01s01_a1.mp4")
    assert clip_request_from_json(data, root) == request
    result = ClipResult(path=request.out_path, frames=13, fps=8.0, width=90, height=160, seconds=0.4,
                        backend="diffusers", model="wan", duration_s=13 / 8, gpu_seconds=None,
                        notes=["clip capped at 13 frames"], cpu_seconds=0.3, cpu_scope="process")
    assert clip_result_from_json(json.loads(json.dumps(clip_result_to_json(result, root))), root) == result


def test_work_functions_run_on_a_json_payload_and_carry_their_figures(tmp_path):
    root = tmp_path / "run"
    keyframe = root / "episodes/01/takes/k.png"
    keyframe.parent.mkdir(parents=True)
    Image.fromarray(np.random.default_rng(1).integers(40, 200, (320, 180, 3), dtype=np.uint8)).save(keyframe)
    shot = _shot()
    request = ClipRequest(shot=shot, keyframe=keyframe, prompt=motion_prompt(shot), seed=3, duration_s=1.5,
                          out_path=root / "episodes/01/clips/c.mp4")
    payload = json.loads(json.dumps({"run_id": "r", "root": str(root),
                                     "request": clip_request_to_json(request, root)}))
    video = FakeClipVideo()
    done = json.loads(json.dumps(animate_clip(video, payload)))
    result = clip_result_from_json(done["result"], root)
    assert result.path == request.out_path and result.path.is_file() and result.frames == 13
    assert done["load_seconds"] == 0.5 and done["cpu_scope"] == "thread" and done["wall_seconds"] > 0
    assert json.loads(json.dumps(animate_clip(video, payload)))["load_seconds"] == 0.0  # reported once
    video.fail.add(shot.id)
    with pytest.raises(RuntimeError, match="NaNs") as failed:
        animate_clip(video, payload)
    assert failed.value.df_figures["cpu_scope"] == "thread"  # the caller's error row is machine time spent too
    speech = SpeechRequest(text="You came back.", voice=Voice(description="x", voice_id="en-us"),
                           out_path=root / "episodes/01/audio/l1.wav")
    spoken = speak_line(FakeSpeech(), json.loads(json.dumps({"run_id": "r", "root": str(root), "line": "l1",
                                                             "request": speech_request_to_json(speech, root)})))
    assert spoken["cpu_scope"] == "process"  # piper and espeak-ng work off the calling thread
    assert speech_result_from_json(spoken["result"], root).path.is_file()
    with pytest.raises(RuntimeError, match="no speech backend for run 'nobody'"):
        speak_line(None, {"run_id": "nobody", "root": str(root), "line": "l1",
                          "request": speech_request_to_json(speech, root)})
