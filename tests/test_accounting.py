"""Accounting that means its names (docs/accounting.md): CPU time is CPU time, wall time is the run's span, a remote
server is never priced at the local CPU rate, a torn ledger line is skipped and counted, offline flags are scoped."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from dramafactory.graphs.runner import produce
from dramafactory.schemas import RunSummary
from dramafactory.tools.accounting import measure, price_rows
from dramafactory.tools.ledger import Ledger

SHOT = json.dumps({"id": "e01s02", "episode": 1, "scene": 1, "index": 1, "framing": "medium", "duration_s": 2.0,
                   "characters": ["Mira Chen"], "location": "office", "time_of_day": "night", "action": "waits",
                   "prompt": "medium shot of Mira Chen", "seed": 7})


def _burn(cpu_seconds: float) -> None:
    """Spin until this thread has used `cpu_seconds` of CPU (by CPU time, so a loaded machine cannot shorten it)."""
    end = time.thread_time() + cpu_seconds
    while time.thread_time() < end:
        pass


def test_thread_cpu_time_is_not_wall_time():
    with measure("thread") as idle:
        time.sleep(0.3)
    assert idle.wall_seconds >= 0.3 and idle.cpu_seconds < 0.05
    with measure("thread") as busy:
        _burn(0.1)
    assert busy.cpu_seconds >= 0.1 and busy.wall_seconds >= busy.cpu_seconds


def test_thread_scope_excludes_other_threads_and_process_scope_includes_them():
    worker = threading.Thread(target=_burn, args=(0.3,))
    with measure("thread") as mine, measure("process") as everyone:
        worker.start()
        worker.join()
    assert mine.cpu_seconds < 0.1 and everyone.cpu_seconds >= 0.3


def test_summary_figures_mean_their_names(fake_context, concept):
    ctx = fake_context()
    produce(ctx, concept=concept, seed=7)
    summary = RunSummary.model_validate_json((ctx.run_dir / "summary.json").read_text())
    rows = [json.loads(x) for x in (ctx.run_dir / "ledger.jsonl").read_text().splitlines()]
    assert all(r["run_id"] == summary.run_id and r["device"]["cores"] >= 1 for r in rows)
    assert summary.wall_seconds == pytest.approx(max(r["ts"] for r in rows) - min(r["started"] for r in rows),
                                                 abs=0.01)
    assert summary.cpu_seconds <= summary.wall_seconds * summary.device["cores"]
    assert summary.gpu_seconds == 0.0 and all(r["gpu_seconds"] == 0.0 for r in rows if not r["remote"])
    render = [r for r in rows if r["stage"] == "render"]
    assert render and all(r["cpu_scope"] == "thread" for r in render)
    assert {r.get("event") for r in rows if r["kind"] == "mark"} == {"start", "summary"}


def test_a_resumed_run_keeps_its_run_id(fake_context, concept):
    ctx = fake_context()
    produce(ctx, concept=concept, seed=7, stop_after="writer")
    first = Ledger(ctx.run_dir / "ledger.jsonl").rows()
    again = fake_context()  # a new process's context on the same folder
    produce(again, concept=None, resume=True)
    rows = Ledger(ctx.run_dir / "ledger.jsonl").rows()
    assert len(rows) > len(first) and {r["run_id"] for r in rows} == {first[0]["run_id"]}


def test_remote_calls_are_priced_by_tokens_or_counted_unpriced():
    rows = [{"stage": "writer.line", "kind": "call", "remote": True, "cpu_seconds": 0.01, "cpu_scope": "thread",
             "gpu_seconds": None,
             "tokens": 2000, "seconds": 3.0},
            {"stage": "render", "kind": "call", "remote": False, "cpu_seconds": 36.0, "cpu_scope": "thread",
             "gpu_seconds": 0.0,
             "tokens": 0, "seconds": 40.0}]
    unpriced = price_rows(rows, cpu_hour_usd=1.0, gpu_hour_usd=2.0, remote_usd_per_mtok=None)
    assert unpriced.usd == pytest.approx(0.01) and unpriced.unpriced_calls == 1  # 36 s of local CPU only
    priced = price_rows(rows, cpu_hour_usd=1.0, gpu_hour_usd=2.0, remote_usd_per_mtok=500.0)
    assert priced.usd == pytest.approx(0.01 + 1.0) and priced.unpriced_calls == 0


def test_rows_from_before_cpu_scopes_are_not_billed_as_cpu():
    """An old run's ledger wrote wall time into cpu_seconds; resumed, those rows must not become CPU cost."""
    old = {"stage": "render", "kind": "call", "cpu_seconds": 30.0, "seconds": 30.0}
    new = {"stage": "render", "kind": "call", "cpu_seconds": 3.0, "cpu_scope": "thread", "seconds": 30.0}
    costs = price_rows([old, new], cpu_hour_usd=3600.0, gpu_hour_usd=0.0, remote_usd_per_mtok=None)
    assert costs.cpu_seconds == 3.0 and costs.usd == pytest.approx(3.0)


