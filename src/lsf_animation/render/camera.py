"""A perspective pinhole camera in FLAME coordinates (metres, +y up, +z toward the viewer).

The camera looks along its own -z axis (OpenGL convention). Image coordinates are pixels with the
origin at the top-left corner of the image, x to the right and y down; pixel (i, j) covers
[j, j + 1) x [i, i + 1) and is sampled at its centre.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from lsf_animation.errors import LsfError


@dataclass(frozen=True)
class Camera:
    """Where the camera is, what it looks at, and how wide it sees.

    Attributes:
        eye: (3,) camera position, metres.
        target: (3,) point the camera looks at, metres.
        up: (3,) approximate up direction (made orthogonal to the viewing direction).
        fov_y_deg: vertical field of view, degrees.
        near: points closer than this to the camera (metres, along the view axis) are not drawn.
    """

    eye: tuple[float, float, float] = (0.0, 0.0, 1.0)
    target: tuple[float, float, float] = (0.0, 0.0, 0.0)
    up: tuple[float, float, float] = (0.0, 1.0, 0.0)
    fov_y_deg: float = 20.0
    near: float = 1e-3

    def __post_init__(self) -> None:
        if not 0.0 < self.fov_y_deg < 180.0:
            raise LsfError(f"Camera fov_y_deg must be in (0, 180) degrees, got {self.fov_y_deg}")
        forward = np.asarray(self.target, float) - np.asarray(self.eye, float)
        if np.linalg.norm(forward) == 0.0:
            raise LsfError("Camera eye and target are the same point; move the eye away")
        if np.linalg.norm(np.cross(forward, np.asarray(self.up, float))) == 0.0:
            raise LsfError("Camera up is parallel to the viewing direction; choose another up")

    @classmethod
    def framing(
        cls,
        vertices: np.ndarray,
        width: int,
        height: int,
        fov_y_deg: float = 20.0,
        margin: float = 1.12,
    ) -> Camera:
        """A camera on the +z side that sees every vertex, centred on their bounding box.

        Args:
            vertices: (V, 3) or (T, V, 3) positions, metres; a sequence is framed as a whole, so
                one camera serves every frame.
            width, height: image size in pixels (sets the aspect ratio).
            fov_y_deg: vertical field of view, degrees (small = little perspective distortion).
            margin: > 1 leaves that much room around the bounding box.

        Returns:
            A camera at the same height as the box centre, looking along -z.
        """
        pts = np.asarray(vertices).reshape(-1, 3)
        if pts.shape[0] == 0 or not np.all(np.isfinite(pts)):
            raise LsfError("Camera.framing needs a non-empty set of finite vertices")
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        return cls.framing_box(lo, hi, width, height, fov_y_deg, margin)

    @classmethod
    def framing_box(
        cls,
        lo: np.ndarray,
        hi: np.ndarray,
        width: int,
        height: int,
        fov_y_deg: float = 20.0,
        margin: float = 1.12,
    ) -> Camera:
        """`framing` of the axis-aligned box [lo, hi] (each (3,), metres): the same camera as
        framing every vertex inside it, for sequences seen chunk by chunk (`vertex_bounds`)."""
        lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
        if lo.shape != (3,) or hi.shape != (3,) or not np.all(np.isfinite([lo, hi])):
            raise LsfError("Camera.framing needs a non-empty set of finite vertices")
        if width <= 0 or height <= 0:
            raise LsfError(f"image size must be positive, got {width}x{height}")
        centre = 0.5 * (lo + hi)
        half = np.maximum(0.5 * (hi - lo), 1e-6)
        tan_y = math.tan(math.radians(fov_y_deg) / 2.0)
        tan_x = tan_y * width / height
        # Distance from the front of the box at which its front face fits with the margin; the
        # parts further back look smaller under perspective, so they fit too.
        dist = margin * max(half[0] / tan_x, half[1] / tan_y)
        eye = (float(centre[0]), float(centre[1]), float(hi[2] + dist))
        target = (float(centre[0]), float(centre[1]), float(centre[2]))
        near = max(1e-4, 0.01 * dist)
        return cls(eye=eye, target=target, fov_y_deg=fov_y_deg, near=near)

    def view_matrix(self) -> np.ndarray:
        """(4, 4) world-to-camera transform (camera looks along -z, +y up)."""
        eye = np.asarray(self.eye, np.float64)
        forward = np.asarray(self.target, np.float64) - eye
        forward /= np.linalg.norm(forward)
        right = np.cross(forward, np.asarray(self.up, np.float64))
        right /= np.linalg.norm(right)
        true_up = np.cross(right, forward)
        rot = np.stack([right, true_up, -forward])
        view = np.eye(4)
        view[:3, :3] = rot
        view[:3, 3] = -rot @ eye
        return view

    def to_camera(self, vertices: np.ndarray) -> np.ndarray:
        """(..., 3) world points -> (..., 3) float32 camera-space points (visible: z < 0)."""
        view = self.view_matrix()
        pts = np.asarray(vertices, dtype=np.float64)
        return (pts @ view[:3, :3].T + view[:3, 3]).astype(np.float32)

    def focal_px(self, height: int) -> float:
        """Focal length in pixels for an image `height` pixels tall."""
        return 0.5 * height / math.tan(math.radians(self.fov_y_deg) / 2.0)

    def project(self, cam_points: np.ndarray, width: int, height: int) -> np.ndarray:
        """Camera-space points -> screen coordinates.

        Args:
            cam_points: (N, 3) camera-space points (from `to_camera`).
            width, height: image size in pixels.

        Returns:
            (N, 3) float64: pixel x, pixel y (top-left origin, y down) and 1 / depth (1/m); the
            last is <= 0 for points at or behind the camera.
        """
        pts = np.asarray(cam_points, dtype=np.float64)
        depth = -pts[:, 2]
        inv = np.where(depth > 0.0, 1.0 / np.where(depth > 0.0, depth, 1.0), 0.0)
        f = self.focal_px(height)
        out = np.empty((pts.shape[0], 3), np.float64)
        out[:, 0] = 0.5 * width + f * pts[:, 0] * inv
        out[:, 1] = 0.5 * height - f * pts[:, 1] * inv
        out[:, 2] = np.where(depth > self.near, inv, -1.0)
        return out


def vertex_bounds(chunks: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray, int]:
    """The bounding box of a vertex sequence given in chunks of frames.

    Args:
        chunks: (t, V, 3) positions in metres, each chunk checked finite.

    Returns:
        lo (3,), hi (3,) float64 corners and the number of frames seen.
    """
    lo, hi, frames = np.full(3, np.inf), np.full(3, -np.inf), 0
    for chunk in chunks:
        pts = np.asarray(chunk)
        if pts.ndim != 3 or pts.shape[-1] != 3:
            raise LsfError(f"vertices must be (T, V, 3), got shape {pts.shape}")
        if not np.all(np.isfinite(pts)):
            raise LsfError("vertices contain NaN or infinite values; cannot render them")
        if pts.size:
            flat = pts.reshape(-1, 3)
            lo, hi = np.minimum(lo, flat.min(axis=0)), np.maximum(hi, flat.max(axis=0))
        frames += pts.shape[0]
    return lo, hi, frames
