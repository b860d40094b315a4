"""Reading the project's bench results (bench/results; inputs.py's default_bench_dir), each figure with the
machine, model and date it was measured on:

- episode.json (bench/episode.py): the embedded default's seconds per stage for one episode: the laptop row, the
  host-CPU stages (speech, QC, assembly) and the text tokens per finished minute.
- qc_drill.json (bench/qc_drill.py): shots, attempts per shot and usable rates of the product's QC loop (its
  feedback arm, as bench/gpu.py reads it).
- gpu.json (bench/gpu.py, where CUDA exists): seconds per keyframe and per clip on that card.

Each measured figure carries the date, machine and models its file records (bench/episode.py writes `measured_at`,
`machine.cpu` and `models`). Where a file records none of them the plan says "not recorded in the file" and, for the
date, gives the file's modification date, flagged as such. Figures are checked, never clamped: a usable rate outside
(0, 1] or fewer than one attempt per shot is an error naming the file and field. An absent file reads as nothing
(for gpu.json, with a note saying so), never as a default.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path

from dramafactory.catalogue import Catalogue

from .schema import Provenance
from .sources import MeasuredSpeed, PlanInputError, _rate, _read_json, match_gpu, shown

EMBEDDED = "bench/episode.py runs the Settings() defaults: the packaged GGUF, storyboard, voicebank"
NOT_RECORDED = "not recorded in the file"
DATE_KEYS = ("measured_at", "finished_at", "started_at", "date")


def _file_date(path: Path, data: dict, label: str) -> str:
    """The date the file records (bench/episode.py writes `measured_at`); else, flagged as such, the date the file
    was last modified, which is when it was written or copied, not necessarily when it was measured."""
    for key in DATE_KEYS:
        value = data.get(key)
        if value is None:
            continue
        try:
            if not isinstance(value, str):
                raise ValueError(value)
            return dt.date.fromisoformat(value[:10]).isoformat()
        except ValueError:
            raise PlanInputError(f"{label}: field '{key}' must be an ISO date or date-time, got "
                                 f"{str(value)[:40]!r}") from None
    modified = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).date().isoformat()
    return f"{NOT_RECORDED}; file modified {modified}"


def _number(data: dict, key: str, label: str, *, positive: bool = True, field_name: str | None = None) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0 \
            or (positive and value <= 0):
        kind = "positive" if positive else "non-negative"
        raise PlanInputError(f"{label}: field '{field_name or key}' must be a {kind} number, got {value!r}"[:300])
    return float(value)


def _mapping(data: dict, key: str, label: str, field_name: str | None = None, *, required: bool = False) -> dict:
    """data[key] as a dict ({} where absent and not required); anything else names the file and field."""
    value = data.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise PlanInputError(f"{label}: field '{field_name or key}' must be a JSON object, got "
                             f"{type(value).__name__}")
    return value


def _machine_of(data: dict, label: str) -> tuple[str, int | None]:
    """'CPU model, platform, N CPUs' from a bench file's `machine`, saying what it does not record."""
    machine = _mapping(data, "machine", label)
    cores = machine.get("cpus")
    cpu = machine.get("cpu")
    parts = [cpu.strip() if isinstance(cpu, str) and cpu.strip() else None,
             machine.get("platform") if isinstance(machine.get("platform"), str) else None,
             f"{cores} CPUs" if isinstance(cores, int) and not isinstance(cores, bool) else None]
    if not any(parts):
        return NOT_RECORDED, None
    where = ", ".join(p for p in parts if p)
    if parts[0] is None:
        where += f" (CPU model {NOT_RECORDED})"
    return where, cores if parts[2] else None


def _models_of(data: dict, label: str, fallback: str) -> str:
    """The models a bench file records (`models`: role -> model, or `model`), else the fallback, flagged."""
    models = data.get("models")
    if isinstance(models, dict) and models:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in models.items()):
            raise PlanInputError(f"{label}: field 'models' must map roles to model names")
        return "; ".join(f"{k}: {v}" for k, v in models.items())
    if models is not None and not isinstance(models, dict):
        raise PlanInputError(f"{label}: field 'models' must map roles to model names, got {type(models).__name__}")
    if isinstance(data.get("model"), str) and data["model"]:
        return data["model"]
    return f"{NOT_RECORDED}" + (f" ({fallback})" if fallback else "")


# --- the embedded episode bench ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class EpisodeBench:
    path: Path
    minutes: float
    run_s: float
    stages_s: dict[str, float]
    cores: int
    prompt_tokens: float
    completion_tokens: float
    provenance: Provenance

    def per_minute(self, value: float) -> float:
        return value / self.minutes


def read_episode_bench(path: Path, label: str | None = None) -> EpisodeBench | None:
    label = label or shown(path)
    data = _read_json(path, label)
    if data is None:
        return None
    seconds = data.get("episode_seconds")
    if not isinstance(seconds, list) or not seconds or not all(
            isinstance(s, int | float) and not isinstance(s, bool) and s >= 0 for s in seconds) or sum(seconds) <= 0:
        raise PlanInputError(f"{label}: field 'episode_seconds' must be a list of positive seconds")
    stages = data.get("stages_s")
    if not isinstance(stages, dict) or not all(isinstance(v, int | float) and not isinstance(v, bool)
                                               and math.isfinite(v) and v >= 0 for v in stages.values()):
        raise PlanInputError(f"{label}: field 'stages_s' must map stage names to seconds")
    where, cores = _machine_of(data, label)
    if cores is None or cores < 1:
        raise PlanInputError(f"{label}: field 'machine.cpus' must be the machine's core count")
    return EpisodeBench(path=path, minutes=sum(seconds) / 60, run_s=_number(data, "run_s", label),
                        stages_s={k: float(v) for k, v in stages.items()}, cores=cores,
                        prompt_tokens=_number(data, "prompt_tokens", label, positive=False),
                        completion_tokens=_number(data, "completion_tokens", label, positive=False),
                        provenance=Provenance(measured=True, basis="measured", source=label, machine=where,
                                              model=_models_of(data, label, EMBEDDED),
                                              date=_file_date(path, data, label)))


