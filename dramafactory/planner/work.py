"""The work per finished minute (measured, from inputs.py) as seconds per stage, and one title's wall-clock from them.

Per finished minute, with S shots, A takes per shot, Ac clips per shot and U the final usable rate (retries are
cost: each usable shot costs R = A/U keyframe takes and Rc = Ac/U clips):
    keyframes = S x s_image            clips = S x s_clip(shot length)
    retries   = S x (R - 1) x s_image + S x (Rc - 1) x s_clip
    text      = (prompt + completion tokens) / tokens_per_second   (prompt tokens at the output rate: an upper bound)
Speech (voicebank), QC (the scorers) and assembly (ffmpeg) run on the host CPU in every preset: their measured CPU
seconds are counted apart from the GPU stages. Wall-clock per title: every stage one after another on one unit, and
a lower bound on a fleet that keeps the serial stages (text, speech, assembly) serial.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import model as m
from .inputs import Inputs

GPU_STAGES = ("text", "keyframes", "clips", "retries")
CPU_STAGES = ("speech", "qc", "assembly")
STAGES = ("text", "keyframes", "clips", "speech", "qc", "retries", "assembly")


# --- per-minute work ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Work:
    shots: float  # S
    renders: float  # R: keyframe takes per usable shot
    clip_renders: float  # Rc: clips per usable shot
    shot_seconds: float
    tokens: float | None  # prompt + completion per finished minute
    qc_cpu_per_take: float | None
    speech_cpu: float | None
    assembly_cpu: float | None

    def with_renders(self, renders: float, clip_renders: float) -> Work:
        return Work(self.shots, renders, clip_renders, self.shot_seconds, self.tokens, self.qc_cpu_per_take,
                    self.speech_cpu, self.assembly_cpu)


def work_of(inputs: Inputs) -> Work:
    w = inputs.work
    final = w["final_usable_rate"].value
    tokens = None
    if "prompt_tokens_per_minute" in w:
        tokens = w["prompt_tokens_per_minute"].value + w["completion_tokens_per_minute"].value
    value = (lambda key: w[key].value if key in w else None)  # noqa: E731 - a local accessor
    return Work(shots=w["shots_per_minute"].value,
                renders=m.renders_per_usable_shot(w["attempts_per_shot"].value, final),
                clip_renders=m.renders_per_usable_shot(w["clip_attempts_per_shot"].value, final),
                shot_seconds=60 / w["shots_per_minute"].value, tokens=tokens,
                qc_cpu_per_take=value("qc_cpu_seconds_per_take"), speech_cpu=value("speech_cpu_seconds_per_minute"),
                assembly_cpu=value("assembly_cpu_seconds_per_minute"))


@dataclass(frozen=True)
class GpuSpeeds:
    image_s: float
    clip_s: float  # one clip at the average shot's length
    tokens_per_s: float


def gpu_seconds_per_minute(work: Work, speeds: GpuSpeeds) -> dict[str, float]:
    first = {"keyframes": work.shots * speeds.image_s, "clips": work.shots * speeds.clip_s}
    retries = work.shots * ((work.renders - 1) * speeds.image_s + (work.clip_renders - 1) * speeds.clip_s)
    text = (work.tokens or 0.0) / speeds.tokens_per_s
    return {"text": text, **first, "retries": retries}


def cpu_seconds_per_minute(work: Work) -> dict[str, float]:
    qc = work.qc_cpu_per_take or 0.0
    return {"speech": work.speech_cpu or 0.0, "qc": work.shots * qc,
            "retries": work.shots * (work.renders - 1) * qc, "assembly": work.assembly_cpu or 0.0}


# --- wall-clock per title -------------------------------------------------------------------------------------------

WALL_CLOCK_NOTE = ("wall-clock per title: 'on one' runs every stage one after another on one GPU and its host (the "
                   "host-CPU speech, QC and assembly included); 'on the fleet' is a lower bound that respects the "
                   "serial stages: the text (director -> writer -> cinematographer, the episodes of a title written "
                   "one after another), speech and assembly of each episode on one host CPU, one episode after "
                   "another, plus the shots' GPU work (keyframes, clips, retries) spread over the whole fleet; QC "
                   "runs beside the renders and is not added; queueing behind other titles is not modelled")


@dataclass(frozen=True)
class WallClock:
    """Hours for one title: every stage one after another on one unit, and the least it can take on the fleet."""

    one_unit: float
    serial: float  # stages that do not spread over the fleet (text, speech, assembly), one after another
    parallel: float  # work that spreads over the fleet (the shots'), in unit-hours

    def on_fleet(self, fleet: int) -> float:
        return self.serial + self.parallel / max(fleet, 1)


def gpu_wall_clock(gpu_per_minute: dict[str, float], cpu_per_minute: dict[str, float],
                   minutes_per_title: float) -> WallClock:
    """Per title, from the stages' seconds per finished minute (GPU stages and host-CPU stages)."""
    hours = minutes_per_title / 3600
    serial = (gpu_per_minute.get("text", 0.0) + cpu_per_minute.get("speech", 0.0)
              + cpu_per_minute.get("assembly", 0.0)) * hours
    parallel = sum(gpu_per_minute.get(s, 0.0) for s in ("keyframes", "clips", "retries")) * hours
    one = (sum(gpu_per_minute.values()) + sum(cpu_per_minute.values())) * hours
    return WallClock(one_unit=one, serial=serial, parallel=parallel)
