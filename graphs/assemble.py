"""Turn an episode's accepted takes and voices into the deliverables, and the run into summary.json."""

from __future__ import annotations

import json
from pathlib import Path

from dramafactory.agents.cinematographer.agent import retime
from dramafactory.agents.context import AgentContext
from dramafactory.schemas import (
    EpisodeScript,
    RunSummary,
    SeriesBible,
    SeriesConcept,
    Shot,
    ShotList,
    StageTiming,
    Take,
)
from dramafactory.tools.accounting import is_call, is_text_call, measure, price_rows, sum_usd, total
from dramafactory.tools.assembly.contact_sheet import make_contact_sheet
from dramafactory.tools.assembly.music import duck, render_music_bed
from dramafactory.tools.assembly.subtitles import Cue, to_srt
from dramafactory.tools.assembly.video import ClipSpec, assemble_episode, mix_audio

from .artifacts import episode_dir, write_json
from .state import SeriesState

VOICE_OFFSET_S = 0.2  # a beat of silence before a line starts in its shot
SAMPLE_RATE = 22050


def best_take(takes: list[Take]) -> Take:
    """The accepted take, or (when every attempt failed) the one that passed the most checks, latest first."""
    accepted = [t for t in takes if t.accepted]
    if accepted:
        return accepted[-1]
    return max(reversed(takes), key=lambda t: sum(s.passed for s in (t.qc.scores if t.qc else [])))


def episode_takes(state: SeriesState) -> dict[str, list[Take]]:
    """The current episode's takes by shot id, in attempt order."""
    number = state["episode"]
    out: dict[str, list[Take]] = {}
    for raw in state.get("takes", []):
        take = Take.model_validate(raw)
        if take.shot_id.startswith(f"e{number:02d}s"):
            out.setdefault(take.shot_id, []).append(take)
    return {k: sorted(v, key=lambda t: t.attempt) for k, v in out.items()}


def final_shots(state: SeriesState) -> list[Shot]:
    """The episode's shots at their final lengths: retimed to the voiced lines (clips are made at these lengths)."""
    concept = SeriesConcept.model_validate(state["concept"])
    shotlist = ShotList.model_validate(state["shotlist"])
    return retime(shotlist.shots, {k: v["seconds"] for k, v in state["voices"].items()}, concept.seconds_per_episode)


