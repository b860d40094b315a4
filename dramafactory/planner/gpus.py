"""The chosen preset on each catalogue GPU: that the catalogue's figures are for the models and steps
tools/presets.yaml runs (check_preset), each model's speed on the card (resolve_speed: measured on this card, else
declared for it, else scaled from another card by dense BF16 TFLOPS or memory bandwidth; a scaled figure is never
marked measured) and whether the three models fit the card's memory budget (fit_of).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from dramafactory.catalogue import Catalogue, PresetFigures

from . import model as m
from .schema import Fit, Provenance, Quantity
from .sources import MeasuredSpeed, PlanInputError

if TYPE_CHECKING:
    from dramafactory.tools.presets import Preset

VRAM_BUDGET = 0.9  # the pipelines' default share of a card (tools/gpu/memory.py, DRAMAFACTORY_VRAM_GB unset)


# --- per-GPU speeds and fit -----------------------------------------------------------------------------------------

def check_preset(name: str, figs: PresetFigures) -> Preset:
    """The catalogue's figures must be for the models and steps tools/presets.yaml runs, or they are stale."""
    from dramafactory.tools.presets import preset

    run = preset(name)
    pairs = [("text.model", figs.text.model, run.text.model), ("image.model", figs.image.model, run.image.model),
             ("video.model", figs.video.model, run.video.model),
             ("image.speed.steps", figs.image.speed.steps, run.image.steps),
             ("video.speed.steps", figs.video.speed.steps, run.video.steps)]
    for field_name, ours, theirs in pairs:
        if ours != theirs:
            raise PlanInputError(f"catalogue presets.{name}.{field_name} is {ours!r} but tools/presets.yaml's "
                                 f"{name} preset uses {theirs!r}: the catalogue's figures are for another setup; "
                                 "update them (with their source and date)")
    return run


def _model_matches(measured: str, *names: str | None) -> bool:
    tail = measured.rstrip("/").split("/")[-1]
    return any(n and (measured == n or tail == n.rstrip("/").split("/")[-1]) for n in names)


def resolve_speed(role: str, figs: PresetFigures, gpu_id: str, cat: Catalogue, measured: list[MeasuredSpeed],
                  steps: int, preset_name: str = "") -> tuple[Quantity, float | None]:
    """Seconds per image / per clip (and the clip's length), or tokens per second, on this GPU. Measured on this
    card first, then declared for this card, then scaled from a measurement on another card, then scaled from the
    declared figure; a scaled figure is never marked measured."""
    spec = getattr(figs, role)
    declared = spec.speed
    metric = "bf16_dense_tflops" if declared.scale == "compute" else "memory_bandwidth_tbs"
    unit = {"image": "s/image", "video": "s/clip", "text": "tokens/s"}[role]
    label = {"image": "seconds per keyframe", "video": "seconds per clip", "text": "text tokens per second"}[role]
    target = cat.gpus[gpu_id]
    ours = [s for s in measured if s.role == role and _model_matches(s.model, getattr(spec, "bench_name", None),
                                                                     spec.model) and s.steps in (None, steps)]
    here = next((s for s in ours if s.gpu == gpu_id), None)
    if here is not None:
        return Quantity(name=label, value=here.seconds, unit=unit, provenance=here.provenance), here.clip_seconds
    clip_seconds = getattr(declared, "clip_seconds", None)
    base = Provenance(measured=False, basis=declared.basis, date=declared.date,
                      source=f"catalogue presets.{preset_name}.{role}.speed: {declared.source}")
    if declared.gpu == gpu_id:
        return Quantity(name=label, value=declared.value, unit=unit, provenance=base), clip_seconds
    source_gpu, value, prov = declared.gpu, declared.value, base
    if ours:  # a measurement on another card beats a declared figure on another card
        first = ours[0]
        source_gpu, value, clip_seconds = first.gpu, first.seconds, first.clip_seconds
        prov = first.provenance.model_copy(update={"measured": False, "source": (
            f"{first.provenance.source} (measured on {first.provenance.machine}, {first.provenance.date})")})
    ref = getattr(cat.gpus[source_gpu], metric).value
    there = getattr(target, metric).value
    scaled = value * there / ref if role == "text" else m.scaled_seconds(value, ref, there)
    how = "dense BF16 TFLOPS" if metric == "bf16_dense_tflops" else "memory bandwidth"
    prov = prov.model_copy(update={"basis": "scaled", "note": (
        f"scaled from {cat.gpus[source_gpu].name} to {target.name} by {how} ({ref:g} -> {there:g}): an inference")})
    return Quantity(name=label, value=scaled, unit=unit, provenance=prov), clip_seconds


def fit_of(preset_name: str, figs: PresetFigures, gpu_id: str, cat: Catalogue) -> Fit:
    gpu = cat.gpus[gpu_id]
    card = gpu.memory_gb.value
    budget = VRAM_BUDGET * card
    needs = {role: getattr(figs, role).vram_gb.value for role in ("text", "image", "video")}
    base = {"gpu": gpu_id, "preset": preset_name, "card_gb": card, "budget_gb": round(budget, 1), "needs_gb": needs}
    too_big = [role for role in ("image", "video") if needs[role] > budget]
    if too_big:
        largest = max(needs[r] for r in too_big)
        bigger = [g for g, spec in cat.gpus.items() if VRAM_BUDGET * spec.memory_gb.value >= largest]
        alt = " or the throughput preset" if preset_name != "throughput" else ""
        return Fit(**base, status="offload", detail=(
            f"{' and '.join(f'the {r} model (~{needs[r]:g} GB)' for r in too_big)} "
            f"{'exceeds' if len(too_big) == 1 else 'exceed'} this card's budget of "
            f"{budget:g} GB (90% of {card:g} GB): it would run only with model offload, far slower than any speed "
            "planned here, so this card is not costed"),
            fix=f"a card with at least {math.ceil(largest / VRAM_BUDGET)} GB ({', '.join(bigger) or 'none in the catalogue'}){alt}")
    if needs["text"] > budget:
        cards = math.ceil(needs["text"] / budget)
        return Fit(**base, status="tensor_parallel", detail=(
            f"the text model (~{needs['text']:g} GB) exceeds one card's budget of {budget:g} GB"),
            fix=f"vllm serve ... --tensor-parallel-size {cards} (the text server on {cards} cards), or a "
                "quantised text model")
    total = sum(needs.values())
    if total > budget:
        return Fit(**base, status="swaps", detail=(
            f"each model fits alone, all three (~{total:g} GB) do not fit {budget:g} GB together: the memory manager "
            "moves the idle pipeline to the CPU between stages (tools/gpu/memory.py) and the text server needs its "
            "own share; swap time is not in the speeds planned"),
            fix=f"run the text server on other cards, or a card with at least {math.ceil(total / VRAM_BUDGET)} GB")
    return Fit(**base, status="fits", detail=f"all three models (~{total:g} GB) stay resident within {budget:g} GB")
