import re
from pathlib import Path

import numpy as np
import pytest

from lsf_animation.errors import LsfError
from lsf_animation.export.motion_npz import load_motion, make_motion_file, save_motion


def test_round_trip_keeps_samples_shape_and_fps(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    motion = rng.normal(size=(3, 10, 53)).astype(np.float32)
    shape = rng.normal(size=300).astype(np.float32)
    save_motion(tmp_path / "m.npz", make_motion_file(motion, shape, fps=30))
    loaded = load_motion(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.motion, motion)
    np.testing.assert_array_equal(loaded.shape, shape)
    assert loaded.fps == 30
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # no temp file left behind


def test_single_sample_gains_a_sample_axis_and_short_shape_is_zero_padded(tmp_path: Path) -> None:
    np.savez(tmp_path / "m.npz", motion=np.zeros((5, 53)), shape=np.ones(100))
    loaded = load_motion(tmp_path / "m.npz")
    assert loaded.motion.shape == (1, 5, 53)
    assert loaded.shape.shape == (300,)
    assert loaded.shape[:100].sum() == 100 and not loaded.shape[100:].any()
    assert loaded.fps == 25


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"motion": np.zeros((5, 52))}, "expected (T, 53)"),
        ({"motion": np.zeros((0, 53))}, "no frames"),
        ({"motion": np.full((2, 53), np.nan)}, "NaN"),
        ({"shape": np.zeros(300)}, "no `motion` array"),
        ({"motion": np.zeros((5, 53)), "shape": np.zeros(301)}, "at most 300"),
    ],
)
def test_bad_motion_files_name_the_problem(tmp_path: Path, arrays: dict, message: str) -> None:
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(LsfError, match=re.escape(message)) as info:
        load_motion(tmp_path / "bad.npz")
    assert "bad.npz" in str(info.value)


def test_missing_and_garbage_files(tmp_path: Path) -> None:
    with pytest.raises(LsfError, match="not found"):
        load_motion(tmp_path / "nope.npz")
    (tmp_path / "junk.npz").write_bytes(b"this is not a zip file")
    with pytest.raises(LsfError, match=r"not a readable \.npz"):
        load_motion(tmp_path / "junk.npz")
