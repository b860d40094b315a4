"""What the planner's two measurement readers share: bench.py (the project's bench results) and runs.py (run
folders). The error both raise, naming the file or folder and the field; how a JSON file is read and a usable rate
checked (checked, never clamped: a rate outside (0, 1] is an error naming the file and field); how a path is named in
provenance; the factory's stage names as the plan's stages; and the GPU speed record both produce. Kept apart so the
two readers report the same way without one importing the other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from dramafactory.catalogue import Catalogue

from .schema import Provenance

TEXT_STAGES = ("director", "writer", "cinematographer", "memory")
# summary.json / episode.json stage names -> the plan's stages
STAGE_OF = {**{s: "text" for s in TEXT_STAGES}, "render": "keyframes", "reference": "keyframes", "clip": "clips",
            "voices": "speech", "qc": "qc", "assemble": "assembly"}


class PlanInputError(ValueError):
    """A measurement file or run folder cannot be used; the message names the file or folder and the field."""


PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the folder holding dramafactory/: the repository root


def shown(path: Path) -> str:
    """A path as a reader of the plan needs it: relative to the source checkout when inside it."""
    try:
        return str(Path(path).resolve().relative_to(PACKAGE_ROOT))
    except ValueError:
        return str(path)


def _why(exc: Exception) -> str:
    """An error's reason without the path it names (a message may be shown to an API client)."""
    return (exc.strerror or type(exc).__name__) if isinstance(exc, OSError) else str(exc)


def _read_json(path: Path, label: str) -> dict | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PlanInputError(f"{label}: not readable JSON ({_why(exc)})") from None
    if not isinstance(data, dict):
        raise PlanInputError(f"{label}: not a JSON object")
    return data


def _rate(value: float, label: str, field_name: str, *, zero_ok: bool = False, file: str = "") -> float:
    if not (0 <= value if zero_ok else 0 < value) or value > 1:
        where = f"{file} field" if file else "field"
        raise PlanInputError(f"{label}: {where} '{field_name}' is a share of shots and must be in "
                             f"{'[0, 1]' if zero_ok else '(0, 1]'}, got {value!r}")
    return value


# --- GPU speeds: the GPU bench, GPU runs ----------------------------------------------------------------------------

@dataclass(frozen=True)
class MeasuredSpeed:
    """Seconds per keyframe take ('image') or per clip ('video') measured on a catalogue GPU."""

    gpu: str
    role: str
    model: str
    seconds: float
    clip_seconds: float | None
    steps: int | None
    provenance: Provenance


def match_gpu(device_name: str, cat: Catalogue) -> str | None:
    return next((gpu_id for gpu_id, gpu in cat.gpus.items() if gpu.matches(device_name)), None)
