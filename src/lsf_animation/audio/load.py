"""Read any common audio file as a mono 16 kHz float32 waveform.

wav/flac/ogg (and whatever else libsndfile knows) are read with `soundfile`; m4a/mp3/mp4/aac and
anything libsndfile cannot read are decoded with PyAV (the ffmpeg inside its wheel). Channels are
averaged to mono, then resampled to 16 kHz with soxr at high quality ("HQ").

Bad input raises one `LsfError` naming the file and the problem: missing, unreadable or corrupt,
not audio (a text file, a video without an audio track), empty, shorter than two 25 fps video
frames (80 ms: every output, the motion heatmaps' frame-to-frame statistics included, needs two
frames, so this is the one minimum, checked before any work), NaN/inf samples, or an absurd
sample rate (below 1 kHz or above 384 kHz). An all-silent file is accepted with a
`SilentAudioWarning` (Python `warnings`): there is no speech to follow, but a model still moves
the face on silence (the demo model by about 5 mm at the lips in a typical frame, up to about
2 cm; tests/audio/test_silent_audio.py), so the warning says so.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lsf_animation.constants import SAMPLE_RATE
from lsf_animation.errors import LsfError

MIN_DURATION_S = 0.08
"""Shortest accepted audio: two video frames at 25 fps (frame-to-frame statistics need two)."""
MIN_SAMPLE_RATE = 1000
MAX_SAMPLE_RATE = 384000
SILENCE_PEAK = 1e-6
"""A file whose absolute peak is at most this (full scale = 1) counts as silent."""

# Containers libsndfile cannot read; they go straight to PyAV.
_FFMPEG_SUFFIXES = {".m4a", ".mp4", ".aac", ".m4v", ".mov", ".mkv", ".webm", ".wma", ".opus"}
# Leading bytes of audio/video containers: a file starting with one of these that fails to decode
# is reported as corrupt rather than "not audio".
_MAGIC = (b"RIFF", b"RF64", b"fLaC", b"OggS", b"ID3", b"FORM", b".snd", b"\x1aE\xdf\xa3")


class SilentAudioWarning(UserWarning):
    """The audio file decodes fine but every sample is (numerically) zero."""


MIN_SAMPLES = round(MIN_DURATION_S * SAMPLE_RATE)
"""Shortest accepted waveform at 16 kHz (1280 samples)."""

SILENT_MESSAGE = (
    "is silent (every sample is zero): there is no speech to follow, yet the face will still "
    "move, because the model samples motion from silence too (the demo model moves the lips by "
    "about 5 mm in a typical frame, up to about 2 cm)"
)


@dataclass(frozen=True)
class Waveform:
    """Speech checked once at the edge; inner code trusts it.

    Attributes:
        samples: (N,) float32 mono at 16 kHz, finite, N >= `MIN_SAMPLES`.
        source: the file it was decoded from (muxed into videos as is), or None for an array.
    """

    samples: np.ndarray
    source: Path | None = None

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> Waveform:
        """Decode an audio file (`load_audio`: any format, rate and channel count)."""
        return cls(load_audio(path), Path(path))

    @classmethod
    def from_array(cls, samples: np.ndarray) -> Waveform:
        """Check a (N,) mono waveform at 16 kHz given as an array.

        Raises:
            LsfError: not 1-D, shorter than 80 ms, or with NaN/inf samples.
        """
        wav = np.asarray(samples, dtype=np.float32)
        if wav.ndim != 1 or wav.size < MIN_SAMPLES:
            raise LsfError(
                f"audio arrays must be (N,) float32 at {SAMPLE_RATE} Hz, at least "
                f"{1000 * MIN_DURATION_S:.0f} ms ({MIN_SAMPLES} samples); got shape {wav.shape}"
            )
        if not np.isfinite(wav).all():
            raise LsfError("the audio contains NaN or inf samples")
        return cls(wav)

    @property
    def seconds(self) -> float:
        return len(self.samples) / SAMPLE_RATE


def load_audio(path: str | os.PathLike[str]) -> np.ndarray:
    """Decode an audio file to mono 16 kHz float32 samples in [-1, 1].

    Args:
        path: any file soundfile or ffmpeg can decode (wav, flac, ogg, mp3, m4a, mp4, ...),
            any sample rate in [1 kHz, 384 kHz] and any channel count.

    Returns:
        (N,) float32 waveform at `SAMPLE_RATE` Hz, channels averaged.

    Raises:
        LsfError: the file is missing, unreadable, corrupt, not audio, empty, shorter than 80 ms,
            contains NaN/inf samples or has an absurd sample rate.

    Warns:
        SilentAudioWarning: every sample is zero (peak <= 1e-6).
    """
    p = Path(path)
    if not p.exists():
        raise LsfError(f"audio file not found ({p} does not exist); check the path")
    if p.is_dir():
        raise LsfError(f"audio path {p} is a directory; give an audio file (wav, flac, m4a, ...)")
    try:
        size = p.stat().st_size
        with open(p, "rb") as f:
            head = f.read(12)
    except OSError as err:
        raise LsfError(f"audio file {p} cannot be read ({err.strerror or err})") from err
    if size == 0:
        raise LsfError(f"audio file {p} is empty (0 bytes); re-export or re-download it")

    samples, rate = _decode(p, head)
    _check_decoded(p, samples, rate)
    mono = samples.mean(axis=1, dtype=np.float64).astype(np.float32)
    if float(np.max(np.abs(mono))) <= SILENCE_PEAK:
        warnings.warn(f"audio file {p} {SILENT_MESSAGE}", SilentAudioWarning, stacklevel=2)
    return resample(mono, rate)


def resample(wav: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Resample a mono waveform from `rate` to `target` Hz with soxr (high quality).

    Args:
        wav: (N,) float waveform.
        rate: its sample rate in Hz.
        target: the output rate in Hz.

    Returns:
        (M,) float32, M ~= N * target / rate.
    """
    wav = np.ascontiguousarray(wav, dtype=np.float32)
    if rate == target:
        return wav
    import soxr

    return np.ascontiguousarray(soxr.resample(wav, rate, target, quality="HQ"), dtype=np.float32)


