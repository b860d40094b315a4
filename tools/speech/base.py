"""Speech backend contract: one WAV per dialogue line, in the speaker's voice."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from dramafactory.schemas import Voice


@dataclass(frozen=True)
class SpeechRequest:
    text: str
    voice: Voice
    out_path: Path  # WAV to write (mono)
    emotion: str = "neutral"


@dataclass(frozen=True)
class SpeechResult:
    path: Path
    seconds: float  # duration of the audio
    sample_rate: int
    engine: str
    compute_seconds: float  # wall seconds of the synthesis, including any model load below
    load_seconds: float = 0.0  # wall seconds spent loading a voice model for this line (a ledger row of its own)


@runtime_checkable
class SpeechBackend(Protocol):
    name: str

    def synthesize(self, request: SpeechRequest) -> SpeechResult: ...