def assemble_episode_files(ctx: AgentContext, state: SeriesState) -> dict:
    number = state["episode"]
    folder = episode_dir(ctx.run_dir, number)
    script = EpisodeScript.model_validate(state["script"])
    voices = state["voices"]
    takes_by_shot = episode_takes(state)
    made = state.get("clips") or {}

    shots = final_shots(state)
    lines = {line.id: line for line in script.lines()}
    clips, cues, tracks, sheet, records = [], [], [], [], []
    clock = 0.0
    for shot in shots:
        takes = takes_by_shot.get(shot.id, [])
        if not takes:
            raise RuntimeError(f"shot {shot.id} has no take; resume the run to render it")
        chosen = best_take(takes)
        # The clip made from the chosen keyframe, if any; else (no video backend, or the clip failed) the keyframe
        # with camera motion, marked in shots.json where a clip was wanted.
        made_clip = made.get(f"{shot.id}/a{chosen.attempt}")
        clip_path = ctx.run_dir / made_clip["path"] if made_clip and made_clip.get("path") else None
        clips.append(ClipSpec(image=ctx.run_dir / chosen.asset, duration=shot.duration_s,
                              camera_move=shot.camera_move, clip=clip_path))
        if shot.dialogue_line:
            voice = voices[shot.dialogue_line]
            line = lines[shot.dialogue_line]
            begin = clock + VOICE_OFFSET_S
            tracks.append((begin, ctx.run_dir / voice["path"]))
            cues.append(Cue(start=round(begin, 3), end=round(begin + voice["seconds"], 3), text=line.text,
                            speaker=line.speaker))
        label = f"{shot.id} {shot.framing}" + (f"\n{shot.speaker}" if shot.speaker else "")
        sheet.append((ctx.run_dir / chosen.asset, label + ("" if chosen.accepted else "\nNEEDS REVIEW")))
        records.append({"shot": shot.model_dump(mode="json"), "start_s": round(clock, 3),
                        "chosen_take": chosen.attempt, "needs_review": not chosen.accepted,
                        "clip": made_clip if clip_path else None,
                        "clip_fallback": None if clip_path or ctx.video is None else
                        (made_clip or {}).get("error", "no clip was made") + ": the keyframe with camera motion",
                        "takes": [t.model_dump(mode="json") for t in takes]})
        clock += shot.duration_s

    moods = state.get("moods", {})
    segments = [(sum(s.duration_s for s in shots if s.scene == scene.number), moods.get(str(scene.number), scene.mood))
                for scene in script.scenes]
    bed = None
    if ctx.settings.music:
        bed = render_music_bed(segments, sample_rate=SAMPLE_RATE, seed=shots[0].seed)
        bed = duck(bed, [(c.start, c.end) for c in cues], SAMPLE_RATE)
    audio = mix_audio(tracks, clock, folder / "mix.wav", sample_rate=SAMPLE_RATE, bed=bed)
    with measure("process") as encoded:  # frames drawn on worker threads, encoded by an ffmpeg child process
        result = assemble_episode(clips, audio, cues, folder / "episode.mp4", width=ctx.settings.width,
                                  height=ctx.settings.height, fps=ctx.settings.fps)
    ctx.ledger.record_measured(encoded, stage="assemble", backend="ffmpeg", model="libx264", episode=number)
    (folder / "episode.srt").write_text(to_srt(cues), encoding="utf-8")
    make_contact_sheet(sheet, folder / "contact_sheet.png", columns=4,
                       title=f"{script.title} - episode {number:02d}")
    write_json(folder / "shots.json", {"episode": number, "seconds": round(clock, 3), "shots": records})
    flagged_clips = _queue_clips(ctx, number, records)
    errors = {r["clip_fallback"] for r in records if r["clip_fallback"]}
    if ctx.video is not None and records and len(errors) == 1 and all(r["clip_fallback"] for r in records):
        # Every clip failed the same way: a broken set-up, not bad luck; stop (resumable) rather than ship stills.
        raise RuntimeError(f"every clip of episode {number} failed: {errors.pop()}; fix the video backend, then "
                           "resume (the clips are made again)")
    first_pass = sum(1 for r in records if r["takes"][0]["accepted"] and r["takes"][0].get("approved_by") != "human")
    final = sum(1 for r in records if not r["needs_review"])
    humans = sum(1 for r in records if not any(t["accepted"] and t.get("approved_by") != "human" for t in r["takes"]))
    return {"episode": number, "seconds": round(result.duration, 3), "shots": len(records),
            "takes": sum(len(r["takes"]) for r in records), "first_pass_usable": first_pass, "final_usable": final,
            "shots_to_humans": humans, "clip_shots": result.clip_shots,
            "clip_fallbacks": sum(1 for r in records if r["clip_fallback"]), "clips_flagged": flagged_clips}


def _queue_clips(ctx: AgentContext, number: int, records: list[dict]) -> int:
    """Clips QC did not pass are used (the best of their attempts) and listed for a person in review_queue.json,
    beside the shots (kind "clip"); the episode's earlier clip entries are replaced."""
    queue_path = ctx.run_dir / "review_queue.json"
    queue = json.loads(queue_path.read_text()) if queue_path.is_file() else []
    queue = [q for q in queue if not (q.get("kind") == "clip" and q["episode"] == number)]
    flagged = [{"episode": number, "shot": r["shot"]["id"], "kind": "clip", "asset": r["clip"]["path"],
                "attempts": len(r["clip"].get("attempts", [])), "reason": r["clip"].get("reason") or "not judged",
                "needs_human": r["clip"].get("verdict") == "partial"}
               for r in records if r["clip"] and not r["clip"].get("accepted", True)]
    if flagged or queue_path.is_file():
        write_json(queue_path, queue + flagged)
    return len(flagged)


