"""The HTTP API with the real app (FastAPI TestClient) and fake backends: create → checkpoint → edit → resume →
finished, shot review, cancel and resume, auth and tenancy, bad input, and a restart of the service mid-run."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from dramafactory.api.app import create_app
from dramafactory.memory.characters import CharacterMemory

from .api_support import CONCEPT, KEYS, api_settings, auth, fake_factory, free_port, start_api_server, wait_for
from .fakes import FakeSpeech, FakeText

PAUSED_OR_DONE = {"waiting_review", "finished", "failed", "cancelled"}
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def client(tmp_path):
    with TestClient(create_app(api_settings(tmp_path / "data"), context_factory=fake_factory())) as c:
        yield c


def start(client, headers=None, **checkpoints) -> str:
    response = client.post("/series", json={**CONCEPT, "checkpoints": checkpoints}, headers=headers or auth())
    assert response.status_code == 202, response.text
    return response.json()["id"]


def review_of(client, run: dict) -> dict:
    assert run["status"] == "waiting_review" and run["review"], run
    return client.get(f"/reviews/{run['review']}", headers=auth()).json()


def render_rows(run_dir: Path, stage: str = "render") -> list[dict]:
    rows = []
    for line in (run_dir / "ledger.jsonl").read_text().splitlines():
        try:  # the test may read while a line is being appended
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    # calls only: a reused take ("reuse") and a refused commit ("discarded") share the render stage
    return [r for r in rows if r["stage"] == stage and r.get("kind", "call") == "call"]


def test_bible_edit_then_script_approval_runs_to_a_finished_episode(client, tmp_path):
    run_id = start(client, bible=True, scripts=True)
    run = wait_for(client, run_id, PAUSED_OR_DONE, auth())
    review = review_of(client, run)
    assert review["kind"] == "bible" and review["status"] == "pending"
    assert client.get("/reviews", headers=auth()).json()[0]["id"] == review["id"]

    bible = review["payload"]["bible"]
    lead = bible["characters"][0]
    lead["wardrobe"] = "a sea-green raincoat"  # the reviewer re-dresses the lead
    lead["look"]["palette"][0] = "#2e8b57"
    answer = client.post(f"/reviews/{review['id']}", json={"action": "edit", "bible": bible}, headers=auth())
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "decided"

    run = wait_for(client, run_id, PAUSED_OR_DONE, auth())
    script_review = review_of(client, run)
    assert script_review["kind"] == "script" and script_review["episode"] == 1
    assert client.post(f"/reviews/{script_review['id']}", json={"action": "approve"},
                       headers=auth()).status_code == 202

    run = wait_for(client, run_id, {"finished", "failed"}, auth())
    assert run["status"] == "finished", run["error"]
    run_dir = tmp_path / "data" / "tenants" / "acme" / "runs" / run_id
    saved = json.loads((run_dir / "bible.json").read_text())
    assert saved["characters"][0]["look"]["palette"][0] == "#2e8b57"
    # the edit reached the continuity memory, which prompts and QC read the canonical looks from
    canonical = CharacterMemory(run_dir / "memory").canonical(saved["title"], lead["name"])
    assert canonical.look.palette[0] == "#2e8b57" and canonical.wardrobe == "a sea-green raincoat"
    shots = json.loads((run_dir / "episodes" / "01" / "shotlist.json").read_text())["shots"]
    assert all("sea-green raincoat" in s["prompt"] for s in shots if lead["name"] in s["characters"])
    assert {"director", "writer", "cinematographer", "shots", "voices", "assemble"} <= \
        {s["stage"] for s in run["timeline"]}
    assert all(s["seconds"] is not None for s in run["timeline"])
    assert run["episodes"][0]["assembled"] and run["episodes"][0]["shots"] > 0
    assert run["figures"]["text_calls"] > 0 and run["figures"]["tokens"] > 0
    assert run["summary"]["episodes"] == 1
    paths = {a["path"]: a for a in client.get(f"/series/{run_id}/artifacts", headers=auth()).json()}
    assert paths["episodes/01/episode.mp4"]["content_type"] == "video/mp4"
    assert paths["episodes/01/episode.srt"]["content_type"] == "application/x-subrip"
    assert not any(p.startswith("memory/") or p.endswith(".lock") for p in paths)
    part = client.get(f"/series/{run_id}/artifacts/episodes/01/episode.mp4",
                      headers={**auth(), "Range": "bytes=0-1023"})
    assert part.status_code == 206 and len(part.content) == 1024
    assert part.headers["content-range"].startswith("bytes 0-1023/")
    decided = client.get("/reviews", params={"status": "decided"}, headers=auth()).json()
    assert [r["kind"] for r in decided] == ["bible", "script"]


class NoteRecordingText(FakeText):
    asks: list[str] = []

    def complete_json(self, request):
        NoteRecordingText.asks.append(request.messages[-1][1])
        return super().complete_json(request)


def test_a_rejected_bible_is_redone_with_the_note(tmp_path):
    from dramafactory.graphs.backends import build_context

    from .api_support import SlowFakeImage

    NoteRecordingText.asks = []
    factory = lambda run_dir, settings: build_context(run_dir, settings, text=NoteRecordingText(),  # noqa: E731
                                                      image=SlowFakeImage(), speech=FakeSpeech())
    with TestClient(create_app(api_settings(tmp_path / "data"), context_factory=factory)) as client:
        run_id = start(client, bible=True)
        first = review_of(client, wait_for(client, run_id, PAUSED_OR_DONE, auth()))
        assert not any("Give the lead a dog" in a for a in NoteRecordingText.asks)
        answer = client.post(f"/reviews/{first['id']}", json={"action": "reject", "note": "Give the lead a dog."},
                             headers=auth())
        assert answer.status_code == 202
        second = review_of(client, wait_for(client, run_id, PAUSED_OR_DONE, auth()))
        assert second["id"] != first["id"] and second["kind"] == "bible"
        assert second["payload"]["revision"] == 1
        assert any("Give the lead a dog." in a for a in NoteRecordingText.asks)  # every ask of the redo has it
        assert second["payload"]["bible"]["characters"] != first["payload"]["bible"]["characters"]  # drawn again
        client.post(f"/reviews/{second['id']}", json={"action": "approve"}, headers=auth())
        assert wait_for(client, run_id, {"finished", "failed"}, auth())["status"] == "finished"


def test_a_shot_qc_cannot_fix_waits_for_a_person_who_rejects_then_approves(tmp_path):
    factory = fake_factory(fail_first={"e01s03": 99})
    with TestClient(create_app(api_settings(tmp_path / "data"), context_factory=factory)) as client:
        run_id = start(client, shots=True)
        review = review_of(client, wait_for(client, run_id, PAUSED_OR_DONE, auth()))
        assert review["kind"] == "shots"
        [flagged] = review["payload"]["shots"]
        assert flagged["shot"] == "e01s03" and len(flagged["takes"]) == flagged["attempts"] >= 2
        assert all(t["qc"]["passed"] is False and t["qc"]["scores"] for t in flagged["takes"])
        # a decision about a shot that is not waiting is refused, and changes nothing
        wrong = client.post(f"/reviews/{review['id']}", json={"action": "approve", "shots": {
            "e01s01": {"action": "approve"}}}, headers=auth())
        assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["body", "shots", "e01s01"]
        assert client.get(f"/reviews/{review['id']}", headers=auth()).json()["status"] == "pending"

        answer = client.post(f"/reviews/{review['id']}", json={"action": "approve", "shots": {
            "e01s03": {"action": "reject", "note": "her face is hidden; frame her face"}}}, headers=auth())
        assert answer.status_code == 202
        again = review_of(client, wait_for(client, run_id, PAUSED_OR_DONE, auth()))
        [shot] = again["payload"]["shots"]
        assert shot["attempts"] == flagged["attempts"] + 1  # rendered once more, with the note
        assert "frame her face" in shot["takes"][-1]["prompt"]
        client.post(f"/reviews/{again['id']}", json={"action": "approve"}, headers=auth())
        run = wait_for(client, run_id, {"finished", "failed"}, auth())
        assert run["status"] == "finished"
        queue = client.get(f"/series/{run_id}/artifacts/review_queue.json", headers=auth()).json()
        assert queue == []  # approved by a person, no longer waiting


def test_cancel_then_resume_keeps_finished_work(tmp_path):
    with TestClient(create_app(api_settings(tmp_path / "data"),
                               context_factory=fake_factory(delay=0.4))) as client:
        run_id = start(client)
        deadline = time.monotonic() + 60
        while client.get(f"/series/{run_id}", headers=auth()).json()["figures"]["renders"] < 2:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert client.post(f"/series/{run_id}/cancel", headers=auth()).status_code == 202
        run = wait_for(client, run_id, {"cancelled", "finished"}, auth())
        assert run["status"] == "cancelled"
        run_dir = tmp_path / "data" / "tenants" / "acme" / "runs" / run_id
        rendered = {r["shot"] for r in render_rows(run_dir)}
        assert client.post(f"/series/{run_id}/cancel", headers=auth()).status_code == 409  # already ended
        assert client.post(f"/series/{run_id}/resume", headers=auth()).status_code == 202
        run = wait_for(client, run_id, {"finished", "failed"}, auth())
        assert run["status"] == "finished", run["error"]
        rows = render_rows(run_dir)
        for shot in rendered:  # a shot rendered before the cancel is not rendered again
            assert sum(r["shot"] == shot for r in rows) == 1
        assert client.post(f"/series/{run_id}/resume", headers=auth()).status_code == 409


def test_auth_and_tenancy(client):
    assert client.get("/health").status_code == 200  # public
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/series").status_code == 401
    assert client.get("/series").headers["www-authenticate"] == "Bearer"
    assert client.get("/series", headers={"Authorization": "Bearer not-a-key"}).status_code == 403
    run_id = start(client, bible=True)
    run = wait_for(client, run_id, PAUSED_OR_DONE, auth())
    other = auth("globex")
    assert client.get(f"/series/{run_id}", headers=other).status_code == 404  # not revealed to another tenant
    assert client.get(f"/series/{run_id}/artifacts", headers=other).status_code == 404
    assert client.get(f"/series/{run_id}/artifacts/bible.json", headers=other).status_code == 404
    assert client.post(f"/series/{run_id}/cancel", headers=other).status_code == 404
    assert client.get(f"/reviews/{run['review']}", headers=other).status_code == 404
    assert client.post(f"/reviews/{run['review']}", json={"action": "approve"}, headers=other).status_code == 404
    assert client.get("/reviews", headers=other).json() == []
    assert client.get("/series", headers=other).json() == []
    assert client.get(f"/reviews/{run['review']}", headers=auth()).json()["status"] == "pending"  # unchanged
    assert [r["id"] for r in client.get("/series", headers=auth()).json()] == [run_id]


def test_bad_input_is_a_clear_4xx_and_changes_nothing(client, tmp_path):
    short = client.post("/series", json={**CONCEPT, "logline": "a nurse"}, headers=auth())
    assert short.status_code == 422 and short.json()["detail"][0]["loc"] == ["body", "logline"]
    many = client.post("/series", json={**CONCEPT, "episodes": 1000}, headers=auth())
    assert many.status_code == 422 and many.json()["detail"][0]["loc"] == ["body", "episodes"]
    extra = client.post("/series", json={**CONCEPT, "budget": 5}, headers=auth())
    assert extra.status_code == 422 and extra.json()["detail"][0]["loc"] == ["body", "budget"]
    huge = client.post("/series", content=b'{"logline": "' + b"x" * 2_000_000 + b'"}',
                       headers={**auth(), "Content-Type": "application/json"})
    assert huge.status_code == 413
    assert client.post("/series", content=b"{not json", headers={**auth(), "Content-Type": "application/json"}
                       ).status_code == 422
    assert client.get("/series", headers=auth()).json() == []  # none of these started a run

    assert client.get("/series/nope", headers=auth()).status_code == 404
    assert client.get("/reviews/nope", headers=auth()).status_code == 404
    assert client.post("/reviews/nope", json={"action": "approve"}, headers=auth()).status_code == 404

    run_id = start(client, bible=True)
    run = wait_for(client, run_id, PAUSED_OR_DONE, auth())
    review = review_of(client, run)
    bible_before = (tmp_path / "data" / "tenants" / "acme" / "runs" / run_id / "bible.json").read_text()
    broken = json.loads(json.dumps(review["payload"]["bible"]))
    broken["characters"][1]["age"] = -4
    bad = client.post(f"/reviews/{review['id']}", json={"action": "edit", "bible": broken}, headers=auth())
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "bible", "characters", "1", "age"]
    no_note = client.post(f"/reviews/{review['id']}", json={"action": "reject"}, headers=auth())
    assert no_note.status_code == 422 and "note" in no_note.text
    wrong_kind = client.post(f"/reviews/{review['id']}", json={"action": "edit", "script": {"episode": 1}},
                             headers=auth())
    assert wrong_kind.status_code == 422
    # nothing changed: the review waits, the run waits, the bible is as written
    assert client.get(f"/reviews/{review['id']}", headers=auth()).json()["status"] == "pending"
    assert client.get(f"/series/{run_id}", headers=auth()).json()["status"] == "waiting_review"
    assert (tmp_path / "data" / "tenants" / "acme" / "runs" / run_id / "bible.json").read_text() == bible_before
    assert client.post(f"/series/{run_id}/resume", headers=auth()).status_code == 409  # answer the review instead

    assert client.post(f"/reviews/{review['id']}", json={"action": "approve"}, headers=auth()).status_code == 202
    second = client.post(f"/reviews/{review['id']}", json={"action": "approve"}, headers=auth())
    assert second.status_code == 409 and "already decided" in second.json()["detail"]
    assert wait_for(client, run_id, {"finished", "failed"}, auth())["status"] == "finished"


def postgres_schema() -> str:
    """A fresh schema in the PostgreSQL every dev and CI machine runs (127.0.0.1:5432, database test): a URL that
    keeps the service's tables and checkpoints in it, so tests never collide."""
    import uuid

    import psycopg

    schema = f"df_test_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(POSTGRES, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            raise  # CI has PostgreSQL: its absence is a failure there
        pytest.skip(f"no PostgreSQL at {POSTGRES}: {exc}")
    return schema


POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request):
    if request.param == "sqlite":
        yield None
        return
    import psycopg

    schema = postgres_schema()
    yield f"{POSTGRES}?options=-csearch_path%3D{schema}"
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        tables = {r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema "
                                             "= %s", (schema,))}
        conn.execute(f"DROP SCHEMA {schema} CASCADE")
    assert {"df_runs", "df_reviews", "checkpoints", "checkpoint_writes"} <= tables  # all of it in one database


def test_a_waiting_review_survives_a_restart(tmp_path, database_url):
    settings = api_settings(tmp_path / "data", database_url=database_url)
    with TestClient(create_app(settings, context_factory=fake_factory())) as client:
        run_id = start(client, bible=True)
        review = review_of(client, wait_for(client, run_id, PAUSED_OR_DONE, auth()))
    with TestClient(create_app(settings, context_factory=fake_factory())) as client:  # a new service process
        assert [r["id"] for r in client.get("/reviews", headers=auth()).json()] == [review["id"]]
        assert client.post(f"/reviews/{review['id']}", json={"action": "approve"}, headers=auth()).status_code == 202
        assert wait_for(client, run_id, {"finished", "failed"}, auth())["status"] == "finished"


def test_a_service_killed_mid_run_resumes_from_the_checkpointer(tmp_path, database_url):
    """kill -9 of the server process while shots render; a new service finds the run and finishes it without
    rendering again the shots that were done."""
    data_dir, port = tmp_path / "data", free_port()
    server = start_api_server(data_dir, port, database_url)
    deadline = time.monotonic() + 60
    try:
        base = f"http://127.0.0.1:{port}"
        run_id = httpx.post(f"{base}/series", json=CONCEPT, headers=auth(), timeout=10).json()["id"]
        ledger = data_dir / "tenants" / "acme" / "runs" / run_id / "ledger.jsonl"
        while not ledger.is_file() or len(render_rows(ledger.parent, "qc")) < 3:
            assert time.monotonic() < deadline + 60
            time.sleep(0.05)
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()
    run_dir = data_dir / "tenants" / "acme" / "runs" / run_id
    # a render's ledger row is written just before LangGraph saves the render, so the render in flight at the kill
    # may run again; a shot whose QC ran had its render saved (durability "sync": each step before the next)
    before = {r["shot"] for r in render_rows(run_dir, "qc")}
    assert 3 <= len(before)
    settings = api_settings(data_dir, database_url=database_url)
    with TestClient(create_app(settings, context_factory=fake_factory())) as client:
        assert client.get(f"/series/{run_id}", headers=auth()).json()["status"] in ("queued", "running", "finished")
        run = wait_for(client, run_id, {"finished", "failed"}, auth())
        assert run["status"] == "finished", run["error"]
    rows = render_rows(run_dir)
    for shot in before:
        assert sum(r["shot"] == shot for r in rows) == 1, f"{shot} was rendered again after the restart"
    assert {r["shot"] for r in rows} > before


