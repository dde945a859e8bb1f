"""The offline prosody features: pitch, voicing, energy, spectral balance at 50 Hz."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.signal import lfilter

from lsf_animation.audio.features import get_extractor, num_frames_50hz
from lsf_animation.audio.prosody import FEATURES, ProsodyExtractor

SR = 16000
LIBRIVOX = Path(__file__).resolve().parents[3] / "shared" / "audio" / "librivox"
F0, VOICING, ENERGY, TILT, CENTROID = range(5)
NORM_F0 = FEATURES.index("norm_f0")


def voiced(f0: float | np.ndarray, seconds: float = 0.6, amp: float = 0.3) -> np.ndarray:
    """A vowel-like voiced sound: a pulse train (constant or per-sample f0) through two formants."""
    n = int(SR * seconds)
    f0s = np.broadcast_to(np.asarray(f0, dtype=np.float64), (n,))
    phase = np.cumsum(f0s / SR)
    src = np.diff(np.floor(phase), prepend=0.0)
    src = lfilter([1.0], [1.0, -0.95], src)
    for f, bw in ((700, 90), (1200, 110)):
        r = np.exp(-np.pi * bw / SR)
        src = lfilter([1 - r], [1, -2 * r * np.cos(2 * np.pi * f / SR), r * r], src)
    return (amp * src / np.abs(src).max()).astype(np.float32)


@pytest.mark.parametrize("n", [0, 399, 400, 720, 4321, 16000, 40_000])
def test_frame_count_dtype_and_dim(n: int) -> None:
    ex = get_extractor("offline-prosody")
    out = ex(np.random.default_rng(n).standard_normal(n).astype(np.float32) * 0.1)
    assert out.shape == (num_frames_50hz(n), ex.dim) == (num_frames_50hz(n), len(FEATURES))
    assert out.dtype == np.float32 and np.isfinite(out).all()


@pytest.mark.parametrize("f0", [70.0, 110.0, 220.0, 400.0])
def test_pitch_is_tracked(f0: float) -> None:
    out = ProsodyExtractor()(voiced(f0))
    est = 200.0 * 2.0 ** out[5:-5, F0]
    assert np.abs(np.log2(est / f0)).max() < 0.02  # within a third of a semitone
    assert out[5:-5, VOICING].min() > 0.8


def test_high_and_low_pitch_differ_by_an_octave() -> None:
    ex = ProsodyExtractor()
    low, high = ex(voiced(110.0)), ex(voiced(220.0))
    assert np.median(high[:, F0] - low[:, F0]) == pytest.approx(1.0, abs=0.02)


def test_rising_pitch_rises_and_normalized_pitch_is_speaker_independent() -> None:
    ex = ProsodyExtractor()
    glide = np.linspace(100.0, 200.0, int(SR * 1.0))
    low, high = ex(voiced(glide, 1.0)), ex(voiced(2.0 * glide, 1.0))
    assert np.all(np.diff(low[5:-5, F0]) > -0.01)
    assert low[-5, F0] - low[5, F0] > 0.7  # 110 Hz -> 190 Hz between these frames
    # One octave apart in raw pitch, the same utterance-normalized contour.
    assert np.median(high[:, F0] - low[:, F0]) == pytest.approx(1.0, abs=0.03)
    assert np.abs(high[5:-5, NORM_F0] - low[5:-5, NORM_F0]).max() < 0.1


def test_voicing_energy_and_spectral_balance() -> None:
    rng = np.random.default_rng(0)
    noise = (0.05 * rng.standard_normal(SR // 2)).astype(np.float32)
    silence = np.zeros(SR // 2, np.float32)
    wav = np.concatenate([voiced(150.0, 0.5), noise, silence, 0.1 * voiced(150.0, 0.5)])
    out = ProsodyExtractor()(wav)
    seg = [out[a + 3 : a + 22] for a in (0, 25, 50, 75)]
    assert seg[0][:, VOICING].mean() > 0.8
    assert seg[1][:, VOICING].mean() < 0.5  # white noise is not voiced
    assert seg[2][:, VOICING].max() == 0.0
    # 20 dB quieter -> energy column (dB / 20) down by 1.
    assert np.median(seg[0][:, ENERGY] - seg[3][:, ENERGY]) == pytest.approx(1.0, abs=0.05)
    # White noise is flatter (tilt nearer 0) and brighter than a vowel.
    assert seg[1][:, TILT].mean() > seg[0][:, TILT].mean() + 0.5
    assert seg[1][:, CENTROID].mean() > 2 * seg[0][:, CENTROID].mean()


def test_silence_gives_finite_constant_features() -> None:
    out = ProsodyExtractor()(np.zeros(SR, np.float32))
    assert np.isfinite(out).all() and np.all(out.std(axis=0) == 0)
    assert np.all(out[:, VOICING] == 0)


def test_fingerprint_follows_config() -> None:
    base = ProsodyExtractor()
    assert base.fingerprint() == ProsodyExtractor().fingerprint()
    assert ProsodyExtractor(fmin_hz=50.0).fingerprint() != base.fingerprint()
    assert ProsodyExtractor(yin_threshold=0.2).fingerprint() != base.fingerprint()


def test_real_speech_pitch_is_in_the_voice_range() -> None:
    sf = pytest.importorskip("soundfile")
    wavs = sorted(LIBRIVOX.glob("*.wav"))
    if not wavs:
        pytest.skip("no LibriVox clips")
    wav, _ = sf.read(wavs[0], dtype="float32")
    out = ProsodyExtractor()(wav)
    is_voiced = out[:, VOICING] > 0.5
    assert 0.3 < is_voiced.mean() < 0.9
    f0 = 200.0 * 2.0 ** out[is_voiced, F0]
    assert 60 < np.median(f0) < 250  # an adult reader


def test_quiet_recording_keeps_voicing_and_normalized_features() -> None:
    rng = np.random.default_rng(1)
    wav = np.concatenate(
        [
            voiced(120.0, 0.4),
            np.zeros(SR // 4, np.float32),
            voiced(180.0, 0.4),
            (0.05 * rng.standard_normal(SR // 4)).astype(np.float32),
        ]
    )
    ex = ProsodyExtractor()
    loud, quiet = ex(wav), ex(0.01 * wav)  # 40 dB quieter
    np.testing.assert_allclose(quiet[:, VOICING], loud[:, VOICING], atol=1e-3)
    np.testing.assert_allclose(quiet[:, NORM_F0:], loud[:, NORM_F0:], atol=1e-2)
    speech = loud[:, VOICING] > 0.5
    assert np.median(loud[speech, ENERGY] - quiet[speech, ENERGY]) == pytest.approx(2.0, abs=0.01)
