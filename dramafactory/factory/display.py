"""What the operator sees: a live table of every series (rich Live, redrawn from the series' progress, which the
graph's events update) and, at the end, the table of results."""

from __future__ import annotations

import io
from collections.abc import Iterable

from rich.console import Console, RenderableType
from rich.markup import escape
from rich.table import Table

from .progress import SeriesProgress

STATUS_STYLE = {"finished": "green", "running": "cyan", "queued": "dim", "failed": "red", "invalid": "red",
                "budget": "yellow", "paused": "yellow", "stopped": "yellow"}
RESULT_LABEL = {"finished": "finished", "failed": "failed", "invalid": "bad concept", "budget": "stopped by budget",
                "paused": "waits for a person", "stopped": "stopped (resumable)"}


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _status(status: str, label: str | None = None) -> str:
    return f"[{STATUS_STYLE.get(status, 'white')}]{escape(label or status)}[/]"


class FactoryBoard:
    """The live table: rich calls __rich__ on every refresh, so it always shows the latest progress."""

    def __init__(self, progress: Iterable[SeriesProgress], title: str = "dramafactory factory"):
        self.progress = list(progress)
        self.title = title

    def __rich__(self) -> RenderableType:
        snaps = [p.snapshot() for p in self.progress]
        done = sum(1 for s in snaps if s["status"] not in ("queued", "running"))
        table = Table(title=f"{self.title}: {done}/{len(snaps)} series done", expand=False)
        for column, justify in (("series", "left"), ("title", "left"), ("stage", "left"), ("episode", "right"),
                                ("shots", "right"), ("retries", "right"), ("elapsed", "right"), ("ETA", "right"),
                                ("status", "left")):
            table.add_column(column, justify=justify, overflow="fold")
        for s in snaps:
            invalid = s["status"] == "invalid"
            episode = f"{max(s['episode'], s['episodes_done'])}/{s['episodes']}" if s["episodes"] else "—"
            shots = f"{s['shots_done']}/{s['shots_total']}" if s["shots_total"] else str(s["shots_done"] or "—")
            status = _status(s["status"], RESULT_LABEL.get(s["status"]))
            if s["reason"] and s["status"] not in ("finished", "running"):
                status += f": {escape(s['reason'][:100])}"
            table.add_row(escape(s["source"] if invalid else s["slug"]), escape(s["title"][:30]),
                          escape(s["stage"] or "—"), episode, shots, str(s["retries"]),
                          "—" if invalid else clock(s["elapsed"]), clock(s["eta"]), status)
        return table


def final_table(report: dict) -> Table:
    """Each series' result (finished / failed and why / stopped by budget ...), its minutes, wall time and cost,
    and the throughput line under it."""
    totals = report["totals"]
    table = Table(title=f"factory: {totals['finished']} of {totals['concepts']} series finished in "
                        f"{clock(report['wall_seconds'])}",
                  caption=f"{totals['episodes_made']} episode(s), {totals['minutes_made']:.2f} finished minute(s) "
                          f"made: {totals['episodes_per_hour']:.2f} episodes/hour, "
                          f"{totals['finished_minutes_per_hour']:.2f} finished minutes/hour")
    for column, justify in (("series", "left"), ("source", "left"), ("result", "left"), ("minutes", "right"),
                            ("wall s", "right"), ("cost", "right"), ("reason", "left")):
        table.add_column(column, justify=justify, overflow="fold")
    for row in report["series"]:
        label = RESULT_LABEL.get(row["status"], row["status"])
        if row["status"] == "finished" and row.get("already_finished"):
            label = "finished earlier"
        elif row["status"] == "finished" and row.get("resumed"):
            label = "finished (resumed)"
        cost = f"${row['cost_usd']:.4f}" if row.get("cost_usd") is not None else "—"
        table.add_row(escape(row["slug"] or "—"), escape(row["source"]), _status(row["status"], label),
                      f"{row['minutes']:.2f}", f"{row['wall_seconds']:.1f}", cost, escape(row["reason"] or ""))
    return table


def render_text(renderable: RenderableType, width: int = 200) -> str:
    """The renderable as plain text (for tests and logs)."""
    console = Console(file=io.StringIO(), width=width, color_system=None, force_terminal=False)
    console.print(renderable)
    return console.file.getvalue()  # type: ignore[attr-defined]
