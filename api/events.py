"""A run's progress events: appended to RUN_DIR/events.jsonl as the graph streams them, read back by the status
endpoint (folded into figures) and by the server-sent-event stream. A file per run keeps them across restarts and
readable by any worker process; sequence numbers let a client resume a stream where it left off (Last-Event-ID).

LangGraph emits the updates of finished branches again on resume (marked cached) and repeats custom events sent
before an interrupt, so the fold keys everything by stage, episode, shot and attempt.
"""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

EVENTS_FILE = "events.jsonl"
LOG_TAIL = 30


class EventLog:
    """One per run and process (RunService keeps them): appends are serialised by its lock, so sequence numbers
    are unique and in order."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / EVENTS_FILE
        self._lock = threading.Lock()
        self._seq = max((e.get("seq", 0) for e in read_events(run_dir)), default=0)

    def append(self, **event) -> dict:
        with self._lock:
            self._seq += 1
            row = {**event, "seq": self._seq, "ts": round(time.time(), 3)}
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a+b") as handle:  # appends go to the end whatever the read position
                size = handle.seek(0, 2)
                torn = False
                if size:
                    handle.seek(size - 1)
                    torn = handle.read(1) != b"\n"
                # after a crash mid-line, start on a fresh line so this event is not glued to the torn one
                handle.write((b"\n" if torn else b"") + (json.dumps(row, default=str) + "\n").encode())
        return row

    def graph_event(self, ns: tuple, mode: str, data: object) -> None:
        """The runner's on_event: keep the nodes' own progress events (custom stream) and pauses."""
        if mode == "custom" and isinstance(data, dict):
            self.append(**data)
        elif mode == "updates" and isinstance(data, dict) and "__interrupt__" in data and not ns:
            for item in data["__interrupt__"]:
                value = getattr(item, "value", {}) or {}
                self.append(stage="review", status="waiting", kind=value.get("kind"), episode=value.get("episode"))


def read_events(run_dir: Path, after: int = 0) -> list[dict]:
    """Every event of the run after sequence number `after`."""
    return tail_events(run_dir, 0, after)[0]


def tail_events(run_dir: Path, offset: int = 0, after: int = 0) -> tuple[list[dict], int]:
    """The events appended since byte `offset` (complete lines only), and the new offset: a stream that follows a
    run reads each event once instead of the whole file on every poll."""
    path = Path(run_dir) / EVENTS_FILE
    if not path.is_file():
        return [], offset
    with path.open("rb") as handle:
        handle.seek(offset)
        chunk = handle.read()
    complete = chunk[:chunk.rfind(b"\n") + 1]  # a line still being written waits for the next poll
    out = []
    for line in complete.decode("utf-8", errors="replace").splitlines():
        try:  # a line cut short by a crash mid-write is skipped, not fatal
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if row.get("seq", 0) > after:
            out.append(row)
    return out, offset + len(complete)


def describe(event: dict) -> str:
    """One log line for people."""
    parts = [event.get("stage", "?"), event.get("status", "")]
    if event.get("episode") is not None:
        parts.append(f"ep {event['episode']}")
    if event.get("shot"):
        parts.append(f"{event['shot']} take {event.get('attempt', '?')}")
    if event.get("passed") is not None:
        parts.append("passed" if event["passed"] else f"failed: {event.get('reason', '')}")
    for key in ("title", "lines", "shots", "flagged", "kind", "message"):
        if event.get(key) not in (None, ""):
            parts.append(f"{key}={event[key]}")
    return " ".join(str(p) for p in parts if p != "")


def fold(events: list[dict], episodes: int) -> dict:
    """Figures for the dashboard: the stage timeline with durations, the stage working now, per-episode shots
    planned / passed / retried / flagged, and a log tail."""
    timeline: list[dict] = []
    open_stages: dict[tuple, dict] = {}
    per_episode = {n: {"episode": n, "shots": 0, "passed": 0, "retried": 0, "flagged": 0, "assembled": False}
                   for n in range(1, episodes + 1)}
    results: dict[tuple, bool] = {}  # (shot, attempt) -> passed
    stage_now = None
    for e in events:
        stage, status, episode = e.get("stage"), e.get("status"), e.get("episode")
        key = (stage, episode)
        if status == "start" and stage not in ("render",):
            if key not in open_stages:
                entry = {"stage": stage, "episode": episode, "started": e["ts"], "seconds": None}
                open_stages[key] = entry
                timeline.append(entry)
            stage_now = stage
        elif status == "done" and key in open_stages and stage != "qc":
            entry = open_stages.pop(key)
            entry["seconds"] = round(e["ts"] - entry["started"], 3)
        if stage == "render" and status == "start":  # the shots of an episode: first render to the QC verdict
            stage_now = "render"
            if ("shots", episode_of(e.get("shot", ""))) not in open_stages and not any(
                    t["stage"] == "shots" and t["episode"] == episode_of(e.get("shot", "")) and t["seconds"] is None
                    for t in timeline):
                entry = {"stage": "shots", "episode": episode_of(e.get("shot", "")), "started": e["ts"],
                         "seconds": None}
                open_stages[("shots", entry["episode"])] = entry
                timeline.append(entry)
        if stage == "qc" and status == "review" and ("shots", episode) in open_stages:
            entry = open_stages.pop(("shots", episode))
            entry["seconds"] = round(e["ts"] - entry["started"], 3)
        if stage == "cinematographer" and status == "done" and episode in per_episode:
            per_episode[episode]["shots"] = e.get("shots", 0)
        if stage == "qc" and status == "done" and e.get("shot"):
            results[(e["shot"], e.get("attempt"))] = bool(e.get("passed"))
        if stage == "qc" and status == "review" and episode in per_episode:
            per_episode[episode]["flagged"] = e.get("flagged", 0)
        if stage == "assemble" and status == "done" and episode in per_episode:
            per_episode[episode]["assembled"] = True
        if stage == "review" and status == "waiting":
            stage_now = f"review ({e.get('kind')})"
        if stage == "summary" and status == "done":
            stage_now = "finished"
    shots_passed = {shot for (shot, _), passed in results.items() if passed}
    for shot, attempt in results:
        number = episode_of(shot)
        if number in per_episode:
            per_episode[number]["retried"] += int(attempt is not None and attempt > 1)
    for shot in shots_passed:
        if episode_of(shot) in per_episode:
            per_episode[episode_of(shot)]["passed"] += 1
    return {"stage": stage_now, "timeline": timeline, "episodes": list(per_episode.values()),
            "log": [{"seq": e["seq"], "ts": e["ts"], "text": describe(e)} for e in events[-LOG_TAIL:]]}


def episode_of(shot_id: str) -> int | None:
    """Shot ids are e<episode>s<number> (e01s03)."""
    match = re.match(r"e(\d+)s", shot_id)
    return int(match.group(1)) if match else None
