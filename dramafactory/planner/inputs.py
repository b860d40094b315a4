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
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from dramafactory.catalogue import Catalogue, Figure
from dramafactory.schemas import EpisodeScript, RunSummary

from .schema import Provenance, Quantity

EMBEDDED = "the embedded default (bench/episode.py runs Settings() defaults: the packaged GGUF, storyboard, voicebank)"
TEXT_STAGES = ("director", "writer", "cinematographer", "memory")
# summary.json / episode.json stage names -> the plan's stages
STAGE_OF = {**{s: "text" for s in TEXT_STAGES}, "render": "keyframes", "reference": "keyframes", "clip": "clips",
            "voices": "speech", "qc": "qc", "assemble": "assembly"}


class PlanInputError(ValueError):
    """A measurement file or run folder cannot be used; the message names the file or folder and the field."""


def default_bench_dir() -> Path:
    """bench/results of the source checkout this package runs from, else of the working directory."""
    checkout = Path(__file__).resolve().parents[2] / "bench" / "results"
    return checkout if checkout.is_dir() else Path.cwd() / "bench" / "results"


def shown(path: Path) -> str:
    """A path as a reader of the plan needs it: relative to the source checkout when inside it."""
    root = Path(__file__).resolve().parents[2]
    try:
        return str(Path(path).resolve().relative_to(root))
    except ValueError:
        return str(path)


def declared(name: str, figure: Figure, unit: str, entry: str) -> Quantity:
    return Quantity(name=name, value=figure.value, unit=unit, provenance=Provenance(
        measured=False, basis=figure.basis, source=f"catalogue {entry}: {figure.source}", date=figure.date))


def _epoch_date(seconds: float | None) -> str | None:
    if not seconds:
        return None
    return dt.datetime.fromtimestamp(seconds, dt.UTC).date().isoformat()


def _file_date(path: Path, data: dict) -> str:
    for key in ("measured_at", "finished_at", "started_at", "date"):
        if isinstance(data.get(key), str) and data[key][:4].isdigit():
            return data[key][:10]
    written = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).date().isoformat()
    return f"not recorded in the file (file last written {written})"


