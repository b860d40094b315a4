"""Optional LLM judge: craft scores (hook strength, dialogue naturalness) on a rubric, through the configured text
backend (a big model on a vLLM server judges better than the embedded 0.5B one; the code is the same).

A judge is a noisy instrument, so it is run with several seeds and reports how well it agrees with itself; in A/B
mode it sees the two versions unlabelled and in both orders, so neither its position bias nor a label decides.
"""

from __future__ import annotations

from itertools import combinations

from pydantic import BaseModel, Field

from dramafactory.agents.structured import StructuredOutputError, ask_json
from dramafactory.schemas import EpisodeScript
from dramafactory.tools.ledger import Ledger
from dramafactory.tools.text.base import TextBackend

from . import judge_prompts as prompts

CRITERIA = tuple(prompts.RUBRIC)
RUBRIC_TEXT = "\n".join(f"- {name}: {text}" for name, text in prompts.RUBRIC.items())
MAX_SCRIPT_CHARS = 1800  # keep the prompt inside a small model's context


class Scores(BaseModel):
    hook_strength: int = Field(ge=1, le=5)
    dialogue_naturalness: int = Field(ge=1, le=5)


class Preference(BaseModel):
    hook_strength: int = Field(ge=0, le=2)
    dialogue_naturalness: int = Field(ge=0, le=2)


def script_text(script: EpisodeScript) -> str:
    out = []
    for scene in script.scenes:
        for beat in scene.beats:
            out.append(f"{beat.kind.upper()}: {beat.action}")
            out += [f"{line.speaker.split()[0].upper()}: {line.text}" for line in beat.lines]
    return "\n".join(out)[:MAX_SCRIPT_CHARS]


def agreement(values: list[int]) -> float:
    """Share of seed pairs whose scores are within one point of each other. Fewer than two answers cannot show
    agreement, so they score 0 (a judge that mostly fails to answer is not a consistent one)."""
    pairs = list(combinations(values, 2))
    return round(sum(abs(a - b) <= 1 for a, b in pairs) / len(pairs), 4) if pairs else 0.0


def judge_scripts(text: TextBackend, ledger: Ledger, scripts: list[EpisodeScript], seeds: list[int]) -> dict:
    """Per criterion: the mean score over episodes and seeds, and the judge's self-agreement across seeds."""
    per_criterion: dict[str, list[list[int]]] = {c: [] for c in CRITERIA}
    failed = 0
    for script in scripts:
        by_seed: dict[str, list[int]] = {c: [] for c in CRITERIA}
        for seed in seeds:
            try:
                scores = ask_json(text, ledger, stage="eval.judge", schema=Scores, system=prompts.SYSTEM,
                                  examples=[prompts.SCORE_EXAMPLE], seed=seed, temperature=0.7, max_tokens=40,
                                  ask=prompts.SCORE_ASK.format(rubric=RUBRIC_TEXT, script=script_text(script)))
            except StructuredOutputError:
                failed += 1
                continue
            for c in CRITERIA:
                by_seed[c].append(getattr(scores, c))
        for c in CRITERIA:
            if by_seed[c]:
                per_criterion[c].append(by_seed[c])
    out: dict = {"seeds": seeds, "unanswered": failed}
    for c, episodes in per_criterion.items():
        flat = [v for e in episodes for v in e]
        out[c] = {"mean": round(sum(flat) / len(flat), 3) if flat else None,
                  "agreement": round(sum(agreement(e) for e in episodes) / len(episodes), 4) if episodes else None}
    return out


def _pick(text: TextBackend, ledger: Ledger, first: EpisodeScript, second: EpisodeScript, seed: int
          ) -> Preference | None:
    try:
        return ask_json(text, ledger, stage="eval.judge_pair", schema=Preference, system=prompts.SYSTEM,
                        examples=[prompts.PAIR_EXAMPLE], seed=seed, temperature=0.7, max_tokens=40,
                        ask=prompts.PAIR_ASK.format(rubric=RUBRIC_TEXT, first=script_text(first),
                                                    second=script_text(second)))
    except StructuredOutputError:
        return None


def judge_pair(text: TextBackend, ledger: Ledger, a: EpisodeScript, b: EpisodeScript, seed: int) -> dict[str, str]:
    """Which of two versions is better per criterion: 'a', 'b' or 'tie'. The judge sees them unlabelled ("version
    1", "version 2") twice, in both orders: a side wins only when it wins both times, so a judge that favours a
    position (small models do) produces ties, not a winner."""
    votes = []
    for first_is_a in (True, False):
        first, second = (a, b) if first_is_a else (b, a)
        pick = _pick(text, ledger, first, second, seed)
        votes.append({c: "tie" if pick is None or getattr(pick, c) == 0 else
                      ("a" if (getattr(pick, c) == 1) == first_is_a else "b") for c in CRITERIA})
    return {c: votes[0][c] if votes[0][c] == votes[1][c] else "tie" for c in CRITERIA}
