"""Review checkpoints: what a person may answer when the run pauses for them, and the checks an edit must pass.

The series graph pauses (a LangGraph `interrupt`) after the bible, after each script and for shots the QC loop
could not fix, where the run's `checkpoints` ask for it. The answer resumes the run: approve, edit (a changed bible,
script or shot prompt, validated here before anything is saved) or reject with a note the agent uses to redo the
step. The same checks run in the API before it resumes a run, so a bad edit is refused with the wrong field named
and no state changes.
"""

from __future__ import annotations

import re
from typing import Literal, TypeVar

from pydantic import BaseModel, Field, ValidationError, model_validator

from dramafactory.schemas import EpisodeScript, SeriesBible, SeriesConcept

MAX_NOTE = 2000
MAX_TITLE = 200
LINE_ID = re.compile(r"^[a-z0-9]{1,40}$")  # line ids name audio files: nothing that could leave the folder


class Checkpoints(BaseModel):
    """Where a run pauses for a person. All off: the fully automatic factory mode."""

    bible: bool = Field(default=False, description="Pause after the director writes the series bible.")
    scripts: bool = Field(default=False, description="Pause after the writer writes each episode's script.")
    shots: bool = Field(default=False, description="Pause for shots the QC loop could not fix (otherwise they are "
                                                   "queued in review_queue.json and the episode goes on).")


class ShotDecision(BaseModel):
    action: Literal["approve", "reject", "edit", "flag"] = Field(
        description="approve: accept the best take; reject: render again with the note as feedback; edit: render "
                    "again from the changed prompt; flag: assemble the best take and leave it in the review queue.")
    note: str | None = Field(default=None, max_length=MAX_NOTE)
    prompt: str | None = Field(default=None, min_length=10, max_length=4000)

    @model_validator(mode="after")
    def _complete(self) -> ShotDecision:
        if self.action == "reject" and not (self.note or "").strip():
            raise ValueError("a rejection needs a note: say what is wrong, the renderer uses it")
        if self.action == "edit" and not self.prompt:
            raise ValueError("an edit needs the changed prompt")
        return self


class Decision(BaseModel):
    """A person's answer to a waiting review."""

    action: Literal["approve", "edit", "reject"] = Field(
        description="bible/script: approve, edit (send the changed artifact) or reject (send a note; the agent "
                    "redoes the step with it). shots: use `shots` per shot; action 'approve' approves every "
                    "shot not listed.")
    note: str | None = Field(default=None, max_length=MAX_NOTE)
    bible: dict | None = Field(default=None, description="The edited series bible (action 'edit' on a bible).")
    script: dict | None = Field(default=None, description="The edited episode script (action 'edit' on a script).")
    shots: dict[str, ShotDecision] = Field(default_factory=dict, description="Shot id -> decision (shot reviews).")

    @model_validator(mode="after")
    def _complete(self) -> Decision:
        if self.action == "reject" and not (self.note or "").strip():
            raise ValueError("a rejection needs a note: say what to change, the agent uses it to redo the step")
        return self


class EditRejected(ValueError):
    """An edit that fails validation: `field` is the path of the wrong field, e.g. 'script.scenes.0.lines.2'."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


M = TypeVar("M", bound=BaseModel)


def _parse(schema: type[M], edited: dict | None, field: str) -> M:
    """The edited artifact as `schema`, or an EditRejected naming the first wrong field under `field`."""
    if edited is None:
        raise EditRejected(field, f"an edit of a {field} needs the edited {field}")
    try:
        return schema.model_validate(edited)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise EditRejected(".".join(str(p) for p in (field, *error["loc"])), error["msg"]) from exc


def check_bible_edit(edited: dict | None, concept: SeriesConcept, draft: SeriesBible) -> SeriesBible:
    """`draft`: the bible under review. Voices are the voice bank's: an edit may give a character another of the
    draft's voices, not a new engine or voice file (a voice that does not exist would fail only at the voices
    stage, after every shot is rendered; a voice path would read a file on the server). Distinct names and at
    least two characters are SeriesBible's own rules."""
    bible = _parse(SeriesBible, edited, "bible")
    if len(bible.title) > MAX_TITLE:
        raise EditRejected("bible.title", f"at most {MAX_TITLE} characters")
    voices = [c.voice for c in draft.characters]
    for index, character in enumerate(bible.characters):
        if character.voice not in voices:
            raise EditRejected(f"bible.characters.{index}.voice",
                               "choose one of the draft's voices (the voice bank's); move a voice between "
                               "characters by copying it")
    if len(bible.episodes) != concept.episodes:
        raise EditRejected("bible.episodes", f"the series has {concept.episodes} episode(s); the edit outlines "
                                             f"{len(bible.episodes)}")
    return bible


def check_script_edit(edited: dict | None, bible: SeriesBible, draft: EpisodeScript) -> EpisodeScript:
    """`draft`: the script under review. The edit keeps its episode and at most twice its lines, so one edit
    cannot multiply the episode's render cost."""
    script = _parse(EpisodeScript, edited, "script")
    if script.episode != draft.episode:
        raise EditRejected("script.episode", f"this review is of episode {draft.episode}")
    cast = {c.name for c in bible.characters}
    places = {loc.name for loc in bible.locations}
    seen: set[str] = set()
    for s, scene in enumerate(script.scenes):
        where = f"script.scenes.{s}"
        if scene.location not in places:
            raise EditRejected(f"{where}.location", f"{scene.location!r} is not a location of the bible "
                                                    f"({', '.join(sorted(places))})")
        for c, name in enumerate(scene.characters):
            if name not in cast:
                raise EditRejected(f"{where}.characters.{c}", f"{name!r} is not in the cast ({', '.join(sorted(cast))})")
        for b, beat in enumerate(scene.beats):
            for n, line in enumerate(beat.lines):
                at = f"{where}.beats.{b}.lines.{n}"
                if line.speaker not in scene.characters:
                    raise EditRejected(f"{at}.speaker", f"{line.speaker!r} is not in this scene "
                                                        f"({', '.join(scene.characters)})")
                if not LINE_ID.match(line.id) or line.id in seen:
                    raise EditRejected(f"{at}.id", "a line id is unique and made of lowercase letters and digits")
                seen.add(line.id)
    if not script.lines():
        raise EditRejected("script.scenes", "nobody speaks: keep at least one line")
    max_lines = 2 * len(draft.lines())
    if len(script.lines()) > max_lines:
        raise EditRejected("script.scenes", f"{len(script.lines())} lines; at most {max_lines} for this episode")
    return script


def check_shot_decisions(decision: Decision, flagged: list[str]) -> dict[str, ShotDecision]:
    """Every flagged shot gets a decision: those not listed take the overall action (approve, or reject with the
    note); a decision for a shot that is not waiting is refused."""
    unknown = sorted(set(decision.shots) - set(flagged))
    if unknown:
        raise EditRejected(f"shots.{unknown[0]}", f"this shot is not waiting for review (waiting: "
                                                  f"{', '.join(flagged)})")
    if decision.action == "edit" and len(decision.shots) < len(flagged):
        raise EditRejected("shots", "an edit lists a decision for every waiting shot")
    default = ShotDecision(action="approve") if decision.action in ("approve", "edit") else \
        ShotDecision(action="reject", note=decision.note)
    return {shot: decision.shots.get(shot, default) for shot in flagged}
