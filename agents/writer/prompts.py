"""Prompts of the writer: one beat's action, or one spoken line for a fixed speaker, per call."""

import json

SYSTEM = (
    "You are the writer of a vertical micro-drama: short, sharp, emotional. You answer with one JSON object and "
    "nothing else. Dialogue is what the character says out loud, in the first person, to the other character: "
    "never narration, never stage directions, never the character's own name."
)

BEAT_GUIDE = {
    "hook": "grab the viewer in the first seconds: a discovery, an accusation or a danger",
    "pressure": "the other side pushes back hard; threats, demands or humiliation",
    "reveal": "a secret comes out that changes what we thought",
    "reversal": "the lead turns the tables with a plan, proof or an ally",
    "cliffhanger": "end on a shock that makes the viewer need the next episode",
}

ACTION_ASK = (
    "Premise: {premise}\nEpisode: {outline}\n{established}Scene: {location}, {time}. On screen: {characters}.\n"
    "Beat: {kind} ({guide}).\nDescribe what we see in this beat: one sentence, present tense, at most 20 words, "
    "naming who acts."
)
ACTION_EXAMPLE_TEXT = "Rosa pulls a forged letter from Victor's desk drawer as his footsteps approach."
ACTION_EXAMPLE = (
    ACTION_ASK.format(
        premise="A hotel maid, Rosa Diaz, discovers the heir she is marrying, Victor Hale, framed her brother.",
        outline="Rosa finds proof her fiance Victor framed her brother; Victor catches her.", established="",
        location="Hale Tower, 32nd floor", time="night", characters="Rosa Diaz, Victor Hale", kind="hook",
        guide=BEAT_GUIDE["hook"],
    ),
    json.dumps({"action": ACTION_EXAMPLE_TEXT}),
)
ESTABLISHED = "Already established: {facts}\n"

# What each beat's line does with the premise: a line knows its purpose and who it is said to.
LINE_PURPOSE = {
    "hook": "confront {listener} with what you just found out",
    "pressure": "push back hard: deny it, or threaten what {listener} stands to lose",
    "reveal": "say the truth out loud: {truth}",
    "reversal": "turn it around: plead, or use what you know",
    "cliffhanger": "raise the stakes: {stakes}",
}
DEFAULT_STAKES = "what happens if the truth comes out"

LINE_ASK = (
    "You are {speaker} ({role}; you want {want}). You talk to {listener}{tie}, feeling {emotion}.\n"
    "The story: {premise}\nScene: {action}\nSaid so far:\n{earlier}\nYour line must {purpose}. Say it to "
    "{listener_first}: at most 14 words, in your own voice (I, me, my), new words."
)
LINE_EXAMPLES = [
    (
        LINE_ASK.format(
            action="Rosa pulls a forged letter from Victor's desk drawer as his footsteps approach.",
            speaker="Rosa Diaz", role="protagonist, the hotel maid", want="to clear your brother's name",
            listener="Victor Hale", tie=", the heir you are marrying", emotion="shocked",
            premise="A hotel maid, Rosa Diaz, discovers the heir she is marrying, Victor Hale, framed her brother.",
            earlier="(none)", purpose="confront Victor with what you just found out", listener_first="Victor",
        ),
        '{"line": "You signed my brother\'s name on this. You sent him to prison."}',
    ),
    (
        LINE_ASK.format(
            action="Victor snatches the letter and backs Rosa against the window.",
            speaker="Victor Hale", role="antagonist, the heir", want="to keep your family's fortune",
            listener="Rosa Diaz", tie=", the maid you are marrying", emotion="mocking",
            premise="A hotel maid, Rosa Diaz, discovers the heir she is marrying, Victor Hale, framed her brother.",
            earlier="Rosa Diaz: You signed my brother's name on this.",
            purpose="push back hard: deny it, or threaten what Rosa stands to lose", listener_first="Rosa",
        ),
        '{"line": "Prove it. Who would believe a maid over a Hale?"}',
    ),
]

