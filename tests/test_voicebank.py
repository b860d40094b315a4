from __future__ import annotations

import shutil
import wave
from pathlib import Path

import numpy as np
import pytest

from dramafactory.schemas import Voice
from dramafactory.tools.speech.base import SpeechBackend, SpeechRequest
from dramafactory.tools.speech.voicebank import (
    VOICE_BANK,
    SpeechEngineMissing,
    VoiceBankSpeech,
    allocate_voices,
    build_voice,
    packaged_piper_model,
    read_wav,
)

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed (apt-get)")

LINE = "You lied to me. The money was never gone, and I found the contract in your desk."


def _key(v: Voice) -> tuple[str, str, int, int]:
    return (v.engine, v.voice_id, v.pitch, v.rate_wpm)


def _gender_of(v: Voice) -> str:
    matches = [p.gender for p in VOICE_BANK if p.key() == _key(v)]
    assert len(matches) == 1, f"{_key(v)} is not exactly one bank preset"
    return matches[0]


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x**2)))


def _centroid(x: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(x))
    freqs = np.fft.rfftfreq(len(x), 1 / sr)
    return float((spec * freqs).sum() / spec.sum())


def _zcr(x: np.ndarray) -> float:
    return float(np.mean(np.abs(np.diff(np.sign(x))) > 0))


# --------------------------------------------------------------------------- bank / allocation


def test_bank_presets_are_unique_and_cover_both_genders() -> None:
    keys = [p.key() for p in VOICE_BANK]
    assert len(keys) == len(set(keys))
    assert VOICE_BANK[0].engine == "piper" and VOICE_BANK[0].gender == "male"
    assert sum(p.gender == "male" for p in VOICE_BANK) >= 6
    assert sum(p.gender == "female" for p in VOICE_BANK) >= 6
    for p in VOICE_BANK:
        assert p.description and "mbrola" not in p.voice_id and "mb-" not in p.voice_id
        Voice(description=p.description, engine=p.engine, voice_id=p.voice_id, pitch=p.pitch, rate_wpm=p.rate_wpm)


@pytest.mark.parametrize(
    "genders",
    [
        ["female", "male", "female", "male", "male", "female"],
        ["male"] * 6,
        ["female"] * 6,
    ],
)
def test_allocate_six_distinct_gender_matched(genders: list[str]) -> None:
    voices = allocate_voices(genders)
    assert len(voices) == 6
    assert len({_key(v) for v in voices}) == 6
    assert [_gender_of(v) for v in voices] == genders
    assert voices == allocate_voices(genders)  # deterministic


def test_first_male_is_piper_joe() -> None:
    first = allocate_voices(["female", "male"])[1]
    assert first.engine == "piper" and first.voice_id == "en_US-joe-medium" and first.pitch == 50


def test_allocation_beyond_bank_stays_distinct() -> None:
    voices = allocate_voices(["male"] * 25 + ["female"] * 25)
    assert len({_key(v) for v in voices}) == 50
    for v in voices:
        assert 0 <= v.pitch <= 99 and 80 <= v.rate_wpm <= 260


def test_build_voice_respects_used_and_rejects_bad_gender() -> None:
    used: set[tuple] = set()
    a = build_voice("female", 0, used)
    b = build_voice("female", 0, used)
    assert _key(a) != _key(b) and len(used) == 2
    with pytest.raises(ValueError):
        build_voice("robot", 0, set())


# --------------------------------------------------------------------------- synthesis


def test_backend_satisfies_protocol() -> None:
    backend = VoiceBankSpeech()
    assert isinstance(backend, SpeechBackend)
    assert backend.name == "voicebank"


