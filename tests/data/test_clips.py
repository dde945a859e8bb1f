"""Reading one clip's motion and audio header."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from fixtures_mead import (
    FixtureClip,
    fixture_params,
    write_emica_hdf5,
    write_m4a,
    write_wav,
)
from lsf_animation.data.clips import (
    Clip,
    audio_duration,
    motion_num_frames,
    read_mead_motion,
    read_motion,
    read_probtalk3d_motion,
)
from lsf_animation.data.emotions import emotion_code, emotion_name
from lsf_animation.errors import LsfError

CLIP = FixtureClip("M003", 6, 2, 1, 30)


def test_mead_motion_is_first_50_expressions_plus_jaw_and_mean_shape(tmp_path: Path) -> None:
    params = fixture_params(CLIP)
    path = tmp_path / "shape_pose_cam.hdf5"
    write_emica_hdf5(path, params)
    cm = read_mead_motion(path)
    assert cm.motion.shape == (30, 53) and cm.motion.dtype == np.float32
    np.testing.assert_array_equal(cm.motion[:, :50], params["exp"][0, :, :50])
    np.testing.assert_array_equal(cm.motion[:, 50:], params["jaw"][0])
    np.testing.assert_allclose(cm.shape, params["shape"][0].mean(axis=0), atol=1e-6)
    assert cm.num_frames == 30
    assert motion_num_frames(path, "mead") == 30


def test_probtalk3d_param_columns(tmp_path: Path) -> None:
    params = fixture_params(CLIP)
    arr = np.concatenate([params["shape"], params["exp"], params["jaw"]], axis=2)
    assert arr.shape == (1, 30, 403)
    path = tmp_path / "M003_001_6_1.npy"
    np.save(path, arr)
    cm = read_probtalk3d_motion(path)
    np.testing.assert_array_equal(cm.motion[:, :50], params["exp"][0, :, :50])
    np.testing.assert_array_equal(cm.motion[:, 50:], params["jaw"][0])
    np.testing.assert_allclose(cm.shape, params["shape"][0].mean(axis=0), atol=1e-6)
    assert motion_num_frames(path, "probtalk3d") == 30
    clip = Clip("k", "M003", 6, 2, 1, tmp_path / "a.wav", path, "probtalk3d")
    np.testing.assert_array_equal(read_motion(clip).motion, cm.motion)


def test_short_shape_is_zero_padded(tmp_path: Path) -> None:
    params = fixture_params(CLIP)
    params["shape"] = params["shape"][:, :, :100]
    path = tmp_path / "s.hdf5"
    write_emica_hdf5(path, params)
    cm = read_mead_motion(path)
    assert cm.shape.shape == (300,)
    assert np.all(cm.shape[100:] == 0) and np.any(cm.shape[:100] != 0)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("corrupt", "HDF5"),
        ("no_jaw", "jaw"),
        ("nan", "NaN"),
        ("frames", "jaw frames"),
    ],
)
def test_bad_motion_files_raise_lsf_error_naming_the_file(
    tmp_path: Path, damage: str, message: str
) -> None:
    path = tmp_path / "shape_pose_cam.hdf5"
    params = fixture_params(CLIP)
    if damage == "corrupt":
        write_emica_hdf5(path, params)
        path.write_bytes(path.read_bytes()[:200])
    elif damage == "no_jaw":
        del params["jaw"]
        write_emica_hdf5(path, params)
    elif damage == "nan":
        params["exp"][0, 3, 7] = np.nan
        write_emica_hdf5(path, params)
    else:
        params["jaw"] = params["jaw"][:, :-1]
        write_emica_hdf5(path, params)
    with pytest.raises(LsfError, match=message) as info:
        read_mead_motion(path)
    assert str(path) in str(info.value)


def test_wrong_probtalk3d_width_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "M003_001_6_1.npy"
    np.save(path, np.zeros((1, 10, 400), np.float32))
    with pytest.raises(LsfError, match="403"):
        read_probtalk3d_motion(path)


def test_audio_duration_from_headers(tmp_path: Path) -> None:
    write_wav(tmp_path / "a.wav", 1.2)
    write_m4a(tmp_path / "a.m4a", 1.2)
    assert audio_duration(tmp_path / "a.wav") == pytest.approx(1.2, abs=1e-4)
    # AAC frames are 1024 samples: the container may round up by one frame (64 ms at 16 kHz)
    assert audio_duration(tmp_path / "a.m4a") == pytest.approx(1.2, abs=0.07)
    (tmp_path / "bad.m4a").write_bytes(b"not audio" * 20)
    with pytest.raises(LsfError, match=r"bad\.m4a"):
        audio_duration(tmp_path / "bad.m4a")


def test_h5py_file_written_has_the_emica_datasets(tmp_path: Path) -> None:
    path = tmp_path / "x.hdf5"
    write_emica_hdf5(path, fixture_params(CLIP))
    with h5py.File(path) as f:
        assert {k: f[k].shape for k in f} == {
            "shape": (1, 30, 300),
            "exp": (1, 30, 100),
            "jaw": (1, 30, 3),
            "global_pose": (1, 30, 3),
            "cam": (1, 30, 3),
        }


def test_emotion_codes_accept_names_and_numbers() -> None:
    assert emotion_code("angry") == 6
    assert emotion_code("Contempt") == 7
    assert emotion_code("3") == 3
    assert emotion_code(0) == 0
    assert emotion_name(5) == "disgusted"
    for bad in ("furious", "8", -1):
        with pytest.raises(LsfError, match="unknown emotion"):
            emotion_code(bad)
