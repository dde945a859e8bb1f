from __future__ import annotations

import importlib.util
import os
import pickle
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse
import torch

from fixtures_flame import (
    random_flame_arrays,
    with_python2_names,
    write_chumpy_pickle,
    write_flame_npz,
    write_flame_pickle,
)
from lsf_animation.errors import LsfError
from lsf_animation.face.flame import FlameLayer
from lsf_animation.face.flame_file import load_flame_file, read_index_list, sparse_to_dense
from lsf_animation.face.load import load_face_model
from lsf_animation.face.model import FaceModel

V = 64


@pytest.fixture(scope="module")
def arrays() -> dict:
    return random_flame_arrays(num_vertices=V, num_faces=120)


def assert_matches_arrays(face: FaceModel, arrays: dict, num_shape: int = 300) -> None:
    """The FaceModel holds exactly the file's arrays, in FaceModel's layout."""
    np.testing.assert_array_equal(face.v_template, arrays["v_template"])
    np.testing.assert_array_equal(face.shapedirs, arrays["shapedirs"][:, :, :num_shape])
    np.testing.assert_array_equal(face.exprdirs, arrays["shapedirs"][:, :, num_shape:])
    np.testing.assert_array_equal(face.posedirs, arrays["posedirs"].reshape(-1, 36).T)
    np.testing.assert_array_equal(face.j_regressor, arrays["J_regressor"].toarray())
    np.testing.assert_array_equal(face.weights, arrays["weights"])
    np.testing.assert_array_equal(face.faces, arrays["f"].astype(np.int64))
    assert face.faces.dtype == np.int64
    assert face.parents.tolist() == [-1, 0, 1, 1, 1]
    for a in (face.v_template, face.shapedirs, face.exprdirs, face.posedirs, face.j_regressor):
        assert a.dtype == np.float64


def test_plain_pickle_like_flame2023_loads_every_array(tmp_path: Path, arrays: dict) -> None:
    path = write_flame_pickle(tmp_path / "flame2023.pkl", arrays)
    face = load_flame_file(path)
    assert_matches_arrays(face, arrays)
    assert (face.num_shape, face.num_expression) == (300, 100)
    assert face.name == str(path)
    assert face.vertex_colors is None and face.regions == {}


@pytest.mark.parametrize("protocol", [0, 2])
def test_chumpy_pickle_like_flame2020_loads_without_chumpy(
    tmp_path: Path, arrays: dict, protocol: int
) -> None:
    path = write_chumpy_pickle(tmp_path / "generic_model.pkl", arrays, protocol=protocol)
    assert b"chumpy.ch" in path.read_bytes()  # the fixture really holds chumpy class references
    assert importlib.util.find_spec("chumpy") is None
    face = load_flame_file(path)
    assert_matches_arrays(face, arrays)  # incl. posedirs through chumpy Select(Reshape(Ch))
    assert "chumpy" not in sys.modules and "chumpy.ch" not in sys.modules


def test_python2_module_names_load_without_deprecation_warnings(
    tmp_path: Path, arrays: dict
) -> None:
    path = with_python2_names(write_chumpy_pickle(tmp_path / "generic_model.pkl", arrays))
    data = path.read_bytes()
    assert b"numpy.core.multiarray" in data and b"scipy.sparse.csc\n" in data
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy.core is deprecated in numpy 2: we map it
        face = load_flame_file(path)
    assert_matches_arrays(face, arrays)


@pytest.mark.parametrize("dense", [True, False])
def test_npz_with_the_same_keys_loads_like_the_pickle(
    tmp_path: Path, arrays: dict, dense: bool
) -> None:
    path = write_flame_npz(tmp_path / "flame.npz", arrays, dense_regressor=dense)
    assert_matches_arrays(load_flame_file(path), arrays)


@pytest.mark.parametrize(
    ("num_shape", "num_expression", "split"), [(300, 50, (300, 50)), (10, 10, (10, 10))]
)
def test_shapedirs_with_fewer_components_are_split_as_documented(
    tmp_path: Path, num_shape: int, num_expression: int, split: tuple[int, int]
) -> None:
    arrays = random_flame_arrays(V, 120, num_shape=num_shape, num_expression=num_expression)
    face = load_flame_file(write_flame_pickle(tmp_path / "m.pkl", arrays))
    assert (face.num_shape, face.num_expression) == split
    assert_matches_arrays(face, arrays, num_shape=split[0])


def test_unknown_blendshape_layout_needs_num_shape(tmp_path: Path) -> None:
    arrays = random_flame_arrays(V, 120, num_shape=100, num_expression=50)
    path = write_flame_pickle(tmp_path / "m.pkl", arrays)
    with pytest.raises(LsfError, match=r"m\.pkl.*`shapedirs` has 150 blendshape columns"):
        load_flame_file(path)
    face = load_flame_file(path, num_shape=100)
    assert (face.num_shape, face.num_expression) == (100, 50)


