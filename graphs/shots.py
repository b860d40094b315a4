"""The shots of an episode: fan-out (one render/QC node per shot, run in parallel branches, sent in waves), the
episode's QC loop (checks across shots, the next wave and a retry per failed shot while attempts and the render
budget last) and the review of the shots QC could not fix."""

from __future__ import annotations

import json
from pathlib import Path

from langgraph.runtime import Runtime
from langgraph.types import Command, Send, interrupt

from dramafactory.agents.cinematographer.agent import revise
from dramafactory.agents.context import AgentContext
from dramafactory.agents.qc.agent import TakeUnderReview
from dramafactory.agents.structured import stable_seed
from dramafactory.errors import DramaError
from dramafactory.schemas import Character, Location, QCReport, SeriesBible, Shot, ShotList, Take
from dramafactory.tools.durable import LeaseLost
from dramafactory.tools.durable.shots import take_id
from dramafactory.tools.image.base import ImageRequest

from .artifacts import write_json
from .assemble import best_take, episode_takes
from .common import audit, checkpoint, emit, record_failed_call, record_image_call
from .policy import check_budget, render_budget
from .review import Decision, check_shot_decisions
from .state import SeriesState, ShotOutput, ShotState
from .work import (
    RENDER,
    SCORE,
    DiskFull,
    LocalRun,
    claim_lapsed,
    disk_full,
    is_disk_full,
    local_run,
    measured_from,
    request_to_json,
    result_from_json,
    take_parts,
)


class _Sends:
    """The Sends of one step, for many shots: the bible read and the cast dumped once, not once per shot (at a
    thousand shots that was a tenth of the graph's own time)."""

    def __init__(self, state: SeriesState):
        self.state = state
        self.bible = SeriesBible.model_validate(state["bible"])
        self.cast = {c.name: c.model_dump(mode="json") for c in self.bible.characters}
        self.locations: dict[str, dict] = {}

    def __call__(self, shot: Shot, attempt: int, feedback: str | None) -> Send:
        location = self.locations.get(shot.location)
        if location is None:
            location = self.locations[shot.location] = self.bible.location(shot.location).model_dump(mode="json")
        return Send("shot", {"shot": shot.model_dump(mode="json"), "series": self.bible.title, "cast": self.cast,
                             "location": location, "seed": self.state["seed"], "attempt": attempt,
                             "feedback": feedback, "takes": [],
                             "references": usable_references(self.state, shot.characters)})


def usable_references(state: SeriesState, names: list[str]) -> dict[str, str]:
    """The accepted reference sheets (run-relative paths) of the named characters: a sheet QC or a person did not
    accept is never given to a pipeline (it would spread a bad look over every shot)."""
    sheets = state.get("references") or {}
    return {n: sheets[n]["path"] for n in names if n in sheets and sheets[n].get("accepted")}


def fan_out_shots(state: SeriesState, runtime: Runtime[AgentContext]) -> list[Send]:
    """The first wave of first takes (settings.shot_wave); retry_or_review sends the rest, wave by wave. All at once,
    a thousand Sends made one LangGraph step whose runner scans every pending task each time one finishes (and each
    finished task's write is merged into a growing list): per-shot time grew with the shot count (6 ms per shot at
    100 shots, 22 at 3,000). Waves bound each step's size, so the cost per shot stays flat; the step's barrier
    costs little while a wave holds many more shots than run at once."""
    shots = ShotList.model_validate(state["shotlist"]).shots
    send = _Sends(state)
    return [send(shot, 0, None) for shot in shots[:wave_size(runtime.context, len(shots))]]


MAX_WAVES = 16  # each wave's step costs work in proportion to the whole episode (its checkpoint, the review)


