"""Each clip attempt committed exactly once through the shot ledger (graphs/clips.py, graphs/work.py animate_clip):
a clip node run again after its checkpoint was lost reuses every committed clip, a truncated clip is animated
again, and a stale attempt's late commit is refused and its file deleted. The video backend is a fake that pans
the keyframe into a real MP4 (no diffusers pipeline)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select, update

from dramafactory.config import Settings
from dramafactory.graphs.backends import build_context
from dramafactory.graphs.runner import produce
from dramafactory.graphs.work import animate_clip, clip_ledger_key, clip_parts, clip_request_to_json
from dramafactory.schemas import SeriesConcept, Shot
from dramafactory.tools.durable import CoordinationDB, file_sha256
from dramafactory.tools.durable.db import shots as shots_table
from dramafactory.tools.durable.shots import ShotLedger, take_id
from dramafactory.tools.video.base import ClipRequest, ClipResult, motion_prompt

from .fakes import FakeImage, FakeSpeech, FakeText, pan_clip

SETTINGS = dict(width=180, height=320, fps=8, music=False, qc_people="off")
CONCEPT = SeriesConcept(logline="A night-shift nurse discovers the billionaire patient she saved is her runaway "
                                "father.", genre="family", episodes=1, seconds_per_episode=20)


class FakePanVideo:
    """A fake video backend: pans the keyframe one pixel a frame at 8 fps for the shot's length, written as a real
    MP4, and notes each clip it animates (its output file). `during` runs inside the first animation, before the
    file is written (a test's stand-in for what happens meanwhile elsewhere)."""

    name = "fake-video"
    model = "fake-i2v"
    version = "fake 1"

    def __init__(self, during=None):  # noqa: ANN001
        self.made: list[str] = []
        self.during = during

    def animate(self, request: ClipRequest) -> ClipResult:
        if self.during is not None:
            during, self.during = self.during, None
            during()
        clip = pan_clip(request, self.name, self.model)
        self.made.append(request.out_path.name)
        return clip


def make_context(run_dir: Path, video: FakePanVideo):
    return build_context(run_dir, Settings(_env_file=None, **SETTINGS), text=FakeText(), image=FakeImage(),
                         speech=FakeSpeech(), video=video)


def clip_rows(run_dir: Path, kind: str | None = None) -> list[dict]:
    rows = [json.loads(x) for x in (run_dir / "ledger.jsonl").read_text().splitlines() if x.strip()]
    return [r for r in rows if r["stage"] == "clip" and (kind is None or r["kind"] == kind)]


def ledger_clips(run_dir: Path) -> list[dict]:
    db = CoordinationDB.for_run_dir(run_dir)
    with db.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(select(shots_table)).mappings()]
    return [r for r in rows if r["shot_id"].startswith("clip:")]


def final_clips(run_dir: Path) -> list[dict]:
    return [a for s in json.loads((run_dir / "episodes/01/shots.json").read_text())["shots"] if s["clip"]
            for a in s["clip"]["attempts"]]


@pytest.fixture(scope="module")
def clipped(tmp_path_factory) -> tuple[Path, bytes]:
    """A finished run with clips, and its checkpoints of before the clips (after the voices)."""
    run_dir = tmp_path_factory.mktemp("clip-ledger") / "run"
    outcome = produce(make_context(run_dir, FakePanVideo()), concept=CONCEPT, seed=7, stop_after="voices")
    assert outcome.status == "paused"
    before = (run_dir / "state.sqlite").read_bytes()
    first = FakePanVideo()
    assert produce(make_context(run_dir, first), concept=None, resume=True).status == "finished"
    assert first.made
    return run_dir, before


def lose_the_clip_checkpoints(clipped: tuple[Path, bytes], where: Path) -> Path:
    """A copy of the finished run with the checkpoints of before the clips put back: what a process killed after
    its clip commits and before the clip nodes' checkpoint writes leaves behind."""
    source, before = clipped
    run_dir = where / "run"
    shutil.copytree(source, run_dir)
    (run_dir / "state.sqlite").write_bytes(before)
    (run_dir / "summary.json").unlink()
    return run_dir


