"""Speech augmentation: make clean synthetic speech sound like real recordings.

A model trained on eSpeak NG's clean formant synthesis can lean on its signature (exact
harmonics, no room, no noise, full band) and then fails on real voices. Each clip is passed,
with a probability per step, through what real recordings go through, in signal order:

1. vocal-tract length: the spectrum warped along frequency by a factor in [0.88, 1.12] (the
   vocal-tract-length perturbation of Jaitly and Hinton, 2013; harmonics move with the formants,
   so the pitch shifts by the same factor);
2. a room: convolution with a synthetic impulse response (direct sound, a few milliseconds of
   gap, then an exponentially decaying diffuse tail; reverberation time 0.15-0.9 s,
   direct-to-reverberant ratio -2 to +15 dB);
3. band-limiting: a low-pass (3-7 kHz), a high-pass (80-400 Hz) or a telephone band
   (300-3400 Hz), zero-phase;
4. noise: white, pink, brown or speech-shaped (the clip's own long-term spectrum), at 5-35 dB
   signal-to-noise ratio over the speech;
5. a codec: G.711 mu-law at 8 kHz, or MP3 / Opus at a low bit rate (through the ffmpeg in the
   PyAV wheel), realigned to the input;
6. loudness: a gain from -24 to +6 dB, clipped at full scale.

Nothing moves in time (filters are zero-phase, the impulse response starts with the direct
sound, codec delays are removed), so motion made for the clean audio stays in sync. All
randomness comes from the generator passed in: the same generator state gives the same samples.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from lsf_animation.constants import SAMPLE_RATE
from lsf_animation.errors import LsfError


@dataclass(frozen=True)
class AugmentConfig:
    """Probability of each step (0 = never, 1 = always); `clean` is the share of clips left
    untouched (real recordings can be clean too)."""

    clean: float = 0.2
    vocal_tract: float = 0.5
    reverb: float = 0.5
    band: float = 0.3
    noise: float = 0.6
    codec: float = 0.3
    gain: float = 1.0

    def __post_init__(self) -> None:
        for f in fields(self):
            p = getattr(self, f.name)
            if not 0.0 <= p <= 1.0:
                raise LsfError(f"augmentation probability {f.name} must be in [0, 1], got {p}")


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


def speech_rms(wav: np.ndarray, frame: int = 640) -> float:
    """RMS over the louder half of the 40 ms frames: the level of the speech, not the pauses."""
    n = len(wav) // frame
    if n < 2:
        return _rms(wav)
    power = np.mean(np.square(wav[: n * frame].reshape(n, frame), dtype=np.float64), axis=1)
    return float(np.sqrt(np.mean(np.sort(power)[n // 2 :])))


def warp_vocal_tract(wav: np.ndarray, factor: float, n_fft: int = 512) -> np.ndarray:
    """Move every spectral component from frequency f to factor * f, same length and timing.

    A phase vocoder without resampling: STFT with 75% overlap; each output bin takes the
    magnitude interpolated at bin / factor and the instantaneous frequency of the nearest
    source bin times `factor`, its phase accumulated frame by frame.
    """
    from scipy.signal import istft, stft

    hop = n_fft // 4
    _, _, spec = stft(wav, nperseg=n_fft, noverlap=n_fft - hop, boundary="even")
    bins = np.arange(spec.shape[0])
    expected = 2.0 * np.pi * bins * hop / n_fft  # phase advance of each bin's centre per hop
    phase = np.angle(spec)
    advance = np.diff(phase, axis=1, prepend=phase[:, :1]) - expected[:, None]
    advance = np.mod(advance + np.pi, 2.0 * np.pi) - np.pi
    inst = (expected[:, None] + advance) / hop  # radians per sample
    source = bins / factor
    nearest = np.clip(np.round(source).astype(np.int64), 0, len(bins) - 1)
    mag = np.abs(spec)
    warped = np.stack([np.interp(source, bins, mag[:, t], right=0.0) for t in range(mag.shape[1])])
    warped = warped.T * (source <= bins[-1])[:, None]
    new_phase = phase[nearest, :1] * factor + np.cumsum(
        np.concatenate([np.zeros((len(bins), 1)), hop * factor * inst[nearest, 1:]], axis=1),
        axis=1,
    )
    _, out = istft(warped * np.exp(1j * new_phase), nperseg=n_fft, noverlap=n_fft - hop)
    out = np.asarray(out, np.float64)
    return out[: len(wav)] if len(out) >= len(wav) else np.pad(out, (0, len(wav) - len(out)))


def room_impulse_response(
    rng: np.random.Generator, rt60_s: float, drr_db: float, sample_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """(L,) a synthetic room: 1 at sample 0 (the direct sound), silence for 2-8 ms, then decaying
    Gaussian noise reaching -60 dB at `rt60_s`, scaled so the direct sound's energy exceeds the
    tail's by `drr_db`."""
    length = int(min(1.2 * rt60_s, 1.0) * sample_rate)
    t = np.arange(length) / sample_rate
    tail = rng.standard_normal(length) * np.exp(-3.0 * np.log(10.0) * t / rt60_s)
    gap = int(rng.uniform(0.002, 0.008) * sample_rate)
    tail[:gap] = 0.0
    tail *= np.sqrt(10.0 ** (-drr_db / 10.0) / max(float(np.sum(tail**2)), 1e-12))
    tail[0] = 1.0
    return tail


