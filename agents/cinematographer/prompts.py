"""Prompts of the cinematographer and the fixed parts of every generation prompt."""

SYSTEM = (
    "You are the cinematographer of a vertical micro-drama. You answer with one JSON object and nothing else."
)

LIGHTING_ASK = (
    "Scene at {location} ({description}), {time}. Beats: {beats}\n"
    "Choose the scene's mood (tense, romantic, sad, hopeful, mysterious or triumphant) and describe its lighting "
    "in at most 10 words."
)
LIGHTING_EXAMPLE = (
    LIGHTING_ASK.format(location="Hale Tower, 32nd floor", description="a glass-walled office with a city view",
                        time="night", beats="Rosa finds a forged letter; Victor catches her."),
    '{"mood": "tense", "lighting": "cold blue city glow, one hard desk lamp"}',
)

SHOT_PROMPT = (
    "Vertical 9:16 storyboard frame, {framing} shot, camera {camera}. {people}{action} Location: {location}, "
    "{description}, {time}, {lighting}.{speaking}"
)
NEGATIVE_PROMPT = (
    "extra people, missing people, extra limbs, deformed face, changed wardrobe colours, changed hair, text "
    "artifacts, watermark, blurry, horizontal frame"
)
