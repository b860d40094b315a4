"""Domain schemas shared by every layer (the leaf of the dependency graph).

Everything the factory reads from a user or a model is validated here; everything it writes
(bible.json, script.json, shots.json, summary.json) is one of these models dumped as JSON.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, computed_field, field_validator, model_validator

from .errors import DramaError

MAX_LOGLINE_CHARS = 2000

Framing = Literal["wide", "medium", "two-shot", "over-shoulder", "close-up", "insert"]
CameraMove = Literal["static", "push-in", "pull-out", "pan-left", "pan-right", "tilt-up", "tilt-down"]
Emotion = Literal[
    "neutral", "angry", "afraid", "sad", "happy", "shocked", "cold", "pleading", "determined", "tender", "mocking",
]
TimeOfDay = Literal["dawn", "day", "dusk", "night"]
Mood = Literal["tense", "romantic", "sad", "hopeful", "mysterious", "triumphant"]
BeatKind = Literal["hook", "pressure", "reveal", "reversal", "cliffhanger"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SeriesConcept(_Model):
    """What a user asks for. The CLI and the HTTP API take this same schema."""

    logline: str = Field(description="One or two sentences: who wants what, and what stands in the way.",
                         json_schema_extra={"minLength": 12, "maxLength": MAX_LOGLINE_CHARS},
                         examples=["A night-shift nurse discovers the billionaire patient she saved is her runaway father."])
    genre: str = Field(default="drama", max_length=40, examples=["revenge", "romance", "thriller"])
    tone: str = Field(default="melodramatic", max_length=60)
    episodes: int = Field(default=1, ge=1, le=100)
    seconds_per_episode: int = Field(default=60, ge=20, le=300)
    language: str = Field(default="en", max_length=12, description="BCP-47 language code of the dialogue.")
    aspect: Literal["9:16"] = "9:16"

    @field_validator("logline")
    @classmethod
    def _logline_has_substance(cls, value: str) -> str:
        value = " ".join(value.split())
        if len(value) < 12:
            raise ValueError("the logline is empty or too short: write one or two sentences (at least 12 characters)")
        if len(value) > MAX_LOGLINE_CHARS:
            raise ValueError(
                f"the logline has {len(value)} characters; the limit is {MAX_LOGLINE_CHARS}: "
                "summarise the concept in one or two sentences"
            )
        return value


class Look(_Model):
    """A character's canonical look: what every shot of them must show."""

    hair_color: str
    hair_style: str
    skin_tone: str
    build: str
    face: str = Field(description="A distinguishing facial feature.")
    palette: list[str] = Field(min_length=2, max_length=4, description="Hex colours of the wardrobe, main first.")

    @field_validator("palette")
    @classmethod
    def _hex(cls, value: list[str]) -> list[str]:
        for colour in value:
            if not (len(colour) == 7 and colour.startswith("#")):
                raise ValueError(f"palette colour {colour!r} is not #RRGGBB")
            int(colour[1:], 16)
        return value


class Voice(_Model):
    description: str = Field(description="How the character sounds, in words.")
    engine: Literal["piper", "espeak-ng", "custom"] = "espeak-ng"
    voice_id: str = Field(description="Engine voice name, e.g. 'en-us+f3' for espeak-ng.")
    pitch: int = Field(default=50, ge=0, le=99)
    rate_wpm: int = Field(default=165, ge=80, le=260)


class Character(_Model):
    name: str = Field(min_length=2, max_length=60)
    role: str = Field(description="Function in the story: protagonist, antagonist, ally, ...")
    description: str = Field(default="", max_length=80, description="Who they are in a phrase, e.g. 'the palace cook'.")
    gender: Literal["female", "male"]
    age: int = Field(ge=6, le=95)
    look: Look
    wardrobe: str = Field(description="What they wear, in words, matching the palette.")
    voice: Voice
    want: str = ""
    secret: str = ""
    logline_phrase: str = Field(default="", description="The logline's words for this person; empty for a role "
                                                        "the story added.")


RelationKind = Literal[
    "father", "mother", "parent", "son", "daughter", "child", "brother", "sister", "sibling", "husband", "wife",
    "spouse", "fiance", "fiancee", "ex", "boss", "employee", "partner", "lover", "friend", "rival", "same person",
    "other",
]


