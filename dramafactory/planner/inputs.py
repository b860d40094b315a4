"""What the planner measures from: the project's bench results and real run folders, each figure with the machine,
model and date it was measured on. Where nothing measured a figure the catalogue's declared one is used and marked
so; where nothing declares it either, it is listed as missing (never defaulted).

- bench/results/episode.json (bench/episode.py): the embedded default's seconds per stage for one episode: the
  laptop row, the host-CPU stages (speech, QC, assembly) and the text tokens per finished minute.
- bench/results/qc_drill.json (bench/qc_drill.py): shots, attempts per shot and usable rates of the product's
  QC loop (its feedback arm, as bench/gpu.py reads it).
- bench/results/gpu.json (bench/gpu.py, where CUDA exists): seconds per keyframe and per clip on that card.
- run folders (`dramafactory produce --out DIR`): summary.json and ledger.jsonl (docs/accounting.md): shots, takes,
  usable rates, tokens, voiced seconds, CPU seconds per stage and, on a GPU run, GPU seconds per keyframe and clip.
A run folder's figures replace the bench's for the work per minute; the laptop row is always the episode bench.

Each measured figure carries the date, machine and models its file records (bench/episode.py writes `measured_at`,
`machine.cpu` and `models`; a run's summary.json its `finished_at` and `device`). Where a file records none of them
the plan says "not recorded in the file" and, for the date, gives the file's modification date, flagged as such.
Rates are checked, never clamped: a usable rate outside (0, 1], fewer takes than shots or fewer clip calls than
shots is an error naming the file and field.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from dramafactory.catalogue import Catalogue, Figure
from dramafactory.schemas import EpisodeScript, RunSummary

from .schema import Provenance, Quantity

EMBEDDED = "bench/episode.py runs the Settings() defaults: the packaged GGUF, storyboard, voicebank"
TEXT_STAGES = ("director", "writer", "cinematographer", "memory")
# summary.json / episode.json stage names -> the plan's stages
STAGE_OF = {**{s: "text" for s in TEXT_STAGES}, "render": "keyframes", "reference": "keyframes", "clip": "clips",
            "voices": "speech", "qc": "qc", "assemble": "assembly"}
NOT_RECORDED = "not recorded in the file"
DATE_KEYS = ("measured_at", "finished_at", "started_at", "date")


class PlanInputError(ValueError):
    """A measurement file or run folder cannot be used; the message names the file or folder and the field."""


PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the folder holding dramafactory/: the repository root


def default_bench_dir() -> Path:
    """bench/results beside the package: the source checkout's (dramafactory/ sits at the repository root), or, for
    an installed package, the folder next to it in site-packages. Never the working directory: a service plans from
    the same folder wherever it was started."""
    return PACKAGE_ROOT / "bench" / "results"


def shown(path: Path) -> str:
    """A path as a reader of the plan needs it: relative to the source checkout when inside it."""
    try:
        return str(Path(path).resolve().relative_to(PACKAGE_ROOT))
    except ValueError:
        return str(path)


def declared(name: str, figure: Figure, unit: str, entry: str) -> Quantity:
    return Quantity(name=name, value=figure.value, unit=unit, provenance=Provenance(
        measured=False, basis=figure.basis, source=f"catalogue {entry}: {figure.source}", date=figure.date))


def _epoch_date(seconds: float | None, where: str) -> str | None:
    if not seconds:
        return None
    try:
        return dt.datetime.fromtimestamp(seconds, dt.UTC).date().isoformat()
    except (OverflowError, OSError, ValueError):
        raise PlanInputError(f"{where}: summary.json field 'finished_at' is not a time ({seconds!r})") from None


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


def _rate(value: float, label: str, field_name: str, *, zero_ok: bool = False, file: str = "") -> float:
    if not (0 <= value if zero_ok else 0 < value) or value > 1:
        where = f"{file} field" if file else "field"
        raise PlanInputError(f"{label}: {where} '{field_name}' is a share of shots and must be in "
                             f"{'[0, 1]' if zero_ok else '(0, 1]'}, got {value!r}")
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


# --- run folders ----------------------------------------------------------------------------------------------------

@dataclass
class RunFigures:
    path: Path
    name: str  # how messages and provenance name it: "run ID" (the API) or "run PATH" (the CLI)
    summary: RunSummary
    minutes: float
    speech_seconds: float
    speech_chars: float
    clip_calls: int
    models: dict[str, str]
    date: str | None = None
    speeds: list[MeasuredSpeed] = field(default_factory=list)

    @property
    def provenance(self) -> Provenance:
        device = self.summary.device or {}
        listed = device.get("gpus")
        gpus = ", ".join(str(g) for g in listed) if isinstance(listed, list) and listed else "no GPU"
        machine = f"{device.get('cpu', 'unknown CPU')}, {device.get('cores', '?')} cores, {gpus}"
        models = "; ".join(f"{k}: {v}" for k, v in sorted(self.models.items()))
        return Provenance(measured=True, basis="measured", source=self.name, machine=machine,
                          model=models or None, date=self.date)


def _ledger_number(row: dict, key: str, where: str, index: int) -> float:
    value = row.get(key)
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise PlanInputError(f"{where}: ledger.jsonl row {index + 1} (stage {str(row.get('stage'))[:40]!r}) field "
                             f"'{key}' must be a non-negative number of seconds, got {value!r}"[:300])
    return float(value)


def read_run(path: Path, cat: Catalogue, run_id: str | None = None) -> RunFigures:
    """A finished run folder's figures, or PlanInputError saying why the folder is not a usable run. `run_id`: name
    the run by its id in messages and provenance (the API: a server's folders are not shown); else by its path."""
    path = Path(path)
    where = f"run {run_id}" if run_id else f"--runs {path}"
    if not path.is_dir():
        raise PlanInputError(f"{where}: not a folder")
    data = _read_json(path / "summary.json", f"{where}: summary.json")
    if data is None:
        how = "the run writes it when it ends" if run_id else \
            f"`dramafactory produce --out {path}` writes it when the run ends"
        raise PlanInputError(f"{where}: no summary.json, so not a finished run ({how})")
    try:
        summary = RunSummary.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "summary"
        raise PlanInputError(f"{where}: summary.json field '{loc}': {first['msg']}") from None
    minutes = sum(summary.episode_seconds) / 60
    if minutes <= 0 or summary.shots <= 0:
        raise PlanInputError(f"{where}: summary.json field 'episode_seconds'/'shots': the run finished no "
                             "footage to measure")
    _rate(summary.final_usable_rate, where, "final_usable_rate", file="summary.json")
    _rate(summary.first_pass_usable_rate, where, "first_pass_usable_rate", zero_ok=True, file="summary.json")
    if summary.takes < summary.shots:
        raise PlanInputError(f"{where}: summary.json field 'takes' is {summary.takes}, fewer than its "
                             f"{summary.shots} shots (every shot has at least one take)")
    try:
        rows = _ledger_rows(path / "ledger.jsonl")
    except OSError as exc:
        raise PlanInputError(f"{where}: ledger.jsonl is not readable ({_why(exc)})") from None
    calls = [r for r in rows if r.get("kind", "call") == "call"]
    models: dict[str, str] = {}
    for row in calls:
        stage = STAGE_OF.get(str(row.get("stage", "")).split(".")[0])
        if stage and row.get("model"):
            models.setdefault(stage, str(row["model"]))
    for index, row in enumerate(rows):
        for key in ("gpu_seconds", "audio_seconds"):
            _ledger_number(row, key, where, index)
    chars = 0
    for script in sorted(path.glob("episodes/*/script.json")):
        try:
            chars += sum(len(line.text) for line in EpisodeScript.model_validate_json(script.read_text()).lines())
        except (OSError, ValidationError, ValueError) as exc:
            raise PlanInputError(f"{where}: {script.relative_to(path)} is not an episode script ({_why(exc)})"
                                 [:300]) from None
    clip_calls = sum(1 for r in calls if r.get("stage") == "clip")
    if 0 < clip_calls < summary.shots:
        raise PlanInputError(f"{where}: ledger.jsonl has {clip_calls} 'clip' calls, fewer than summary.json field "
                             f"'shots' ({summary.shots}): a run that made clips makes at least one per shot, so its "
                             "clip retries would be negative")
    figures = RunFigures(path=path, name=f"run {run_id}" if run_id else f"run {path}", summary=summary,
                         minutes=minutes, speech_seconds=sum(float(r.get("audio_seconds") or 0) for r in calls
                                                             if r.get("stage") == "voices"),
                         speech_chars=float(chars), clip_calls=clip_calls, models=models,
                         date=_epoch_date(summary.finished_at, where))
    figures.speeds = _run_speeds(figures, calls, cat)
    return figures


def _ledger_rows(path: Path) -> list[dict]:
    from dramafactory.tools.ledger import Ledger  # reads only: a ledger opened to read writes nothing

    return Ledger(path).rows()


def _run_speeds(run: RunFigures, calls: list[dict], cat: Catalogue) -> list[MeasuredSpeed]:
    """GPU seconds per keyframe take and per clip, where the run made them on a catalogue GPU."""
    gpus = (run.summary.device or {}).get("gpus")
    gpu = match_gpu(str(gpus[0]), cat) if isinstance(gpus, list) and gpus else None
    if gpu is None:
        return []
    found = []
    shot_seconds = run.minutes * 60 / run.summary.shots
    for stage, role in (("render", "image"), ("clip", "video")):
        rows = [r for r in calls if r.get("stage") == stage and (r.get("gpu_seconds") or 0) > 0]
        if rows:
            model = str(rows[0].get("model"))
            found.append(MeasuredSpeed(gpu, role, model, sum(r["gpu_seconds"] for r in rows) / len(rows),
                                       shot_seconds if role == "video" else None, None, run.provenance.model_copy(
                                           update={"source": f"{run.name} ledger {stage} rows", "model": model,
                                                   "note": f"{len(rows)} calls"})))
    return found


# --- all of it together ---------------------------------------------------------------------------------------------

@dataclass
class Laptop:
    seconds_per_minute: Quantity
    stage_seconds_per_minute: dict[str, float]
    cores: int


@dataclass
class Inputs:
    work: dict[str, Quantity]
    laptop: Laptop | None
    speeds: list[MeasuredSpeed]
    missing: list[str]
    notes: list[str]


def _q(name: str, value: float, unit: str, provenance: Provenance) -> Quantity:
    return Quantity(name=name, value=value, unit=unit, provenance=provenance)


def _runs_provenance(runs: list[RunFigures]) -> Provenance:
    if len(runs) == 1:
        return runs[0].provenance
    first = runs[0].provenance
    dates = sorted(d for d in (r.provenance.date for r in runs) if d)
    return first.model_copy(update={"source": f"{len(runs)} runs: " + ", ".join(r.name for r in runs),
                                    "date": f"{dates[0]}..{dates[-1]}" if dates else None})


def gather(cat: Catalogue, bench_dir: Path | None = None, runs: list[RunFigures] | None = None,
           bench_label: str | None = None) -> Inputs:
    """The work per finished minute, the laptop row and the GPU speeds, from what has been measured. `bench_label`
    names the bench folder in provenance and messages (default: its path as `shown`)."""
    bench_dir = Path(bench_dir) if bench_dir else default_bench_dir()
    runs = runs or []
    notes: list[str] = []
    missing: list[str] = []

    def label(name: str) -> str:
        return f"{bench_label}/{name}" if bench_label else shown(bench_dir / name)

    episode = read_episode_bench(bench_dir / "episode.json", label("episode.json"))
    drill = read_qc_drill(bench_dir / "qc_drill.json", label("qc_drill.json"))
    speeds = read_gpu_bench(bench_dir / "gpu.json", cat, notes, label("gpu.json")) + [s for r in runs
                                                                                       for s in r.speeds]
    work: dict[str, Quantity] = {}
    if runs:
        prov = _runs_provenance(runs)
        minutes = sum(r.minutes for r in runs)
        shots = sum(r.summary.shots for r in runs)
        work["shots_per_minute"] = _q("shots per finished minute", shots / minutes, "shots/min", prov)
        work["attempts_per_shot"] = _q("attempts per shot", sum(r.summary.takes for r in runs) / shots,
                                       "takes/shot", prov)
        work["first_pass_usable_rate"] = _q("first-pass usable rate", sum(
            r.summary.first_pass_usable_rate * r.summary.shots for r in runs) / shots, "share", prov)
        work["final_usable_rate"] = _q("final usable rate", sum(
            r.summary.final_usable_rate * r.summary.shots for r in runs) / shots, "share", prov)
        if any(r.clip_calls for r in runs):
            clip_shots = sum(r.summary.shots for r in runs if r.clip_calls)
            work["clip_attempts_per_shot"] = _q("clip attempts per shot", sum(r.clip_calls for r in runs)
                                                / clip_shots, "clips/shot", prov)
        work["prompt_tokens_per_minute"] = _q("prompt tokens per finished minute", sum(
            r.summary.prompt_tokens for r in runs) / minutes, "tokens/min", prov)
        work["completion_tokens_per_minute"] = _q("completion tokens per finished minute", sum(
            r.summary.completion_tokens for r in runs) / minutes, "tokens/min", prov)
        work["speech_seconds_per_minute"] = _q("voiced seconds per finished minute", sum(
            r.speech_seconds for r in runs) / minutes, "s/min", prov)
        if sum(r.speech_chars for r in runs):
            work["speech_chars_per_minute"] = _q("spoken characters per finished minute", sum(
                r.speech_chars for r in runs) / minutes, "chars/min", prov)
        stage_cpu: dict[str, float] = {}
        for run in runs:
            for stage in run.summary.stages:
                plan_stage = STAGE_OF.get(stage.stage)
                if plan_stage in ("speech", "qc", "assembly"):
                    stage_cpu[plan_stage] = stage_cpu.get(plan_stage, 0.0) + stage.cpu_seconds
        for stage in ("speech", "assembly"):
            if stage in stage_cpu:
                work[f"{stage}_cpu_seconds_per_minute"] = _q(f"{stage} CPU seconds per finished minute",
                                                             stage_cpu[stage] / minutes, "CPU s/min", prov)
        if "qc" in stage_cpu:
            qc_calls = sum(s.calls for r in runs for s in r.summary.stages if s.stage == "qc")
            work["qc_cpu_seconds_per_take"] = _q("QC CPU seconds per take", stage_cpu["qc"] / max(1, qc_calls),
                                                 "CPU s/take", prov)
    elif drill is not None:
        for key in ("shots_per_minute", "attempts_per_shot", "first_pass_usable_rate", "final_usable_rate"):
            unit = {"shots_per_minute": "shots/min", "attempts_per_shot": "takes/shot"}.get(key, "share")
            work[key] = _q(key.replace("_", " "), getattr(drill, key), unit, drill.provenance)
    if episode is not None:
        prov = episode.provenance
        if "prompt_tokens_per_minute" not in work:
            work["prompt_tokens_per_minute"] = _q("prompt tokens per finished minute",
                                                  episode.per_minute(episode.prompt_tokens), "tokens/min", prov)
            work["completion_tokens_per_minute"] = _q("completion tokens per finished minute", episode.per_minute(
                episode.completion_tokens), "tokens/min", prov)
        wall = prov.model_copy(update={"note": "the bench records wall seconds only: counted as CPU seconds"})
        for stage, bench_stage in (("speech", "voices"), ("assembly", "assemble")):
            key = f"{stage}_cpu_seconds_per_minute"
            if key not in work and bench_stage in episode.stages_s:
                work[key] = _q(f"{stage} CPU seconds per finished minute",
                               episode.per_minute(episode.stages_s[bench_stage]), "CPU s/min", wall)
        if "qc_cpu_seconds_per_take" not in work and "qc" in episode.stages_s and "shots_per_minute" in work:
            work["qc_cpu_seconds_per_take"] = _q(
                "QC CPU seconds per take", episode.per_minute(episode.stages_s["qc"]) / work["shots_per_minute"].value,
                "CPU s/take", wall.model_copy(update={"note": "the bench's QC seconds per minute over the plan's "
                                                              "shots per minute (one take per shot assumed: the "
                                                              "bench records no takes)"}))
    defaults = cat.work_defaults
    if "clip_attempts_per_shot" not in work:
        work["clip_attempts_per_shot"] = declared("clip attempts per shot", defaults.clip_attempts_per_shot,
                                                  "clips/shot", "work_defaults.clip_attempts_per_shot")
    if "speech_seconds_per_minute" not in work:
        work["speech_seconds_per_minute"] = declared("voiced seconds per finished minute",
                                                     defaults.speech_seconds_per_minute, "s/min",
                                                     "work_defaults.speech_seconds_per_minute")
    if "speech_chars_per_minute" not in work:
        chars = defaults.speech_chars_per_second
        work["speech_chars_per_minute"] = _q("spoken characters per finished minute", chars.value * work[
            "speech_seconds_per_minute"].value, "chars/min", Provenance(
                measured=False, basis="derived", date=chars.date,
                source=f"voiced seconds per minute x catalogue work_defaults.speech_chars_per_second ({chars.source})"))
    for key, how in (("shots_per_minute", "pass --runs RUN_DIR or run bench/qc_drill.py"),
                     ("attempts_per_shot", "pass --runs RUN_DIR or run bench/qc_drill.py"),
                     ("final_usable_rate", "pass --runs RUN_DIR or run bench/qc_drill.py"),
                     ("prompt_tokens_per_minute", "run bench/episode.py or pass --runs"),
                     ("qc_cpu_seconds_per_take", "run bench/episode.py or pass --runs"),
                     ("speech_cpu_seconds_per_minute", "run bench/episode.py or pass --runs"),
                     ("assembly_cpu_seconds_per_minute", "run bench/episode.py or pass --runs")):
        if key not in work:
            missing.append(f"{key.replace('_', ' ')}: not measured ({how})")
    laptop = None
    if episode is not None:
        laptop = Laptop(seconds_per_minute=_q("laptop seconds per finished minute", episode.per_minute(episode.run_s),
                                              "s/min", episode.provenance),
                        stage_seconds_per_minute={k: episode.per_minute(v) for k, v in episode.stages_s.items()},
                        cores=episode.cores)
    else:
        missing.append(f"laptop seconds per finished minute: not measured ({label('episode.json')} is absent: "
                       "run bench/episode.py)")
    return Inputs(work=work, laptop=laptop, speeds=speeds, missing=missing, notes=notes)


def essential(inputs: Inputs) -> None:
    """Without shots, attempts and the usable rate there is no plan: say what to measure instead of guessing."""
    absent = [m for m in inputs.missing if m.split(":")[0] in ("shots per minute", "attempts per shot",
                                                               "final usable rate")]
    if absent:
        raise PlanInputError("cannot plan without " + "; ".join(absent))