def _coloured_noise(rng: np.random.Generator, n: int, slope: float) -> np.ndarray:
    """Gaussian noise whose power falls as f^-slope (0 white, 1 pink, 2 brown), unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec), dtype=np.float64)
    f[0] = 1.0
    x = np.fft.irfft(spec / f ** (slope / 2.0), n)
    return x / max(_rms(x), 1e-12)


def _speech_shaped_noise(rng: np.random.Generator, wav: np.ndarray) -> np.ndarray:
    """Noise with the clip's own long-term magnitude spectrum (random phase), unit RMS."""
    spec = np.abs(np.fft.rfft(wav))
    kernel = np.ones(65) / 65.0  # smooth over ~30 Hz at 1 s
    smooth = np.convolve(spec, kernel, mode="same")
    phase = np.exp(2j * np.pi * rng.random(len(spec)))
    x = np.fft.irfft(smooth * phase, len(wav))
    return x / max(_rms(x), 1e-12)


def _band_limit(rng: np.random.Generator, wav: np.ndarray) -> np.ndarray:
    from scipy.signal import butter, sosfiltfilt

    nyquist = SAMPLE_RATE / 2
    kind = rng.integers(3)
    if kind == 0:
        sos = butter(6, rng.uniform(3000.0, 7000.0) / nyquist, "lowpass", output="sos")
    elif kind == 1:
        sos = butter(4, rng.uniform(80.0, 400.0) / nyquist, "highpass", output="sos")
    else:
        sos = butter(4, [300.0 / nyquist, 3400.0 / nyquist], "bandpass", output="sos")
    return sosfiltfilt(sos, wav)


def _mu_law_8khz(wav: np.ndarray) -> np.ndarray:
    import soxr

    narrow = soxr.resample(wav.astype(np.float32), SAMPLE_RATE, 8000)
    mu = 255.0
    x = np.clip(narrow, -1.0, 1.0)
    code = np.round(np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu) * 127.0) / 127.0
    back = np.sign(code) * ((1.0 + mu) ** np.abs(code) - 1.0) / mu
    out = soxr.resample(back.astype(np.float32), 8000, SAMPLE_RATE).astype(np.float64)
    return _fit_length(out, len(wav))


def _fit_length(x: np.ndarray, n: int) -> np.ndarray:
    return x[:n] if len(x) >= n else np.pad(x, (0, n - len(x)))


def _realign(out: np.ndarray, ref: np.ndarray, max_shift: int = 4000) -> np.ndarray:
    """`out` shifted so that it best matches `ref` (codec delay and priming removed)."""
    n = len(ref)
    size = 1 << int(np.ceil(np.log2(len(out) + n)))
    xc = np.fft.irfft(np.fft.rfft(out, size) * np.conj(np.fft.rfft(ref, size)), size)
    lags = np.r_[np.arange(0, max_shift + 1), np.arange(-max_shift, 0)]
    shift = int(lags[np.argmax(xc[lags])])
    if shift >= 0:
        return _fit_length(out[shift:], n)
    return _fit_length(np.pad(out, (-shift, 0)), n)


