from __future__ import annotations

import time

import numpy as np
import pytest

from dramafactory.tools.assembly.music import MOODS, duck, render_music_bed

SR = 22050


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.asarray(x, dtype=np.float64) ** 2)))


def test_length_matches_segments_and_peak_bounded() -> None:
    segments = [(3.5, "tense"), (2.25, "romantic"), (4.0, "mysterious")]
    x = render_music_bed(segments, sample_rate=SR, seed=3)
    assert x.dtype == np.float32 and x.ndim == 1
    assert len(x) == round(9.75 * SR)
    assert float(np.max(np.abs(x))) <= 1.0
    assert _rms(x) > 0.03
    assert np.all(np.isfinite(x))


def test_other_sample_rate_and_empty() -> None:
    assert len(render_music_bed([(2.0, "sad")], sample_rate=16000)) == 32000
    assert len(render_music_bed([], sample_rate=SR)) == 0
    assert len(render_music_bed([(0.0, "sad"), (1.0, "hopeful")], sample_rate=SR)) == SR


@pytest.mark.parametrize("mood", MOODS)
def test_each_mood_renders_audible_without_clicks(mood: str) -> None:
    x = render_music_bed([(6.0, mood)], sample_rate=SR, seed=0)
    assert len(x) == 6 * SR
    assert 0.05 < _rms(x) and float(np.max(np.abs(x))) <= 1.0
    assert float(np.max(np.abs(np.diff(x)))) < 0.35  # no discontinuities
    assert abs(float(x[0])) < 1e-3 and abs(float(x[-1])) < 1e-3  # faded at the edges


def test_deterministic_for_seed() -> None:
    segs = [(4.0, "hopeful"), (4.0, "mysterious")]
    a = render_music_bed(segs, seed=7)
    b = render_music_bed(segs, seed=7)
    c = render_music_bed(segs, seed=8)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_different_moods_differ() -> None:
    beds = {m: render_music_bed([(5.0, m)], seed=0) for m in MOODS}
    for i, m1 in enumerate(MOODS):
        for m2 in MOODS[i + 1 :]:
            diff = _rms(beds[m1] - beds[m2])
            assert diff > 0.05, (m1, m2)

    # spectra differ too: tense sits lower than triumphant
    def centroid(x: np.ndarray) -> float:
        spec = np.abs(np.fft.rfft(x))
        return float((spec * np.fft.rfftfreq(len(x), 1 / SR)).sum() / spec.sum())

    assert centroid(beds["triumphant"]) > centroid(beds["tense"])


def test_crossfade_is_smooth_at_boundary() -> None:
    x = render_music_bed([(4.0, "tense"), (4.0, "triumphant")], seed=1)
    around = x[int(3.0 * SR) : int(5.0 * SR)]
    assert _rms(around) > 0.03  # no dropout across the join
    assert float(np.max(np.abs(np.diff(around)))) < 0.35


def test_unknown_mood_rejected() -> None:
    with pytest.raises(ValueError, match="unknown mood"):
        render_music_bed([(2.0, "jazzy")])


def test_fast_enough() -> None:
    render_music_bed([(1.0, "sad")])
    start = time.perf_counter()
    render_music_bed([(10.0, m) for m in MOODS], seed=2)
    assert time.perf_counter() - start < 2.0


def test_duck_lowers_rms_inside_intervals_only() -> None:
    x = render_music_bed([(10.0, "romantic")], seed=0)
    ducked = duck(x, [(2.0, 4.0), (6.5, 7.5)], SR, amount_db=-12)
    assert ducked.dtype == np.float32 and len(ducked) == len(x)
    inside = slice(int(2.0 * SR), int(4.0 * SR))
    ratio_db = 20 * np.log10(_rms(ducked[inside]) / _rms(x[inside]))
    assert -12.5 < ratio_db < -11.5
    outside = slice(int(4.6 * SR), int(6.0 * SR))  # past the release ramp, before the pre-roll
    assert np.allclose(ducked[outside], x[outside])
    assert _rms(ducked[int(6.5 * SR) : int(7.5 * SR)]) < 0.3 * _rms(x[int(6.5 * SR) : int(7.5 * SR)])
    # smooth ramp: gain changes gradually, no step at the interval start
    gain = np.abs(ducked[int(1.7 * SR) : int(2.1 * SR)]) / np.maximum(np.abs(x[int(1.7 * SR) : int(2.1 * SR)]), 1e-6)
    assert gain[0] > 0.95 and gain[-1] < 0.3


def test_duck_no_intervals_is_identity_and_bridges_small_gaps() -> None:
    x = render_music_bed([(5.0, "sad")], seed=0)
    assert np.array_equal(duck(x, [], SR), x)
    bridged = duck(x, [(1.0, 2.0), (2.2, 3.0)], SR, amount_db=-12)
    gap = slice(int(2.02 * SR), int(2.18 * SR))
    assert _rms(bridged[gap]) < 0.3 * _rms(x[gap])
