"""A software z-buffer rasterizer compiled with numba.

`rasterize` turns projected triangles into per-pixel fragments: which triangle is visible at each
pixel centre and its depth. Shading is a separate pass (`lsf_animation.render.renderer`) that
computes the perspective-correct barycentric weights of the visible triangle only, so each pixel
is shaded once however deep the overdraw.

The kernels are single-threaded and release the GIL, so several frames can be rendered at once
from Python threads (`MeshRenderer.render_sequence` does). Coverage follows the top-left rule: a
pixel centre exactly on an edge shared by two triangles belongs to exactly one of them.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

_warned: list[bool] = []  # warn about the missing cache once, not once per kernel


def jit(fastmath: bool = False) -> Callable[[Callable[..., Any]], Any]:
    """`numba.njit(cache=True, nogil=True)`, without the on-disk cache where none can be made.

    numba caches compiled code next to the source (or in NUMBA_CACHE_DIR / a per-user directory);
    when none of those is writable (a read-only install) it refuses to cache, and we compile at
    first use instead, with a warning rather than an error.
    """

    def wrap(fn: Callable[..., Any]) -> Any:
        try:
            return numba.njit(cache=True, nogil=True, fastmath=fastmath)(fn)
        except (RuntimeError, OSError) as exc:
            if not _warned:
                _warned.append(True)
                warnings.warn(
                    f"numba cannot cache {fn.__name__} on disk ({exc}); compiling the renderer's "
                    "kernels in memory at first use instead (set NUMBA_CACHE_DIR to a writable "
                    "folder to cache them)",
                    RuntimeWarning,
                    stacklevel=2,
                )
            return numba.njit(cache=False, nogil=True, fastmath=fastmath)(fn)

    return wrap


@dataclass
class Fragments:
    """The visible surface at each pixel centre.

    Attributes:
        triangle: (H, W) int32 index of the visible triangle, -1 where nothing is drawn.
        inv_depth: (H, W) float32 1 / depth (1/m) of the visible point, 0 where nothing is drawn.
        coef: (F, 15) float64 per-triangle interpolation planes (see `_raster`), from
            which `barycentrics` gives the weights at a pixel.
    """

    triangle: np.ndarray
    inv_depth: np.ndarray
    coef: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        """(H, W) bool: where a triangle is visible."""
        return self.triangle >= 0

    @property
    def bary(self) -> np.ndarray:
        """(H, W, 3) float64 perspective-correct barycentric weights of the visible triangle's
        corners (zero where nothing is drawn)."""
        out = np.empty((*self.triangle.shape, 3), np.float64)
        _resolve_barycentrics(self.coef, self.triangle, out)
        return out


@jit()
def _inside(l_val, a, b):  # pragma: no cover
    """Top-left rule: strictly inside, or exactly on a left or top edge."""
    return l_val > 0.0 or (l_val == 0.0 and (a > 0.0 or (a == 0.0 and b > 0.0)))


@jit()
def _raster(screen, faces, cull_backfaces, coef, tri_out, depth_out):  # pragma: no cover
    """Z-buffer every triangle into tri_out / depth_out, filling coef on the way.

    coef[t] = (A0, B0, C0, A1, B1, C1, A2, B2, C2, w0, w1, w2, Aw, Bw, Cw), with screen-space
    barycentric l_i(px, py) = A_i px + B_i py + C_i at pixel centre (px, py), w_i = 1 / depth at
    corner i and 1 / depth(px, py) = Aw px + Bw py + Cw (affine on screen; larger = nearer).
    """
    height, width = tri_out.shape
    for y in range(height):
        for x in range(width):
            tri_out[y, x] = -1
            depth_out[y, x] = 0.0
    for t in range(faces.shape[0]):
        i0, i1, i2 = faces[t, 0], faces[t, 1], faces[t, 2]
        x0, y0, w0 = screen[i0, 0], screen[i0, 1], screen[i0, 2]
        x1, y1, w1 = screen[i1, 0], screen[i1, 1], screen[i1, 2]
        x2, y2, w2 = screen[i2, 0], screen[i2, 1], screen[i2, 2]
        if w0 <= 0.0 or w1 <= 0.0 or w2 <= 0.0:
            continue  # touches the near plane or lies behind the camera
        area2 = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
        # y points down on screen, so a counter-clockwise (front-facing) triangle has area2 < 0
        if area2 == 0.0 or (cull_backfaces and area2 > 0.0):
            continue
        bx0 = max(0, int(np.ceil(min(x0, x1, x2) - 0.5)))
        bx1 = min(width - 1, int(np.floor(max(x0, x1, x2) - 0.5)))
        by0 = max(0, int(np.ceil(min(y0, y1, y2) - 0.5)))
        by1 = min(height - 1, int(np.floor(max(y0, y1, y2) - 0.5)))
        inv = 1.0 / area2
        a0, b0 = -(y2 - y1) * inv, (x2 - x1) * inv
        c0 = ((y2 - y1) * x1 - (x2 - x1) * y1) * inv
        a1, b1 = -(y0 - y2) * inv, (x0 - x2) * inv
        c1 = ((y0 - y2) * x2 - (x0 - x2) * y2) * inv
        a2, b2 = -(y1 - y0) * inv, (x1 - x0) * inv
        c2 = ((y1 - y0) * x0 - (x1 - x0) * y0) * inv
        aw = a0 * w0 + a1 * w1 + a2 * w2
        bw = b0 * w0 + b1 * w1 + b2 * w2
        cw = c0 * w0 + c1 * w1 + c2 * w2
        coef[t, 0], coef[t, 1], coef[t, 2] = a0, b0, c0
        coef[t, 3], coef[t, 4], coef[t, 5] = a1, b1, c1
        coef[t, 6], coef[t, 7], coef[t, 8] = a2, b2, c2
        coef[t, 9], coef[t, 10], coef[t, 11] = w0, w1, w2
        coef[t, 12], coef[t, 13], coef[t, 14] = aw, bw, cw
        for y in range(by0, by1 + 1):
            py = y + 0.5
            r0 = b0 * py + c0
            r1 = b1 * py + c1
            r2 = b2 * py + c2
            rw = bw * py + cw
            for x in range(bx0, bx1 + 1):
                px = x + 0.5
                l0 = a0 * px + r0
                l1 = a1 * px + r1
                l2 = a2 * px + r2
                if l0 < 0.0 or l1 < 0.0 or l2 < 0.0:
                    continue
                if not (_inside(l0, a0, b0) and _inside(l1, a1, b1) and _inside(l2, a2, b2)):
                    continue
                iw = aw * px + rw
                if iw > depth_out[y, x]:
                    depth_out[y, x] = iw
                    tri_out[y, x] = t


@jit()
def barycentrics(coef, t, x, y):  # pragma: no cover
    """Perspective-correct barycentric weights of triangle t at the centre of pixel (x, y)."""
    px, py = x + 0.5, y + 0.5
    l0 = (coef[t, 0] * px + coef[t, 1] * py + coef[t, 2]) * coef[t, 9]
    l1 = (coef[t, 3] * px + coef[t, 4] * py + coef[t, 5]) * coef[t, 10]
    l2 = (coef[t, 6] * px + coef[t, 7] * py + coef[t, 8]) * coef[t, 11]
    s = 1.0 / (l0 + l1 + l2)
    return l0 * s, l1 * s, l2 * s


@jit()
def _resolve_barycentrics(coef, tri, out):  # pragma: no cover
    for y in range(tri.shape[0]):
        for x in range(tri.shape[1]):
            t = tri[y, x]
            if t < 0:
                out[y, x, 0] = out[y, x, 1] = out[y, x, 2] = 0.0
            else:
                out[y, x, 0], out[y, x, 1], out[y, x, 2] = barycentrics(coef, t, x, y)


def rasterize(
    screen: np.ndarray,
    faces: np.ndarray,
    width: int,
    height: int,
    cull_backfaces: bool = False,
    out: Fragments | None = None,
) -> Fragments:
    """Z-buffer rasterization of a triangle mesh (one thread; releases the GIL).

    Args:
        screen: (V, 3) projected vertices: pixel x, pixel y (top-left origin, y down), 1 / depth
            (see `Camera.project`); triangles with a corner at 1 / depth <= 0 are skipped.
        faces: (F, 3) vertex indices.
        width, height: image size in pixels.
        cull_backfaces: skip triangles whose corners appear clockwise on screen (FLAME's faces are
            counter-clockwise seen from outside).
        out: buffers to reuse (must match the image size and triangle count).

    Returns:
        The visible triangle and 1 / depth at every pixel centre (and what gives the barycentric
        weights there).
    """
    screen = np.ascontiguousarray(screen, dtype=np.float64)
    faces = np.ascontiguousarray(faces, dtype=np.int32)
    num_faces = faces.shape[0]
    if out is None or out.triangle.shape != (height, width) or out.coef.shape[0] != num_faces:
        out = Fragments(
            triangle=np.empty((height, width), np.int32),
            inv_depth=np.empty((height, width), np.float32),
            coef=np.empty((num_faces, 15), np.float64),
        )
    _raster(screen, faces, cull_backfaces, out.coef, out.triangle, out.inv_depth)
    return out