def test_server_sent_events_resume_after_the_last_id(client):
    run_id = start(client)
    wait_for(client, run_id, {"finished", "failed"}, auth())
    text = client.get(f"/series/{run_id}/events", params={"follow": "false"}, headers=auth()).text
    ids = [int(line[4:]) for line in text.splitlines() if line.startswith("id: ")]
    assert ids == list(range(1, len(ids) + 1)) and len(ids) > 10
    rest = client.get(f"/series/{run_id}/events", params={"follow": "false"},
                      headers={**auth(), "Last-Event-ID": str(ids[-3])}).text
    assert [int(line[4:]) for line in rest.splitlines() if line.startswith("id: ")] == ids[-2:]
    assert "event: status" in rest and '"finished"' in rest
    assert os.environ.get("DRAMAFACTORY_API_KEYS") is None or KEYS  # the tests never read the operator's keys


def test_edits_that_would_break_the_run_later_are_refused(client):
    run_id = start(client, bible=True, scripts=True)
    bible_review = review_of(client, wait_for(client, run_id, PAUSED_OR_DONE, auth()))
    bible = json.loads(json.dumps(bible_review["payload"]["bible"]))
    bible["characters"][0]["voice"] = {**bible["characters"][0]["voice"], "engine": "piper",
                                       "voice_id": "/etc/some/model.onnx"}  # a file on the server
    refused = client.post(f"/reviews/{bible_review['id']}", json={"action": "edit", "bible": bible}, headers=auth())
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "bible", "characters", "0", "voice"]
    client.post(f"/reviews/{bible_review['id']}", json={"action": "approve"}, headers=auth())

    script_review = review_of(client, wait_for(client, run_id, PAUSED_OR_DONE, auth()))
    cases = {  # each edit, and the field it must be refused at
        "id": lambda line, scene: line.update(id="../../../../other/audio/x"),
        "speaker": lambda line, scene: line.update(speaker=next(
            c["name"] for c in bible_review["payload"]["bible"]["characters"] if c["name"] not in scene["characters"])),
    }
    for field, change in cases.items():
        script = json.loads(json.dumps(script_review["payload"]["script"]))
        scene = script["scenes"][0]
        line = scene["beats"][0]["lines"][0]
        change(line, scene)
        answer = client.post(f"/reviews/{script_review['id']}", json={"action": "edit", "script": script},
                             headers=auth())
        assert answer.status_code == 422, field
        assert answer.json()["detail"][0]["loc"] == ["body", "script", "scenes", "0", "beats", "0", "lines", "0",
                                                     field]
    script = json.loads(json.dumps(script_review["payload"]["script"]))
    lines = script["scenes"][0]["beats"][0]["lines"]
    lines.extend({**lines[0], "id": f"x{n}"} for n in range(3 * len(script_review["payload"]["script"]["scenes"]) * 20))
    too_long = client.post(f"/reviews/{script_review['id']}", json={"action": "edit", "script": script},
                           headers=auth())
    assert too_long.status_code == 422 and "at most" in too_long.json()["detail"][0]["msg"]
    assert client.get(f"/reviews/{script_review['id']}", headers=auth()).json()["status"] == "pending"


