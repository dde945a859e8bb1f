"""Lip-sync measures on known signals."""

from __future__ import annotations

import numpy as np
import pytest

from lsf_animation.eval.lipsync import lagged_correlation, speech_envelope


def test_envelope_is_the_rms_of_each_40_ms_frame() -> None:
    wav = np.concatenate([np.zeros(640), np.full(640, 0.5), 0.2 * np.sin(np.arange(640))])
    env = speech_envelope(wav.astype(np.float32), 4)  # the 4th frame is padding
    np.testing.assert_allclose(env[:2], [0.0, 0.5], atol=1e-7)
    assert env[2] == pytest.approx(0.2 / np.sqrt(2), rel=0.02)
    assert env[3] == 0.0


def test_lag_search_finds_a_delayed_copy() -> None:
    rng = np.random.default_rng(0)
    env = rng.random(200)
    late = np.roll(env, 2)  # motion two frames after the sound
    result = lagged_correlation(late, env, max_lag=3)
    assert result.best_lag == 2 and result.r_best == pytest.approx(1.0, abs=0.02)
    assert result.r_at_zero < 0.5
    assert lagged_correlation(-env, env).r_at_zero == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="equal"):
        lagged_correlation(env[:10], env)