def test_every_clip_attempt_is_committed_once_with_its_take_id(clipped):
    run_dir, _ = clipped
    calls = clip_rows(run_dir, "call")
    rows = ledger_clips(run_dir)
    assert len(calls) == len(rows) == len(final_clips(run_dir)) and all(r["state"] == "done" for r in rows)
    assert {r["take_id"] for r in rows} == {r["take_id"] for r in calls} and len({r["take_id"] for r in rows}) == len(rows)
    for clip in final_clips(run_dir):  # the clip used is the committed file, intact, at a path of its own claim
        row = next(r for r in rows if r["output"] == clip["path"])
        assert row["output"].endswith(f".c{row['attempt']}.mp4")
        assert file_sha256(run_dir / row["output"]) == row["sha256"]


def test_a_clip_node_run_again_reuses_every_committed_clip(clipped, tmp_path):
    run_dir = lose_the_clip_checkpoints(clipped, tmp_path)
    calls = clip_rows(run_dir, "call")
    again = FakePanVideo()
    assert produce(make_context(run_dir, again), concept=None, resume=True).status == "finished"
    assert again.made == [], "a committed clip must not be animated again"
    reused = clip_rows(run_dir, "reuse")
    assert sorted(r["take_id"] for r in reused) == sorted(r["take_id"] for r in calls)
    assert all(r["seconds"] == 0 for r in reused)
    assert len(clip_rows(run_dir, "call")) == len(calls)  # billed once
    assert {c["path"] for c in final_clips(run_dir)} == {r["output"] for r in ledger_clips(run_dir)}
    assert all(r["reused"] == 1 for r in ledger_clips(run_dir))


def test_a_clip_committed_by_a_process_killed_before_its_row_is_billed_once_on_resume(clipped, tmp_path):
    run_dir = lose_the_clip_checkpoints(clipped, tmp_path)
    lost = clip_rows(run_dir, "call")[0]["take_id"]
    ledger = run_dir / "ledger.jsonl"
    kept = [line for line in ledger.read_text().splitlines() if json.loads(line).get("take_id") != lost]
    ledger.write_text("\n".join(kept) + "\n")
    again = FakePanVideo()
    assert produce(make_context(run_dir, again), concept=None, resume=True).status == "finished"
    assert again.made == []
    recovered = [r for r in clip_rows(run_dir) if r.get("recovered")]
    assert [r["take_id"] for r in recovered] == [lost] and recovered[0]["kind"] == "call"
    assert recovered[0]["seconds"] > 0


def test_a_truncated_clip_is_found_by_its_hash_and_animated_again(clipped, tmp_path):
    run_dir = lose_the_clip_checkpoints(clipped, tmp_path)
    damaged = ledger_clips(run_dir)[0]
    path = run_dir / damaged["output"]
    path.write_bytes(path.read_bytes()[:100])  # a crash or a full disk cut it short
    again = FakePanVideo()
    assert produce(make_context(run_dir, again), concept=None, resume=True).status == "finished"
    row = next(r for r in ledger_clips(run_dir) if (r["shot_id"], r["take"]) == (damaged["shot_id"], damaged["take"]))
    assert again.made == [Path(row["output"]).name]  # that one only, the others reused
    assert row["corrupt"] == 1 and row["attempt"] == damaged["attempt"] + 1 and row["output"] != damaged["output"]
    assert file_sha256(run_dir / row["output"]) == row["sha256"]
    assert row["output"] in {c["path"] for c in final_clips(run_dir)}
    animated = [r for r in clip_rows(run_dir, "call") if r["take_id"] == damaged["take_id"]]
    assert len(animated) == 2  # the same content, animated anew


