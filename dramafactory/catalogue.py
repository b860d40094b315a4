"""The price and capacity catalogue (catalogue.yaml): GPUs, CPUs, on-prem costs, hosted API prices, the planner's
per-preset memory and speed figures, and the hourly rates the cost ledger applies (config.py's defaults).

Declarative on purpose: a reviewer reads and edits one data file. Every figure carries its source, date and basis,
and a figure without them is refused with the entry and field named, so no number enters a plan or a cost without
saying where it came from. API billing shapes are tagged by `kind` and priced by pure functions (`api_usd`).
Core level: config, tools and the planner may read it; it imports nothing of the factory.
"""

from __future__ import annotations

import datetime as dt
import math
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

CATALOGUE_FILE = Path(__file__).with_name("catalogue.yaml")
Basis = Literal["published", "derived", "assumption"]
DATE_PATTERN = r"^\d{4}-\d{2}(-\d{2})?$"


class CatalogueError(ValueError):
    """The catalogue file cannot be used: the message names the file, the entry and the field."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Sourced(_Model):
    """Where a figure comes from: required on every figure, price and speed."""

    source: str = Field(min_length=3)
    date: str = Field(pattern=DATE_PATTERN, description="When the figure was stated or collected.")
    basis: Basis

    @field_validator("date", mode="before")
    @classmethod
    def _date_text(cls, value: object) -> object:
        # YAML reads 2026-12-01 as a date and 2025-06 as text: both are kept as text
        return value.isoformat() if isinstance(value, dt.date) else value


class Figure(Sourced):
    value: float = Field(ge=0, allow_inf_nan=False)


class GPU(_Model):
    name: str
    aliases: list[str] = Field(default_factory=list, description="Substrings of the name torch reports.")
    memory_gb: Figure
    board_power_w: Figure
    bf16_dense_tflops: Figure
    memory_bandwidth_tbs: Figure
    purchase_usd: Figure
    cloud_on_demand_usd_h: Figure
    cloud_reserved_usd_h: Figure

    def matches(self, device_name: str) -> bool:
        name = device_name.lower()
        return any(alias.lower() in name for alias in [*self.aliases, self.name])


class CPU(_Model):
    name: str
    usd_per_core_hour: Figure


class OnPrem(_Model):
    life_years: Figure
    pue: Figure
    usd_per_kwh: Figure
    server_power_factor: Figure
    hosting_usd_per_kw_month: Figure
    staff_usd_per_gpu_month: Figure


# --- hosted API billing shapes, tagged by kind ------------------------------------------------------------------

class PerClip(_Model):
    """Video billed per generated clip of up to `clip_seconds`: a longer shot takes several calls."""

    kind: Literal["per_clip"]
    price: float = Field(ge=0, allow_inf_nan=False)
    currency: str
    clip_seconds: float = Field(gt=0, le=60)


class PerSecond(_Model):
    """Video billed per second of output, with a shortest billed clip."""

    kind: Literal["per_second"]
    price: float = Field(ge=0, allow_inf_nan=False)
    currency: str
    min_seconds: float = Field(default=0.0, ge=0, le=60)


class PerImage(_Model):
    kind: Literal["per_image"]
    price: float = Field(ge=0, allow_inf_nan=False)
    currency: str


class PerMChar(_Model):
    """Speech billed per million input characters."""

    kind: Literal["per_mchar"]
    price: float = Field(ge=0, allow_inf_nan=False)
    currency: str


class PerMTok(_Model):
    """An LLM billed per million input and output tokens."""

    kind: Literal["per_mtok"]
    input: float = Field(ge=0, allow_inf_nan=False)
    output: float = Field(ge=0, allow_inf_nan=False)
    currency: str


Pricing = Annotated[PerClip | PerSecond | PerImage | PerMChar | PerMTok, Field(discriminator="kind")]
SERVICE_KINDS = {"video": {"per_clip", "per_second"}, "image": {"per_image"}, "tts": {"per_mchar"},
                 "llm": {"per_mtok"}}


class Api(Sourced):
    service: Literal["video", "image", "tts", "llm"]
    name: str
    pricing: Pricing


class ApiStack(_Model):
    name: str
    video: str
    image: str
    tts: str
    llm: str


class ApiWork(_Model):
    """What the API option buys per finished minute (the planner computes it from measurements)."""

    clip_takes: float = 0.0  # clips generated (retries included)
    clip_seconds: float = 0.0  # seconds each clip must cover (the average shot)
    image_takes: float = 0.0
    speech_chars: float = 0.0
    prompt_tokens: float = 0.0
    completion_tokens: float = 0.0


def to_usd(amount: float, currency: str, rates: dict[str, Figure]) -> float:
    if currency == "USD":
        return amount
    return amount / rates[currency].value


def api_usd(pricing: Pricing, work: ApiWork, rates: dict[str, Figure]) -> float:
    """What one billing shape charges for the work, in USD: a pure function chosen by the shape's kind."""
    match pricing:
        case PerClip():
            calls = work.clip_takes * max(1, math.ceil(work.clip_seconds / pricing.clip_seconds - 1e-9))
            return to_usd(calls * pricing.price, pricing.currency, rates)
        case PerSecond():
            seconds = work.clip_takes * max(work.clip_seconds, pricing.min_seconds)
            return to_usd(seconds * pricing.price, pricing.currency, rates)
        case PerImage():
            return to_usd(work.image_takes * pricing.price, pricing.currency, rates)
        case PerMChar():
            return to_usd(work.speech_chars / 1e6 * pricing.price, pricing.currency, rates)
        case PerMTok():
            return to_usd((work.prompt_tokens * pricing.input + work.completion_tokens * pricing.output) / 1e6,
                          pricing.currency, rates)
    raise TypeError(f"no price function for {type(pricing).__name__}")  # unreachable: the union is closed


