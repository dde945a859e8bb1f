"""Writers of random FLAME-format model files, in the real on-disk formats, for tests.

Nothing here is FLAME data: the arrays are random with FLAME's keys, shapes and magnitudes
(template ~0.1 m, blendshape columns ~1e-3 m). Values are float32-representable (stored as
float64 like the official files) so that smplx, which rounds model arrays to float32 on load,
sees exactly the same numbers as our loader.

Import from a test as `from fixtures_flame import ...` (tests/conftest.py puts tests/ on sys.path).
"""

from __future__ import annotations

import pickle
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse

FLAME_VERTICES = 5023
FLAME_FACES = 9976
ROOT_PARENT = 4294967295  # what FLAME/SMPL store as the root's parent in kintree_table


def random_flame_arrays(
    num_vertices: int = 64,
    num_faces: int = 120,
    num_shape: int = 300,
    num_expression: int = 100,
    seed: int = 0,
) -> dict[str, Any]:
    """A random model dict with the official FLAME keys (J_regressor as scipy csc)."""
    rng = np.random.default_rng(seed)
    v = num_vertices

    def f32(a: np.ndarray) -> np.ndarray:
        return a.astype(np.float32).astype(np.float64)

    v_template = f32(rng.normal(scale=0.1, size=(v, 3)))
    shapedirs = f32(rng.normal(scale=1e-3, size=(v, 3, num_shape + num_expression)))
    posedirs = f32(rng.normal(scale=1e-3, size=(v, 3, 36)))

    # Each joint averages a few vertices (rows sum to 1), stored sparse as FLAME does.
    rows, cols, vals = [], [], []
    for j in range(5):
        picked = rng.choice(v, size=min(4, v), replace=False)
        w = rng.uniform(0.5, 1.5, size=picked.size)
        rows += [j] * picked.size
        cols += picked.tolist()
        vals += (w / w.sum()).tolist()
    j_regressor = scipy.sparse.csc_matrix(
        (f32(np.asarray(vals)), (rows, cols)), shape=(5, v), dtype=np.float64
    )

    # Skinning weights: each vertex mostly on one or two joints, rows sum to 1.
    logits = rng.normal(scale=2.0, size=(v, 5))
    weights = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    weights = f32(weights)
    weights[:, 0] = 1.0 - weights[:, 1:].sum(1)

    faces = np.stack([rng.choice(v, size=3, replace=False) for _ in range(num_faces)])
    kintree = np.array([[ROOT_PARENT, 0, 1, 1, 1], [0, 1, 2, 3, 4]], dtype=np.int64)
    return {
        "v_template": v_template,
        "shapedirs": shapedirs,
        "posedirs": posedirs,
        "J_regressor": j_regressor,
        "weights": weights,
        "kintree_table": kintree,
        "f": faces.astype(np.uint32),
        "bs_style": "lbs",  # extra keys the official files carry; loaders ignore them
        "bs_type": "lrotmin",
    }


