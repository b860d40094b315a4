"""The labelled QC set: good storyboard frames and bad ones of each defect kind, made by code (nothing downloaded).

Casts and locations come from the director's own casting code (seeded), so the set looks like what the factory
makes. Every bad frame is a good frame broken in one way that a person would reject:

- black, noise, blurred, wrong_aspect: a broken picture;
- duplicate: the previous shot's frame handed in again;
- wrong_character: a listed character drawn with another cast member's look (the wrong person);
- prompt_mismatch: the frame shows another spec (nobody where people are listed, or other people, or the wrong
  framing);
- palette_drift: the right person, but their wardrobe colour has drifted from the canonical look.
"""

from __future__ import annotations

import colorsys
import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from dramafactory.agents.director.casting import draw_looks, pick_names
from dramafactory.agents.director.places import name_location
from dramafactory.schemas import Character, Location, Look, Shot, Voice
from dramafactory.tools.image.base import ImageRequest
from dramafactory.tools.image.storyboard import StoryboardRenderer, visible_characters

DEFECTS = ("black", "noise", "blurred", "wrong_aspect", "duplicate", "wrong_character", "prompt_mismatch",
           "palette_drift")
FRAMINGS = ("wide", "medium", "two-shot", "over-shoulder", "close-up", "insert")
TIMES = ("day", "dusk", "night", "dawn")


@dataclass
class Case:
    id: str
    kind: str  # "good" or a defect kind
    image: str  # relative to the set folder
    shot: dict
    location: dict
    cast: dict  # the series' whole cast: name -> Character dict (the bible's canonical looks)
    previous: str | None = None  # the frame of the shot before (same scene), for the duplicate check
    previous_shot: str | None = None

    @property
    def bad(self) -> bool:
        return self.kind != "good"


# The settings the labelled set cycles through: the eleven it was labelled on, kept so QC's baseline stays
# comparable when the director gains settings (agents/director/places.py).
QC_SETTINGS = ["bar", "castle", "forest", "home", "hospital", "office", "restaurant", "rooftop", "school", "street",
               "warehouse"]


def _cast(rng: random.Random, seed: int) -> dict[str, Character]:
    genders = [rng.choice(["female", "male"]) for _ in range(3)]
    names = pick_names(genders, "en", seed, avoid=set())
    out = {}
    for name, gender, (look, wardrobe) in zip(names, genders, draw_looks(genders, rng), strict=True):
        out[name] = Character(name=name, role="lead", gender=gender, age=rng.randint(22, 55), look=look,
                              wardrobe=wardrobe, voice=Voice(description="plain", voice_id="en-us"))
    return out


def _location(setting: str, seed: int) -> Location:
    name, interior, description = name_location(setting, seed, "en")
    return Location(name=name, kind="interior" if interior else "exterior", description=description,
                    setting=setting)


def _shot(number: int, framing: str, names: list[str], location: Location, tod: str, seed: int) -> Shot:
    speaker = names[-1] if names else None
    return Shot(id=f"e01s{number:02d}", episode=1, scene=1, index=number, framing=framing, duration_s=2.5,
                characters=names, speaker=speaker, location=location.name, time_of_day=tod,
                action=f"{' and '.join(names) or 'The room'} in a {framing} shot.", prompt="storyboard panel",
                seed=seed)


def _people_for(framing: str, names: list[str], rng: random.Random) -> list[str]:
    if framing == "insert":
        return [rng.choice(names)]
    if framing in ("two-shot", "over-shoulder"):
        return rng.sample(names, 2)
    if framing == "wide":
        return rng.sample(names, rng.choice([0, 1, 2, 3]))
    return [rng.choice(names)]


def _drifted(character: Character, degrees: float) -> Character:
    """The same character with the hue of their wardrobe turned by `degrees` (a continuity slip)."""
    main = character.look.palette[0]
    r, g, b = (int(main[i:i + 2], 16) / 255 for i in (1, 3, 5))
    h, s, v = colorsys.rgb_to_hsv(r, g, b)
    s, v = max(s, 0.35), min(max(v, 0.35), 0.9)  # a grey turned by hue stays grey: give it some colour first
    r, g, b = colorsys.hsv_to_rgb((h + degrees / 360) % 1.0, s, v)
    turned = "#{:02x}{:02x}{:02x}".format(*(round(c * 255) for c in (r, g, b)))
    look = Look.model_validate({**character.look.model_dump(), "palette": [turned, *character.look.palette[1:]]})
    return character.model_copy(update={"look": look})


