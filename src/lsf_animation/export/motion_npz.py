"""The motion file: an .npz with `motion` (T, 53) or (K, T, 53), `shape` (300,) and `fps`."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from lsf_animation.constants import FPS
from lsf_animation.errors import LsfError
from lsf_animation.export.base import Exporter, ExportInput
from lsf_animation.face.identity_files import check_real_numbers
from lsf_animation.face.motion import MotionFile, make_motion_file
from lsf_animation.io.atomic import atomic_path


def load_motion(path: str | Path) -> MotionFile:
    """Read a motion .npz, validating keys, shapes, types and values; errors name the file.

    Raises:
        LsfError: missing or unreadable; not an .npz (a plain .npy such as vertices.npy is
            named as such); no `motion`; `motion` or `shape` not real numbers; `fps` not one
            positive number.
    """
    path = Path(path)
    if not path.is_file():
        raise LsfError(f"motion file not found: {path}")
    try:
        with open(path, "rb") as fh:
            head = fh.read(6)
    except OSError as err:
        raise LsfError(f"cannot read motion file {path}: {err.strerror or err}") from err
    if head == b"\x93NUMPY":
        raise LsfError(
            f"{path} is a single .npy array, not a motion .npz (vertices.npy holds vertices, "
            "not motion); give the motion.npz that `lsf-animation animate` writes"
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise LsfError(f"{path}: not a readable .npz file ({err})") from err
    if "motion" not in arrays:
        raise LsfError(f"{path}: no `motion` array (found: {sorted(arrays) or 'nothing'})")
    check_real_numbers(arrays["motion"], f"{path}: `motion`")
    return make_motion_file(
        arrays["motion"], arrays.get("shape"), _fps(arrays.get("fps"), path), source=str(path)
    )


def _fps(value: np.ndarray | None, path: Path) -> float:
    """The frame rate stored in a motion file: one positive real number (default 25)."""
    if value is None:
        return float(FPS)
    if value.size != 1 or value.dtype.kind not in "iuf":
        raise LsfError(
            f"{path}: `fps` is {value.dtype} of shape {value.shape}, expected one number (e.g. 25)"
        )
    fps = float(value.reshape(()))
    if not 0 < fps <= 1000:
        raise LsfError(f"{path}: `fps` is {fps}, expected a positive frame rate such as 25")
    return fps


def save_motion(path: str | Path, motion_file: MotionFile) -> None:
    """Write a motion .npz atomically (a temp file in the same folder, renamed on success)."""
    with atomic_path(path, "the motion file") as tmp, open(tmp, "wb") as fh:
        np.savez(fh, motion=motion_file.motion, shape=motion_file.shape, fps=motion_file.fps)


class MotionExporter(Exporter):
    """motion.npz: every sample (K, T, 53), the shape and the frame rate.

    Args:
        role, name: its role and file name (another motion than the exported one, e.g. a
            reference, can be written under another name).
        motion: the motion to write instead of the exported one.
    """

    def __init__(
        self, role: str = "motion", name: str = "motion.npz", motion: MotionFile | None = None
    ) -> None:
        self.role, self.name, self.motion = role, name, motion

    def outputs(self) -> dict[str, str]:
        return {self.role: self.name}

    def write(self, item: ExportInput, folder: Path) -> None:
        save_motion(folder / self.name, self.motion or item.motion)
