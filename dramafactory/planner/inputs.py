"""What the planner measures from, put together (gather): the work per finished minute, the laptop row and the GPU
speeds, from the project's bench results (bench.py) and real run folders (runs.py), each figure with the machine,
model and date it was measured on. A run folder's figures replace the bench's for the work per minute; the laptop row
is always the episode bench. Where nothing measured a figure the catalogue's declared one is used and marked so;
where nothing declares it either, it is listed as missing (never defaulted), and without shots, attempts and the
usable rate there is no plan (essential).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dramafactory.catalogue import Catalogue, Figure

from .bench import read_episode_bench, read_gpu_bench, read_qc_drill
from .runs import RunFigures
from .schema import Provenance, Quantity
from .sources import PACKAGE_ROOT, STAGE_OF, MeasuredSpeed, PlanInputError, shown


def default_bench_dir() -> Path:
    """bench/results beside the package: the source checkout's (dramafactory/ sits at the repository root), or, for
    an installed package, the folder next to it in site-packages. Never the working directory: a service plans from
    the same folder wherever it was started."""
    return PACKAGE_ROOT / "bench" / "results"


def declared(name: str, figure: Figure, unit: str, entry: str) -> Quantity:
    return Quantity(name=name, value=figure.value, unit=unit, provenance=Provenance(
        measured=False, basis=figure.basis, source=f"catalogue {entry}: {figure.source}", date=figure.date))


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