class PremisePerson(_Model):
    """One person the logline names or implies, as the premise parse found them (agents/director/premise.py)."""

    key: str = Field(description="Stable id within the premise: 'lead' for the protagonist, then 'p1', 'p2', ...")
    phrase: str = Field(description="The logline's words for this person, e.g. 'the billionaire patient she saved'.")
    also: list[str] = Field(default_factory=list,
                            description="Other logline phrases for the same person, e.g. 'her runaway father'.")
    description: str = Field(default="", max_length=80,
                             description="The short phrase a character is described by, e.g. 'the billionaire patient'.")
    gender: Literal["female", "male"] | None = None
    generation: Literal["older", "same", "younger"] | None = Field(
        default=None, description="Against the protagonist's: a father is older, a sister the same, a son younger.")
    name: str = Field(default="", description="The character cast as this person (filled by casting).")


class Relation(_Model):
    """`person` is `of`'s `kind`: Relation(person='Frank Ortiz', kind='father', of='Lena Ortiz')."""

    person: str
    kind: RelationKind
    of: str
    words: str = Field(default="", description="The logline's words that say so, e.g. 'her runaway father'.")


class Premise(_Model):
    """What the story is, decided from the logline before anything is written: who, related how, the secret or
    discovery, and what is at stake. Shown and editable at the bible checkpoint."""

    protagonist: PremisePerson
    people: list[PremisePerson] = Field(default_factory=list, description="Everyone else, in logline order.")
    relations: list[Relation] = Field(default_factory=list, description="Between premise keys (person/of are keys).")
    discovery: str = Field(default="", description="The secret or discovery, in the logline's words.")
    stakes: str = Field(default="", description="What can be lost, or the deadline, in the logline's words.")
    flags: list[str] = Field(default_factory=list,
                             description="What the parse could not settle and how it decided; a reviewer checks these.")

    def everyone(self) -> list[PremisePerson]:
        return [self.protagonist, *self.people]

    def person(self, key: str) -> PremisePerson:
        for p in self.everyone():
            if p.key == key:
                return p
        raise KeyError(key)


class Location(_Model):
    name: str
    kind: Literal["interior", "exterior"]
    description: str
    time_of_day: TimeOfDay = "day"
    setting: str = Field(default="office", description="Backdrop family the storyboard renderer draws.")


class EpisodeOutline(_Model):
    number: int = Field(ge=1)
    title: str
    hook: str
    conflict: str
    cliffhanger: str
    characters: list[str] = Field(min_length=1)


class SeriesBible(_Model):
    title: str
    logline: str
    genre: str
    tone: str
    language: str = "en"
    synopsis: str
    characters: list[Character] = Field(min_length=2)
    locations: list[Location] = Field(min_length=1)
    episodes: list[EpisodeOutline] = Field(min_length=1)
    flags: list[str] = Field(default_factory=list, description="For the reviewer: where the model failed and a stock "
                                                          "text was used, and choices code made (places).")
    premise: Premise | None = Field(default=None, description="The logline's people, relations, secret and stakes.")
    relations: list[Relation] = Field(default_factory=list, description="Between characters, by name.")

    @model_validator(mode="after")
    def _consistent(self) -> SeriesBible:
        names = [c.name for c in self.characters]
        if len(set(n.lower() for n in names)) != len(names):
            raise ValueError(f"character names must be distinct: {names}")
        for relation in self.relations:
            stray = [n for n in (relation.person, relation.of) if n not in names]
            if stray:
                raise ValueError(f"relation {relation.person} / {relation.kind} / {relation.of} names people not in "
                                 f"the cast: {stray}")
        for outline in self.episodes:
            stray = [n for n in outline.characters if n not in names]
            if stray:
                raise ValueError(f"episode {outline.number} lists characters not in the cast: {stray}")
        return self

    def character(self, name: str) -> Character:
        for c in self.characters:
            if c.name == name:
                return c
        raise KeyError(name)

    def location(self, name: str) -> Location:
        for loc in self.locations:
            if loc.name == name:
                return loc
        raise KeyError(name)


class DialogueLine(_Model):
    id: str = Field(description="Stable reference, e.g. 's1b2l1'.")
    speaker: str
    text: str = Field(min_length=1, max_length=240)
    emotion: Emotion = "neutral"
    fallback: bool = Field(default=False, description="True when the model failed and a flagged stock line was used.")


class Beat(_Model):
    kind: BeatKind
    action: str = Field(description="What happens on screen in this beat.")
    lines: list[DialogueLine] = Field(default_factory=list)


