from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lsf_animation.errors import LsfError
from lsf_animation.export import obj as obj_module
from lsf_animation.export.obj import frame_file_names, save_obj_sequence

# A tetrahedron: 4 vertices, 4 triangles using every vertex, 0-based.
FACES = np.array([[0, 1, 2], [0, 3, 1], [0, 2, 3], [1, 3, 2]])


def _sequence(num_frames: int = 3) -> np.ndarray:
    return np.random.default_rng(1).normal(0.0, 0.1, (num_frames, 4, 3)).astype(np.float32)


def _parse_obj(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(V, 3 or 6) float `v` rows and (F, 3) int `f` rows, as written (faces stay 1-based)."""
    lines = path.read_text().splitlines()
    v = np.array([ln.split()[1:] for ln in lines if ln.startswith("v ")], dtype=np.float64)
    f = np.array([ln.split()[1:] for ln in lines if ln.startswith("f ")], dtype=np.int64)
    return v, f


def test_round_trip_positions_and_one_based_faces(tmp_path):
    verts = _sequence()
    paths = save_obj_sequence(tmp_path / "obj", verts, FACES)
    assert [p.name for p in paths] == ["frame_00000.obj", "frame_00001.obj", "frame_00002.obj"]
    assert sorted(p.name for p in (tmp_path / "obj").iterdir()) == [p.name for p in paths]
    for t, path in enumerate(paths):
        v, f = _parse_obj(path)
        assert v.shape == (4, 3)
        np.testing.assert_allclose(v, verts[t], atol=1e-6)
        np.testing.assert_array_equal(f, FACES + 1)
    assert [p.name for p in tmp_path.iterdir()] == ["obj"]  # no temp folder left


def test_vertex_lines_have_six_decimals(tmp_path):
    verts = np.full((1, 4, 3), 0.1234567, np.float32)
    (path,) = save_obj_sequence(tmp_path / "obj", verts, FACES)
    first = path.read_text().splitlines()[0]
    assert first == "v 0.123457 0.123457 0.123457"


def test_colours_are_written_per_vertex(tmp_path):
    colors = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.25, 0.5, 0.75]])
    verts = _sequence(2)
    paths = save_obj_sequence(tmp_path / "obj", verts, FACES, colors=colors)
    for t, path in enumerate(paths):
        v, _ = _parse_obj(path)
        assert v.shape == (4, 6)
        np.testing.assert_allclose(v[:, :3], verts[t], atol=1e-6)
        np.testing.assert_allclose(v[:, 3:], colors, atol=1e-4)


def test_frame_names_widen_past_five_digits():
    assert frame_file_names(3)[-1] == "frame_00002.obj"
    names = frame_file_names(123456)
    assert names[0] == "frame_000000.obj" and names[-1] == "frame_123455.obj"
    assert sorted(names) == names  # lexical order is frame order


@pytest.mark.parametrize(
    "verts, faces, colors, message",
    [
        (np.zeros((3, 4)), FACES, None, "expected \\(T, V, 3\\)"),
        (np.full((2, 4, 3), np.nan), FACES, None, "NaN"),
        (np.zeros((2, 4, 3)), FACES + 1, None, "face indices span 1..4.*4 vertices"),
        (np.zeros((2, 4, 3)), FACES - 1, None, "face indices span -1"),
        (np.zeros((2, 4, 3)), FACES[:, :2], None, "expected \\(F, 3\\)"),
        (np.zeros((2, 4, 3)), FACES + 0.5, None, "expected integer indices"),
        (np.zeros((2, 4, 3)), FACES, np.ones((3, 3)), "colours have shape \\(3, 3\\)"),
        (np.zeros((2, 4, 3)), FACES, np.full((4, 3), 2.0), "in \\[0, 1\\]"),
    ],
)
def test_bad_inputs_are_refused_and_nothing_is_written(tmp_path, verts, faces, colors, message):
    with pytest.raises(LsfError, match=message):
        save_obj_sequence(tmp_path / "obj", verts, faces, colors=colors)
    assert list(tmp_path.iterdir()) == []


def test_existing_destination_needs_overwrite(tmp_path):
    out = tmp_path / "obj"
    save_obj_sequence(out, _sequence(3), FACES)
    with pytest.raises(LsfError, match=r"not empty.*overwrite"):
        save_obj_sequence(out, _sequence(2), FACES)
    assert len(list(out.iterdir())) == 3  # untouched

    new = _sequence(2) + 1.0
    save_obj_sequence(out, new, FACES, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["frame_00000.obj", "frame_00001.obj"]
    np.testing.assert_allclose(_parse_obj(out / "frame_00001.obj")[0], new[1], atol=1e-6)
    assert [p.name for p in tmp_path.iterdir()] == ["obj"]  # old copy removed


def test_empty_destination_folder_is_used(tmp_path):
    (tmp_path / "obj").mkdir()
    save_obj_sequence(tmp_path / "obj", _sequence(1), FACES)
    assert [p.name for p in (tmp_path / "obj").iterdir()] == ["frame_00000.obj"]


def test_overwrite_refuses_a_folder_with_other_files(tmp_path):
    out = tmp_path / "obj"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(LsfError, match=r"not OBJ frames \(notes.txt\)"):
        save_obj_sequence(out, _sequence(1), FACES, overwrite=True)
    assert (out / "notes.txt").read_text() == "keep me"


def test_destination_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "obj").write_text("x")
    with pytest.raises(LsfError, match=r"not a folder"):
        save_obj_sequence(tmp_path / "obj", _sequence(1), FACES)


@pytest.mark.parametrize("overwrite", [False, True])
def test_failed_frame_write_leaves_no_temp_folder(tmp_path, monkeypatch, overwrite):
    out = tmp_path / "obj"
    if overwrite:
        save_obj_sequence(out, _sequence(3), FACES)
    before = {p.name: p.read_text() for p in out.iterdir()} if overwrite else None
    real_write = obj_module._write_text
    calls = []

    def failing_write(path, text):
        calls.append(path)
        if len(calls) == 2:
            raise OSError("No space left on device")
        real_write(path, text)

    monkeypatch.setattr(obj_module, "_write_text", failing_write)
    with pytest.raises(LsfError, match=r"cannot write the OBJ sequence.*No space left"):
        save_obj_sequence(out, _sequence(4), FACES, overwrite=overwrite)
    if overwrite:  # the previous sequence is intact
        assert {p.name: p.read_text() for p in out.iterdir()} == before
        assert [p.name for p in tmp_path.iterdir()] == ["obj"]
    else:
        assert list(tmp_path.iterdir()) == []


def test_unwritable_location_is_a_clear_error(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(LsfError, match=r"cannot write the OBJ sequence to .*afile"):
        save_obj_sequence(tmp_path / "afile" / "obj", _sequence(1), FACES)
    assert [p.name for p in tmp_path.iterdir()] == ["afile"]
