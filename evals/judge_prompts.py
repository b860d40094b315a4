"""The LLM judge's rubric. Scores are 1-5 per criterion, each level described, so two runs of the judge (and two
judges) mean the same thing by a 3."""

SYSTEM = (
    "You are a script editor for vertical micro-dramas (1-3 minute episodes watched on a phone). You score craft "
    "strictly by the rubric and answer with JSON only."
)

RUBRIC = {
    "hook_strength": (
        "How strongly the first seconds make a viewer keep watching. "
        "1: nothing happens, or only setup. 2: a situation but no stakes. 3: a clear conflict. "
        "4: a shock or a sharp threat in the first line. 5: a shock, a threat and a question the viewer needs "
        "answered, all at once."
    ),
    "dialogue_naturalness": (
        "How much the lines sound like people talking, not narration or summary. "
        "1: narration, stage directions or repeated lines. 2: stiff, explains the plot. 3: speakable but generic. "
        "4: distinct voices, subtext. 5: every line could be said on screen as written, with character in it."
    ),
}

SCORE_ASK = """Score this episode script on the rubric.

Rubric:
{rubric}

Script:
{script}

Answer as JSON: {{"hook_strength": 1-5, "dialogue_naturalness": 1-5}}"""

SCORE_EXAMPLE = (
    SCORE_ASK.format(rubric="(as above)", script="HOOK: Anna finds the ring in her sister's purse.\n"
                     "ANNA: You told me he never proposed.\nLENA: He didn't. He proposed to you first."),
    '{"hook_strength": 4, "dialogue_naturalness": 4}',
)

PAIR_ASK = """Two versions of the same episode. Which is better on each criterion? Answer 1, 2 or 0 for a tie.

Rubric:
{rubric}

Version 1:
{first}

Version 2:
{second}

Answer as JSON: {{"hook_strength": 0-2, "dialogue_naturalness": 0-2}}"""

# The example prefers version 1 on one criterion and version 2 on the other, so it teaches no position.
PAIR_EXAMPLE = (
    PAIR_ASK.format(rubric="(as above)",
                    first="HOOK: A gunshot in the ward.\nANNA: Hello. How are you today? I am fine.",
                    second="HOOK: Anna folds towels.\nANNA: You told me he never proposed. Then whose ring is this?"),
    '{"hook_strength": 1, "dialogue_naturalness": 2}',
)
