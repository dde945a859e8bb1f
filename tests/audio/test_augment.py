"""Speech augmentation: same length and timing, reproducible per seed, each step does what it
says."""

from __future__ import annotations

import numpy as np
import pytest

from lsf_animation.audio.augment import (
    AugmentConfig,
    augment_speech,
    room_impulse_response,
    speech_rms,
    warp_vocal_tract,
)
from lsf_animation.errors import LsfError

SR = 16000


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """A voiced, syllable-like test signal: 150 Hz pulses with two formant-like resonances,
    on for 200 ms, off for 150 ms, with a silent lead."""
    from scipy.signal import lfilter

    n = 3 * SR
    source = np.zeros(n)
    source[:: SR // 150] = 1.0
    x = source
    for f, bw in ((700.0, 80.0), (1800.0, 120.0)):
        r = np.exp(-np.pi * bw / SR)
        x = lfilter([1.0], [1.0, -2 * r * np.cos(2 * np.pi * f / SR), r * r], x)
    gate = ((np.arange(n) / SR) % 0.35 < 0.2) & (np.arange(n) > 0.3 * SR)
    x = x * gate
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


def _onsets(wav: np.ndarray) -> np.ndarray:
    """Sample indices where the 5 ms envelope first exceeds a quarter of its peak, per burst."""
    frame = 80
    env = np.sqrt(np.mean(wav[: len(wav) // frame * frame].reshape(-1, frame) ** 2, axis=1))
    on = env > 0.25 * env.max()
    return np.flatnonzero(on[1:] & ~on[:-1]) * frame


def test_same_length_same_timing_and_reproducible(speech: np.ndarray) -> None:
    clean_onsets = _onsets(speech)
    for seed in range(12):
        out, steps = augment_speech(speech, np.random.default_rng(seed))
        again, _ = augment_speech(speech, np.random.default_rng(seed))
        np.testing.assert_array_equal(out, again)
        assert out.shape == speech.shape and out.dtype == np.float32
        assert np.abs(out).max() <= 1.0 and np.isfinite(out).all()
        if steps and not any(s.startswith("noise") for s in steps):
            # Without noise masking them, the bursts start where they did (within 10 ms).
            onsets = _onsets(out)
            near = [np.abs(onsets - c).min() for c in clean_onsets]
            assert np.median(near) <= 160, steps
    first, _ = augment_speech(speech, np.random.default_rng(0))
    other, _ = augment_speech(speech, np.random.default_rng(1))
    assert not np.array_equal(first, other)


def test_every_step_is_used_and_changes_the_sound(speech: np.ndarray) -> None:
    seen: set[str] = set()
    for seed in range(40):
        out, steps = augment_speech(speech, np.random.default_rng(seed))
        seen |= {s.split()[0] for s in steps}
        if len(steps) > 1:
            assert np.abs(out - speech).mean() > 1e-4
    assert {"vocal_tract", "reverb", "band", "noise", "gain"} <= seen
    assert seen & {"mu-law", "mp3", "opus"}
    untouched, steps = augment_speech(speech, np.random.default_rng(0), AugmentConfig(clean=1.0))
    assert steps == [] and np.array_equal(untouched, speech)


def test_noise_reaches_the_drawn_signal_to_noise_ratio(speech: np.ndarray) -> None:
    only_noise = AugmentConfig(clean=0, vocal_tract=0, reverb=0, band=0, noise=1, codec=0, gain=0)
    for seed in range(5):
        out, steps = augment_speech(speech, np.random.default_rng(seed), only_noise)
        snr = float(steps[0].split()[-2])
        residual = out - speech
        measured = 20 * np.log10(speech_rms(speech) / np.sqrt(np.mean(residual**2)))
        assert measured == pytest.approx(snr, abs=1.5)


def test_vocal_tract_warp_moves_the_spectrum() -> None:
    t = np.arange(SR) / SR
    tone = np.sin(2 * np.pi * 1000 * t)
    for factor in (0.9, 1.1):
        warped = warp_vocal_tract(tone, factor)
        spectrum = np.abs(np.fft.rfft(warped[2000:-2000]))
        peak_hz = np.argmax(spectrum) * SR / len(warped[2000:-2000])
        assert peak_hz == pytest.approx(1000 * factor, rel=0.02)


def test_room_decays_at_its_reverberation_time() -> None:
    rir = room_impulse_response(np.random.default_rng(0), rt60_s=0.5, drr_db=6.0)
    assert rir[0] == 1.0
    assert 10 * np.log10(1.0 / np.sum(rir[1:] ** 2)) == pytest.approx(6.0, abs=0.1)
    energy = np.cumsum(rir[::-1] ** 2)[::-1]  # Schroeder integral
    db = 10 * np.log10(energy / energy[1])
    t20 = np.argmax(db < -20) / SR
    assert 3 * t20 == pytest.approx(0.5, rel=0.2)  # -60 dB extrapolated from -20 dB


def test_bad_probability_is_a_clear_error() -> None:
    with pytest.raises(LsfError, match="reverb must be in"):
        AugmentConfig(reverb=1.5)
