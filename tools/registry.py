"""Backends per role (text, image, video, speech), chosen by configuration.

Each backend is an entry: its role, its name (the value of DRAMAFACTORY_<ROLE>_BACKEND), what it is, and the
module that builds it from the settings and says whether it can run here. Modules are imported only when their
backend is built or checked, so the base install never imports diffusers. Agents and graphs ask this registry;
nothing outside it chooses a backend by name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dramafactory.config import Settings
from dramafactory.errors import DramaError

ROLES = ("text", "image", "video", "speech")


@dataclass(frozen=True)
class Availability:
    """Whether a backend can run on this machine with these settings, and if not, why and the fix."""

    ok: bool
    detail: str  # what it will use (model, device) or why it cannot run
    fix: str = ""


@dataclass(frozen=True)
class BackendEntry:
    role: str
    name: str
    summary: str
    module: str  # exposes from_settings(settings) and check(settings) -> Availability
    gpu: bool = False

    def _attr(self, name: str) -> Callable[..., Any]:
        return getattr(importlib.import_module(f"dramafactory.{self.module}"), name)

    def build(self, settings: Settings) -> Any:
        return self._attr("from_settings")(self.as_configured(settings))

    def as_configured(self, settings: Settings) -> Settings:
        """The settings with this backend chosen for its role (one module may serve several names)."""
        return settings.model_copy(update={f"{self.role}_backend": self.name})

    def check(self, settings: Settings) -> Availability:
        try:
            return self._attr("check")(self.as_configured(settings))
        except DramaError as exc:
            return Availability(False, exc.cause, exc.fix)
        except ImportError as exc:  # a backend whose package is not installed
            return Availability(False, f"cannot import it: {exc}", "pip install '.[gpu]'")


ENTRIES = (
    BackendEntry("text", "embedded", "the packaged 0.5B GGUF model on llama.cpp (CPU)", "tools.text.registry"),
    BackendEntry("text", "llama-cpp", "any local GGUF file on llama.cpp (DRAMAFACTORY_TEXT_MODEL_PATH)",
                 "tools.text.registry"),
    BackendEntry("text", "openai", "an OpenAI-compatible server: vLLM, llama.cpp's server, Ollama",
                 "tools.text.registry"),
    BackendEntry("image", "storyboard", "storyboard animatic panels drawn on the CPU (the embedded default)",
                 "tools.image.storyboard.factory"),
    BackendEntry("image", "diffusers", "keyframes from a diffusers text-to-image pipeline (GPU)",
                 "tools.image.diffusers_image", gpu=True),
    BackendEntry("video", "none", "no clips: the episode moves the camera over its keyframes", "tools.video.none"),
    BackendEntry("video", "diffusers", "clips from a diffusers image-to-video pipeline (GPU)",
                 "tools.video.diffusers_video", gpu=True),
    BackendEntry("speech", "voicebank", "piper and espeak-ng voices (CPU)", "tools.speech.voicebank"),
)


def entries(role: str) -> dict[str, BackendEntry]:
    return {e.name: e for e in ENTRIES if e.role == role}


def configured_name(role: str, settings: Settings) -> str:
    return str(getattr(settings, f"{role}_backend"))


def entry_for(role: str, settings: Settings) -> BackendEntry:
    name = configured_name(role, settings)
    known = entries(role)
    if name not in known:
        raise DramaError(f"unknown {role} backend {name!r}",
                         f"set DRAMAFACTORY_{role.upper()}_BACKEND to one of: {', '.join(known)}")
    return known[name]


def preflight(role: str, settings: Settings) -> BackendEntry:
    """The configured backend of a role, checked: one that cannot run here raises with the reason and the fix."""
    entry = entry_for(role, settings)
    state = entry.check(settings)
    if not state.ok:
        raise DramaError(f"{role} backend {entry.name!r}: {state.detail}", state.fix)
    return entry


def build(role: str, settings: Settings) -> Any:
    """The configured backend of a role, checked first: a backend that cannot run here stops the run before any
    work is spent, with the reason and the fix."""
    return preflight(role, settings).build(settings)


def report(settings: Settings) -> list[dict[str, Any]]:
    """Every backend of every role: configured or not, whether it can run here and why not (`dramafactory
    backends`)."""
    rows = []
    for role in ROLES:
        chosen = configured_name(role, settings)
        for entry in entries(role).values():
            state = entry.check(settings)
            rows.append({"role": role, "name": entry.name, "configured": entry.name == chosen, "gpu": entry.gpu,
                         "summary": entry.summary, "ok": state.ok, "detail": state.detail, "fix": state.fix})
        if chosen not in entries(role):
            rows.append({"role": role, "name": chosen, "configured": True, "gpu": False, "summary": "",
                         "ok": False, "detail": f"unknown {role} backend",
                         "fix": f"one of: {', '.join(entries(role))}"})
    return rows
