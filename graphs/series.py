"""The series graph: director → writer → cinematographer → shots (Send fan-out, one render/QC/retry subgraph per
shot) → voices → assemble → next episode or summary.

Backends are not in the state: they arrive as the run's context (`Runtime[AgentContext]`), so the same graph runs
on the embedded CPU default, on GPU backends, or on fakes in tests, chosen by configuration.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command, RetryPolicy, Send, interrupt

from dramafactory.agents.cinematographer.agent import plan_shots, revise
from dramafactory.agents.context import AgentContext
from dramafactory.agents.director.agent import write_bible
from dramafactory.agents.qc.agent import QCAgent, TakeUnderReview
from dramafactory.agents.structured import stable_seed
from dramafactory.agents.writer.agent import write_script
from dramafactory.schemas import (
    Character,
    EpisodeScript,
    Location,
    SeriesBible,
    SeriesConcept,
    Shot,
    ShotList,
    Take,
)
from dramafactory.tools.accounting import measure
from dramafactory.tools.image.base import ImageRequest
from dramafactory.tools.speech.base import SpeechRequest
from dramafactory.tools.text.base import TextBackendError

from .artifacts import episode_dir, write_json
from .assemble import assemble_episode_files, best_take, episode_takes, write_summary
from .review import Checkpoints, Decision, EditRejected, check_bible_edit, check_script_edit, check_shot_decisions
from .state import SeriesState, ShotOutput, ShotState

T = TypeVar("T")

# Transient failures are retried by LangGraph; a QC failure is not an exception and loops inside the shot subgraph.
TRANSIENT = RetryPolicy(max_attempts=3, initial_interval=1.0, retry_on=(TextBackendError, TimeoutError,
                                                                          ConnectionError))


def _emit(**event) -> None:
    try:
        get_stream_writer()(event)
    except RuntimeError:  # not running under a stream (e.g. a plain invoke in a test)
        pass


def _timed(stage: str, episode: int | None, start: float) -> list[dict]:
    return [{"stage": stage, "episode": episode, "seconds": round(time.perf_counter() - start, 3)}]


def _redo(state: SeriesState, step: str) -> tuple[int, str | None]:
    """The seed and reviewer's note for a step: a step redone after a rejection draws again (another seed) with
    the note in every ask."""
    revision = state.get("revisions", {}).get(step, 0)
    seed = stable_seed(state["seed"], step, revision) if revision else state["seed"]
    return seed, state.get("notes", {}).get(step)


def _checkpoint(state: SeriesState, name: str) -> bool:
    return getattr(Checkpoints.model_validate(state.get("checkpoints") or {}), name)


def _ask_person(payload: dict) -> Decision:
    """Pause the run for a person (LangGraph interrupt); the answer is validated here too, so a resume from any
    client (API, CLI, a test) gets the same checks."""
    return Decision.model_validate(interrupt(payload))


def _ask_until_valid(payload: dict, check_edit: Callable[[Decision], T]) -> tuple[Decision, T | None]:
    """Ask a person; an edit must pass `check_edit` (the checks the API runs first), else it is asked again with
    the reason, so a client that skipped the checks cannot break the run. Returns the decision and, for an edit,
    the checked artifact."""
    while True:
        decision = _ask_person(payload)
        if decision.action != "edit":
            return decision, None
        try:
            return decision, check_edit(decision)
        except EditRejected as exc:
            payload = {**payload, "error": {"field": exc.field, "message": exc.message}}


def _rejected(state: SeriesState, step: str, decision: Decision) -> dict:
    revisions = dict(state.get("revisions", {}))
    revisions[step] = revisions.get(step, 0) + 1
    return {"notes": {**state.get("notes", {}), step: decision.note}, "revisions": revisions}


def _audit(step: str, decision: Decision, **extra) -> list[dict]:
    return [{"step": step, "action": decision.action, "note": decision.note, "at": round(time.time(), 3), **extra}]


def director(state: SeriesState, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    start = time.perf_counter()
    _emit(stage="director", status="start")
    concept = SeriesConcept.model_validate(state["concept"])
    seed, note = _redo(state, "bible")
    bible = write_bible(ctx, concept, seed, note)
    with measure("process") as registered:  # sentence-transformers embeds on torch's own threads
        ctx.memory.register(bible.characters, series=bible.title)
    ctx.ledger.record_measured(registered, stage="memory", backend="chroma", model="all-MiniLM-L6-v2",
                               characters=len(bible.characters))
    write_json(ctx.run_dir / "bible.json", bible)
    _emit(stage="director", status="done", title=bible.title)
    return {"bible": bible.model_dump(mode="json"), "episode": 1, "earlier_lines": [],
            "stage_times": _timed("director", None, start)}


def writer(state: SeriesState, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    start = time.perf_counter()
    number = state["episode"]
    _emit(stage="writer", status="start", episode=number)
    bible = SeriesBible.model_validate(state["bible"])
    concept = SeriesConcept.model_validate(state["concept"])
    seed, note = _redo(state, f"script:{number}")
    script = write_script(ctx, bible, concept, number, seed, state.get("earlier_lines", []), note)
    write_json(episode_dir(ctx.run_dir, number) / "script.json", script)
    _emit(stage="writer", status="done", episode=number, lines=len(script.lines()))
    return {"script": script.model_dump(mode="json"),
            "earlier_lines": state.get("earlier_lines", []) + [ln.text for ln in script.lines()],
            "stage_times": _timed("writer", number, start)}


def review_bible(state: SeriesState, runtime: Runtime[AgentContext]) -> Command:
    """Checkpoint after the bible: approve, edit (validated, saved, and the canonical looks re-registered) or
    reject with a note (the director draws again with it)."""
    if not _checkpoint(state, "bible"):
        return Command(goto="writer")
    ctx = runtime.context
    concept = SeriesConcept.model_validate(state["concept"])
    draft = SeriesBible.model_validate(state["bible"])
    payload = {"kind": "bible", "bible": state["bible"], "revision": state.get("revisions", {}).get("bible", 0)}
    decision, bible = _ask_until_valid(payload, lambda d: check_bible_edit(d.bible, concept, draft))
    audit = _audit("bible", decision)
    if decision.action == "reject":
        return Command(goto="director", update={**_rejected(state, "bible", decision), "reviews": audit})
    if decision.action == "edit":
        ctx.memory.register(bible.characters, series=bible.title)
        write_json(ctx.run_dir / "bible.json", bible)
        return Command(goto="writer", update={"bible": bible.model_dump(mode="json"), "reviews": audit})
    return Command(goto="writer", update={"reviews": audit})


def review_script(state: SeriesState, runtime: Runtime[AgentContext]) -> Command:
    """Checkpoint after each script: approve, edit (validated against the bible) or reject with a note (the
    writer redoes the episode with it)."""
    if not _checkpoint(state, "scripts"):
        return Command(goto="cinematographer")
    ctx = runtime.context
    number = state["episode"]
    step = f"script:{number}"
    bible = SeriesBible.model_validate(state["bible"])
    draft = EpisodeScript.model_validate(state["script"])
    payload = {"kind": "script", "episode": number, "script": state["script"],
               "revision": state.get("revisions", {}).get(step, 0)}
    decision, script = _ask_until_valid(payload, lambda d: check_script_edit(d.script, bible, draft))
    audit = _audit(step, decision)
    earlier = state.get("earlier_lines", [])[:-len(draft.lines()) or None]  # this draft's lines, taken back
    if decision.action == "reject":
        return Command(goto="writer", update={**_rejected(state, step, decision), "earlier_lines": earlier,
                                              "reviews": audit})
    if decision.action == "edit":
        write_json(episode_dir(ctx.run_dir, number) / "script.json", script)
        return Command(goto="cinematographer", update={
            "script": script.model_dump(mode="json"), "earlier_lines": earlier + [ln.text for ln in script.lines()],
            "reviews": audit})
    return Command(goto="cinematographer", update={"reviews": audit})


def cinematographer(state: SeriesState, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    start = time.perf_counter()
    number = state["episode"]
    _emit(stage="cinematographer", status="start", episode=number)
    bible = SeriesBible.model_validate(state["bible"])
    script = EpisodeScript.model_validate(state["script"])
    concept = SeriesConcept.model_validate(state["concept"])
    shotlist, moods = plan_shots(ctx, bible, script, state["seed"], concept.seconds_per_episode)
    write_json(episode_dir(ctx.run_dir, number) / "shotlist.json", shotlist)
    _emit(stage="cinematographer", status="done", episode=number, shots=len(shotlist.shots))
    return {"shotlist": shotlist.model_dump(mode="json"), "moods": {str(k): v for k, v in moods.items()},
            "stage_times": _timed("cinematographer", number, start)}


def _shot_send(state: SeriesState, shot: Shot, attempt: int, feedback: str | None) -> Send:
    bible = SeriesBible.model_validate(state["bible"])
    return Send("shot", {"shot": shot.model_dump(mode="json"), "series": bible.title,
                         "cast": {c.name: c.model_dump(mode="json") for c in bible.characters},
                         "location": bible.location(shot.location).model_dump(mode="json"), "seed": state["seed"],
                         "attempt": attempt, "feedback": feedback, "takes": []})


def fan_out_shots(state: SeriesState) -> list[Send]:
    return [_shot_send(state, shot, 0, None) for shot in ShotList.model_validate(state["shotlist"]).shots]


# --- the per-shot subgraph: render → qc. The retry loop runs at the episode level (review_takes), where the
# episode's render budget and the checks across shots (a duplicate of the previous shot) can be seen. ----------

def render(state: ShotState, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    shot = Shot.model_validate(state["shot"])
    attempt = state.get("attempt", 0) + 1
    feedback = state.get("feedback")
    if feedback is not None:
        shot = revise(shot, feedback, attempt, state["seed"])
    _emit(stage="render", status="start", shot=shot.id, attempt=attempt)
    relative = Path("episodes") / f"{shot.episode:02d}" / "takes" / f"{shot.id}_a{attempt}.png"
    request = ImageRequest(
        shot=shot, cast={n: Character.model_validate(state["cast"][n]) for n in shot.characters},
        location=Location.model_validate(state["location"]), seed=shot.seed, out_path=ctx.run_dir / relative,
        width=ctx.settings.width, height=ctx.settings.height, feedback=feedback,
    )
    with measure("thread") as rendered:  # the storyboard draws in this thread; parallel shots do not blur it
        result = ctx.image.render(request)
    ctx.ledger.record_measured(rendered, stage="render", backend=result.backend, model=result.backend,
                               version=getattr(ctx.image, "version", ""), shot=shot.id, attempt=attempt)
    take = Take(shot_id=shot.id, attempt=attempt, asset=str(relative), seed=shot.seed, backend=result.backend,
                prompt=shot.prompt, seconds=round(result.seconds, 4),
                changes=_changes(shot, state, attempt, feedback) + result.applied,
                feedback_ignored=result.feedback_ignored)
    return {"shot": shot.model_dump(mode="json"), "attempt": attempt, "pending": take.model_dump(mode="json")}


def _changes(shot: Shot, state: ShotState, attempt: int, feedback: str | None) -> list[str]:
    """What a retake changed before the renderer's own fixes: a new seed, and for a person's edit (a retake sent
    with no QC feedback, its prompt and seed already replaced in the Send) the prompt as well."""
    if attempt == 1:
        return []
    if feedback is None:
        return ["seed", "prompt"]
    return ["seed"] if shot.seed != state["shot"]["seed"] else []


def _references(ctx: AgentContext, series: str, names: list[str]) -> dict[str, Character | None]:
    """The canonical looks QC holds a take to, from the continuity memory (None where one is missing)."""
    out: dict[str, Character | None] = {}
    for name in names:
        try:
            out[name] = ctx.memory.canonical(series, name)
        except KeyError:
            out[name] = None
    return out


def _under_review(ctx: AgentContext, take: Take, shot: Shot, *, cast: dict[str, Character], location: Location,
                  series: str) -> TakeUnderReview:
    return TakeUnderReview(path=ctx.run_dir / take.asset, shot=shot, location=location, cast=cast,
                           references=_references(ctx, series, shot.characters), backend=take.backend)


def qc(state: ShotState, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    shot = Shot.model_validate(state["shot"])
    pending = Take.model_validate(state["pending"])
    cast = {n: Character.model_validate(c) for n, c in state["cast"].items()}
    with measure("thread") as scored:
        report = qc_agent(ctx).score(_under_review(ctx, pending, shot, cast=cast, series=state["series"],
                                                   location=Location.model_validate(state["location"])))
    ctx.ledger.record_measured(scored, stage="qc", backend="qc", model="scorers", shot=shot.id,
                               attempt=pending.attempt, passed=report.passed)
    take = pending.model_copy(update={"qc": report, "accepted": report.passed,
                                      "shot": shot.model_dump(mode="json")})
    _emit(stage="qc", status="done", shot=shot.id, attempt=take.attempt, passed=report.passed,
          reason=report.reason[:160])
    return {"takes": [take.model_dump(mode="json")]}


def build_shot_graph():
    graph = StateGraph(ShotState, context_schema=AgentContext, output_schema=ShotOutput)
    graph.add_node("render", render, retry_policy=TRANSIENT)
    graph.add_node("qc", qc)
    graph.add_edge(START, "render")
    graph.add_edge("render", "qc")
    graph.add_edge("qc", END)
    return graph.compile()


# --- the episode's QC loop: checks across shots, then a retry for each failed shot while attempts and budget last -

def review_takes(state: SeriesState, runtime: Runtime[AgentContext]) -> dict:
    """A take that passed its own checks must also not repeat the shot before it in its scene, and must keep that
    shot's wardrobe colours. The check is made against the take that shot will use; when that take changes (it was
    re-rendered), the check is made again. A shot whose predecessor has no accepted take yet waits for it."""
    ctx = runtime.context
    bible = SeriesBible.model_validate(state["bible"])
    shots = ShotList.model_validate(state["shotlist"]).shots
    takes = episode_takes(state)
    cast = {c.name: c for c in bible.characters}
    updated = []
    for before, shot in zip([None, *shots[:-1]], shots, strict=True):
        history = takes.get(shot.id)
        if not history or before is None or before.scene != shot.scene or not history[-1].accepted:
            continue
        latest = history[-1]
        previous = next((t for t in reversed(takes.get(before.id, [])) if t.accepted), None)
        if previous is None or latest.compared_with == previous.asset:
            continue
        extra = qc_agent(ctx).score_sequence(
            _under_review(ctx, latest, shot, cast=cast, location=bible.location(shot.location), series=bible.title),
            _under_review(ctx, previous, before, cast=cast, location=bible.location(before.location),
                          series=bible.title))
        own = [s for s in latest.qc.scores if s.scorer != "duplicate" and not s.scorer.startswith("continuity:")]
        report = latest.qc.model_copy(update={"scores": own + extra,
                                              "passed": all(s.passed for s in own + extra)})
        updated.append(latest.model_copy(update={"qc": report, "accepted": report.passed,
                                                 "compared_with": previous.asset}).model_dump(mode="json"))
    return {"takes": updated}


def render_budget(ctx: AgentContext, shots: int) -> int:
    return max(shots, math.ceil(ctx.settings.render_budget * shots))


def retry_or_review(state: SeriesState, runtime: Runtime[AgentContext]) -> list[Send] | str:
    ctx = runtime.context
    shots = ShotList.model_validate(state["shotlist"]).shots
    takes = episode_takes(state)
    left = render_budget(ctx, len(shots)) - sum(len(v) for v in takes.values())
    sends = []
    for shot in shots:
        history = takes.get(shot.id)
        if not history:  # cannot happen after the fan-out; a shot without takes is assembled as an error
            continue
        latest = history[-1]
        if latest.accepted or latest.qc is None or latest.qc.needs_human:
            continue
        if len(history) >= ctx.settings.max_attempts or left <= 0:
            continue
        left -= 1
        revised = Shot.model_validate(latest.shot) if latest.shot else shot
        sends.append(_shot_send(state, revised, latest.attempt, latest.qc.reason or "failed QC"))
    return sends or "review_shots"


def review_shots(state: SeriesState, runtime: Runtime[AgentContext]) -> Command:
    """Shots QC could not fix go to people: listed in review_queue.json, and where the run asks for it (the
    `shots` checkpoint, or review_shots="interrupt") the run pauses here until someone decides: approve (the best
    take is accepted by a person), reject with a note or edit the prompt (the shot renders again, and comes back
    here if QC still fails it), or flag (assembled with its best take, left in the queue)."""
    ctx = runtime.context
    number = state["episode"]
    takes = episode_takes(state)
    flagged = []
    for shot_id, history in takes.items():
        if not any(t.accepted for t in history):
            best = best_take(history)
            flagged.append({"episode": number, "shot": shot_id, "attempts": len(history),
                            "best_take": best.attempt, "asset": best.asset,
                            "reason": best.qc.reason if best.qc else "not scored",
                            "needs_human": bool(best.qc and best.qc.needs_human),
                            "takes": [{"attempt": t.attempt, "asset": t.asset, "prompt": t.prompt,
                                       "qc": t.qc.model_dump(mode="json") if t.qc else None} for t in history]})
    queue_path = ctx.run_dir / "review_queue.json"
    queue = [q for q in (json.loads(queue_path.read_text()) if queue_path.is_file() else [])
             if q["episode"] != number]
    listed = [{k: v for k, v in q.items() if k != "takes"} for q in flagged]
    write_json(queue_path, queue + listed)
    _emit(stage="qc", status="review", episode=number, flagged=len(flagged))
    # a shot a person chose to flag earlier in this episode is not asked about again (another shot's redo brings
    # the episode back here)
    kept_flagged = {shot for r in state.get("reviews", []) if r.get("step") == f"shots:{number}"
                    for shot, choice in (r.get("shots") or {}).items() if choice.get("action") == "flag"}
    to_ask = [q for q in flagged if q["shot"] not in kept_flagged]
    if not to_ask or not (_checkpoint(state, "shots") or ctx.settings.review_shots == "interrupt"):
        return Command(goto="voices")
    answer = interrupt({"kind": "shots", "episode": number, "shots": to_ask}) or {}
    if "action" not in answer:  # the CLI's form, {shot_id: "approve"}: shots left out stay flagged
        answer = {"action": "approve", "shots": {shot: {"action": answer.get(shot, "flag")}
                                                for shot in (q["shot"] for q in to_ask)}}
    decision = Decision.model_validate(answer)
    per_shot = check_shot_decisions(decision, [q["shot"] for q in to_ask])
    updated, sends = [], []
    shots = {s.id: s for s in ShotList.model_validate(state["shotlist"]).shots}
    for item in to_ask:
        choice = per_shot[item["shot"]]
        history = takes[item["shot"]]
        if choice.action == "approve":
            take = next(t for t in history if t.attempt == item["best_take"])
            updated.append(take.model_copy(update={"accepted": True, "approved_by": "human"}).model_dump(mode="json"))
        elif choice.action in ("reject", "edit"):
            latest = history[-1]
            shot = Shot.model_validate(latest.shot) if latest.shot else shots[item["shot"]]
            if choice.action == "edit":  # the person's prompt as written; a new seed so the take differs
                shot = shot.model_copy(update={"prompt": choice.prompt,
                                               "seed": stable_seed(state["seed"], shot.id, "edit", latest.attempt)})
                sends.append(_shot_send(state, shot, latest.attempt, None))
            else:
                sends.append(_shot_send(state, shot, latest.attempt, f"reviewer: {choice.note}"))
    still = [q for q in listed if q["shot"] in kept_flagged or per_shot[q["shot"]].action == "flag"]
    write_json(queue_path, queue + still)
    audit = _audit(f"shots:{number}", decision, shots={k: v.model_dump(mode="json") for k, v in per_shot.items()})
    return Command(goto=sends or "voices", update={"takes": updated, "reviews": audit})


# --- voices, assembly, next episode ----------------------------------------------------------------------------

def voices(state: SeriesState, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    start = time.perf_counter()
    number = state["episode"]
    _emit(stage="voices", status="start", episode=number)
    bible = SeriesBible.model_validate(state["bible"])
    script = EpisodeScript.model_validate(state["script"])
    out: dict[str, dict] = {}
    for line in script.lines():
        path = episode_dir(ctx.run_dir, number) / "audio" / f"{line.id}.wav"
        if not path.resolve().is_relative_to(ctx.run_dir.resolve()):  # ids are checked on edit; never write outside
            raise ValueError(f"line id {line.id!r} would write outside the run folder")
        # Process scope: piper runs on onnxruntime's threads, espeak-ng in a child process.
        with measure("process") as spoken:
            result = ctx.speech.synthesize(SpeechRequest(text=line.text, voice=bible.character(line.speaker).voice,
                                                         out_path=path, emotion=line.emotion))
        if getattr(result, "load_seconds", 0.0):  # a voice model was loaded for this line: its own row
            ctx.ledger.record(stage="voices.load", backend=ctx.speech.name, model=result.engine, kind="load",
                              seconds=result.load_seconds)
        ctx.ledger.record_measured(spoken, stage="voices", backend=ctx.speech.name, model=result.engine,
                                   line=line.id, audio_seconds=round(result.seconds, 3))
        out[line.id] = {"path": str(path.relative_to(ctx.run_dir)), "seconds": result.seconds}
        _emit(stage="voices", status="line", episode=number, line=line.id)
    _emit(stage="voices", status="done", episode=number)
    return {"voices": out, "stage_times": _timed("voices", number, start)}


def assemble(state: SeriesState, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    start = time.perf_counter()
    number = state["episode"]
    _emit(stage="assemble", status="start", episode=number)
    done = assemble_episode_files(ctx, state)
    _emit(stage="assemble", status="done", episode=number, seconds=done["seconds"])
    return {"episodes_done": [done], "episode": number + 1, "stage_times": _timed("assemble", number, start)}


def next_episode(state: SeriesState) -> str:
    total = SeriesConcept.model_validate(state["concept"]).episodes
    return "writer" if state["episode"] <= total else "summary"


def summary(state: SeriesState, runtime: Runtime[AgentContext]) -> dict:
    write_summary(runtime.context, state)
    _emit(stage="summary", status="done")
    return {}


_QC_LOCK = threading.Lock()


def qc_agent(ctx: AgentContext) -> QCAgent:
    """One QC agent per run context (it holds loaded scorer models); shot branches ask for it in parallel."""
    with _QC_LOCK:
        if not hasattr(ctx, "_qc_agent"):
            ctx._qc_agent = QCAgent(ctx.settings, image=ctx.image)  # type: ignore[attr-defined]
    return ctx._qc_agent  # type: ignore[attr-defined]


def build_series_graph() -> StateGraph:
    graph = StateGraph(SeriesState, context_schema=AgentContext)
    graph.add_node("director", director, retry_policy=TRANSIENT)
    graph.add_node("writer", writer, retry_policy=TRANSIENT)
    graph.add_node("cinematographer", cinematographer, retry_policy=TRANSIENT)
    graph.add_node("shot", build_shot_graph())
    graph.add_node("review_takes", review_takes)
    graph.add_node("review_shots", review_shots, destinations=("shot", "voices"))
    graph.add_node("review_bible", review_bible, destinations=("director", "writer"))
    graph.add_node("review_script", review_script, destinations=("writer", "cinematographer"))
    graph.add_node("voices", voices)
    graph.add_node("assemble", assemble)
    graph.add_node("summary", summary)
    graph.add_edge(START, "director")
    graph.add_edge("director", "review_bible")
    graph.add_edge("writer", "review_script")
    graph.add_conditional_edges("cinematographer", fan_out_shots, ["shot"])
    graph.add_edge("shot", "review_takes")
    graph.add_conditional_edges("review_takes", retry_or_review, ["shot", "review_shots"])
    graph.add_edge("voices", "assemble")
    graph.add_conditional_edges("assemble", next_episode, ["writer", "summary"])
    graph.add_edge("summary", END)
    return graph
