"""`dramafactory factory CONCEPTS_DIR_OR_FILE --out DIR`: many series at once, with a live table and a final one.

dramafactory/cli.py registers `factory_command` (this module does not import the CLI module, so either can be
imported first, and it imports the factory's machinery only when the command runs)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.markup import escape

from dramafactory.config import Settings
from dramafactory.errors import DramaError

from .concepts import load_concepts
from .display import FactoryBoard, final_table

if TYPE_CHECKING:
    from .run import SharedBackends

EXIT_BAD_INPUT = 2
EXIT_SOME_FAILED = 1
EXIT_INTERRUPTED = 130


def _error(console: Console, cause: str, fix: str | None = None) -> None:
    console.print(f"[bold red]error:[/] {escape(cause)}" + (f" — fix: {escape(fix)}" if fix else ""), highlight=False,
                  soft_wrap=True, markup=True)


def run_command(concepts: Path, out: Path, settings: Settings, *, parallel: int | None = None, seed: int = 0,
                overrides: dict | None = None, budget_usd: float | None = None, shared: SharedBackends | None = None,
                engine: Any = None, console: Console | None = None, live: bool = True) -> int:
    """The factory command without typer: the exit status (0 every series finished; 1 some concept was bad or
    some series did not finish; 2 the input or a backend cannot be used at all; 130 interrupted). `shared` and
    `engine`: prepared backends (tests, benchmarks) instead of the configured ones."""
    # imported here: `dramafactory --help` should not load LangGraph (run.py's) for a command it does not run
    from .run import FactoryRun, SharedBackends, default_parallel, factory_settings, run_factory

    console = console or Console(stderr=True)
    if budget_usd is not None and not budget_usd > 0:  # refused once here, not once per series
        _error(console, f"--budget-usd {budget_usd!r} is not a positive amount",
               "pass a positive number of dollars, or leave it out for no cap")
        return EXIT_BAD_INPUT
    parallel = parallel or default_parallel()
    settings = factory_settings(settings, parallel, budget_usd)
    try:
        entries = load_concepts(concepts, settings, overrides)
    except DramaError as exc:
        _error(console, exc.cause, exc.fix)
        return EXIT_BAD_INPUT
    for entry in entries:
        if not entry.ok:
            console.print(f"[red]bad concept[/] {escape(entry.source)}: {escape(entry.error or '')}",
                          highlight=False, markup=True, soft_wrap=True)
    good = [e for e in entries if e.ok]
    console.print(f"{len(good)} of {len(entries)} concept(s) to produce into {out}, {parallel} render/QC slot(s)",
                  highlight=False)
    if good and shared is None:
        try:
            from dramafactory.tools.assembly.video import FFmpegMissing, ffmpeg_exe

            try:
                ffmpeg_exe()
            except FFmpegMissing as exc:
                raise DramaError(str(exc), "pip install --force-reinstall imageio-ffmpeg") from exc
            with console.status("loading models (once, for every series)"):
                shared = SharedBackends.build(settings)
        except DramaError as exc:
            _error(console, exc.cause, exc.fix)
            return EXIT_BAD_INPUT
    if shared is None:  # nothing to produce: no backend is loaded, the report still lists the bad concepts
        shared = SharedBackends(settings, None, None, None)
    run = FactoryRun(entries)
    board = FactoryBoard(run.progress.values())
    if live:
        with Live(board, console=console, refresh_per_second=2, transient=False):
            report = run_factory(run, out, settings, shared, seed=seed, engine=engine, parallel=parallel)
    else:
        report = run_factory(run, out, settings, shared, seed=seed, engine=engine, parallel=parallel)
    console.print(final_table(report))
    console.print(f"results: {out / 'factory.json'}", highlight=False)
    if report.get("interrupted"):
        _error(console, f"interrupted; finished work is saved in {out}",
               f"run the same command again to resume: dramafactory factory {concepts} --out {out}")
        return EXIT_INTERRUPTED
    totals = report["totals"]
    return 0 if totals["finished"] == totals["concepts"] else EXIT_SOME_FAILED


def factory_command(
    concepts: Annotated[Path, typer.Argument(metavar="CONCEPTS_DIR_OR_FILE", help="A folder of concept files "
                        "(*.yaml as --concept reads, *.txt with one logline per line) or one file: a YAML list of "
                        "concepts (mappings or loglines; `id:` names the series' folder) or one logline per line.")],
    out: Annotated[Path, typer.Option("--out", help="Factory folder: one run folder per series (DIR/<slug>, "
                                                    "which `produce --resume --out DIR/<slug>` continues) and "
                                                    "factory.json.")],
    parallel: Annotated[int | None, typer.Option(min=1, max=64, help="Renders and QC scorings in flight at once, "
                                                 "for all series together (default: one per CPU core). Every "
                                                 "series is admitted and they share the slots fairly.")] = None,
    seconds: Annotated[int | None, typer.Option(help="Target seconds per episode (replaces the concepts' own).")
                       ] = None,
    episodes: Annotated[int | None, typer.Option(help="Episodes per series (replaces the concepts' own).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for every series: the same concept and seed give the same "
                                           "series.")] = 0,
    budget_usd: Annotated[float | None, typer.Option("--budget-usd", help="Spending cap per series: a "
                                                     "series that reaches it stops cleanly, resumable once the "
                                                     "cap is raised.")] = None,
) -> None:
    """Produce many series at once: a live table per series (stage, episode, shots, retries, ETA), a table of
    results at the end, DIR/factory.json with the throughput. Running it again on the same --out resumes the
    unfinished series and skips the finished ones."""
    try:
        settings = Settings()
    except ValueError as exc:
        _error(Console(stderr=True), f"the settings are invalid: {exc}", "check the DRAMAFACTORY_* variables")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    code = run_command(concepts, out, settings, parallel=parallel, seed=seed,
                       overrides={"episodes": episodes, "seconds_per_episode": seconds}, budget_usd=budget_usd)
    raise typer.Exit(code)
