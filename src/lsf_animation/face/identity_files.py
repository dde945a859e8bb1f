"""A face's identity from files: shape coefficients (.npy) or a neutral mesh (.obj / .npy).

The mesh must be in the face model's topology; `lsf_animation.face.fit.fit_shape` turns it into
shape coefficients.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lsf_animation.constants import NUM_SHAPE
from lsf_animation.errors import LsfError


def read_obj_vertices(path: str | Path) -> np.ndarray:
    """The `v x y z` lines of an OBJ file as (V, 3) float64 (colours after xyz are ignored)."""
    path = Path(path)
    rows: list[list[float]] = []
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for number, line in enumerate(fh, 1):
                parts = line.split()
                if not parts or parts[0] != "v":
                    continue
                try:
                    rows.append([float(x) for x in parts[1:4]])
                except ValueError as err:
                    raise LsfError(f"{path}:{number}: bad vertex line {line.strip()!r}") from err
                if len(rows[-1]) != 3:
                    raise LsfError(f"{path}:{number}: a vertex line needs x y z")
    except OSError as err:
        raise LsfError(f"cannot read mesh {path}: {err}") from err
    if not rows:
        raise LsfError(f"{path} has no vertex (`v x y z`) lines; give an OBJ mesh")
    return np.asarray(rows, dtype=np.float64)


_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"


def load_npy_array(path: Path, what: str) -> np.ndarray:
    """One real-valued numeric array from a .npy file, checked before it is used.

    Raises:
        LsfError: unreadable, an .npz archive (renamed or not), not a .npy file, an object
            array (never unpickled), or not numbers (strings, a structured or complex dtype).
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(6)
    except OSError as err:
        raise LsfError(f"cannot read {what} {path}: {err.strerror or err}") from err
    if head.startswith(_ZIP_MAGIC):
        raise LsfError(
            f"{what} {path} is an .npz archive, not a .npy array; save one array with numpy.save"
        )
    if head != _NPY_MAGIC:
        raise LsfError(f"{what} {path} is not a .npy file (written by numpy.save)")
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise LsfError(
            f"cannot read {what} {path} (expected a .npy array of numbers): {err}"
        ) from err
    check_real_numbers(array, f"{what} {path}")
    return np.asarray(array)


def check_real_numbers(array: np.ndarray, source: str) -> None:
    """LsfError unless `array` holds real numbers (integers or floats; not bool, strings,
    records, complex values or objects)."""
    kind = np.asarray(array).dtype.kind
    if kind not in "iuf":
        dtype = np.asarray(array).dtype
        raise LsfError(f"{source} has values of type {dtype} where real numbers are expected")


def load_neutral_mesh(path: str | Path) -> np.ndarray:
    """A neutral mesh from .obj (its `v` lines) or .npy ((V, 3) array), in metres."""
    path = Path(path)
    if not path.is_file():
        raise LsfError(f"neutral mesh {path} not found")
    if path.suffix.lower() == ".obj":
        return read_obj_vertices(path)
    if path.suffix.lower() == ".npy":
        mesh = load_npy_array(path, "neutral mesh")
        if mesh.ndim != 2 or mesh.shape[1] != 3:
            raise LsfError(f"{path} holds an array of shape {mesh.shape}, expected (V, 3)")
        return np.asarray(mesh, dtype=np.float64)
    raise LsfError(f"neutral mesh {path}: give an .obj or a .npy file")


def load_shape_file(path: str | Path) -> np.ndarray:
    """Shape coefficients from a .npy file, validated by `check_shape`."""
    path = Path(path)
    if not path.is_file():
        raise LsfError(f"shape file {path} not found")
    return check_shape(load_npy_array(path, "shape file"), str(path))


def check_shape(shape: np.ndarray, source: str = "shape") -> np.ndarray:
    """(<=300,) finite real coefficients -> (300,) float32, zero-padded; LsfError otherwise."""
    check_real_numbers(np.asarray(shape), f"{source} (shape coefficients)")
    arr = np.asarray(shape, dtype=np.float64)
    if arr.ndim != 1 or not 1 <= arr.size <= NUM_SHAPE:
        raise LsfError(
            f"{source}: shape coefficients must be a 1-D array of at most {NUM_SHAPE} values, "
            f"got an array of shape {arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise LsfError(f"{source}: the shape coefficients contain NaN or inf values")
    return np.pad(arr, (0, NUM_SHAPE - arr.size)).astype(np.float32)


@dataclass(frozen=True)
class FaceShape:
    """A face's identity, checked once at the edge: (300,) float32 FLAME shape coefficients."""

    coefficients: np.ndarray

    @classmethod
    def from_array(cls, shape: np.ndarray, source: str = "shape") -> FaceShape:
        """(<=300,) finite coefficients, zero-padded (`check_shape`)."""
        return cls(check_shape(shape, source))

    @classmethod
    def read(cls, path: str | Path) -> FaceShape:
        """Coefficients from a .npy file (`load_shape_file`)."""
        return cls(load_shape_file(path))

    @classmethod
    def zero(cls) -> FaceShape:
        """The mean face."""
        return cls(np.zeros(NUM_SHAPE, np.float32))
