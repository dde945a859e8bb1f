"""Lip sync without ground truth: does the mouth open when the voice is loud?

For speech with no captured motion (any recording), the lip aperture of an animation should rise
and fall with the speech envelope: open on loud (voiced, open-vowel) stretches, closed in pauses.
The Pearson correlation between the two per-frame signals measures it; a small lag search allows
for the model leading or trailing the sound by a frame or two.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lsf_animation.constants import SAMPLES_PER_FRAME


def speech_envelope(wav: np.ndarray, num_frames: int) -> np.ndarray:
    """(T,) RMS amplitude of each 40 ms frame [640 t, 640 t + 640) of 16 kHz audio (zero-padded)."""
    need = num_frames * SAMPLES_PER_FRAME
    x = np.zeros(need, np.float64)
    piece = np.asarray(wav[:need], np.float64)
    x[: len(piece)] = piece
    return np.sqrt((x.reshape(num_frames, SAMPLES_PER_FRAME) ** 2).mean(axis=1))


@dataclass(frozen=True)
class LagCorrelation:
    """Pearson r at lag 0, and the best r within the searched lags (frames; > 0 = motion late)."""

    r_at_zero: float
    best_lag: int
    r_best: float


def lagged_correlation(
    motion: np.ndarray, envelope: np.ndarray, max_lag: int = 2
) -> LagCorrelation:
    """Correlate two (T,) signals, shifting `motion` by -max_lag..max_lag frames."""
    if motion.shape != envelope.shape or motion.ndim != 1:
        raise ValueError(f"need two equal (T,) signals, got {motion.shape} and {envelope.shape}")

    def r(lag: int) -> float:
        a, b = (
            (motion[lag:], envelope[: len(envelope) - lag])
            if lag >= 0
            else (motion[:lag], envelope[-lag:])
        )
        if len(a) < 3 or a.std() == 0 or b.std() == 0:
            return 0.0
        return float(np.corrcoef(a, b)[0, 1])

    scores = {lag: r(lag) for lag in range(-max_lag, max_lag + 1)}
    best = max(scores, key=lambda lag: scores[lag])
    return LagCorrelation(scores[0], best, scores[best])