def _read_json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PlanInputError(f"{path}: not readable JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise PlanInputError(f"{path}: not a JSON object")
    return data


def _number(data: dict, key: str, path: Path, *, positive: bool = True) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or (positive and value <= 0) or value < 0:
        raise PlanInputError(f"{path}: field '{key}' must be a {'positive ' if positive else ''}number, got "
                             f"{value!r}")
    return float(value)


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


def read_episode_bench(path: Path) -> EpisodeBench | None:
    data = _read_json(path)
    if data is None:
        return None
    seconds = data.get("episode_seconds")
    if not isinstance(seconds, list) or not seconds or not all(isinstance(s, int | float) for s in seconds) \
            or sum(seconds) <= 0:
        raise PlanInputError(f"{path}: field 'episode_seconds' must be a list of positive seconds")
    stages = data.get("stages_s")
    if not isinstance(stages, dict) or not all(isinstance(v, int | float) and v >= 0 for v in stages.values()):
        raise PlanInputError(f"{path}: field 'stages_s' must map stage names to seconds")
    machine = data.get("machine") if isinstance(data.get("machine"), dict) else {}
    cores = machine.get("cpus")
    if not isinstance(cores, int) or cores < 1:
        raise PlanInputError(f"{path}: field 'machine.cpus' must be the machine's core count")
    where = ", ".join(filter(None, [machine.get("cpu"), machine.get("platform", "unknown platform"), f"{cores} CPUs"]))
    return EpisodeBench(path=path, minutes=sum(seconds) / 60, run_s=_number(data, "run_s", path),
                        stages_s={k: float(v) for k, v in stages.items()}, cores=cores,
                        prompt_tokens=_number(data, "prompt_tokens", path, positive=False),
                        completion_tokens=_number(data, "completion_tokens", path, positive=False),
                        provenance=Provenance(measured=True, basis="measured", source=shown(path), machine=where,
                                              model=EMBEDDED, date=_file_date(path, data)))


# --- the QC drill -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class QcDrill:
    shots_per_minute: float
    attempts_per_shot: float
    first_pass_usable_rate: float
    final_usable_rate: float
    provenance: Provenance


def read_qc_drill(path: Path) -> QcDrill | None:
    """The feedback arm: the product's own path (retakes act on QC's reason) under the drill's injected faults; its
    seed-only arm is an ablation (bench/qc_drill.py)."""
    data = _read_json(path)
    if data is None:
        return None
    arm = (data.get("arms") or {}).get("feedback")
    if not isinstance(arm, dict):
        raise PlanInputError(f"{path}: field 'arms.feedback' (the product path's figures) is missing")
    minutes = _number(data, "episodes", path) * _number(data, "seconds_per_episode", path) / 60
    first = _number(arm, "first_pass_rate", path)
    final = _number(arm, "final_usable_rate", path)
    if first > 1 or final > 1:
        raise PlanInputError(f"{path}: usable rates in 'arms.feedback' must be at most 1")
    note = (f"QC drill feedback arm: fault_rate {data.get('fault_rate')} injected; minutes are the episodes' "
            "target length")
    return QcDrill(shots_per_minute=_number(arm, "shots", path) / minutes,
                   attempts_per_shot=_number(arm, "attempts_per_shot", path), first_pass_usable_rate=first,
                   final_usable_rate=final,
                   provenance=Provenance(measured=True, basis="measured", source=f"{shown(path)} arms.feedback",
                                         machine="not recorded in the file", model=EMBEDDED,
                                         date=_file_date(path, data), note=note))


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


def read_gpu_bench(path: Path, cat: Catalogue, notes: list[str]) -> list[MeasuredSpeed]:
    data = _read_json(path)
    if data is None:
        notes.append(f"{shown(path)} is absent: no GPU measurement (bench/gpu.py has not run on a GPU)")
        return []
    if data.get("skipped") or data.get("mode") != "full":
        why = data.get("reason") or f"mode {data.get('mode')!r}"
        notes.append(f"{path}: not a full GPU measurement ({why}): not used")
        return []
    device = data.get("device") if isinstance(data.get("device"), dict) else {}
    gpu = match_gpu(str(device.get("name", "")), cat)
    if gpu is None:
        notes.append(f"{path}: measured on {device.get('name')!r}, which no catalogue GPU matches: not used")
        return []
    machine = f"{device.get('name')} (torch {device.get('torch')}, CUDA {device.get('cuda')})"
    date, weights = _file_date(path, data), str(data.get("weights", ""))
    found = []
    for name, kf in (data.get("keyframes") or {}).items():
        if isinstance(kf, dict) and kf.get("measured") and isinstance(kf.get("seconds_per_image"), int | float):
            batched = (kf.get("batch") or {}).get("seconds_per_image")
            seconds = min(kf["seconds_per_image"], batched) if isinstance(batched, int | float) else \
                kf["seconds_per_image"]
            found.append(MeasuredSpeed(gpu, "image", str(kf.get("model", name)), float(seconds), None,
                                       kf.get("steps"), Provenance(
                                           measured=True, basis="measured", source=f"{shown(path)} keyframes.{name}",
                                           machine=machine, model=str(kf.get("model", name)), date=date,
                                           note=f"{weights}; batched per image where faster")))
    clip = data.get("clip") or {}
    if isinstance(clip, dict) and clip.get("measured") and isinstance(clip.get("seconds_per_clip"), int | float):
        found.append(MeasuredSpeed(gpu, "video", str(clip.get("model")), float(clip["seconds_per_clip"]),
                                   float(clip.get("clip_seconds") or 5.0), clip.get("steps"), Provenance(
                                       measured=True, basis="measured", source=f"{shown(path)} clip", machine=machine,
                                       model=str(clip.get("model")), date=date, note=weights)))
    return found


# --- run folders ----------------------------------------------------------------------------------------------------

@dataclass
class RunFigures:
    path: Path
    summary: RunSummary
    minutes: float
    speech_seconds: float
    speech_chars: float
    clip_calls: int
    models: dict[str, str]
    speeds: list[MeasuredSpeed] = field(default_factory=list)

    @property
    def provenance(self) -> Provenance:
        device = self.summary.device or {}
        gpus = ", ".join(device.get("gpus") or []) or "no GPU"
        machine = f"{device.get('cpu', 'unknown CPU')}, {device.get('cores', '?')} cores, {gpus}"
        models = "; ".join(f"{k}: {v}" for k, v in sorted(self.models.items()))
        return Provenance(measured=True, basis="measured", source=f"run {self.path}", machine=machine,
                          model=models or None, date=_epoch_date(self.summary.finished_at))


def read_run(path: Path, cat: Catalogue) -> RunFigures:
    """A finished run folder's figures, or PlanInputError saying why the folder is not a run."""
    path = Path(path)
    if not path.is_dir():
        raise PlanInputError(f"--runs {path}: not a folder")
    summary_file = path / "summary.json"
    data = _read_json(summary_file)
    if data is None:
        raise PlanInputError(f"--runs {path}: no summary.json, so not a finished run (`dramafactory produce --out "
                             f"{path}` writes it when the run ends)")
    try:
        summary = RunSummary.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "summary"
        raise PlanInputError(f"--runs {path}: summary.json field '{where}': {first['msg']}") from None
    minutes = sum(summary.episode_seconds) / 60
    if minutes <= 0 or summary.shots <= 0:
        raise PlanInputError(f"--runs {path}: summary.json field 'episode_seconds'/'shots': the run finished no "
                             "footage to measure")
    rows = _ledger_rows(path / "ledger.jsonl")
    calls = [r for r in rows if r.get("kind", "call") == "call"]
    models: dict[str, str] = {}
    for row in calls:
        stage = STAGE_OF.get(str(row.get("stage", "")).split(".")[0])
        if stage and row.get("model"):
            models.setdefault(stage, str(row["model"]))
    chars = 0
    for script in sorted(path.glob("episodes/*/script.json")):
        try:
            chars += sum(len(line.text) for line in EpisodeScript.model_validate_json(script.read_text()).lines())
        except (OSError, ValidationError, ValueError) as exc:
            raise PlanInputError(f"--runs {path}: {script.relative_to(path)} is not an episode script ({exc})"
                                 [:300]) from None
    figures = RunFigures(path=path, summary=summary, minutes=minutes,
                         speech_seconds=sum(float(r.get("audio_seconds") or 0) for r in calls
                                            if r.get("stage") == "voices"),
                         speech_chars=float(chars), clip_calls=sum(1 for r in calls if r.get("stage") == "clip"),
                         models=models)
    figures.speeds = _run_speeds(figures, calls, cat)
    return figures


def _ledger_rows(path: Path) -> list[dict]:
    from dramafactory.tools.ledger import Ledger  # reads only: a ledger opened to read writes nothing

    return Ledger(path).rows()


def _run_speeds(run: RunFigures, calls: list[dict], cat: Catalogue) -> list[MeasuredSpeed]:
    """GPU seconds per keyframe take and per clip, where the run made them on a catalogue GPU."""
    gpus = (run.summary.device or {}).get("gpus") or []
    gpu = match_gpu(str(gpus[0]), cat) if gpus else None
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
                                           update={"source": f"run {run.path} ledger {stage} rows", "model": model,
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
    return first.model_copy(update={"source": f"{len(runs)} runs: " + ", ".join(str(r.path) for r in runs),
                                    "date": f"{dates[0]}..{dates[-1]}" if dates else None})


def gather(cat: Catalogue, bench_dir: Path | None = None, runs: list[RunFigures] | None = None) -> Inputs:
    """The work per finished minute, the laptop row and the GPU speeds, from what has been measured."""
    bench_dir = Path(bench_dir) if bench_dir else default_bench_dir()
    runs = runs or []
    notes: list[str] = []
    missing: list[str] = []
    episode = read_episode_bench(bench_dir / "episode.json")
    drill = read_qc_drill(bench_dir / "qc_drill.json")
    speeds = read_gpu_bench(bench_dir / "gpu.json", cat, notes) + [s for r in runs for s in r.speeds]
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
        missing.append(f"laptop seconds per finished minute: not measured ({bench_dir / 'episode.json'} is absent: "
                       "run bench/episode.py)")
    return Inputs(work=work, laptop=laptop, speeds=speeds, missing=missing, notes=notes)


def essential(inputs: Inputs) -> None:
    """Without shots, attempts and the usable rate there is no plan: say what to measure instead of guessing."""
    absent = [m for m in inputs.missing if m.split(":")[0] in ("shots per minute", "attempts per shot",
                                                               "final usable rate")]
    if absent:
        raise PlanInputError("cannot plan without " + "; ".join(absent))
