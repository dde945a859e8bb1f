"""The "offline-motion" extractor: spectral features at 50 Hz for the motion stream.

Nothing to download: log-mel energies, MFCCs with first and second deltas and a few spectral-shape
descriptors, computed with numpy on HuBERT's frame grid (a 25 ms window every 20 ms, so frame t
covers samples [320 t, 320 t + 400)), then normalized to zero mean and unit variance over the
utterance so that a change of microphone, gain or voice (synthetic vs. recorded) shifts the
features much less than a change of phone does.

Also the STFT and mel helpers the prosody extractor shares.

Why not pocketsphinx phone segmentation: its allphone decoder (wheel 5.1.1, BSD, bundled en-us
model) runs at about 20x real time per core with default beams and still only about 40x with
narrowed beams, under the 50x target, and its phone strings on LibriVox speech are noisy; the
features here reach several hundred times real time.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np

from lsf_animation.audio.features import (
    config_fingerprint,
    make_config,
    num_frames_50hz,
    register_extractor,
)
from lsf_animation.constants import (
    FEATURE_HOP_SAMPLES,
    FEATURE_RATE_HZ,
    FEATURE_WINDOW_SAMPLES,
    SAMPLE_RATE,
)

ALGORITHM_VERSION = 1
"""Bump when the computation changes, so cached features are recomputed."""

N_FFT = 512
_POWER_FLOOR = 1e-20
_DYNAMIC_RANGE = 1e-8
"""Power floor relative to the utterance's peak (80 dB): keeps log features gain-invariant and
keeps digital silence from dominating the normalization."""
_NORM_EPS = 1e-5
SHAPE_FEATURES = (
    "log_energy",
    "centroid_khz",
    "bandwidth_khz",
    "flatness",
    "rolloff_khz",
    "zero_crossing_rate",
    "flux",
)
"""Spectral-shape descriptors appended after the MFCCs, in this order."""


def frame_signal(wav: np.ndarray, window: int = FEATURE_WINDOW_SAMPLES) -> np.ndarray:
    """Frames on HuBERT's 50 Hz grid: (num_frames_50hz(N), window) float32.

    Frame t starts at sample 320 t. A `window` longer than 400 is centred on the same 25 ms window
    (zero-padded at the edges), so longer analyses (pitch) stay aligned with the short ones.
    """
    wav = np.asarray(wav, dtype=np.float32).reshape(-1)
    n = num_frames_50hz(len(wav))
    if n == 0:
        return np.zeros((0, window), dtype=np.float32)
    left = (window - FEATURE_WINDOW_SAMPLES) // 2
    if left > 0:
        wav = np.pad(wav, (left, window))
    starts = np.arange(n) * FEATURE_HOP_SAMPLES
    view = np.lib.stride_tricks.sliding_window_view(wav, window)
    return np.ascontiguousarray(view[starts])


def frame_energy_db(frames: np.ndarray) -> np.ndarray:
    """Level of each DC-removed frame in dB re full scale: (T, W) -> (T,)."""
    mean_square = np.mean((frames - frames.mean(axis=1, keepdims=True)) ** 2, axis=1)
    return 10.0 * np.log10(mean_square + 1e-20)


def power_spectrum(frames: np.ndarray, n_fft: int = N_FFT) -> np.ndarray:
    """Hann-windowed power spectrum of DC-removed frames: (T, W) -> (T, n_fft // 2 + 1) float32."""
    frames = frames - frames.mean(axis=1, keepdims=True)
    window = np.hanning(frames.shape[1] + 1)[:-1].astype(np.float32)
    spec = np.fft.rfft(frames * window, n=n_fft, axis=1)
    return (spec.real**2 + spec.imag**2).astype(np.float32)


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """HTK mel scale."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    """Inverse of `hz_to_mel`."""
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


@lru_cache(maxsize=16)
def mel_filterbank(
    n_mels: int, n_fft: int = N_FFT, fmin: float = 20.0, fmax: float = 7600.0
) -> np.ndarray:
    """Triangular mel filters, (n_fft // 2 + 1, n_mels) float32, peak 1 (read-only, cached)."""
    freqs = np.fft.rfftfreq(n_fft, 1.0 / SAMPLE_RATE)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rise = (freqs[None, :] - lo) / (mid - lo)
    fall = (hi - freqs[None, :]) / (hi - mid)
    fb = np.clip(np.minimum(rise, fall), 0.0, None).T.astype(np.float32)
    fb.setflags(write=False)
    return fb


@lru_cache(maxsize=16)
def dct_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Orthonormal DCT-II, (n_in, n_out) float32, so that `x @ dct_matrix(...)` gives the DCT."""
    k = np.arange(n_out)[None, :]
    n = np.arange(n_in)[:, None]
    m = np.cos(np.pi / n_in * (n + 0.5) * k) * np.sqrt(2.0 / n_in)
    m[:, 0] /= np.sqrt(2.0)
    m = m.astype(np.float32)
    m.setflags(write=False)
    return m


def deltas(x: np.ndarray, width: int = 2) -> np.ndarray:
    """Regression deltas over ±`width` frames along axis 0 (edges repeated): same shape as x."""
    if len(x) == 0:
        return np.zeros_like(x)
    padded = np.pad(x, ((width, width), (0, 0)), mode="edge")
    n = len(x)
    num = sum(
        k * (padded[width + k : width + k + n] - padded[width - k : width - k + n])
        for k in range(1, width + 1)
    )
    return (num / (2.0 * sum(k * k for k in range(1, width + 1)))).astype(np.float32)


def normalize_utterance(x: np.ndarray, eps: float = _NORM_EPS) -> np.ndarray:
    """Zero mean, unit variance per column over the utterance (a constant column becomes 0)."""
    if len(x) == 0:
        return x.astype(np.float32)
    mean = x.mean(axis=0, keepdims=True)
    std = x.std(axis=0, keepdims=True)
    return ((x - mean) / np.maximum(std, eps)).astype(np.float32)


@dataclass(frozen=True)
class OfflineMotionConfig:
    """Settings of the offline motion features (all are part of the fingerprint)."""

    n_mels: int = 40
    n_mfcc: int = 13
    fmin_hz: float = 20.0
    fmax_hz: float = 7600.0
    preemphasis: float = 0.97
    delta_width: int = 2
    normalize: bool = True


class OfflineMotionExtractor:
    """Log-mel + MFCC + Δ + ΔΔ + spectral shape at 50 Hz, utterance-normalized.

    Output columns, in order: `n_mels` log-mel energies, `n_mfcc` MFCCs (c0..), their deltas, their
    second deltas, then the `SHAPE_FEATURES` (7). With the defaults dim = 40 + 3 * 13 + 7 = 86.
    """

    name = "offline-motion"
    rate_hz = float(FEATURE_RATE_HZ)

    def __init__(self, **options: object) -> None:
        self.config = make_config(OfflineMotionConfig, self.name, options)
        c = self.config
        self.dim = c.n_mels + 3 * c.n_mfcc + len(SHAPE_FEATURES)
        self._fb = mel_filterbank(c.n_mels, N_FFT, c.fmin_hz, c.fmax_hz)
        self._dct = dct_matrix(c.n_mels, c.n_mfcc)
        freqs = np.fft.rfftfreq(N_FFT, 1.0 / SAMPLE_RATE).astype(np.float32)
        self._freqs_khz = freqs / 1000.0

    def fingerprint(self) -> str:
        """Hash of the extractor name and config (no weights)."""
        return config_fingerprint(
            {"name": self.name, "version": ALGORITHM_VERSION, **asdict(self.config)}
        )

    def __call__(self, wav: np.ndarray) -> np.ndarray:
        """(N,) float32 16 kHz -> (num_frames_50hz(N), dim) float32."""
        c = self.config
        wav = np.asarray(wav, dtype=np.float32).reshape(-1)
        raw_frames = frame_signal(wav)
        t = len(raw_frames)
        if t == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        emph = wav.copy()
        emph[1:] -= c.preemphasis * wav[:-1]
        power = power_spectrum(frame_signal(emph))
        power += float(power.max()) * _DYNAMIC_RANGE + _POWER_FLOOR
        mel = power @ self._fb
        logmel = np.log(mel + float(mel.max()) * _DYNAMIC_RANGE + _POWER_FLOOR)
        mfcc = logmel @ self._dct
        shape = self._shape_features(raw_frames, power, logmel)
        feats = np.concatenate(
            [
                logmel,
                mfcc,
                deltas(mfcc, c.delta_width),
                deltas(deltas(mfcc, c.delta_width), c.delta_width),
                shape,
            ],
            axis=1,
        ).astype(np.float32)
        return normalize_utterance(feats) if c.normalize else feats

    def _shape_features(
        self, frames: np.ndarray, power: np.ndarray, logmel: np.ndarray
    ) -> np.ndarray:
        """The SHAPE_FEATURES columns, (T, 7)."""
        f = self._freqs_khz[None, :]
        total = power.sum(axis=1, keepdims=True)
        p = power / total
        centroid = (p * f).sum(axis=1, keepdims=True)
        bandwidth = np.sqrt((p * (f - centroid) ** 2).sum(axis=1, keepdims=True))
        logp = np.log(power)
        flatness = logp.mean(axis=1, keepdims=True) - np.log(power.mean(axis=1, keepdims=True))
        cum = np.cumsum(p, axis=1)
        rolloff = self._freqs_khz[np.minimum((cum < 0.85).sum(axis=1), p.shape[1] - 1)][:, None]
        centred = frames - frames.mean(axis=1, keepdims=True)
        signs = np.signbit(centred)
        zcr = (signs[:, 1:] != signs[:, :-1]).mean(axis=1, keepdims=True)
        flux = np.zeros((len(logmel), 1), dtype=np.float32)
        flux[1:, 0] = np.sqrt(((logmel[1:] - logmel[:-1]) ** 2).mean(axis=1))
        return np.concatenate(
            [np.log(total), centroid, bandwidth, flatness, rolloff, zcr, flux], axis=1
        ).astype(np.float32)


register_extractor("offline-motion", OfflineMotionExtractor)
