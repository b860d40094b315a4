"""The series graph: director → writer → cinematographer → shots (Send fan-out, one render/QC/retry subgraph per
shot) → voices → assemble → next episode or summary.

Backends are not in the state: they arrive as the run's context (`Runtime[AgentContext]`), so the same graph runs
on the embedded CPU default, on GPU backends, or on fakes in tests, chosen by configuration.
"""

from __future__ import annotations

import time
from pathlib import Path

from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import RetryPolicy, Send

from dramafactory.agents.cinematographer.agent import plan_shots, revise
from dramafactory.agents.context import AgentContext
from dramafactory.agents.director.agent import write_bible
from dramafactory.agents.qc.agent import score_frame
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
from dramafactory.tools.image.base import ImageRequest
from dramafactory.tools.speech.base import SpeechRequest
from dramafactory.tools.text.base import TextBackendError

from .artifacts import episode_dir, write_json
from .assemble import assemble_episode_files, write_summary
from .state import SeriesState, ShotOutput, ShotState

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


def director(state: SeriesState, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    start = time.perf_counter()
    _emit(stage="director", status="start")
    concept = SeriesConcept.model_validate(state["concept"])
    bible = write_bible(ctx, concept, state["seed"])
    registered = time.perf_counter()
    ctx.memory.register(bible.characters, series=bible.title)
    seconds = time.perf_counter() - registered
    ctx.ledger.record(stage="memory", backend="chroma", model="all-MiniLM-L6-v2", seconds=seconds,
                      characters=len(bible.characters), cpu_seconds=round(seconds, 4))
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
    script = write_script(ctx, bible, concept, number, state["seed"], state.get("earlier_lines", []))
    write_json(episode_dir(ctx.run_dir, number) / "script.json", script)
    _emit(stage="writer", status="done", episode=number, lines=len(script.lines()))
    return {"script": script.model_dump(mode="json"),
            "earlier_lines": state.get("earlier_lines", []) + [ln.text for ln in script.lines()],
            "stage_times": _timed("writer", number, start)}


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


def fan_out_shots(state: SeriesState) -> list[Send]:
    bible = SeriesBible.model_validate(state["bible"])
    shotlist = ShotList.model_validate(state["shotlist"])
    sends = []
    for shot in shotlist.shots:
        location = bible.location(shot.location)
        cast = {name: bible.character(name).model_dump(mode="json") for name in shot.characters}
        sends.append(Send("shot", {"shot": shot.model_dump(mode="json"), "cast": cast,
                                   "location": location.model_dump(mode="json"), "seed": state["seed"],
                                   "attempt": 0, "takes": []}))
    return sends


# --- the per-shot subgraph: render → qc → (render again with the QC reason | done) ---------------------------

def render(state: ShotState, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    shot = Shot.model_validate(state["shot"])
    attempt = state.get("attempt", 0) + 1
    feedback = _reason(state["takes"][-1]) if state.get("takes") else None
    if feedback is not None:
        shot = revise(shot, feedback, attempt, state["seed"])
    _emit(stage="render", status="start", shot=shot.id, attempt=attempt)
    relative = Path("episodes") / f"{shot.episode:02d}" / "takes" / f"{shot.id}_a{attempt}.png"
    request = ImageRequest(
        shot=shot, cast={n: Character.model_validate(c) for n, c in state["cast"].items()},
        location=Location.model_validate(state["location"]), seed=shot.seed, out_path=ctx.run_dir / relative,
        width=ctx.settings.width, height=ctx.settings.height,
        feedback=feedback,
    )
    result = ctx.image.render(request)
    ctx.ledger.record(stage="render", backend=result.backend, model=result.backend, seconds=result.seconds,
                      shot=shot.id, attempt=attempt, cpu_seconds=round(result.seconds, 4))
    take = Take(shot_id=shot.id, attempt=attempt, asset=str(relative), seed=shot.seed, backend=result.backend,
                prompt=shot.prompt, seconds=round(result.seconds, 4))
    return {"shot": shot.model_dump(mode="json"), "attempt": attempt,
            "pending": {**take.model_dump(mode="json"), "_figures": len(result.figures)}}


def _reason(take: dict) -> str:
    qc = take.get("qc") or {}
    return "; ".join(s["reason"] for s in qc.get("scores", []) if not s["passed"]) or "failed QC"


def qc(state: ShotState, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    shot = Shot.model_validate(state["shot"])
    pending = dict(state["pending"])
    figures = pending.pop("_figures", None)
    report = score_frame(ctx.run_dir / pending["asset"], shot, ctx.settings.width, ctx.settings.height, figures)
    take = Take.model_validate({**pending, "qc": report.model_dump(mode="json"), "accepted": report.passed})
    _emit(stage="qc", status="done", shot=shot.id, attempt=take.attempt, passed=report.passed)
    return {"takes": [take.model_dump(mode="json")]}


def after_qc(state: ShotState, runtime: Runtime[AgentContext]) -> str:
    last = state["takes"][-1]
    if last["accepted"] or state["attempt"] >= runtime.context.settings.max_attempts:
        return END
    return "render"


def build_shot_graph():
    graph = StateGraph(ShotState, context_schema=AgentContext, output_schema=ShotOutput)
    graph.add_node("render", render, retry_policy=TRANSIENT)
    graph.add_node("qc", qc)
    graph.add_edge(START, "render")
    graph.add_edge("render", "qc")
    graph.add_conditional_edges("qc", after_qc, ["render", END])
    return graph.compile()


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
        result = ctx.speech.synthesize(SpeechRequest(text=line.text, voice=bible.character(line.speaker).voice,
                                                     out_path=path, emotion=line.emotion))
        ctx.ledger.record(stage="voices", backend=ctx.speech.name, model=result.engine,
                          seconds=result.compute_seconds, line=line.id, audio_seconds=round(result.seconds, 3),
                          cpu_seconds=round(result.compute_seconds, 4))
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


def build_series_graph() -> StateGraph:
    graph = StateGraph(SeriesState, context_schema=AgentContext)
    graph.add_node("director", director, retry_policy=TRANSIENT)
    graph.add_node("writer", writer, retry_policy=TRANSIENT)
    graph.add_node("cinematographer", cinematographer, retry_policy=TRANSIENT)
    graph.add_node("shot", build_shot_graph())
    graph.add_node("voices", voices)
    graph.add_node("assemble", assemble)
    graph.add_node("summary", summary)
    graph.add_edge(START, "director")
    graph.add_edge("director", "writer")
    graph.add_edge("writer", "cinematographer")
    graph.add_conditional_edges("cinematographer", fan_out_shots, ["shot"])
    graph.add_edge("shot", "voices")
    graph.add_edge("voices", "assemble")
    graph.add_conditional_edges("assemble", next_episode, ["writer", "summary"])
    graph.add_edge("summary", END)
    return graph