# --- the work function alone ---------------------------------------------------------------------------------------

def _work(tmp_path: Path) -> tuple[Path, dict, ShotLedger]:
    root = tmp_path / "run"
    keyframe = root / "episodes/01/takes/e01s01_a1.c1.png"
    keyframe.parent.mkdir(parents=True)
    Image.fromarray(np.random.default_rng(1).integers(40, 200, (320, 180, 3), dtype=np.uint8)).save(keyframe)
    shot = Shot(id="e01s01", episode=1, scene=1, index=0, framing="close-up", camera_move="push-in", duration_s=1.5,
                characters=["Maya"], location="Cafe", time_of_day="night", action="Maya slams the cup down",
                prompt="Close-up of Maya at the counter", seed=11)
    stem = "episodes/01/clips/e01s01_a1"
    request = ClipRequest(shot=shot, keyframe=keyframe, prompt=motion_prompt(shot), seed=11, duration_s=1.5,
                          out_path=root / f"{stem}.mp4", width=180, height=320)
    db = CoordinationDB.for_run_dir(root)
    payload = {"run_id": "clip-run", "epoch": None, "db_url": db.url, "root": str(root),
               "request": clip_request_to_json(request, root), "shot_id": clip_ledger_key(shot.id, 1), "take": 1,
               "take_id": take_id(clip_parts(request, FakePanVideo())), "stem": stem, "ttl_s": 60.0}
    return root, json.loads(json.dumps(payload)), ShotLedger(db, "clip-run")


def test_a_stale_attempts_late_commit_is_refused_and_its_file_deleted(tmp_path):
    root, payload, ledger = _work(tmp_path)
    retried: dict = {}

    def meanwhile() -> None:
        # the first worker stalls past its lease; the retried task claims the clip again (attempt 2) and commits
        with ledger.db.begin() as conn:
            conn.execute(update(shots_table).where(shots_table.c.shot_id == payload["shot_id"])
                         .values(lease_until=0.0))
        retried.update(animate_clip(FakePanVideo(), payload))

    stale = animate_clip(FakePanVideo(during=meanwhile), payload)
    assert retried["status"] == "animated" and retried["attempt"] == 2
    assert retried["output"] == "episodes/01/clips/e01s01_a1.c2.mp4"
    assert stale["status"] == "discarded" and stale["attempt"] == 1 and stale["output"] is None
    assert not (root / "episodes/01/clips/e01s01_a1.c1.mp4").exists()  # the refused attempt's file is gone
    assert file_sha256(root / retried["output"]) == retried["sha256"]  # the committed clip, untouched
    again = FakePanVideo()
    reused = animate_clip(again, payload)
    assert again.made == [] and reused["status"] == "reused" and reused["output"] == retried["output"]
    assert ledger.stats() == {"committed": 1, "rendering": 0, "claims": 2, "reused": 1, "corrupt": 0}


def test_a_changed_keyframe_or_backend_version_is_another_clip(tmp_path):
    root, payload, _ = _work(tmp_path)
    from dramafactory.graphs.work import clip_request_from_json

    request = clip_request_from_json(payload["request"], root)
    video = FakePanVideo()
    newer = FakePanVideo()
    newer.version = "fake 2"
    assert take_id(clip_parts(request, newer)) != payload["take_id"]
    Image.new("RGB", (180, 320), (10, 20, 30)).save(request.keyframe)
    assert take_id(clip_parts(request, video)) != payload["take_id"]


def test_without_a_shot_ledger_the_clip_is_written_to_its_path(tmp_path):
    root, payload, _ = _work(tmp_path)
    plain = {k: payload[k] for k in ("run_id", "root", "request")}
    done = animate_clip(FakePanVideo(), plain)
    assert done["status"] == "animated" and done["output"] == "episodes/01/clips/e01s01_a1.mp4"
    assert (root / done["output"]).is_file() and done["attempt"] == 0