def write_flame_pickle(path: Path, arrays: dict[str, Any], protocol: int = 2) -> Path:
    """A plain pickle like FLAME 2023: numpy arrays and a scipy sparse J_regressor."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        pickle.dump(arrays, fh, protocol=protocol)
    return path


def write_flame_npz(path: Path, arrays: dict[str, Any], dense_regressor: bool = True) -> Path:
    """An .npz with the same keys (J_regressor dense, or kept sparse as a pickled object)."""
    out = dict(arrays)
    if dense_regressor:
        out["J_regressor"] = arrays["J_regressor"].toarray()
    np.savez(path, **out)
    return path


@contextmanager
def fake_chumpy() -> Iterator[dict[str, type]]:
    """Register a minimal `chumpy` package in sys.modules (for pickling only), then remove it.

    Its classes pickle as chumpy's do: default object reduction with the state chumpy's
    `__getstate__` returns (its `__dict__` without the weak-reference caches), so a plain `Ch`
    carries its array in `state["x"]`, a `Select` its input in `state["a"]`.
    """
    names = ("chumpy", "chumpy.ch", "chumpy.reordering", "chumpy.ch_ops")
    saved = {n: sys.modules.get(n) for n in names}
    modules = {n: types.ModuleType(n) for n in names}

    def make(module: str, name: str) -> type:
        def getstate(self: Any) -> dict[str, Any]:
            return dict(self.__dict__)

        cls = type(name, (object,), {"__getstate__": getstate, "__module__": module})
        setattr(modules[module], name, cls)
        return cls

    classes = {
        "Ch": make("chumpy.ch", "Ch"),
        "Select": make("chumpy.reordering", "Select"),
        "Reshape": make("chumpy.reordering", "Reshape"),
        "add": make("chumpy.ch_ops", "add"),
    }
    modules["chumpy"].ch = modules["chumpy.ch"]
    sys.modules.update(modules)
    try:
        yield classes
    finally:
        for n, mod in saved.items():
            if mod is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = mod


def _ch_state(extra: dict[str, Any]) -> dict[str, Any]:
    state = {
        "_dirty_vars": set(),
        "_itr": None,
        "_depends_on_deps": {},
        "_make_dense": False,
        "_make_sparse": False,
    }
    state.update(extra)
    return state


def write_chumpy_pickle(path: Path, arrays: dict[str, Any], protocol: int = 2) -> Path:
    """A FLAME 2020-style pickle: v_template, shapedirs and weights as chumpy `Ch`, posedirs as
    a chumpy `Select` of a `Reshape` of a `Ch`, plus an extra `J` key of a chumpy class the loader
    cannot evaluate (it must be ignored)."""
    with fake_chumpy() as cls:

        def ch(array: np.ndarray) -> Any:
            obj = cls["Ch"].__new__(cls["Ch"])
            obj.__dict__.update(_ch_state({"x": np.asarray(array)}))
            return obj

        out = dict(arrays)
        for key in ("v_template", "shapedirs", "weights"):
            out[key] = ch(arrays[key])
        flat = ch(arrays["posedirs"].reshape(-1)[::-1].copy())
        reshaped = cls["Reshape"].__new__(cls["Reshape"])
        reshaped.__dict__.update(_ch_state({"a": flat, "newshape": (-1,)}))
        select = cls["Select"].__new__(cls["Select"])
        select.__dict__.update(
            _ch_state(
                {
                    "a": reshaped,
                    "idxs": np.arange(flat.x.size)[::-1].copy(),
                    "preferred_shape": arrays["posedirs"].shape,
                }
            )
        )
        out["posedirs"] = select
        joints = cls["add"].__new__(cls["add"])
        joints.__dict__.update(_ch_state({"a": ch(np.zeros(3)), "b": ch(np.ones(3))}))
        out["J"] = joints
        return write_flame_pickle(path, out, protocol=protocol)


PYTHON2_NAMES = {
    b"cnumpy._core.multiarray\n": b"cnumpy.core.multiarray\n",
    b"cscipy.sparse._csc\n": b"cscipy.sparse.csc\n",
    b"ccopyreg\n": b"ccopy_reg\n",
    b"cbuiltins\n": b"c__builtin__\n",
}


def with_python2_names(path: Path) -> Path:
    """Rewrite a protocol 0-2 pickle's global references to the module names Python 2 with
    old numpy/scipy wrote (numpy.core.multiarray, scipy.sparse.csc, copy_reg, __builtin__), as
    in FLAME 2020's generic_model.pkl. GLOBAL opcodes are newline-terminated text in these
    protocols, so a byte replacement keeps the pickle valid."""
    data = path.read_bytes()
    for new_name, old_name in PYTHON2_NAMES.items():
        data = data.replace(new_name, old_name)
    path.write_bytes(data)
    return path


def write_smplx_flame_folder(folder: Path, arrays: dict[str, Any]) -> Path:
    """What smplx.FLAME needs in `model_path`: FLAME_NEUTRAL.pkl and flame_static_embedding.pkl
    (51 landmarks: face indices and barycentric coordinates)."""
    folder.mkdir(parents=True, exist_ok=True)
    write_flame_pickle(folder / "FLAME_NEUTRAL.pkl", arrays)
    rng = np.random.default_rng(1)
    bary = rng.uniform(size=(51, 3))
    embedding = {
        "lmk_face_idx": rng.integers(0, arrays["f"].shape[0], size=51).astype(np.uint32),
        "lmk_b_coords": bary / bary.sum(1, keepdims=True),
    }
    with (folder / "flame_static_embedding.pkl").open("wb") as fh:
        pickle.dump(embedding, fh, protocol=2)
    return folder / "FLAME_NEUTRAL.pkl"
