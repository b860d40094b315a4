"""Factory mode with fake backends (tests/fakes.py): many series at once from a concepts file or folder, a bad concept
reported while the others run, resume and skip on a second run, factory.json's figures, and the tables."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from dramafactory.config import Settings
from dramafactory.factory.concepts import concept_slug, load_concepts
from dramafactory.factory.display import FactoryBoard, final_table, render_text
from dramafactory.factory.progress import SeriesProgress
from dramafactory.factory.run import SharedBackends, factory_limits
from dramafactory.graphs.runner import produce
from dramafactory.schemas import RunSummary, SeriesConcept
from dramafactory.tools.engine import InProcessEngine

from .fakes import FakeImage, FakeSpeech, FakeText

NURSE = "A night-shift nurse discovers the billionaire patient she saved is her runaway father."
MAID = "A maid humiliated at a billionaire's party returns as the CEO who owns his company."
PLANNER = "A wedding planner falls for the groom's brother while planning her ex-fiance's wedding."
CONCEPTS = f"""# two good concepts and one whose episodes are out of range
- {NURSE}
- logline: {MAID}
  genre: revenge
- logline: {PLANNER}
  episodes: 0
"""
FAST = {"seconds_per_episode": 20}


def factory(concepts: Path, out: Path, settings, shared: SharedBackends | None = None, **kwargs) -> tuple[int, str]:
    from dramafactory.factory.cli import run_command

    buffer = io.StringIO()
    shared = shared or SharedBackends(settings, FakeText(), FakeImage(), FakeSpeech())
    code = run_command(concepts, out, settings, parallel=2, overrides=FAST, shared=shared,
                       console=Console(file=buffer, width=200), **kwargs)
    return code, buffer.getvalue()


class CountingFakeImage(FakeImage):
    """The fake renderer, counting the renders in progress at once (across every series that shares it)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.lock, self.now, self.most = threading.Lock(), 0, 0

    def render(self, request):
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            return super().render(request)
        finally:
            with self.lock:
                self.now -= 1


