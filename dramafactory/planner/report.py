"""The plan as one self-contained HTML page (plots embedded as PNG data, so the page is a single file written in one
atomic step) and as JSON: cost per finished minute by option against volume with the break-even points, GPU-hours by
stage, sensitivity to the usable rate and to utilisation, then every figure with where it came from."""

from __future__ import annotations

import base64
import io
import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on CI or servers; set before pyplot is imported

import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402

from dramafactory.evals.report import CSS, _e, _page, _table  # noqa: E402 - the eval reports' page helpers

from .schema import Option, Plan, Quantity  # noqa: E402
from .work import GPU_STAGES  # noqa: E402

KIND_STYLE = {"on-prem": "-", "cloud reserved": "-.", "cloud on-demand": "--", "api": ":", "laptop": ":"}
API_COLOURS = ["#6b6b6b", "#9a9a9a", "#3d3d3d"]
STAGE_COLOURS = {"text": "#54A24B", "keyframes": "#4C78A8", "clips": "#F58518", "retries": "#E45756"}
EXTRA_CSS = """
.notes li{margin:2px 0}.warn{background:#fff7e0;border:1px solid #f0d890;border-radius:6px;padding:8px 16px}
.missing{background:#fdecea;border:1px solid #f3b7b0;border-radius:6px;padding:8px 16px}
.measured{color:#1a7f37;font-weight:600}.declared{color:#a15c00;font-weight:600}
details{margin:4px 0}summary{cursor:pointer}td.num{text-align:right}
"""


