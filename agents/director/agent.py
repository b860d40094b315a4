"""The director: writes the series bible from a concept.

Code decides cast slots, looks, voices and locations (agents/director/casting.py) under both strategies. With
text_strategy "tiny" (the packaged 0.5B model, agents/director/tiny.py) code also names the cast and the model
writes each character's want and secret, the title and synopsis, and one outline per episode, one small call at a
time; with "capable" (agents/director/capable.py) one call writes the cast, title and synopsis and one more all the
outlines, checked by the same validators (agents/director/checks.py).
"""

from __future__ import annotations

from dramafactory.schemas import SeriesBible, SeriesConcept

from ..context import AgentContext
from . import capable, tiny
from .checks import STOCK_PROFILES, Outline, Profile, TitleSynopsis

__all__ = ["STOCK_PROFILES", "Outline", "Profile", "TitleSynopsis", "write_bible"]


def write_bible(ctx: AgentContext, concept: SeriesConcept, seed: int, note: str | None = None) -> SeriesBible:
    """`note`: a reviewer's note on a rejected draft; it goes into every ask (the graph also changes the seed)."""
    strategy = capable.write_bible if ctx.settings.text_strategy == "capable" else tiny.write_bible
    return strategy(tiny.DirectorAsk(ctx, concept, seed, note))
