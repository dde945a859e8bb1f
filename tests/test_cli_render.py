"""`lsf-animation render`: motion file -> mp4, and its errors."""

from __future__ import annotations

import wave
from pathlib import Path

import av
import numpy as np
import pytest

from lsf_animation.cli import main


def _write_wav(path: Path, seconds: float, sr: int = 16000) -> None:
    t = np.arange(int(seconds * sr)) / sr
    samples = (0.3 * np.sin(2 * np.pi * 220 * t) * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(sr)
        fh.writeframes(samples.tobytes())


def _motion(num_frames: int) -> np.ndarray:
    motion = np.zeros((num_frames, 53), np.float32)
    motion[:, 50] = 0.25 * (1 - np.cos(np.linspace(0, 4 * np.pi, num_frames)))  # jaw opens twice
    return motion


@pytest.mark.slow
def test_render_writes_mp4_with_frames_and_audio(tmp_path: Path) -> None:
    np.savez(tmp_path / "m.npz", motion=_motion(20), shape=np.zeros(300))
    _write_wav(tmp_path / "a.wav", 0.8)
    out = tmp_path / "out.mp4"
    code = main(
        ["render", str(tmp_path / "m.npz"), "--audio", str(tmp_path / "a.wav"), "--out", str(out),
         "--size", "128"]
    )  # fmt: skip
    assert code == 0
    with av.open(str(out)) as container:
        video = container.streams.video[0]
        assert video.codec_context.name == "h264"
        assert video.codec_context.pix_fmt == "yuv420p"
        assert (video.width, video.height) == (128, 128)
        assert sum(1 for _ in container.decode(video=0)) == 20
    with av.open(str(out)) as container:
        audio = container.streams.audio[0]
        seconds = sum(frame.samples for frame in container.decode(audio=0)) / audio.rate
    assert abs(seconds - 0.8) < 0.05


@pytest.mark.parametrize(
    ("motion", "extra", "message"),
    [
        (np.zeros((10, 52)), [], "expected (T, 53)"),
        (np.zeros((10, 53)), ["--face", "no_such_flame.pkl"], "no_such_flame.pkl"),
        (np.zeros((10, 53)), ["--audio", "no_such.wav"], "no_such.wav"),
        (np.zeros((2, 10, 53)), ["--sample", "5"], "sample 5"),
    ],
)
def test_render_bad_input_is_one_line_exit_2_and_no_output(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    motion: np.ndarray,
    extra: list[str],
    message: str,
) -> None:
    np.savez(tmp_path / "m.npz", motion=motion, shape=np.zeros(300))
    out = tmp_path / "out.mp4"
    code = main(["render", str(tmp_path / "m.npz"), "--out", str(out), "--size", "64", *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]
