"""MP4 writing: streams, frame count, audio duration, atomicity."""

from __future__ import annotations

import wave
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest

from lsf_animation.errors import LsfError
from lsf_animation.render.video import write_mp4


def _write_wav(path: Path, seconds: float, rate: int = 16000, channels: int = 1) -> Path:
    t = np.arange(round(seconds * rate)) / rate
    tone = 0.3 * np.sin(2 * np.pi * 440.0 * t)
    samples = np.repeat(tone[:, None], channels, axis=1)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((samples * 32767).astype("<i2").tobytes())
    return path


def _frames(count: int, height: int = 48, width: int = 64) -> Iterator[np.ndarray]:
    for i in range(count):
        frame = np.zeros((height, width, 3), np.uint8)
        frame[:, : (i * 3) % width] = (200, 120, 40)  # a bar that grows: frames differ
        yield frame


def _probe(path: Path) -> dict:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        info = {
            "codec": video.codec_context.name,
            "pix_fmt": video.codec_context.pix_fmt,
            "size": (video.codec_context.width, video.codec_context.height),
            "fps": float(video.average_rate),
            "audio": None,
        }
        if container.streams.audio:
            audio = container.streams.audio[0]
            info["audio"] = {
                "codec": audio.codec_context.name,
                "duration": float(audio.duration * audio.time_base),
            }
        info["frames"] = sum(1 for _ in container.decode(video=0))
    return info


@pytest.mark.parametrize(("rate", "channels"), [(16000, 1), (44100, 2)])
def test_mp4_has_h264_video_and_audio_of_the_wav_duration(
    tmp_path: Path, rate: int, channels: int
) -> None:
    wav = _write_wav(tmp_path / "speech.wav", 1.37, rate, channels)
    out = write_mp4(_frames(30), tmp_path / "out.mp4", fps=25, audio=wav)
    info = _probe(out)
    assert info["frames"] == 30
    assert info["codec"] == "h264" and info["pix_fmt"] == "yuv420p"
    assert info["fps"] == pytest.approx(25.0)
    assert info["audio"]["codec"] == "aac"
    # the audio keeps its own length (1.37 s) although the video lasts 1.2 s
    assert info["audio"]["duration"] == pytest.approx(1.37, abs=0.05)


def test_compressed_audio_is_decoded_and_resampled(tmp_path: Path) -> None:
    # MEAD's audio is AAC in .m4a at 48 kHz; an 11.9 kHz rate is not one AAC can store
    m4a = tmp_path / "speech.m4a"
    with av.open(str(m4a), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=48000, layout="mono")
        tone = (0.2 * np.sin(np.arange(48000 * 2) / 20.0)).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(tone[None], format="flt", layout="mono")
        frame.sample_rate, frame.pts = 48000, 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    odd = _write_wav(tmp_path / "odd.wav", 0.8, rate=11900)
    for audio, seconds in ((m4a, 2.0), (odd, 0.8)):
        info = _probe(write_mp4(_frames(10), tmp_path / "out.mp4", audio=audio))
        assert info["audio"]["duration"] == pytest.approx(seconds, abs=0.05)


def test_video_without_audio_and_odd_size_is_padded_to_even(tmp_path: Path) -> None:
    out = write_mp4(_frames(7, height=47, width=63), tmp_path / "clip.mp4", fps=30)
    info = _probe(out)
    assert info["frames"] == 7 and info["audio"] is None
    assert info["size"] == (64, 48)
    assert info["fps"] == pytest.approx(30.0)


def test_num_frames_cuts_a_longer_stream_and_rejects_a_shorter_one(tmp_path: Path) -> None:
    out = write_mp4(_frames(40), tmp_path / "cut.mp4", num_frames=12)
    assert _probe(out)["frames"] == 12
    with pytest.raises(LsfError, match="expected 12 video frames but got only 5"):
        write_mp4(_frames(5), tmp_path / "short.mp4", num_frames=12)
    assert not (tmp_path / "short.mp4").exists()


def test_failure_while_rendering_leaves_no_file_and_keeps_the_old_one(tmp_path: Path) -> None:
    target = tmp_path / "out.mp4"
    target.write_bytes(b"previous video")

    def broken() -> Iterator[np.ndarray]:
        yield from _frames(5)
        raise RuntimeError("renderer crashed")

    with pytest.raises(RuntimeError, match="renderer crashed"):
        write_mp4(broken(), target, audio=_write_wav(tmp_path / "a.wav", 0.5))
    assert target.read_bytes() == b"previous video"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav", "out.mp4"]


def test_bad_audio_is_an_lsf_error_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.wav"
    with pytest.raises(LsfError, match=r"nope\.wav"):
        write_mp4(_frames(3), tmp_path / "a.mp4", audio=missing)
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("this is not audio")
    with pytest.raises(LsfError, match=r"notes\.wav"):
        write_mp4(_frames(3), tmp_path / "b.mp4", audio=not_audio)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.wav"]


def test_bad_frames_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(LsfError, match="no video frames"):
        write_mp4(iter(()), tmp_path / "empty.mp4")
    with pytest.raises(LsfError, match="uint8"):
        write_mp4([np.zeros((8, 8, 3), np.float32)], tmp_path / "float.mp4")
    with pytest.raises(LsfError, match="same size"):
        write_mp4([np.zeros((8, 8, 3), np.uint8), np.zeros((8, 10, 3), np.uint8)], tmp_path / "x")
    with pytest.raises(LsfError, match="does not exist"):
        write_mp4(_frames(2), tmp_path / "missing_dir" / "a.mp4")
    assert list(tmp_path.iterdir()) == []
