"""Phone-level lip measures on signals whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from lsf_animation.audio.phonetic import PhoneSegment
from lsf_animation.eval.phone_lips import (
    centre_frames,
    phone_lip_sync,
    pool,
    refined_lag,
    relative_aperture,
)

FPS = 25.0


def _track(segments: list[PhoneSegment], values: dict[str, float], num_frames: int) -> np.ndarray:
    """A per-frame signal holding values[phone] over each segment (0.3 elsewhere)."""
    out = np.full(num_frames, 0.3)
    for s in segments:
        out[int(s.start_s * FPS) : int(np.ceil(s.end_s * FPS))] = values.get(s.phone, 0.3)
    return out


def _phones() -> list[PhoneSegment]:
    names = ["SIL", "M", "AA", "P", "IY", "B", "UW", "W", "EH", "AE", "M", "OW", "IH", "SIL"]
    return [PhoneSegment(p, 0.2 * i, 0.2 * (i + 1)) for i, p in enumerate(names)]


def test_relative_aperture_spans_zero_to_one() -> None:
    np.testing.assert_allclose(relative_aperture(np.array([2.0, 4.0, 3.0])), [0, 1, 0.5])
    assert not relative_aperture(np.ones(5)).any()


def test_centre_frames_hold_each_phone_centre() -> None:
    segs = [PhoneSegment("M", 0.10, 0.18), PhoneSegment("AA", 0.18, 0.30), PhoneSegment("M", 9, 10)]
    np.testing.assert_array_equal(centre_frames(segs, 20, FPS), [3, 6, 19])  # 0.14 s, 0.24 s


def test_a_good_lip_sync_scores_well_and_a_still_mouth_badly() -> None:
    phones = _phones()
    t = 75
    aperture = _track(phones, {"M": 0.0, "P": 0.0, "B": 0.0, "AA": 1.0, "AE": 1.0}, t)
    widths = {"UW": 0.040, "OW": 0.042, "W": 0.040, "IY": 0.052, "EH": 0.05, "IH": 0.048}
    width = _track(phones, widths, t)
    envelope = aperture + 0.05  # the voice is loud where the mouth is open
    good = phone_lip_sync(aperture, width, envelope, phones, FPS)
    assert good.bilabials_closed == 1.0 and len(good.bilabial_apertures) == 4
    assert good.rounding_ratio == pytest.approx(np.mean([40, 40, 42]) / np.mean([52, 50, 48]))
    assert good.open_vowel_median == 1.0
    assert good.lag_ms == pytest.approx(0.0, abs=5) and good.envelope_r[0] == pytest.approx(1.0)

    still = phone_lip_sync(np.full(t, 0.01), np.full(t, 0.05), envelope, phones, FPS)
    assert still.rounding_ratio == 1.0 and still.open_vowel_median == 0.0
    assert still.envelope_r[0] == 0.0

    late = phone_lip_sync(np.roll(aperture, 2), width, envelope, phones, FPS)
    assert late.frame_lags[0] == 2 and late.lag_ms == pytest.approx(80.0, abs=10)


def test_lag_is_refined_between_frames() -> None:
    rng = np.random.default_rng(0)
    x = np.convolve(rng.standard_normal(400), np.hanning(9), "same")
    half_frame_late = 0.5 * (x + np.roll(x, 1))  # half a frame after x, smoothed
    frame, lag = refined_lag(half_frame_late, x)
    assert frame in (0, 1) and 0.3 < lag < 0.7


def test_pooling_counts_every_clip() -> None:
    phones = _phones()
    a = phone_lip_sync(_track(phones, {"M": 0.0}, 75), np.full(75, 0.05), np.ones(75), phones)
    b = phone_lip_sync(_track(phones, {"M": 1.0}, 75), np.full(75, 0.05), np.ones(75), phones)
    both = pool([a, b])
    assert len(both.bilabial_apertures) == 8 and len(both.lags_ms) == 2
    assert 0.0 < both.bilabials_closed < 1.0
    with pytest.raises(ValueError, match="equal"):
        phone_lip_sync(np.zeros(5), np.zeros(4), np.zeros(5), phones)
