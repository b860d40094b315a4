"""The series graph's nodes outside the shot loop: the director (bible) and its review, the writer (one script per
episode) and its review, the cinematographer (shot list), voices, assembly and the summary. Each reads the state
it needs, validates it, calls its agent with the run's backends (the LangGraph runtime context) and returns its
update; the shot loop is graphs/shots.py, the clips graphs/clips.py, the wiring graphs/graph.py."""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing

from langgraph.runtime import Runtime
from langgraph.types import Command

from dramafactory.agents.cinematographer.agent import plan_shots
from dramafactory.agents.context import AgentContext
from dramafactory.agents.director.agent import write_bible
from dramafactory.agents.writer.agent import scene_settings, write_script
from dramafactory.memory.facts import FactMemory, Outfits, extract_facts, recall_for_scenes
from dramafactory.schemas import EpisodeScript, SeriesBible, SeriesConcept
from dramafactory.tools.accounting import measure
from dramafactory.tools.speech.base import SpeechRequest

from .artifacts import episode_dir, write_json
from .assemble import assemble_episode_files, write_summary
from .common import audit, checkpoint, emit, timed
from .policy import ask_until_valid, check_budget, redo, rejected
from .review import check_bible_edit, check_script_edit
from .state import SeriesState
from .work import SPEAK, measured_from, speak_line, speech_request_to_json, speech_result_from_json


