"""Clips: where a video backend is configured, each shot's chosen keyframe is animated after the voices are made,
so the clip is made once, at the shot's final (voiced) length. One Send branch per shot: a crash keeps the clips
already committed (LangGraph keeps the finished branches' writes), and a resumed run does not make them again.

A clip the backend could not make (an error that is not transient) is recorded with its reason; assembly then uses
the shot's keyframe with camera motion and marks it, so the episode still finishes and the gap is visible.
"""

from __future__ import annotations

from pathlib import Path

from langgraph.runtime import Runtime
from langgraph.types import Send

from dramafactory.agents.context import AgentContext
from dramafactory.schemas import Shot, Take
from dramafactory.tools.accounting import measure
from dramafactory.tools.video.base import ClipRequest, motion_prompt

from .assemble import best_take, episode_takes, final_shots
from .common import emit
from .state import ClipState, SeriesState

# Errors the node's retry policy retries (graphs/common.TRANSIENT); anything else is recorded as a failed clip.
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
        if done and (done.get("error") or (ctx.run_dir / done["path"]).is_file()) \
                and done.get("target_s") == shot.duration_s:
            continue  # made (or failed for good) in an earlier pass of this run
        sends.append(Send("clip", {"shot": shot.model_dump(mode="json"), "take": chosen.model_dump(mode="json")}))
    return sends or "assemble"


def clip(state: ClipState, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    assert ctx.video is not None
    shot = Shot.model_validate(state["shot"])
    take = Take.model_validate(state["take"])
    key = clip_key(shot.id, take.attempt)
    relative = Path("episodes") / f"{shot.episode:02d}" / "clips" / f"{shot.id}_a{take.attempt}.mp4"
    request = ClipRequest(shot=shot, keyframe=ctx.run_dir / take.asset, prompt=motion_prompt(shot), seed=shot.seed,
                          duration_s=shot.duration_s, out_path=ctx.run_dir / relative, width=ctx.settings.width,
                          height=ctx.settings.height)
    emit(stage="clip", status="start", shot=shot.id)
    base = {"shot": shot.id, "take": take.attempt, "keyframe": take.asset, "target_s": shot.duration_s,
            "backend": ctx.video.name, "model": getattr(ctx.video, "model", ctx.video.name)}
    version = getattr(ctx.video, "version", "")
    try:
        with measure("thread") as spent:
            result = ctx.video.animate(request)
    except _RETRIED:
        raise
    except Exception as exc:  # noqa: BLE001 - recorded and shown: the shot falls back to its keyframe, marked
        reason = f"{type(exc).__name__}: {exc}"
        ctx.ledger.record(stage="clip", backend=base["backend"], model=base["model"], kind="error",
                          seconds=spent.wall_seconds if spent.wall_seconds else 0.0, version=version,
                          shot=shot.id, error=reason[:500])
        emit(stage="clip", status="failed", shot=shot.id, reason=reason[:160])
        return {"clips": {key: {**base, "error": reason,
                                "fallback": "the keyframe with camera motion (no clip)"}}}
    load = getattr(ctx.video, "take_load_seconds", lambda: 0.0)()
    if load:
        ctx.ledger.record(stage="clip.load", backend=result.backend, model=result.model, kind="load", seconds=load,
                          version=version)
    if result.cpu_seconds is not None:  # the backend measured its worker's share itself
        ctx.ledger.record(stage="clip", backend=result.backend, model=result.model, seconds=result.seconds,
                          cpu_seconds=result.cpu_seconds, cpu_scope=result.cpu_scope,
                          gpu_seconds=result.gpu_seconds if result.gpu_seconds is not None else 0.0,
                          version=version, shot=shot.id, frames=result.frames)
    else:
        ctx.ledger.record_measured(spent, stage="clip", backend=result.backend, model=result.model, version=version,
                                   shot=shot.id, frames=result.frames)
    emit(stage="clip", status="done", shot=shot.id, frames=result.frames)
    return {"clips": {key: {**base, "path": str(relative), "frames": result.frames, "fps": result.fps,
                            "duration_s": round(result.duration_s, 3), "width": result.width, "height": result.height,
                            "seconds": round(result.seconds, 3), "notes": result.notes}}}
