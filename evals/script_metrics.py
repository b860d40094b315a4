"""Script suite: does each episode script work as a micro-drama episode?

Valid structure, a hook in the first beat and a cliffhanger in the last, dialogue that fits the episode's length
when spoken at each character's voice rate, only the cast speaking (and only in scenes they are in), lines that
are speech, no line said twice, and nothing that contradicts the bible (a character's gender, age or hair).
"""

from __future__ import annotations

import re

from dramafactory.schemas import Beat, EpisodeScript, SeriesBible

from .metrics import MetricResult, at_most, mean_of, share, similar, within, words

# Speech should fill between a third and nine tenths of the episode: less is a silent film, more leaves no room
# for establishing shots, reactions and the cliffhanger's beat.
SPEECH_SHARE = (0.35, 0.9)
NEAR_DUPLICATE = 0.85
NARRATION = re.compile(r"\b(says|said|asks|asked|replies|replied|whispers|whispered|shouts|shouted|narrator)\b"
                       r"|[*\[\]()]|^\s*(int\.|ext\.|scene\b|beat\b)", re.I)
PRONOUNS = {"female": {"she", "her", "hers", "herself"}, "male": {"he", "him", "his", "himself"}}
AGE = re.compile(r"\b(?:i'?m|i am|aged?)\s+(\d{1,2})\b|\b(\d{1,2})[- ]years?[- ]old\b", re.I)
HAIR_WORDS = {"blonde", "blond", "red-haired", "redhead", "grey-haired", "gray-haired", "silver-haired",
              "white-haired", "dark-haired", "black-haired", "brunette", "bald"}


def valid_structure(script: EpisodeScript, bible: SeriesBible) -> MetricResult:
    """Scenes at the bible's locations with cast members in them, and beats in the beat sheet's order."""
    cast = {c.name for c in bible.characters}
    places = {loc.name for loc in bible.locations}
    failures = []
    for scene in script.scenes:
        if scene.location not in places:
            failures.append(f"scene {scene.number}: unknown location {scene.location!r}")
        stray = [n for n in scene.characters if n not in cast]
        if stray:
            failures.append(f"scene {scene.number}: characters not in the cast {stray}")
        if not any(b.lines for b in scene.beats):
            failures.append(f"scene {scene.number}: nobody speaks")
    return share("script.valid", failures, len(script.scenes))


def _beat_lands(name: str, beat: Beat, kind: str, why: str) -> MetricResult:
    """The beat at an episode's edge must be of its kind and carry both an action and a line."""
    failures = []
    if beat.kind != kind:
        failures.append(f"the {name.split('_')[-1]} beat is a {beat.kind}, not a {kind}")
    elif not beat.action.strip() or not beat.lines:
        failures.append(f"the {kind} beat has no action or no line: {why}")
    return share(f"script.{name}", failures, 1)


def hook_first(script: EpisodeScript) -> MetricResult:
    return _beat_lands("hook_first", script.scenes[0].beats[0], "hook", "nothing grabs in the first seconds")


def cliffhanger_last(script: EpisodeScript) -> MetricResult:
    return _beat_lands("cliffhanger_last", script.scenes[-1].beats[-1], "cliffhanger", "nothing pulls to the next "
                       "episode")


def speech_seconds(script: EpisodeScript, bible: SeriesBible) -> float:
    rates = {c.name: c.voice.rate_wpm for c in bible.characters}
    return sum(len(line.text.split()) / (rates.get(line.speaker, 165) / 60) for line in script.lines())


def dialogue_fit(script: EpisodeScript, bible: SeriesBible, target_seconds: float) -> MetricResult:
    """Spoken seconds (words at each speaker's voice rate) as a share of the episode's target length."""
    ratio = speech_seconds(script, bible) / target_seconds
    low, high = SPEECH_SHARE
    detail = [] if low <= ratio <= high else [
        f"{speech_seconds(script, bible):.1f} s of speech in a {target_seconds:.0f} s episode"]
    return within("script.dialogue_fit", ratio, low, high, detail)


def known_speakers(script: EpisodeScript, bible: SeriesBible) -> MetricResult:
    cast = {c.name for c in bible.characters}
    failures, total = [], 0
    for scene in script.scenes:
        for beat in scene.beats:
            for line in beat.lines:
                total += 1
                if line.speaker not in cast:
                    failures.append(f"{line.id}: {line.speaker!r} is not in the cast")
                elif line.speaker not in scene.characters:
                    failures.append(f"{line.id}: {line.speaker} speaks in scene {scene.number} without being in it")
    return share("script.known_speakers", failures, total)


