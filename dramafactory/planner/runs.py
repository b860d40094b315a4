"""Reading run folders (`dramafactory produce --out DIR`): summary.json and ledger.jsonl (docs/accounting.md) give
shots, takes, usable rates, tokens, voiced seconds, CPU seconds per stage and, on a GPU run, GPU seconds per keyframe
and clip; inputs.py lets a run's figures replace the bench's for the work per minute. Each figure carries the run's
provenance: the date its summary.json records (`finished_at`), its `device` and the models its ledger names. Figures
are checked, never clamped: a usable rate outside (0, 1], fewer takes than shots or fewer clip calls than shots is an
error naming the file and field, as is a ledger row whose GPU or audio seconds are not a non-negative number.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from dramafactory.catalogue import Catalogue
from dramafactory.schemas import EpisodeScript, RunSummary

from .schema import Provenance
from .sources import STAGE_OF, MeasuredSpeed, PlanInputError, _rate, _read_json, _why, match_gpu


def _epoch_date(seconds: float | None, where: str) -> str | None:
    if not seconds:
        return None
    try:
        return dt.datetime.fromtimestamp(seconds, dt.UTC).date().isoformat()
    except (OverflowError, OSError, ValueError):
        raise PlanInputError(f"{where}: summary.json field 'finished_at' is not a time ({seconds!r})") from None


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
