from __future__ import annotations

from pathlib import Path

import pytest

from dramafactory.config import Settings
from dramafactory.graphs.backends import build_context
from dramafactory.schemas import SeriesConcept

from .fakes import FakeImage, FakeSpeech, FakeText


@pytest.fixture
def concept() -> SeriesConcept:
    return SeriesConcept(logline="A night-shift nurse discovers the billionaire patient she saved is her runaway "
                                 "father.", genre="family", episodes=1, seconds_per_episode=30)


@pytest.fixture
def fast_settings() -> Settings:
    # the fake image backend draws no people, so these settings check takes technically only
    return Settings(_env_file=None, width=180, height=320, fps=8, music=True, qc_people="off")


@pytest.fixture
def fake_context(tmp_path: Path, fast_settings: Settings):
    def make(run_dir: Path | None = None, text=None, image=None, speech=None):
        return build_context(run_dir or tmp_path / "run", fast_settings, text=text or FakeText(),
                             image=image or FakeImage(), speech=speech or FakeSpeech())
    return make
