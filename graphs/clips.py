"""Clips: where a video backend is configured, each shot's chosen keyframe is animated after the voices are made,
so the clip is made once, at the shot's final (voiced) length. QC judges every clip (agents/qc/scorers/clip_checks:
decodes, covers its shot, not black, frozen or flickering, starts from its keyframe, no identity drift); a failed
clip is made again with another seed while attempts last, and the best one, unless it passed, is flagged for a
person (review_queue.json) and still used. One Send branch per shot: a crash keeps the clips
already committed (LangGraph keeps the finished branches' writes), and a resumed run does not make them again.

Each clip attempt is committed exactly once through the run's shot ledger, as a keyframe take is (graphs/work.py
animate_clip): its row is keyed `clip:{shot}/a{keyframe attempt}` (a shot id no take has) with the clip attempt as
its take, and content-addressed by a take_id hashing what changes the clip (the keyframe file's sha256, the shot,
motion prompt, seed, length, size, and the backend's name, model, version and options). The claim's attempt number
is the fencing token: the clip is written to a file of its own claim (`{shot}_a{take}[_c{n}].c{claim}.mp4`) and
committed only while that claim is current and the run's epoch holds, so a retried Ray task or a stale worker never
writes over a committed clip; a refused commit deletes its file (ledger row kind "discarded") and looks again. A
clip node run again after a crash lost its checkpoint write finds its committed clips, checks each file's sha256 and
reuses it (row kind "reuse", seconds 0; QC runs again, it is cheap); a truncated or missing file is animated again.
Without a shot ledger (a context built without one) a clip is written straight to its path, as before the ledger.

A clip the backend could not make (an error that is not transient) is recorded with its reason; assembly then uses
the shot's keyframe with camera motion and marks it, so the episode still finishes and the gap is visible.
"""
from __future__ import annotations

from pathlib import Path

from langgraph.runtime import Runtime
from langgraph.types import Send

from dramafactory.agents.context import AgentContext
from dramafactory.agents.qc.scorers.clip_checks import score_clip
from dramafactory.agents.structured import stable_seed
from dramafactory.errors import DramaError
from dramafactory.schemas import QCReport, Shot, Take
from dramafactory.tools.accounting import measure
from dramafactory.tools.durable import LeaseLost
from dramafactory.tools.durable.shots import take_id as content_id
from dramafactory.tools.engine.base import EngineUnavailable
from dramafactory.tools.video.base import ClipRequest, motion_prompt
from dramafactory.tools.vision.faces import faces_available, shared_embedder

from .assemble import best_take, episode_takes, final_shots
from .common import emit, record_call, record_failed_call
from .policy import check_budget
from .state import ClipState, SeriesState
from .work import (
    ANIMATE,
    DiskFull,
    LocalRun,
    animate_clip,
    claim_lapsed,
    clip_ledger_key,
    clip_parts,
    clip_request_to_json,
    clip_result_from_json,
    local_run,
    measured_from,
)

# Errors the node's retry policy retries (graphs/policy.TRANSIENT); anything else is recorded as a failed clip.
_RETRIED = (TimeoutError, ConnectionError)


def clip_key(shot_id: str, attempt: int) -> str:
    """Clips are keyed by the keyframe take they animate: a person's later approval of another take gets its own."""
    return f"{shot_id}/a{attempt}"


def fan_out_clips(state: SeriesState, runtime: Runtime[AgentContext]) -> list[Send] | str:
    ctx = runtime.context
    if ctx.video is None:
        return "assemble"
    takes = episode_takes(state)
    made = state.get("clips") or {}
    sends = []
    for shot in final_shots(state):
        history = takes.get(shot.id)
        if not history:
            continue
        chosen = best_take(history)
        key = clip_key(shot.id, chosen.attempt)
        done = made.get(key)
        if done and done.get("path") and (ctx.run_dir / done["path"]).is_file() \
                and done.get("target_s") == shot.duration_s:
            continue  # made in an earlier pass of this run (a failed one is tried again: the cause may be fixed)
        # The clip follows the take's own shot (a person's edited prompt, a revision's fixes) at its voiced length.
        spec = Shot.model_validate(chosen.shot).model_copy(update={"duration_s": shot.duration_s}) \
            if chosen.shot else shot
        sends.append(Send("clip", {"shot": spec.model_dump(mode="json"), "take": chosen.model_dump(mode="json")}))
    return sends or "assemble"


