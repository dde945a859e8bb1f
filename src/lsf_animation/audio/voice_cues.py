"""The "offline-voice" extractor: the cues real voices carry emotion in, at 50 Hz.

The 16 `offline-prosody` columns (pitch level and range, voicing, loudness, spectral tilt and
centroid, raw, per utterance and local) plus what they lack of the acoustic profiles of vocal
emotion (Juslin and Laukka 2003, Table 7: speech rate, voice quality):

- speech rate: syllable nuclei (peaks of the 300-3000 Hz band energy, at least 3 dB above the
  surrounding dips, in voiced frames, at least 80 ms apart) per second of speech within
  +-1 s, as log2 of the rate re 4 per second, and z-scored over the utterance;
- voice quality: cepstral peak prominence (CPP, dB; low for breathy or rough voices, high for
  pressed, periodic ones) of voiced frames, raw / 10, z-scored over the utterance's voiced
  frames, and its local (+-0.5 s) mean.

Every per-utterance z-score removes the speaker's (and the recording's) own level, so the
stream carries how this utterance departs from the voice that says it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.ndimage import uniform_filter1d

from lsf_animation.audio.features import (
    config_fingerprint,
    make_config,
    register_extractor,
)
from lsf_animation.audio.offline_motion import frame_signal, power_spectrum
from lsf_animation.audio.prosody import FEATURES as PROSODY_FEATURES
from lsf_animation.audio.prosody import ProsodyExtractor, _box_mean, _zscore
from lsf_animation.constants import FEATURE_RATE_HZ, SAMPLE_RATE

ALGORITHM_VERSION = 1
"""Bump when the computation changes, so cached features are recomputed."""

FEATURES = (
    *PROSODY_FEATURES,
    "log2_rate_re_4hz",  # syllable nuclei per second of speech within +-1 s
    "norm_rate",
    "cpp_db_over_10",  # cepstral peak prominence of voiced frames (0 elsewhere)
    "norm_cpp",
    "local_cpp",
)
"""Output columns, in order."""


@dataclass(frozen=True)
class VoiceCueConfig:
    """Settings (all part of the fingerprint)."""

    rate_window_frames: int = 50  # half-width of the speech-rate window (1 s)
    nucleus_dip_db: float = 3.0
    nucleus_min_gap_frames: int = 4
    cpp_window: int = 640  # 40 ms analysis window for the cepstrum
    fmin_hz: float = 60.0
    fmax_hz: float = 500.0


def _dip_db(peak: float, side: np.ndarray) -> float:
    """How far `side` (values moving away from a peak) falls below `peak` before it rises above."""
    higher = np.flatnonzero(side > peak)
    stop = higher[0] if len(higher) else len(side)
    return float(peak - side[:stop].min()) if stop > 0 else 0.0


def syllable_nuclei(
    band_db: np.ndarray, voiced: np.ndarray, dip_db: float, min_gap: int
) -> np.ndarray:
    """(T,) bool: frames that are local maxima of the band energy (dB), voiced, rising at least
    `dip_db` above the lowest point on each side before a higher peak, `min_gap` frames apart
    (the louder peak wins)."""
    t = len(band_db)
    peaks = np.zeros(t, bool)
    if t < 3:
        return peaks
    rising = (band_db[1:-1] >= band_db[:-2]) & (band_db[1:-1] > band_db[2:]) & voiced[1:-1]
    candidates = np.flatnonzero(rising) + 1
    for i in candidates[np.argsort(-band_db[candidates])]:
        if peaks[max(0, i - min_gap) : min(t, i + min_gap + 1)].any():
            continue
        peak = float(band_db[i])
        if min(_dip_db(peak, band_db[:i][::-1]), _dip_db(peak, band_db[i + 1 :])) >= dip_db:
            peaks[i] = True
    return peaks


def cepstral_peak_prominence(frames: np.ndarray, fmin: float, fmax: float) -> np.ndarray:
    """(T,) dB: the real cepstrum's peak within the pitch quefrencies [1/fmax, 1/fmin] above the
    straight line fitted to the cepstrum (dB) over that range, per Hann-windowed frame (T, L)."""
    if len(frames) == 0:
        return np.zeros(0, np.float32)
    n_fft = 1 << int(np.ceil(np.log2(frames.shape[1])))
    x = frames - frames.mean(axis=1, keepdims=True)
    spec = np.abs(np.fft.rfft(x * np.hanning(frames.shape[1]), n=n_fft, axis=1)) ** 2
    log_spec = 10.0 * np.log10(spec + 1e-12)
    cep = np.abs(np.fft.irfft(log_spec, n=n_fft, axis=1))
    cep_db = 20.0 * np.log10(cep + 1e-12)
    q0, q1 = int(SAMPLE_RATE / fmax), int(np.ceil(SAMPLE_RATE / fmin))
    band = cep_db[:, q0 : q1 + 1]
    q = np.arange(q0, q1 + 1, dtype=np.float64)
    qc = q - q.mean()
    slope = (band - band.mean(axis=1, keepdims=True)) @ qc / (qc @ qc)
    line = band.mean(axis=1, keepdims=True) + slope[:, None] * qc[None, :]
    k = band.argmax(axis=1)
    rows = np.arange(len(band))
    return (band[rows, k] - line[rows, k]).astype(np.float32)


class VoiceCueExtractor:
    """Prosody plus speech rate and voice quality at 50 Hz; columns in `FEATURES` (dim 21)."""

    name = "offline-voice"
    rate_hz = float(FEATURE_RATE_HZ)
    dim = len(FEATURES)

    def __init__(self, **options: object) -> None:
        self.config = make_config(VoiceCueConfig, self.name, options)
        self.prosody = ProsodyExtractor()

    def fingerprint(self) -> str:
        """Hash of the name, config and the prosody extractor's fingerprint."""
        return config_fingerprint(
            {
                "name": self.name,
                "version": ALGORITHM_VERSION,
                "prosody": self.prosody.fingerprint(),
                **asdict(self.config),
            }
        )

    def __call__(self, wav: np.ndarray) -> np.ndarray:
        """(N,) float32 16 kHz -> (num_frames_50hz(N), 21) float32."""
        c = self.config
        wav = np.asarray(wav, dtype=np.float32).reshape(-1)
        prosody = self.prosody(wav)
        t = len(prosody)
        if t == 0:
            return np.zeros((0, self.dim), np.float32)
        voicing = prosody[:, 1]
        voiced = voicing >= self.prosody.config.voicing_threshold
        energy_db = 20.0 * prosody[:, 2]
        speech = (
            energy_db > np.percentile(energy_db, 99) - self.prosody.config.silence_below_peak_db
        )

        power = power_spectrum(frame_signal(wav))
        freqs = np.fft.rfftfreq(512, 1.0 / SAMPLE_RATE)
        in_band = (freqs >= 300.0) & (freqs <= 3000.0)
        band_db = 10.0 * np.log10(power[:, in_band].sum(axis=1) + 1e-10)
        band_db = uniform_filter1d(band_db, 3, mode="nearest")  # 60 ms smoothing
        nuclei = syllable_nuclei(band_db, voiced, c.nucleus_dip_db, c.nucleus_min_gap_frames)
        half = c.rate_window_frames
        count = _box_mean(nuclei.astype(np.float64), np.ones(t), half)  # nuclei per frame
        speech_share = _box_mean(speech.astype(np.float64), np.ones(t), half)
        rate = FEATURE_RATE_HZ * count / np.maximum(speech_share, 0.1)  # per second of speech
        log_rate = np.log2(np.maximum(rate, 0.5) / 4.0).astype(np.float32)

        cpp = (
            cepstral_peak_prominence(frame_signal(wav, c.cpp_window), c.fmin_hz, c.fmax_hz) * voiced
        )
        norm_cpp = _zscore(cpp, voiced if voiced.any() else None) * voiced
        local_cpp = _box_mean(norm_cpp.astype(np.float64), voiced.astype(np.float64), 25)
        extra = np.stack(
            [
                log_rate,
                _zscore(log_rate, speech if speech.any() else None),
                cpp / 10.0,
                norm_cpp,
                local_cpp,
            ],
            axis=1,
        )
        return np.nan_to_num(np.concatenate([prosody, extra], axis=1).astype(np.float32))


register_extractor("offline-voice", VoiceCueExtractor)
