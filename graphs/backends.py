"""Build the run's context from settings: the backend of every role (from the registry in tools/registry.py),
memory, the ledger with the run's prices, and the series' budget."""

from __future__ import annotations

from pathlib import Path

from dramafactory.agents.context import AgentContext
from dramafactory.config import Settings
from dramafactory.errors import DramaError
from dramafactory.memory.characters import CharacterMemory
from dramafactory.prices import Pricing
from dramafactory.tools import registry
from dramafactory.tools.assembly.video import FFmpegMissing, ffmpeg_exe
from dramafactory.tools.image.base import ImageBackend
from dramafactory.tools.ledger import Ledger
from dramafactory.tools.speech.base import SpeechBackend
from dramafactory.tools.text.base import TextBackend
from dramafactory.tools.video.base import VideoBackend

from .budget import Budget

SUPPORTED_LANGUAGES = {"en", "en-us", "en-gb"}


def check_language(language: str, settings: Settings) -> None:
    if settings.text_backend == "embedded" and language.lower() not in SUPPORTED_LANGUAGES:
        raise DramaError(
            f"language {language!r} is not supported by the embedded default (its 0.5B model, few-shot prompts, "
            "names library and voices are English)",
            "use --concept with language: en, or point DRAMAFACTORY_TEXT_BACKEND=openai at a multilingual model",
        )


def build_image(settings: Settings) -> ImageBackend:
    return registry.build("image", settings)


def build_video(settings: Settings) -> VideoBackend | None:
    return registry.build("video", settings)


def build_speech(settings: Settings) -> SpeechBackend:
    return registry.build("speech", settings)


def build_text(settings: Settings) -> TextBackend:
    return registry.build("text", settings)


_UNSET = object()


def build_context(run_dir: Path, settings: Settings, *, text: TextBackend | None = None,
                  image: ImageBackend | None = None, speech: SpeechBackend | None = None,
                  video: VideoBackend | None | object = _UNSET, run_id: str | None = None,
                  budget_usd: float | None = None) -> AgentContext:
    """Backends given explicitly (tests, benchmarks) win over the ones the settings name. Every configured backend
    is checked here, before the run spends anything. `budget_usd`: the series' spending cap (default
    settings.budget_usd; None: no cap)."""
    pricing = Pricing.from_settings(settings)  # first: an unknown price profile stops the run before any load
    try:
        ffmpeg_exe()
    except FFmpegMissing as exc:
        raise DramaError(str(exc), "pip install --force-reinstall imageio-ffmpeg") from exc
    given = {"text": text, "image": image, "speech": speech, "video": None if video is _UNSET else video}
    wanted = [r for r in registry.ROLES if (video is _UNSET if r == "video" else given[r] is None)]
    # every configured backend checked before any is built or loaded, each check made once
    entries = {role: registry.preflight(role, settings) for role in wanted}
    built = {role: entry.build(settings) for role, entry in entries.items()}
    run_dir.mkdir(parents=True, exist_ok=True)
    ledger = Ledger(run_dir / "ledger.jsonl", run_id=run_id, pricing=pricing)
    cap = budget_usd if budget_usd is not None else settings.budget_usd
    return AgentContext(
        run_dir=run_dir,
        settings=settings,
        text=text or built["text"],
        image=image or built["image"],
        speech=speech or built["speech"],
        video=built["video"] if "video" in built else video,  # type: ignore[arg-type]
        memory=CharacterMemory(run_dir / "memory"),
        ledger=ledger,
        budget=Budget(cap, ledger) if cap is not None else None,
    )