def _judge_clip(ctx: AgentContext, path: Path, shot: Shot, keyframe: Path, fps: float) -> QCReport:
    """QC of a clip: it decodes, covers its shot, does not go black, freeze or flicker, starts from its keyframe,
    and (with the face scorer installed, and people in the shot) keeps its people who they were."""
    faces = None
    if shot.characters:
        available, _ = faces_available()
        faces = shared_embedder() if available else None
    with measure("thread") as scored:
        scores = score_clip(path, keyframe=keyframe, target_seconds=shot.duration_s, fps=fps, faces=faces,
                            expected_people=len(shot.characters))
    report = QCReport(passed=all(s.passed for s in scores), scores=scores)
    ctx.ledger.record_measured(scored, stage="qc", backend="qc", model="clip-checks", shot=shot.id, clip=path.name,
                               passed=report.passed)
    return report


def _animate(ctx: AgentContext, payload: dict, stalled=None) -> dict:  # noqa: ANN001
    """One clip attempt through the run's engine (role "video": a GPU actor on a Ray cluster, this thread
    otherwise), or inline for a context built without one (with the run's shot ledger, as graphs/shots.py does)."""
    if ctx.engine is None:
        with local_run(payload["run_id"], LocalRun(resident=lambda _role: None, shots=ctx.shots, memory=ctx.memory)):
            return animate_clip(ctx.video, payload)
    return ctx.engine.run("video", ANIMATE, payload, series=payload["run_id"], stalled=stalled)


def _attempt(ctx: AgentContext, shot: Shot, take: Take, attempt: int) -> tuple[dict, QCReport | None]:
    """One clip of the shot (a new seed per attempt): its record and its QC report (None: the backend failed).
    Animated, or reused when committed already, exactly once through the shot ledger (the module's docstring)."""
    assert ctx.video is not None
    video = ctx.video
    stem = Path("episodes") / f"{shot.episode:02d}" / "clips" / f"{shot.id}_a{take.attempt}" \
        f"{'' if attempt == 1 else f'_c{attempt}'}"
    seed = shot.seed if attempt == 1 else stable_seed(shot.seed, shot.id, "clip", attempt)
    request = ClipRequest(shot=shot, keyframe=ctx.run_dir / take.asset, prompt=motion_prompt(shot), seed=seed,
                          duration_s=shot.duration_s, out_path=ctx.run_dir / f"{stem}.mp4",
                          width=ctx.settings.width, height=ctx.settings.height)
    shots = ctx.shots
    payload = {"run_id": shots.run_id if shots is not None else ctx.ledger.run_id,
               "root": str(ctx.run_dir), "request": clip_request_to_json(request, ctx.run_dir)}
    version = getattr(video, "version", "")
    model = getattr(video, "model", video.name)
    fields: dict = {"shot": shot.id, "attempt": attempt}
    stalled = None
    if shots is not None:  # the ledger's part of the payload, as graphs/shots.py _render_once builds a render's
        key = clip_ledger_key(shot.id, take.attempt)
        payload.update({"epoch": getattr(shots, "epoch", None), "db_url": shots.db.url, "shot_id": key,
                        "take": attempt, "take_id": content_id(clip_parts(request, video)), "stem": str(stem),
                        "ttl_s": ctx.settings.shot_lease_ttl_s})
        fields["take_id"] = payload["take_id"]
        stalled = lambda: claim_lapsed(shots, key, attempt)  # noqa: E731
    for _ in range(3):  # a refused commit: look again (another attempt committed it, or this run was taken over)
        try:
            done = _animate(ctx, payload, stalled)
        except (*_RETRIED, EngineUnavailable, LeaseLost, DiskFull):
            # transient, the engine cannot run work at all (cluster unreachable), this process lost the run, or
            # the disk is full: the run stops resumable rather than record a clip failure that another try would not have
            raise
        except Exception as exc:  # noqa: BLE001 - recorded and shown: the shot falls back to its keyframe, marked
            spent = measured_from(getattr(exc, "df_figures", None) or {})
            reason = record_failed_call(ctx, spent, exc, stage="clip", backend=video.name, model=model,
                                        version=version, **fields)
            return {"attempt": attempt, "seed": seed, "error": reason}, None
        result = clip_result_from_json(done["result"], ctx.run_dir)
        status = done.get("status", "animated")
        if status == "reused":
            if "df_figures" in done["result"] and not ctx.ledger.billed(fields["take_id"]):
                # committed by a process killed before its row: its machine time, recorded once (marked recovered)
                record_call(ctx, result, measured_from(done["result"]["df_figures"]), stage="clip", version=version,
                            kind="call", recovered=True, claim=done["attempt"], **fields, frames=result.frames)
            ctx.ledger.record(stage="clip", backend=result.backend, model=result.model or result.backend,
                              kind="reuse", seconds=0.0, cpu_seconds=0.0, cpu_scope="thread", gpu_seconds=0.0,
                              version=version, **fields, frames=result.frames)
            break
        claim = {"claim": done["attempt"]} if shots is not None else {}
        record_call(ctx, result, measured_from(done), stage="clip", version=version, load_seconds=done["load_seconds"],
                    kind={"animated": "call", "discarded": "discarded"}[status], **claim, **fields,
                    frames=result.frames)
        if status == "animated":
            break
        if ctx.lease is not None:
            ctx.lease.check()  # LeaseLost: another process took this run over; stop here
    else:
        raise DramaError(f"clip of shot {shot.id} (take {take.attempt}) attempt {attempt}: every commit was refused",
                         "resume the run")
    relative = Path(done["output"])
    # QC of the clip stays here, not in the "qc" role: score_clip uses no resident of that role (not the QC agent,
    # only the process's face embedder), and assembly decodes every clip in this process anyway, so judging it here
    # asks nothing more of the cluster's shared run folder and keeps the QC row exactly as it was.
    report = _judge_clip(ctx, ctx.run_dir / relative, shot, ctx.run_dir / take.asset, result.fps)
    return {"attempt": attempt, "seed": seed, "path": str(relative), "frames": result.frames, "fps": result.fps,
            "duration_s": round(result.duration_s, 3), "width": result.width, "height": result.height,
            "seconds": round(result.seconds, 3), "notes": result.notes,
            "qc": report.model_dump(mode="json")}, report


