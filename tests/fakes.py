"""Fake backends for tests only (named as fakes): fast, deterministic, with the same contracts as the real ones."""

from __future__ import annotations

import itertools
import json
import threading
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
    """Answers every schema the agents use with plausible, distinct JSON. `broken` replies count down first.

    Agents call it from several threads at once when a test gives it a `max_in_flight` above 1: the counters are
    guarded by a lock. The answers to the capable strategy's schemas (a cast, a batch of outlines, a scene) depend
    only on the request and a locked line cursor, so they are the same whichever thread asks first."""

    name = "fake-text"
    model = "fake"

    def __init__(self, broken: int = 0):
        self.calls = 0
        self.broken = broken
        self._counter = itertools.count(1)
        self._lines = itertools.count(0)  # cursor into SCENE_LINES: a scene's lines never repeat an earlier scene's
        self._lock = threading.Lock()

    def complete_json(self, request: JsonRequest) -> TextResult:
        with self._lock:
            self.calls += 1
            broken = self.broken > 0
            if broken:
                self.broken -= 1
        if broken:
            return TextResult('{"line": "unterminated', 10, 3, 0.001, self.model, self.name)
        keys = set(request.schema.get("properties", {}))
        ask = request.messages[-1][1]
        capable = self._capable(request, keys, ask)
        if capable is not None:
            return TextResult(json.dumps(capable), 200, 120, 0.001, self.model, self.name)
        with self._lock:
            n = next(self._counter)
        w = [WORDS[(n * k) % len(WORDS)] for k in (1, 3, 7)]
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

    def _capable(self, request: JsonRequest, keys: set[str], ask: str) -> dict | None:
        """The capable strategy's schemas (agents/*/capable.py), or None for the tiny ones."""
        if {"characters", "title", "synopsis"} <= keys:
            return fake_cast(request.seed, ask)
        if keys == {"episodes"}:
            count = request.schema["properties"]["episodes"]["minItems"]
            first = int(ask.split("Episodes ")[1].split(" ")[0])
            name = ask.split("Cast: ")[1].split(" (")[0]
            return {"episodes": [fake_outline(first + i, name) for i in range(count)]}
        if keys and keys <= BEAT_KINDS:
            beats = {kind: _resolve(request.schema, request.schema["properties"][kind]) for kind in keys}
            total = sum(_line_count(beat) for beat in beats.values())
            with self._lock:
                start = next(self._lines)
                for _ in range(total - 1):
                    next(self._lines)
            return fake_scene(request.schema, list(request.schema["properties"]), start)
        return None


BEAT_KINDS = {"hook", "pressure", "reveal", "reversal", "cliffhanger"}
FEMALE_FIRST = ["Nora", "Irene", "Lena", "Clara", "Maya", "Elise", "Hazel", "Greta"]
MALE_FIRST = ["Owen", "Felix", "Jonah", "Marcus", "Caleb", "Hugo", "Simon", "Elliot"]
LAST_NAMES = ["Whitfield", "Okafor", "Lindqvist", "Moreau", "Castillo", "Brennan", "Novak", "Ashby", "Calloway",
              "Ferreira"]
CAST_WANTS = [("To learn the truth about the night the family fell apart.",
               "Kept a letter that proves who lied to the police."),
              ("To keep the fortune and the good name at any cost.",
               "Paid a clerk to change the hospital records years ago."),
              ("To see an old friend finally get a fair chance.",
               "Has been reporting every move to the other side.")]
CAST_ROLES = ["protagonist", "antagonist", "ally"]
DESCRIPTIONS = ["the one who finds out", "the rival with most to lose", "the loyal friend"]
CLIFFHANGERS = ["A stranger at the door holds a photo of the missing will.",
                "The safe is open and the deed is gone.", "Sirens stop right outside the building.",
                "A second birth certificate falls out of the file.", "Somebody has changed the locks overnight.",
                "The lawyer is found holding a plane ticket to Lisbon.", "A voicemail plays from a number long dead.",
                "The wedding invitation carries a forged signature.", "Blood tests come back with a new surname.",
                "The car from the accident is parked in the garage.", "A confession arrives in an unsigned envelope.",
                "The witness recants on live television."]
