"""The "offline-prosody" extractor: pitch, voicing, energy and spectral balance at 50 Hz.

The emotion stream's embedded default. Pitch is tracked with a vectorized YIN (cumulative mean
normalized difference function computed through FFT cross-correlation, absolute threshold, then
parabolic interpolation), on a 42 ms window centred on each of HuBERT's 25 ms frames, so the
frames line up with the motion stream's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from lsf_animation.audio.features import (
    config_fingerprint,
    make_config,
    register_extractor,
)
from lsf_animation.audio.offline_motion import (
    deltas,
    frame_energy_db,
    frame_signal,
    power_spectrum,
)
from lsf_animation.constants import FEATURE_RATE_HZ, SAMPLE_RATE

ALGORITHM_VERSION = 1
"""Bump when the computation changes, so cached features are recomputed."""

FEATURES = (
    "log2_f0_re_200hz",  # pitch in octaves re 200 Hz, interpolated through unvoiced frames
    "voicing",  # voicing probability in [0, 1]
    "energy_db_over_20",  # frame RMS in dB re full scale, divided by 20
    "tilt_db_per_octave_over_10",  # slope of the band energies against log frequency
    "centroid_khz_over_2",  # spectral centroid
    "d_log2_f0",
    "d_voicing",
    "d_energy",
    "d_tilt",
    "d_centroid",
    "norm_f0",  # pitch z-scored over the utterance's voiced frames (speaker-independent)
    "norm_energy",
    "norm_tilt",
    "norm_centroid",
    "local_f0_spread",  # std of norm_f0 over voiced frames within ±0.5 s (pitch excursion)
    "local_energy",  # mean of norm_energy within ±0.5 s (loudness contour)
)
"""Output columns, in order."""

_EPS = 1e-10


@dataclass(frozen=True)
class ProsodyConfig:
    """Settings of the prosody features (all are part of the fingerprint)."""

    fmin_hz: float = 60.0
    fmax_hz: float = 500.0
    yin_window: int = 384  # integration window of the difference function, samples
    yin_threshold: float = 0.15
    voicing_threshold: float = 0.5
    silence_below_peak_db: float = 45.0  # frames this far under the loudest are silence
    silence_floor_db: float = -80.0  # and frames under this level (dB re full scale) always
    median_frames: int = 5
    context_frames: int = 25  # half-width of the local (±0.5 s) statistics


def yin_pitch(
    frames: np.ndarray, window: int, fmin: float, fmax: float, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """YIN on each frame.

    Args:
        frames: (T, L) float32 with L >= window + max lag.
        window: integration window W (samples).
        fmin, fmax: pitch search range (Hz).
        threshold: YIN's absolute threshold on the normalized difference.

    Returns:
        f0 (T,) Hz and periodicity (T,) in [0, 1] (1 - the normalized difference at the chosen
        lag; high for clean periodic frames).
    """
    t, length = frames.shape
    tau_min = max(2, int(SAMPLE_RATE / fmax))
    tau_max = int(np.ceil(SAMPLE_RATE / fmin))
    if length < window + tau_max + 1:
        raise ValueError("frames too short for the YIN window and lag range")
    if t == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    x = frames - frames.mean(axis=1, keepdims=True)
    # r[tau] = sum_{j<W} x_j x_{j+tau}: cross-correlation of the first W samples with the frame.
    # A circular correlation of size n >= L is exact here: j + tau < W + tau_max + 1 <= L.
    n_fft = 1 << int(np.ceil(np.log2(length)))
    spec_full = np.fft.rfft(x, n=n_fft, axis=1)
    spec_head = np.fft.rfft(x[:, :window], n=n_fft, axis=1)
    r = np.fft.irfft(np.conj(spec_head) * spec_full, n=n_fft, axis=1)[:, : tau_max + 1]
    sq = np.concatenate([np.zeros((t, 1)), np.cumsum(x.astype(np.float64) ** 2, axis=1)], axis=1)
    taus = np.arange(tau_max + 1)
    energy_shift = sq[:, taus + window] - sq[:, taus]  # sum_{j<W} x_{j+tau}^2
    diff = np.maximum(energy_shift[:, :1] + energy_shift - 2.0 * r, 0.0)
    cum = np.cumsum(diff[:, 1:], axis=1)
    cmnd = np.ones_like(diff)
    cmnd[:, 1:] = diff[:, 1:] * taus[None, 1:] / np.maximum(cum, _EPS)
    search = cmnd[:, tau_min : tau_max + 1]
    # First lag under the threshold that is also a local minimum; otherwise the global minimum.
    below = search < threshold
    local_min = np.ones_like(below)
    local_min[:, :-1] = search[:, :-1] <= search[:, 1:]
    candidates = below & local_min
    has = candidates.any(axis=1)
    idx = np.where(has, candidates.argmax(axis=1), search.argmin(axis=1))
    # Parabolic interpolation around the chosen lag.
    rows = np.arange(t)
    i0 = np.clip(idx - 1, 0, search.shape[1] - 1)
    i2 = np.clip(idx + 1, 0, search.shape[1] - 1)
    a, b, c = search[rows, i0], search[rows, idx], search[rows, i2]
    denom = a - 2 * b + c
    shift = np.where(np.abs(denom) > _EPS, 0.5 * (a - c) / np.where(denom == 0, 1, denom), 0.0)
    shift = np.clip(shift, -1.0, 1.0)
    tau = idx + tau_min + shift
    f0 = SAMPLE_RATE / tau
    periodicity = np.clip(1.0 - b, 0.0, 1.0)
    return f0.astype(np.float32), periodicity.astype(np.float32)


def _median_filter(x: np.ndarray, width: int) -> np.ndarray:
    """Running median over `width` frames (odd), edges repeated."""
    if width <= 1 or len(x) == 0:
        return x
    half = width // 2
    padded = np.pad(x, half, mode="edge")
    return np.median(np.lib.stride_tricks.sliding_window_view(padded, width), axis=1).astype(
        x.dtype
    )


def _interpolate_unvoiced(values: np.ndarray, voiced: np.ndarray) -> np.ndarray:
    """Linear interpolation of `values` through unvoiced frames (constant beyond the ends)."""
    if not voiced.any():
        return np.zeros_like(values)
    idx = np.arange(len(values))
    return np.interp(idx, idx[voiced], values[voiced]).astype(values.dtype)


def _zscore(x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """(x - mean) / std with statistics over `mask` frames (all if None); 0 when constant."""
    ref = x if mask is None else x[mask]
    if len(ref) == 0:
        return np.zeros_like(x)
    std = ref.std()
    return ((x - ref.mean()) / max(float(std), 1e-5)).astype(np.float32)


def _box_mean(x: np.ndarray, weights: np.ndarray, half: int) -> np.ndarray:
    """Weighted mean of x over ±half frames (weights 0 excluded); 0 where no weight."""
    n = len(x)

    def window_sum(v: np.ndarray) -> np.ndarray:
        c = np.concatenate([[0.0], np.cumsum(v)])
        idx = np.arange(n)
        return c[np.minimum(idx + half + 1, n)] - c[np.maximum(idx - half, 0)]

    num = window_sum(x * weights)
    den = window_sum(weights)
    return np.where(den > 0.5, num / np.maximum(den, _EPS), 0.0)


class ProsodyExtractor:
    """Prosody at 50 Hz: raw values, their deltas, utterance-normalized and local statistics.

    Columns are listed in `FEATURES` (dim 16).
    """

    name = "offline-prosody"
    rate_hz = float(FEATURE_RATE_HZ)
    dim = len(FEATURES)

    def __init__(self, **options: object) -> None:
        self.config = make_config(ProsodyConfig, self.name, options)
        c = self.config
        tau_max = int(np.ceil(SAMPLE_RATE / c.fmin_hz))
        self._pitch_window = c.yin_window + tau_max + 1
        # 24 log-spaced bands 100 Hz - 7.6 kHz for the spectral tilt.
        freqs = np.fft.rfftfreq(512, 1.0 / SAMPLE_RATE)
        edges = np.geomspace(100.0, 7600.0, 25)
        band_of_bin = np.digitize(freqs, edges) - 1  # -1 or 24 = outside
        self._bands = (band_of_bin[:, None] == np.arange(24)[None, :]).astype(np.float32)
        centres = np.sqrt(edges[:-1] * edges[1:])
        self._log2_centres = np.log2(centres)
        self._freqs_khz = (freqs / 1000.0).astype(np.float32)

    def fingerprint(self) -> str:
        """Hash of the extractor name and config (no weights)."""
        return config_fingerprint(
            {"name": self.name, "version": ALGORITHM_VERSION, **asdict(self.config)}
        )

    def __call__(self, wav: np.ndarray) -> np.ndarray:
        """(N,) float32 16 kHz -> (num_frames_50hz(N), 16) float32."""
        c = self.config
        wav = np.asarray(wav, dtype=np.float32).reshape(-1)
        frames = frame_signal(wav)
        t = len(frames)
        if t == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        power = power_spectrum(frames)
        energy_db = frame_energy_db(frames)

        f0, periodicity = yin_pitch(
            frame_signal(wav, self._pitch_window),
            c.yin_window,
            c.fmin_hz,
            c.fmax_hz,
            c.yin_threshold,
        )
        # Voicing probability: periodicity, zero in silence (relative to this utterance's
        # loudest frames, so the gain of the recording does not matter).
        peak = float(np.percentile(energy_db, 99))
        # Floor 60 dB under the peak: digital silence must not stretch the energy statistics.
        energy_db = np.maximum(energy_db, peak - 60.0)
        speech = (energy_db > peak - c.silence_below_peak_db) & (energy_db > c.silence_floor_db)
        voicing = np.where(speech, periodicity, 0.0).astype(np.float32)
        voiced = voicing >= c.voicing_threshold
        log_f0 = np.log2(np.maximum(f0, 1.0) / 200.0).astype(np.float32)
        # Median-smooth (octave errors) after filling unvoiced frames so they do not drag it,
        # then interpolate through the unvoiced frames again.
        smoothed = _median_filter(_interpolate_unvoiced(log_f0, voiced), c.median_frames)
        log_f0 = _interpolate_unvoiced(smoothed, voiced)

        bands = power @ self._bands
        band_db = 10.0 * np.log10(bands + float(bands.max()) * 1e-8 + 1e-30)  # 80 dB range
        xc = self._log2_centres - self._log2_centres.mean()
        tilt = (band_db - band_db.mean(axis=1, keepdims=True)) @ xc / (xc @ xc)
        p = power / (power.sum(axis=1, keepdims=True) + _EPS)
        centroid = p @ self._freqs_khz

        raw = np.stack(
            [log_f0, voicing, energy_db / 20.0, tilt / 10.0, centroid / 2.0], axis=1
        ).astype(np.float32)
        norm_f0 = _zscore(log_f0, voiced if voiced.any() else None)
        norm = np.stack(
            [
                norm_f0,
                _zscore(energy_db.astype(np.float32)),
                _zscore(tilt.astype(np.float32), speech if speech.any() else None),
                _zscore(centroid.astype(np.float32), speech if speech.any() else None),
            ],
            axis=1,
        )
        w = voiced.astype(np.float64)
        mean_f0 = _box_mean(norm_f0, w, c.context_frames)
        spread = np.sqrt(np.maximum(_box_mean(norm_f0**2, w, c.context_frames) - mean_f0**2, 0))
        local_energy = _box_mean(norm[:, 1].astype(np.float64), np.ones(t), c.context_frames)
        feats = np.concatenate(
            [raw, deltas(raw), norm, np.stack([spread, local_energy], axis=1)], axis=1
        )
        return np.nan_to_num(feats.astype(np.float32))


register_extractor("offline-prosody", ProsodyExtractor)
