"""A plan: from what has been measured (inputs.py) and the catalogue, every option priced (options.py), the
break-even volumes between owning, renting and paying per call, and the sweeps the report plots (cost per finished
minute against volume, the clips' usable rate and utilisation), with what was declared rather than measured, what is
missing and the warnings (fit, no GPU measurement) gathered in one Plan.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np

from dramafactory.catalogue import Catalogue, catalogue

from . import model as m
from .gpus import check_preset, fit_of
from .inputs import essential, gather
from .options import Priced, api_options, gpu_options, laptop_option, sig
from .runs import RunFigures, read_run
from .schema import BreakEven, Plan, PlanRequest, Quantity, Sweep
from .work import Work, work_of

BREAK_EVEN_MAX_TITLES = 1_000_000
USABLE_SWEEP = [round(x, 2) for x in np.linspace(0.3, 1.0, 15)]
UTILISATION_SWEEP = [round(x, 2) for x in np.linspace(0.2, 1.0, 17)]


# --- break-even and sweeps ------------------------------------------------------------------------------------------

def break_evens(priced: dict[str, Priced], gpus: list[str], apis: list[str]) -> list[BreakEven]:
    pairs = []
    for gpu in gpus:
        onprem, reserved, on_demand = f"on-prem:{gpu}", f"cloud-reserved:{gpu}", f"cloud-on-demand:{gpu}"
        pairs += [(onprem, on_demand), (onprem, reserved), (reserved, on_demand),
                  *((onprem, f"api:{a}") for a in apis)]
    out = []
    for a, b in pairs:
        if a not in priced or b not in priced or priced[a].shape is None or priced[b].shape is None:
            continue
        crossing = m.break_even(priced[a].shape, priced[b].shape, BREAK_EVEN_MAX_TITLES)
        out.append(BreakEven(a=a, b=b, titles_per_month=crossing.titles, finding=crossing.finding))
    return out


def volume_sweep(priced: dict[str, Priced], request: PlanRequest) -> Sweep:
    top = max(10 * request.titles_per_month, 1000)
    x = np.unique(np.round(np.logspace(0, math.log10(top), 240)).astype(int))
    costs = {}
    for option_id, p in priced.items():
        if p.shape is not None:
            per_minute = p.shape.monthly_array(x) / (x * request.minutes_per_title)
            costs[option_id] = [sig(float(v)) for v in per_minute]
    return Sweep(x=[float(v) for v in x], cost_per_finished_minute_usd=costs, marked=request.titles_per_month)


def _at(p: Priced, work: Work, utilisation: float, request: PlanRequest) -> float | None:
    if p.rebuild is None:
        return None
    return sig(p.rebuild(work, utilisation).monthly(request.titles_per_month) / request.minutes_per_month)


def usable_sweep(priced: dict[str, Priced], work: Work, request: PlanRequest) -> Sweep:
    """Each clip passes QC with probability p: a usable shot costs 1/p clips (with any cap on attempts, attempts /
    usable = 1/p); keyframe retries stay as measured. Clips are most of the GPU time and of an API's bill, so this
    is the lever: a better QC loop (fewer bad clips, fewer false rejections) shows as a lower cost per finished
    minute. The plan's own point is marked at 1 / its clips per usable shot."""
    costs = {pid: [_at(p, work.with_renders(work.renders, 1 / x), request.utilisation, request)
                   for x in USABLE_SWEEP] for pid, p in priced.items() if p.rebuild is not None}
    return Sweep(x=USABLE_SWEEP, cost_per_finished_minute_usd=costs, marked=round(1 / work.clip_renders, 4))


def utilisation_sweep(priced: dict[str, Priced], work: Work, request: PlanRequest) -> Sweep:
    costs = {pid: [_at(p, work, x, request) for x in UTILISATION_SWEEP]
             for pid, p in priced.items() if p.rebuild is not None and p.option.kind != "api"}
    return Sweep(x=UTILISATION_SWEEP, cost_per_finished_minute_usd=costs, marked=request.utilisation)


# --- the plan -------------------------------------------------------------------------------------------------------

def make_plan(request: PlanRequest, *, cat: Catalogue | None = None, catalogue_path: Path | None = None,
              bench_dir: Path | None = None, runs: list[Path | RunFigures] | None = None,
              bench_label: str | None = None) -> Plan:
    """The plan for a request from what has been measured; PlanInputError names what cannot be used. `runs` are run
    folders or runs already read (`read_run`, which names a run by id for the API); `bench_label` is how the bench
    folder is named in provenance and messages (default: its path, relative to the checkout when inside it)."""
    cat = cat or catalogue()
    figs = cat.presets[request.preset]
    run_preset = check_preset(request.preset, figs)
    inputs = gather(cat, bench_dir, [r if isinstance(r, RunFigures) else read_run(r, cat) for r in runs or []],
                    bench_label=bench_label)
    essential(inputs)
    work = work_of(inputs)
    gpus = request.gpus or list(cat.gpus)
    apis = request.apis or list(cat.api_stacks)
    priced: dict[str, Priced] = {}
    for gpu_id in gpus:
        for p in gpu_options(request, gpu_id, cat, figs, run_preset, inputs, work):
            priced[p.option.id] = p
    for p in api_options(request, cat, inputs, work):
        priced[p.option.id] = p
    laptop = laptop_option(request, cat, inputs)
    priced[laptop.option.id] = laptop
    options = [p.option for p in priced.values()]
    declared: dict[tuple[str, str, float], Quantity] = {}
    for q in [*inputs.work.values(), *(f for o in options for f in o.figures)]:
        if not q.provenance.measured:
            declared.setdefault((q.name, q.provenance.source, q.value), q)
    warnings = list(inputs.notes)
    if not inputs.speeds:
        warnings.append("no GPU measurement: every GPU speed in this plan is a declared public figure (catalogue "
                        "presets.*.speed, its source and date in each option's figures), scaled across cards by "
                        "TFLOPS or bandwidth where it was stated for another card; measured: false")
    fits = [fit_of(request.preset, figs, g, cat) for g in gpus]
    warnings += [f"{f.preset} on {f.gpu}: {f.status}: {f.detail}; fix: {f.fix}" for f in fits if f.status != "fits"]
    sweeps = {"volume": volume_sweep(priced, request), "usable": usable_sweep(priced, work, request),
              "utilisation": utilisation_sweep(priced, work, request)}
    return Plan(request=request, created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                catalogue=str(catalogue_path) if catalogue_path else "dramafactory/catalogue.yaml (packaged)",
                finished_minutes_per_month=request.minutes_per_month,
                minutes_per_title=request.minutes_per_title, hours_per_month=m.HOURS_PER_MONTH,
                work=list(inputs.work.values()), options=options,
                break_even=break_evens(priced, gpus, apis), fits=fits, sweeps=sweeps,
                declared=list(declared.values()), missing=inputs.missing, warnings=warnings)