# Stock lines for when the model gives no acceptable line after its re-asks: used, and flagged, never silently.
STOCK_LINES = {
    "hook": ["What is this? Tell me this isn't what I think it is.", "You lied to me. All this time, you lied.",
             "Don't come any closer. I saw everything."],
    "pressure": ["You have until tomorrow. After that, you lose everything.", "Nobody will believe you. Nobody.",
                 "Sign it, or walk out of here with nothing."],
    "reveal": ["It was you. It was always you.", "I know what you did that night.",
               "The money, the lies... you planned all of it."],
    "reversal": ["Then let's see who they believe when they hear this recording.",
                 "You forgot one thing. I kept a copy.", "From now on, we play by my rules."],
    "cliffhanger": ["Wait... then who sent the letter?", "If you tell them, we both go down.",
                    "There's something you still don't know about me."],
}

# Premise-aware stock lines: said by the lead to the person the relation ties them to ({kind}: "father"), or
# about the discovery; the plain ones above when the premise gives no relation.
RELATION_STOCK_LINES = {
    "hook": ["I know who you are. Don't you dare pretend you don't know me."],
    "pressure": ["Walk away from me again, and everyone learns what you did."],
    "reveal": ["You're my {kind}. All this time, you were my {kind}."],
    "reversal": ["You owe me the truth. You owe me that much, at least."],
    "cliffhanger": ["If anyone finds out you're my {kind}, we both lose everything."],
}

EXAMPLE_NAMES = {"Rosa", "Diaz", "Victor", "Hale", "Tom", "Reyes"}
EXAMPLE_TEXTS = [
    ACTION_EXAMPLE_TEXT,
    "You signed my brother's name on this. You sent him to prison.",
    "Prove it. Who would believe a maid over a Hale?",
]

# The capable strategy (text_strategy "capable"): one call writes a whole scene, its beats' actions and lines. The
# example reuses the names and sentences above, so no_copy_of_example knows them.
SCENE_ASK = (
    "Episode: {outline}\nScene: {location}, {time}. On screen: {characters}.\n{people}\n"
    "Write this scene as {count} beats, in this order:\n{beats}\n"
    "For each beat: the action (what we see: one sentence, present tense, at most 20 words, naming who acts) and "
    "its lines. A line is only the words {first} or {second} say out loud to the other: first person, at most 14 "
    "words, never narration, never stage directions, never the speaker's own name. Both of them speak; every line "
    "says something new."
)
SCENE_BEAT = "- {kind} ({guide}): {count} lines"
SCENE_PERSON = "{name}: {role}; wants {want}."
SCENE_EXAMPLE = (
    SCENE_ASK.format(
        outline="Rosa finds proof her fiance Victor framed her brother; Victor catches her.",
        location="Hale Tower, 32nd floor", time="night", characters="Rosa Diaz, Victor Hale",
        people="Rosa Diaz: protagonist, the hotel maid; wants to clear her brother's name.\n"
               "Victor Hale: antagonist; wants to keep his family's fortune.",
        count=2, beats="- hook (a discovery, an accusation or a danger): 2 lines\n"
                       "- pressure (the other side pushes back hard): 1 lines",
        first="Rosa", second="Victor",
    ),
    '{"hook": {"action": "Rosa pulls a forged letter from Victor\'s desk drawer as his footsteps approach.", '
    '"lines": [{"speaker": "Rosa Diaz", "emotion": "shocked", "text": "You signed my brother\'s name on this. '
    'You sent him to prison."}, {"speaker": "Victor Hale", "emotion": "cold", "text": "Put that down before you '
    'hurt yourself."}]}, '
    '"pressure": {"action": "Victor snatches the letter and backs Rosa against the window.", '
    '"lines": [{"speaker": "Victor Hale", "emotion": "mocking", "text": "Prove it. Who would believe a maid over a '
    'Hale?"}]}}',
)
CAPABLE_EXAMPLE_TEXTS = EXAMPLE_TEXTS + [
    "Put that down before you hurt yourself.",
    "Victor snatches the letter and backs Rosa against the window.",
]