def build(out: Path, *, series: int = 4, shots_per_series: int = 12, width: int = 360, height: int = 640,
          seed: int = 0) -> list[Case]:
    """Render the set into `out` (frames + cases.jsonl) and return its cases."""
    renderer = StoryboardRenderer()
    out.mkdir(parents=True, exist_ok=True)
    (out / "frames").mkdir(exist_ok=True)
    cases: list[Case] = []
    settings = QC_SETTINGS

    def render(shot: Shot, cast: dict[str, Character], location: Location, name: str, take_seed: int) -> str:
        path = out / "frames" / f"{name}.png"
        renderer.render(ImageRequest(shot=shot, cast=cast, location=location, seed=take_seed, out_path=path,
                                     width=width, height=height))
        return str(path.relative_to(out))

    def case(cid: str, kind: str, image: str, shot: Shot, location: Location, cast: dict[str, Character],
             previous: tuple[str, str] | None) -> Case:
        return Case(id=cid, kind=kind, image=image, shot=shot.model_dump(mode="json"),
                    location=location.model_dump(mode="json"),
                    cast={n: c.model_dump(mode="json") for n, c in cast.items()},
                    previous=previous[0] if previous else None, previous_shot=previous[1] if previous else None)

    for s in range(series):
        rng = random.Random(seed * 1000 + s)
        cast = _cast(rng, seed * 1000 + s)
        names = list(cast)
        previous: tuple[str, str] | None = None
        location = _location(settings[(s * 3) % len(settings)], s)
        for i in range(shots_per_series):
            if i == shots_per_series // 2:  # a second scene
                location, previous = _location(settings[(s * 3 + 5) % len(settings)], s + 50), None
            framing = FRAMINGS[(i + s) % len(FRAMINGS)]
            tod = TIMES[(int(i >= shots_per_series // 2) * 2 + s) % len(TIMES)]  # a scene keeps its light
            people = _people_for(framing, names, rng)
            shot = _shot(i + 1, framing, people, location, tod, rng.randrange(1 << 30))
            base = f"s{s}_{shot.id}"
            good = render(shot, cast, location, f"{base}_good", shot.seed)
            cases.append(case(f"{base}_good", "good", good, shot, location, cast, previous))
            kind = DEFECTS[(i + s * 5) % len(DEFECTS)]
            bad = _make_bad(kind, out, base, good, shot, cast, location, previous, names, rng, render)
            if bad is not None:
                cases.append(case(f"{base}_{kind}", kind, bad, shot, location, cast, previous))
            previous = (good, shot.id)
    with (out / "cases.jsonl").open("w", encoding="utf-8") as handle:
        for c in cases:
            handle.write(json.dumps(asdict(c)) + "\n")
    return cases


def _make_bad(kind, out, base, good, shot, cast, location, previous, names, rng, render) -> str | None:
    path = out / "frames" / f"{base}_{kind}.png"
    image = Image.open(out / good).convert("RGB")
    W, H = image.size
    visible = visible_characters(shot)
    if kind == "black":
        level = rng.randint(0, 10)
        Image.fromarray(np.full((H, W, 3), level, np.uint8)).save(path)
    elif kind == "noise":
        gen = np.random.default_rng(rng.randrange(1 << 30))
        Image.fromarray(gen.integers(0, 256, (H, W, 3), dtype=np.uint8)).save(path)
    elif kind == "blurred":
        image.filter(ImageFilter.GaussianBlur(radius=rng.uniform(3.0, 6.0))).save(path)
    elif kind == "wrong_aspect":
        box = (0, (H - W) // 2, W, (H + W) // 2) if rng.random() < 0.5 else (0, 0, W, round(W * 9 / 16 * 2))
        image.crop(box).save(path)
    elif kind == "duplicate":
        if previous is None:
            return None
        Image.open(out / previous[0]).save(path)
    elif kind == "wrong_character":
        if not visible:
            return None
        who = rng.choice(visible)
        stranger = rng.choice([n for n in names if n not in shot.characters] or [n for n in names if n != who])
        swapped = {**cast, who: cast[stranger].model_copy(update={"name": who})}
        return render(shot, swapped, location, f"{base}_{kind}", shot.seed)
    elif kind == "prompt_mismatch":
        if visible and rng.random() < 0.4:  # the right people, the wrong framing
            framing = "medium" if shot.framing == "wide" else "wide"
            drawn = shot.model_copy(update={"framing": framing, "characters": visible})
        elif visible:
            others = [n for n in names if n not in shot.characters]
            drawn = shot.model_copy(update={"characters": others[:1], "speaker": None, "framing": "medium"}) \
                if others else shot.model_copy(update={"characters": [], "speaker": None})
        else:
            drawn = shot.model_copy(update={"characters": [names[0]], "speaker": names[0], "framing": "medium"})
        return render(drawn, cast, location, f"{base}_{kind}", shot.seed)
    elif kind == "palette_drift":
        if not visible:
            return None
        who = rng.choice(visible)
        drifted = {**cast, who: _drifted(cast[who], rng.choice([-1, 1]) * rng.uniform(25, 45))}
        return render(shot, drifted, location, f"{base}_{kind}", shot.seed)
    return str(path.relative_to(out))


def load(folder: Path) -> list[Case]:
    lines = (folder / "cases.jsonl").read_text(encoding="utf-8").splitlines()
    return [Case(**json.loads(line)) for line in lines if line.strip()]
