"""OBJ sequences: a folder of frame_00000.obj, frame_00001.obj ... one mesh per frame.

Each file has `v x y z` lines (metres, 6 decimals), or `v x y z r g b` with per-vertex colours
in [0, 1], followed by the shared `f i j k` triangle lines (1-based, as OBJ requires).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import numpy as np

from lsf_animation.errors import LsfError
from lsf_animation.export.base import Exporter, ExportInput
from lsf_animation.export.vertices import check_vertices
from lsf_animation.io.atomic import temporary_sibling

_FRAME_NAME = re.compile(r"frame_\d+\.obj")


def frame_file_names(num_frames: int) -> list[str]:
    """File names of a sequence: frame_00000.obj ... (wider numbers past 99999 frames)."""
    width = max(5, len(str(num_frames - 1)))
    return [f"frame_{i:0{width}d}.obj" for i in range(num_frames)]


def _check_faces(faces: np.ndarray, num_vertices: int, source: str) -> np.ndarray:
    faces = np.asarray(faces)
    if faces.ndim != 2 or faces.shape[1] != 3 or faces.shape[0] == 0:
        raise LsfError(
            f"{source}: faces have shape {tuple(faces.shape)}, expected (F, 3) triangles of "
            "0-based vertex indices"
        )
    integral_floats = np.issubdtype(faces.dtype, np.floating) and np.all(faces == np.round(faces))
    if not np.issubdtype(faces.dtype, np.integer) and not integral_floats:
        raise LsfError(f"{source}: faces have dtype {faces.dtype}, expected integer indices")
    faces = faces.astype(np.int64)
    if faces.min() < 0 or faces.max() >= num_vertices:
        raise LsfError(
            f"{source}: face indices span {faces.min()}..{faces.max()}, but the mesh has "
            f"{num_vertices} vertices (0-based indices 0..{num_vertices - 1} expected)"
        )
    return faces


def _check_colors(colors: np.ndarray, num_vertices: int, source: str) -> np.ndarray:
    colors = np.asarray(colors, dtype=np.float64)
    if colors.shape != (num_vertices, 3):
        raise LsfError(
            f"{source}: colours have shape {tuple(colors.shape)}, expected ({num_vertices}, 3) "
            "RGB values in [0, 1], one per vertex"
        )
    if not np.isfinite(colors).all() or colors.min() < 0.0 or colors.max() > 1.0:
        raise LsfError(f"{source}: colours must be finite RGB values in [0, 1]")
    return colors


def _write_text(path: Path, text: str) -> None:
    with open(path, "wb") as fh:
        fh.write(text.encode("ascii"))


def _check_destination(directory: Path, overwrite: bool) -> None:
    if directory.exists() and not directory.is_dir():
        raise LsfError(f"{directory} exists and is not a folder; choose another OBJ output folder")
    if not directory.is_dir() or not any(directory.iterdir()):
        return
    if not overwrite:
        raise LsfError(
            f"{directory} already exists and is not empty; choose another folder or pass "
            "overwrite=True (--overwrite) to replace it"
        )
    # Replacing deletes the old folder, so only do it for something that is an OBJ sequence.
    foreign = [p.name for p in directory.iterdir() if not _FRAME_NAME.fullmatch(p.name)]
    if foreign:
        raise LsfError(
            f"{directory} holds files that are not OBJ frames ({', '.join(sorted(foreign)[:3])}"
            f"{' ...' if len(foreign) > 3 else ''}); refusing to replace it, choose another folder"
        )


def save_obj_sequence(
    directory: str | Path,
    vertices: np.ndarray,
    faces: np.ndarray,
    colors: np.ndarray | None = None,
    overwrite: bool = False,
) -> list[Path]:
    """Write one OBJ file per frame into `directory`, all or nothing.

    Args:
        directory: output folder; it must not exist, be empty, or (with `overwrite`) hold only a
            previous OBJ sequence (frame_*.obj), which is replaced.
        vertices: (T, V, 3) positions in metres.
        faces: (F, 3) triangles of 0-based vertex indices (written 1-based).
        colors: optional (V, 3) per-vertex RGB in [0, 1], written as `v x y z r g b`.
        overwrite: replace an existing OBJ sequence in `directory`.

    The frames are written into a temporary sibling folder that is renamed onto `directory`
    only after every frame is complete; on any failure it is removed and `directory` is left as
    it was. Returns the frame paths in order.
    """
    directory = Path(directory)
    source = str(directory)
    vertices = check_vertices(vertices, source=source)
    num_frames, num_vertices, _ = vertices.shape
    faces = _check_faces(faces, num_vertices, source)
    if colors is not None:
        colors = _check_colors(colors, num_vertices, source)
    _check_destination(directory, overwrite)

    face_block = ("f %d %d %d\n" * len(faces)) % tuple((faces + 1).ravel().tolist())
    if colors is None:
        vertex_format = "v %.6f %.6f %.6f\n" * num_vertices
    else:
        vertex_format = "v %.6f %.6f %.6f %.4f %.4f %.4f\n" * num_vertices
    names = frame_file_names(num_frames)

    target = directory.resolve()  # a real name for the sibling temp folders, even for "."
    tmp = temporary_sibling(target)
    old = temporary_sibling(target, ".old")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
        for frame, name in zip(vertices, names, strict=True):
            rows = frame if colors is None else np.concatenate([frame, colors], axis=1)
            _write_text(tmp / name, vertex_format % tuple(rows.ravel().tolist()) + face_block)
        _check_destination(target, overwrite)  # it may have changed while we wrote
        if target.is_dir() and any(target.iterdir()):
            os.replace(target, old)
            try:
                os.replace(tmp, target)
            except BaseException:
                os.replace(old, target)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)  # onto nothing or an empty folder
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise LsfError(
            f"cannot write the OBJ sequence to {directory} ({err}); choose a writable folder "
            "with enough free space"
        ) from err
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [directory / name for name in names]


class ObjExporter(Exporter):
    """obj/: sample 0 as one coloured OBJ mesh per frame."""

    def outputs(self) -> dict[str, str]:
        return {"obj": "obj"}

    def write(self, item: ExportInput, folder: Path) -> None:
        face = item.face
        save_obj_sequence(folder / "obj", item.vertices(0), face.faces, face.vertex_colors)
