"""load_audio: any format, rate and channel count in, mono 16 kHz float32 out; clear errors."""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from lsf_animation.audio.load import SAMPLE_RATE, SilentAudioWarning, load_audio, resample
from lsf_animation.errors import LsfError


def tone(rate: int, seconds: float, freq: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(round(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def dominant_freq(wav: np.ndarray, rate: int = SAMPLE_RATE) -> float:
    spec = np.abs(np.fft.rfft(wav * np.hanning(len(wav))))
    return float(np.fft.rfftfreq(len(wav), 1 / rate)[np.argmax(spec)])


def write_m4a(path: Path, samples: np.ndarray, rate: int) -> None:
    """AAC in an MP4 container, stereo, through PyAV's ffmpeg."""
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=rate)
        stream.layout = "stereo"
        frame = av.AudioFrame.from_ndarray(
            np.stack([samples, samples]).astype(np.float32), format="fltp", layout="stereo"
        )
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


@pytest.mark.parametrize(
    ("suffix", "rate", "channels"),
    [(".wav", 44100, 2), (".flac", 22050, 1), (".ogg", 48000, 2), (".wav", 16000, 1)],
)
def test_soundfile_formats_become_mono_16k(tmp_path, suffix, rate, channels):
    x = tone(rate, 1.0, freq=440.0)
    data = np.stack([x] * channels, axis=1) if channels > 1 else x
    path = tmp_path / f"speech{suffix}"
    sf.write(path, data, rate)
    wav = load_audio(path)
    assert wav.dtype == np.float32 and wav.ndim == 1
    assert abs(len(wav) - SAMPLE_RATE) <= 2  # 1 s at 16 kHz
    assert abs(dominant_freq(wav) - 440.0) < 3.0  # pitch survives resampling
    assert 0.45 < np.abs(wav[1000:-1000]).max() < 0.55  # level survives (lossy ogg: approx.)


def test_channels_are_averaged(tmp_path):
    left = tone(16000, 0.5, amp=0.8)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, np.zeros_like(left)], axis=1), 16000, subtype="FLOAT")
    np.testing.assert_allclose(load_audio(path), 0.5 * left, atol=1e-7)


def test_m4a_aac_through_ffmpeg(tmp_path):
    path = tmp_path / "clip.m4a"
    write_m4a(path, tone(44100, 1.0, freq=300.0), 44100)
    wav = load_audio(path)
    assert wav.dtype == np.float32 and wav.ndim == 1
    # AAC adds encoder priming (~1024 samples at 44.1 kHz), so allow a little extra length.
    assert SAMPLE_RATE - 10 <= len(wav) <= SAMPLE_RATE + 1000
    assert abs(dominant_freq(wav) - 300.0) < 3.0


def test_resample_keeps_a_tone():
    x = tone(48000, 0.5, freq=1000.0)
    y = resample(x, 48000)
    assert len(y) == 8000 and y.dtype == np.float32
    assert abs(dominant_freq(y) - 1000.0) < 3.0


def test_missing_file(tmp_path):
    with pytest.raises(LsfError, match=r"nope\.wav does not exist"):
        load_audio(tmp_path / "nope.wav")


def test_directory_is_refused(tmp_path):
    with pytest.raises(LsfError, match="is a directory"):
        load_audio(tmp_path)


