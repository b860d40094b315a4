"""Script suite: does each episode script work as a micro-drama episode?

Valid structure, a hook in the first beat and a cliffhanger in the last, dialogue that fits the episode's length
when spoken at each character's voice rate, only the cast speaking (and only in scenes they are in), lines that
are speech, no line said twice, and nothing that contradicts the bible (a character's gender, age or hair).

Valid structure, hook, cliffhanger and known speakers are guaranteed by the writer's code: the eval checks them as
invariants (evals/invariants.py), beside the metrics, and never scores them.
"""

from __future__ import annotations

import re

from dramafactory.schemas import Beat, EpisodeScript, SeriesBible

from .metrics import MetricResult, at_most, mean_of, not_measured, share, similar, within, words

# Speech should fill between a third and nine tenths of the episode: less is a silent film, more leaves no room
# for establishing shots, reactions and the cliffhanger's beat.
SPEECH_SHARE = (0.35, 0.9)
NEAR_DUPLICATE = 0.85
NARRATION = re.compile(r"\b(says|said|asks|asked|replies|replied|whispers|whispered|shouts|shouted|narrator)\b"
                       r"|[*\[\]()]|^\s*(int\.|ext\.|scene\b|beat\b)", re.I)
MIN_REPEAT_WORDS = 3  # "No." twice is natural; a three-word line said again is a loop
BEAT_ORDER = ("hook", "pressure", "reveal", "reversal", "cliffhanger")
# Subject pronouns only: "Victor grabs her wrist" names him and touches her, and is no contradiction.
SUBJECT = {"female": {"she", "herself"}, "male": {"he", "himself"}}
# An age is a number said with "years"/"year-old", or "I'm 34"; a child's number (I'm 5 minutes away) is not one.
AGE = re.compile(r"\b(\d{1,2})[- ]years?[- ]old\b|\b(?:i'?m|i am|aged)\s+(\d{2})\b(?!\s*(?:minutes|hours|days|"
                 r"weeks|months|dollars|percent|miles|floors|steps))", re.I)
# A hair word in the writing, and the colour words of the bible's hair it agrees with.
HAIR_FAMILIES = {
    "blonde": {"blond", "blonde", "platinum", "golden", "honey", "sandy", "strawberry"},
    "blond": {"blond", "blonde", "platinum", "golden", "honey", "sandy", "strawberry"},
    "red-haired": {"red", "auburn", "copper", "ginger", "strawberry"},
    "redhead": {"red", "auburn", "copper", "ginger", "strawberry"},
    "grey-haired": {"grey", "gray", "silver", "white", "salt"},
    "gray-haired": {"grey", "gray", "silver", "white", "salt"},
    "silver-haired": {"grey", "gray", "silver", "white", "salt"},
    "white-haired": {"grey", "gray", "silver", "white", "salt"},
    "dark-haired": {"black", "dark", "jet", "brown", "chestnut", "raven"},
    "black-haired": {"black", "dark", "jet", "raven"},
    "brunette": {"brown", "chestnut", "dark", "black"},
}
METRICS = ["script.valid", "script.hook_first", "script.cliffhanger_last", "script.dialogue_fit",
           "script.known_speakers", "script.speech"]


def valid(script: EpisodeScript, bible: SeriesBible) -> MetricResult:
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
    order = [BEAT_ORDER.index(b.kind) for scene in script.scenes for b in scene.beats]
    if order != sorted(order):
        failures.append("beats out of the beat sheet's order: "
                        + " > ".join(b.kind for scene in script.scenes for b in scene.beats))
    return share("script.valid", failures, len(script.scenes) + 1)


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


def why_not_speech(text: str, speaker: str, action: str) -> str | None:
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


def speech(script: EpisodeScript) -> MetricResult:
    failures, total = [], 0
    for scene in script.scenes:
        for beat in scene.beats:
            for line in beat.lines:
                total += 1
                if why := why_not_speech(line.text, line.speaker, beat.action):
                    failures.append(f"{line.id} {line.text!r}: {why}")
    return share("script.speech", failures, total)


def no_repeats(scripts: list[EpisodeScript]) -> MetricResult:
    """Across the whole series: a line that nearly repeats an earlier one (a looping scene) fails."""
    seen: list[tuple[str, str]] = []
    failures, total = [], 0
    for script in scripts:
        for line in script.lines():
            text = " ".join(words(line.text))
            if len(text.split()) < MIN_REPEAT_WORDS:
                continue
            total += 1
            match = next((lid for lid, earlier in seen if similar(text, earlier) >= NEAR_DUPLICATE), None)
            if match:
                failures.append(f"e{script.episode:02d} {line.id} repeats {match}: {line.text!r}")
            seen.append((f"e{script.episode:02d} {line.id}", text))
    return share("script.no_repeats", failures, total, none_means="no line of three words or more")


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?;])\s+", text) if s.strip()]


def contradictions(scripts: list[EpisodeScript], bible: SeriesBible) -> list[str]:
    """Places where the writing contradicts the bible: an action sentence naming one character only, with only
    the other gender's subject pronoun; an age said or written for a character that is more than five years off;
    a hair word that does not agree with the character's hair colour."""
    cast = {c.name.split()[0].lower(): c for c in bible.characters}
    by_name = {c.name: c for c in bible.characters}
    found = []
    for script in scripts:
        for scene in script.scenes:
            for beat in scene.beats:
                texts = [(None, s) for s in _sentences(beat.action)] + [(line.speaker, line.text)
                                                                       for line in beat.lines]
                for speaker, sentence in texts:
                    tokens = set(re.findall(r"[a-z]+(?:-[a-z]+)?", sentence.lower()))
                    named = [c for first, c in cast.items() if first in tokens]
                    where = f"e{script.episode:02d} scene {scene.number}"
                    if speaker is None and len(named) == 1:
                        c = named[0]
                        other = SUBJECT["male" if c.gender == "female" else "female"]
                        if tokens & other and not tokens & SUBJECT[c.gender]:
                            found.append(f"{where}: {c.name} is {c.gender}: {sentence!r}")
                    subject = named[0] if len(named) == 1 else by_name.get(speaker or "")
                    age = AGE.search(sentence)
                    if subject and age:
                        said = int(age.group(1) or age.group(2))
                        if abs(said - subject.age) > 5:
                            found.append(f"{where}: {subject.name} is {subject.age}, not {said}: {sentence!r}")
                    if len(named) == 1:
                        hair = set(words(named[0].look.hair_color))
                        wrong = [h for h in tokens & set(HAIR_FAMILIES) if not hair & HAIR_FAMILIES[h]]
                        if wrong:
                            found.append(f"{where}: {named[0].name} has {named[0].look.hair_color} hair, not "
                                         f"{wrong[0]}: {sentence!r}")
    return found


def bible_contradictions(scripts: list[EpisodeScript], bible: SeriesBible) -> MetricResult:
    found = contradictions(scripts, bible)
    return at_most("script.bible_contradictions", len(found), 0, found)


def score_scripts(scripts: list[EpisodeScript], bible: SeriesBible, target_seconds: float) -> list[MetricResult]:
    """Per-episode metrics averaged over the series' episodes, then the series-wide ones."""
    if not scripts:
        return not_measured(METRICS + ["script.no_repeats", "script.bible_contradictions"], "no script was written")
    per_episode = [[valid(s, bible), hook_first(s), cliffhanger_last(s), dialogue_fit(s, bible, target_seconds),
                    known_speakers(s, bible), speech(s)] for s in scripts]
    return [mean_of(column) for column in zip(*per_episode, strict=True)] + [
        no_repeats(scripts), bible_contradictions(scripts, bible)]