# --- the planner's per-preset figures ---------------------------------------------------------------------------

class _Speed(Sourced):
    gpu: str = Field(description="The card the figure was stated for.")
    scale: Literal["compute", "bandwidth"] = Field(description="How the figure moves to another card: dense "
                                                               "BF16 TFLOPS or memory bandwidth.")


class SecondsPerImage(_Speed):
    kind: Literal["seconds_per_image"]
    value: float = Field(gt=0, allow_inf_nan=False)
    steps: int = Field(ge=1)


class SecondsPerClip(_Speed):
    kind: Literal["seconds_per_clip"]
    value: float = Field(gt=0, allow_inf_nan=False)
    clip_seconds: float = Field(gt=0)
    steps: int = Field(ge=1)


class TokensPerSecond(_Speed):
    kind: Literal["tokens_per_second"]
    value: float = Field(gt=0, allow_inf_nan=False)


class TextRole(_Model):
    model: str
    vram_gb: Figure
    speed: TokensPerSecond


class ImageRole(_Model):
    model: str
    bench_name: str | None = Field(default=None, description="The model's name in bench/results/gpu.json.")
    vram_gb: Figure
    speed: SecondsPerImage


class VideoRole(_Model):
    model: str
    bench_name: str | None = None
    vram_gb: Figure
    speed: SecondsPerClip


class PresetFigures(_Model):
    text: TextRole
    image: ImageRole
    video: VideoRole


class LedgerRate(_Model):
    cpu: str | None = None
    gpu: str | None = None
    rate: Literal["on_demand", "reserved"] | None = None


class WorkDefaults(_Model):
    speech_seconds_per_minute: Figure
    speech_chars_per_second: Figure
    clip_attempts_per_shot: Figure