def test_zero_byte_file_is_empty(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(LsfError, match=r"empty\.wav is empty"):
        load_audio(path)


def test_wav_without_samples_is_empty(tmp_path):
    path = tmp_path / "nosamples.wav"
    sf.write(path, np.zeros(0, np.float32), 16000)
    with pytest.raises(LsfError, match=r"nosamples\.wav contains no samples"):
        load_audio(path)


def test_text_renamed_wav_is_not_audio(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("this is a shopping list, not speech\n" * 20)
    with pytest.raises(LsfError, match=r"notes\.wav is not an audio file"):
        load_audio(path)


def test_truncated_wav_is_corrupt(tmp_path):
    good = tmp_path / "good.wav"
    sf.write(good, tone(16000, 0.5), 16000)
    bad = tmp_path / "cut.wav"
    bad.write_bytes(good.read_bytes()[:30])  # header cut before the data chunk
    with pytest.raises(LsfError, match=r"cut\.wav is corrupt"):
        load_audio(bad)


def test_truncated_flac_is_corrupt(tmp_path):
    good = tmp_path / "good.flac"
    sf.write(good, tone(16000, 0.5), 16000)
    bad = tmp_path / "cut.flac"
    bad.write_bytes(good.read_bytes()[:100])
    with pytest.raises(LsfError, match=r"cut\.flac is corrupt"):
        load_audio(bad)


def test_video_without_audio_is_not_audio(tmp_path):
    path = tmp_path / "silent_movie.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for _ in range(3):
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    with pytest.raises(LsfError, match=r"silent_movie\.mp4 is not audio: it has no audio stream"):
        load_audio(path)


@pytest.mark.parametrize("seconds", [0.03, 0.04, 0.045, 0.079])
def test_shorter_than_two_video_frames(tmp_path, seconds):
    # 40-45 ms used to pass this check and fail after inference, in the heatmaps' statistics
    path = tmp_path / "blip.wav"
    sf.write(path, tone(44100, seconds), 44100)
    ms = f"{1000 * round(seconds * 44100) / 44100:.1f}".replace(".", r"\.")
    with pytest.raises(LsfError, match=rf"blip\.wav is {ms} ms long; at least 80 ms"):
        load_audio(path)


def test_two_video_frames_are_enough(tmp_path):
    path = tmp_path / "blip.wav"
    sf.write(path, tone(44100, 0.08), 44100)
    assert len(load_audio(path)) == 1280


@pytest.mark.parametrize("bad_value", [np.nan, np.inf])
def test_nan_or_inf_samples(tmp_path, bad_value):
    x = tone(16000, 0.5)
    x[100] = bad_value
    path = tmp_path / "broken.wav"
    sf.write(path, x, 16000, subtype="FLOAT")
    with pytest.raises(LsfError, match=r"broken\.wav contains 1 NaN or infinite samples"):
        load_audio(path)


def _wav_with_rate(path: Path, rate: int, seconds: float = 0.5) -> None:
    """A 16-bit mono wav whose header declares `rate` (patched after writing at 16 kHz)."""
    sf.write(path, tone(16000, seconds), 16000, subtype="PCM_16")
    raw = bytearray(path.read_bytes())
    assert raw[12:16] == b"fmt "
    raw[24:28] = struct.pack("<I", rate)  # sample rate
    raw[28:32] = struct.pack("<I", rate * 2)  # byte rate (mono, 2 bytes per sample)
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("rate", [500, 768000])
def test_absurd_sample_rate(tmp_path, rate):
    path = tmp_path / "odd.wav"
    _wav_with_rate(path, rate, seconds=2.0)
    with pytest.raises(LsfError, match=rf"odd\.wav declares an absurd sample rate of {rate} Hz"):
        load_audio(path)


def test_low_but_sane_rate_is_accepted(tmp_path):
    path = tmp_path / "phone.wav"
    _wav_with_rate(path, 8000)  # 8000 samples at 8 kHz = 1 s
    assert abs(len(load_audio(path)) - SAMPLE_RATE) <= 2


def test_silent_file_warns_but_loads(tmp_path):
    path = tmp_path / "quiet.wav"
    sf.write(path, np.zeros(8000, np.float32), 16000)
    with pytest.warns(SilentAudioWarning, match=r"quiet\.wav is silent.*the face will still move"):
        wav = load_audio(path)
    assert wav.shape == (8000,) and not wav.any()


def test_speech_does_not_warn(tmp_path):
    path = tmp_path / "loud.wav"
    sf.write(path, tone(16000, 0.5), 16000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_audio(path)