def wave_size(ctx: AgentContext, shots: int) -> int:
    """settings.shot_wave first takes per step, more where that would make over MAX_WAVES waves: a wave's step
    also costs in proportion to the episode (SQLite's checkpoint holds the whole shot list, review_takes reads every
    take), so a fixed wave made per-shot time grow again at 3,000 shots with waves of 64."""
    return max(ctx.settings.shot_wave, -(-shots // MAX_WAVES))


# --- the per-shot node: render → qc. The retry loop runs at the episode level (review_takes), where the
# episode's render budget and the checks across shots (a duplicate of the previous shot) can be seen. ----------

def render(state: ShotState, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    check_budget(ctx, "render")  # a spent budget stops new work here, before anything is dispatched
    shot = Shot.model_validate(state["shot"])
    attempt = state.get("attempt", 0) + 1
    feedback = state.get("feedback")
    if feedback is not None:
        shot = revise(shot, feedback, attempt, state["seed"])
    emit(stage="render", status="start", shot=shot.id, attempt=attempt)
    stem = Path("episodes") / f"{shot.episode:02d}" / "takes" / f"{shot.id}_a{attempt}"
    request = ImageRequest(
        shot=shot, cast={n: Character.model_validate(state["cast"][n]) for n in shot.characters},
        location=Location.model_validate(state["location"]), seed=shot.seed, out_path=ctx.run_dir / f"{stem}.png",
        width=ctx.settings.width, height=ctx.settings.height, feedback=feedback,
        references={n: ctx.run_dir / p for n, p in (state.get("references") or {}).items()},
    )
    done = _render_once(ctx, shot, attempt, request, str(stem))
    result = result_from_json(done["result"])
    given = {n: p for n, p in (state.get("references") or {}).items() if f"reference:{n}" in result.conditioning}
    take = Take(shot_id=shot.id, attempt=attempt, asset=done["output"], seed=shot.seed, backend=result.backend,
                model=result.model, conditioning=result.conditioning, references=given,
                batch=result.batch, notes=result.notes, prompt=shot.prompt, seconds=round(result.seconds, 4),
                changes=_changes(shot, state, attempt, feedback) + result.applied,
                feedback_ignored=result.feedback_ignored)
    return {"shot": shot.model_dump(mode="json"), "attempt": attempt, "pending": take.model_dump(mode="json")}


def _dispatch(ctx: AgentContext, role: str, fn: str, payload: dict, stalled=None) -> dict:  # noqa: ANN001
    """Through the run's engine (this thread or a Ray worker), or inline for a context built without one."""
    if ctx.engine is None:
        from dramafactory.tools.engine.base import resolve

        resident = ctx.qc_agent() if role == "qc" else ctx.image
        # the run's memory for QC's face references, as produce() registers it for the engine's work
        with local_run(payload["run_id"], LocalRun(resident=lambda _role: None, shots=ctx.shots, memory=ctx.memory)):
            return resolve(fn)(resident, payload)
    return ctx.engine.run(role, fn, payload, series=payload["run_id"], stalled=stalled)


def _render_once(ctx: AgentContext, shot: Shot, attempt: int, request: ImageRequest, stem: str) -> dict:
    """The take rendered (or reused) exactly once, with its ledger row: "call" for a render, "reuse" for a committed
    take found intact, "discarded" for a render whose commit was refused (machine time spent all the same)."""
    shots = ctx.shots
    payload = {"run_id": shots.run_id if shots is not None else ctx.ledger.run_id,
               "epoch": getattr(shots, "epoch", None), "db_url": shots.db.url if shots is not None else None,
               "root": str(ctx.run_dir), "shot_id": shot.id, "take": attempt,
               "take_id": take_id(take_parts(request, ctx.image)), "stem": stem,
               "request": request_to_json(request, ctx.run_dir), "ttl_s": ctx.settings.shot_lease_ttl_s}
    stalled = (lambda: claim_lapsed(shots, shot.id, attempt)) if shots is not None else None
    fields = {"shot": shot.id, "attempt": attempt, "take_id": payload["take_id"]}
    for _ in range(3):  # a refused commit: look again (another attempt committed it, or this run was taken over)
        try:
            done = _dispatch(ctx, "image", RENDER, payload, stalled)
        except LeaseLost:  # this process lost the run: nothing of it is ours to record
            raise
        except Exception as exc:  # its own error row, then the node's retry
            figures = getattr(exc, "df_figures", None) or {}
            try:
                record_failed_call(ctx, measured_from(figures), exc, stage="render", backend=ctx.image.name,
                                   model=getattr(ctx.image, "model", ctx.image.name),
                                   version=getattr(ctx.image, "version", ""), **fields)
            except OSError as row_error:  # a full disk takes no error row either: DiskFull says why
                if isinstance(exc, DiskFull):
                    raise exc from None
                if is_disk_full(row_error):
                    raise disk_full(ctx.run_dir, row_error) from exc
                raise
            raise
        result = result_from_json(done["result"])
        if done["status"] == "reused" and "df_figures" in done["result"] and not ctx.ledger.billed(fields["take_id"]):
            # committed by a process killed before its row: the render's machine time, recorded once (a call row
            # written late, marked recovered), from the figures committed with the take
            record_image_call(ctx, result, measured_from(done["result"]["df_figures"]), stage="render",
                              kind="call", recovered=True, claim=done["attempt"], **fields)
        if done["status"] == "reused":
            ctx.ledger.record(stage="render", backend=result.backend, model=result.model or result.backend,
                              kind="reuse", seconds=0.0, cpu_seconds=0.0, cpu_scope="thread", gpu_seconds=0.0,
                              version=done.get("version", getattr(ctx.image, "version", "")), **fields)
            return done
        kind = {"rendered": "call", "discarded": "discarded"}[done["status"]]
        record_image_call(ctx, result, measured_from(done), stage="render", kind=kind, claim=done["attempt"],
                          **fields)
        if done["status"] == "rendered":
            return done
        if ctx.lease is not None:
            ctx.lease.check()  # LeaseLost: another process took this run over; stop here
    raise DramaError(f"shot {shot.id} take {attempt}: every commit was refused", "resume the run")


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
                           references=_references(ctx, series, shot.characters), backend=take.backend,
                           series=series, faces=ctx.memory.references)  # opened only where faces are read


def qc(state: ShotState, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    shot = Shot.model_validate(state["shot"])
    pending = Take.model_validate(state["pending"])
    cast = {n: Character.model_validate(c) for n, c in state["cast"].items()}
    looks = _references(ctx, state["series"], shot.characters)
    payload = {"run_id": ctx.shots.run_id if ctx.shots is not None else ctx.ledger.run_id,
               "root": str(ctx.run_dir), "path": pending.asset, "shot": shot.model_dump(mode="json"),
               "location": state["location"], "cast": {n: c.model_dump(mode="json") for n, c in cast.items()},
               "references": {n: c.model_dump(mode="json") if c else None for n, c in looks.items()},
               "backend": pending.backend, "series": state["series"]}
    scored = _dispatch(ctx, "qc", SCORE, payload)
    report = QCReport.model_validate(scored["report"])
    ctx.ledger.record_measured(measured_from(scored), stage="qc", backend="qc", model="scorers", shot=shot.id,
                               attempt=pending.attempt, passed=report.passed)
    take = pending.model_copy(update={"qc": report, "accepted": report.passed,
                                      "shot": shot.model_dump(mode="json")})
    emit(stage="qc", status="done", shot=shot.id, attempt=take.attempt, passed=report.passed,
          reason=report.reason[:160])
    return {"takes": [take.model_dump(mode="json")]}


def shot(state: ShotState, runtime: Runtime[AgentContext]) -> ShotOutput:
    """One shot's take: render, then QC. One graph node, not a subgraph of two: a subgraph writes its own
    checkpoints per step and per branch (four writes per shot), and at a thousand shots those serialised writes
    were most of the framework's time. The take itself is durable in the shot ledger, not in a checkpoint: a node
    re-run after a crash finds its committed take there and reuses it (graphs/work.py), so nothing is rendered or
    billed twice. A transient failure retries the node; its committed render is reused, only QC runs again."""
    rendered = render(state, runtime)
    return qc({**state, **rendered}, runtime)


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
        extra = ctx.qc_agent().score_sequence(
            _under_review(ctx, latest, shot, cast=cast, location=bible.location(shot.location), series=bible.title),
            _under_review(ctx, previous, before, cast=cast, location=bible.location(before.location),
                          series=bible.title))
        own = [s for s in latest.qc.scores if s.scorer != "duplicate" and not s.scorer.startswith("continuity:")]
        report = latest.qc.model_copy(update={"scores": own + extra,
                                              "passed": all(s.passed for s in own + extra)})
        updated.append(latest.model_copy(update={"qc": report, "accepted": report.passed,
                                                 "compared_with": previous.asset}).model_dump(mode="json"))
    return {"takes": updated}


def retry_or_review(state: SeriesState, runtime: Runtime[AgentContext]) -> list[Send] | str:
    ctx = runtime.context
    shots = ShotList.model_validate(state["shotlist"]).shots
    takes = episode_takes(state)
    unstarted = [shot for shot in shots if not takes.get(shot.id)]  # the waves not sent yet (fan_out_shots)
    # the first takes still to come are reserved out of the budget: a retry never takes a shot's only render
    left = render_budget(ctx, len(shots)) - sum(len(v) for v in takes.values()) - len(unstarted)
    send = _Sends(state)
    sends = [send(shot, 0, None) for shot in unstarted[:wave_size(ctx, len(shots))]]
    for shot in shots:
        history = takes.get(shot.id)
        if not history:  # its first take is in this wave or a later one
            continue
        latest = history[-1]
        # A check that judged and failed may be cured by a retake (even when another check could not judge: a
        # blurred frame of footage leaves its people unjudged, yet a sharp retake is worth one); a take where
        # nothing failed but something went unjudged ("partial") goes to a person: another render cannot settle it.
        # (an undecodable file is "not judged", yet a retake usually writes a good one: it is retried too)
        curable = latest.qc is not None and (latest.qc.verdict == "fail" or latest.qc.not_judged == ["readable"])
        if latest.accepted or not curable:
            continue
        if len(history) >= ctx.settings.max_attempts or left <= 0:
            continue
        left -= 1
        revised = Shot.model_validate(latest.shot) if latest.shot else shot
        sends.append(send(revised, latest.attempt, latest.qc.reason or "failed QC"))
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
    emit(stage="qc", status="review", episode=number, flagged=len(flagged))
    # a shot a person chose to flag earlier in this episode is not asked about again (another shot's redo brings
    # the episode back here)
    kept_flagged = {shot for r in state.get("reviews", []) if r.get("step") == f"shots:{number}"
                    for shot, choice in (r.get("shots") or {}).items() if choice.get("action") == "flag"}
    to_ask = [q for q in flagged if q["shot"] not in kept_flagged]
    if not to_ask or not (checkpoint(state, "shots") or ctx.settings.review_shots == "interrupt"):
        return Command(goto="voices")
    answer = interrupt({"kind": "shots", "episode": number, "shots": to_ask}) or {}
    if "action" not in answer:  # the CLI's form, {shot_id: "approve"}: shots left out stay flagged
        answer = {"action": "approve", "shots": {shot: {"action": answer.get(shot, "flag")}
                                                for shot in (q["shot"] for q in to_ask)}}
    decision = Decision.model_validate(answer)
    per_shot = check_shot_decisions(decision, [q["shot"] for q in to_ask])
    updated, sends = [], []
    send = _Sends(state)
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
                sends.append(send(shot, latest.attempt, None))
            else:
                sends.append(send(shot, latest.attempt, f"reviewer: {choice.note}"))
    still = [q for q in listed if q["shot"] in kept_flagged or per_shot[q["shot"]].action == "flag"]
    write_json(queue_path, queue + still)
    audit_rows = audit(f"shots:{number}", decision, shots={k: v.model_dump(mode="json") for k, v in per_shot.items()})
    return Command(goto=sends or "voices", update={"takes": updated, "reviews": audit_rows})
