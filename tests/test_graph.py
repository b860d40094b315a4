"""The series graph end to end with fast fakes: output contract, retries, resume."""

from __future__ import annotations

import json

import pytest

from dramafactory.graphs.runner import produce
from dramafactory.schemas import EpisodeScript, RunSummary, SeriesBible
from dramafactory.tools.assembly.video import probe

from .fakes import FakeImage


def test_episode_end_to_end_with_fakes(fake_context, concept):
    ctx = fake_context()
    outcome = produce(ctx, concept=concept, seed=7)
    assert outcome.status == "finished"
    run = ctx.run_dir
    bible = SeriesBible.model_validate_json((run / "bible.json").read_text())
    script = EpisodeScript.model_validate_json((run / "episodes/01/script.json").read_text())
    speakers = {line.speaker for line in script.lines()}
    assert speakers <= {c.name for c in bible.characters}
    shots = json.loads((run / "episodes/01/shots.json").read_text())["shots"]
    assert len(shots) >= 8
    covered = {s["shot"]["dialogue_line"] for s in shots if s["shot"]["dialogue_line"]}
    assert covered == {line.id for line in script.lines()}
    info = probe(run / "episodes/01/episode.mp4")
    assert info["height"] > info["width"] and info["has_audio"]
    assert abs(info["duration"] - concept.seconds_per_episode) <= 0.2 * concept.seconds_per_episode
    srt = (run / "episodes/01/episode.srt").read_text()
    assert srt.count("-->") == len(script.lines())
    assert (run / "episodes/01/contact_sheet.png").stat().st_size > 0
    ledger = [json.loads(x) for x in (run / "ledger.jsonl").read_text().splitlines()]
    assert {"stage", "backend", "model", "seconds", "tokens"} <= set(ledger[0])
    summary = RunSummary.model_validate_json((run / "summary.json").read_text())
    assert summary.final_usable_rate == 1.0 and summary.model_calls > 10
    expected_cost = summary.cpu_seconds * ctx.settings.cpu_hour_usd / 3600
    assert summary.cost_usd == pytest.approx(expected_cost, rel=1e-3)
    assert summary.cost_per_finished_minute_usd == pytest.approx(
        summary.cost_usd / (sum(summary.episode_seconds) / 60), rel=1e-3)


def test_failed_shot_is_retried_and_every_take_kept(fake_context, concept):
    image = FakeImage(fail_first={"e01s02": 2})
    ctx = fake_context(image=image)
    produce(ctx, concept=concept, seed=7)
    shots = json.loads((ctx.run_dir / "episodes/01/shots.json").read_text())["shots"]
    record = next(s for s in shots if s["shot"]["id"] == "e01s02")
    assert [t["attempt"] for t in record["takes"]] == [1, 2, 3]
    assert [t["accepted"] for t in record["takes"]] == [False, False, True]
    assert "Fix:" in record["takes"][2]["prompt"]
    assert len({t["seed"] for t in record["takes"]}) == 3
    assert all((ctx.run_dir / t["asset"]).is_file() for t in record["takes"])
    summary = json.loads((ctx.run_dir / "summary.json").read_text())
    assert summary["first_pass_usable_rate"] < 1.0 and summary["final_usable_rate"] == 1.0


def test_shot_that_never_passes_goes_to_review(fake_context, concept):
    ctx = fake_context(image=FakeImage(fail_first={"e01s03": 99}))
    produce(ctx, concept=concept, seed=7)
    shots = json.loads((ctx.run_dir / "episodes/01/shots.json").read_text())["shots"]
    record = next(s for s in shots if s["shot"]["id"] == "e01s03")
    assert record["needs_review"] and len(record["takes"]) == ctx.settings.max_attempts


def test_resume_after_shot_list_does_not_redo_earlier_stages(fake_context, concept, tmp_path):
    run_dir = tmp_path / "resumable"
    first = fake_context(run_dir)
    outcome = produce(first, concept=concept, seed=3, stop_after="cinematographer")
    assert outcome.status == "paused" and outcome.next_nodes == ("shot",) * len(outcome.next_nodes)
    assert not (run_dir / "episodes/01/episode.mp4").exists()
    calls_before = first.text.calls
    bible_before = (run_dir / "bible.json").read_text()

    second = fake_context(run_dir)  # a new process would build a fresh context from the folder
    outcome = produce(second, concept=None, resume=True)
    assert outcome.status == "finished"
    assert second.text.calls == 0, "director, writer and cinematographer must not run again"
    assert calls_before > 0
    assert (run_dir / "bible.json").read_text() == bible_before
    assert (run_dir / "episodes/01/episode.mp4").is_file()


