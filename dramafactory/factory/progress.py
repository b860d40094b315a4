"""One series' progress, folded from the graph's events (graphs.runner.produce(on_event=...)): stage, episode,
shots done of the episode's total, retries, and an ETA from the elapsed time and the share of the work done.

The events arrive on the series' own thread while the display reads from the main thread: every change and every
read holds the progress' lock."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

# Shares of the work used for the ETA: the director and reference sheets once, then per episode the writer and
# cinematographer (cheap text), the shots (renders and QC: most of the time on every backend measured so far), the
# voices and the assembly. Rough on purpose: an ETA from share done, not a model of each backend.
DIRECTOR_SHARE = 0.05
EPISODE_SHARES = {"writer": 0.10, "cinematographer": 0.10, "shots": 0.60, "voices": 0.10, "assemble": 0.10}
STAGE_NAMES = {"render": "shots", "qc": "shots", "clip": "clips", "reference": "references"}


@dataclass
class SeriesProgress:
    slug: str
    source: str
    episodes: int  # the concept's target
    title: str = ""
    status: str = "queued"  # queued running + the final statuses of run.SeriesResult
    stage: str = ""
    episode: int = 0
    episodes_done: int = 0
    shots_done: int = 0
    shots_total: int | None = None
    retries: int = 0
    reason: str = ""
    started: float | None = None  # time.monotonic() when this process started the series
    ended: float | None = None
    _director_done: bool = False
    _episode_share: float = 0.0  # of the current episode, 0..1
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    # --- updates (the series' thread) ------------------------------------------------------------------------------
    def begin(self, episodes_done: int) -> None:
        """The series starts or resumes with `episodes_done` episodes already on disk."""
        with self._lock:
            self.status, self.started, self.episodes_done = "running", time.monotonic(), episodes_done
            self._director_done = self._director_done or episodes_done > 0

    def finish(self, status: str, reason: str = "") -> None:
        with self._lock:
            self.status, self.reason, self.ended = status, reason, time.monotonic()
            if status == "finished":
                self.episodes_done, self._episode_share, self.stage = self.episodes, 0.0, "done"

    def __call__(self, ns: tuple, mode: str, data: object) -> None:
        """The runner's on_event: only the nodes' own progress events (custom stream) are read."""
        if mode != "custom" or not isinstance(data, dict):
            return
        stage, status = str(data.get("stage", "")), data.get("status")
        with self._lock:
            self.stage = STAGE_NAMES.get(stage, stage)
            if stage == "director" and status == "done":
                self.title = str(data.get("title") or "")
                self._director_done = True
            elif stage == "writer" and status == "start":
                self.episode = int(data.get("episode") or self.episode)
                self.shots_done, self.shots_total, self._episode_share = 0, None, 0.0
            elif stage in ("writer", "cinematographer") and status == "done":
                self._episode_share = max(self._episode_share, 0.1 if stage == "writer" else 0.2)
                if stage == "cinematographer":
                    self.shots_total = int(data.get("shots") or 0) or None
                    self.episode = int(data.get("episode") or self.episode)
            elif stage == "render" and status == "start" and int(data.get("attempt") or 1) > 1:
                self.retries += 1  # a take rendered again after QC failed it
            elif stage == "qc" and status == "done" and data.get("passed"):
                self.shots_done = min(self.shots_done + 1, self.shots_total or self.shots_done + 1)
            elif stage == "qc" and status == "review":  # the episode's QC loop is over: every shot has its take
                self.shots_done = self.shots_total or self.shots_done
            elif stage == "voices" and status == "done":
                self._episode_share = 0.9
            elif stage == "assemble" and status == "done":  # the episode is done (its shots stay shown)
                self.episodes_done = min(self.episodes_done + 1, self.episodes)
                self._episode_share = 0.0

    # --- reads (any thread) ------------------------------------------------------------------------------------------
    def share(self) -> float:
        """Share of the series done, 0..1."""
        with self._lock:
            return self._share()

    def _share(self) -> float:
        if self.status == "finished":
            return 1.0
        current = self._episode_share
        if self.shots_total and 0.2 <= self._episode_share < 0.9:  # between its shot list and its voices
            current = max(current, 0.2 + EPISODE_SHARES["shots"] * self.shots_done / self.shots_total)
        episodes = max(self.episodes, 1)
        done = (min(self.episodes_done, episodes) + min(current, 1.0)) / episodes
        return min(1.0, DIRECTOR_SHARE * self._director_done + (1 - DIRECTOR_SHARE) * done)

    def snapshot(self) -> dict:
        """A consistent copy for the display: elapsed seconds and the ETA (None until some work is done)."""
        with self._lock:
            now = self.ended or time.monotonic()
            elapsed = (now - self.started) if self.started is not None else 0.0
            share = self._share()
            running = self.status == "running"
            eta = elapsed * (1 - share) / share if running and share > 0.02 else None
            return {"slug": self.slug, "source": self.source, "title": self.title, "status": self.status,
                    "stage": self.stage, "episode": self.episode, "episodes": self.episodes,
                    "episodes_done": self.episodes_done, "shots_done": self.shots_done,
                    "shots_total": self.shots_total, "retries": self.retries, "reason": self.reason,
                    "elapsed": elapsed, "eta": eta, "share": share}