def write_summary(ctx: AgentContext, state: SeriesState) -> RunSummary:
    """summary.json from the ledger: every figure is a sum or span of ledger rows (docs/accounting.md)."""
    bible = SeriesBible.model_validate(state["bible"])
    concept = SeriesConcept.model_validate(state["concept"])
    ctx.ledger.mark("summary")  # the run's last timestamp
    rows = ctx.ledger.rows()
    done = sorted(state.get("episodes_done", []), key=lambda d: d["episode"])
    by_stage: dict[str, list[dict]] = {}
    for row in rows:
        by_stage.setdefault(row["stage"].split(".")[0], []).append(row)
    stages: dict[str, StageTiming] = {}
    for t in state.get("stage_times", []):
        entry = stages.setdefault(t["stage"], StageTiming(stage=t["stage"], seconds=0.0, calls=0))
        entry.seconds = round(entry.seconds + t["seconds"], 3)
    for per_take in ("render", "qc", "clip"):  # these run inside the parallel shot branches: the ledger has their calls
        if per_take == "clip" and "clip" not in by_stage:
            continue  # no video backend: no clip stage
        stages[per_take] = StageTiming(stage=per_take, seconds=round(total(by_stage.get(per_take, []), "seconds"), 3))
    for entry in stages.values():
        entry.calls = sum(1 for r in by_stage.get(entry.stage, []) if is_call(r))
        entry.cpu_seconds = round(total(by_stage.get(entry.stage, []), "cpu_seconds"), 3)
    calls = [r for r in rows if is_call(r)]
    text_rows = [r for r in calls if is_text_call(r)]
    shots = sum(d["shots"] for d in done) or 1
    started = min((r.get("started", r["ts"]) for r in rows), default=0.0)
    finished = max((r["ts"] for r in rows), default=0.0)
    # Each row costs what it recorded when it was written (tools/ledger.py, dramafactory/prices.py): the total is
    # their exact sum, and each episode's the sum of the rows that name it (series-wide work is in the total only).
    pricing = ctx.ledger.pricing
    costs = price_rows(rows, pricing)
    cost = costs.usd
    episode_costs = [sum_usd(pricing.charge(r) for r in rows if r.get("episode") == d["episode"]) for d in done]
    finished_minutes = sum(d["seconds"] for d in done) / 60
    renders = by_stage.get("render", [])
    summary = RunSummary(
        title=bible.title, episodes=len(done), target_seconds_per_episode=concept.seconds_per_episode,
        episode_seconds=[d["seconds"] for d in done], stages=list(stages.values()),
        shots=sum(d["shots"] for d in done), takes=sum(d["takes"] for d in done),
        first_pass_usable_rate=round(sum(d["first_pass_usable"] for d in done) / shots, 4),
        final_usable_rate=round(sum(d["final_usable"] for d in done) / shots, 4),
        attempts_per_shot=round(sum(d["takes"] for d in done) / shots, 4),
        retry_renders=sum(d["takes"] - d["shots"] for d in done),
        shots_to_humans=sum(d.get("shots_to_humans", 0) for d in done),
        clip_shots=sum(d.get("clip_shots", 0) for d in done),
        clip_fallbacks=sum(d.get("clip_fallbacks", 0) for d in done),
        clips_flagged=sum(d.get("clips_flagged", 0) for d in done),
        model_calls=len(text_rows), prompt_tokens=sum(r.get("prompt_tokens", 0) for r in text_rows),
        completion_tokens=sum(r.get("completion_tokens", 0) for r in text_rows),
        fallback_lines=sum(1 for r in _lines(ctx.run_dir) if r.get("fallback")),
        run_id=ctx.ledger.run_id, device=rows[-1].get("device", {}) if rows else {},
        cpu_seconds=round(costs.cpu_seconds, 3),
        cpu_unmeasured_calls=sum(1 for r in calls if r.get("cpu_seconds") is None or not r.get("cpu_scope")),
        gpu_seconds=round(costs.gpu_seconds, 3),
        load_seconds=round(total([r for r in rows if r.get("kind") == "load"], "seconds"), 3),
        remote_calls=costs.remote_calls, unpriced_calls=costs.unpriced_calls,
        started_at=started, finished_at=finished, wall_seconds=round(finished - started, 3),
        ledger_torn_lines=ctx.ledger.torn_lines,
        cost_usd=cost,
        cost_per_finished_minute_usd=round(cost / finished_minutes, 9) if finished_minutes else 0.0,
        episode_costs_usd=episode_costs,
        budget_usd=ctx.budget.cap_usd if ctx.budget is not None else None,
        # takes by what became of them, from the render rows the orchestrator writes (graphs/shots.py)
        takes_rendered=sum(1 for r in renders if r.get("kind", "call") == "call" and r.get("take_id")),
        takes_reused=sum(1 for r in renders if r.get("kind") == "reuse"),
        takes_discarded=sum(1 for r in renders if r.get("kind") == "discarded"),
    )
    write_json(ctx.run_dir / "summary.json", summary)
    return summary


def _lines(run_dir: Path) -> list[dict]:
    out = []
    for path in sorted(run_dir.glob("episodes/*/script.json")):
        out += [ln.model_dump() for ln in EpisodeScript.model_validate_json(path.read_text()).lines()]
    return out