def test_missing_key_names_file_key_and_where_to_get_flame(tmp_path: Path, arrays: dict) -> None:
    broken = {k: v for k, v in arrays.items() if k != "posedirs"}
    path = write_flame_pickle(tmp_path / "broken.pkl", broken)
    with pytest.raises(LsfError, match=r"broken\.pkl") as err:
        load_flame_file(path)
    assert "posedirs" in str(err.value) and "flame.is.tue.mpg.de" in str(err.value)


@pytest.mark.parametrize(
    ("key", "bad_shape", "expected"),
    [
        ("posedirs", (V, 3, 35), rf"\({V}, 3, 36\)"),
        ("weights", (V, 4), rf"\({V}, 5\)"),
        ("J_regressor", (4, V), rf"\(5, {V}\)"),
        ("v_template", (V, 2), r"\(V, 3\)"),
    ],
)
def test_wrong_shape_names_key_expected_and_got(
    tmp_path: Path, arrays: dict, key: str, bad_shape: tuple, expected: str
) -> None:
    broken = dict(arrays)
    broken[key] = np.zeros(bad_shape)
    path = write_flame_pickle(tmp_path / "bad.pkl", broken)
    with pytest.raises(LsfError, match=rf"bad\.pkl: `{key}` has shape .*expected {expected}"):
        load_flame_file(path)


def test_face_indices_out_of_range_are_rejected(tmp_path: Path, arrays: dict) -> None:
    broken = dict(arrays, f=np.array([[0, 1, V]]))
    with pytest.raises(LsfError, match="`f` holds vertex indices outside"):
        load_flame_file(write_flame_pickle(tmp_path / "bad.pkl", broken))