class Catalogue(_Model):
    exchange_rates: dict[str, Figure]
    ledger: dict[Literal["cpu_hour_usd", "gpu_hour_usd"], LedgerRate]
    cpus: dict[str, CPU] = Field(min_length=1)
    gpus: dict[str, GPU] = Field(min_length=1)
    onprem: OnPrem
    apis: dict[str, Api]
    api_stacks: dict[str, ApiStack]
    presets: dict[str, PresetFigures] = Field(min_length=1)
    work_defaults: WorkDefaults

    @model_validator(mode="after")
    def _references(self) -> Catalogue:
        """Every name one entry gives for another exists, with the right kind: a typo is an error, not a gap."""
        problems = []
        for stack_id, stack in self.api_stacks.items():
            for service in ("video", "image", "tts", "llm"):
                api_id = getattr(stack, service)
                api = self.apis.get(api_id)
                if api is None:
                    problems.append(f"api_stacks.{stack_id}.{service}: unknown API {api_id!r}")
                elif api.service != service:
                    problems.append(f"api_stacks.{stack_id}.{service}: {api_id!r} is a {api.service} API")
        for api_id, api in self.apis.items():
            if api.pricing.kind not in SERVICE_KINDS[api.service]:
                problems.append(f"apis.{api_id}.pricing.kind: {api.pricing.kind} does not bill a {api.service}")
            if api.pricing.currency != "USD" and api.pricing.currency not in self.exchange_rates:
                problems.append(f"apis.{api_id}.pricing.currency: no exchange_rates entry for "
                                f"{api.pricing.currency!r}")
        for name, preset in self.presets.items():
            for role in ("text", "image", "video"):
                gpu = getattr(preset, role).speed.gpu
                if gpu not in self.gpus:
                    problems.append(f"presets.{name}.{role}.speed.gpu: unknown GPU {gpu!r}")
        for rate_name, rate in self.ledger.items():
            if rate_name == "cpu_hour_usd" and rate.cpu not in self.cpus:
                problems.append(f"ledger.cpu_hour_usd.cpu: unknown CPU {rate.cpu!r}")
            if rate_name == "gpu_hour_usd" and (rate.gpu not in self.gpus or rate.rate is None):
                problems.append(f"ledger.gpu_hour_usd: needs a known gpu and a rate (on_demand or reserved), got "
                                f"{rate.gpu!r} / {rate.rate!r}")
        problems += [f"exchange_rates.{currency}.value: must be positive (units of the currency per US dollar)"
                     for currency, rate in self.exchange_rates.items() if rate.value <= 0]
        if self.work_defaults.clip_attempts_per_shot.value < 1:
            problems.append("work_defaults.clip_attempts_per_shot.value: must be at least 1 (a shot with a clip has "
                            "at least one)")
        missing = {"cpu_hour_usd", "gpu_hour_usd"} - set(self.ledger)
        problems += [f"ledger.{name}: missing" for name in sorted(missing)]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def ledger_rate(self, name: Literal["cpu_hour_usd", "gpu_hour_usd"]) -> float:
        """The hourly rate the cost ledger applies: the price of the catalogue entry `ledger` names."""
        rate = self.ledger[name]
        if name == "cpu_hour_usd":
            return self.cpus[rate.cpu].usd_per_core_hour.value
        gpu = self.gpus[rate.gpu]
        return (gpu.cloud_reserved_usd_h if rate.rate == "reserved" else gpu.cloud_on_demand_usd_h).value


def _problem(error: dict) -> str:
    where = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message  # a cross-reference error names its own entries


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Read and validate a catalogue file; CatalogueError names the file, entry and field of the first problems."""
    path = Path(path or CATALOGUE_FILE)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogueError(f"catalogue {path}: cannot be read ({exc.strerror or exc})") from exc
    except yaml.YAMLError as exc:
        raise CatalogueError(f"catalogue {path}: not valid YAML ({exc})") from exc
    if not isinstance(raw, dict):
        raise CatalogueError(f"catalogue {path}: not a YAML mapping")
    try:
        return Catalogue.model_validate(raw)
    except ValidationError as exc:
        problems = [_problem(e) for e in exc.errors()[:5]]
        more = f" (and {exc.error_count() - 5} more)" if exc.error_count() > 5 else ""
        raise CatalogueError(f"catalogue {path}: " + "; ".join(problems) + more) from None


@lru_cache(maxsize=1)
def catalogue() -> Catalogue:
    """The packaged catalogue, read once."""
    return load_catalogue(CATALOGUE_FILE)


def ledger_rate(name: Literal["cpu_hour_usd", "gpu_hour_usd"]) -> float:
    """The packaged catalogue's rate for the cost ledger (config.Settings' default for the setting of that name)."""
    return catalogue().ledger_rate(name)
