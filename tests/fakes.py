"""Fake backends for tests only (named as fakes): fast, deterministic, with the same contracts as the real ones."""

from __future__ import annotations

import itertools
import json
import time
import wave

import numpy as np
from PIL import Image, ImageDraw

from dramafactory.tools.image.base import FigureBox, ImageRequest, ImageResult
from dramafactory.tools.speech.base import SpeechRequest, SpeechResult
from dramafactory.tools.text.base import JsonRequest, TextResult

WORDS = ("river stone letter secret money night window promise contract ring truth debt photo key door storm "
         "signal ticket mirror coin").split()


class FakeText:
    """Answers every schema the agents use with plausible, distinct JSON. `broken` replies count down first."""

    name = "fake-text"
    model = "fake"

    def __init__(self, broken: int = 0):
        self.calls = 0
        self.broken = broken
        self._counter = itertools.count(1)

    def complete_json(self, request: JsonRequest) -> TextResult:
        self.calls += 1
        if self.broken > 0:
            self.broken -= 1
            return TextResult('{"line": "unterminated', 10, 3, 0.001, self.model, self.name)
        keys = set(request.schema.get("properties", {}))
        n = next(self._counter)
        w = [WORDS[(n * k) % len(WORDS)] for k in (1, 3, 7)]
        ask = request.messages[-1][1]
        if {"want", "secret"} <= keys:
            goals = ["Win back the family house.", "Become partner at the firm by spring.",
                     "Keep the old scandal buried forever.", "Find the sister who vanished years ago.",
                     "Pay off a gambling debt quietly."]
            reply = {"want": goals[n % len(goals)], "secret": f"Hid the {w[2]} and the {w[0]} from everyone, case {n}."}
        elif {"hook", "cliffhanger"} <= keys:
            name = ask.split("Cast: ")[1].split(" (")[0]
            reply = {"title": f"The {w[0].title()}", "hook": f"{name} finds the {w[0]} ({n}).",
                     "conflict": f"{name} is accused over the {w[1]}.", "cliffhanger": f"The {w[2]} is gone ({n})."}
        elif {"title", "synopsis"} <= keys:
            name = ask.split("Cast: ")[1].split(" (")[0]
            reply = {"title": "The Fake Series", "synopsis": f"{name} fights for the {w[0]}. Nothing is as it seems."}
        elif "action" in keys:
            actor = ask.split("On screen: ")[1].split(",")[0].split(".")[0]
            reply = {"action": f"{actor} slams the {w[0]} on the table near the {w[1]} ({n})."}
        elif "line" in keys:
            reply = {"line": f"I know about the {w[0]} and the {w[1]}, number {n}."}
        elif {"hook_strength", "dialogue_naturalness"} <= keys:  # the eval judge: scores 1-5, or a pick 0-2
            top = request.schema["properties"]["hook_strength"]["maximum"]
            reply = {"hook_strength": top if top == 5 else 1, "dialogue_naturalness": 3 if top == 5 else 2}
        elif {"mood", "lighting"} <= keys:
            reply = {"mood": "tense", "lighting": "hard key light"}
        else:
            raise AssertionError(f"fake text got an unknown schema: {sorted(keys)}")
        return TextResult(json.dumps(reply), 50, 12, 0.001, self.model, self.name)


class FakeImage:
    """Draws busy random shapes (passes the technical QC) and one box per listed character.

    `fail_first` maps a shot id to how many of its first attempts come out black, to exercise the retry loop."""

    name = "fake-image"

    def __init__(self, fail_first: dict[str, int] | None = None):
        self.fail_first = dict(fail_first or {})
        self.rendered: list[tuple[str, int]] = []

    def render(self, request: ImageRequest) -> ImageResult:
        start = time.perf_counter()
        shot = request.shot
        self.rendered.append((shot.id, request.seed))
        attempts = sum(1 for s, _ in self.rendered if s == shot.id)
        rng = np.random.default_rng(request.seed)
        if attempts <= self.fail_first.get(shot.id, 0):
            image = Image.new("RGB", (request.width, request.height), (0, 0, 0))
        else:
            image = Image.fromarray(rng.integers(40, 200, (request.height // 8, request.width // 8, 3),
                                                 dtype=np.uint8)).resize((request.width, request.height))
            draw = ImageDraw.Draw(image)
            for _ in range(30):
                x, y = int(rng.integers(0, request.width)), int(rng.integers(0, request.height))
                draw.line((x, y, x + 60, y + 90), fill=(0, 0, 0), width=3)
        figures = [FigureBox(name, (i * 100, 100, i * 100 + 90, 600), (i * 100, 100, i * 100 + 90, 200))
                   for i, name in enumerate(shot.characters)]
        request.out_path.parent.mkdir(parents=True, exist_ok=True)
        image.save(request.out_path)
        return ImageResult(request.out_path, request.width, request.height, time.perf_counter() - start, self.name,
                           figures)


class FakeSpeech:
    """A tone per line, 0.3 s per word, pitched by the voice so voices differ."""

    name = "fake-speech"

    def synthesize(self, request: SpeechRequest) -> SpeechResult:
        rate = 22050
        seconds = max(0.6, 0.3 * len(request.text.split()))
        t = np.arange(int(seconds * rate)) / rate
        signal = (0.3 * np.sin(2 * np.pi * (120 + 3 * request.voice.pitch) * t) * 32767).astype(np.int16)
        request.out_path.parent.mkdir(parents=True, exist_ok=True)
        with wave.open(str(request.out_path), "wb") as handle:
            handle.setnchannels(1)
            handle.setsampwidth(2)
            handle.setframerate(rate)
            handle.writeframes(signal.tobytes())
        return SpeechResult(request.out_path, seconds, rate, "fake", 0.001)