class RecordingEngine(InProcessEngine):
    """The in-process engine, noting which role and series each piece of work came from."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls: list[tuple[str, str]] = []

    def run(self, role, fn, payload, *, series="", stalled=None):
        self.calls.append((role, series))
        return super().run(role, fn, payload, series=series, stalled=stalled)


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    """One factory run over a file of 3 concepts, one bad; the first render of shot e01s02 (whichever series draws
    it first: the fake image backend is shared) comes out black, so one take is retried."""
    root = tmp_path_factory.mktemp("factory")
    (root / "concepts.yaml").write_text(CONCEPTS)
    settings = Settings(_env_file=None, width=180, height=320, fps=8, music=True, qc_people="off")
    image = CountingFakeImage(fail_first={"e01s02": 1})
    shared = SharedBackends(settings, FakeText(), image, FakeSpeech())
    engine = RecordingEngine(shared.resident, factory_limits(2))
    code, output = factory(root / "concepts.yaml", root / "out", settings, shared, engine=engine)
    return {"root": root, "out": root / "out", "code": code, "output": output, "settings": settings,
            "report": json.loads((root / "out" / "factory.json").read_text()), "engine": engine, "image": image}


def test_a_bad_concept_is_reported_and_the_others_finish(three):
    assert three["code"] == 1  # one concept failed its checks
    rows = {r["source"].rsplit(":", 1)[1]: r for r in three["report"]["series"]}
    assert set(rows) == {"2", "3", "5"}  # the YAML lines the concepts start on
    bad = rows["5"]
    assert bad["status"] == "invalid" and "'episodes'" in bad["reason"] and "fix:" in bad["reason"]
    assert "bad concept" in three["output"] and "concepts.yaml:5" in three["output"]
    for line in ("2", "3"):
        row = rows[line]
        assert row["status"] == "finished", row["reason"]
        run_dir = Path(row["run_dir"])
        assert run_dir == three["out"] / row["slug"]
        summary = RunSummary.model_validate_json((run_dir / "summary.json").read_text())
        assert summary.episodes == 1 and (run_dir / "episodes/01/episode.mp4").is_file()
        assert row["minutes"] == pytest.approx(sum(summary.episode_seconds) / 60, abs=1e-4)
        assert row["cost_usd"] == summary.cost_usd
    assert rows["2"]["slug"] == concept_slug(NURSE)
    assert json.loads((three["out"] / rows["3"]["slug"] / "concept.json").read_text())["genre"] == "revenge"


def test_retries_shown_are_the_takes_rendered_again(three):
    retried = {}
    for row in three["report"]["series"][:2]:
        shots = json.loads((Path(row["run_dir"]) / "episodes/01/shots.json").read_text())["shots"]
        retried[row["slug"]] = sum(len(s["takes"]) - 1 for s in shots)
        assert row["retries"] == retried[row["slug"]]
    assert sum(retried.values()) == 1


def test_one_engine_serves_every_series_within_its_bounds(three):
    calls = three["engine"].calls
    run_ids = {(Path(r["run_dir"]) / "run_id").read_text().strip() for r in three["report"]["series"][:2]}
    assert {series for _, series in calls} == run_ids and len(run_ids) == 2  # work keyed by its own series
    assert {"image", "qc"} <= {role for role, _ in calls}
    assert 1 <= three["image"].most <= 2  # renders in flight at once, all series together: the image limit


def test_factory_json_figures_add_up(three):
    report = three["report"]
    totals, rows = report["totals"], report["series"]
    assert totals["concepts"] == 3 and totals["finished"] == 2 and totals["invalid"] == 1
    assert totals["episodes_made"] == sum(r["episodes_made"] for r in rows) == 2
    assert totals["minutes_made"] == pytest.approx(sum(r["minutes_made"] for r in rows), abs=1e-3)
    assert totals["cost_usd"] == pytest.approx(sum(r["cost_usd"] for r in rows if r["cost_usd"] is not None))
    hours = report["wall_seconds"] / 3600
    assert totals["episodes_per_hour"] == pytest.approx(totals["episodes_made"] / hours, rel=1e-3)
    assert totals["finished_minutes_per_hour"] == pytest.approx(totals["minutes_made"] / hours, rel=1e-3)
    assert all(r["wall_seconds"] <= report["wall_seconds"] + 0.01 for r in rows)


def test_the_tables_list_every_series(three):
    text = render_text(final_table(three["report"]))
    for row in three["report"]["series"]:
        assert row["source"] in text
        if row["slug"]:
            assert row["slug"] in text
    assert text.count("finished") >= 2 and "bad concept" in text and "episodes/hour" in text
    assert "factory: 2 of 3 series finished" in three["output"]  # the final table was printed by the command


def test_a_second_run_skips_finished_series(three):
    out = three["out"]
    ledgers = {r["slug"]: (out / r["slug"] / "ledger.jsonl").read_text() for r in three["report"]["series"]
               if r["slug"]}
    code, _ = factory(three["root"] / "concepts.yaml", out, three["settings"])
    assert code == 1  # the bad concept is still bad
    report = json.loads((out / "factory.json").read_text())
    done = [r for r in report["series"] if r["status"] == "finished"]
    assert len(done) == 2 and all(r["resumed"] and r["already_finished"] for r in done)
    assert report["totals"]["episodes_made"] == 0 and report["totals"]["episodes_per_hour"] == 0
    assert all(r["minutes"] > 0 and r["minutes_made"] == 0 for r in done)
    for slug, before in ledgers.items():  # nothing was rendered or re-billed
        assert (out / slug / "ledger.jsonl").read_text() == before
    assert "finished earlier" in render_text(final_table(report))


def test_a_folder_of_concepts_resumes_an_unfinished_series(tmp_path, fast_settings, fake_context):
    folder = tmp_path / "concepts"
    folder.mkdir()
    (folder / "nurse.yaml").write_text(f"logline: {NURSE}\ngenre: family\n")
    (folder / "more.txt").write_text(f"# loglines, one per line\n\n{MAID}\n")
    (folder / "notes.md").write_text("not a concept file")
    out = tmp_path / "out"
    # the nurse series was started earlier and stopped after its shot list (as `produce` leaves a stopped run)
    concept = SeriesConcept(logline=NURSE, genre="family", seconds_per_episode=20)
    first = produce(fake_context(run_dir=out / "nurse"), concept=concept, stop_after="cinematographer")
    assert first.status == "paused"
    bible = (out / "nurse" / "bible.json").read_text()

    code, output = factory(folder, out, fast_settings)
    assert code == 0, output
    rows = {r["slug"]: r for r in json.loads((out / "factory.json").read_text())["series"]}
    assert set(rows) == {"nurse", concept_slug(MAID)}
    assert rows["nurse"]["resumed"] and not rows["nurse"]["already_finished"]
    assert rows["nurse"]["episodes_made"] == 1 and rows[concept_slug(MAID)]["source"].endswith("more.txt:3")
    assert (out / "nurse" / "bible.json").read_text() == bible  # the director did not run again
    ledger = [json.loads(line) for line in (out / "nurse" / "ledger.jsonl").read_text().splitlines()]
    marks = [r["event"] for r in ledger if r["kind"] == "mark" and r["event"] in ("start", "resume")]
    assert marks == ["start", "resume"]  # started once, resumed once by the factory
    assert (out / concept_slug(MAID) / "summary.json").is_file()


def test_a_folder_holding_another_concept_is_not_continued(tmp_path, fast_settings, fake_context):
    out = tmp_path / "out"
    (tmp_path / "c.yaml").write_text(f"id: nurse\nlogline: {NURSE}\n")
    other = SeriesConcept(logline=MAID, seconds_per_episode=20)
    produce(fake_context(run_dir=out / "nurse"), concept=other, stop_after="director")
    code, _ = factory(tmp_path / "c.yaml", out, fast_settings)
    assert code == 1
    row = json.loads((out / "factory.json").read_text())["series"][0]
    assert row["status"] == "failed" and "another concept" in row["reason"] and "fix:" in row["reason"]


def test_a_budget_stops_a_series_and_a_higher_cap_resumes_it(tmp_path, fast_settings):
    (tmp_path / "c.txt").write_text(NURSE + "\n")
    out = tmp_path / "out"
    code, output = factory(tmp_path / "c.txt", out, fast_settings, budget_usd=1e-6)  # far below one series' cost
    assert code == 1
    [row] = json.loads((out / "factory.json").read_text())["series"]
    assert row["status"] == "budget" and "budget" in row["reason"] and "fix:" in row["reason"]
    assert "stopped by budget" in output and not (out / row["slug"] / "summary.json").exists()
    code, _ = factory(tmp_path / "c.txt", out, fast_settings, budget_usd=10.0)
    [row] = json.loads((out / "factory.json").read_text())["series"]
    assert code == 0 and row["status"] == "finished" and row["resumed"] and row["episodes_made"] == 1
    assert factory(tmp_path / "c.txt", out, fast_settings, budget_usd=0.0)[0] == 2  # refused before any work


class StoppingFakeImage(FakeImage):
    """The fake renderer, asking the factory to stop (as Ctrl-C does) when it draws its first take."""

    def __init__(self):
        super().__init__()
        self.factory_run = None

    def render(self, request):
        if self.factory_run is not None:
            self.factory_run.stop("interrupted")
        return super().render(request)


def test_a_stopped_factory_drains_its_series_and_resumes_them(tmp_path, fast_settings):
    from dramafactory.factory.run import FactoryRun, run_factory

    (tmp_path / "c.txt").write_text(f"{NURSE}\n{MAID}\n")
    entries = load_concepts(tmp_path / "c.txt", fast_settings, FAST)
    image = StoppingFakeImage()
    image.factory_run = run = FactoryRun(entries)
    report = run_factory(run, tmp_path / "out", fast_settings,
                         SharedBackends(fast_settings, FakeText(), image, FakeSpeech()), parallel=2)
    assert [r["status"] for r in report["series"]] == ["stopped", "stopped"]
    assert all("interrupted" in r["reason"] and r["episodes_made"] == 0 for r in report["series"])
    code, _ = factory(tmp_path / "c.txt", tmp_path / "out", fast_settings)
    report = json.loads((tmp_path / "out" / "factory.json").read_text())
    assert code == 0 and all(r["resumed"] and r["status"] == "finished" for r in report["series"])


def test_concept_files_in_every_layout(tmp_path, fast_settings):
    golden = Path(__file__).resolve().parents[1] / "evals" / "golden" / "concepts.yaml"
    entries = load_concepts(golden, fast_settings)
    assert [e.slug for e in entries][:2] == ["revenge", "romance"] and all(e.ok for e in entries)
    broken = tmp_path / "broken.yaml"
    broken.write_text("- logline: fine enough as a logline here\n- [unclosed\n")
    [entry] = load_concepts(broken, fast_settings)
    assert not entry.ok and "not valid YAML" in entry.error and entry.source.startswith(f"{broken}:")
    twice = tmp_path / "twice.txt"
    twice.write_text(f"{NURSE}\n{NURSE}\nshort\n")
    first, second, short = load_concepts(twice, fast_settings)
    assert first.ok and "the same concept as" in second.error and "too short" in short.error
    assert short.source == f"{twice}:3"
    french = tmp_path / "fr.yaml"
    french.write_text("logline: Une femme de chambre découvre que son fiancé a piégé son frère.\nlanguage: fr\n")
    assert "language 'fr'" in load_concepts(french, fast_settings)[0].error  # produce's own language check
    with pytest.raises(Exception, match="not found"):
        load_concepts(tmp_path / "missing", fast_settings)


def test_the_command_refuses_a_missing_path(tmp_path):
    import typer

    from dramafactory.factory.cli import factory_command

    app = typer.Typer()
    app.command()(factory_command)
    result = CliRunner().invoke(app, [str(tmp_path / "nothing"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "not found" in result.output and "fix:" in result.output


def test_progress_and_eta_follow_the_events():
    progress = SeriesProgress("s", "f:1", episodes=2)
    progress.begin(0)
    assert progress.snapshot()["eta"] is None  # nothing done yet: no estimate
    events = [{"stage": "director", "status": "done", "title": "T"},
              {"stage": "writer", "status": "start", "episode": 1},
              {"stage": "cinematographer", "status": "done", "episode": 1, "shots": 4},
              {"stage": "render", "status": "start", "shot": "e01s01", "attempt": 1},
              {"stage": "qc", "status": "done", "shot": "e01s01", "attempt": 1, "passed": False},
              {"stage": "render", "status": "start", "shot": "e01s01", "attempt": 2},
              {"stage": "qc", "status": "done", "shot": "e01s01", "attempt": 2, "passed": True}]
    shares = []
    for event in events:
        progress((), "custom", event)
        shares.append(progress.share())
    snap = progress.snapshot()
    assert snap["title"] == "T" and snap["stage"] == "shots" and snap["episode"] == 1
    assert (snap["shots_done"], snap["shots_total"], snap["retries"]) == (1, 4, 1)
    assert shares == sorted(shares) and 0 < shares[-1] < 0.5 and snap["eta"] is not None
    progress((), "custom", {"stage": "qc", "status": "review", "episode": 1})
    progress((), "custom", {"stage": "assemble", "status": "done", "episode": 1})
    assert progress.snapshot()["episodes_done"] == 1 and progress.share() == pytest.approx(0.525)
    progress.finish("finished")
    assert progress.share() == 1.0 and progress.snapshot()["eta"] is None
    board = render_text(FactoryBoard([progress]))
    assert "T" in board and "2/2" in board and "finished" in board
