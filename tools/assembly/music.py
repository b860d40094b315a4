"""A small numpy synthesiser for an episode's music bed, plus ducking under dialogue.

Each mood has a key and mode, a chord progression, a tempo and a timbre (which layers
play and how bright they are). Voices are wavetable oscillators with smooth envelopes,
so nothing clicks; segments are rendered separately and joined with equal-power
crossfades. Output is deterministic for a given seed and renders far faster than real
time (a minute of audio in a fraction of a second).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MOODS = ("tense", "romantic", "sad", "hopeful", "mysterious", "triumphant")

_TABLE_SIZE = 8192
_SEGMENT_RMS = 0.14  # each mood is levelled to this RMS before crossfading
_MAX_PEAK = 0.89  # about -1 dBFS
_CROSSFADE_S = 1.5
_INTRO_FADE_S = 0.5
_OUTRO_FADE_S = 1.2


@dataclass(frozen=True)
class MoodStyle:
    """Musical recipe for one mood."""

    root: int  # MIDI note of the key's tonic (pad register)
    tempo: float  # beats per minute
    beats_per_chord: int
    progression: tuple[tuple[int, ...], ...]  # chords as semitones above the root
    pad_harmonics: tuple[float, ...]  # timbre of the sustained pad
    pad_level: float
    pad_sparse: bool = False  # chords sound only part of the bar, leaving air
    bass_level: float = 0.0
    pulse: str = "none"  # "none" | "ostinato" | "arpeggio"
    pulse_level: float = 0.0
    pulse_per_beat: int = 2
    pulse_decay_s: float = 0.25
    pulse_octave: int = 0  # semitones added to the pulse register
    pulse_harmonics: tuple[float, ...] = (1.0,)
    melody_level: float = 0.0
    bell_level: float = 0.0
    timpani_level: float = 0.0


MOOD_STYLES: dict[str, MoodStyle] = {
    # D minor, phrygian lean (i - bII - i - V), low pulsing eighth-note ostinato.
    "tense": MoodStyle(
        root=50,
        tempo=104,
        beats_per_chord=4,
        progression=((0, 3, 7), (1, 5, 8), (0, 3, 7), (-5, -1, 2)),
        pad_harmonics=(1.0, 0.35, 0.12, 0.05),
        pad_level=0.45,
        bass_level=0.5,
        pulse="ostinato",
        pulse_level=0.6,
        pulse_per_beat=2,
        pulse_decay_s=0.16,
        pulse_octave=-12,
        pulse_harmonics=(1.0, 0.6, 0.4, 0.25, 0.15, 0.1),
    ),
    # F major, soft major-7th pad with a gentle arpeggio.
    "romantic": MoodStyle(
        root=53,
        tempo=72,
        beats_per_chord=4,
        progression=((0, 4, 7, 11), (-3, 0, 4, 7), (-7, -3, 0, 4), (2, 5, 9, 12)),
        pad_harmonics=(1.0, 0.2, 0.06),
        pad_level=0.6,
        bass_level=0.35,
        pulse="arpeggio",
        pulse_level=0.3,
        pulse_per_beat=2,
        pulse_decay_s=0.6,
        pulse_octave=12,
        pulse_harmonics=(1.0, 0.15),
    ),
    # A minor, slow (i - VI - III - VII) with a sparse falling melody.
    "sad": MoodStyle(
        root=45,
        tempo=60,
        beats_per_chord=4,
        progression=((0, 3, 7), (-4, 0, 3), (3, 7, 10), (-2, 2, 5)),
        pad_harmonics=(1.0, 0.25, 0.08),
        pad_level=0.6,
        bass_level=0.3,
        melody_level=0.3,
    ),
    # G major (I - V - vi - IV), brighter eighth-note arpeggio.
    "hopeful": MoodStyle(
        root=55,
        tempo=92,
        beats_per_chord=4,
        progression=((0, 4, 7), (-5, -1, 2), (-3, 0, 4), (-7, -3, 0)),
        pad_harmonics=(1.0, 0.4, 0.2, 0.1),
        pad_level=0.45,
        bass_level=0.4,
        pulse="arpeggio",
        pulse_level=0.4,
        pulse_per_beat=2,
        pulse_decay_s=0.35,
        pulse_octave=12,
        pulse_harmonics=(1.0, 0.3, 0.1),
    ),
    # E, sparse suspended chords, no pulse, occasional inharmonic bell.
    "mysterious": MoodStyle(
        root=52,
        tempo=56,
        beats_per_chord=4,
        progression=((0, 2, 7), (3, 5, 10), (-4, -2, 3), (1, 6, 8)),
        pad_harmonics=(1.0, 0.1, 0.3, 0.05),
        pad_level=0.6,
        pad_sparse=True,
        bass_level=0.25,
        bell_level=0.35,
    ),
    # Bb major (I - IV - bVII - V), bright brassy pad, arpeggio and timpani.
    "triumphant": MoodStyle(
        root=58,
        tempo=112,
        beats_per_chord=4,
        progression=((0, 4, 7), (5, 9, 12), (-2, 2, 5), (7, 11, 14)),
        pad_harmonics=(1.0, 0.5, 0.33, 0.25, 0.2, 0.16, 0.12, 0.1),
        pad_level=0.45,
        bass_level=0.45,
        pulse="arpeggio",
        pulse_level=0.3,
        pulse_per_beat=2,
        pulse_decay_s=0.2,
        pulse_octave=12,
        pulse_harmonics=(1.0, 0.5, 0.3, 0.2),
        timpani_level=0.55,
    ),
}


# --------------------------------------------------------------------------- primitives


def _midi_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69.0) / 12.0)


def _wavetable(harmonics: tuple[float, ...]) -> np.ndarray:
    phase = np.arange(_TABLE_SIZE) / _TABLE_SIZE
    table = np.zeros(_TABLE_SIZE)
    for k, amp in enumerate(harmonics, start=1):
        table += amp * np.sin(2 * np.pi * k * phase)
    peak = np.max(np.abs(table))
    return table / peak if peak > 0 else table


_INDEX_CACHE: dict[int, np.ndarray] = {}


def _index(n: int) -> np.ndarray:
    """Shared read-only ``arange(n)`` (grown on demand) to avoid reallocating per note."""
    cached = _INDEX_CACHE.get(0)
    if cached is None or len(cached) < n:
        cached = np.arange(max(n, 1 << 16), dtype=np.float64)
        cached.setflags(write=False)
        _INDEX_CACHE[0] = cached
    return cached[:n]


def _osc(table: np.ndarray, freq: float, n: int, sample_rate: int, phase0: float = 0.0) -> np.ndarray:
    step = freq / sample_rate * _TABLE_SIZE
    idx = (_index(n) * step + phase0 * _TABLE_SIZE).astype(np.int64)
    np.bitwise_and(idx, _TABLE_SIZE - 1, out=idx)
    return table[idx]


def _ramp(n: int) -> np.ndarray:
    """Raised-cosine rise from 0 to 1 over n samples."""
    if n <= 0:
        return np.zeros(0)
    return 0.5 - 0.5 * np.cos(np.pi * np.arange(n) / n)


def _sustain_env(n: int, attack: int, release: int) -> np.ndarray:
    env = np.ones(n)
    attack = min(attack, n // 2)
    release = min(release, n - attack)
    env[:attack] = _ramp(attack)
    if release > 0:
        env[n - release :] = _ramp(release)[::-1]
    return env


def _pluck_env(n: int, sample_rate: int, decay_s: float) -> np.ndarray:
    t = np.arange(n) / sample_rate
    env = np.exp(-t / decay_s)
    attack = min(n, int(0.006 * sample_rate))
    env[:attack] *= _ramp(attack)
    tail = min(n, int(0.02 * sample_rate))
    env[n - tail :] *= _ramp(tail)[::-1]
    return env


def _add(out: np.ndarray, start: int, signal: np.ndarray) -> None:
    if start >= len(out) or len(signal) == 0:
        return
    if start < 0:
        signal = signal[-start:]
        start = 0
    end = min(len(out), start + len(signal))
    out[start:end] += signal[: end - start]


# --------------------------------------------------------------------------- one mood


def _render_mood(style: MoodStyle, n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(n)
    sr = sample_rate
    beat_s = 60.0 / style.tempo
    chord_s = beat_s * style.beats_per_chord
    chord_n = int(round(chord_s * sr))
    pad_table = _wavetable(style.pad_harmonics)
    sine = _wavetable((1.0,))
    bass_table = _wavetable((1.0, 0.3, 0.08))
    pulse_table = _wavetable(style.pulse_harmonics)

    n_chords = int(np.ceil(n / chord_n)) + 1
    prev_melody = 12
    for k in range(n_chords):
        start = k * chord_n
        chord = sorted(style.progression[k % len(style.progression)])
        # Seeded voicing: sometimes lift the lowest tone an octave (inversion).
        if len(chord) >= 3 and rng.random() < 0.35:
            chord = sorted(chord[1:] + [chord[0] + 12])

        # Sustained pad (two slightly detuned oscillators per tone for width).
        if style.pad_sparse:
            length = int(chord_n * rng.uniform(0.55, 0.8))
            pad_start = start + int(chord_n * rng.uniform(0.0, 0.15))
            release = int(chord_n * 0.6)
        else:
            length = chord_n
            pad_start = start
            release = int(min(1.2 * sr, chord_n * 0.45))
        pad_n = length + release
        pad_env = _sustain_env(pad_n, int(min(0.8 * sr, chord_n * 0.4)), release)
        for interval in chord:
            f = _midi_hz(style.root + interval)
            for cents in (-4.0, 4.0):
                tone = _osc(pad_table, f * 2 ** (cents / 1200), pad_n, sr, rng.random())
                _add(out, pad_start, style.pad_level * 0.5 * tone * pad_env / len(chord) ** 0.5)

        # Bass: the chord's root two octaves down (the progression's first listed tone).
        if style.bass_level > 0:
            bass_root = style.root + sorted(style.progression[k % len(style.progression)])[0] - 24
            bass_root += 12 * (bass_root < 28)
            bass_n = chord_n + int(0.3 * sr)
            bass_env = _sustain_env(bass_n, int(0.05 * sr), int(0.4 * sr))
            _add(out, start, style.bass_level * _osc(bass_table, _midi_hz(bass_root), bass_n, sr) * bass_env)

        # Rhythmic layer.
        if style.pulse != "none" and style.pulse_level > 0:
            steps = style.beats_per_chord * style.pulse_per_beat
            step_n = chord_n // steps
            note_n = int(min(style.pulse_decay_s * 4.0, 1.6) * sr)
            if style.pulse == "ostinato":
                base = style.root + chord[0] + style.pulse_octave
                pattern = [0, 0, 12, 0, 7, 0, 12, 7]
                notes = [base + pattern[i % len(pattern)] for i in range(steps)]
            else:
                tones = [style.root + c + style.pulse_octave for c in chord]
                up = tones + [tones[0] + 12]
                cycle = up + up[-2:0:-1]
                notes = [cycle[i % len(cycle)] for i in range(steps)]
            env = _pluck_env(note_n, sr, style.pulse_decay_s)
            for i, note in enumerate(notes):
                accent = 1.0 if i % style.pulse_per_beat == 0 else 0.7
                tone = _osc(pulse_table, _midi_hz(note), note_n, sr)
                _add(out, start + i * step_n, style.pulse_level * accent * tone * env)

        # Slow melody: one soft note every two beats, stepping through chord tones.
        if style.melody_level > 0:
            note_n = int(beat_s * 2 * sr)
            for j in range(style.beats_per_chord // 2):
                candidates = [c + 12 for c in chord] + [c + 24 for c in chord]
                below = [c for c in candidates if c <= prev_melody]
                pool = below if below and rng.random() < 0.7 else candidates
                prev_melody = int(pool[int(rng.integers(len(pool)))]) if len(pool) > 1 else int(pool[0])
                mel_n = note_n + int(0.6 * sr)
                env = _sustain_env(mel_n, int(0.25 * sr), int(0.9 * sr))
                tone = _osc(sine, _midi_hz(style.root + prev_melody), mel_n, sr)
                _add(out, start + j * note_n, style.melody_level * tone * env)

        # Inharmonic bell, roughly one every other chord.
        if style.bell_level > 0 and rng.random() < 0.55:
            note = style.root + chord[int(rng.integers(len(chord)))] + 24
            f = _midi_hz(note)
            bell_n = int(2.5 * sr)
            env = _pluck_env(bell_n, sr, 0.7)
            bell = np.zeros(bell_n)
            for ratio, amp in ((1.0, 1.0), (2.76, 0.45), (5.4, 0.2)):
                bell += amp * _osc(sine, f * ratio, bell_n, sr, rng.random())
            offset = int(chord_n * rng.uniform(0.2, 0.7))
            _add(out, start + offset, style.bell_level * 0.6 * bell * env)

        # Timpani on beats 1 and 3: a decaying sine whose pitch settles downward.
        if style.timpani_level > 0:
            f = _midi_hz(style.root + chord[0] - 24 + 12 * (style.root + chord[0] - 24 < 36))
            hit_n = int(0.7 * sr)
            t = np.arange(hit_n) / sr
            freq = f * (1.0 + 0.25 * np.exp(-t / 0.05))
            hit = np.sin(2 * np.pi * np.cumsum(freq) / sr) * _pluck_env(hit_n, sr, 0.22)
            for beat in range(0, style.beats_per_chord, 2):
                level = style.timpani_level * (1.0 if beat == 0 else 0.7)
                _add(out, start + int(beat * beat_s * sr), level * hit)

    rms = float(np.sqrt(np.mean(out**2))) if n else 0.0
    if rms > 0:
        out *= _SEGMENT_RMS / rms
    return out


# --------------------------------------------------------------------------- public API


def render_music_bed(segments: list[tuple[float, str]], sample_rate: int = 22050, seed: int = 0) -> np.ndarray:
    """Render a mono music bed (float32 in [-1, 1]) for ``(seconds, mood)`` segments in order.

    The result has exactly ``round(sum(seconds) * sample_rate)`` samples. Adjacent segments
    are joined by equal-power crossfades centred on their boundary; the bed fades in at
    the start and out at the end.
    """
    for seconds, mood in segments:
        if mood not in MOOD_STYLES:
            raise ValueError(f"unknown mood {mood!r}; expected one of {MOODS}")
        if seconds < 0:
            raise ValueError(f"segment length must be >= 0, got {seconds}")
    total = int(round(sum(s for s, _ in segments) * sample_rate))
    out = np.zeros(total)
    if total == 0:
        return out.astype(np.float32)

    # Sample boundaries of the non-empty segments.
    kept = [(s, m) for s, m in segments if int(round(s * sample_rate)) > 0]
    edges = [0]
    acc = 0.0
    for s, _ in kept:
        acc += s
        edges.append(min(total, int(round(acc * sample_rate))))
    edges[-1] = total
    lengths = [edges[i + 1] - edges[i] for i in range(len(kept))]
    # Half-width of the crossfade at each internal boundary.
    half = [0] * (len(kept) + 1)
    for i in range(1, len(kept)):
        half[i] = int(min(_CROSSFADE_S * sample_rate / 2, lengths[i - 1] / 3, lengths[i] / 3))

    root = np.random.default_rng(seed)
    for i, (_, mood) in enumerate(kept):
        rng = np.random.default_rng([seed, i, int(root.integers(1 << 30))])
        lo = edges[i] - half[i]
        hi = edges[i + 1] + half[i + 1]
        seg = _render_mood(MOOD_STYLES[mood], hi - lo, sample_rate, rng)
        if half[i] > 0:
            x = np.linspace(0.0, 1.0, 2 * half[i], endpoint=False)
            seg[: 2 * half[i]] *= np.sin(0.5 * np.pi * x)
        if half[i + 1] > 0:
            x = np.linspace(0.0, 1.0, 2 * half[i + 1], endpoint=False)
            seg[len(seg) - 2 * half[i + 1] :] *= np.cos(0.5 * np.pi * x)
        out[lo:hi] += seg

    intro = min(total // 2, int(_INTRO_FADE_S * sample_rate))
    outro = min(total - intro, int(_OUTRO_FADE_S * sample_rate))
    out[:intro] *= _ramp(intro)
    if outro > 0:
        out[total - outro :] *= _ramp(outro)[::-1]

    peak = float(np.max(np.abs(out)))
    if peak > _MAX_PEAK:
        out *= _MAX_PEAK / peak
    return np.clip(out, -1.0, 1.0).astype(np.float32)


def duck(
    music: np.ndarray,
    voice_mask_intervals: list[tuple[float, float]],
    sample_rate: int,
    amount_db: float = -12.0,
    ramp_s: float = 0.15,
    release_s: float = 0.35,
    bridge_gap_s: float = 0.4,
) -> np.ndarray:
    """Lower ``music`` by ``amount_db`` during ``(start_s, end_s)`` dialogue intervals.

    The gain starts ramping down ``ramp_s`` before each line (so the bed is fully ducked
    when the voice starts) and recovers over ``release_s`` after it, both as raised-cosine
    curves in the dB domain. Gaps shorter than ``bridge_gap_s`` stay ducked to avoid pumping.
    Returns a new float32 array of the same length.
    """
    music = np.asarray(music, dtype=np.float32)
    n = len(music)
    if n == 0 or not voice_mask_intervals:
        return music.copy()
    spans = sorted((max(0.0, float(a)), float(b)) for a, b in voice_mask_intervals if b > a)
    merged: list[list[float]] = []
    for a, b in spans:
        if merged and a - merged[-1][1] < bridge_gap_s:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])

    mask = np.zeros(n)
    attack = max(1, int(ramp_s * sample_rate))
    release = max(1, int(release_s * sample_rate))
    for a, b in merged:
        s = int(round(a * sample_rate))
        e = int(round(b * sample_rate))
        if s >= n:
            continue
        mask[max(0, s) : min(n, e)] = 1.0
        if s > 0:
            lo = max(0, s - attack)
            mask[lo:s] = np.maximum(mask[lo:s], _ramp(attack)[attack - (s - lo) :])
        if e < n:
            fall = _ramp(release)[::-1]
            hi = min(n, e + release)
            mask[e:hi] = np.maximum(mask[e:hi], fall[: hi - e])
    gain = 10.0 ** (amount_db * mask / 20.0)
    return (music * gain).astype(np.float32)