# --- the QC drill -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class QcDrill:
    shots_per_minute: float
    attempts_per_shot: float
    first_pass_usable_rate: float
    final_usable_rate: float
    provenance: Provenance


def read_qc_drill(path: Path, label: str | None = None) -> QcDrill | None:
    """The feedback arm: the product's own path (retakes act on QC's reason) under the drill's injected faults; its
    seed-only arm is an ablation (bench/qc_drill.py)."""
    label = label or shown(path)
    data = _read_json(path, label)
    if data is None:
        return None
    arms = _mapping(data, "arms", label, required=True)
    arm = arms.get("feedback")
    if not isinstance(arm, dict):
        raise PlanInputError(f"{label}: field 'arms.feedback' (the product path's figures) is missing or not a "
                             "JSON object")
    minutes = _number(data, "episodes", label) * _number(data, "seconds_per_episode", label) / 60
    prefix = "arms.feedback."
    first = _rate(_number(arm, "first_pass_rate", label, positive=False, field_name=prefix + "first_pass_rate"),
                  label, prefix + "first_pass_rate", zero_ok=True)
    final = _rate(_number(arm, "final_usable_rate", label, field_name=prefix + "final_usable_rate"), label,
                  prefix + "final_usable_rate")
    attempts = _number(arm, "attempts_per_shot", label, field_name=prefix + "attempts_per_shot")
    if attempts < 1:
        raise PlanInputError(f"{label}: field '{prefix}attempts_per_shot' must be at least 1 (every shot has a "
                             f"take), got {attempts!r}")
    note = (f"QC drill feedback arm: fault_rate {data.get('fault_rate')} injected; minutes are the episodes' "
            "target length")
    machine, _ = _machine_of(data, label)
    return QcDrill(shots_per_minute=_number(arm, "shots", label, field_name=prefix + "shots") / minutes,
                   attempts_per_shot=attempts, first_pass_usable_rate=first, final_usable_rate=final,
                   provenance=Provenance(measured=True, basis="measured", source=f"{label} arms.feedback",
                                         machine=machine, model=_models_of(data, label, ""),
                                         date=_file_date(path, data, label), note=note))


# --- GPU speeds: the GPU bench --------------------------------------------------------------------------------------

def _steps(entry: dict, label: str, field_name: str) -> int | None:
    steps = entry.get("steps")
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int)):
        raise PlanInputError(f"{label}: field '{field_name}.steps' must be a whole number, got {steps!r}"[:300])
    return steps


def read_gpu_bench(path: Path, cat: Catalogue, notes: list[str], label: str | None = None) -> list[MeasuredSpeed]:
    label = label or shown(path)
    data = _read_json(path, label)
    if data is None:
        notes.append(f"{label} is absent: no GPU measurement (bench/gpu.py has not run on a GPU)")
        return []
    if data.get("skipped") or data.get("mode") != "full":
        why = data.get("reason") or f"mode {data.get('mode')!r}"
        notes.append(f"{label}: not a full GPU measurement ({why}): not used")
        return []
    device = _mapping(data, "device", label)
    gpu = match_gpu(str(device.get("name", "")), cat)
    if gpu is None:
        notes.append(f"{label}: measured on {device.get('name')!r}, which no catalogue GPU matches: not used")
        return []
    machine = f"{device.get('name')} (torch {device.get('torch')}, CUDA {device.get('cuda')})"
    date, weights = _file_date(path, data, label), str(data.get("weights", ""))
    found = []
    for name, kf in _mapping(data, "keyframes", label).items():
        where = f"keyframes.{name}"
        if not isinstance(kf, dict):
            raise PlanInputError(f"{label}: field '{where}' must be a JSON object, got {type(kf).__name__}")
        if not kf.get("measured"):
            continue
        seconds = _number(kf, "seconds_per_image", label, field_name=f"{where}.seconds_per_image")
        batch = _mapping(kf, "batch", label, f"{where}.batch")
        if batch.get("seconds_per_image") is not None:
            seconds = min(seconds, _number(batch, "seconds_per_image", label,
                                           field_name=f"{where}.batch.seconds_per_image"))
        model = str(kf.get("model", name))
        found.append(MeasuredSpeed(gpu, "image", model, seconds, None, _steps(kf, label, where), Provenance(
            measured=True, basis="measured", source=f"{label} {where}", machine=machine, model=model, date=date,
            note=f"{weights}; batched per image where faster")))
    clip = _mapping(data, "clip", label)
    if clip.get("measured"):
        seconds = _number(clip, "seconds_per_clip", label, field_name="clip.seconds_per_clip")
        length = _number(clip, "clip_seconds", label, field_name="clip.clip_seconds") \
            if clip.get("clip_seconds") is not None else 5.0
        found.append(MeasuredSpeed(gpu, "video", str(clip.get("model")), seconds, length, _steps(clip, label, "clip"),
                                   Provenance(measured=True, basis="measured", source=f"{label} clip",
                                              machine=machine, model=str(clip.get("model")), date=date,
                                              note=weights)))
    return found
