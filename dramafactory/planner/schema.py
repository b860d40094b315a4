"""The planner's request and its answer: what is asked (titles, episodes, minutes, GPUs, preset, utilisation) and
every figure of the plan with where it came from. The CLI writes the answer as JSON; the API returns it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from dramafactory.catalogue import Catalogue, catalogue

# The most finished minutes a month a plan may ask for: ~40x the market's largest reported month (50,000 titles
# of ~60 episodes at ~1.5 min is 4.5M). Beyond it a figure is a typo, not a plan.
MAX_MINUTES_PER_MONTH = 200_000_000
Basis = Literal["measured", "published", "derived", "assumption", "scaled"]
OptionKind = Literal["on-prem", "cloud on-demand", "cloud reserved", "api", "laptop"]


def _known(value: list[str], known, what: str) -> list[str]:
    """The names asked for, each once, if the catalogue has them all; else the first unknown one, named."""
    unknown = [name for name in value if name not in known]
    if unknown:
        raise ValueError(f"unknown {what} {unknown[0][:40]!r}; the catalogue has: {', '.join(known)}")
    return list(dict.fromkeys(value))


def _catalogue(info: ValidationInfo) -> Catalogue:
    """The catalogue the request is checked against: the caller's (CLI --catalogue) or the packaged one."""
    given = (info.context or {}).get("catalogue")
    return given if isinstance(given, Catalogue) else catalogue()


class PlanRequest(BaseModel):
    """What output the plan is for and the options to price."""

    model_config = ConfigDict(extra="forbid")
    titles_per_month: int = Field(ge=1, le=1_000_000, description="Series finished per month.")
    episodes_per_title: int = Field(ge=1, le=500)
    minutes_per_episode: float = Field(ge=0.1, le=30, allow_inf_nan=False, description="Finished minutes per "
                                       "episode (the factory makes 1-3 minute episodes).")
    gpus: list[str] = Field(default_factory=list, max_length=20,
                            description="GPU ids from the catalogue; empty: every GPU in it.")
    preset: str = Field(default="throughput", max_length=64, description="A preset of tools/presets.yaml.")
    utilisation: float = Field(default=0.7, ge=0.05, le=1, allow_inf_nan=False,
                               description="Share of the fleet's hours doing work (sizes the fleet).")
    apis: list[str] = Field(default_factory=list, max_length=20,
                            description="API stacks from the catalogue; empty: every stack in it.")

    @field_validator("gpus")
    @classmethod
    def _known_gpus(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return _known(value, _catalogue(info).gpus, "GPU")

    @field_validator("apis")
    @classmethod
    def _known_apis(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return _known(value, _catalogue(info).api_stacks, "API stack")

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, value: str, info: ValidationInfo) -> str:
        from dramafactory.tools.presets import presets

        known = [name for name in presets() if name in _catalogue(info).presets]
        if value not in known:
            raise ValueError(f"unknown preset {value[:40]!r}; presets with catalogue figures: {', '.join(known)}")
        return value

    @model_validator(mode="after")
    def _sane_total(self) -> PlanRequest:
        total = self.titles_per_month * self.episodes_per_title * self.minutes_per_episode
        if total > MAX_MINUTES_PER_MONTH:
            raise ValueError(f"titles_per_month x episodes_per_title x minutes_per_episode is {total:,.0f} "
                             f"finished minutes a month; the planner's limit is {MAX_MINUTES_PER_MONTH:,}")
        return self

    @property
    def minutes_per_title(self) -> float:
        return self.episodes_per_title * self.minutes_per_episode

    @property
    def minutes_per_month(self) -> float:
        return self.titles_per_month * self.minutes_per_title


class Provenance(BaseModel):
    """Where a figure came from: measured (machine, model, date) or declared (source, date, basis)."""

    measured: bool
    basis: Basis
    source: str
    date: str | None = None
    machine: str | None = None
    model: str | None = None
    note: str = ""


class Quantity(BaseModel):
    name: str
    value: float
    unit: str
    provenance: Provenance


class Fit(BaseModel):
    """Whether the preset's models fit one card of this GPU, and the fix where not."""

    gpu: str
    preset: str
    status: Literal["fits", "swaps", "offload", "tensor_parallel"]
    card_gb: float
    budget_gb: float = Field(description="90% of the card: the pipelines' default budget (DRAMAFACTORY_VRAM_GB).")
    needs_gb: dict[str, float]
    detail: str
    fix: str | None = None


class Option(BaseModel):
    id: str
    kind: OptionKind
    label: str
    gpu: str | None = None
    costed: bool
    reason: str | None = Field(default=None, description="Why the option has no cost (not measured, no fit).")
    fit: Fit | None = None
    hours_unit: str = Field(description="What hours_per_month counts: GPU-hours, or machine-hours for the laptop.")
    hours_per_month: dict[str, float] = Field(default_factory=dict, description="Per stage, and 'total'.")
    cpu_core_hours_per_month: dict[str, float] = Field(default_factory=dict, description="Host CPU work per stage.")
    api_units_per_month: dict[str, float] = Field(default_factory=dict, description="Calls, characters, tokens.")
    fleet: int | None = None
    fleet_unit: str | None = None
    utilisation_actual: float | None = None
    title_hours_one_unit: float | None = Field(default=None, description="Wall-clock hours for one title on one "
                                               "GPU and its host (or one machine), every stage one after another, "
                                               "the host-CPU stages (speech, QC, assembly) included.")
    title_hours_fleet: float | None = Field(default=None, description="A lower bound on the same on the whole "
                                            "fleet: the serial stages (text, episodes written one after another; "
                                            "speech and assembly of each episode on one host CPU) plus the shots' "
                                            "GPU work divided by the fleet (see the option's notes).")
    monthly_usd: float | None = None
    cost_breakdown_usd: dict[str, float] = Field(default_factory=dict)
    cost_per_finished_minute_usd: float | None = None
    cost_per_title_usd: float | None = None
    measured: bool = Field(description="True only when every throughput figure the option rests on (work per "
                                       "minute, speeds) was measured; prices are the catalogue's, always declared.")
    figures: list[Quantity] = Field(default_factory=list, description="The speeds and prices used.")
    notes: list[str] = Field(default_factory=list)


class BreakEven(BaseModel):
    a: str
    b: str
    titles_per_month: int | None = Field(description="The smallest whole volume from which a costs no more than b "
                                                     "at every whole volume up to the scan's end (1,000,000); None: "
                                                     "no such volume for good (see finding).")
    finding: str


class Sweep(BaseModel):
    x: list[float]
    cost_per_finished_minute_usd: dict[str, list[float | None]]
    marked: float | None = Field(default=None, description="The plan's own value of x.")


class Plan(BaseModel):
    request: PlanRequest
    created_at: str
    catalogue: str
    finished_minutes_per_month: float
    minutes_per_title: float
    hours_per_month: float
    work: list[Quantity] = Field(description="Work per finished minute, each figure with its provenance.")
    options: list[Option]
    break_even: list[BreakEven]
    fits: list[Fit]
    sweeps: dict[str, Sweep] = Field(description="volume (titles/month), usable (first-pass usable rate), "
                                                 "utilisation: cost per finished minute per option.")
    declared: list[Quantity] = Field(description="Every figure used that was not measured, with its source.")
    missing: list[str] = Field(description="Measurements the plan needed and did not find (never defaulted).")
    warnings: list[str]
