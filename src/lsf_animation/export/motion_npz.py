"""The motion file: an .npz with `motion` (T, 53) or (K, T, 53), `shape` (300,) and `fps`."""

from __future__ import annotations

import os
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lsf_animation.constants import FPS, MOTION_DIM, NUM_EXPRESSION, NUM_SHAPE
from lsf_animation.errors import LsfError
from lsf_animation.face.identity_files import check_shape


@dataclass(frozen=True)
class MotionFile:
    """Motion samples for one face.

    Attributes:
        motion: (K, T, 53) float32: K samples of T frames, expression 50 + jaw 3 (rad).
        shape: (300,) float32 FLAME-style shape coefficients of the face.
        fps: frames per second (25).
    """

    motion: np.ndarray
    shape: np.ndarray
    fps: float = float(FPS)


def _as_samples(motion: np.ndarray, source: str) -> np.ndarray:
    if motion.ndim == 2:
        motion = motion[None]
    if motion.ndim != 3 or motion.shape[-1] != MOTION_DIM:
        raise LsfError(
            f"{source}: `motion` has shape {tuple(motion.shape)}, expected (T, {MOTION_DIM}) or "
            f"(K, T, {MOTION_DIM}): {NUM_EXPRESSION} expression coefficients + 3 jaw values "
            "per frame"
        )
    if motion.shape[1] == 0:
        raise LsfError(f"{source}: `motion` has no frames")
    if not np.isfinite(motion).all():
        raise LsfError(f"{source}: `motion` contains NaN or inf values")
    return motion.astype(np.float32, copy=False)


def _as_shape(shape: np.ndarray | None, source: str) -> np.ndarray:
    return np.zeros(NUM_SHAPE, np.float32) if shape is None else check_shape(shape, source)


def make_motion_file(
    motion: np.ndarray,
    shape: np.ndarray | None = None,
    fps: float = float(FPS),
    source: str = "motion",
) -> MotionFile:
    """Validate arrays into a MotionFile (motion (T,53) or (K,T,53); shape (<=300,) or None)."""
    return MotionFile(_as_samples(np.asarray(motion), source), _as_shape(shape, source), float(fps))


def load_motion(path: str | Path) -> MotionFile:
    """Read a motion .npz, validating keys, shapes and values; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise LsfError(f"motion file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise LsfError(f"{path}: not a readable .npz file ({err})") from err
    if "motion" not in arrays:
        raise LsfError(f"{path}: no `motion` array (found: {sorted(arrays) or 'nothing'})")
    fps = float(arrays["fps"]) if "fps" in arrays else float(FPS)
    if not 0 < fps <= 1000:
        raise LsfError(f"{path}: `fps` is {fps}, expected a positive frame rate such as 25")
    return make_motion_file(arrays["motion"], arrays.get("shape"), fps, source=str(path))


def save_motion(path: str | Path, motion_file: MotionFile) -> None:
    """Write a motion .npz atomically (a temp file in the same folder, renamed on success)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, motion=motion_file.motion, shape=motion_file.shape, fps=motion_file.fps)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
