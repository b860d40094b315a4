"""`dramafactory cost DIR...`: what each run folder has cost so far, and the total.

It reads each folder's ledger.jsonl, not its summary.json, so a run that is still going, was stopped by its budget
or crashed is costed too. Each row costs what it recorded when it was written (dramafactory/prices.py); a row from
before costs were recorded is priced with this environment's settings. A folder that is not a run is reported by
name and the others are still listed (exit 2 at the end, the CLI's code for bad input).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from .config import Settings
from .errors import DramaError
from .prices import Pricing, format_usd
from .tools.accounting import price_rows, sum_usd
from .tools.ledger import Ledger

EXIT_NOT_A_RUN = 2


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _title(run_dir: Path) -> str:
    title = _read_json(run_dir / "bible.json").get("title")
    if title:
        return str(title)
    logline = _read_json(run_dir / "concept.json").get("logline")  # before the director has named the series
    return f"({str(logline)[:40]})" if logline else f"({run_dir.name})"


def run_costs(run_dir: Path, pricing: Pricing) -> dict:
    """One run folder's figures from its ledger; DramaError when the folder is not a run."""
    ledger_path = run_dir / "ledger.jsonl"
    if not run_dir.is_dir():
        raise DramaError(f"{run_dir} is not a folder", "pass run folders (the --out of dramafactory produce)")
    if not ledger_path.is_file():
        raise DramaError(f"{run_dir} is not a run folder (it has no ledger.jsonl)",
                         "pass run folders (the --out of dramafactory produce)")
    ledger = Ledger(ledger_path, pricing=pricing)  # opened to read: it writes nothing
    rows = ledger.rows()
    costs = price_rows(rows, pricing)
    # An episode is finished once assembled: its assemble row, and the seconds its shots.json gives the cut.
    assembled = sorted({r["episode"] for r in rows if r.get("stage") == "assemble" and r.get("kind", "call") == "call"
                        and isinstance(r.get("episode"), int)})
    seconds = [float(_read_json(run_dir / "episodes" / f"{n:02d}" / "shots.json").get("seconds") or 0.0)
               for n in assembled]
    minutes = sum(seconds) / 60
    budgets = [r.get("budget_usd") for r in rows if r.get("kind") == "mark"]
    budget = budgets[-1] if budgets else None  # the cap of the run's latest process
    return {
        "path": str(run_dir), "run_id": rows[0].get("run_id", "") if rows else "", "title": _title(run_dir),
        "finished": (run_dir / "summary.json").is_file(), "episodes": len(assembled),
        "finished_minutes": round(minutes, 4), "cpu_seconds": round(costs.cpu_seconds, 3),
        "gpu_seconds": round(costs.gpu_seconds, 3), "tokens": sum(int(r.get("tokens") or 0) for r in rows),
        "cost_usd": costs.usd, "cost_per_finished_minute_usd": round(costs.usd / minutes, 9) if minutes else None,
        "budget_usd": budget, "left_usd": round(budget - costs.usd, 9) if budget is not None else None,
        "unpriced_calls": costs.unpriced_calls,
        "price_profiles": sorted({str(r["price_profile"]) for r in rows if r.get("price_profile")}),
        "ledger_torn_lines": ledger.torn_lines,
    }


def total_of(runs: list[dict]) -> dict:
    cost = sum_usd(r["cost_usd"] for r in runs)
    minutes = sum(r["finished_minutes"] for r in runs)
    capped = [r for r in runs if r["budget_usd"] is not None]
    return {
        "runs": len(runs), "episodes": sum(r["episodes"] for r in runs), "finished_minutes": round(minutes, 4),
        "cpu_seconds": round(sum(r["cpu_seconds"] for r in runs), 3),
        "gpu_seconds": round(sum(r["gpu_seconds"] for r in runs), 3), "tokens": sum(r["tokens"] for r in runs),
        "cost_usd": cost, "cost_per_finished_minute_usd": round(cost / minutes, 9) if minutes else None,
        # budgets are per series: their total, and what is left of them, over the runs that have one
        "budget_usd": sum_usd(r["budget_usd"] for r in capped) if capped else None,
        "left_usd": sum_usd(r["left_usd"] for r in capped) if capped else None,
        "unpriced_calls": sum(r["unpriced_calls"] for r in runs),
    }


def _money(value: float | None) -> str:
    return "" if value is None else format_usd(value)


def _table(runs: list[dict], total: dict) -> Table:
    table = Table(title="dramafactory cost", show_footer=True)
    columns = ("run", "title", "state", "episodes", "finished min", "CPU s", "GPU s", "tokens", "cost",
               "$/finished min", "budget", "left")
    footer = ["total", f"{total['runs']} run(s)", "", str(total["episodes"]), f"{total['finished_minutes']:.2f}",
              f"{total['cpu_seconds']:,.1f}", f"{total['gpu_seconds']:,.1f}", f"{total['tokens']:,}",
              _money(total["cost_usd"]), _money(total["cost_per_finished_minute_usd"]), _money(total["budget_usd"]),
              _money(total["left_usd"])]
    for name, foot in zip(columns, footer, strict=True):
        table.add_column(name, footer=foot, overflow="fold", justify="left" if name in ("run", "title") else "right")
    for r in runs:
        table.add_row(r["path"], r["title"], "finished" if r["finished"] else "unfinished", str(r["episodes"]),
                      f"{r['finished_minutes']:.2f}", f"{r['cpu_seconds']:,.1f}", f"{r['gpu_seconds']:,.1f}",
                      f"{r['tokens']:,}", _money(r["cost_usd"]), _money(r["cost_per_finished_minute_usd"]),
                      _money(r["budget_usd"]), _money(r["left_usd"]))
    return table


def _expand(dirs: list[Path]) -> list[Path]:
    """A factory's --out folder (it holds factory.json and no ledger of its own) stands for its series' folders."""
    out: list[Path] = []
    for folder in dirs:
        if (folder / "factory.json").is_file() and not (folder / "ledger.jsonl").is_file():
            out += sorted(p.parent for p in folder.glob("*/ledger.jsonl"))
        else:
            out.append(folder)
    return out


def cost_command(
    dirs: Annotated[list[Path], typer.Argument(metavar="DIR...", help="Run folders (the --out of produce), or a factory's --out (its series).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """What each run folder has cost so far (from its ledger.jsonl, so unfinished and stopped runs count), one row
    per run and a total: episodes, finished minutes, CPU and GPU seconds, tokens, cost, cost per finished minute,
    budget and what is left of it. A folder that is not a run is named on stderr and the others are still listed;
    the exit code is then 2."""
    errors = Console(stderr=True)
    try:
        pricing = Pricing.from_settings(Settings())
    except DramaError as exc:
        errors.print(f"[bold red]error:[/] {exc.cause} — fix: {exc.fix}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except ValidationError as exc:
        errors.print(f"[bold red]error:[/] the settings are invalid: {exc.errors()[0]['msg']} — fix: check the "
                     "DRAMAFACTORY_* variables", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    runs, bad = [], []
    for run_dir in _expand(dirs):
        try:
            runs.append(run_costs(run_dir, pricing))
        except DramaError as exc:
            bad.append({"path": str(run_dir), "error": exc.cause, "fix": exc.fix})
    total = total_of(runs)
    if as_json:
        json.dump({"runs": runs, "total": total, "errors": bad}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif runs:
        Console(width=200).print(_table(runs, total))
    for item in bad:
        errors.print(f"[bold red]error:[/] {item['error']} — fix: {item['fix']}", highlight=False, soft_wrap=True)
    if bad:
        raise typer.Exit(EXIT_NOT_A_RUN)