def _money(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 1000:
        return f"${value:,.0f}"
    return f"${value:,.2f}" if value >= 1 else f"${value:.4f}"


def _hours(value: float | None) -> str:
    return "—" if value is None else (f"{value:,.0f}" if value >= 100 else f"{value:,.2f}")


def _duration(hours: float) -> str:
    return f"{hours:,.1f} h" if hours >= 1 else f"{hours * 60:,.1f} min"


def _title_time(option: Option) -> str:
    if option.title_hours_one_unit is None:
        return "—"
    fleet = f" / ≥ {_duration(option.title_hours_fleet)} on the fleet" if option.title_hours_fleet else ""
    return f"{_duration(option.title_hours_one_unit)} on one{fleet}"


def provenance_text(q: Quantity) -> str:
    p = q.provenance
    if p.measured:
        parts = [f"measured: {p.source}", f"machine {p.machine}" if p.machine else "", f"model {p.model}"
                 if p.model else "", f"date {p.date}" if p.date else ""]
    else:
        parts = [f"declared ({p.basis}): {p.source}", f"date {p.date}" if p.date else ""]
    return "; ".join(x for x in [*parts, p.note] if x)


def _figures_label(option: Option) -> str:
    if not option.costed and option.kind == "laptop":
        return '<span class="declared">not measured</span>'
    speeds = [f for f in option.figures if f.unit in ("s/image", "s/clip", "tokens/s")]
    if option.kind in ("api", "laptop"):
        work = "measured" if option.measured else "work partly declared"
        return f'<span class="{"measured" if option.measured else "declared"}">{work}</span>; prices declared'
    if speeds and all(f.provenance.measured for f in speeds):
        return '<span class="measured">speeds measured</span>; prices declared'
    return '<span class="declared">speeds declared</span>; prices declared'


def headline_rows(plan: Plan, brief: bool = False) -> list[list[str]]:
    """The options table's cells (HTML); `brief` gives an uncosted option's reason its first words only (the CLI
    prints the whole reason as a note below the table)."""
    rows = []
    for o in plan.options:
        fleet = f"{o.fleet:,} {o.fleet_unit}" if o.fleet else "—"
        reason = (o.reason or "").split(":")[0] + " (see notes)" if brief else o.reason
        cost = _money(o.cost_per_finished_minute_usd) if o.costed else f'<span class="fail">{_e(reason)}</span>'
        rows.append([_e(o.label), _e(fleet), f'<span class="num">{_hours(o.hours_per_month.get("total"))}</span>',
                     f'<span class="num">{cost}</span>', f'<span class="num">{_money(o.cost_per_title_usd)}</span>',
                     f'<span class="num">{_money(o.monthly_usd)}</span>', _e(_title_time(o)), _figures_label(o)])
    return rows


def _png(fig: plt.Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _colours(plan: Plan) -> dict[str, str]:
    gpus = list(dict.fromkeys(o.gpu for o in plan.options if o.gpu))
    cycle = plt.get_cmap("tab10").colors
    colours = {g: matplotlib.colors.to_hex(cycle[i % 10]) for i, g in enumerate(gpus)}
    apis = [o.id for o in plan.options if o.kind == "api"]
    colours.update({a: API_COLOURS[i % len(API_COLOURS)] for i, a in enumerate(apis)})
    colours["laptop"] = "#000000"
    return colours


def _style(option: Option, colours: dict[str, str]) -> dict:
    return {"color": colours.get(option.gpu or option.id, "#000"), "linestyle": KIND_STYLE[option.kind],
            "linewidth": 1.6 if option.kind == "on-prem" else 1.2}


def volume_plot(plan: Plan) -> str:
    sweep = plan.sweeps["volume"]
    colours = _colours(plan)
    options = {o.id: o for o in plan.options}
    fig, ax = plt.subplots(figsize=(11, 6))
    for option_id, costs in sweep.cost_per_finished_minute_usd.items():
        ax.plot(sweep.x, costs, label=options[option_id].label, **_style(options[option_id], colours))
    marked = False
    for be in plan.break_even:
        if be.titles_per_month is None or be.titles_per_month <= 1 or be.b.startswith("cloud-reserved"):
            continue
        a = options[be.a]
        # a's cost per finished minute at the break-even volume, from the same sweep (nearest point)
        xs = sweep.x
        i = min(range(len(xs)), key=lambda k: abs(xs[k] - be.titles_per_month))
        ax.plot([be.titles_per_month], [sweep.cost_per_finished_minute_usd[be.a][i]], marker="o", markersize=6,
                markerfacecolor="white", markeredgecolor=colours.get(a.gpu or a.id, "#000"), linestyle="none",
                label="break-even: the fleet option (owned or reserved) becomes cheaper" if not marked else None)
        marked = True
    ax.axvline(plan.request.titles_per_month, color="#c62828", linewidth=1, linestyle="--")
    ax.text(plan.request.titles_per_month, 0.98, f" target: {plan.request.titles_per_month:,} titles/month",
            color="#c62828", fontsize=8, va="top", transform=ax.get_xaxis_transform())
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("titles per month")
    ax.set_ylabel("USD per finished minute")
    ax.set_title(f"Cost per finished minute by option ({plan.request.episodes_per_title} episodes × "
                 f"{plan.request.minutes_per_episode:g} min per title, utilisation {plan.request.utilisation:g})",
                 fontsize=10)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return _png(fig)


def stage_plot(plan: Plan) -> str | None:
    rows = [o for o in plan.options if o.kind == "on-prem" and o.costed]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(11, 0.6 * len(rows) + 1.6))
    left = [0.0] * len(rows)
    for stage in GPU_STAGES:
        values = [o.hours_per_month.get(stage, 0.0) for o in rows]
        ax.barh([o.gpu for o in rows], values, left=left, color=STAGE_COLOURS[stage], label=stage)
        left = [a + b for a, b in zip(left, values, strict=True)]
    for y, (o, total) in enumerate(zip(rows, left, strict=True)):
        ax.text(total, y, f"  {total:,.0f} GPU-h · {o.fleet:,} GPUs", va="center", fontsize=8)
    ax.set_xlim(0, max(left) * 1.35 if max(left) else 1)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.invert_yaxis()
    ax.set_xlabel("GPU-hours per month (speech, QC and assembly run on the host CPU: see the table)")
    ax.set_title("GPU-hours per month by stage at the target volume", fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _png(fig)


def sensitivity_plot(plan: Plan) -> str:
    colours = _colours(plan)
    options = {o.id: o for o in plan.options}
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.6))
    usable = plan.sweeps["usable"]
    for option_id, costs in usable.cost_per_finished_minute_usd.items():
        o = options[option_id]
        if o.kind in ("on-prem", "api"):
            left.plot(usable.x, costs, label=o.label, **_style(o, colours))
    if usable.marked is not None:
        left.axvline(usable.marked, color="#c62828", linestyle="--", linewidth=1)
        left.text(usable.marked, 0.03, "the plan ", color="#c62828", fontsize=8, va="bottom", ha="right",
                  transform=left.get_xaxis_transform())  # x in data, y in axes fractions
    left.set_yscale("log")
    left.set_xlabel("clips' first-pass usable rate p (1/p clips per usable shot; keyframe retries as measured)")
    left.set_ylabel("USD per finished minute")
    left.set_title("Sensitivity to the usable rate (owned GPUs and APIs)", fontsize=10)
    left.grid(True, alpha=0.25)
    left.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False)
    util = plan.sweeps["utilisation"]
    for option_id, costs in util.cost_per_finished_minute_usd.items():
        o = options[option_id]
        if o.kind != "laptop":
            right.plot(util.x, costs, label=o.label, **_style(o, colours))
    right.axvline(plan.request.utilisation, color="#c62828", linestyle="--", linewidth=1)
    right.set_xlabel("utilisation (share of the fleet's hours doing work)")
    right.set_title("Sensitivity to utilisation (GPU options)", fontsize=10)
    right.grid(True, alpha=0.25)
    right.legend(fontsize=7, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False)
    fig.tight_layout()
    return _png(fig)