SCENE_ACTIONS = {
    "hook": "{a} bursts in holding a torn envelope while {b} freezes by the window.",
    "pressure": "{b} corners {a} against the wall and blocks the only door.",
    "reveal": "{a} spreads old photographs across the table in front of {b}.",
    "reversal": "{a} holds up a phone playing a recording as {b} goes pale.",
    "cliffhanger": "{b} turns to leave and finds the door locked, {a} watching from the dark.",
}
SCENE_LINES = [
    "You swore you would never come back here.", "I paid for your silence once. Never again.",
    "Nobody in this city remembers your real name.", "Give me the key, or I call the police.",
    "I watched you sign those papers with my own eyes.", "Why does your signature match the one on the loan?",
    "Every penny you took, I can trace back to you.", "My mother cried for a year because of you.",
    "Stop pretending you do not know who I am.", "That photo was taken the night the fire started.",
    "I would rather lose everything than owe you anything.", "The lawyers arrive at nine. Be ready or be gone.",
    "You have one hour to tell me the truth.", "I kept the receipt. You forgot about the receipt.",
    "If you walk out that door, do not return.", "Tell me who else knows about the account.",
    "Twenty years I waited for you to say sorry.", "Your hands are shaking. What are you hiding now?",
    "I never wanted your money, only an honest answer.", "The ring in that drawer belonged to my grandmother.",
    "Look at me and swear it was an accident.", "Half of this company should have been mine.",
    "I called the hospital. They never heard of you.", "We both know the will was changed last spring.",
    "Keep your voice down, the guards can hear us.", "You taught me to lie, so do not act surprised.",
    "Sign here and the whole thing disappears tonight.", "I found the ticket under your mattress this morning.",
    "Your brother called me before he vanished, did you know?", "One more lie and I tell everyone at the gala.",
    "The file is gone, and so is your alibi.", "I trusted you with my life, and you sold it.",
    "Do you really think the press will believe you?", "That necklace was evidence, and you pawned it.",
    "I am done protecting you from your own mistakes.", "Meet me at the pier at midnight, come alone.",
    "The doctor confirmed it. The blood test matches.", "You owe me a name, and I want it now.",
    "Somebody paid the guard to look the other way.", "Tomorrow the truth comes out, whether you like it or not.",
]


def fake_cast(seed: int, ask: str) -> dict:
    """Three distinct people in the required roles; the lead's gender follows the ask's rule when it states one."""
    lead = "female" if "protagonist is female" in ask else "male" if "protagonist is male" in ask else \
        ["female", "male"][seed % 2]
    other = "male" if lead == "female" else "female"
    genders = [lead, other, other]
    pools = {"female": FEMALE_FIRST, "male": MALE_FIRST}
    people = []
    for index, gender in enumerate(genders):
        first = pools[gender][(seed + 3 * index) % len(pools[gender])]
        last = LAST_NAMES[(seed + index) % len(LAST_NAMES)]
        want, secret = CAST_WANTS[index]
        people.append({"role": CAST_ROLES[index], "name": f"{first} {last}", "gender": gender, "age": 28 + 7 * index,
                       "description": DESCRIPTIONS[index], "want": want, "secret": secret})
    return {"characters": people, "title": "The Fake Capable Series",
            "synopsis": f"{people[0]['name']} takes on {people[1]['name']}. Nothing is as it seems."}


def fake_outline(number: int, name: str) -> dict:
    first = name.split()[0]
    return {"title": f"Chapter {number}", "hook": f"{first} opens a locked drawer in episode {number}.",
            "conflict": f"{first} is accused of theft in front of everyone.",
            "cliffhanger": CLIFFHANGERS[(number - 1) % len(CLIFFHANGERS)]}


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _line_count(beat: dict) -> int:
    lines = beat["properties"]["lines"]
    return (lines["minItems"] + lines["maxItems"]) // 2  # the planned count: the schema allows one either side


def fake_scene(schema: dict, kinds: list[str], start: int) -> dict:
    reply = {}
    cursor = start
    for kind in kinds:
        beat = _resolve(schema, schema["properties"][kind])
        line = _resolve(schema, beat["properties"]["lines"]["items"])
        speakers = line["properties"]["speaker"]["enum"]
        emotions = line["properties"]["emotion"]["enum"]
        a, b = (s.split()[0] for s in speakers)
        lines = []
        for i in range(_line_count(beat)):
            # speakers alternate through the scene, so both of its people speak
            lines.append({"speaker": speakers[(cursor - start) % 2], "emotion": emotions[i % len(emotions)],
                          "text": SCENE_LINES[cursor % len(SCENE_LINES)]})
            cursor += 1
        reply[kind] = {"action": SCENE_ACTIONS[kind].format(a=a, b=b), "lines": lines}
    return reply


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


def pan_clip(request, backend: str, model: str):  # noqa: ANN001, ANN201 - a ClipRequest -> ClipResult
    """A fake clip: the keyframe panning sideways at 8 fps for the requested length, written as a real video file
    (what the fake video backends of the tests make)."""
    import math

    from dramafactory.tools.video.base import ClipResult
    from dramafactory.tools.video.encode import write_clip

    key = np.asarray(Image.open(request.keyframe).convert("RGB").resize((90, 160)))
    count = math.ceil(request.duration_s * 8) + 1
    request.out_path.parent.mkdir(parents=True, exist_ok=True)
    width, height, frames = write_clip([np.roll(key, i, axis=1) for i in range(count)], request.out_path, 8.0)
    return ClipResult(path=request.out_path, frames=frames, fps=8.0, width=width, height=height, seconds=0.01,
                      backend=backend, model=model, duration_s=frames / 8.0)
