"""Clips: where a video backend is configured, each shot's chosen keyframe is animated after the voices are made,
so the clip is made once, at the shot's final (voiced) length. QC judges every clip (agents/qc/scorers/clip_checks:
decodes, covers its shot, not black, frozen or flickering, starts from its keyframe, no identity drift); a failed
clip is made again with another seed while attempts last, and the best one, unless it passed, is flagged for a
person (review_queue.json) and still used. One Send branch per shot: a crash keeps the clips
already committed (LangGraph keeps the finished branches' writes), and a resumed run does not make them again.

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
from dramafactory.schemas import QCReport, Shot, Take
from dramafactory.tools.accounting import measure
from dramafactory.tools.engine.base import EngineUnavailable
from dramafactory.tools.video.base import ClipRequest, motion_prompt
from dramafactory.tools.vision.faces import faces_available, shared_embedder

from .assemble import best_take, episode_takes, final_shots
from .common import emit, record_call, record_failed_call
from .policy import check_budget
from .state import ClipState, SeriesState
from .work import ANIMATE, animate_clip, clip_request_to_json, clip_result_from_json, measured_from

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


def _animate(ctx: AgentContext, payload: dict) -> dict:
    """One clip attempt through the run's engine (role "video": a GPU actor on a Ray cluster, this thread
    otherwise), or inline for a context built without one."""
    if ctx.engine is None:
        return animate_clip(ctx.video, payload)
    return ctx.engine.run("video", ANIMATE, payload, series=payload["run_id"])


def _attempt(ctx: AgentContext, shot: Shot, take: Take, attempt: int) -> tuple[dict, QCReport | None]:
    """One clip of the shot (a new seed per attempt): its record and its QC report (None: the backend failed)."""
    assert ctx.video is not None
    video = ctx.video
    relative = Path("episodes") / f"{shot.episode:02d}" / "clips" / f"{shot.id}_a{take.attempt}" \
        f"{'' if attempt == 1 else f'_c{attempt}'}.mp4"
    seed = shot.seed if attempt == 1 else stable_seed(shot.seed, shot.id, "clip", attempt)
    request = ClipRequest(shot=shot, keyframe=ctx.run_dir / take.asset, prompt=motion_prompt(shot), seed=seed,
                          duration_s=shot.duration_s, out_path=ctx.run_dir / relative, width=ctx.settings.width,
                          height=ctx.settings.height)
    payload = {"run_id": ctx.shots.run_id if ctx.shots is not None else ctx.ledger.run_id,
               "root": str(ctx.run_dir), "request": clip_request_to_json(request, ctx.run_dir)}
    version = getattr(video, "version", "")
    model = getattr(video, "model", video.name)
    try:
        done = _animate(ctx, payload)
    except (*_RETRIED, EngineUnavailable):
        # transient, or the engine cannot run work at all (cluster unreachable): the run stops resumable rather
        # than record a clip failure that another try would not have
        raise
    except Exception as exc:  # noqa: BLE001 - recorded and shown: the shot falls back to its keyframe, marked
        spent = measured_from(getattr(exc, "df_figures", None) or {})
        reason = record_failed_call(ctx, spent, exc, stage="clip", backend=video.name, model=model, version=version,
                                    shot=shot.id, attempt=attempt)
        return {"attempt": attempt, "seed": seed, "error": reason}, None
    result = clip_result_from_json(done["result"], ctx.run_dir)
    record_call(ctx, result, measured_from(done), stage="clip", version=version, load_seconds=done["load_seconds"],
                shot=shot.id, attempt=attempt, frames=result.frames)
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
