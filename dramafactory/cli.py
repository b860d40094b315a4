"""The `dramafactory` command line: produce a series from a concept, or resume one, with live progress."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
import yaml
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from .cli_cost import cost_command
from .config import Settings
from .errors import DramaError
from .factory.cli import factory_command
from .prices import Pricing
from .schemas import SeriesConcept, validated_concept
from .tools.text.base import TextBackendError

app = typer.Typer(add_completion=False, help="dramafactory: a series concept in, vertical micro-drama episodes out.")
console = Console(stderr=True)
MAX_CONCEPT_FILE_BYTES = 64_000
EXIT_BACKEND_DOWN = 4  # a backend (the text server) kept failing after retries; --resume continues
EXIT_BUDGET = 5  # the series spent its --budget-usd cap: stopped before new work; raise the cap and --resume


@app.callback()
def main() -> None:
    """Self-hosted AI micro-drama factory."""


def fail(cause: str, fix: str | None = None, code: int = 2) -> typer.Exit:
    console.print(f"[bold red]error:[/] {cause}" + (f" — fix: {fix}" if fix else ""), highlight=False,
                  soft_wrap=True)
    return typer.Exit(code)


def load_concept(text: str | None, concept_file: Path | None, overrides: dict) -> SeriesConcept:
    data: dict = {}
    if concept_file is not None:
        if not concept_file.is_file():
            raise DramaError(f"concept file {concept_file} not found", "check the path given to --concept")
        if concept_file.stat().st_size > MAX_CONCEPT_FILE_BYTES:
            raise DramaError(f"concept file {concept_file} is {concept_file.stat().st_size} bytes; the limit is "
                             f"{MAX_CONCEPT_FILE_BYTES}", "keep the concept to a logline and a few fields")
        loaded = yaml.safe_load(concept_file.read_text(encoding="utf-8"))
        if not isinstance(loaded, dict):
            raise DramaError(f"{concept_file} is not a YAML mapping", "write fields like `logline: ...`")
        data.update(loaded)
    if text is not None:
        data["logline"] = text
    data.update({k: v for k, v in overrides.items() if v is not None})
    if "logline" not in data:
        raise DramaError("no concept given", 'pass the concept text, e.g. dramafactory produce "A maid ..." --out DIR')
    return validated_concept(data)


class ProgressView:
    """Rich progress: one bar per stage, shots counted as they pass QC."""

    def __init__(self, progress: Progress, max_attempts: int):
        self.progress = progress
        self.max_attempts = max_attempts
        self.tasks: dict[str, int] = {}

    def _task(self, key: str, label: str, total: float | None = None) -> int:
        if key not in self.tasks:
            self.tasks[key] = self.progress.add_task(label, total=total)
        return self.tasks[key]

    def __call__(self, ns: tuple, mode: str, data: object) -> None:
        if mode == "updates" and isinstance(data, dict) and "cinematographer" in data:
            shotlist = (data["cinematographer"] or {}).get("shotlist")
            if shotlist:
                number = shotlist["episode"]
                self._task(f"shots{number}", f"episode {number:02d} shots", total=len(shotlist["shots"]))
            return
        if mode != "custom" or not isinstance(data, dict):
            return
        stage, status, episode = data.get("stage"), data.get("status"), data.get("episode")
        if stage == "qc" and status == "review":  # the episode's QC loop is over
            task = self._task(f"shots{episode}", f"episode {episode:02d} shots")
            self.progress.update(task, completed=self.progress.tasks[task].total or 0)
            if data.get("flagged"):
                self.progress.console.print(f"  {data['flagged']} shot(s) QC could not fix: see review_queue.json",
                                            style="yellow")
            return
        if stage == "qc":
            number = int(str(data["shot"])[1:3])
            task = self._task(f"shots{number}", f"episode {number:02d} shots")
            if data.get("passed"):
                self.progress.advance(task)
            else:
                self.progress.console.print(f"  shot {data['shot']} take {data['attempt']} failed QC: "
                                            f"{data.get('reason', '')}", style="yellow", highlight=False)
            return
        if stage == "clip":
            number = int(str(data["shot"])[1:3])
            task = self._task(f"clips{number}", f"episode {number:02d} clips")
            if status == "failed":
                self.progress.console.print(f"  shot {data['shot']}: no clip ({data.get('reason', '')}); its keyframe "
                                            "with camera motion is used", style="yellow", highlight=False)
            if status in ("done", "failed"):
                self.progress.advance(task)
            return
        if stage == "render" or status == "line" or (stage == "reference" and status == "start"):
            return
        label = f"{stage}" + (f" (episode {episode:02d})" if episode else "")
        key = f"{stage}{episode}"
        task = self._task(key, label, total=1)
        if status == "done":
            self.progress.update(task, completed=1)


@app.command()
def produce(
    concept_text: Annotated[str | None, typer.Argument(metavar="CONCEPT", help="The series concept (a logline).")] = None,
    out: Annotated[Path, typer.Option("--out", help="Run folder: outputs and checkpoints.")] = Path("out"),
    concept_file: Annotated[Path | None, typer.Option("--concept", help="Concept YAML (SeriesConcept fields).")] = None,
    episodes: Annotated[int | None, typer.Option(help="Number of episodes.")] = None,
    seconds: Annotated[int | None, typer.Option(help="Target seconds per episode.")] = None,
    genre: Annotated[str | None, typer.Option(help="Genre, e.g. revenge, romance, thriller.")] = None,
    seed: Annotated[int, typer.Option(help="Seed: the same concept and seed give the same series.")] = 0,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run whose state is in --out.")] = False,
    approve: Annotated[list[str] | None, typer.Option(
        help="With --resume, on a run paused for shot review: accept this shot's best take (repeatable; see "
             "review_queue.json).")] = None,
    budget_usd: Annotated[float | None, typer.Option(
        "--budget-usd", help="Spending cap for the series in USD (default: DRAMAFACTORY_BUDGET_USD; none): once the "
                             "run's ledger reaches it no new work starts and the command exits with code 5; the run "
                             "stays resumable: raise the cap and pass --resume.")] = None,
) -> None:
    """Produce a series (bible, scripts, shot lists, shots, voices, episodes) into --out. Exit codes: 0 done, 1 an
    unexpected error, 2 bad input, 3 paused for a person, 4 a backend kept failing, 5 the budget was reached, 130
    interrupted; after 1, 3, 4, 5 and 130 the run continues with --resume."""
    from dramafactory.graphs.backends import build_context, check_language
    from dramafactory.graphs.budget import BudgetReached
    from dramafactory.graphs.runner import has_run
    from dramafactory.graphs.runner import produce as run_production

    settings = Settings()
    try:
        concept = None
        if not resume:
            concept = load_concept(concept_text, concept_file,
                                   {"episodes": episodes, "seconds_per_episode": seconds, "genre": genre})
            check_language(concept.language, settings)
            if has_run(out):
                raise DramaError(f"{out} already holds a run", "pass --resume to continue it, or use another --out")
        elif not has_run(out):
            raise DramaError(f"{out} holds no run to resume", "run without --resume to start one")
        if budget_usd is not None:  # the cap travels in the settings, as DRAMAFACTORY_BUDGET_USD would
            if not budget_usd > 0:
                raise DramaError(f"--budget-usd {budget_usd:g} is not a positive amount",
                                 "pass a positive number of USD")
            settings = settings.model_copy(update={"budget_usd": budget_usd})
        with console.status("loading models"):
            ctx = build_context(out, settings)
        columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn())
        with Progress(*columns, console=console, transient=False) as progress:
            outcome = run_production(ctx, concept=concept, seed=seed, resume=resume,
                                     on_event=ProgressView(progress, settings.max_attempts),
                                     decisions={shot: "approve" for shot in approve or []})
    except BudgetReached as exc:  # before DramaError, which it is: its own exit code, one line, resumable
        raise fail(f"{exc.cause}. Finished work is saved in {out}",
                   f"{exc.fix}: dramafactory produce --resume --out {out} --budget-usd N", EXIT_BUDGET) from None
    except DramaError as exc:
        raise fail(exc.cause, exc.fix) from None
    except TextBackendError as exc:  # retried by the graph and still failing: stop, resumable, and say why
        raise fail(f"{str(exc).rstrip('.')}. Finished stages are saved in {out}",
                   f"{exc.fix}, then: dramafactory produce --resume --out {out}", EXIT_BACKEND_DOWN) from None
    except KeyboardInterrupt:
        raise fail(f"interrupted; finished work is saved in {out}", f"dramafactory produce --resume --out {out}",
                   130) from None
    except Exception as exc:  # anything unexpected: name it, keep the run resumable, exit non-zero
        raise fail(f"{type(exc).__name__}: {exc}. Finished stages are saved in {out}",
                   f"fix the cause, then: dramafactory produce --resume --out {out}", 1) from None
    if outcome.summary is None:
        fix = f"dramafactory produce --resume --out {out}"
        if "review_shots" in outcome.next_nodes:
            fix = f"look at {out}/review_queue.json, then {fix} [--approve SHOT ...]"
        raise fail(f"the run paused before {outcome.next_nodes}", fix, 3)
    summary = outcome.summary
    console.print(f"[bold green]done:[/] {summary.title!r}: {summary.episodes} episode(s) "
                  f"{', '.join(f'{s:.1f}s' for s in summary.episode_seconds)}, {summary.shots} shots, "
                  f"final usable {summary.final_usable_rate:.0%}, {summary.model_calls} model calls → {out}")
    json.dump(summary.model_dump(mode="json"), sys.stdout, indent=2)
    sys.stdout.write("\n")



@app.command()
def backends(
    as_json: Annotated[bool, typer.Option("--json", help="Print the table as JSON.")] = False,
) -> None:
    """List every backend of every role (text, image, video, speech): which is configured, whether it can run here,
    and if not, why and the fix. Nothing is loaded and no server is called."""
    from rich.markup import escape
    from rich.table import Table

    from dramafactory.tools.registry import report

    try:
        rows = report(Settings())
    except ValidationError as exc:
        raise fail(f"the settings are invalid: {exc.errors()[0]['msg']}", "check the DRAMAFACTORY_* variables") \
            from None
    if as_json:
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        table = Table(title="dramafactory backends", show_lines=False)
        for column in ("role", "backend", "configured", "can run here", "detail / fix"):
            table.add_column(column, overflow="fold")
        for row in rows:
            detail = row["detail"] + (f" — fix: {row['fix']}" if row["fix"] else "")
            table.add_row(row["role"], row["name"], "yes" if row["configured"] else "",
                          "[green]yes[/]" if row["ok"] else "[red]no[/]", escape(detail))
        Console(width=160).print(table)
    broken = [r for r in rows if r["configured"] and not r["ok"]]
    if broken:
        raise typer.Exit(2)


PLAN_OPTIONS = {"titles_per_month": "--titles-per-month", "episodes_per_title": "--episodes-per-title",
                "minutes_per_episode": "--minutes-per-episode", "gpus": "--gpu", "preset": "--preset",
                "utilisation": "--utilisation", "apis": "--api"}


@app.command()
def plan(
    titles_per_month: Annotated[int, typer.Option(help="Series to finish per month.")],
    episodes_per_title: Annotated[int, typer.Option(help="Episodes per series.")],
    minutes_per_episode: Annotated[float, typer.Option(help="Finished minutes per episode.")],
    gpu: Annotated[list[str] | None, typer.Option("--gpu", help="A catalogue GPU to plan on (repeatable; default: "
                                                                "every GPU in the catalogue).")] = None,
    preset: Annotated[str, typer.Option(help="The model preset (tools/presets.yaml).")] = "throughput",
    runs: Annotated[list[Path] | None, typer.Option("--runs", help="A finished run folder whose measured shots, "
                                                                   "retries and seconds replace the bench's "
                                                                   "(repeatable).")] = None,
    utilisation: Annotated[float, typer.Option(help="Share of the fleet's hours doing work.")] = 0.7,
    api: Annotated[list[str] | None, typer.Option("--api", help="A catalogue API stack (repeatable; default: "
                                                                "all).")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the plan as JSON here.")] = None,
    html_out: Annotated[Path | None, typer.Option("--html", help="Write the report page (plots) here.")] = None,
    catalogue_file: Annotated[Path | None, typer.Option("--catalogue", help="Another catalogue file (default: the "
                                                                            "packaged dramafactory/catalogue.yaml)."
                                                        )] = None,
    bench: Annotated[Path | None, typer.Option(help="Folder of bench results (default: the checkout's "
                                                    "bench/results, else ./bench/results).")] = None,
) -> None:
    """What a target output needs (GPU-hours per stage, fleet, wall-clock per title) and what it costs per finished
    minute and per title on owned GPUs, rented GPUs, hosted APIs and the laptop, from the factory's own
    measurements; declared figures are marked with their source and date (docs/planner.md)."""
    from rich.markup import escape
    from rich.table import Table

    from dramafactory.catalogue import CatalogueError, catalogue, load_catalogue
    from dramafactory.planner import PlanInputError, PlanRequest, make_plan
    from dramafactory.planner.inputs import default_bench_dir
    from dramafactory.planner.report import check_targets, headline_rows, render_html, render_json, write_atomic

    flags = {p: flag for flag, p in (("--json", json_out), ("--html", html_out)) if p is not None}

    def output_error(exc: OSError) -> typer.Exit:
        target = getattr(exc, "target", None) or (Path(exc.filename) if exc.filename else None)
        reason = getattr(exc, "reason", None) or exc.strerror or str(exc)
        return fail(f"{flags.get(target, '--json/--html')} {target}: {reason}", "give a file path in a writable folder")

    if bench is None and not default_bench_dir().is_dir():
        bench = Path("bench/results")  # a package installed away from its checkout: the working directory's
    try:
        check_targets([json_out, html_out])  # nothing is computed or written for a target that cannot be written
    except OSError as exc:
        raise output_error(exc) from None
    try:
        cat = load_catalogue(catalogue_file) if catalogue_file else catalogue()
        request = PlanRequest.model_validate(
            {"titles_per_month": titles_per_month, "episodes_per_title": episodes_per_title,
             "minutes_per_episode": minutes_per_episode, "gpus": gpu or [], "preset": preset,
             "utilisation": utilisation, "apis": api or []}, context={"catalogue": cat})
        result = make_plan(request, cat=cat, catalogue_path=catalogue_file, bench_dir=bench, runs=runs or [])
    except CatalogueError as exc:
        raise fail(str(exc), "give every figure a source, a date (YYYY-MM[-DD]) and a basis") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "request"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise fail(f"{PLAN_OPTIONS.get(name, name)} ({name}): {message}", "see `dramafactory plan --help`") from None
    except PlanInputError as exc:
        raise fail(str(exc)) from None
    except ValueError as exc:  # a figure the arithmetic refuses (a zero or out-of-range rate): not a traceback
        raise fail(f"cannot plan from these inputs: {exc}") from None
    outputs = {}
    if json_out:
        outputs[json_out] = render_json(result)
    if html_out:
        outputs[html_out] = render_html(result)  # rendered before anything is written: all or nothing
    try:
        write_atomic(outputs)
    except OSError as exc:
        raise output_error(exc) from None
    table = Table(title=f"plan: {request.titles_per_month:,} titles/month x {request.episodes_per_title} episodes x "
                        f"{request.minutes_per_episode:g} min = {result.finished_minutes_per_month:,.0f} finished "
                        f"minutes/month ({request.preset}, utilisation {request.utilisation:g})")
    for column in ("option", "fleet", "hours/month", "$/finished min", "$/title", "$/month", "wall-clock/title",
                   "figures"):
        table.add_column(column, overflow="fold")
    import html
    import re

    for row in headline_rows(result, brief=True):  # the page's cells, as text
        table.add_row(*(escape(html.unescape(re.sub(r"<[^>]+>", "", cell))) for cell in row))
    out = Console(width=200)
    out.print(table)
    crossings = Table(title="break-even: from this volume on, a costs no more than b")
    for column in ("a", "b", "titles/month", "finding"):
        crossings.add_column(column)
    for be in result.break_even:
        crossings.add_row(be.a, be.b, f"{be.titles_per_month:,}" if be.titles_per_month else "-", be.finding)
    out.print(crossings)
    for line in result.missing:
        console.print(f"not measured: {line}", style="red", highlight=False)
    for line in result.warnings:
        console.print(f"note: {line}", style="yellow", highlight=False)
    console.print(f"{len(result.declared)} declared figures used (each with its source and date in the JSON/HTML)"
                  + "".join(f"; wrote {p}" for p in outputs), highlight=False)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    data_dir: Annotated[Path | None, typer.Option(help="Run folders and the SQLite database "
                                                       "(DRAMAFACTORY_DATA_DIR).")] = None,
    workers: Annotated[int | None, typer.Option(min=1, max=64, help="Runs executed at once.")] = None,
) -> None:
    """Serve the HTTP API, the run dashboard and the review page (OpenAPI at /docs)."""
    import uvicorn

    from dramafactory.api.app import create_app
    from dramafactory.api.deps import ApiKeyError, parse_api_keys

    settings = Settings()
    updates = {k: v for k, v in {"data_dir": data_dir, "api_workers": workers}.items() if v is not None}
    settings = settings.model_copy(update=updates)
    try:
        Pricing.from_settings(settings)  # an unknown price profile fails here, not at each run
    except DramaError as exc:
        raise fail(str(exc), exc.fix) from exc
    try:
        keys = parse_api_keys(settings.api_keys)
    except ApiKeyError as exc:
        raise fail(str(exc), "DRAMAFACTORY_API_KEYS='tenant1:key1,tenant2:key2'") from exc
    if not keys and host not in ("127.0.0.1", "localhost", "::1"):
        raise fail(f"no API keys are configured, so serving on {host} would let anyone on the network in",
                   "set DRAMAFACTORY_API_KEYS='tenant:key,...' or serve on 127.0.0.1")
    database = "PostgreSQL" if (settings.database_url or "").startswith("postgres") else \
        f"SQLite in {settings.data_dir}"
    console.print(f"dramafactory serving on http://{host}:{port}/ (API docs /docs; {database}; "
                  f"{'API keys for ' + ', '.join(sorted(set(keys.values()))) if keys else 'no API key: local only'})")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


CLIP_SUFFIXES = (".mp4", ".mov", ".webm", ".mkv", ".avi")


def _mentioned(names: list[str], prompt: str) -> list[str]:
    """The names the prompt mentions as whole words ("Al" is not in "Sally")."""
    import re

    return [n for n in names if re.search(rf"(?<!\w){re.escape(n)}(?!\w)", prompt, flags=re.IGNORECASE)]


def _reference_faces(pairs: list[str]) -> tuple[dict, dict[str, str]]:
    """--reference NAME=IMAGE: each image's one face embedded; a reference that cannot serve (unreadable, no face,
    several faces, too small) is left out with its reason (that character's identity is then not judged)."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    from dramafactory.agents.qc.scorers.reference import score_reference_face
    from dramafactory.tools.vision.faces import faces_available

    available, why = faces_available()
    if pairs and not available:
        raise fail(why, "pip install '.[gpu]'")
    faces, problems = {}, {}
    for pair in pairs:
        name, sep, path = pair.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise fail(f"--reference {pair!r} is not NAME=IMAGE", "e.g. --reference 'Maya Cole=maya.png'")
        try:
            with Image.open(path) as image:
                rgb = np.asarray(image.convert("RGB"))
        except (OSError, UnidentifiedImageError) as exc:
            problems[name.strip()] = f"the reference image {path} cannot be read ({exc})"
            continue
        check, embedding = score_reference_face(rgb)  # the same check a reference sheet passes in a run
        if embedding is None:
            problems[name.strip()] = f"the reference image {path}: {check.reason}"
        else:
            faces[name.strip()] = embedding
    return faces, problems


@app.command()
def qc(
    image: Annotated[Path, typer.Argument(metavar="FRAME_OR_CLIP", help="The frame (PNG/JPEG) or clip (MP4) to "
                                                                          "score.")],
    prompt: Annotated[str, typer.Option(help="What the frame should show, in words.")],
    character: Annotated[list[str] | None, typer.Option(help="A character who must be in the frame (repeatable).")
                         ] = None,
    bible: Annotated[Path | None, typer.Option(help="bible.json of the series: the canonical looks to check.")
                     ] = None,
    reference: Annotated[list[str] | None, typer.Option(
        help="NAME=IMAGE: a portrait of a character; faces in footage are matched against these (repeatable).")
                         ] = None,
    backend: Annotated[str | None, typer.Option(help="The image backend that drew the frame (default: "
                                                     "'diffusers', judged by faces, with --reference; else "
                                                     "'storyboard').")] = None,
    keyframe: Annotated[Path | None, typer.Option(help="For a clip: the keyframe it must start from.")] = None,
    seconds: Annotated[float | None, typer.Option(help="For a clip: the shot's length (default: the clip's own).")
                       ] = None,
) -> None:
    """Score one image or clip as the QC agent would and print its report as JSON: a top-level `verdict` (pass,
    fail, or partial when nothing failed but some of what the prompt asks could not be judged, listed in
    `not_judged`), `passed`, then each scorer's score, threshold and reason. A frame is held to the configured frame
    size (DRAMAFACTORY_WIDTH/HEIGHT). Without --bible, what the prompt says about how many people, the time of day
    and interior or exterior is still judged from the pixels; with --reference, who is on screen is judged by their
    faces. Exit code 0 on a pass, 1 otherwise."""
    from dramafactory.agents.qc.agent import QCAgent, TakeUnderReview
    from dramafactory.agents.qc.spec import claims_from_prompt, spec_from_prompt
    from dramafactory.schemas import Location, SeriesBible

    faces, unusable = _reference_faces(list(reference or []))
    named = sorted({*faces, *unusable})
    if image.suffix.lower() in CLIP_SUFFIXES:
        _qc_clip(image, keyframe, seconds, character or _mentioned(named, prompt))
        return
    series = None
    if bible is not None:
        try:
            series = SeriesBible.model_validate_json(bible.read_text(encoding="utf-8"))
        except (OSError, ValidationError) as exc:
            raise fail(f"cannot read the bible {bible}: {str(exc).splitlines()[0]}", "pass a bible.json that "
                       "`dramafactory produce` wrote") from exc
    if character and series is None and not named:
        raise fail("--character needs --bible or --reference", "pass the series' bible.json, or a portrait of each "
                   "character with --reference NAME=IMAGE")
    settings = Settings()
    text = ledger = None
    if series is not None and not character:  # the words may not settle who is meant: the text model can read it
        import tempfile

        from dramafactory.graphs.backends import build_text
        from dramafactory.tools.ledger import Ledger

        try:
            text = build_text(settings)
        except DramaError as exc:
            raise fail(exc.cause, exc.fix) from exc
        ledger = Ledger(Path(tempfile.mkdtemp(prefix="dramafactory-qc-")) / "ledger.jsonl")
    from dramafactory.agents.structured import StructuredOutputError

    try:
        shot = spec_from_prompt(prompt, series, list(character or []) if series else [], text, ledger)
    except ValueError as exc:
        raise fail(str(exc), "use a name from the bible") from exc
    except TextBackendError as exc:
        raise fail(str(exc).rstrip("."), exc.fix, EXIT_BACKEND_DOWN) from None
    except StructuredOutputError as exc:
        raise fail(f"the text model could not read who the prompt means ({exc.reasons[-1]})",
                   "name them with --character") from None
    if series is None and named:  # who is meant: --character, else the referenced names the prompt mentions
        shot = shot.model_copy(update={"characters": list(character or []) or _mentioned(named, prompt)})
    claims = claims_from_prompt(prompt)
    cast = {c.name: c for c in series.characters} if series else {}
    location = series.location(shot.location) if series else Location(name="unknown", kind="interior",
                                                                        description="")
    people_checks = "auto" if series or named else "off"  # without a cast, who is who cannot be checked
    agent = QCAgent(settings.model_copy(update={"qc_people": people_checks}))
    report = agent.score(TakeUnderReview(path=image, shot=shot, location=location, cast=cast,
                                         references={n: cast.get(n) for n in shot.characters},
                                         backend=backend or ("diffusers" if named else "storyboard"),
                                         claims=claims, faces=faces if named else None))
    out = {"verdict": report.verdict, "not_judged": report.not_judged, **report.model_dump(mode="json")}
    out["spec"] = {"framing": shot.framing, "characters": shot.characters, "time_of_day": shot.time_of_day,
                   "location": shot.location}
    out["claims"] = {"people": claims.people, "time_of_day": claims.time_of_day, "interior_exterior": claims.kind}
    if unusable:
        out["unusable_references"] = unusable
    print(json.dumps(out, indent=2))  # noqa: T201 - the report is the command's output
    raise typer.Exit(0 if report.passed else 1)


def _qc_clip(clip: Path, keyframe: Path | None, seconds: float | None, people: list[str]) -> None:
    from dramafactory.agents.qc.scorers.clip_checks import score_clip
    from dramafactory.schemas import QCReport
    from dramafactory.tools.assembly.ffmpeg import AssemblyError, probe
    from dramafactory.tools.vision.faces import faces_available, shared_embedder

    if seconds is None:
        try:
            seconds = float(probe(clip)["duration"])
        except (AssemblyError, OSError, KeyError):
            seconds = 0.0  # the clip checks report the file as unreadable with the reason
    scores = score_clip(clip, keyframe=keyframe, target_seconds=seconds,
                        faces=shared_embedder() if faces_available()[0] else None,
                        expected_people=len(people) if people else None)
    report = QCReport(passed=all(s.passed for s in scores), scores=scores)
    out = {"verdict": report.verdict, "not_judged": report.not_judged, **report.model_dump(mode="json")}
    print(json.dumps(out, indent=2))  # noqa: T201 - the report is the command's output
    raise typer.Exit(0 if report.passed else 1)


eval_app = typer.Typer(help="Measure the factory's agents on labelled sets.")
app.add_typer(eval_app, name="eval")


@eval_app.command("qc")
def eval_qc(
    out: Annotated[Path, typer.Option(help="Folder for the labelled set, results.json and cases.json.")],
    series: Annotated[int, typer.Option(help="Casts in the labelled set.")] = 6,
    shots: Annotated[int, typer.Option(help="Shots per cast.")] = 16,
    footage: Annotated[bool, typer.Option(help="Also measure footage QC (faces) on the labelled photographs.")
                       ] = True,
) -> None:
    """QC precision and recall for 'bad shot', per defect kind, on the labelled set (made by code), and footage QC
    (identity, wrong, missing and extra person, count, framing) on frames built from real photographs."""
    from rich.table import Table

    from dramafactory.evals.qc_eval import run

    results = run(out, series=series, shots_per_series=shots)
    table = Table(title=f"QC on {results['cases']} frames ({results['good']} good, {results['bad']} bad)")
    for column in ("defect", "cases", "precision", "recall", "caught by"):
        table.add_column(column)
    for kind, row in results["per_kind"].items():
        table.add_row(kind, str(row["cases"]), f"{row['precision']:.3f}", f"{row['recall']:.3f}",
                      ", ".join(row["caught_by"]))
    table.add_row("all", str(results["bad"]), f"{results['precision']:.3f}", f"{results['recall']:.3f}", "")
    Console().print(table)
    calibration = Table(title="Thresholds: scores of good frames against the bad frames each scorer should catch")
    for column in ("scorer", "setting", "in use", "good range", "bad range", "suggested"):
        calibration.add_column(column)
    for scorer, row in results["calibration"].items():
        calibration.add_row(scorer, row["setting"], str(row["in_use"]), "{} .. {}".format(*row["good"]),
                            "{} .. {}".format(*row["bad"]), str(row["suggested"] or "not separable"))
    Console().print(calibration)
    console.print(f"false alarms on good frames: {results['false_alarm_rate']:.1%}; results in {out}/results.json")
    footage_ok = _eval_footage(out) if footage else True
    raise typer.Exit(0 if results["passed"] and footage_ok else 1)


def _eval_footage(out: Path) -> bool:
    """Footage QC (faces against reference sheets) on the labelled photographs (evals/footage_set.py)."""
    import importlib.util

    from rich.table import Table

    from dramafactory.tools.vision.faces import faces_available

    available, why = faces_available()
    if available and importlib.util.find_spec("skimage") is None:  # the labelled photographs ship in it
        available, why = False, "scikit-image is not installed (pip install '.[test]')"
    if not available:
        console.print(f"footage QC not measured: {why}", style="yellow")
        return True
    from dramafactory.evals.footage_eval import evaluate_footage

    results = evaluate_footage(threshold=Settings().qc.max_face_distance)
    out.mkdir(parents=True, exist_ok=True)
    (out / "footage.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    kinds = ", ".join(f"{k} {n}" for k, n in results["set"]["kinds"].items())
    table = Table(title=f"Footage QC on {results['set']['frames']} frames from photographs shipped in packages "
                        f"({kinds}); face distance threshold {results['threshold']}")
    for column in ("check", "positives", "precision", "recall", "missed / false alarms"):
        table.add_column(column, overflow="fold")
    for name in ("identity", "wrong_person", "missing_person", "extra_person"):
        row = results["checks"][name]
        misses = ", ".join(row["false_negatives"] + row["false_positives"]) or "-"
        table.add_row(name, str(row["positives"]), f"{row['precision']:.3f}" if row["precision"] is not None
                      else "-", f"{row['recall']:.3f}" if row["recall"] is not None else "-", misses)
    for name in ("count", "framing"):
        row = results["checks"][name]
        table.add_row(name, str(row["n"]), f"accuracy {row['accuracy']:.3f}", "", "")
    Console().print(table)
    calibration = results["threshold_calibration"]
    distances = results["distances"]
    console.print(f"face distances: same person {distances['same_person']['min']}..{distances['same_person']['max']},"
                  f" different {distances['different_person']['min']}..{distances['different_person']['max']}; "
                  f"best threshold {calibration['best']} (in use {calibration['in_use']}); a small set: 2 people, "
                  f"one photograph each (docs/decisions/0010-footage-qc.md); results in {out}/footage.json")
    return all(results["checks"][n]["recall"] == 1.0 for n in ("identity", "wrong_person", "missing_person"))



def _seeds(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError as exc:
        raise fail(f"--seeds {text!r} is not a comma-separated list of integers", "e.g. --seeds 0,1,2") from exc


def _eval_settings(backend: str | None, config: Path | None) -> tuple[str, Settings]:
    from dramafactory.evals.ab import load_config

    label, settings = ("embedded default", Settings()) if config is None else load_config(config)
    if backend:
        settings = Settings(**{**settings.model_dump(exclude_unset=True), "text_backend": backend})
        label = f"{label} ({backend})" if config else backend
    return label, settings


def _print_results(results: dict) -> None:
    from rich.table import Table

    table = Table(title=f"eval {results['suite']}: {results['label']} ({len(results['cases'])} case(s), "
                        f"{results['seconds']:.0f} s)")
    compare = (results.get("compare") or {}).get("deltas", {})
    for column in ("metric", "mean", "min", "max", "threshold", "passed") + (("baseline", "status") if compare
                                                                             else ()):
        table.add_column(column)
    for name, m in results["metrics"].items():
        row = [name, f"{m['mean']:.3f}", f"{m['min']:.3f}", f"{m['max']:.3f}", str(m["threshold"]),
               "[green]yes[/]" if m["passed"] else "[red]no[/]"]
        if compare:
            d = compare.get(name, {})
            status = d.get("status", "")
            colour = {"regressed": "red", "missing": "red", "improved": "green"}.get(status, "white")
            row += [str(d.get("baseline")), f"[{colour}]{status}[/]"]
        table.add_row(*row)
    Console().print(table)


def run_eval_command(suite: str, out: Path, concepts: str | None, seeds: str | None, episodes: int | None,
                     seconds: int | None, backend: str | None, config: Path | None, compare: Path | None,
                     save_baseline: Path | None, judge: bool) -> None:
    from dramafactory.evals.compare import baseline_of, read_baseline
    from dramafactory.evals.compare import compare as compare_results
    from dramafactory.evals.report import write_report
    from dramafactory.evals.suites import plan_for, run_eval

    try:
        baseline = read_baseline(compare) if compare else None
        label, settings = _eval_settings(backend, config)
        plan = plan_for(suite, [c for c in (concepts or "").split(",") if c] or None, _seeds(seeds), episodes,
                        seconds)
        results = run_eval(plan, out, settings, label=label, progress=lambda m: console.print(m, highlight=False),
                           judge_seeds=[1, 2, 3] if judge else None)
    except (ValueError, DramaError) as exc:
        cause, fix = (exc.cause, exc.fix) if isinstance(exc, DramaError) else (str(exc), None)
        raise fail(cause, fix) from None
    if baseline is not None:
        results["compare"] = {"baseline": str(compare), **compare_results(results, baseline)}
    (out / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    report = write_report(results, out)
    if save_baseline:
        save_baseline.parent.mkdir(parents=True, exist_ok=True)
        save_baseline.write_text(json.dumps(baseline_of(results), indent=2) + "\n", encoding="utf-8")
    _print_results(results)
    console.print(f"results: {out / 'results.json'}; report: {report}")
    broken = [n for n, r in (results.get("invariants") or {}).items() if not r["held"]]
    if broken:
        raise fail(f"invariants violated: {', '.join(broken)}",
                   "the code that guarantees them broke; see the report's invariants section", 1)
    if baseline is not None and results["compare"]["plan_mismatch"]:
        raise fail(f"{compare} was made from another plan ({'; '.join(results['compare']['plan_mismatch'])})",
                   "compare runs of the same preset, or write a new baseline with --save-baseline", 1)
    if baseline is not None and not results["compare"]["passed"]:
        raise fail(f"regressed against {compare}: {', '.join(results['compare']['regressions'])}",
                   "see the report; fix the change, or update the baseline with --save-baseline if it is intended",
                   1)


def _suite_command(suite: str, summary: str):
    def command(
        out: Annotated[Path, typer.Option(help="Folder for productions, results.json and report.html.")],
        concepts: Annotated[str | None, typer.Option(help="Golden concept ids, comma-separated (default: all "
                                                          "the suite's).")] = None,
        seeds: Annotated[str | None, typer.Option(help="Seeds, comma-separated, e.g. 0,1,2.")] = None,
        episodes: Annotated[int | None, typer.Option(help="Episodes per concept.")] = None,
        seconds: Annotated[int | None, typer.Option(help="Target seconds per episode.")] = None,
        backend: Annotated[str | None, typer.Option(help="Text backend: embedded, llama-cpp or openai.")] = None,
        config: Annotated[Path | None, typer.Option(help="Settings YAML to evaluate (as for `eval ab`).")] = None,
        compare: Annotated[Path | None, typer.Option(help="Baseline results: show deltas, exit 1 past the "
                                                          "tolerances in evals/tolerances.yaml.")] = None,
        save_baseline: Annotated[Path | None, typer.Option(help="Write these results as a baseline file.")] = None,
        judge: Annotated[bool, typer.Option(help="Also score craft with the LLM judge (3 seeds).")] = False,
    ) -> None:
        run_eval_command(suite, out, concepts, seeds, episodes, seconds, backend, config, compare, save_baseline,
                         judge)

    command.__doc__ = summary
    return command


for _name, _summary in {
    "bible": "Bible suite: complete characters, distinct looks and voices, real names, outlines use the cast.",
    "script": "Script suite: dialogue length, speech not narration, repeats, bible facts (structure is an invariant).",
    "shotlist": "Shot-list suite: durations, framing runs, reverse shots (coverage and looks are invariants).",
    "continuity": "Continuity suite: each character's identity and wardrobe drift across all their shots.",
    "e2e": "End-to-end suite: usable rates, attempts per shot, seconds and cost per finished minute.",
    "smoke": "The CI preset: one short episode through every suite and a small QC set (a few minutes).",
    "golden": "The golden set: six genres, two episodes each, every production suite (the baseline).",
}.items():
    eval_app.command(_name)(_suite_command(_name, _summary))


@eval_app.command("ab")
def eval_ab(
    a: Annotated[Path, typer.Option("--a", help="Configuration A: a settings YAML (and an optional label).")],
    b: Annotated[Path, typer.Option("--b", help="Configuration B.")],
    out: Annotated[Path, typer.Option(help="Folder for both sides' productions, ab.json and ab_report.html.")],
    concepts: Annotated[str, typer.Option(help="Golden concept ids, comma-separated.")] = "revenge,romance",
    seeds: Annotated[str, typer.Option(help="Seeds per concept: the spread across them decides ties.")] = "0,1,2",
    suites: Annotated[str, typer.Option(help="Suites to score, comma-separated.")] = "bible,script,shotlist",
    episodes: Annotated[int, typer.Option(help="Episodes per concept.")] = 1,
    seconds: Annotated[int, typer.Option(help="Target seconds per episode.")] = 30,
    judge: Annotated[bool, typer.Option(help="Also ask the LLM judge which script is better (blind).")] = False,
) -> None:
    """Produce the same concepts and seeds under two configurations and say which is better, per metric."""
    from rich.table import Table

    from dramafactory.evals.ab import run_ab
    from dramafactory.evals.golden import SUITE_NAMES, load_golden
    from dramafactory.evals.report import write_ab_report
    from dramafactory.evals.suites import EvalPlan

    chosen = [s for s in suites.split(",") if s]
    stray = [s for s in chosen if s not in SUITE_NAMES]
    if stray:
        raise fail(f"unknown suites {stray}", f"choose from {', '.join(SUITE_NAMES)}")
    try:
        plan = EvalPlan("ab", chosen, load_golden().pick([c for c in concepts.split(",") if c]), episodes,
                        seconds, _seeds(seeds) or [0])
        ab = run_ab(a, b, plan, out, judge=judge, progress=lambda m: console.print(m, highlight=False))
    except (ValueError, DramaError) as exc:
        cause, fix = (exc.cause, exc.fix) if isinstance(exc, DramaError) else (str(exc), None)
        raise fail(cause, fix) from None
    (out / "ab.json").write_text(json.dumps(ab, indent=2), encoding="utf-8")
    report = write_ab_report(ab, out)
    table = Table(title=f"A = {ab['a']}  vs  B = {ab['b']}  ({len(plan.concepts)} concept(s) x {len(plan.seeds)} "
                        f"seed(s))")
    for column in ("metric", "A mean ± std", "B mean ± std", "delta", "better"):
        table.add_column(column)
    for name, m in ab["metrics"].items():
        table.add_row(name, f"{m['a']['mean']:.3f} ± {m['a']['std']:.3f}", f"{m['b']['mean']:.3f} ± "
                      f"{m['b']['std']:.3f}", f"{m['delta']:+.3f}", {"a": "A", "b": "B"}.get(m["winner"], "tie"))
    Console().print(table)
    console.print(f"results: {out / 'ab.json'}; report: {report}")


# Commands that live in their own modules (cli.py would otherwise do several jobs).
app.command("cost")(cost_command)
app.command("factory")(factory_command)

if __name__ == "__main__":
    app()
