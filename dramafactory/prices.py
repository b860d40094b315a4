"""What one ledger row cost: the price table (`Pricing`), read from the sourced catalogue (catalogue.yaml) and the
settings, applied to each row when the ledger records it (tools/ledger.py). summary.json, `dramafactory cost` and
the budget sum the rows' recorded `cost_usd`; nothing else derives a cost, so the three always agree.

A price profile (DRAMAFACTORY_PRICE_PROFILE) says what a GPU-second costs:
- `local`: settings.gpu_hour_usd (default: the catalogue's `ledger` entry), the user's own figure;
- `on-prem:<gpu>[@<utilisation>]`: owning that card, as the capacity planner prices it (dramafactory/planner/
  model.py): the purchase over its life, hosting per kW and staff, per month, spread over the busy hours of a month
  at the utilisation (default: the planner's), plus power x PUE x tariff for each busy hour;
- `cloud-on-demand:<gpu>`, `cloud-reserved:<gpu>`: the catalogue's hourly rates for that card.
CPU seconds cost settings.cpu_hour_usd in every profile (0 where the host CPUs are paid for in the GPU's price).
A remote text server's time is never priced at a local rate: its calls cost their tokens, at
settings.remote_text_usd_per_mtok when set, else at the catalogue's price when the model served is a hosted API's
(`apis`, kind per_mtok); otherwise they are unpriced (counted, never guessed). A row naming a catalogue API (`api`)
costs that API's per-call price (per image, per clip or second of video, per character of speech, per token).

Core level, like config and catalogue: tools import it; the planner's arithmetic is imported only when an on-prem
profile is built (the planner package sits above tools, and importing it here at load time would be circular).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .catalogue import Api, ApiWork, Catalogue, api_usd, catalogue
from .errors import DramaError

if TYPE_CHECKING:
    from .config import Settings

PROFILE_KINDS = ("local", "on-prem", "cloud-on-demand", "cloud-reserved")
DIGITS = 9  # a row's cost is rounded to a nano-dollar, so sums of recorded costs are exact to the digit


class UnknownPriceProfile(DramaError):
    """DRAMAFACTORY_PRICE_PROFILE names no profile this catalogue can price."""


def profile_choices(cat: Catalogue | None = None) -> list[str]:
    cat = cat or catalogue()
    return ["local", *(f"{kind}:{gpu}" for kind in PROFILE_KINDS[1:] for gpu in cat.gpus)]


def planner_utilisation() -> float:
    """The planner's default utilisation (`dramafactory plan --utilisation`): one figure for both."""
    from .planner.schema import PlanRequest  # lazily: see the module docstring

    return float(PlanRequest.model_fields["utilisation"].default)


def onprem_usd_per_gpu_hour(cat: Catalogue, gpu_id: str, utilisation: float) -> float:
    """What one busy hour of an owned card costs: the planner's own cost shape for that card (fixed cost per GPU and
    month: amortisation + hosting + staff; power per busy hour), per busy GPU-hour at full fleets."""
    from .planner import model as m  # lazily: see the module docstring

    gpu, onprem = cat.gpus[gpu_id], cat.onprem
    fixed = (m.amortised_monthly(gpu.purchase_usd.value, onprem.life_years.value)
             + m.hosting_monthly(gpu.board_power_w.value, onprem.server_power_factor.value,
                                 onprem.hosting_usd_per_kw_month.value)
             + onprem.staff_usd_per_gpu_month.value)
    power = m.power_usd_per_gpu_hour(gpu.board_power_w.value, onprem.server_power_factor.value, onprem.pue.value,
                                     onprem.usd_per_kwh.value)
    # One "title" of one GPU-hour: the shape's cost per title at full fleets is the cost of a busy GPU-hour.
    shape = m.CostShape(fixed_per_unit_month=fixed, unit_hours_per_title=1.0, utilisation=utilisation,
                        per_title=power)
    return shape.full_fleet_per_title