def test_a_backend_failure_mid_run_keeps_finished_work_and_resumes(fake_context, concept, tmp_path):
    from .fakes import FakeSpeech

    class BrokenSpeech(FakeSpeech):
        def synthesize(self, request):
            raise RuntimeError("espeak-ng vanished")

    run_dir = tmp_path / "crashy"
    image = FakeImage()
    with pytest.raises(RuntimeError, match="espeak-ng vanished"):
        produce(fake_context(run_dir, image=image, speech=BrokenSpeech()), concept=concept, seed=5)
    rendered = len(image.rendered)
    assert rendered >= 8 and (run_dir / "episodes/01/script.json").is_file()

    again = FakeImage()
    outcome = produce(fake_context(run_dir, image=again), concept=None, resume=True)
    assert outcome.status == "finished"
    assert again.rendered == [], "finished shots must not be rendered (or billed) again"
    assert (run_dir / "episodes/01/episode.mp4").is_file()


def test_qc_figures_and_review_queue_in_the_summary(fake_context, concept):
    ctx = fake_context(image=FakeImage(fail_first={"e01s02": 1, "e01s03": 99}))
    produce(ctx, concept=concept, seed=7)
    summary = json.loads((ctx.run_dir / "summary.json").read_text())
    shots = summary["shots"]
    assert summary["retry_renders"] == 1 + (ctx.settings.max_attempts - 1)
    assert summary["attempts_per_shot"] == pytest.approx((shots + summary["retry_renders"]) / shots)
    assert summary["shots_to_humans"] == 1
    assert summary["final_usable_rate"] == pytest.approx((shots - 1) / shots)
    queue = json.loads((ctx.run_dir / "review_queue.json").read_text())
    assert [q["shot"] for q in queue] == ["e01s03"] and "black" in queue[0]["reason"]


def test_render_budget_caps_retries(fake_context, concept, fast_settings):
    fast_settings.render_budget = 1.0  # no render beyond one per shot
    ctx = fake_context(image=FakeImage(fail_first={"e01s02": 1}))
    produce(ctx, concept=concept, seed=7)
    summary = json.loads((ctx.run_dir / "summary.json").read_text())
    assert summary["retry_renders"] == 0 and summary["shots_to_humans"] == 1


def test_unfixable_shot_pauses_for_a_person_then_resumes(fake_context, concept, fast_settings, tmp_path):
    fast_settings.review_shots = "interrupt"
    run_dir = tmp_path / "review"
    ctx = fake_context(run_dir, image=FakeImage(fail_first={"e01s03": 99}))
    outcome = produce(ctx, concept=concept, seed=7)
    assert outcome.status == "paused" and outcome.next_nodes == ("review_shots",)
    assert not (run_dir / "episodes/01/episode.mp4").exists()
    image = FakeImage()
    outcome = produce(fake_context(run_dir, image=image), concept=None, resume=True, decisions={"e01s03": "approve"})
    assert outcome.status == "finished" and image.rendered == []  # nothing rendered again
    record = next(s for s in json.loads((run_dir / "episodes/01/shots.json").read_text())["shots"]
                  if s["shot"]["id"] == "e01s03")
    assert not record["needs_review"]
    assert record["takes"][record["chosen_take"] - 1]["approved_by"] == "human"
    assert outcome.summary.shots_to_humans == 1


def test_a_crash_in_the_progress_consumer_resumes_from_the_saved_writes(fake_context, concept, tmp_path):
    run_dir = tmp_path / "consumer"

    def crash_at_review(ns, mode, data):
        if mode == "custom" and data.get("status") == "review":
            raise RuntimeError("the terminal went away")

    with pytest.raises(RuntimeError):
        produce(fake_context(run_dir), concept=concept, seed=7, on_event=crash_at_review)
    image = FakeImage()
    outcome = produce(fake_context(run_dir, image=image), concept=None, resume=True)
    assert outcome.status == "finished" and outcome.summary is not None and image.rendered == []


def test_a_scorer_model_that_fails_to_load_sends_shots_to_people_without_retries(fake_context, concept,
                                                                                   fast_settings, tmp_path):
    fast_settings.qc_clip_model_path = tmp_path / "no-such-clip-model"
    ctx = fake_context()
    outcome = produce(ctx, concept=concept, seed=7)
    assert outcome.status == "finished"
    summary = outcome.summary
    assert summary.retry_renders == 0 and summary.shots_to_humans == summary.shots
    queue = json.loads((ctx.run_dir / "review_queue.json").read_text())
    assert len(queue) == summary.shots and all(q["needs_human"] and "CLIP model" in q["reason"] for q in queue)


