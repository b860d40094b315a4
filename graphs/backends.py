"""Build the run's context from settings: which text, image and speech backends, memory and ledger."""

from __future__ import annotations

from pathlib import Path

from dramafactory.agents.context import AgentContext
from dramafactory.config import Settings
from dramafactory.errors import DramaError
from dramafactory.memory.characters import CharacterMemory
from dramafactory.tools.assembly.video import FFmpegMissing, ffmpeg_exe
from dramafactory.tools.image.base import ImageBackend
from dramafactory.tools.ledger import Ledger
from dramafactory.tools.speech.base import SpeechBackend
from dramafactory.tools.speech.voicebank import SpeechEngineMissing, VoiceBankSpeech
from dramafactory.tools.text.base import TextBackend
from dramafactory.tools.text.embedded_model import EmbeddedModelError
from dramafactory.tools.text.registry import build_text_backend

SUPPORTED_LANGUAGES = {"en", "en-us", "en-gb"}


def check_language(language: str, settings: Settings) -> None:
    if settings.text_backend == "embedded" and language.lower() not in SUPPORTED_LANGUAGES:
        raise DramaError(
            f"language {language!r} is not supported by the embedded default (its 0.5B model, few-shot prompts, "
            "names library and voices are English)",
            "use --concept with language: en, or point DRAMAFACTORY_TEXT_BACKEND=openai at a multilingual model",
        )


def build_image(settings: Settings) -> ImageBackend:
    if settings.image_backend == "storyboard":
        from dramafactory.tools.image.storyboard import StoryboardRenderer

        renderer: ImageBackend = StoryboardRenderer(use_feedback=settings.render_feedback == "on")
        if settings.fault_rate > 0:  # a QC drill: break a share of the takes on purpose
            from dramafactory.tools.image.faults import FaultyRenderer

            renderer = FaultyRenderer(renderer, settings.fault_rate)
        return renderer
    raise DramaError(f"unknown image backend {settings.image_backend!r}", "set DRAMAFACTORY_IMAGE_BACKEND=storyboard")


def build_speech(settings: Settings) -> SpeechBackend:
    speech = VoiceBankSpeech(piper_model=settings.piper_model_path, espeak_binary=settings.espeak_binary)
    try:
        speech.check_available()
    except SpeechEngineMissing as exc:
        raise DramaError(str(exc).split(" Fix:")[0], "apt-get install espeak-ng (see README)") from exc
    return speech


def build_text(settings: Settings) -> TextBackend:
    try:
        return build_text_backend(
            settings.text_backend, model_path=settings.text_model_path, threads=settings.text_threads,
            cache_dir=settings.model_cache_dir, base_url=settings.openai_base_url, api_key=settings.openai_api_key,
            model=settings.openai_model, structured_mode=settings.openai_structured_mode,
            timeout_s=settings.openai_timeout_s, max_retries=settings.openai_max_retries)
    except (EmbeddedModelError, ValueError) as exc:
        raise DramaError(str(exc), "reinstall with the README's run command, or set DRAMAFACTORY_TEXT_MODEL_PATH") \
            from exc


def build_context(run_dir: Path, settings: Settings, *, text: TextBackend | None = None,
                  image: ImageBackend | None = None, speech: SpeechBackend | None = None,
                  run_id: str | None = None) -> AgentContext:
    """Backends given explicitly (tests, benchmarks) win over the ones the settings name."""
    try:
        ffmpeg_exe()
    except FFmpegMissing as exc:
        raise DramaError(str(exc), "pip install --force-reinstall imageio-ffmpeg") from exc
    run_dir.mkdir(parents=True, exist_ok=True)
    return AgentContext(
        run_dir=run_dir,
        settings=settings,
        text=text or build_text(settings),
        image=image or build_image(settings),
        speech=speech or build_speech(settings),
        memory=CharacterMemory(run_dir / "memory"),
        ledger=Ledger(run_dir / "ledger.jsonl", run_id=run_id),
    )