def _unknown(profile: str, why: str, cat: Catalogue) -> UnknownPriceProfile:
    return UnknownPriceProfile(
        f"price profile {profile!r}: {why}",
        "set DRAMAFACTORY_PRICE_PROFILE to local, on-prem:<gpu>[@<utilisation 0-1>], cloud-on-demand:<gpu> or "
        f"cloud-reserved:<gpu>, with <gpu> one of the catalogue's: {', '.join(cat.gpus)}")


def gpu_rate(profile: str, gpu_hour_usd: float, cat: Catalogue) -> tuple[float, str]:
    """The profile's price of a GPU-hour and where it comes from; UnknownPriceProfile names the choices."""
    kind, _, rest = profile.strip().partition(":")
    if kind == "local" and not rest:
        return gpu_hour_usd, "DRAMAFACTORY_GPU_HOUR_USD (default: the catalogue's `ledger` entry)"
    if kind not in PROFILE_KINDS[1:]:
        raise _unknown(profile, "local names no GPU" if kind == "local" else f"unknown kind {kind!r}", cat)
    gpu_id, at, share = rest.partition("@")
    if gpu_id not in cat.gpus:
        raise _unknown(profile, f"no GPU {gpu_id!r} in the catalogue", cat)
    if at and kind != "on-prem":
        raise _unknown(profile, "a utilisation applies to on-prem only (rented cards bill per hour)", cat)
    gpu = cat.gpus[gpu_id]
    if kind == "cloud-on-demand":
        return gpu.cloud_on_demand_usd_h.value, f"catalogue gpus.{gpu_id}.cloud_on_demand_usd_h"
    if kind == "cloud-reserved":
        return gpu.cloud_reserved_usd_h.value, f"catalogue gpus.{gpu_id}.cloud_reserved_usd_h"
    try:
        utilisation = float(share) if at else planner_utilisation()
    except ValueError:
        raise _unknown(profile, f"utilisation {share!r} is not a number", cat) from None
    if not 0 < utilisation <= 1:  # NaN fails this too
        raise _unknown(profile, f"utilisation {share!r} is not in (0, 1]", cat)
    return (onprem_usd_per_gpu_hour(cat, gpu_id, utilisation),
            f"catalogue gpus.{gpu_id} and onprem, owned at {utilisation:g} utilisation (dramafactory/planner)")


_SNAPSHOT = r"-\d{4}-\d{2}-\d{2}"  # a hosted model's dated snapshot, as its server reports the model it served