def is_speech(text: str, speaker: str, action: str) -> str | None:
    """Why a line is not speech (None when it is): narration, a stage direction, the speaker naming themselves as
    a narrator would, or the beat's action restated."""
    if NARRATION.search(text):
        return "narration or a stage direction"
    first = speaker.split()[0].lower()
    if words(text)[:1] == [first]:
        return "starts with its own speaker's name"
    if action and similar(text, action) > 0.6:
        return "restates the beat's action"
    return None


def speech_not_narration(script: EpisodeScript) -> MetricResult:
    failures, total = [], 0
    for scene in script.scenes:
        for beat in scene.beats:
            for line in beat.lines:
                total += 1
                if why := is_speech(line.text, line.speaker, beat.action):
                    failures.append(f"{line.id} {line.text!r}: {why}")
    return share("script.speech", failures, total)


def no_repeats(scripts: list[EpisodeScript]) -> MetricResult:
    """Across the whole series: a line that nearly repeats an earlier one (a looping scene) fails."""
    seen: list[tuple[str, str]] = []
    failures, total = [], 0
    for script in scripts:
        for line in script.lines():
            total += 1
            text = " ".join(words(line.text))
            match = next((lid for lid, earlier in seen if similar(text, earlier) >= NEAR_DUPLICATE), None)
            if match:
                failures.append(f"e{script.episode:02d} {line.id} repeats {match}: {line.text!r}")
            seen.append((f"e{script.episode:02d} {line.id}", text))
    return share("script.no_repeats", failures, total)


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?;])\s+", text) if s.strip()]


def contradictions(scripts: list[EpisodeScript], bible: SeriesBible) -> list[str]:
    """Places where the writing contradicts the bible: a sentence naming one character only, with only the other
    gender's pronouns; an age said or written for a character that is more than five years off; a hair word that
    is not the character's."""
    cast = {c.name.split()[0]: c for c in bible.characters}
    found = []
    for script in scripts:
        for scene in script.scenes:
            for beat in scene.beats:
                texts = [(None, s) for s in _sentences(beat.action)] + [(line.speaker, line.text)
                                                                       for line in beat.lines]
                for speaker, sentence in texts:
                    tokens = set(words(sentence))
                    named = [c for first, c in cast.items() if first.lower() in tokens]
                    where = f"e{script.episode:02d} scene {scene.number}"
                    if speaker is None and len(named) == 1:
                        c = named[0]
                        other = PRONOUNS["male" if c.gender == "female" else "female"]
                        if tokens & other and not tokens & PRONOUNS[c.gender]:
                            found.append(f"{where}: {c.name} is {c.gender}: {sentence!r}")
                    subject = named[0] if len(named) == 1 else (bible.character(speaker) if speaker else None)
                    age = AGE.search(sentence)
                    if subject and age:
                        said = int(age.group(1) or age.group(2))
                        if abs(said - subject.age) > 5:
                            found.append(f"{where}: {subject.name} is {subject.age}, not {said}: {sentence!r}")
                    hair = {h.replace("-haired", "") for h in tokens & HAIR_WORDS}
                    if len(named) == 1 and hair and not any(h in named[0].look.hair_color.lower() for h in hair):
                        found.append(f"{where}: {named[0].name} has {named[0].look.hair_color} hair: {sentence!r}")
    return found


def bible_consistent(scripts: list[EpisodeScript], bible: SeriesBible) -> MetricResult:
    found = contradictions(scripts, bible)
    return at_most("script.bible_contradictions", len(found), 0, found)


def score_scripts(scripts: list[EpisodeScript], bible: SeriesBible, target_seconds: float) -> list[MetricResult]:
    """Per-episode metrics averaged over the series' episodes, then the series-wide ones."""
    per_episode = [[valid_structure(s, bible), hook_first(s), cliffhanger_last(s),
                    dialogue_fit(s, bible, target_seconds), known_speakers(s, bible), speech_not_narration(s)]
                   for s in scripts]
    return [mean_of(column) for column in zip(*per_episode, strict=True)] + [
        no_repeats(scripts), bible_consistent(scripts, bible)]

