"""The series graph: director → (bible review) → reference sheets → writer → cinematographer → shots (Send fan-out,
one render/QC/retry subgraph per shot; graphs/shots.py) → voices → clips (Send fan-out per shot, where a video
backend is configured; graphs/clips.py) → assemble → next episode or summary.

Backends are not in the state: they arrive as the run's context (`Runtime[AgentContext]`), so the same graph runs
on the embedded CPU default, on GPU backends, or on fakes in tests, chosen by configuration.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command, interrupt

from dramafactory.agents.cinematographer.agent import plan_shots
from dramafactory.agents.context import AgentContext
from dramafactory.agents.director.agent import write_bible
from dramafactory.agents.structured import stable_seed
from dramafactory.agents.writer.agent import write_script
from dramafactory.schemas import EpisodeScript, SeriesBible, SeriesConcept
from dramafactory.tools.accounting import measure
from dramafactory.tools.speech.base import SpeechRequest

from .artifacts import episode_dir, write_json
from .assemble import assemble_episode_files, write_summary
from .clips import clip, fan_out_clips
from .common import TRANSIENT, audit, checkpoint, emit, timed
from .references import reference_sheets
from .review import Decision, EditRejected, check_bible_edit, check_script_edit
from .shots import build_shot_graph, fan_out_shots, retry_or_review, review_shots, review_takes
from .state import SeriesState

T = TypeVar("T")


def _redo(state: SeriesState, step: str) -> tuple[int, str | None]:
    """The seed and reviewer's note for a step: a step redone after a rejection draws again (another seed) with
    the note in every ask."""
    revision = state.get("revisions", {}).get(step, 0)
    seed = stable_seed(state["seed"], step, revision) if revision else state["seed"]
    return seed, state.get("notes", {}).get(step)


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


def director(state: SeriesState, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    start = time.perf_counter()
    emit(stage="director", status="start")
    concept = SeriesConcept.model_validate(state["concept"])
    seed, note = _redo(state, "bible")
    bible = write_bible(ctx, concept, seed, note)
    with measure("process") as registered:  # sentence-transformers embeds on torch's own threads
        ctx.memory.register(bible.characters, series=bible.title)
    ctx.ledger.record_measured(registered, stage="memory", backend="chroma", model="all-MiniLM-L6-v2",
                               characters=len(bible.characters))
    write_json(ctx.run_dir / "bible.json", bible)
    emit(stage="director", status="done", title=bible.title)
    return {"bible": bible.model_dump(mode="json"), "episode": 1, "earlier_lines": [],
            "stage_times": timed("director", None, start)}


def writer(state: SeriesState, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    start = time.perf_counter()
    number = state["episode"]
    emit(stage="writer", status="start", episode=number)
    bible = SeriesBible.model_validate(state["bible"])
    concept = SeriesConcept.model_validate(state["concept"])
    seed, note = _redo(state, f"script:{number}")
    script = write_script(ctx, bible, concept, number, seed, state.get("earlier_lines", []), note)
    write_json(episode_dir(ctx.run_dir, number) / "script.json", script)
    emit(stage="writer", status="done", episode=number, lines=len(script.lines()))
    return {"script": script.model_dump(mode="json"),
            "earlier_lines": state.get("earlier_lines", []) + [ln.text for ln in script.lines()],
            "stage_times": timed("writer", number, start)}


def review_bible(state: SeriesState, runtime: Runtime[AgentContext]) -> Command:
    """Checkpoint after the bible: approve, edit (validated, saved, and the canonical looks re-registered) or
    reject with a note (the director draws again with it)."""
    if not checkpoint(state, "bible"):
        return Command(goto="references")
    ctx = runtime.context
    concept = SeriesConcept.model_validate(state["concept"])
    draft = SeriesBible.model_validate(state["bible"])
    payload = {"kind": "bible", "bible": state["bible"], "revision": state.get("revisions", {}).get("bible", 0)}
    decision, bible = _ask_until_valid(payload, lambda d: check_bible_edit(d.bible, concept, draft))
    rows = audit("bible", decision)
    if decision.action == "reject":
        return Command(goto="director", update={**_rejected(state, "bible", decision), "reviews": rows})
    if decision.action == "edit":
        ctx.memory.register(bible.characters, series=bible.title)
        write_json(ctx.run_dir / "bible.json", bible)
        return Command(goto="references", update={"bible": bible.model_dump(mode="json"), "reviews": rows})
    return Command(goto="references", update={"reviews": rows})


def review_script(state: SeriesState, runtime: Runtime[AgentContext]) -> Command:
    """Checkpoint after each script: approve, edit (validated against the bible) or reject with a note (the
    writer redoes the episode with it)."""
    if not checkpoint(state, "scripts"):
        return Command(goto="cinematographer")
    ctx = runtime.context
    number = state["episode"]
    step = f"script:{number}"
    bible = SeriesBible.model_validate(state["bible"])
    draft = EpisodeScript.model_validate(state["script"])
    payload = {"kind": "script", "episode": number, "script": state["script"],
               "revision": state.get("revisions", {}).get(step, 0)}
    decision, script = _ask_until_valid(payload, lambda d: check_script_edit(d.script, bible, draft))
    rows = audit(step, decision)
    earlier = state.get("earlier_lines", [])[:-len(draft.lines()) or None]  # this draft's lines, taken back
    if decision.action == "reject":
        return Command(goto="writer", update={**_rejected(state, step, decision), "earlier_lines": earlier,
                                              "reviews": rows})
    if decision.action == "edit":
        write_json(episode_dir(ctx.run_dir, number) / "script.json", script)
        return Command(goto="cinematographer", update={
            "script": script.model_dump(mode="json"), "earlier_lines": earlier + [ln.text for ln in script.lines()],
            "reviews": rows})
    return Command(goto="cinematographer", update={"reviews": rows})


def cinematographer(state: SeriesState, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    start = time.perf_counter()
    number = state["episode"]
    emit(stage="cinematographer", status="start", episode=number)
    bible = SeriesBible.model_validate(state["bible"])
    script = EpisodeScript.model_validate(state["script"])
    concept = SeriesConcept.model_validate(state["concept"])
    shotlist, moods = plan_shots(ctx, bible, script, state["seed"], concept.seconds_per_episode)
    write_json(episode_dir(ctx.run_dir, number) / "shotlist.json", shotlist)
    emit(stage="cinematographer", status="done", episode=number, shots=len(shotlist.shots))
    return {"shotlist": shotlist.model_dump(mode="json"), "moods": {str(k): v for k, v in moods.items()},
            "stage_times": timed("cinematographer", number, start)}


# --- voices, assembly, next episode ----------------------------------------------------------------------------

def voices(state: SeriesState, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    start = time.perf_counter()
    number = state["episode"]
    emit(stage="voices", status="start", episode=number)
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
        emit(stage="voices", status="line", episode=number, line=line.id)
    emit(stage="voices", status="done", episode=number)
    return {"voices": out, "stage_times": timed("voices", number, start)}


def assemble(state: SeriesState, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    start = time.perf_counter()
    number = state["episode"]
    emit(stage="assemble", status="start", episode=number)
    done = assemble_episode_files(ctx, state)
    emit(stage="assemble", status="done", episode=number, seconds=done["seconds"])
    return {"episodes_done": [done], "episode": number + 1, "stage_times": timed("assemble", number, start)}


def next_episode(state: SeriesState) -> str:
    total = SeriesConcept.model_validate(state["concept"]).episodes
    return "writer" if state["episode"] <= total else "summary"


def summary(state: SeriesState, runtime: Runtime[AgentContext]) -> dict:
    write_summary(runtime.context, state)
    emit(stage="summary", status="done")
    return {}


def build_series_graph() -> StateGraph:
    graph = StateGraph(SeriesState, context_schema=AgentContext)
    graph.add_node("director", director, retry_policy=TRANSIENT)
    graph.add_node("writer", writer, retry_policy=TRANSIENT)
    graph.add_node("cinematographer", cinematographer, retry_policy=TRANSIENT)
    graph.add_node("shot", build_shot_graph())
    graph.add_node("review_takes", review_takes)
    graph.add_node("review_shots", review_shots, destinations=("shot", "voices"))
    graph.add_node("review_bible", review_bible, destinations=("director", "references"))
    graph.add_node("references", reference_sheets)
    graph.add_node("review_script", review_script, destinations=("writer", "cinematographer"))
    graph.add_node("voices", voices)
    graph.add_node("clip", clip, retry_policy=TRANSIENT)
    graph.add_node("assemble", assemble)
    graph.add_node("summary", summary)
    graph.add_edge(START, "director")
    graph.add_edge("director", "review_bible")
    graph.add_edge("writer", "review_script")
    graph.add_conditional_edges("cinematographer", fan_out_shots, ["shot"])
    graph.add_edge("shot", "review_takes")
    graph.add_conditional_edges("review_takes", retry_or_review, ["shot", "review_shots"])
    graph.add_edge("references", "writer")
    graph.add_conditional_edges("voices", fan_out_clips, ["clip", "assemble"])
    graph.add_edge("clip", "assemble")
    graph.add_conditional_edges("assemble", next_episode, ["writer", "summary"])
    graph.add_edge("summary", END)
    return graph