class Scene(_Model):
    number: int = Field(ge=1)
    location: str
    time_of_day: TimeOfDay
    characters: list[str] = Field(min_length=1)
    mood: Mood = "tense"
    beats: list[Beat] = Field(min_length=1)


class EpisodeScript(_Model):
    episode: int = Field(ge=1)
    title: str
    scenes: list[Scene] = Field(min_length=1)
    flags: list[str] = Field(default_factory=list, description="Where the model failed and a stock text was used.")

    def lines(self) -> list[DialogueLine]:
        return [line for scene in self.scenes for beat in scene.beats for line in beat.lines]


class Shot(_Model):
    id: str = Field(description="Stable id within the episode, e.g. 'e01s03'.")
    episode: int
    scene: int
    index: int = Field(ge=0)
    framing: Framing
    camera_move: CameraMove = "static"
    duration_s: float = Field(ge=0.8, le=15.0)
    characters: list[str] = Field(default_factory=list, description="Who is visible, screen-left first.")
    speaker: str | None = None
    location: str
    time_of_day: TimeOfDay
    action: str
    prompt: str
    negative_prompt: str = ""
    dialogue_line: str | None = Field(default=None, description="DialogueLine.id this shot covers.")
    seed: int = Field(ge=0)


class ShotList(_Model):
    episode: int
    shots: list[Shot] = Field(min_length=1)


class ScoreResult(_Model):
    scorer: str
    score: float
    threshold: float
    passed: bool
    reason: str = Field(description="What is wrong, in words the cinematographer can act on (empty when passed).")
    judged: bool = Field(default=True, description="False when the scorer could not judge (unreadable input, "
                                                   "missing reference, model failed to load): never a pass.")


class QCReport(_Model):
    passed: bool = Field(description="Every check passed and none went unjudged: the take can be used as it is.")
    scores: list[ScoreResult]

    @model_validator(mode="before")
    @classmethod
    def _drop_derived(cls, data: object) -> object:
        # verdict and not_judged are written out with the report but always derived from its scores: a report read
        # back (takes.json, the graph's state) recomputes them rather than trusting the copy.
        if isinstance(data, dict):
            data = {k: v for k, v in data.items() if k not in ("verdict", "not_judged")}
        return data

    @model_validator(mode="after")
    def _never_a_plain_pass(self) -> QCReport:
        if self.passed and self.verdict != "pass":  # a failed or unjudged check is never a pass
            self.passed = False
        return self

    @computed_field  # type: ignore[prop-decorator]
    @property
    def not_judged(self) -> list[str]:
        """The checks no scorer could make (no reference, no people-scorer for the backend, a prompt's claim the
        pixels cannot settle): a person must look at these."""
        return [s.scorer for s in self.scores if not s.judged]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def verdict(self) -> Literal["pass", "fail", "partial"]:
        """'fail': a check that could judge failed. 'partial': none failed, but some went unjudged (`not_judged`).
        'pass': every check judged and passed."""
        if any(s.judged and not s.passed for s in self.scores):
            return "fail"
        if self.not_judged:
            return "partial"
        return "pass" if self.passed else "fail"

    @property
    def reason(self) -> str:
        return "; ".join(s.reason for s in self.scores if not s.passed)

    @property
    def needs_human(self) -> bool:
        """A scorer could not judge: another render will not fix that, a person must look."""
        return any(not s.judged for s in self.scores)


class Take(_Model):
    shot_id: str
    attempt: int = Field(ge=1)
    asset: str = Field(description="Path of the rendered frame, relative to the run folder.")
    seed: int
    backend: str
    model: str = Field(default="", description="The model that drew it (a folder or id; the backend's name for "
                                               "the storyboard).")
    conditioning: list[str] = Field(default_factory=list, description="How it was held to the characters' looks: "
                                    "'reference:NAME' per reference sheet given to the pipeline, 'canonical-look' "
                                    "for a drawing from the bible, or 'none: WHY'.")
    references: dict[str, str] = Field(default_factory=dict, description="The reference sheets it was given, by "
                                       "character (run-relative paths).")
    batch: int = Field(default=1, description="Images drawn by the pipeline call that made it.")
    notes: list[str] = Field(default_factory=list, description="What the backend had to do, e.g. an out-of-memory "
                                                               "halving of its batch.")
    prompt: str
    seconds: float = 0.0
    qc: QCReport | None = None
    accepted: bool = False
    approved_by: Literal["qc", "human"] | None = Field(default=None, description="'human' when a person accepted "
                                                                                   "a take QC had failed.")
    shot: dict | None = Field(default=None, description="The shot spec this take was rendered from (revisions "
                                                        "change the prompt and seed).")
    compared_with: str | None = Field(default=None, description="The previous shot's take this one was checked "
                                                                "against (duplicate, wardrobe continuity).")
    changes: list[str] = Field(default_factory=list, description="How this retake differs from a plain render of the "
                               "shot: 'seed' (a new seed), 'prompt' (a person's edit), and the fixes the renderer had "
                               "in effect from the QC reasons so far ('staging', 'lighting', 'framing', 'wardrobe'; "
                               "they add up over retakes). Empty on a first take.")
    feedback_ignored: str | None = Field(default=None, description="The feedback the renderer did not act on, and "
                                                                   "why, a note per reason joined with ' | ' (None: "
                                                                   "it acted on all of it, or had none).")


