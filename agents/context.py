"""What an agent is given to work with: backends chosen by configuration, memory, ledger and the run folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dramafactory.config import Settings
from dramafactory.memory.characters import CharacterMemory
from dramafactory.tools.image.base import ImageBackend
from dramafactory.tools.ledger import Ledger
from dramafactory.tools.speech.base import SpeechBackend
from dramafactory.tools.text.base import TextBackend
from dramafactory.tools.video.base import VideoBackend


@dataclass
class AgentContext:
    run_dir: Path
    settings: Settings
    text: TextBackend
    image: ImageBackend
    speech: SpeechBackend
    memory: CharacterMemory
    ledger: Ledger
    video: VideoBackend | None = None  # None: no clips, the episode moves the camera over its keyframes
