"""Reading FLAME model files (.pkl and .npz) into a `FaceModel`, without chumpy.

The official files (FLAME 2020 `generic_model.pkl`, FLAME 2023 / 2023 Open pickles) are Python
pickles of a dict. FLAME 2020 was written with Python 2 and stores several arrays as chumpy `Ch`
objects; chumpy is unmaintained and does not install on current Python. Our unpickler builds only
numpy arrays, scipy sparse matrices and plain builtin containers; every other class named in the
file becomes an inert stand-in that keeps the pickled state as data. A chumpy `Ch` keeps its array
in `state["x"]` (chumpy pickles `__dict__` minus its caches), and the few array-reordering chumpy
classes (Reshape, Select, transpose) are evaluated from their state. Loading never runs code from
the file. One module for one concept (the FLAME file format), hence its length.

Keys read (FLAME names, V vertices, F faces):
    v_template (V, 3), shapedirs (V, 3, S + E), posedirs (V, 3, 36), J_regressor (5, V) (scipy
    sparse or dense), weights (V, 5), kintree_table (2, 5), f (F, 3).
Optional keys written by the built-in face: `regions__<name>` (int vertex indices) and
`vertex_colors` (V, 3). Any other key is ignored.
Optional files beside the model: `FLAME_masks.pkl` (the official vertex masks: gives "lips",
"upper_face" = forehead + eye region + eyeballs + nose, and every mask under its own name), and
`lve.txt` / `fdd.txt` (comma-separated vertex indices) which override "lips" / "upper_face".
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any, BinaryIO, cast

import numpy as np
import scipy.sparse

from lsf_animation.constants import FACE_NUM_EXPRESSION, NUM_SHAPE
from lsf_animation.errors import LsfError
from lsf_animation.face.model import NUM_JOINTS, FaceModel
from lsf_animation.io.safe_pickle import Placeholder, placeholder_class, restricted_load

DOWNLOAD_HINT = (
    "download FLAME 2020 (generic_model.pkl) or FLAME 2023 from https://flame.is.tue.mpg.de, "
    'or use the built-in face (face model "builtin")'
)
REQUIRED_KEYS = (
    "v_template",
    "shapedirs",
    "posedirs",
    "J_regressor",
    "weights",
    "kintree_table",
    "f",
)
NUM_POSE_BASIS = 9 * (NUM_JOINTS - 1)  # (R - I) of the four non-root joints
REGION_KEY_PREFIX = "regions__"
MASKS_FILENAME = "FLAME_masks.pkl"
UPPER_FACE_MASKS = ("forehead", "eye_region", "left_eyeball", "right_eyeball", "nose")
REGION_LIST_FILES = {"lve.txt": "lips", "fdd.txt": "upper_face"}


# ---------------------------------------------------------------------------------------------
# Restricted unpickling, with chumpy stand-ins


class StandIn(Placeholder):
    """A pickled object of a class we do not import (see `io.safe_pickle.Placeholder`)."""

    def to_array(self) -> np.ndarray:
        raise _NotAnArray(self.source)


class ChumpyStandIn(StandIn):
    """A pickled chumpy object; evaluates plain `Ch` and chumpy's reordering classes."""

    def to_array(self) -> np.ndarray:
        """The value chumpy's `.r` would give."""
        kind = self.source.rsplit(".", 1)[-1]
        state = self.state
        if "x" in state and kind in ("Ch", "AtleastNd"):
            return _as_float_array(state["x"])
        if "a" in state:
            a = _evaluate(state["a"])
            if kind == "Reshape":
                return a.reshape(cast(tuple[int, ...], state["newshape"]))
            if kind == "transpose":
                axes = cast(tuple[int, ...] | None, state.get("axes"))
                return np.ascontiguousarray(np.transpose(a, axes=axes))
            if kind == "Select":
                picked = a.ravel()[np.asarray(state["idxs"])]
                shape = state.get("preferred_shape")
                return picked.reshape(shape) if shape is not None else picked
        raise _NotAnArray(self.source)


class _NotAnArray(Exception):
    pass


def _stand_in_for(module: str, name: str) -> type[Placeholder]:
    is_chumpy = module == "chumpy" or module.startswith("chumpy.")
    return placeholder_class(module, name, ChumpyStandIn if is_chumpy else StandIn)


def _evaluate(value: Any) -> np.ndarray:
    if isinstance(value, StandIn):
        return value.to_array()
    if scipy.sparse.issparse(value):
        return sparse_to_dense(value)
    return _as_float_array(value)


def _as_float_array(value: Any) -> np.ndarray:
    return np.asarray(value, dtype=np.float64)