def _lossy_codec(wav: np.ndarray, codec: str, bit_rate: int) -> np.ndarray:
    """Encode and decode with PyAV's ffmpeg (mp3 or opus, mono), realigned to the input."""
    import io

    import av
    import soxr

    rate = 16000 if codec == "libmp3lame" else 48000
    pcm = wav.astype(np.float32)
    if rate != SAMPLE_RATE:
        pcm = soxr.resample(pcm, SAMPLE_RATE, rate).astype(np.float32)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp3" if codec == "libmp3lame" else "ogg") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.bit_rate = bit_rate
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(pcm[None, :], format="flt", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    buffer.seek(0)
    chunks = []
    with av.open(buffer, "r") as container:
        for decoded in container.decode(audio=0):
            chunks.append(decoded.to_ndarray().reshape(decoded.to_ndarray().shape[0], -1)[0])
    out = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(1, np.float32)
    if rate != SAMPLE_RATE:
        out = soxr.resample(out, rate, SAMPLE_RATE)
    return _realign(np.asarray(out, np.float64), wav.astype(np.float64))


def augment_speech(
    wav: np.ndarray, rng: np.random.Generator, config: AugmentConfig | None = None
) -> tuple[np.ndarray, list[str]]:
    """One random draw of the augmentation chain (see the module docstring).

    Args:
        wav: (N,) float32 mono speech at 16 kHz.
        rng: the source of every random choice.
        config: step probabilities (default `AugmentConfig()`).

    Returns:
        (N,) float32 in [-1, 1], and the names of the steps applied (with their settings).
    """
    c = config or AugmentConfig()
    x = np.asarray(wav, np.float64)
    level = speech_rms(x)
    applied: list[str] = []
    if level == 0.0:
        return np.asarray(wav, np.float32), applied
    draws = rng.random(7)  # one per step, always drawn, so a step's choice keeps its stream
    if draws[6] < c.clean:
        return np.asarray(wav, np.float32), applied
    if draws[0] < c.vocal_tract:
        factor = float(rng.uniform(0.88, 1.12))
        x = warp_vocal_tract(x, factor)
        applied.append(f"vocal_tract x{factor:.2f}")
    if draws[1] < c.reverb:
        rt60, drr = float(rng.uniform(0.15, 0.9)), float(rng.uniform(-2.0, 15.0))
        from scipy.signal import fftconvolve

        x = fftconvolve(x, room_impulse_response(rng, rt60, drr))[: len(x)]
        applied.append(f"reverb rt60 {rt60:.2f} s drr {drr:.0f} dB")
    if draws[2] < c.band:
        x = _band_limit(rng, x)
        applied.append("band")
    if draws[3] < c.noise:
        kind = int(rng.integers(4))
        noise = (
            _speech_shaped_noise(rng, x)
            if kind == 3
            else _coloured_noise(rng, len(x), float(kind))
        )
        snr = float(rng.uniform(5.0, 35.0))
        x = x * (level / max(speech_rms(x), 1e-12))
        x = x + noise * level * 10.0 ** (-snr / 20.0)
        applied.append(f"noise {('white', 'pink', 'brown', 'speech-shaped')[kind]} {snr:.0f} dB")
    if draws[4] < c.codec:
        kind = int(rng.integers(3))
        x = x * (0.5 / max(float(np.abs(x).max()), 1e-12))  # codecs clip at full scale
        if kind == 0:
            x = _mu_law_8khz(x)
        elif kind == 1:
            x = _lossy_codec(x, "libmp3lame", int(rng.choice([16000, 24000, 32000])))
        else:
            x = _lossy_codec(x, "libopus", int(rng.choice([8000, 12000, 16000])))
        applied.append(("mu-law 8 kHz", "mp3", "opus")[kind])
    x = x * (level / max(speech_rms(x), 1e-12))  # back to the input's speech level
    if draws[5] < c.gain:
        db = float(rng.uniform(-24.0, 6.0))
        x = x * 10.0 ** (db / 20.0)
        applied.append(f"gain {db:+.0f} dB")
    return np.clip(x, -1.0, 1.0).astype(np.float32), applied
