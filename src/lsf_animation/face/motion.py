"""A face's motion as one validated value: K samples of (T, 53) frames, the face's shape, the rate.

`make_motion_file` checks arrays from outside (a file, a caller) once; code that makes motion
itself (the `Animator`) builds `MotionFile` directly. `motion_vertices` turns a sample into
vertices on a face model.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from lsf_animation.constants import FPS, MOTION_DIM, NUM_EXPRESSION, NUM_SHAPE
from lsf_animation.errors import LsfError
from lsf_animation.face.flame import FlameLayer, motion_to_vertices
from lsf_animation.face.identity_files import check_real_numbers, check_shape
from lsf_animation.face.model import FaceModel

VERTEX_CHUNK_FRAMES = 256
"""Frames of vertices computed at a time when a sequence is streamed: 15 MB of vertices on
FLAME, 18 MB on the built-in face, and a few times that while they are computed and used."""


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

    @property
    def num_samples(self) -> int:
        return int(self.motion.shape[0])

    @property
    def num_frames(self) -> int:
        return int(self.motion.shape[1])

    def check_sample(self, sample: int) -> None:
        """LsfError unless `sample` is one of the K samples."""
        if not 0 <= sample < self.num_samples:
            raise LsfError(
                f"sample {sample} does not exist: the motion holds {self.num_samples} sample(s)"
            )


def _as_samples(motion: np.ndarray, source: str) -> np.ndarray:
    check_real_numbers(motion, f"{source}: `motion`")
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


def motion_vertices(face: FaceModel, motion_file: MotionFile, sample: int = 0) -> np.ndarray:
    """(T, V, 3) float32 vertices in metres of one motion sample on a face."""
    motion_file.check_sample(sample)
    return motion_to_vertices(FlameLayer(face), motion_file.motion[sample], motion_file.shape)


def vertex_chunks(
    face: FaceModel,
    motion_file: MotionFile,
    sample: int = 0,
    frames: int | None = None,
    layer: FlameLayer | None = None,
) -> Iterator[np.ndarray]:
    """The vertices of one sample, `frames` (default `VERTEX_CHUNK_FRAMES`) frames at a time:
    (t <= frames, V, 3) float32 each, in order, computed on demand (memory bounded whatever the
    length). `layer`: the face's `FlameLayer`, when the caller keeps one for several passes."""
    motion_file.check_sample(sample)
    frames = frames or VERTEX_CHUNK_FRAMES
    layer = layer or FlameLayer(face)
    for start in range(0, motion_file.num_frames, frames):
        part = motion_file.motion[sample, start : start + frames]
        yield motion_to_vertices(layer, part, motion_file.shape)