@needs_espeak
def test_espeak_writes_speech_wav(tmp_path: Path) -> None:
    backend = VoiceBankSpeech()
    backend.check_available()
    voice = Voice(description="test", engine="espeak-ng", voice_id="en-us+f3", pitch=60, rate_wpm=165)
    out = tmp_path / "line.wav"
    result = backend.synthesize(SpeechRequest(text=LINE, voice=voice, out_path=out))
    with wave.open(str(out), "rb") as wf:
        assert (wf.getnchannels(), wf.getsampwidth(), wf.getframerate()) == (1, 2, 22050)
    x, sr = read_wav(out)
    assert sr == 22050 and result.sample_rate == 22050 and result.engine == "espeak-ng"
    assert len(x) / sr > 0.3 and abs(result.seconds - len(x) / sr) < 1e-3
    assert _rms(x) > 0.02
    assert 0.6 < float(np.max(np.abs(x))) < 0.75  # normalised near -3 dBFS
    # trimmed: no long leading or trailing silence
    assert _rms(x[: int(0.2 * sr)]) > 1e-3 and _rms(x[-int(0.2 * sr) :]) > 1e-3


@needs_espeak
def test_espeak_emotion_changes_pace(tmp_path: Path) -> None:
    backend = VoiceBankSpeech()
    voice = Voice(description="test", engine="espeak-ng", voice_id="en-gb+m7", pitch=50, rate_wpm=165)
    sad = backend.synthesize(SpeechRequest(text=LINE, voice=voice, out_path=tmp_path / "sad.wav", emotion="sad"))
    angry = backend.synthesize(SpeechRequest(text=LINE, voice=voice, out_path=tmp_path / "ang.wav", emotion="angry"))
    assert sad.seconds > angry.seconds * 1.1


@needs_espeak
def test_every_espeak_preset_speaks(tmp_path: Path) -> None:
    backend = VoiceBankSpeech()
    for i, preset in enumerate(p for p in VOICE_BANK if p.engine == "espeak-ng"):
        result = backend.synthesize(
            SpeechRequest(text="Hello there.", voice=preset.to_voice(), out_path=tmp_path / f"{i}.wav")
        )
        x, _ = read_wav(result.path)
        assert result.seconds > 0.3 and _rms(x) > 0.02, preset


@pytest.mark.slow
def test_piper_synthesis_and_pitch_shift(tmp_path: Path) -> None:
    assert packaged_piper_model().is_file()
    backend = VoiceBankSpeech()
    feats = {}
    for pitch in (30, 70):
        voice = Voice(description="test", engine="piper", voice_id="en_US-joe-medium", pitch=pitch, rate_wpm=165)
        result = backend.synthesize(SpeechRequest(text=LINE, voice=voice, out_path=tmp_path / f"p{pitch}.wav"))
        x, sr = read_wav(result.path)
        assert sr == 22050 and result.engine == "piper"
        assert result.seconds > 1.0 and _rms(x) > 0.02
        feats[pitch] = (_centroid(x, sr), _zcr(x), result.seconds)
    assert len(backend._piper_voices) == 1  # loaded once, cached
    low, high = feats[30], feats[70]
    assert high[0] > low[0] * 1.15 or high[1] > low[1] * 1.15
    # duration roughly preserved despite the resampling pitch shift
    assert 0.7 < high[2] / low[2] < 1.3


@pytest.mark.slow
def test_piper_configured_model_path(tmp_path: Path) -> None:
    backend = VoiceBankSpeech(piper_model=packaged_piper_model())
    voice = Voice(description="test", engine="piper", voice_id="any-name", pitch=50, rate_wpm=200)
    result = backend.synthesize(SpeechRequest(text="Get out.", voice=voice, out_path=tmp_path / "a.wav"))
    assert result.seconds > 0.3
    missing = VoiceBankSpeech(piper_model=tmp_path / "nope.onnx")
    with pytest.raises(SpeechEngineMissing):
        missing.synthesize(SpeechRequest(text="Get out.", voice=voice, out_path=tmp_path / "b.wav"))


def test_missing_espeak_binary_raises_clear_error(tmp_path: Path) -> None:
    backend = VoiceBankSpeech(espeak_binary="/nonexistent/espeak")
    with pytest.raises(SpeechEngineMissing) as info:
        backend.check_available()
    assert "apt-get install espeak-ng" in str(info.value)
    assert isinstance(info.value, RuntimeError)
    voice = Voice(description="test", engine="espeak-ng", voice_id="en-us+f3")
    with pytest.raises(SpeechEngineMissing, match="apt-get install espeak-ng"):
        backend.synthesize(SpeechRequest(text="Hi.", voice=voice, out_path=tmp_path / "x.wav"))
    assert not (tmp_path / "x.wav").exists()
