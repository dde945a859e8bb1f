from __future__ import annotations

import numpy as np
import pytest

from lsf_animation.errors import LsfError
from lsf_animation.export import vertices as vertices_module
from lsf_animation.export.vertices import load_vertices, save_vertices


def _sequence(num_frames: int = 4, num_vertices: int = 7) -> np.ndarray:
    return np.random.default_rng(0).normal(0.0, 0.1, (num_frames, num_vertices, 3))


def test_round_trip_is_float32_with_shape_kept(tmp_path):
    verts = _sequence()
    path = save_vertices(tmp_path / "sub" / "verts.npy", verts)
    raw = np.load(path)
    assert raw.dtype == np.float32 and raw.shape == (4, 7, 3)
    np.testing.assert_allclose(load_vertices(path), verts, atol=1e-6)
    assert [p.name for p in path.parent.iterdir()] == ["verts.npy"]  # no temp file left


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((4, 7)), "expected \\(T, V, 3\\)"),
        (np.zeros((4, 7, 2)), "expected \\(T, V, 3\\)"),
        (np.zeros((0, 7, 3)), "no frames"),
        (np.full((2, 3, 3), np.nan), "NaN"),
    ],
)
def test_bad_vertices_are_refused_and_nothing_is_written(tmp_path, bad, message):
    with pytest.raises(LsfError, match=message):
        save_vertices(tmp_path / "v.npy", bad)
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = save_vertices(tmp_path / "v.npy", _sequence())

    def broken_header(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(vertices_module.np.lib.format, "write_array_header_1_0", broken_header)
    with pytest.raises(LsfError, match=r"cannot write vertices.*disk full"):
        save_vertices(path, _sequence(num_frames=9))
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["v.npy"]
    assert load_vertices(path).shape == (4, 7, 3)


def test_load_rejects_missing_and_malformed_files(tmp_path):
    with pytest.raises(LsfError, match=r"not found"):
        load_vertices(tmp_path / "nope.npy")
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    with pytest.raises(LsfError, match=r"junk.npy: not a readable"):
        load_vertices(tmp_path / "junk.npy")
    np.save(tmp_path / "flat.npy", np.zeros((5, 3)))
    with pytest.raises(LsfError, match=r"flat.npy.*expected \(T, V, 3\)"):
        load_vertices(tmp_path / "flat.npy")


def test_unwritable_location_is_a_clear_error(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(LsfError, match=r"cannot write vertices to .*afile"):
        save_vertices(tmp_path / "afile" / "v.npy", _sequence())