@dataclass(frozen=True)
class Pricing:
    """The prices a run's ledger charges. `cost(row)` is the one formula; `charge(row)` what a row cost as recorded
    (its `cost_usd`, or, for a row recorded before costs existed, `cost(row)`)."""

    profile: str
    cpu_hour_usd: float
    gpu_hour_usd: float
    remote_text_usd_per_mtok: float | None = None
    gpu_source: str = ""
    cat: Catalogue | None = None  # for the hosted APIs' prices (None: the packaged catalogue)

    @classmethod
    def for_profile(cls, profile: str, *, cpu_hour_usd: float, gpu_hour_usd: float,
                    remote_text_usd_per_mtok: float | None = None, cat: Catalogue | None = None) -> Pricing:
        cat = cat or catalogue()
        rate, source = gpu_rate(profile, gpu_hour_usd, cat)
        return cls(profile=profile.strip(), cpu_hour_usd=cpu_hour_usd, gpu_hour_usd=rate,
                   remote_text_usd_per_mtok=remote_text_usd_per_mtok, gpu_source=source, cat=cat)

    @classmethod
    def from_settings(cls, settings: Settings, cat: Catalogue | None = None) -> Pricing:
        return cls.for_profile(settings.price_profile, cpu_hour_usd=settings.cpu_hour_usd,
                               gpu_hour_usd=settings.gpu_hour_usd,
                               remote_text_usd_per_mtok=settings.remote_text_usd_per_mtok, cat=cat)

    def rates(self) -> dict[str, object]:
        """The price inputs, as the ledger's mark rows record them."""
        return {"price_profile": self.profile, "cpu_hour_usd": self.cpu_hour_usd, "gpu_hour_usd": self.gpu_hour_usd,
                "remote_text_usd_per_mtok": self.remote_text_usd_per_mtok, "gpu_source": self.gpu_source}

    def cost(self, row: dict) -> float:
        """What the row's work cost at these prices, rounded to a nano-dollar (an unpriced call: 0)."""
        usd = self._usd(row)
        return 0.0 if usd is None else round(usd, DIGITS)

    def is_priced(self, row: dict) -> bool:
        """False for a call with no price: a remote text call with no per-token price, or an API call whose row
        lacks what that API bills by. Such calls are counted (summary.json `unpriced_calls`), never guessed."""
        return self._usd(row) is not None

    def charge(self, row: dict) -> float:
        recorded = row.get("cost_usd")
        if isinstance(recorded, int | float) and not isinstance(recorded, bool):
            return float(recorded)
        return self.cost(row)

    # --- the formula -------------------------------------------------------------------------------------------

    def _usd(self, row: dict) -> float | None:
        kind = row.get("kind", "call")
        if kind == "mark":
            return 0.0
        if row.get("api"):  # a hosted API bills its calls; a failed call is not billed
            return self._api_usd(row) if kind == "call" else 0.0
        if row.get("remote"):  # another machine's time: only its tokens are billed, and only for calls
            return self._remote_usd(row) if kind == "call" else 0.0
        # Machine time here (calls, loads, failed calls, discarded renders). A row without a cpu_scope is not a CPU
        # measurement: ledgers written before the scopes existed put the wall time in cpu_seconds.
        cpu = row.get("cpu_seconds") if row.get("cpu_scope") else None
        gpu = row.get("gpu_seconds")
        return ((cpu or 0.0) * self.cpu_hour_usd + (gpu or 0.0) * self.gpu_hour_usd) / 3600

    def _remote_usd(self, row: dict) -> float | None:
        prompt, completion = int(row.get("prompt_tokens") or 0), int(row.get("completion_tokens") or 0)
        tokens = int(row.get("tokens") or prompt + completion)
        if self.remote_text_usd_per_mtok is not None:  # the user's own price for their server wins
            return tokens * self.remote_text_usd_per_mtok / 1e6
        api = self.hosted_llm(str(row.get("model", "")))
        if api is None:
            return None
        return api_usd(api.pricing, ApiWork(prompt_tokens=prompt, completion_tokens=completion),
                       self._cat.exchange_rates)

    def _api_usd(self, row: dict) -> float | None:
        api = self._cat.apis.get(str(row["api"]))
        if api is None:
            return None
        kind = api.pricing.kind
        if kind == "per_image":
            work = ApiWork(image_takes=float(row.get("images", 1)))
        elif kind in ("per_clip", "per_second"):
            if row.get("clip_seconds") is None:
                return None
            work = ApiWork(clip_takes=1.0, clip_seconds=float(row["clip_seconds"]))
        elif kind == "per_mchar":
            if row.get("chars") is None:
                return None
            work = ApiWork(speech_chars=float(row["chars"]))
        else:
            work = ApiWork(prompt_tokens=float(row.get("prompt_tokens") or 0),
                           completion_tokens=float(row.get("completion_tokens") or 0))
        return api_usd(api.pricing, work, self._cat.exchange_rates)

    def hosted_llm(self, model: str) -> Api | None:
        """The catalogue's hosted LLM that served `model` (its id, or a dated snapshot of it), or None."""
        found = [(api_id, api) for api_id, api in self._cat.apis.items() if api.service == "llm"
                 and (model == api_id or re.fullmatch(re.escape(api_id) + _SNAPSHOT, model))]
        return max(found, key=lambda pair: len(pair[0]))[1] if found else None

    @property
    def _cat(self) -> Catalogue:
        return self.cat or catalogue()


def format_usd(value: float) -> str:
    """Dollars for people: cents above a dollar, micro-dollars below (the embedded default's calls cost that)."""
    return f"${value:,.2f}" if abs(value) >= 1 else f"${value:.6f}"
