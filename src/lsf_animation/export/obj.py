"""OBJ sequences: a folder of frame_00000.obj, frame_00001.obj ... one mesh per frame.

Each file has `v x y z` lines (metres, 6 decimals), or `v x y z r g b` with per-vertex colours
in [0, 1], followed by the shared `f i j k` triangle lines (1-based, as OBJ requires).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from lsf_animation.errors import LsfError
from lsf_animation.export.base import Exporter, ExportInput
from lsf_animation.export.vertices import check_vertices
from lsf_animation.io.atomic import remove_stale, temporary_sibling, write_error

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


def foreign_files(directory: Path) -> list[str]:
    """Names in an existing folder that are not OBJ frames (frame_<number>.obj): files that an
    OBJ export did not write and must never delete."""
    return sorted(p.name for p in directory.iterdir() if not _FRAME_NAME.fullmatch(p.name))


def _replace_refusal(directory: Path) -> str | None:
    """Why an existing `directory` must not be replaced by an OBJ sequence, or None."""
    if directory.is_symlink() or not directory.is_dir():
        return "it is not a folder"
    foreign = foreign_files(directory)
    if foreign:
        shown = ", ".join(foreign[:3]) + (" ..." if len(foreign) > 3 else "")
        return f"it holds files that are not OBJ frames ({shown}) of an earlier export"
    return None


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
    reason = _replace_refusal(directory)
    if reason is not None:
        raise LsfError(f"{directory}: {reason}; refusing to replace it, choose another folder")


def save_obj_sequence(
    directory: str | Path,
    vertices: np.ndarray | Iterable[np.ndarray],
    faces: np.ndarray,
    colors: np.ndarray | None = None,
    overwrite: bool = False,
    num_frames: int | None = None,
) -> list[Path]:
    """Write one OBJ file per frame into `directory`, all or nothing.

    Args:
        directory: output folder; it must not exist, be empty, or (with `overwrite`) hold only a
            previous OBJ sequence (frame_*.obj), which is replaced.
        vertices: (T, V, 3) positions in metres, or its chunks of frames in order (written as
            they come, so memory stays bounded).
        faces: (F, 3) triangles of 0-based vertex indices (written 1-based).
        colors: optional (V, 3) per-vertex RGB in [0, 1], written as `v x y z r g b`.
        overwrite: replace an existing OBJ sequence in `directory`.
        num_frames: T, required when `vertices` are chunks (it sets the file names' width).

    The frames are written into a temporary sibling folder that is renamed onto `directory`
    only after every frame is complete; on any failure it is removed and `directory` is left as
    it was. Returns the frame paths in order.
    """
    directory = Path(directory)
    source = str(directory)
    if isinstance(vertices, np.ndarray):
        vertices = check_vertices(vertices, source=source)
        num_frames = vertices.shape[0]
        chunks: Iterable[np.ndarray] = [vertices]
    elif num_frames is None:
        raise ValueError("num_frames is required when the vertices come in chunks")
    else:
        chunks = vertices
    _check_destination(directory, overwrite)
    names = frame_file_names(num_frames)

    target = directory.resolve()  # a real name for the sibling temp folders, even for "."
    remove_stale(target.parent)
    tmp = temporary_sibling(target)
    old = temporary_sibling(target, ".old")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
        written = _write_frames(tmp, chunks, names, faces, colors, source)
        if written != num_frames:
            raise LsfError(f"{source}: {written} frames were given for {num_frames} file names")
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
        written_bytes = sum(p.stat().st_size for p in tmp.glob("*.obj")) if tmp.is_dir() else 0
        shutil.rmtree(tmp, ignore_errors=True)
        raise write_error("the OBJ sequence", directory, err, written=written_bytes) from err
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [directory / name for name in names]


def _write_frames(
    folder: Path,
    chunks: Iterable[np.ndarray],
    names: list[str],
    faces: np.ndarray,
    colors: np.ndarray | None,
    source: str,
) -> int:
    """Write the frames of `chunks` into `folder` under `names`; returns how many."""
    count, face_block, vertex_format = 0, "", ""
    for chunk in chunks:
        chunk = check_vertices(chunk, source=source)
        if not face_block:  # the first chunk: check the topology and colours once
            num_vertices = chunk.shape[1]
            faces = _check_faces(faces, num_vertices, source)
            if colors is not None:
                colors = _check_colors(colors, num_vertices, source)
            face_block = ("f %d %d %d\n" * len(faces)) % tuple((faces + 1).ravel().tolist())
            row = "v %.6f %.6f %.6f\n" if colors is None else "v %.6f %.6f %.6f %.4f %.4f %.4f\n"
            vertex_format = row * num_vertices
        if count + chunk.shape[0] > len(names):
            raise LsfError(f"{source}: more frames were given than the {len(names)} announced")
        for frame in chunk:
            rows = frame if colors is None else np.concatenate([frame, colors], axis=1)
            text = vertex_format % tuple(rows.ravel().tolist()) + face_block
            _write_text(folder / names[count], text)
            count += 1
    return count


class ObjExporter(Exporter):
    """obj/: sample 0 as one coloured OBJ mesh per frame, written frame by frame. An existing
    obj/ is replaced only when it holds nothing but OBJ frames (an earlier export's)."""

    def outputs(self) -> dict[str, str]:
        return {"obj": "obj"}

    def refuse_replacing(self, dest: Path) -> str | None:
        return _replace_refusal(dest)

    def write(self, item: ExportInput, folder: Path) -> None:
        face = item.face
        save_obj_sequence(
            folder / "obj", item.vertex_chunks(0, "obj"), face.faces, face.vertex_colors,
            num_frames=item.motion.num_frames,
        )  # fmt: skip
