"""Reference sheets: before any shot, one portrait keyframe per character, through the run's image backend, judged
by QC (the usual checks, plus one embeddable face), stored with its face embedding in the continuity memory, and
given to every later shot of that character where the pipeline takes reference images.

A sheet QC failed is redrawn with the reason (like a shot) until it passes or the attempts run out; a sheet that
never passed is not used (it would carry a bad look into every shot) and says why in references.json. Sheets are
made where the image backend asks for them (settings.reference_sheets): the storyboard draws from the canonical
look and needs none. An edited bible remakes the sheets of the characters whose look changed.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path

from langgraph.runtime import Runtime

from dramafactory.agents.cinematographer.agent import revise
from dramafactory.agents.context import AgentContext
from dramafactory.agents.qc.agent import TakeUnderReview
from dramafactory.agents.qc.scorers.reference import score_reference_face
from dramafactory.agents.qc.scorers.technical import UnreadableFrame, load_frame
from dramafactory.agents.structured import stable_seed
from dramafactory.memory.characters import canonical_description
from dramafactory.schemas import Character, QCReport, SeriesBible, Shot
from dramafactory.tools.accounting import measure
from dramafactory.tools.image.base import ImageRequest

from .artifacts import write_json
from .common import emit, record_image_call, timed
from .policy import check_budget
from .state import SeriesState


def wants_sheets(ctx: AgentContext) -> bool:
    mode = ctx.settings.reference_sheets
    if mode == "auto":
        return bool(getattr(ctx.image, "wants_reference_sheets", False))
    return mode == "on"


def look_key(character: Character) -> str:
    """What a sheet depends on: the character's canonical look (a new look needs a new sheet)."""
    return hashlib.sha256(character.model_dump_json(include={"look", "wardrobe", "age", "gender"}).encode()
                          ).hexdigest()[:16]


def portrait_shot(character: Character, bible: SeriesBible, seed: int) -> Shot:
    slug = re.sub(r"[^a-z0-9]+", "-", character.name.lower()).strip("-") or "character"
    location = bible.locations[0]
    prompt = (f"Character reference portrait of {canonical_description(character)}. Head and shoulders, facing the "
              "camera, neutral expression, plain light grey studio background, soft even light, sharp focus, "
              "vertical 9:16 frame.")
    return Shot(id=f"ref-{slug}", episode=0, scene=0, index=0, framing="close-up", camera_move="static",
                duration_s=1.0, characters=[character.name], speaker=None, location=location.name,
                time_of_day="day", action=f"{character.name} faces the camera", prompt=prompt,
                negative_prompt="several people, text, watermark, blurred, cropped face",
                seed=stable_seed(seed, "reference", character.name))


def _judge(ctx: AgentContext, path: Path, shot: Shot, bible: SeriesBible, backend: str):
    """QC's report on a sheet: the shot checks, and one embeddable face. Returns the report and the embedding."""
    cast = {c.name: c for c in bible.characters}
    report = ctx.qc_agent().score(TakeUnderReview(path=path, shot=shot, location=bible.location(shot.location),
                                                 cast=cast, references={shot.characters[0]:
                                                                        cast[shot.characters[0]]},
                                                 backend=backend))
    # One embeddable face is a sheet's people check: the sheet defines the character's face, so there is nothing
    # earlier to match it against, and the shot checks of who is on screen do not apply to it.
    people = ("adherence_people", "adherence_framing", "adherence_order")
    scores = [s for s in report.scores if s.scorer not in people and not s.scorer.startswith("identity:")]
    report = QCReport(passed=all(s.passed for s in scores), scores=scores)
    try:
        rgb = load_frame(path).rgb
    except UnreadableFrame:
        return report, None
    if report.verdict == "fail":  # a broken picture has no face worth looking for
        return report, None
    face, embedding = score_reference_face(rgb)
    scores = [*scores, face]
    return QCReport(passed=all(s.passed for s in scores), scores=scores), embedding


def make_sheet(ctx: AgentContext, character: Character, bible: SeriesBible, seed: int) -> dict:
    shot = portrait_shot(character, bible, seed)
    record: dict = {"look": look_key(character), "attempts": 0, "accepted": False}
    feedback = None
    for attempt in range(1, ctx.settings.max_attempts + 1):
        if feedback is not None:
            shot = revise(shot, feedback, attempt, seed)
        relative = Path("references") / f"{shot.id}_a{attempt}.png"
        request = ImageRequest(shot=shot, cast={character.name: character}, location=bible.location(shot.location),
                               seed=shot.seed, out_path=ctx.run_dir / relative, width=ctx.settings.width,
                               height=ctx.settings.height, feedback=feedback)
        emit(stage="reference", status="start", character=character.name, attempt=attempt)
        with measure("thread") as rendered:
            result = ctx.image.render(request)
        record_image_call(ctx, result, rendered, stage="reference", shot=shot.id, attempt=attempt)
        with measure("thread") as scored:
            report, embedding = _judge(ctx, ctx.run_dir / relative, shot, bible, result.backend)
        ctx.ledger.record_measured(scored, stage="qc", backend="qc", model="scorers", shot=shot.id, attempt=attempt,
                                   passed=report.passed)
        record.update(path=str(relative), attempts=attempt, verdict=report.verdict, reason=report.reason,
                      not_judged=report.not_judged, qc=report.model_dump(mode="json"), model=result.model)
        if report.passed and embedding is not None:
            ctx.memory.references().add(bible.title, character.name, str(relative), embedding,
                                        model="dlib face_recognition_resnet_model_v1")
            record.update(accepted=True, embedded=True)
            return record
        if report.verdict == "partial":  # nothing failed, but no scorer could settle a check: redrawing cannot
            break
        feedback = report.reason or "failed QC"
    if record.get("verdict") == "fail":
        record["why_unused"] = f"failed QC after {record['attempts']} attempt(s): {record.get('reason', '')}"
    else:
        record["why_unused"] = ("QC could not judge " + ", ".join(record.get("not_judged", [])) +
                                ": not given to the pipeline (a sheet must show one face the face scorer can embed;"
                                " install it with pip install '.[gpu]')")
    return record


def reference_sheets(state: SeriesState, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    if not wants_sheets(ctx):
        return {}
    start = time.perf_counter()
    bible = SeriesBible.model_validate(state["bible"])
    path = ctx.run_dir / "references.json"
    # Each finished sheet is written to references.json at once, so a crash mid-node keeps (and a resume reuses,
    # without rendering or billing it again) every sheet already made; the graph state gets them all at the end.
    saved = json.loads(path.read_text(encoding="utf-8")).get("sheets", {}) if path.is_file() else {}
    sheets = {**saved, **(state.get("references") or {})}
    for character in bible.characters:
        have = sheets.get(character.name)
        if have and have.get("look") == look_key(character) and (ctx.run_dir / have.get("path", "")).is_file():
            continue  # made before (a resumed run, or an edit that left this look alone)
        check_budget(ctx, "reference")  # per sheet: the sheets made so far are saved in references.json
        if have:  # a new look: the old sheet's face must not judge it, whatever becomes of the new sheet
            ctx.memory.references().remove(bible.title, character.name)
        sheets[character.name] = make_sheet(ctx, character, bible, state["seed"])
        write_json(path, {"sheets": sheets})
        emit(stage="reference", status="done", character=character.name,
             accepted=sheets[character.name]["accepted"])
    for gone in set(sheets) - {c.name for c in bible.characters}:
        sheets.pop(gone)
    write_json(path, {"sheets": sheets})
    return {"references": sheets, "stage_times": timed("reference", None, start)}