def test_a_decision_outlives_a_stop_before_the_run_resumed(tmp_path):
    """The person decided, and the service stopped before a worker resumed the run: the review row holds the
    decision, and the next start resumes the run with it (here a reject, so the bible is drawn again)."""
    settings = api_settings(tmp_path / "data")
    app = create_app(settings, context_factory=fake_factory())
    with TestClient(app) as client:
        run_id = start(client, bible=True)
        review = review_of(client, wait_for(client, run_id, PAUSED_OR_DONE, auth()))
        store = app.state.service.store  # what POST /reviews records, without the hand-over to a worker
        assert store.decide_review(review["id"], {"action": "reject", "note": "Older lead, please."})
        assert store.update_run(run_id, status="queued", only_if=("waiting_review",))
        app.state.service.close()
    with TestClient(create_app(settings, context_factory=fake_factory())) as client:
        run = wait_for(client, run_id, PAUSED_OR_DONE, auth())
        again = review_of(client, run)
        assert again["id"] != review["id"] and again["payload"]["revision"] == 1  # the reject was applied
        decided = client.get(f"/reviews/{review['id']}", headers=auth()).json()
        assert decided["status"] == "decided" and decided["decision"]["note"] == "Older lead, please."


def test_two_decisions_at_once_one_wins(client):
    from concurrent.futures import ThreadPoolExecutor

    run_id = start(client, bible=True)
    review = review_of(client, wait_for(client, run_id, PAUSED_OR_DONE, auth()))
    bodies = [{"action": "approve"}, {"action": "reject", "note": "Make it a comedy."}] * 4
    with ThreadPoolExecutor(8) as pool:
        codes = sorted(pool.map(lambda body: client.post(f"/reviews/{review['id']}", json=body,
                                                          headers=auth()).status_code, bodies))
    assert codes == [202] + [409] * 7
    decided = client.get(f"/reviews/{review['id']}", headers=auth()).json()
    run = wait_for(client, run_id, PAUSED_OR_DONE, auth())
    # the run went on with the one decision that was recorded
    assert run["status"] == ("finished" if decided["decision"]["action"] == "approve" else "waiting_review")
