"""Who is seen and where they stand: the cast placed by the shot's framing, screen-left first."""

from __future__ import annotations

import random

from dramafactory.schemas import Shot

from .figure import Place
from .looks import FigureLook


def visible_characters(shot: Shot) -> list[str]:
    """Who the renderer draws for this shot, screen-left first: a close-up shows only its subject, an insert
    shows a hand (nobody's face)."""
    if shot.framing == "insert" or not shot.characters:
        return []
    if shot.framing == "close-up":
        return [shot.speaker if shot.speaker in shot.characters else shot.characters[0]]
    return list(shot.characters)


def place_cast(shot: Shot, looks: dict[str, FigureLook], pw: float, ph: float, rng: random.Random,
               clear: bool = False) -> list[Place]:
    """Where each of the shot's characters stands, by framing. `clear` (a retry after someone was missing or
    hidden): everyone stands in from the frame's edges, apart from each other and facing the camera, with no
    blocking jitter; the framing's scale is kept so a closer shot still reads as close."""
    names = list(shot.characters)
    framing = shot.framing
    jit = [0.0 if clear else rng.uniform(-1, 1) for _ in range(8)]

    def speaking(n: str) -> bool:
        return shot.speaker == n

    def height_shift(n: str, h: float) -> float:
        return -(looks[n].height - 1.0) * 3.5 * h

    if not names or framing == "insert":
        return []
    if framing == "over-shoulder" and (len(names) < 2 or clear):
        # a shoulder in the foreground is cut by the frame's edge by design: staged clear, both face the camera
        framing = "medium" if len(names) < 2 else "two-shot"
    if framing == "close-up":
        n = shot.speaker if shot.speaker in names else names[0]
        h = ph * (0.26 if clear else 0.42)  # staged clear: a medium close-up, head and shoulders inside the frame
        return [Place(n, pw * 0.5 + jit[0] * 10, ph * 0.39, h, speaking=speaking(n), gaze=0.3 * jit[1])]
    if framing == "over-shoulder":
        fg, bg = names[0], names[1]
        h_bg = ph * 0.17
        out = [Place(bg, pw * 0.64 + jit[0] * 8, ph * 0.31 + height_shift(bg, h_bg) * 0.5, h_bg, gaze=-0.9,
                      speaking=speaking(bg))]
        for i, extra in enumerate(names[2:]):
            out.insert(0, Place(extra, pw * (0.88 - 0.12 * i), ph * 0.3, ph * 0.12, gaze=-0.6, speaking=speaking(extra)))
        out.append(Place(fg, pw * 0.13 + jit[1] * 6, ph * 0.56, ph * 0.34, back=True))
        return out
    if framing == "wide" or (framing in ("medium", "two-shot") and len(names) > 3):
        n = len(names)
        h0 = ph * (0.062 if n <= 4 else 0.05)
        out = []
        for i, name in enumerate(names):
            x = pw * (0.5 if n == 1 else (0.26 + 0.48 * i / (n - 1) if clear else 0.2 + 0.6 * i / (n - 1)))
            feet = ph * (0.87 + 0.025 * ((i % 2) - 0.5) + 0.01 * jit[i % 8])
            h = h0 * looks[name].height
            out.append(Place(name, x + jit[(i + 3) % 8] * 6, feet - 7.0 * h, h, speaking=speaking(name),
                              gaze=(0.6 if x < pw * 0.5 else -0.6) if n > 1 else 0.0))
        return sorted(out, key=lambda p: p.cy + 7 * p.h)
    # medium / two-shot: waist up
    n = len(names)
    if n == 1:
        h = ph * 0.2
        return [Place(names[0], pw * 0.5 + jit[0] * 12, ph * 0.3 + height_shift(names[0], h), h,
                       speaking=speaking(names[0]), gaze=0.3 * jit[1])]
    h = ph * (0.15 if framing == "two-shot" else 0.16) * (0.85 if n == 3 else 1.0) * (0.9 if clear else 1.0)
    xs = ([0.33, 0.67] if n == 2 else [0.24, 0.5, 0.76]) if clear else ([0.28, 0.72] if n == 2 else [0.2, 0.5, 0.8])
    out = [Place(name, pw * xs[i] + jit[i] * 8, ph * 0.33 + height_shift(name, h), h, speaking=speaking(name),
                  gaze=0.7 if i == 0 else -0.7) for i, name in enumerate(names)]
    # the speaker is drawn last (in front) when shoulders overlap
    return sorted(out, key=lambda p: p.speaking)
