"""Vertex sequences as .npy: one (T, V, 3) float32 array of positions in metres."""

from __future__ import annotations

from collections.abc import Iterable
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
    vertices = check_vertices(vertices, source=str(path))
    return save_vertex_chunks(path, [vertices], vertices.shape[0], vertices.shape[1])


def save_vertex_chunks(
    path: str | Path, chunks: Iterable[np.ndarray], num_frames: int, num_vertices: int
) -> Path:
    """Write a (num_frames, num_vertices, 3) float32 .npy file from chunks of frames, in
    bounded memory: the .npy header first, then each chunk as it comes; atomically, like
    `save_vertices`.

    Args:
        chunks: (t, num_vertices, 3) positions in metres, in order, `num_frames` frames in all.

    Raises:
        LsfError: a chunk is not finite or of the wrong shape, the frames do not add up, or
            the file cannot be written (a full disk says how much it needs).
    """
    path = Path(path)
    header = {"descr": "<f4", "fortran_order": False, "shape": (num_frames, num_vertices, 3)}
    written = 0
    with atomic_path(path, "vertices") as tmp, open(tmp, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, header)
        for chunk in chunks:
            chunk = check_vertices(chunk, source=str(path))
            if chunk.shape[1] != num_vertices or written + chunk.shape[0] > num_frames:
                raise LsfError(
                    f"{path}: a chunk of shape {tuple(chunk.shape)} does not fit the "
                    f"({num_frames}, {num_vertices}, 3) sequence being written"
                )
            fh.write(np.ascontiguousarray(chunk, "<f4").tobytes())
            written += chunk.shape[0]
        if written != num_frames:
            raise LsfError(f"{path}: {written} frames were given for a {num_frames}-frame file")
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
    """vertices.npy: sample 0 as (T, V, 3) float32 metres (12 bytes per vertex and frame:
    2.2 GB for 20 minutes on the built-in face), written chunk by chunk."""

    def outputs(self) -> dict[str, str]:
        return {"vertices": "vertices.npy"}

    def write(self, item: ExportInput, folder: Path) -> None:
        save_vertex_chunks(
            folder / "vertices.npy", item.vertex_chunks(0, "vertices"), item.motion.num_frames,
            item.face.num_vertices,
        )  # fmt: skip
