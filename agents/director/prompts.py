"""Prompts of the director: each asks for one small JSON object, with a worked example first."""

SYSTEM = (
    "You are the director of a vertical micro-drama series (1-minute episodes, a hook in the first seconds, "
    "a cliffhanger at the end). You answer with one JSON object and nothing else. Use only the character names "
    "you are given. Be concrete and short."
)

PROFILE_ASK = (
    "Premise: {logline}\nGenre: {genre}. Tone: {tone}.\nCast: {cast}\n"
    "Write the private want and the hidden secret of {name}, the {role}. One short sentence each, about this "
    "premise."
)
PROFILE_EXAMPLES = [
    (
        PROFILE_ASK.format(
            logline="A hotel maid, Rosa Diaz, discovers the heir she is marrying, Victor Hale, framed her brother, "
                    "Tom Reyes.", genre="revenge", tone="melodramatic",
            cast="Rosa Diaz (protagonist, the hotel maid), Victor Hale (antagonist, the heir she is marrying), "
                 "Tom Reyes (ally, Rosa's brother)",
            name="Victor Hale", role="antagonist",
        ),
        '{"want": "To keep control of the Hale fortune before his father dies.", '
        '"secret": "He forged the evidence that sent Rosa\'s brother to prison."}',
    ),
    (
        PROFILE_ASK.format(
            logline="A food-truck cook, Ana Silva, falls for the health inspector, Ben Ortiz, who could shut her "
                    "down.", genre="romance", tone="warm",
            cast="Ana Silva (protagonist, the food-truck cook), Ben Ortiz (antagonist, the health inspector), "
                 "Lucy Park (confidant, Ana's closest friend)",
            name="Lucy Park", role="ally",
        ),
        '{"want": "To see Ana finally put herself first.", '
        '"secret": "She reported the truck to the inspector by mistake."}',
    ),
]

TITLE_ASK = (
    "Premise: {logline}\nGenre: {genre}. Tone: {tone}.\nCast: {cast}\n"
    "Give the series a punchy title (at most 6 words) and, as the synopsis, one sentence on what happens next: "
    "what the protagonist does about it and what it could cost, naming the cast."
)
TITLE_EXAMPLE = (
    TITLE_ASK.format(
        logline="A hotel maid, Rosa Diaz, discovers the heir she is marrying, Victor Hale, framed her brother, "
                "Tom Reyes.", genre="revenge", tone="melodramatic",
        cast="Rosa Diaz (protagonist, the hotel maid), Victor Hale (antagonist, the heir she is marrying), "
             "Tom Reyes (ally, Rosa's brother)",
    ),
    '{"title": "The Maid Who Knew", "synopsis": "Rosa plays the perfect bride for Victor Hale while gathering '
    'the evidence that will free Tom, knowing one slip will cost her everything."}',
)

OUTLINE_ASK = (
    "Series: {title}. {synopsis}\nCast: {cast}\nEpisode {number} of {total}. {previous}\n"
    "Outline this episode: a title, the hook (first seconds), the conflict, and the cliffhanger (last seconds). "
    "One short sentence each, naming who acts.{focus}"
)
FIRST_EPISODE_FOCUS = (" The hook opens on the premise's situation; the cliffhanger raises what the protagonist "
                       "stands to lose.")
