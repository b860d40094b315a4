"""Turn eval results into one static HTML page a person can read without running anything.

results.json answers "did it pass"; this page answers "where and how badly": every metric per case with its threshold,
what regressed against the baseline, the identity grid per case and the contact sheets beside the numbers. The page is
plain HTML with inline CSS and PNG plots next to it, so it opens from a CI artifact or a laptop with no network.
"""

from __future__ import annotations

import html
import math
import re
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on CI or on the GPU boxes; must be set before pyplot is imported

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

ASSETS = "report_assets"
MAX_DETAIL = 3
PASS_COLOUR, FAIL_COLOUR = "#4C78A8", "#E45756"
STATUS_COLOUR = {"regressed": "#E45756", "improved": "#54A24B"}
STATUS_CLASS = {"regressed": "fail", "improved": "pass"}

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1200px;padding:0 16px;
color:#222}
h1{margin-bottom:4px}h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:32px}
table{border-collapse:collapse;margin:8px 0 16px;font-size:14px}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f4f4f4}
.num{font-variant-numeric:tabular-nums}
.pass{color:#1a7f37;font-weight:600}.fail{color:#c62828;font-weight:600}.neutral{color:#666}
.verdict{font-size:20px;padding:2px 10px;border-radius:4px;color:#fff}
.verdict.pass{background:#1a7f37}.verdict.fail{background:#c62828}
img.plot{display:block;max-width:100%;height:auto;margin:8px 0}
img.sheet{box-sizing:border-box;max-width:480px;width:100%;height:auto;border:1px solid #ccc;margin:4px 8px 4px 0}
.case{border:1px solid #e4e4e4;border-radius:6px;padding:8px 16px;margin:16px 0}
.detail{margin:0;padding-left:16px;font-size:13px;color:#555}.meta td:first-child{font-weight:600}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Any) -> str:
    """Numbers short enough for a table cell; a band threshold prints as [low, high]."""
    if value is None:
        return "—"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_num(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _better(better: str | None) -> str:
    return "inside the band" if better == "band" else f"{better or 'higher'} is better"


def _verdict(passed: Any) -> str:
    if passed is None:
        return '<span class="neutral">—</span>'
    return '<span class="pass">PASS</span>' if passed else '<span class="fail">FAIL</span>'


def _table(headers: list[str], rows: list[list[str]]) -> str:
    """Cells are HTML already (escaped by the caller), so status badges can carry their class."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text) or "x"


def _save(fig: plt.Figure, out: Path, name: str) -> str:
    """Save under out/report_assets and return the path relative to the page, which lives in `out`."""
    (out / ASSETS).mkdir(parents=True, exist_ok=True)
    fig.savefig(out / ASSETS / name, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return f"{ASSETS}/{name}"


def _img(src: str, alt: str, cls: str = "plot") -> str:
    return f'<img class="{cls}" src="{_e(src)}" alt="{_e(alt)}">'


def _grid(n: int, width: float = 4.2, height: float = 3.0) -> tuple[plt.Figure, list[plt.Axes]]:
    """Small multiples: metrics have different scales (shares, counts, seconds), so each gets its own y axis."""
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _metric_plot(results: dict, out: Path) -> str | None:
    """One panel per metric, one bar per case, failed bars in red, the threshold as a line or a band."""
    per_metric: dict[str, list[tuple[str, dict]]] = {}
    for case in results.get("cases", []):
        for m in case.get("metrics", []):
            per_metric.setdefault(m["name"], []).append((case["id"], m))
    if not per_metric:
        return None
    fig, axes = _grid(len(per_metric))
    for ax, (name, items) in zip(axes, per_metric.items(), strict=True):
        values = [m["value"] if m.get("value") is not None else np.nan for _, m in items]
        colours = [PASS_COLOUR if m.get("passed") else FAIL_COLOUR for _, m in items]
        ax.bar(range(len(items)), values, color=colours)
        ax.set_xticks(range(len(items)), [cid for cid, _ in items], rotation=30, ha="right", fontsize=8)
        threshold = items[0][1].get("threshold")
        if isinstance(threshold, int | float):
            ax.axhline(threshold, color="#333", linestyle="--", linewidth=1)
        elif isinstance(threshold, list) and len(threshold) == 2 and None not in threshold:
            ax.axhspan(threshold[0], threshold[1], color="#54A24B", alpha=0.15, zorder=0)
            for edge in threshold:
                ax.axhline(edge, color="#54A24B", linestyle="--", linewidth=1)
        ax.set_title(f"{name} ({_better(items[0][1].get('better'))})", fontsize=9)
        ax.tick_params(axis="y", labelsize=8)
    fig.suptitle("red: failed · dashed: threshold · green band: accepted range", fontsize=9, color="#555")
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()))  # keep the key clear of the first row
    return _save(fig, out, "metrics.png")


def _compare_plot(deltas: dict, out: Path) -> str:
    names = list(deltas)
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(names) + 1.2))
    values = [deltas[n].get("delta") or 0.0 for n in names]
    ax.barh(names, values, color=[STATUS_COLOUR.get(deltas[n].get("status"), "#999") for n in names])
    ax.axvline(0, color="#333", linewidth=0.8)
    ax.invert_yaxis()
    ax.tick_params(labelsize=8)
    ax.set_xlabel("now − baseline   (red: regressed · green: improved · grey: other)", fontsize=9)
    fig.tight_layout()
    return _save(fig, out, "compare.png")


def _heatmap_plot(case: dict, out: Path) -> str:
    """Characters × shots identity similarity; grey where the character is not in the shot."""
    grid = case["heatmap"]
    data = np.ma.masked_invalid(np.array([[np.nan if v is None else v for v in row] for row in grid["identity"]],
                                         dtype=float))
    shots, chars = grid.get("shots", []), grid.get("characters", [])
    fig, ax = plt.subplots(figsize=(min(16, 3.5 + 0.5 * len(shots)), 1.5 + 0.45 * len(chars)))
    cmap = plt.get_cmap("viridis").with_extremes(bad="#d0d0d0")
    im = ax.imshow(data, cmap=cmap, vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(shots)), shots, rotation=90, fontsize=7)
    ax.set_yticks(range(len(chars)), chars, fontsize=8)
    if len(shots) <= 24:
        for (r, c), v in np.ndenumerate(data.filled(np.nan)):
            if not np.isnan(v):
                ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white" if v < 0.6 else "black")
    fig.colorbar(im, ax=ax, label="identity similarity")
    fig.tight_layout()
    return _save(fig, out, f"heatmap_{_slug(case['id'])}.png")


def _case_html(case: dict, out: Path) -> str:
    rows = []
    for m in case.get("metrics", []):
        detail = "".join(f"<li>{_e(d)}</li>" for d in (m.get("detail") or [])[:MAX_DETAIL])
        rows.append([_e(m["name"]), f'<span class="num">{_e(_num(m.get("value")))}</span>', _verdict(m.get("passed")),
                     _e(_num(m.get("threshold"))), f'<ul class="detail">{detail}</ul>' if detail else ""])
    meta = ", ".join(f"{k}: {case[k]}" for k in ("genre", "seed", "run_dir") if case.get(k) is not None)
    parts = [f'<div class="case" id="case-{_e(_slug(case["id"]))}"><h3>{_e(case["id"])}</h3>',
             f"<p>{_e(case.get('concept', ''))}<br><small>{_e(meta)}</small></p>"]
    parts += [f'<p class="fail">INVARIANT VIOLATED: {_e(m["name"])}: {_e("; ".join((m.get("detail") or [])[:MAX_DETAIL]))}'
              f"</p>" for m in case.get("invariants") or [] if not m.get("passed")]
    parts.append(_table(["metric", "value", "passed", "threshold", "first failures"], rows))
    if (case.get("heatmap") or {}).get("identity"):  # an empty grid has nothing to draw
        parts.append(_img(_heatmap_plot(case, out), f"identity heatmap {case['id']}"))
    sheets = [Path(p) for p in case.get("contact_sheets") or []]
    parts += [_img(p.as_posix() if not p.is_absolute() else p.as_uri(), f"contact sheet {p.name}", "sheet")
              for p in sheets]
    return "".join(parts) + "</div>"


def _invariants_html(invariants: dict) -> str:
    """Above the metrics, because a violation is an error in the code that guarantees it, not a score to weigh."""
    if not invariants:
        return ""
    broken = [n for n, row in invariants.items() if not row.get("held")]
    rows = [[_e(n), '<span class="pass">held</span>' if row.get("held") else '<span class="fail">VIOLATED</span>',
             _e(row.get("cases")), _e(row.get("guaranteed_by", "")),
             '<ul class="detail">' + "".join(f"<li>{_e(v)}</li>" for v in (row.get("violations") or [])[:MAX_DETAIL])
             + "</ul>"] for n, row in invariants.items()]
    head = (f'<p class="fail">{len(broken)} invariant(s) violated: {_e(", ".join(broken))}</p>' if broken else
            '<p class="neutral">Guaranteed by the code that makes them; checked on every case, never scored.</p>')
    return ('<section id="invariants"><h2>Invariants</h2>' + head
            + _table(["invariant", "status", "cases", "guaranteed by", "violations"], rows) + "</section>")


def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
            f"<style>{CSS}</style></head><body>{body}</body></html>")


def write_report(results: dict, out: Path) -> Path:
    """Write out/report.html (+ out/report_assets/*.png) for one eval run and return the HTML path.

    `out` is the folder holding results.json, so the contact-sheet paths in the results are already relative to it.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    suite = results.get("suite", "?")
    settings = [[_e(k), _e(_num(v))] for k, v in (results.get("settings") or {}).items()]
    body = [f"<h1>{_e(suite)} <span class=\"verdict {'pass' if results.get('passed') else 'fail'}\">"
            f"{'PASS' if results.get('passed') else 'FAIL'}</span></h1>",
            f"<p>{_e(results.get('label', ''))} · created {_e(results.get('created', '?'))} · "
            f"{_e(_num(results.get('seconds')))} s total</p>",
            '<table class="meta"><tbody>' + "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in settings)
            + "</tbody></table>"]
    rows = [[_e(name), *(f'<span class="num">{_e(_num(s.get(k)))}</span>' for k in ("mean", "min", "max")),
             _e(_num(s.get("threshold"))), _e(s.get("better", "")), _verdict(s.get("passed"))]
            for name, s in (results.get("metrics") or {}).items()]
    body.append(_invariants_html(results.get("invariants") or {}))
    body.append('<section id="summary"><h2>Summary</h2>'
                + _table(["metric", "mean", "min", "max", "threshold", "better", "passed"], rows))
    plot = _metric_plot(results, out)
    body.append((_img(plot, "metric values per case") if plot else "") + "</section>")
    compare = results.get("compare")
    if compare:
        deltas = compare.get("deltas") or {}
        crow = [[_e(n), *(_e(_num(d.get(k))) for k in ("baseline", "now", "delta", "tolerance")),
                 f'<span class="{STATUS_CLASS.get(d.get("status"), "neutral")}">{_e(d.get("status"))}</span>']
                for n, d in deltas.items()]
        body.append(f'<section id="compare"><h2>Compare with {_e(compare.get("baseline", "baseline"))} '
                    f"{_verdict(compare.get('passed'))}</h2>"
                    + "".join(f'<p class="fail">not comparable: {_e(m)}</p>' for m in compare.get("plan_mismatch") or [])
                    + "".join(f'<p class="fail">invariant violated: {_e(n)}</p>'
                              for n in compare.get("invariants_violated") or [])
                    + (_img(_compare_plot(deltas, out), "deltas vs baseline") if deltas else "")
                    + _table(["metric", "baseline", "now", "delta", "tolerance", "status"], crow) + "</section>")
    body.append('<section id="cases"><h2>Cases</h2>' + "".join(_case_html(c, out) for c in results.get("cases", []))
                + "</section>")
    path = out / "report.html"
    path.write_text(_page(f"dramafactory eval — {suite}", "".join(body)), encoding="utf-8")
    return path


def _ab_plot(ab: dict, out: Path) -> str | None:
    metrics = ab.get("metrics") or {}
    if not metrics:
        return None
    fig, axes = _grid(len(metrics), width=3.6, height=2.8)
    for ax, (name, m) in zip(axes, metrics.items(), strict=True):
        means = [m[side].get("mean") or 0.0 for side in ("a", "b")]
        stds = [m[side].get("std") or 0.0 for side in ("a", "b")]
        ax.bar([0, 1], means, yerr=stds, capsize=6, color=[PASS_COLOUR, "#F58518"])
        ax.set_xticks([0, 1], [ab.get("a", "A"), ab.get("b", "B")], fontsize=8)
        winner = {"a": ab.get("a", "A"), "b": ab.get("b", "B")}.get(m.get("winner"), m.get("winner", "?"))
        ax.set_title(f"{name}\nwinner: {winner} ({_better(m.get('better'))})", fontsize=9)
        ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    return _save(fig, out, "ab.png")


def write_ab_report(ab: dict, out: Path) -> Path:
    """Write out/ab_report.html (+ assets) comparing two configurations over the same concepts and seeds."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    a, b = ab.get("a", "A"), ab.get("b", "B")
    names = {"a": a, "b": b, "tie": "tie"}

    def pm(side: dict) -> str:
        return f"{_num(side.get('mean'))} ± {_num(side.get('std'))}"

    rows = [[_e(n), _e(pm(m["a"])), _e(pm(m["b"])), _e(_num(m.get("delta"))), _e(m.get("better", "")),
             f"<strong>{_e(names.get(m.get('winner'), m.get('winner')))}</strong>"]
            for n, m in (ab.get("metrics") or {}).items()]
    body = [f"<h1>A/B: {_e(a)} vs {_e(b)}</h1>",
            f"<p>concepts: {_e(', '.join(map(str, ab.get('concepts', []))))} · seeds: "
            f"{_e(', '.join(map(str, ab.get('seeds', []))))} · created {_e(ab.get('created', '?'))}</p>",
            *(f'<p class="fail">INVARIANT VIOLATED in {_e(names[side])}: {_e(", ".join(broken))} (no verdict on '
              f"invariants: see that side's results)</p>"
              for side, broken in (ab.get("invariants_violated") or {}).items() if broken),
            '<section id="summary"><h2>Metrics</h2>'
            + _table(["metric", f"A ({a}) mean ± std", f"B ({b}) mean ± std", "delta (B − A)", "better", "winner"], rows)]
    plot = _ab_plot(ab, out)
    body.append((_img(plot, "A vs B per metric") if plot else "") + "</section>")
    if ab.get("judge"):
        jrows = [[_e(c), *(f'<span class="num">{_e(j.get(k, 0))}</span>' for k in ("a_wins", "b_wins", "ties"))]
                 for c, j in ab["judge"].items()]
        body.append('<section id="judge"><h2>Judge</h2>'
                    + _table(["criterion", f"A ({a}) wins", f"B ({b}) wins", "ties"], jrows) + "</section>")
    path = out / "ab_report.html"
    path.write_text(_page(f"dramafactory A/B — {a} vs {b}", "".join(body)), encoding="utf-8")
    return path