def unpickle(stream: BinaryIO) -> Any:
    """Unpickle a FLAME-style pickle: numpy, scipy.sparse and builtin containers are real; every
    other class (chumpy's, or anything unexpected) becomes an inert stand-in, so loading never
    runs code from the file and an odd object under a key we ignore does not stop the load.
    Python 2 pickles need latin1 for numpy's byte strings."""
    return restricted_load(stream, scipy_sparse=True, placeholder=_stand_in_for, encoding="latin1")


def sparse_to_dense(matrix: Any) -> np.ndarray:
    """Dense float64 array of a scipy sparse matrix, also one unpickled from an old scipy."""
    try:
        return np.asarray(matrix.toarray(), dtype=np.float64)
    except Exception:
        # Old scipy pickled a plain __dict__; current scipy may miss attributes it expects.
        d = vars(matrix)
        shape = d.get("_shape", d.get("shape"))
        fmt = d.get("format", matrix.format if hasattr(matrix, "format") else None)
        if fmt not in ("csc", "csr") or shape is None:
            raise
        build = scipy.sparse.csc_matrix if fmt == "csc" else scipy.sparse.csr_matrix
        rebuilt = build((d["data"], d["indices"], d["indptr"]), shape=tuple(shape))
        return np.asarray(rebuilt.toarray(), dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# Reading the raw dict


def read_flame_dict(path: str | Path) -> dict[str, Any]:
    """The raw key -> value dict of a FLAME .pkl or .npz (values not yet converted).

    Raises LsfError for a missing path, a file that is neither a pickle nor an npz, a truncated
    or corrupt file, or a pickle that is not a dict.
    """
    path = Path(path)
    if not path.exists():
        raise LsfError(f"face model file {path} does not exist; {DOWNLOAD_HINT}")
    if not path.is_file():
        raise LsfError(f"face model {path} is not a file; give the path to a FLAME .pkl or .npz")
    with path.open("rb") as fh:
        head = fh.read(4)
    is_zip = head.startswith(b"PK\x03\x04")
    try:
        if is_zip or path.suffix.lower() == ".npz":
            data = _read_npz(path)
        else:
            with path.open("rb") as fh:
                data = unpickle(fh)
    except LsfError:
        raise
    except Exception as exc:  # truncated/corrupt files fail in many ways inside pickle/zipfile
        kind = "npz" if is_zip else "pickle"
        raise LsfError(
            f"cannot read face model file {path} as a FLAME {kind} "
            f"({type(exc).__name__}: {exc}); the file is truncated, corrupt or not a FLAME model: "
            f"{DOWNLOAD_HINT}"
        ) from exc
    if not isinstance(data, dict):
        raise LsfError(
            f"face model file {path} holds a {type(data).__name__}, not a dict of FLAME arrays; "
            f"{DOWNLOAD_HINT}"
        )
    return data


def _read_npz(path: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with zipfile.ZipFile(path) as zf:
        for member in zf.namelist():
            if not member.endswith(".npy"):
                continue
            with zf.open(member) as fh:
                raw = io.BytesIO(fh.read())
            out[member[: -len(".npy")]] = _read_npy(raw)
    return out


def _read_npy(fh: BinaryIO) -> Any:
    """One .npy member; object arrays (e.g. a sparse J_regressor) go through our unpickler."""
    try:
        return np.lib.format.read_array(fh, allow_pickle=False)
    except ValueError:
        fh.seek(0)
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            _, _, dtype = np.lib.format.read_array_header_1_0(fh)
        else:
            _, _, dtype = np.lib.format.read_array_header_2_0(fh)
        if not dtype.hasobject:
            raise
    obj = unpickle(fh)
    if isinstance(obj, np.ndarray) and obj.dtype == object and obj.shape == ():
        return obj[()]  # np.savez wraps a non-array value (a sparse matrix) in a 0-d object array
    return obj


# ---------------------------------------------------------------------------------------------
# Validation and conversion


def _array(data: dict[str, Any], key: str, path: Path) -> np.ndarray:
    if key not in data:
        raise LsfError(
            f"face model file {path} has no `{key}` array (keys found: "
            f"{', '.join(sorted(map(str, data))) or 'none'}); it is not a FLAME model: "
            f"{DOWNLOAD_HINT}"
        )
    try:
        return _evaluate(data[key])
    except _NotAnArray as exc:
        if str(exc).startswith("chumpy"):
            raise LsfError(
                f"face model file {path}: `{key}` is a {exc} object this loader cannot evaluate "
                "without chumpy; convert the file once with chumpy installed (save each array's "
                f"`.r` to an .npz with the same keys), or {DOWNLOAD_HINT}"
            ) from exc
        raise LsfError(
            f"face model file {path}: `{key}` is a {exc} object, not an array; the file is not "
            f"a FLAME model: {DOWNLOAD_HINT}"
        ) from exc
    except (TypeError, ValueError) as exc:
        raise LsfError(
            f"face model file {path}: `{key}` is not a numeric array ({exc}); {DOWNLOAD_HINT}"
        ) from exc


def _check_shape(path: Path, key: str, array: np.ndarray, expected: tuple[int | str, ...]) -> None:
    ok = array.ndim == len(expected) and all(
        isinstance(e, str) or got == e for got, e in zip(array.shape, expected, strict=False)
    )
    if not ok:
        shown = "(" + ", ".join(str(e) for e in expected) + ")"
        raise LsfError(
            f"face model file {path}: `{key}` has shape {tuple(array.shape)}, expected {shown}; "
            f"the file is not a FLAME model or is damaged: {DOWNLOAD_HINT}"
        )
    if not np.isfinite(array).all():
        raise LsfError(
            f"face model file {path}: `{key}` contains NaN or inf values; {DOWNLOAD_HINT}"
        )


def split_blendshapes(total: int, num_shape: int | None, path: Path) -> int:
    """Number of identity components among `total` shapedirs columns (the rest are expression).

    FLAME 2020/2023 store 300 shape + 100 expression. Files with 300 < total < 400 keep 300 shape
    components; 20 columns is the reduced 10 + 10 layout smplx also accepts. `num_shape` overrides.
    """
    if num_shape is not None:
        if not 0 < num_shape < total:
            raise LsfError(
                f"face model file {path}: num_shape={num_shape} must be between 1 and "
                f"{total - 1} (shapedirs has {total} columns: shape then expression)"
            )
        return num_shape
    if NUM_SHAPE < total <= NUM_SHAPE + FACE_NUM_EXPRESSION:
        return NUM_SHAPE
    if total == 20:
        return 10
    raise LsfError(
        f"face model file {path}: `shapedirs` has {total} blendshape columns; expected 400 "
        f"(FLAME: 300 shape + 100 expression), 301..399 (300 shape + fewer expression) or 20 "
        f"(10 + 10); {DOWNLOAD_HINT}"
    )


def load_flame_file(path: str | Path, num_shape: int | None = None) -> FaceModel:
    """Load a FLAME model file (.pkl from flame.is.tue.mpg.de, or an .npz with the same keys).

    Args:
        path: generic_model.pkl (FLAME 2020), flame2023*.pkl, or an .npz with FLAME keys.
        num_shape: how many shapedirs columns are identity components; default from the layout
            (300 for FLAME).

    Returns:
        A FaceModel with float64 arrays (metres) and regions from the file's `regions__*` keys,
        FLAME_masks.pkl and lve.txt/fdd.txt beside it.
    """
    path = Path(path)
    data = read_flame_dict(path)
    missing = [key for key in REQUIRED_KEYS if key not in data]
    if missing:
        raise LsfError(
            f"face model file {path} lacks the FLAME key(s) {', '.join(missing)} (keys found: "
            f"{', '.join(sorted(map(str, data))) or 'none'}); it is not a FLAME model: "
            f"{DOWNLOAD_HINT}"
        )

    v_template = _array(data, "v_template", path)
    _check_shape(path, "v_template", v_template, ("V", 3))
    v = v_template.shape[0]

    shapedirs = _array(data, "shapedirs", path)
    if shapedirs.ndim == 2 and shapedirs.shape[0] == v * 3:  # some exports flatten (V*3, N)
        shapedirs = shapedirs.reshape(v, 3, -1)
    _check_shape(path, "shapedirs", shapedirs, (v, 3, "S+E"))
    posedirs = _array(data, "posedirs", path)
    _check_shape(path, "posedirs", posedirs, (v, 3, NUM_POSE_BASIS))
    j_regressor = _array(data, "J_regressor", path)
    _check_shape(path, "J_regressor", j_regressor, (NUM_JOINTS, v))
    weights = _array(data, "weights", path)
    _check_shape(path, "weights", weights, (v, NUM_JOINTS))
    kintree = _array(data, "kintree_table", path)
    _check_shape(path, "kintree_table", kintree, (2, NUM_JOINTS))
    faces_f = _array(data, "f", path)
    _check_shape(path, "f", faces_f, ("F", 3))

    faces = faces_f.astype(np.int64)
    if faces.size and (faces.min() < 0 or faces.max() >= v or not np.array_equal(faces, faces_f)):
        raise LsfError(
            f"face model file {path}: `f` holds vertex indices outside 0..{v - 1}; {DOWNLOAD_HINT}"
        )
    parents = kintree[0].astype(np.int64)
    parents[0] = -1
    if any(not 0 <= parents[j] < j for j in range(1, NUM_JOINTS)):
        raise LsfError(
            f"face model file {path}: `kintree_table` parents {kintree[0].tolist()} are not a "
            f"tree rooted at joint 0 with parents before children; {DOWNLOAD_HINT}"
        )

    s = split_blendshapes(shapedirs.shape[2], num_shape, path)
    regions = _regions_from_keys(data, path, v)
    regions.update(_regions_beside(path, v))
    vertex_colors = None
    if "vertex_colors" in data:
        vertex_colors = _array(data, "vertex_colors", path)
        _check_shape(path, "vertex_colors", vertex_colors, (v, 3))

    return FaceModel(
        v_template=np.ascontiguousarray(v_template),
        shapedirs=np.ascontiguousarray(shapedirs[:, :, :s]),
        exprdirs=np.ascontiguousarray(shapedirs[:, :, s:]),
        # smplx layout: rows are the 36 pose features, columns the flattened (V, 3) offsets.
        posedirs=np.ascontiguousarray(posedirs.reshape(v * 3, NUM_POSE_BASIS).T),
        j_regressor=np.ascontiguousarray(j_regressor),
        weights=np.ascontiguousarray(weights),
        parents=parents,
        faces=np.ascontiguousarray(faces),
        regions=regions,
        vertex_colors=vertex_colors,
        name=str(path),
    )


# ---------------------------------------------------------------------------------------------
# Vertex regions


def _region_indices(values: Any, source: str, num_vertices: int) -> np.ndarray:
    try:
        idx = np.asarray(values).reshape(-1)
    except Exception as exc:
        raise LsfError(f"{source}: not a list of vertex indices ({exc})") from exc
    if idx.size == 0:
        raise LsfError(f"{source}: the vertex index list is empty")
    if not np.issubdtype(idx.dtype, np.integer):
        as_int = idx.astype(np.int64)
        if not np.array_equal(as_int, idx):
            raise LsfError(f"{source}: vertex indices must be integers")
        idx = as_int
    idx = idx.astype(np.int64)
    if idx.min() < 0 or idx.max() >= num_vertices:
        raise LsfError(
            f"{source}: vertex indices must lie in 0..{num_vertices - 1} "
            f"(got {idx.min()}..{idx.max()}); the list belongs to another mesh"
        )
    return np.unique(idx)


def _regions_from_keys(data: dict[str, Any], path: Path, v: int) -> dict[str, np.ndarray]:
    regions = {}
    for key, value in data.items():
        if isinstance(key, str) and key.startswith(REGION_KEY_PREFIX):
            name = key[len(REGION_KEY_PREFIX) :]
            regions[name] = _region_indices(value, f"face model file {path}: `{key}`", v)
    return regions


def _regions_beside(path: Path, v: int) -> dict[str, np.ndarray]:
    regions: dict[str, np.ndarray] = {}
    masks_path = path.parent / MASKS_FILENAME
    if masks_path.is_file():
        regions.update(read_flame_masks(masks_path, v))
    for filename, region in REGION_LIST_FILES.items():
        list_path = path.parent / filename
        if list_path.is_file():
            regions[region] = read_index_list(list_path, v)
    return regions


def read_flame_masks(path: str | Path, num_vertices: int) -> dict[str, np.ndarray]:
    """Regions from the official FLAME_masks.pkl: every mask, plus "upper_face" (forehead, eye
    region, eyeballs, nose) when those masks are present."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            masks = unpickle(fh)
    except Exception as exc:
        raise LsfError(
            f"cannot read vertex masks {path} ({type(exc).__name__}: {exc}); download "
            "FLAME_masks.pkl again from https://flame.is.tue.mpg.de or remove it"
        ) from exc
    if not isinstance(masks, dict):
        raise LsfError(f"vertex masks {path} hold a {type(masks).__name__}, not a dict of masks")
    regions = {
        str(name): _region_indices(idx, f"vertex masks {path}: `{name}`", num_vertices)
        for name, idx in masks.items()
    }
    if all(name in regions for name in UPPER_FACE_MASKS):
        regions["upper_face"] = np.unique(np.concatenate([regions[n] for n in UPPER_FACE_MASKS]))
    return regions


def read_index_list(path: str | Path, num_vertices: int) -> np.ndarray:
    """Sorted unique vertex indices from a text file of comma-separated integers (lve.txt ...)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8", errors="replace")
    tokens = [t for t in text.replace("\n", ",").replace(" ", ",").split(",") if t.strip()]
    try:
        values = [int(t) for t in tokens]
    except ValueError as exc:
        raise LsfError(
            f"vertex list {path}: expected comma-separated integers ({exc}); fix or remove the file"
        ) from exc
    return _region_indices(values, f"vertex list {path}", num_vertices)
