"""`lsf-animation demo`: the main job on embedded defaults."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from lsf_animation.cli import main
from lsf_animation.demo import FPS, SAMPLE_RATE, scripted_performance


def test_scripted_performance_is_deterministic_and_in_sync() -> None:
    a, b = scripted_performance(3.0), scripted_performance(3.0)
    np.testing.assert_array_equal(a.motion, b.motion)
    assert a.motion.shape == (75, 53)
    assert len(a.audio) == 75 * SAMPLE_RATE // FPS
    # the voice is loud where the jaw is open: per-frame energy follows the jaw angle
    energy = np.sqrt((a.audio.reshape(75, -1) ** 2).mean(axis=1))
    assert np.corrcoef(energy, a.motion[:, 50])[0, 1] > 0.5
    assert a.motion[:, 50].min() >= 0.0 and a.motion[:, 50].max() < 0.5  # jaw in FLAME's range


@pytest.mark.slow
def test_demo_writes_all_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--out", str(tmp_path), "--seconds", "1"]) == 0
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {"motion.npz", "speech.wav", "demo.mp4", "heatmap_mean.png", "heatmap_std.png"}
    with av.open(str(tmp_path / "demo.mp4")) as container:
        assert len(container.streams.audio) == 1
        assert sum(1 for _ in container.decode(video=0)) == 25
    assert "demo.mp4" in capsys.readouterr().out


def test_demo_rejects_bad_length(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--out", str(tmp_path / "d"), "--seconds", "0"]) == 2
    assert "--seconds" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()