LATER_EPISODE_FOCUS = " Pick up from the previous cliffhanger and push the premise's secret further."
OUTLINE_EXAMPLE = (
    OUTLINE_ASK.format(
        title="The Maid Who Knew", synopsis="A hotel maid, Rosa Diaz, discovers the heir she is marrying, Victor "
                                            "Hale, framed her brother, Tom Reyes.",
        cast="Rosa Diaz (protagonist, the hotel maid), Victor Hale (antagonist, the heir she is marrying), "
             "Tom Reyes (ally, Rosa's brother)", number=1, total=3,
        previous="This is the first episode.", focus=FIRST_EPISODE_FOCUS,
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
    "Rosa plays the perfect bride for Victor Hale while gathering the evidence that will free Tom, knowing one "
    "slip will cost her everything.",
]

# The capable strategy (text_strategy "capable"): one call writes the whole cast with the title and synopsis, one
# more all the episode outlines. The examples reuse the names above, so no_copy_of_example knows them.
CAPABLE_SYSTEM = (
    "You are the director of a vertical micro-drama series (1-minute episodes, a hook in the first seconds, "
    "a cliffhanger at the end). You answer with one JSON object and nothing else. Be concrete and short."
)

CAST_ASK = (
    "Series: {logline}\nGenre: {genre}. Tone: {tone}. Episodes: {episodes}.\n{lead}"
    "Cast the series: exactly three people, in this order: the protagonist (who the series is about), the "
    "antagonist (who stands in the way), the ally. Give each a realistic first and last name of their own (never a "
    "word of the series line), gender, age, a short description (a few words), a private want and a hidden secret "
    "(one short sentence each, without their own name). Then a punchy title (at most 6 words) and a two-sentence "
    "synopsis that names the cast."
)
LEAD_RULE = "The protagonist is {gender} (the series line says so).\n"
CAST_EXAMPLE = (
    CAST_ASK.format(logline="A hotel maid discovers the heir she is marrying framed her brother.", genre="revenge",
                    tone="melodramatic", episodes=3, lead=LEAD_RULE.format(gender="female")),
    '{"characters": ['
    '{"role": "protagonist", "name": "Rosa Diaz", "gender": "female", "age": 27, "description": "the hotel maid", '
    '"want": "To clear her brother\'s name before the wedding.", '
    '"secret": "She took the job at the hotel to spy on the groom."}, '
    '{"role": "antagonist", "name": "Victor Hale", "gender": "male", "age": 34, "description": "the heir", '
    '"want": "To keep control of the Hale fortune before his father dies.", '
    '"secret": "He forged the evidence that sent Rosa\'s brother to prison."}, '
    '{"role": "ally", "name": "Tom Reyes", "gender": "male", "age": 29, "description": "the night porter", '
    '"want": "To see Rosa walk away from the wedding alive.", '
    '"secret": "He drove the car on the night of the crime."}], '
    '"title": "The Maid Who Knew", "synopsis": "Rosa Diaz is weeks from marrying Victor Hale when she finds '
    'proof he framed her brother. With Tom Reyes at her side she plays the perfect bride while gathering the '
    'evidence that will ruin him."}',
)

OUTLINES_ASK = (
    "Series: {title}. {synopsis}\nCast: {cast}\nEpisodes {first} to {last} of {total}. {previous}\n"
    "Outline each of these {count} episodes, in order: a title, the hook (first seconds), the conflict, and the "
    "cliffhanger (last seconds), one short sentence each, naming who acts. Each episode picks up from the one "
    "before and ends on a new twist."
)
OUTLINES_EXAMPLE = (
    OUTLINES_ASK.format(
        title="The Maid Who Knew", synopsis="Rosa Diaz finds proof her fiance Victor Hale framed her brother.",
        cast="Rosa Diaz (protagonist), Victor Hale (antagonist), Tom Reyes (ally)", first=1, last=2, total=2,
        previous="This is the first episode.", count=2,
    ),
    '{"episodes": [{"title": "The Forged Letter", "hook": "Rosa finds a forged letter in Victor\'s desk signed '
    'with her brother\'s name.", "conflict": "Victor catches her in his study and demands to know what she saw.", '
    '"cliffhanger": "Tom shows Rosa a photo: Victor meeting the judge who convicted her brother."}, '
    '{"title": "The Judge", "hook": "Rosa follows Victor to the judge\'s house at midnight.", '
    '"conflict": "Victor offers the judge money in front of Tom\'s hidden camera.", '
    '"cliffhanger": "The judge looks straight at the camera and smiles."}]}',
)

CAPABLE_EXAMPLE_TEXTS = EXAMPLE_TEXTS + [
    "To clear her brother's name before the wedding.",
    "She took the job at the hotel to spy on the groom.",
    "To see Rosa walk away from the wedding alive.",
    "He drove the car on the night of the crime.",
    "Rosa follows Victor to the judge's house at midnight.",
    "Victor offers the judge money in front of Tom's hidden camera.",
    "The judge looks straight at the camera and smiles.",
]
