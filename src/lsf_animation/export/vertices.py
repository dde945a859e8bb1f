"""Vertex sequences as .npy: one (T, V, 3) float32 array of positions in metres."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lsf_animation.errors import LsfError
from lsf_animation.export.base import Exporter, ExportInput
from lsf_animation.io.atomic import atomic_path


def check_vertices(vertices: np.ndarray, source: str = "vertices") -> np.ndarray:
    """Validate a (T, V, 3) vertex sequence (metres) and return it as float32.

    Raises LsfError naming `source` for a wrong shape, no frames or vertices, or NaN/inf values.
    """
    vertices = np.asarray(vertices)
    if vertices.ndim != 3 or vertices.shape[-1] != 3:
        raise LsfError(
            f"{source}: vertices have shape {tuple(vertices.shape)}, expected (T, V, 3): "
            "T frames of V vertex positions in metres"
        )
    if vertices.shape[0] == 0 or vertices.shape[1] == 0:
        raise LsfError(
            f"{source}: vertices have shape {tuple(vertices.shape)}, with no frames or no vertices"
        )
    if not np.issubdtype(vertices.dtype, np.number) or np.iscomplexobj(vertices):
        raise LsfError(f"{source}: vertices have dtype {vertices.dtype}, expected real numbers")
    if not np.isfinite(vertices).all():
        raise LsfError(f"{source}: vertices contain NaN or inf values")
    return vertices.astype(np.float32, copy=False)


def save_vertices(path: str | Path, vertices: np.ndarray) -> Path:
    """Write a (T, V, 3) vertex sequence (metres) as a float32 .npy file, atomically.

    The array goes to a temporary file in the same folder that is renamed onto `path` only once
    it is complete, so `path` is never half-written. Missing parent folders are created.
    Returns the path written.
    """
    path = Path(path)
    vertices = check_vertices(vertices, source=str(path))
    with atomic_path(path, "vertices") as tmp, open(tmp, "wb") as fh:
        np.save(fh, vertices, allow_pickle=False)
    return path


def load_vertices(path: str | Path) -> np.ndarray:
    """Read a (T, V, 3) vertex .npy written by `save_vertices`; returns float32, metres."""
    path = Path(path)
    if not path.is_file():
        raise LsfError(f"vertex file not found: {path}")
    try:
        vertices = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise LsfError(f"{path}: not a readable .npy file ({err})") from err
    if not isinstance(vertices, np.ndarray):
        vertices.close()  # an .npz archive
        raise LsfError(f"{path}: expected a single .npy array, not an archive of several")
    return check_vertices(vertices, source=str(path))


class VerticesExporter(Exporter):
    """vertices.npy: sample 0 as (T, V, 3) float32 metres."""

    def outputs(self) -> dict[str, str]:
        return {"vertices": "vertices.npy"}

    def write(self, item: ExportInput, folder: Path) -> None:
        save_vertices(folder / "vertices.npy", item.vertices(0))