def _img(src: str, alt: str, test_id: str) -> str:
    return f'<img class="plot" data-testid="{test_id}" src="{src}" alt="{_e(alt)}">'


def _value(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 10_000 else f"{value:,.4g}"


def _quantity_rows(quantities: list[Quantity]) -> list[list[str]]:
    return [[_e(q.name), f'<span class="num">{_value(q.value)}</span>', _e(q.unit),
             '<span class="measured">measured</span>' if q.provenance.measured else
             f'<span class="declared">declared ({_e(q.provenance.basis)})</span>', _e(provenance_text(q))]
            for q in quantities]


def render_html(plan: Plan) -> str:
    r = plan.request
    body = [f"<h1>Capacity and cost plan: {r.titles_per_month:,} titles a month</h1>",
            f"<p>{r.episodes_per_title} episodes × {r.minutes_per_episode:g} min per title = "
            f"{plan.minutes_per_title:,.1f} finished minutes a title, {plan.finished_minutes_per_month:,.0f} a month · "
            f"preset <b>{_e(r.preset)}</b> · utilisation {r.utilisation:g} · {plan.hours_per_month:g} h a month · "
            f"catalogue {_e(plan.catalogue)} · made {_e(plan.created_at)}</p>"]
    if plan.missing:
        body.append('<div class="missing" data-testid="missing"><b>Not measured (not defaulted):</b><ul>'
                    + "".join(f"<li>{_e(x)}</li>" for x in plan.missing) + "</ul></div>")
    if plan.warnings:
        body.append('<div class="warn" data-testid="warnings"><ul class="notes">'
                    + "".join(f"<li>{_e(x)}</li>" for x in plan.warnings) + "</ul></div>")
    body.append('<section id="options"><h2>Options at the target volume</h2>'
                + _table(["option", "fleet", "hours/month", "USD per finished minute", "USD per title",
                          "USD per month", "wall-clock per title", "figures"], headline_rows(plan, brief=True)).replace(
                    "<table>", '<table data-testid="options-table">', 1)
                + "<p class=\"neutral\">Hours are GPU-hours (machine-hours for the laptop). Wall-clock per title: every "
                  "stage one after another on one GPU and its host (host-CPU speech, QC and assembly included); on "
                  "the fleet, a lower bound: text, speech and assembly one episode after another, plus the shots' "
                  "GPU work spread over the whole fleet (each option's notes).</p></section>")
    body.append('<section id="volume"><h2>Cost per finished minute against volume</h2>'
                + _img(volume_plot(plan), "cost per finished minute by option against titles per month",
                       "plot-volume"))
    rows = [[_e(b.a), _e(b.b), f'<span class="num">{b.titles_per_month:,}</span>' if b.titles_per_month else "—",
             _e(b.finding)] for b in plan.break_even]
    body.append("<h3>Break-even volumes</h3>" + _table(["option a", "against b", "a costs no more from (titles/month)",
                                                       "finding"], rows) + "</section>")
    stage = stage_plot(plan)
    stage_rows = []
    for o in plan.options:
        if o.costed and o.kind in ("on-prem", "laptop"):
            cells = [_hours(o.hours_per_month.get(s)) if o.kind == "laptop" or s not in ("speech", "qc", "assembly")
                     else "host CPU" for s in ("text", "keyframes", "clips", "retries", "speech", "qc", "assembly")]
            cpu = ", ".join(f"{k} {v:,.0f}" for k, v in o.cpu_core_hours_per_month.items()) or "—"
            stage_rows.append([_e(o.label), *(f'<span class="num">{c}</span>' for c in cells), _e(cpu)])
    body.append('<section id="stages"><h2>Hours by stage</h2>' + (_img(stage, "GPU-hours by stage", "plot-stages")
                                                                   if stage else "")
                + _table(["option", "text", "keyframes", "clips", "retries", "speech", "QC", "assembly",
                          "host CPU core-hours"], stage_rows) + "</section>")
    body.append('<section id="sensitivity"><h2>Sensitivity</h2>'
                + _img(sensitivity_plot(plan), "cost per finished minute against usable rate and utilisation",
                       "plot-sensitivity") + "</section>")
    body.append('<section id="work"><h2>Work per finished minute</h2>'
                + _table(["figure", "value", "unit", "kind", "provenance"], _quantity_rows(plan.work)) + "</section>")
    fits = [[_e(f.gpu), _e(f.preset), f'<span class="{"pass" if f.status == "fits" else "fail"}">{_e(f.status)}</span>',
             _e(", ".join(f"{k} {v:g}" for k, v in f.needs_gb.items())), f"{f.budget_gb:g} of {f.card_gb:g}",
             _e(f.detail), _e(f.fix or "")] for f in plan.fits]
    body.append('<section id="fits"><h2>Does the preset fit the card?</h2>'
                + _table(["GPU", "preset", "status", "needs GB", "budget GB", "detail", "fix"], fits) + "</section>")
    details = "".join(f"<details><summary>{_e(o.label)}</summary>"
                      + _table(["figure", "value", "unit", "kind", "provenance"], _quantity_rows(o.figures))
                      + (f"<p>cost per month: {_e(', '.join(f'{k} {_money(v)}' for k, v in o.cost_breakdown_usd.items()))}"
                         "</p>" if o.cost_breakdown_usd else "")
                      + "".join(f'<p class="neutral">{_e(n)}</p>' for n in o.notes) + "</details>"
                      for o in plan.options)
    body.append(f'<section id="figures"><h2>Every option\'s figures</h2>{details}</section>')
    body.append('<section id="declared"><h2>Declared figures used (not measured here)</h2>'
                + _table(["figure", "value", "unit", "kind", "provenance"], _quantity_rows(plan.declared))
                + "</section>")
    return _page(f"dramafactory plan — {r.titles_per_month:,} titles/month", "".join(body)).replace(
        f"<style>{CSS}</style>", f"<style>{CSS}{EXTRA_CSS}</style>", 1)


def render_json(plan: Plan) -> str:
    return plan.model_dump_json(indent=2) + "\n"


class OutputError(OSError):
    """A target the plan cannot be written to: `target` is the path as given, `reason` says why."""

    def __init__(self, target: Path, reason: str):
        super().__init__(f"{target}: {reason}")
        self.target, self.reason = Path(target), reason

    def __str__(self) -> str:
        return f"{self.target}: {self.reason}"


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_targets(paths: list[Path | None]) -> None:
    """Before anything is written: every target must be a file path (not a folder), given once, whose parent is a
    folder or can be made one (its nearest existing ancestor a writable folder). OutputError names the first that
    is not."""
    seen: set[Path] = set()
    for path in filter(None, paths):
        resolved = Path(os.path.abspath(path))
        if resolved in seen:
            raise OutputError(path, "given twice")
        seen.add(resolved)
        if resolved.is_dir():
            raise OutputError(path, "is a folder; give a file path")
        if resolved.exists() and not resolved.is_file():
            raise OutputError(path, "exists and is not a regular file")
        ancestor = resolved.parent
        while not ancestor.exists():
            ancestor = ancestor.parent
        if not ancestor.is_dir():
            raise OutputError(path, f"{ancestor} is a file, not a folder")
        if not os.access(ancestor, os.W_OK | os.X_OK):
            raise OutputError(path, f"folder {ancestor} is not writable")


def write_atomic(outputs: dict[Path, str]) -> None:
    """Write every file or none: the targets are checked first (`check_targets`), each file goes to a temporary
    file beside its target, and only when all are written are they renamed into place (a rename within a folder is
    atomic). Folders made for them are removed again if anything fails. The files get the permissions a new file
    gets (0o666 less the umask), not the temporary file's 0o600."""
    check_targets(list(outputs))
    mode = 0o666 & ~_umask()
    staged: list[tuple[str, Path]] = []
    made: list[Path] = []
    current: Path | None = None
    done = False
    try:
        for path, text in outputs.items():
            current = path
            missing = [p for p in [path.parent, *path.parent.parents] if not p.exists()]
            for folder in reversed(missing):
                folder.mkdir()
                made.append(folder)
            handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            staged.append((tmp, path))
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fchmod(out.fileno(), mode)
                os.fsync(out.fileno())
        for tmp, path in staged:
            current = path
            os.replace(tmp, path)
        done = True
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(current, exc.strerror or str(exc)) from exc
    finally:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)
        if not done:
            for folder in reversed(made):
                try:
                    folder.rmdir()
                except OSError:
                    pass