def director(state: SeriesState, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    check_budget(ctx, "director")
    start = time.perf_counter()
    emit(stage="director", status="start")
    concept = SeriesConcept.model_validate(state["concept"])
    seed, note = redo(state, "bible")
    ctx.memory.warm_up()  # the embedding model loads while the text model writes the bible
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
    check_budget(ctx, "writer")
    start = time.perf_counter()
    number = state["episode"]
    emit(stage="writer", status="start", episode=number)
    bible = SeriesBible.model_validate(state["bible"])
    concept = SeriesConcept.model_validate(state["concept"])
    seed, note = redo(state, f"script:{number}")
    established = _established(ctx, bible, number)
    script = write_script(ctx, bible, concept, number, seed, state.get("earlier_lines", []), note,
                          established=established)
    write_json(episode_dir(ctx.run_dir, number) / "script.json", script)
    emit(stage="writer", status="done", episode=number, lines=len(script.lines()))
    return {"script": script.model_dump(mode="json"),
            "earlier_lines": state.get("earlier_lines", []) + [ln.text for ln in script.lines()],
            "stage_times": timed("writer", number, start)}


# Series-wide rows (no `episode`): the facts store is the series' memory, like the canonical looks' row, and a
# "memory" stage is not a text-model call (tools/accounting.TEXT_STAGES).
FACTS_STAGE = "memory.facts"


def _established(ctx: AgentContext, bible: SeriesBible, number: int) -> list[list[str]]:
    """What earlier episodes established that episode `number` must not contradict, scene by scene: the facts
    nearest to its outline as each scene plays it, and to the people in it. Episode 1 has none (and loads
    nothing)."""
    if number <= 1:
        return []
    with measure("process") as recalled:
        facts = recall_for_scenes(FactMemory.for_run(ctx.run_dir), bible, number, scene_settings(bible, number))
    ctx.ledger.record_measured(recalled, stage=FACTS_STAGE, backend="chroma", model="all-MiniLM-L6-v2",
                               action="recall", for_episode=number, scenes=len(facts),
                               facts=sum(len(f) for f in facts))
    return [[f.text for f in scene] for scene in facts]


def _record_facts(ctx: AgentContext, bible: SeriesBible, script: EpisodeScript) -> Outfits:
    """The approved script's facts into the series memory (replacing any recorded for the episode before, so a
    resumed or retried node leaves one copy), and what each character now wears, scene by scene."""
    facts = extract_facts(bible, script)
    with measure("process") as recorded:
        memory = FactMemory.for_run(ctx.run_dir)
        memory.record_episode(bible.title, script.episode, facts)
        carried = memory.last_outfits(bible.title, [c.name for c in bible.characters], script.episode)
    ctx.ledger.record_measured(recorded, stage=FACTS_STAGE, backend="chroma", model="all-MiniLM-L6-v2",
                               action="record", for_episode=script.episode, facts=len(facts))
    return Outfits(carried=carried, changes=[f for f in facts if f.kind == "clothes"])


def review_bible(state: SeriesState, runtime: Runtime[AgentContext]) -> Command:
    """Checkpoint after the bible: approve, edit (validated, saved, and the canonical looks re-registered) or
    reject with a note (the director draws again with it)."""
    if not checkpoint(state, "bible"):
        return Command(goto="references")
    ctx = runtime.context
    concept = SeriesConcept.model_validate(state["concept"])
    draft = SeriesBible.model_validate(state["bible"])
    payload = {"kind": "bible", "bible": state["bible"], "revision": state.get("revisions", {}).get("bible", 0)}
    decision, bible = ask_until_valid(payload, lambda d: check_bible_edit(d.bible, concept, draft))
    rows = audit("bible", decision)
    if decision.action == "reject":
        return Command(goto="director", update={**rejected(state, "bible", decision), "reviews": rows})
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
    decision, script = ask_until_valid(payload, lambda d: check_script_edit(d.script, bible, draft))
    rows = audit(step, decision)
    earlier = state.get("earlier_lines", [])[:-len(draft.lines()) or None]  # this draft's lines, taken back
    if decision.action == "reject":
        return Command(goto="writer", update={**rejected(state, step, decision), "earlier_lines": earlier,
                                              "reviews": rows})
    if decision.action == "edit":
        write_json(episode_dir(ctx.run_dir, number) / "script.json", script)
        return Command(goto="cinematographer", update={
            "script": script.model_dump(mode="json"), "earlier_lines": earlier + [ln.text for ln in script.lines()],
            "reviews": rows})
    return Command(goto="cinematographer", update={"reviews": rows})


def cinematographer(state: SeriesState, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    check_budget(ctx, "cinematographer")
    start = time.perf_counter()
    number = state["episode"]
    emit(stage="cinematographer", status="start", episode=number)
    bible = SeriesBible.model_validate(state["bible"])
    script = EpisodeScript.model_validate(state["script"])
    concept = SeriesConcept.model_validate(state["concept"])
    # The script reaching this node is the approved one (review_script sends edits here, rejections back).
    outfits = _record_facts(ctx, bible, script)
    shotlist, moods = plan_shots(ctx, bible, script, state["seed"], concept.seconds_per_episode, outfits)
    write_json(episode_dir(ctx.run_dir, number) / "shotlist.json", shotlist)
    emit(stage="cinematographer", status="done", episode=number, shots=len(shotlist.shots))
    return {"shotlist": shotlist.model_dump(mode="json"), "moods": {str(k): v for k, v in moods.items()},
            "stage_times": timed("cinematographer", number, start)}


# --- voices, assembly ----------------------------------------------------------------------------

# Engines whose work runs outside this process, one item per worker process at a time: only there may an episode's
# lines be spoken side by side. In this process a voice bank keeps per-call state on the object (the seconds spent
# loading a voice), and a line's process-scope CPU figure would take in the other lines' threads and be counted
# twice in the ledger, so there they are spoken one after another, as before the engine.
_PARALLEL_SPEECH_ENGINES = {"ray"}
# Lines waiting on the engine at once for one episode; the engine's own slots bound what actually runs, across
# series, so this only keeps the threads of a long script in check.
_SPEECH_IN_FLIGHT = 8


def _speak(ctx: AgentContext, payload: dict) -> dict:
    """One line through the run's engine (role "speech": CPU workers on a Ray cluster, this thread otherwise), or
    inline for a context built without one."""
    if ctx.engine is None:
        return speak_line(ctx.speech, payload)
    return ctx.engine.run("speech", SPEAK, payload, series=payload["run_id"])


def _spoken(ctx: AgentContext, payloads: list[dict]) -> Iterator[tuple[dict, dict]]:
    """Each line's payload and answer, in script order. One after another on this thread unless the engine runs
    work elsewhere (_PARALLEL_SPEECH_ENGINES); there the lines run side by side, the first failure cancels the lines
    not yet started and is raised in script order once the answers of the other lines that finished are yielded
    (their machine time was spent: the caller records it)."""
    if ctx.engine is None or getattr(ctx.engine, "name", "") not in _PARALLEL_SPEECH_ENGINES or len(payloads) < 2:
        for payload in payloads:
            yield payload, _speak(ctx, payload)
        return
    with ThreadPoolExecutor(max_workers=min(_SPEECH_IN_FLIGHT, len(payloads)),
                            thread_name_prefix="speech-line") as pool:
        # one copy of the context per call: LangGraph keeps the run's config in contextvars
        futures = [pool.submit(contextvars.copy_context().run, _speak, ctx, p) for p in payloads]

        def stop_on_failure(future: Future) -> None:
            if not future.cancelled() and future.exception() is not None:
                for other in futures:
                    other.cancel()  # one already running finishes; the others are never sent

        for future in futures:
            future.add_done_callback(stop_on_failure)
        failure: BaseException | None = None
        try:
            for payload, future in zip(payloads, futures, strict=True):
                if future.cancelled():
                    continue
                error = future.exception()
                if error is None:
                    yield payload, future.result()
                elif failure is None:
                    failure = error
        finally:
            for future in futures:  # the caller stopped early (its own error): send nothing more
                future.cancel()
        if failure is not None:
            raise failure


def voices(state: SeriesState, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    check_budget(ctx, "voices")
    start = time.perf_counter()
    number = state["episode"]
    emit(stage="voices", status="start", episode=number)
    bible = SeriesBible.model_validate(state["bible"])
    script = EpisodeScript.model_validate(state["script"])
    lines = script.lines()
    run_id = ctx.shots.run_id if ctx.shots is not None else ctx.ledger.run_id
    payloads = []
    for line in lines:
        path = episode_dir(ctx.run_dir, number) / "audio" / f"{line.id}.wav"
        if not path.resolve().is_relative_to(ctx.run_dir.resolve()):  # ids are checked on edit; never write outside
            raise ValueError(f"line id {line.id!r} would write outside the run folder")
        request = SpeechRequest(text=line.text, voice=bible.character(line.speaker).voice, out_path=path,
                                emotion=line.emotion)
        payloads.append({"run_id": run_id, "root": str(ctx.run_dir), "line": line.id,
                         "request": speech_request_to_json(request, ctx.run_dir)})
    out: dict[str, dict] = {}
    with closing(_spoken(ctx, payloads)) as spoken:  # closed at once on an error here: no line is left to send
        for payload, done in spoken:
            line_id = payload["line"]
            result = speech_result_from_json(done["result"], ctx.run_dir)
            if result.load_seconds:  # a voice model was loaded for this line: its own row
                ctx.ledger.record(stage="voices.load", backend=ctx.speech.name, model=result.engine, kind="load",
                                  seconds=result.load_seconds)
            ctx.ledger.record_measured(measured_from(done), stage="voices", backend=ctx.speech.name,
                                       model=result.engine, line=line_id, audio_seconds=round(result.seconds, 3))
            out[line_id] = {"path": payload["request"]["out_path"], "seconds": result.seconds}
            emit(stage="voices", status="line", episode=number, line=line_id)
    emit(stage="voices", status="done", episode=number)
    return {"voices": out, "stage_times": timed("voices", number, start)}


def assemble(state: SeriesState, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    check_budget(ctx, "assemble")
    start = time.perf_counter()
    number = state["episode"]
    emit(stage="assemble", status="start", episode=number)
    done = assemble_episode_files(ctx, state)
    emit(stage="assemble", status="done", episode=number, seconds=done["seconds"])
    return {"episodes_done": [done], "episode": number + 1, "stage_times": timed("assemble", number, start)}


def summary(state: SeriesState, runtime: Runtime[AgentContext]) -> dict:
    write_summary(runtime.context, state)
    emit(stage="summary", status="done")
    return {}