def clip(state: ClipState, runtime: Runtime[AgentContext]) -> dict:
    """Clips of one shot until one passes QC, a check no scorer can settle needs a person, or the attempts
    (settings.max_attempts) run out; the best is kept and, unless it passed, flagged for review."""
    ctx = runtime.context
    assert ctx.video is not None
    check_budget(ctx, "clip")
    shot = Shot.model_validate(state["shot"])
    take = Take.model_validate(state["take"])
    key = clip_key(shot.id, take.attempt)
    emit(stage="clip", status="start", shot=shot.id)
    base = {"shot": shot.id, "take": take.attempt, "keyframe": take.asset, "target_s": shot.duration_s,
            "backend": ctx.video.name, "model": getattr(ctx.video, "model", ctx.video.name)}
    attempts: list[tuple[dict, QCReport]] = []
    for attempt in range(1, ctx.settings.max_attempts + 1):
        record, report = _attempt(ctx, shot, take, attempt)
        if report is None:  # the backend could not make it: another seed will not help
            emit(stage="clip", status="failed", shot=shot.id, reason=record["error"][:160])
            if attempts:  # keep the clips already made (and billed); the best of them is used
                attempts[-1][0].setdefault("notes", []).append(f"the next attempt failed: {record['error'][:200]}")
                break
            return {"clips": {key: {**base, "error": record["error"],
                                    "fallback": "the keyframe with camera motion (no clip)", "attempts": [record]}}}
        attempts.append((record, report))
        if report.passed or report.needs_human:
            break
    chosen, report = max(reversed(attempts), key=lambda a: (a[1].passed, sum(s.passed for s in a[1].scores)))
    emit(stage="clip", status="done", shot=shot.id, frames=chosen["frames"], passed=report.passed)
    return {"clips": {key: {**base, **chosen, "accepted": report.passed, "verdict": report.verdict,
                            "reason": report.reason, "attempts": [a for a, _ in attempts]}}}