def test_a_retake_says_what_changed_before_the_renderer_s_own_fixes():
    from dramafactory.graphs.shots import _changes
    from dramafactory.schemas import Shot

    shot = Shot.model_validate(json.loads(SHOT))
    state = {"shot": shot.model_dump(mode="json")}
    assert _changes(shot, state, 1, None) == []
    reseeded = shot.model_copy(update={"seed": shot.seed + 1})
    assert _changes(reseeded, state, 2, "too dark") == ["seed"]
    assert _changes(shot, state, 3, None) == ["seed", "prompt"]  # a person's edit: new prompt and seed in the Send


def test_a_torn_ledger_line_is_skipped_and_reported(tmp_path):
    ledger = Ledger(tmp_path / "ledger.jsonl")
    ledger.record(stage="render", backend="b", model="m", seconds=1.0, cpu_seconds=0.5, cpu_scope="thread")
    with ledger.path.open("a") as handle:
        handle.write('{"stage": "render", "back')  # a crash mid-write
    ledger.record(stage="qc", backend="b", model="m", seconds=1.0)
    rows = ledger.rows()
    assert [r["stage"] for r in rows] == ["render", "qc"] and ledger.torn_lines == 1


def test_loading_the_packaged_embeddings_leaves_the_hub_settings_alone(monkeypatch):
    from dramafactory.memory import embeddings

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(embeddings, "_MODELS", {})
    vectors = embeddings.PackagedMiniLM()(["a red coat"])
    assert len(vectors[0]) == 384
    assert "HF_HUB_OFFLINE" not in os.environ and "TRANSFORMERS_OFFLINE" not in os.environ


def test_the_ledger_keeps_its_file_open_and_keeps_rows_apart_from_a_torn_line(tmp_path):
    path = tmp_path / "ledger.jsonl"
    ledger = Ledger(path, run_id="r")
    ledger.record(stage="render", backend="b", model="m", seconds=0.1)
    handle = ledger._handle
    ledger.record(stage="qc", backend="b", model="m", seconds=0.1)
    assert ledger._handle is handle  # one open for both rows
    with path.open("ab") as other:  # another process appends and dies mid-line
        other.write(b'{"stage": "render", "torn')
    ledger.record(stage="assemble", backend="b", model="m", seconds=0.1)
    assert [r["stage"] for r in ledger.rows()] == ["render", "qc", "assemble"] and ledger.torn_lines == 1
    ledger.close()
    path.write_text('{"stage": "x", "torn', encoding="utf-8")  # torn before the next open
    ledger.record(stage="music", backend="b", model="m", seconds=0.1)  # after close(): opened again
    assert ledger._handle is not handle
    assert [r["stage"] for r in Ledger(path).rows()] == ["music"]
    ledger.close()