class StageTiming(_Model):
    stage: str
    seconds: float = Field(description="Wall seconds of the stage; for render and qc, which run in parallel shot "
                                       "branches, the sum of their calls' wall seconds.")
    calls: int = 0
    cpu_seconds: float = Field(default=0.0, description="CPU seconds of the stage's ledger rows (docs/accounting.md).")


class RunSummary(_Model):
    """What a run made and what it cost. Every accounting field is defined in docs/accounting.md."""

    title: str
    episodes: int
    target_seconds_per_episode: int
    episode_seconds: list[float]
    stages: list[StageTiming]
    shots: int
    takes: int
    first_pass_usable_rate: float
    final_usable_rate: float
    attempts_per_shot: float = 0.0
    retry_renders: int = 0
    shots_to_humans: int = 0
    clip_shots: int = Field(default=0, description="Shots assembled from a clip the video backend made.")
    clip_fallbacks: int = Field(default=0, description="Shots that wanted a clip and got their keyframe with "
                                                       "camera motion instead (shots.json says why).")
    clips_flagged: int = Field(default=0, description="Clips QC did not pass, used as the best of their attempts "
                                                      "and listed for a person in review_queue.json.")
    model_calls: int
    prompt_tokens: int
    completion_tokens: int
    fallback_lines: int
    run_id: str = ""
    device: dict = Field(default_factory=dict, description="The machine of the run's last process: CPU model, "
                                                           "cores, GPU names.")
    cpu_seconds: float = Field(description="This process's CPU seconds summed over the ledger's rows that measured "
                                           "them (remote servers' time is not in it).")
    cpu_unmeasured_calls: int = 0
    gpu_seconds: float = Field(default=0.0, description="GPU seconds reported by backends that used a GPU.")
    load_seconds: float = Field(default=0.0, description="Wall seconds spent loading models (their own rows).")
    remote_calls: int = Field(default=0, description="Calls that ran on a remote server.")
    unpriced_calls: int = Field(default=0, description="Remote calls with no configured price: not in cost_usd.")
    started_at: float = 0.0
    finished_at: float = 0.0
    wall_seconds: float = Field(description="finished_at minus started_at: the run's first and last ledger "
                                            "timestamps (a run stopped and resumed counts the time between).")
    ledger_torn_lines: int = Field(default=0, description="Ledger lines cut by a crash, skipped when summing.")
    cost_usd: float = Field(default=0.0, description="The exact sum of the ledger rows' cost_usd, each priced "
                                                     "when recorded (docs/accounting.md).")
    cost_per_finished_minute_usd: float = 0.0
    episode_costs_usd: list[float] = Field(default_factory=list, description="cost_usd of each episode's own "
                                           "rows (ledger rows carry their episode); the series' shared work (the "
                                           "bible, reference sheets) is in cost_usd only.")
    budget_usd: float | None = Field(default=None, description="The series' spending cap when one was set.")
    takes_rendered: int = Field(default=0, description="Takes a backend rendered and the shot ledger committed "
                                                       "(each exactly once).")
    takes_reused: int = Field(default=0, description="Takes a resumed run found committed (hash-checked on disk) "
                                                     "and used instead of rendering them again.")
    takes_discarded: int = Field(default=0, description="Renders whose commit the shot ledger refused (a stale or "
                                                        "duplicate attempt): machine time spent, output thrown away.")


def validated_concept(data: dict) -> SeriesConcept:
    """The concept, or one DramaError naming its first invalid field (produce and factory mode say it alike)."""
    try:
        return SeriesConcept.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "concept"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise DramaError(f"invalid concept field '{field}': {message}",
                         "see `dramafactory produce --help` for the concept fields") from exc