def test_a_bible_checkpoint_asks_again_when_an_edit_fails_its_checks(fake_context, concept, tmp_path):
    """A client that skips the API's checks (a direct resume) cannot break the run: the bad edit is asked again
    with the reason; no answer at all leaves the run waiting."""
    run_dir = tmp_path / "bible-review"
    outcome = produce(fake_context(run_dir), concept=concept, seed=3, checkpoints={"bible": True})
    assert outcome.status == "paused" and outcome.next_nodes == ("review_bible",)
    [waiting] = outcome.waiting
    assert waiting["kind"] == "bible"
    assert produce(fake_context(run_dir), concept=None, resume=True).status == "paused"  # nobody answered yet
    bad = json.loads(json.dumps(waiting["bible"]))
    bad["characters"][1]["voice"]["voice_id"] = "en-us+nowhere"
    outcome = produce(fake_context(run_dir), concept=None, resume=True,
                      decisions={"action": "edit", "bible": bad})
    assert outcome.status == "paused"
    assert outcome.waiting[0]["error"]["field"] == "bible.characters.1.voice"
    outcome = produce(fake_context(run_dir), concept=None, resume=True, decisions={"action": "approve"})
    assert outcome.status == "finished"
    assert json.loads((run_dir / "bible.json").read_text()) == waiting["bible"]  # the draft, as approved


def test_a_shot_a_person_flagged_is_not_asked_about_again_in_the_episode(fake_context, concept, tmp_path):
    run_dir = tmp_path / "shots-review"
    make = lambda: fake_context(run_dir, image=FakeImage(fail_first={"e01s02": 99, "e01s03": 99}))  # noqa: E731
    outcome = produce(make(), concept=concept, seed=4, checkpoints={"shots": True})
    assert {s["shot"] for s in outcome.waiting[0]["shots"]} == {"e01s02", "e01s03"}
    outcome = produce(make(), concept=None, resume=True, decisions={"action": "approve", "shots": {
        "e01s02": {"action": "flag"}, "e01s03": {"action": "reject", "note": "show her face"}}})
    assert outcome.status == "paused"
    assert [s["shot"] for s in outcome.waiting[0]["shots"]] == ["e01s03"]  # e01s02 stays flagged, not asked
    outcome = produce(make(), concept=None, resume=True, decisions={"action": "approve"})
    assert outcome.status == "finished"
    queue = json.loads((run_dir / "review_queue.json").read_text())
    assert [q["shot"] for q in queue] == ["e01s02"]  # flagged by the person, still in the queue


def test_shots_go_out_in_waves_with_the_retries_of_the_waves_before(fake_context, concept, fast_settings):
    """A wave of 2 first takes per step: every shot is still rendered, a failed shot of the first wave is retried
    while later waves go out, and the budget keeps one render for each shot not sent yet (render_budget 1.0 leaves
    no retry at all, however early the failure)."""
    fast_settings.shot_wave = 2
    image = FakeImage(fail_first={"e01s01": 1})
    ctx = fake_context(image=image)
    produce(ctx, concept=concept, seed=7)
    shots = json.loads((ctx.run_dir / "episodes/01/shots.json").read_text())["shots"]
    assert len(shots) > 2 * fast_settings.shot_wave  # more than two waves
    assert all(any(t["accepted"] for t in s["takes"]) for s in shots)
    first = [shot for shot, _ in image.rendered]
    assert first.count("e01s01") == 2 and set(first) == {s["shot"]["id"] for s in shots}
    # the retry went out with the second wave, before the last shots' first takes
    assert first.index("e01s01", 1) < first.index(shots[-1]["shot"]["id"])


def test_waves_keep_a_first_render_for_every_shot_under_a_tight_budget(fake_context, concept, fast_settings):
    fast_settings.shot_wave = 1
    fast_settings.render_budget = 1.0
    ctx = fake_context(image=FakeImage(fail_first={"e01s01": 5}))
    produce(ctx, concept=concept, seed=7)
    shots = json.loads((ctx.run_dir / "episodes/01/shots.json").read_text())["shots"]
    assert [len(s["takes"]) for s in shots] == [1] * len(shots)
    summary = json.loads((ctx.run_dir / "summary.json").read_text())
    assert summary["retry_renders"] == 0 and summary["shots_to_humans"] == 1


class _CountingImage(FakeImage):
    """A FakeImage that takes a while per render and records how many renders ran at once (a test double)."""

    def __init__(self):
        super().__init__()
        import threading

        self.lock, self.now, self.peak = threading.Lock(), 0, 0

    def render(self, request):  # noqa: ANN001, ANN201
        import time

        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        try:
            time.sleep(0.3)
            return super().render(request)
        finally:
            with self.lock:
                self.now -= 1


@pytest.mark.parametrize("parallel", [2, 9])
def test_parallel_nodes_sets_how_many_shots_work_at_once(fake_context, concept, fast_settings, parallel):
    fast_settings.parallel_nodes = parallel
    image = _CountingImage()
    ctx = fake_context(image=image)
    produce(ctx, concept=concept, seed=7, stop_after="review_shots")
    assert len({shot for shot, _ in image.rendered}) >= 9
    assert image.peak == parallel  # 9 is above LangGraph's default on a 2-core machine (CPUs + 4)
