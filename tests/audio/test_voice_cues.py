"""offline-voice: prosody plus speech rate and voice quality."""

from __future__ import annotations

import numpy as np
import pytest

from lsf_animation.audio.features import check_features, get_extractor
from lsf_animation.audio.voice_cues import FEATURES

SR = 16000


def _espeak(rate: int) -> np.ndarray:
    import soxr

    from lsf_animation.data.synth.espeak import VoiceSettings, get_synthesizer

    text = "Maybe we should ask Paul about the budget before the market opens on Monday."
    utt = get_synthesizer().synthesize(text, VoiceSettings(rate=rate))
    speech = soxr.resample(utt.audio, utt.sample_rate, SR).astype(np.float32)
    return np.concatenate([np.zeros(3200, np.float32), speech, np.zeros(3200, np.float32)])


def test_contract_and_prosody_columns() -> None:
    ex = get_extractor("offline-voice")
    prosody = get_extractor("offline-prosody")
    wav = _espeak(170)
    for n in (0, 399, 400, 5000, len(wav)):
        feats = ex(wav[:n])
        check_features(ex, wav[:n], feats)
    assert ex.dim == len(FEATURES) == 21
    np.testing.assert_array_equal(ex(wav)[:, :16], prosody(wav))
    assert ex.fingerprint() == get_extractor("offline-voice").fingerprint()
    assert get_extractor("offline-voice", nucleus_dip_db=5.0).fingerprint() != ex.fingerprint()


def test_faster_speech_has_a_higher_rate() -> None:
    ex = get_extractor("offline-voice")
    column = FEATURES.index("log2_rate_re_4hz")
    rates = {}
    for rate in (110, 260):
        feats = ex(_espeak(rate))
        rates[rate] = 4 * 2 ** np.median(feats[feats[:, 1] > 0.5, column])
    # Measured 2.7 and 4.3 nuclei per second of speech.
    assert rates[260] > 1.3 * rates[110]


def test_breathy_voice_has_a_lower_cepstral_peak() -> None:
    """A periodic glottal source against the same source half replaced by noise."""
    from scipy.signal import lfilter

    rng = np.random.default_rng(0)
    n = 2 * SR
    pulses = np.zeros(n)
    pulses[:: SR // 120] = 1.0
    noise = rng.standard_normal(n) * 0.05
    column = FEATURES.index("cpp_db_over_10")
    ex = get_extractor("offline-voice")
    cpp = {}
    for name, source in (("modal", pulses), ("breathy", 0.5 * pulses + noise)):
        r = np.exp(-np.pi * 90 / SR)
        x = lfilter([1.0], [1.0, -2 * r * np.cos(2 * np.pi * 600 / SR), r * r], source)
        feats = ex((0.3 * x / np.abs(x).max()).astype(np.float32))
        voiced = feats[:, 1] > 0.5
        assert voiced.mean() > 0.5
        cpp[name] = 10 * feats[voiced, column].mean()
    assert cpp["modal"] > cpp["breathy"] + 3.0
    assert cpp["modal"] == pytest.approx(cpp["modal"])  # finite
