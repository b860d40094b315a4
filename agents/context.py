"""What an agent is given to work with: backends chosen by configuration, memory, ledger and the run folder, and
the run's share of the factory: the engine that executes render/QC/speech/clip work (in this process or on Ray
workers), the durable shot ledger and run lease, and the run's budget."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dramafactory.config import Settings
from dramafactory.memory.characters import CharacterMemory
from dramafactory.tools.image.base import ImageBackend
from dramafactory.tools.ledger import Ledger
from dramafactory.tools.speech.base import SpeechBackend
from dramafactory.tools.text.base import TextBackend
from dramafactory.tools.video.base import VideoBackend

if TYPE_CHECKING:
    from dramafactory.agents.qc.agent import QCAgent


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
    # tools.engine: where render/QC/speech/clip work runs (None: inline in the calling thread, as before engines).
    engine: Any = None
    # tools.durable.shots.ShotLedger: each take claimed, fenced and committed once (None: no ledger, e.g. a fake).
    shots: Any = None
    # tools.durable.lease.RunLease held by this process for the run (None: not leased, e.g. a test's plain invoke).
    lease: Any = None
    # graphs.budget.Budget: the series' spending cap, checked before new work starts (None: no cap).
    budget: Any = None
    _qc: QCAgent | None = field(default=None, repr=False, compare=False)
    _qc_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def qc_agent(self) -> QCAgent:
        """The run's one QC agent (it holds loaded scorer models), made on first use; shot branches ask for it in
        parallel."""
        from dramafactory.agents.qc.agent import QCAgent

        with self._qc_lock:
            if self._qc is None:
                self._qc = QCAgent(self.settings, image=self.image)
        return self._qc