def test_missing_garbage_and_truncated_files_raise_lsf_error(tmp_path: Path, arrays: dict) -> None:
    with pytest.raises(LsfError, match="does not exist"):
        load_flame_file(tmp_path / "nope.pkl")
    garbage = tmp_path / "garbage.pkl"
    garbage.write_bytes(os.urandom(4096))
    with pytest.raises(LsfError, match=r"garbage\.pkl"):
        load_flame_file(garbage)
    data = write_flame_pickle(tmp_path / "full.pkl", arrays).read_bytes()
    truncated = tmp_path / "truncated.pkl"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(LsfError, match="truncated"):
        load_flame_file(truncated)
    npz = write_flame_npz(tmp_path / "full.npz", arrays).read_bytes()
    truncated_npz = tmp_path / "truncated.npz"
    truncated_npz.write_bytes(npz[: len(npz) // 2])
    with pytest.raises(LsfError, match=r"truncated\.npz"):
        load_flame_file(truncated_npz)
    not_a_dict = tmp_path / "list.pkl"
    not_a_dict.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(LsfError, match="not a dict"):
        load_flame_file(not_a_dict)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned > pwned.txt",))


def test_pickle_cannot_run_code(tmp_path: Path, arrays: dict, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    # Under a key we ignore, the object stays inert data and the model loads.
    face = load_flame_file(write_flame_pickle(tmp_path / "extra.pkl", dict(arrays, x=_Exploit())))
    assert_matches_arrays(face, arrays)
    # Under a key we need, loading fails with a clear message.
    path = write_flame_pickle(tmp_path / "evil.pkl", dict(arrays, weights=_Exploit()))
    with pytest.raises(LsfError, match=r"evil\.pkl: `weights` is a .*system object, not an array"):
        load_flame_file(path)
    assert not (tmp_path / "pwned.txt").exists()


def test_chumpy_class_we_cannot_evaluate_in_a_needed_key_is_reported(
    tmp_path: Path, arrays: dict
) -> None:
    path = write_chumpy_pickle(tmp_path / "generic_model.pkl", arrays)
    data = path.read_bytes()
    # Point v_template's class at a chumpy operation we do not evaluate.
    assert data.count(b"cchumpy.ch\nCh\n") >= 1
    path.write_bytes(data.replace(b"cchumpy.ch\nCh\n", b"cchumpy.ch_ops\nsum\n", 1))
    with pytest.raises(LsfError, match=r"chumpy\.ch_ops\.sum object .* without chumpy"):
        load_flame_file(path)


def test_builtin_extra_keys_regions_and_colors_round_trip(tmp_path: Path, arrays: dict) -> None:
    colors = np.random.default_rng(0).uniform(size=(V, 3))
    extra = dict(arrays, regions__lips=np.array([5, 3, 4]), regions__upper_face=np.arange(10, 20))
    extra["vertex_colors"] = colors
    face = load_flame_file(write_flame_npz(tmp_path / "face.npz", extra))
    assert face.regions["lips"].tolist() == [3, 4, 5]
    assert face.regions["upper_face"].tolist() == list(range(10, 20))
    np.testing.assert_array_equal(face.vertex_colors, colors)
    bad = dict(arrays, regions__lips=np.array([V + 1]))
    with pytest.raises(LsfError, match=r"regions__lips.*0\.\.63"):
        load_flame_file(write_flame_npz(tmp_path / "bad.npz", bad))


def test_flame_masks_beside_the_model_give_lips_and_upper_face(
    tmp_path: Path, arrays: dict
) -> None:
    path = write_flame_pickle(tmp_path / "generic_model.pkl", arrays)
    masks = {
        "lips": np.array([1, 2, 3]),
        "forehead": np.array([10, 11]),
        "eye_region": np.array([11, 12, 13]),
        "left_eyeball": np.array([20]),
        "right_eyeball": np.array([21]),
        "nose": np.array([30, 31]),
        "neck": np.array([40]),
    }
    with (tmp_path / "FLAME_masks.pkl").open("wb") as fh:
        pickle.dump(masks, fh, protocol=2)
    face = load_flame_file(path)
    assert face.regions["lips"].tolist() == [1, 2, 3]
    assert face.regions["upper_face"].tolist() == [10, 11, 12, 13, 20, 21, 30, 31]
    assert face.regions["neck"].tolist() == [40]

    # Index lists beside the model override the masks.
    (tmp_path / "lve.txt").write_text("7, 8,9\n")
    (tmp_path / "fdd.txt").write_text("50,51")
    face = load_flame_file(path)
    assert face.regions["lips"].tolist() == [7, 8, 9]
    assert face.regions["upper_face"].tolist() == [50, 51]
    (tmp_path / "fdd.txt").write_text("50,x")
    with pytest.raises(LsfError, match=r"fdd\.txt.*comma-separated integers"):
        load_flame_file(path)


def test_read_index_list_rejects_indices_outside_the_mesh(tmp_path: Path) -> None:
    (tmp_path / "lve.txt").write_text("1,2,100")
    with pytest.raises(LsfError, match=r"0\.\.9"):
        read_index_list(tmp_path / "lve.txt", 10)


def test_sparse_matrix_pickled_by_an_old_scipy_is_rebuilt() -> None:
    dense = np.array([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])
    old = scipy.sparse.csc_matrix(dense)
    state = vars(old)
    state["shape"] = state.pop("_shape")  # old scipy stored `shape`, not `_shape`
    np.testing.assert_array_equal(sparse_to_dense(old), dense)


def test_load_face_model_dispatches_files_and_folders(tmp_path: Path, arrays: dict) -> None:
    path = write_flame_pickle(tmp_path / "generic_model.pkl", arrays)
    assert_matches_arrays(load_face_model(path), arrays)
    assert_matches_arrays(load_face_model(str(path)), arrays)
    assert_matches_arrays(load_face_model(tmp_path), arrays)
    (tmp_path / "empty").mkdir()
    with pytest.raises(LsfError, match="holds none of"):
        load_face_model(tmp_path / "empty")
    with pytest.raises(LsfError, match="use 'builtin' or the path"):
        load_face_model("flame")


def test_builtin_face_loads_and_its_npz_round_trips_through_the_layer(tmp_path: Path) -> None:
    builtin = pytest.importorskip("lsf_animation.face.builtin")
    face = load_face_model("builtin")
    assert isinstance(face, FaceModel)
    path = tmp_path / "builtin.npz"
    np.savez(path, **builtin.builtin_face_arrays())
    loaded = load_face_model(path)
    assert set(loaded.regions) == set(face.regions)
    for name, idx in face.regions.items():
        np.testing.assert_array_equal(loaded.regions[name], np.unique(idx))
    if face.vertex_colors is not None:
        np.testing.assert_allclose(loaded.vertex_colors, face.vertex_colors, atol=0)
    g = torch.Generator().manual_seed(0)
    params = {
        "shape": torch.randn(2, face.num_shape, generator=g, dtype=torch.float64),
        "expression": torch.randn(2, face.num_expression, generator=g, dtype=torch.float64),
        "jaw_pose": 0.3 * torch.randn(2, 3, generator=g, dtype=torch.float64),
        "eye_pose": 0.3 * torch.randn(2, 6, generator=g, dtype=torch.float64),
    }
    expected = FlameLayer(face, dtype=torch.float64)(**params)
    got = FlameLayer(loaded, dtype=torch.float64)(**params)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-12)
