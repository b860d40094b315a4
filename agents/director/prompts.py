"""Prompts of the director: each asks for one small JSON object, with a worked example first."""

SYSTEM = (
    "You are the director of a vertical micro-drama series (1-minute episodes, a hook in the first seconds, "
    "a cliffhanger at the end). You answer with one JSON object and nothing else. Use only the character names "
    "you are given. Be concrete and short."
)

PROFILE_ASK = (
    "Series: {logline}\nGenre: {genre}. Tone: {tone}.\nCast: {cast}\n"
    "Write the private want and the hidden secret of {name}, the {role}. One short sentence each, about this "
    "series' story."
)
PROFILE_EXAMPLES = [
    (
        PROFILE_ASK.format(
            logline="A hotel maid discovers the heir she is marrying framed her brother.", genre="revenge",
            tone="melodramatic", cast="Rosa Diaz (protagonist), Victor Hale (antagonist), Tom Reyes (ally)",
            name="Victor Hale", role="antagonist",
        ),
        '{"want": "To keep control of the Hale fortune before his father dies.", '
        '"secret": "He forged the evidence that sent Rosa\'s brother to prison."}',
    ),
    (
        PROFILE_ASK.format(
            logline="A food-truck cook falls for the health inspector who could shut her down.", genre="romance",
            tone="warm", cast="Ana Silva (protagonist), Ben Ortiz (antagonist), Lucy Park (ally)",
            name="Lucy Park", role="ally",
        ),
        '{"want": "To see Ana finally put herself first.", '
        '"secret": "She reported the truck to the inspector by mistake."}',
    ),
]

TITLE_ASK = (
    "Series: {logline}\nGenre: {genre}. Tone: {tone}.\nCast: {cast}\n"
    "Give the series a punchy title (at most 6 words) and a two-sentence synopsis that names the cast."
)
TITLE_EXAMPLE = (
    TITLE_ASK.format(
        logline="A hotel maid discovers the heir she is marrying framed her brother.", genre="revenge",
        tone="melodramatic", cast="Rosa Diaz (protagonist), Victor Hale (antagonist), Tom Reyes (ally)",
    ),
    '{"title": "The Maid Who Knew", "synopsis": "Rosa Diaz is weeks from marrying Victor Hale when she finds '
    'proof he framed her brother. With Tom Reyes at her side she plays the perfect bride while gathering the '
    'evidence that will ruin him."}',
)

OUTLINE_ASK = (
    "Series: {title}. {synopsis}\nCast: {cast}\nEpisode {number} of {total}. {previous}\n"
    "Outline this episode: a title, the hook (first seconds), the conflict, and the cliffhanger (last seconds). "
    "One short sentence each, naming who acts."
)
OUTLINE_EXAMPLE = (
    OUTLINE_ASK.format(
        title="The Maid Who Knew", synopsis="Rosa Diaz finds proof her fiance Victor Hale framed her brother.",
        cast="Rosa Diaz (protagonist), Victor Hale (antagonist), Tom Reyes (ally)", number=1, total=3,
        previous="This is the first episode.",
    ),
    '{"title": "The Forged Letter", "hook": "Rosa finds a forged letter in Victor\'s desk signed with her '
    'brother\'s name.", "conflict": "Victor catches her in his study and demands to know what she saw.", '
    '"cliffhanger": "Tom shows Rosa a photo: Victor meeting the judge who convicted her brother."}',
)

EXAMPLE_NAMES = {"Rosa", "Diaz", "Victor", "Hale", "Tom", "Reyes", "Hales", "Ana", "Silva", "Ben", "Ortiz", "Lucy",
                 "Park"}
EXAMPLE_TEXTS = [
    "To keep control of the Hale fortune before his father dies.",
    "He forged the evidence that sent Rosa's brother to prison.",
    "Rosa finds a forged letter in Victor's desk signed with her brother's name.",
    "Victor catches her in his study and demands to know what she saw.",
    "Tom shows Rosa a photo: Victor meeting the judge who convicted her brother.",
    "To see Ana finally put herself first.",
    "She reported the truck to the inspector by mistake.",
    "Rosa Diaz is weeks from marrying Victor Hale when she finds proof he framed her brother.",
    "With Tom Reyes at her side she plays the perfect bride while gathering the evidence that will ruin him.",
]