def _decode(p: Path, head: bytes) -> tuple[np.ndarray, int]:
    """(frames, channels) float32 samples and the native sample rate of `p`."""
    errors: list[str] = []
    if p.suffix.lower() not in _FFMPEG_SUFFIXES:
        try:
            return _decode_soundfile(p)
        except _NotDecodable as err:
            errors.append(f"soundfile: {err}")
    try:
        return _decode_pyav(p)
    except _NoAudioStream as err:
        raise LsfError(
            f"{p} is not audio: it has no audio stream ({err}); give a file with speech"
        ) from err
    except _NotDecodable as err:
        errors.append(f"ffmpeg: {err}")
    looks_like_media = head.startswith(_MAGIC) or head[4:8] == b"ftyp" or head[:2] == b"\xff\xfb"
    detail = "; ".join(errors)
    if looks_like_media:
        raise LsfError(
            f"audio file {p} is corrupt or truncated and cannot be decoded ({detail}); "
            "re-export or re-download it"
        )
    raise LsfError(
        f"{p} is not an audio file (neither soundfile nor ffmpeg recognise it: {detail}); "
        "give a wav, flac, ogg, mp3, m4a or mp4 file"
    )


class _NotDecodable(Exception):
    pass


class _NoAudioStream(Exception):
    pass


def _decode_soundfile(p: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    try:
        data, rate = sf.read(str(p), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as err:
        raise _NotDecodable(str(err)) from err
    return data, int(rate)


def _decode_pyav(p: Path) -> tuple[np.ndarray, int]:
    import av

    try:
        container = av.open(str(p))
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as err:
        raise _NotDecodable(str(err)) from err
    with container:
        streams = container.streams.audio
        if not streams:
            kinds = sorted({str(s.type) for s in container.streams}) or ["no streams"]
            raise _NoAudioStream(f"streams: {', '.join(kinds)}")
        stream = streams[0]
        rate = int(stream.codec_context.sample_rate or stream.rate or 0)
        channels = int(stream.codec_context.channels or 0) or None
        # Planar float output at the native rate and layout; mixing and resampling are ours.
        resampler = av.AudioResampler(format="fltp")
        chunks: list[np.ndarray] = []
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray())
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray())
        except av.FFmpegError as err:
            if not chunks:
                raise _NotDecodable(str(err)) from err
            # Decodable prefix of a damaged file: keep what decoded (ffmpeg does the same).
    if not chunks:
        return np.zeros((0, channels or 1), dtype=np.float32), rate
    data = np.concatenate(chunks, axis=1).T  # (frames, channels)
    return np.ascontiguousarray(data, dtype=np.float32), rate


def _check_decoded(p: Path, samples: np.ndarray, rate: int) -> None:
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise LsfError(
            f"audio file {p} declares an absurd sample rate of {rate} Hz (accepted: "
            f"{MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz); the header is probably damaged"
        )
    n = samples.shape[0]
    if n == 0:
        raise LsfError(f"audio file {p} contains no samples (empty); give a file with speech")
    if n < MIN_DURATION_S * rate:
        raise LsfError(
            f"audio file {p} is {1000.0 * n / rate:.1f} ms long; at least "
            f"{1000 * MIN_DURATION_S:.0f} ms (two video frames at 25 fps) is needed"
        )
    if not np.isfinite(samples).all():
        bad = int(np.count_nonzero(~np.isfinite(samples)))
        raise LsfError(
            f"audio file {p} contains {bad} NaN or infinite samples; re-export it as PCM or "
            "finite floating-point audio"
        )
