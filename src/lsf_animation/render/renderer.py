"""Shaded images of a triangle mesh on the CPU: vertex normals, z-buffer rasterization, lighting.

Lighting is computed in camera space (the lights move with the camera, like a portrait studio):
a hemisphere ambient term, a key light from the upper left and a weaker fill from the right, each
with Lambert diffuse and a soft Blinn-Phong highlight, on per-vertex albedo interpolated with
perspective-correct barycentrics. Shading happens in linear RGB; the result is sRGB-encoded.
One module for one concept (the renderer and its numba kernels), hence its length.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from lsf_animation.errors import LsfError
from lsf_animation.render.camera import Camera
from lsf_animation.render.rasterizer import jit, rasterize

SKIN_TONE = (0.86, 0.70, 0.60)  # sRGB albedo used when a face model has no vertex colours
BACKGROUND = (0.17, 0.18, 0.21)  # sRGB


@dataclass(frozen=True)
class Lighting:
    """Light rig, camera space (+x right, +y up, +z toward the camera); intensities are linear.

    Attributes:
        key_dir, fill_dir: directions from the surface toward each light (normalized on use).
        key, fill: diffuse intensities.
        key_specular, fill_specular: Blinn-Phong highlight intensities.
        shininess: Blinn-Phong exponent (lower = softer highlight).
        ambient_sky, ambient_ground: ambient light on surfaces facing up / down.
        backface: albedo factor for triangles seen from behind (inside of the mouth).
    """

    key_dir: tuple[float, float, float] = (-0.45, 0.5, 0.75)
    fill_dir: tuple[float, float, float] = (0.7, 0.05, 0.6)
    key: float = 0.85
    fill: float = 0.3
    key_specular: float = 0.25
    fill_specular: float = 0.04
    shininess: float = 30.0
    ambient_sky: float = 0.2
    ambient_ground: float = 0.07
    backface: float = 0.35

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """-> (dirs (2, 3) float32 unit vectors, params (9,) float64) for the shading kernel."""
        dirs = np.array([self.key_dir, self.fill_dir], np.float64)
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        params = np.array(
            [
                self.key,
                self.fill,
                self.key_specular,
                self.fill_specular,
                self.shininess,
                self.ambient_sky,
                self.ambient_ground,
                self.backface,
                # cos(angle) under which cos ** shininess < 1/2048: no visible highlight
                (1.0 / 2048.0) ** (1.0 / max(self.shininess, 1e-3)),
            ],
            np.float64,
        )
        return dirs.astype(np.float32), params


FLAT_LIGHTING = Lighting(
    key=0.45, fill=0.15, key_specular=0.0, fill_specular=0.0, ambient_sky=0.55, ambient_ground=0.45
)
"""Mostly ambient light, for colour-coded meshes (heatmaps) whose colours must stay readable."""


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    """sRGB values in [0, 1] -> linear RGB (the standard piecewise curve)."""
    c = np.clip(np.asarray(c, np.float64), 0.0, 1.0)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(c: np.ndarray) -> np.ndarray:
    """Linear RGB in [0, 1] -> sRGB values in [0, 1]."""
    c = np.clip(np.asarray(c, np.float64), 0.0, 1.0)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * c ** (1.0 / 2.4) - 0.055)


_LUT_SIZE = 4096
_SRGB_LUT = np.round(255.0 * linear_to_srgb(np.linspace(0.0, 1.0, _LUT_SIZE))).astype(np.uint8)


class VertexNormals:
    """Area-weighted vertex normals of a fixed triangle topology.

    A vertex's normal is the normalized sum of the cross products of its triangles' edges (their
    length is twice the area, hence the weighting); the sum is a precomputed sparse (V, F) matrix.
    """

    def __init__(self, faces: np.ndarray, num_vertices: int) -> None:
        faces = np.asarray(faces, np.int64)
        num_faces = faces.shape[0]
        rows = faces.ravel()
        cols = np.repeat(np.arange(num_faces), 3)
        data = np.ones(rows.shape[0], np.float32)
        self.faces = faces
        self.incidence = sp.csr_matrix((data, (rows, cols)), shape=(num_vertices, num_faces))

    def face_normals(self, vertices: np.ndarray) -> np.ndarray:
        """(V, 3) -> (F, 3) unnormalized face normals (length = twice the triangle area)."""
        v0 = vertices[self.faces[:, 0]]
        return np.cross(vertices[self.faces[:, 1]] - v0, vertices[self.faces[:, 2]] - v0)

    def __call__(self, vertices: np.ndarray, face_normals: np.ndarray | None = None) -> np.ndarray:
        """(V, 3) positions -> (V, 3) float32 unit normals ((0, 0, 1) for unused vertices)."""
        if face_normals is None:
            face_normals = self.face_normals(vertices)
        normals = np.asarray(self.incidence @ face_normals, np.float32)
        length = np.sqrt(np.einsum("ij,ij->i", normals, normals))
        bad = length == 0.0
        normals /= np.where(bad, 1.0, length)[:, None]
        normals[bad] = (0.0, 0.0, 1.0)
        return normals


@jit(fastmath=True)
def _light(nx, ny, nz, vx, vy, vz, dirs, params):  # pragma: no cover
    """Diffuse factor and specular term at a point with unit normal n and unit view vector v."""
    amb = params[6] + (params[5] - params[6]) * (0.5 + 0.5 * ny)
    diffuse = amb
    spec = 0.0
    for k in range(2):
        lx, ly, lz = dirs[k, 0], dirs[k, 1], dirs[k, 2]
        ndl = nx * lx + ny * ly + nz * lz
        if ndl > 0.0:
            diffuse += params[k] * ndl
            hx, hy, hz = lx + vx, ly + vy, lz + vz
            dot = nx * hx + ny * hy + nz * hz
            hh = hx * hx + hy * hy + hz * hz
            # below cos = params[8] the highlight is invisible: skip sqrt and pow (most pixels)
            if dot > 0.0 and dot * dot > params[8] * params[8] * hh:
                spec += params[2 + k] * (dot / np.sqrt(hh)) ** params[4]
    return diffuse, spec


@jit(fastmath=True)
def _shade(
    tri, coef, faces, front, positions, normals, albedo, dirs, params, background, out
):  # pragma: no cover
    """Linear RGB of every pixel from its fragment; out is (H, W, 3) float32."""
    height, width = tri.shape
    for y in range(height):
        for x in range(width):
            t = tri[y, x]
            if t < 0:
                out[y, x, 0] = background[0]
                out[y, x, 1] = background[1]
                out[y, x, 2] = background[2]
                continue
            i0, i1, i2 = faces[t, 0], faces[t, 1], faces[t, 2]
            # perspective-correct barycentrics from the rasterizer's planes (as in
            # rasterizer.barycentrics, written out here because numba's on-disk cache would not
            # notice a change to a function from another file)
            sx, sy = x + 0.5, y + 0.5
            b0 = (coef[t, 0] * sx + coef[t, 1] * sy + coef[t, 2]) * coef[t, 9]
            b1 = (coef[t, 3] * sx + coef[t, 4] * sy + coef[t, 5]) * coef[t, 10]
            b2 = (coef[t, 6] * sx + coef[t, 7] * sy + coef[t, 8]) * coef[t, 11]
            inv = 1.0 / (b0 + b1 + b2)
            b0, b1, b2 = b0 * inv, b1 * inv, b2 * inv
            nx = b0 * normals[i0, 0] + b1 * normals[i1, 0] + b2 * normals[i2, 0]
            ny = b0 * normals[i0, 1] + b1 * normals[i1, 1] + b2 * normals[i2, 1]
            nz = b0 * normals[i0, 2] + b1 * normals[i1, 2] + b2 * normals[i2, 2]
            nn = np.sqrt(nx * nx + ny * ny + nz * nz)
            if nn > 0.0:
                nx, ny, nz = nx / nn, ny / nn, nz / nn
            factor = 1.0
            if not front[t]:
                nx, ny, nz = -nx, -ny, -nz
                factor = params[7]
            px = b0 * positions[i0, 0] + b1 * positions[i1, 0] + b2 * positions[i2, 0]
            py = b0 * positions[i0, 1] + b1 * positions[i1, 1] + b2 * positions[i2, 1]
            pz = b0 * positions[i0, 2] + b1 * positions[i1, 2] + b2 * positions[i2, 2]
            pn = np.sqrt(px * px + py * py + pz * pz)
            if pn > 0.0:
                vx, vy, vz = -px / pn, -py / pn, -pz / pn
            else:
                vx, vy, vz = 0.0, 0.0, 1.0
            diffuse, spec = _light(nx, ny, nz, vx, vy, vz, dirs, params)
            diffuse *= factor
            spec *= factor
            for c in range(3):
                a = b0 * albedo[i0, c] + b1 * albedo[i1, c] + b2 * albedo[i2, c]
                out[y, x, c] = a * diffuse + spec


@jit()
def _encode(linear, factor, lut, out):  # pragma: no cover
    """Box-downsample linear RGB by `factor` and sRGB-encode to uint8 through `lut`."""
    height, width = out.shape[0], out.shape[1]
    scale = 1.0 / (factor * factor)
    top = lut.shape[0] - 1
    if factor == 1:
        for y in range(height):
            for x in range(width):
                for c in range(3):
                    v = linear[y, x, c]
                    if v <= 0.0:
                        out[y, x, c] = lut[0]
                    elif v >= 1.0:
                        out[y, x, c] = lut[top]
                    else:
                        out[y, x, c] = lut[int(v * top + 0.5)]
        return
    for y in range(height):
        for x in range(width):
            for c in range(3):
                acc = 0.0
                for dy in range(factor):
                    for dx in range(factor):
                        acc += linear[y * factor + dy, x * factor + dx, c]
                v = acc * scale
                if v <= 0.0:
                    out[y, x, c] = lut[0]
                elif v >= 1.0:
                    out[y, x, c] = lut[top]
                else:
                    out[y, x, c] = lut[int(v * top + 0.5)]


class MeshRenderer:
    """Renders shaded frames of meshes that share one triangle topology.

    Args:
        faces: (F, 3) vertex indices, counter-clockwise seen from outside (FLAME's convention).
        vertex_colors: (V, 3) sRGB albedo in [0, 1], or None for a uniform skin tone.
        camera: a fixed camera, or None to frame each `render` call's mesh (and each
            `render_sequence` call's whole sequence) with `Camera.framing`.
        width, height: output image size in pixels.
        supersample: render at this many times the resolution per axis and average (anti-aliasing;
            2 costs about 4-6x the time).
        lighting: the light rig.
        background: sRGB background colour in [0, 1].
        cull_backfaces: skip triangles facing away from the camera (faster, but hides the inside
            of an open mouth, which FLAME leaves open).
        threads: frames `render_sequence` renders at once, each on its own thread (the kernels
            release the GIL); None = the number of CPU cores this process may use.
    """

    def __init__(
        self,
        faces: np.ndarray,
        vertex_colors: np.ndarray | None = None,
        camera: Camera | None = None,
        width: int = 512,
        height: int = 512,
        supersample: int = 1,
        lighting: Lighting | None = None,
        background: tuple[float, float, float] = BACKGROUND,
        cull_backfaces: bool = False,
        threads: int | None = None,
    ) -> None:
        faces = np.asarray(faces)
        if faces.ndim != 2 or faces.shape[1] != 3 or faces.shape[0] == 0:
            raise LsfError(f"faces must be a non-empty (F, 3) index array, got {faces.shape}")
        if width <= 0 or height <= 0:
            raise LsfError(f"image size must be positive, got {width}x{height}")
        if supersample < 1:
            raise LsfError(f"supersample must be >= 1, got {supersample}")
        if threads is not None and threads < 1:
            raise LsfError(f"threads must be >= 1, got {threads}")
        self.faces = np.ascontiguousarray(faces, np.int32)
        self.num_vertices = int(self.faces.max()) + 1
        if vertex_colors is not None:
            vertex_colors = np.asarray(vertex_colors, np.float64)
            if vertex_colors.ndim != 2 or vertex_colors.shape[1] != 3:
                raise LsfError(f"vertex_colors must be (V, 3), got {vertex_colors.shape}")
            if vertex_colors.shape[0] < self.num_vertices:
                raise LsfError(
                    f"vertex_colors has {vertex_colors.shape[0]} rows but faces use "
                    f"{self.num_vertices} vertices"
                )
            self.num_vertices = vertex_colors.shape[0]
        self.vertex_colors = vertex_colors
        self.camera = camera
        self.width, self.height, self.supersample = int(width), int(height), int(supersample)
        self.lighting = lighting or Lighting()
        self.cull_backfaces = cull_backfaces
        self._dirs, self._params = self.lighting.arrays()
        self._background = srgb_to_linear(np.asarray(background)).astype(np.float32)
        self.threads = threads if threads is not None else available_cores()
        self._normals: VertexNormals | None = None
        self._albedo: np.ndarray | None = None
        self._buffers = threading.local()  # per-thread frame buffers, reused between frames

    def _setup(self, num_vertices: int) -> None:
        if self._normals is not None and self._normals.incidence.shape[0] == num_vertices:
            return
        if num_vertices < int(self.faces.max()) + 1:
            raise LsfError(
                f"vertices has {num_vertices} rows but faces use {int(self.faces.max()) + 1}"
            )
        if self.vertex_colors is not None and self.vertex_colors.shape[0] != num_vertices:
            raise LsfError(
                f"vertices has {num_vertices} rows but vertex_colors has "
                f"{self.vertex_colors.shape[0]}; use the colours of the same face model"
            )
        self._normals = VertexNormals(self.faces, num_vertices)
        colors = (
            self.vertex_colors
            if self.vertex_colors is not None
            else np.tile(np.asarray(SKIN_TONE), (num_vertices, 1))
        )
        self._albedo = np.ascontiguousarray(srgb_to_linear(colors), np.float32)

    def _check(self, vertices: np.ndarray, ndim: int) -> np.ndarray:
        vertices = np.asarray(vertices)
        if vertices.ndim != ndim or vertices.shape[-1] != 3:
            want = "(V, 3)" if ndim == 2 else "(T, V, 3)"
            raise LsfError(f"vertices must be {want}, got shape {vertices.shape}")
        if not np.all(np.isfinite(vertices)):
            raise LsfError("vertices contain NaN or infinite values; cannot render them")
        return vertices

    def render(self, vertices: np.ndarray, camera: Camera | None = None) -> np.ndarray:
        """One frame.

        Args:
            vertices: (V, 3) positions, metres.
            camera: overrides the renderer's camera for this frame.

        Returns:
            (height, width, 3) uint8 sRGB image.
        """
        vertices = self._check(vertices, 2)
        cam = camera or self.camera or Camera.framing(vertices, self.width, self.height)
        return self._render(vertices, cam)

    def render_sequence(
        self, vertices: np.ndarray, camera: Camera | None = None
    ) -> Iterator[np.ndarray]:
        """Frames of a sequence, one at a time (lazily, so they can be streamed to a video).

        Args:
            vertices: (T, V, 3) positions, metres.
            camera: overrides the renderer's camera; with neither, one camera frames the whole
                sequence so the head does not jump between frames.

        Yields:
            (height, width, 3) uint8 sRGB images, in order. Each is a new array. With
            `threads` > 1 the next few frames are rendered ahead on worker threads.
        """
        vertices = self._check(vertices, 3)
        if len(vertices) == 0:
            return
        cam = camera or self.camera or Camera.framing(vertices, self.width, self.height)
        yield from self.render_chunks([vertices], cam)

    def render_chunks(self, chunks: Iterable[np.ndarray], camera: Camera) -> Iterator[np.ndarray]:
        """Frames of a sequence given in chunks of frames, one camera for all of them.

        Args:
            chunks: (t, V, 3) positions in metres, consumed one at a time (a generator of chunks
                keeps memory bounded whatever the sequence's length).
            camera: the camera of every frame (e.g. `Camera.framing_box` of the whole sequence).

        Yields:
            (height, width, 3) uint8 sRGB images, in order, as `render_sequence`.
        """
        frames = (frame for chunk in chunks for frame in self._prepared(chunk))
        if self.threads == 1:
            for frame in frames:
                yield self._render(frame, camera)
            return
        pool = ThreadPoolExecutor(self.threads, thread_name_prefix="render")
        try:
            pending: deque[Future[np.ndarray]] = deque()
            for frame in frames:
                pending.append(pool.submit(self._render, frame, camera))
                if len(pending) > 2 * self.threads:  # bounded look-ahead: little memory
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _prepared(self, chunk: np.ndarray) -> np.ndarray:
        """A checked chunk, with the per-topology buffers set up before threads share them."""
        chunk = self._check(chunk, 3)
        self._setup(chunk.shape[1])
        return chunk

    def _render(self, vertices: np.ndarray, camera: Camera) -> np.ndarray:
        self._setup(vertices.shape[0])
        assert self._normals is not None and self._albedo is not None
        s = self.supersample
        width, height = self.width * s, self.height * s
        cam_pts = camera.to_camera(vertices)
        face_normals = self._normals.face_normals(cam_pts)
        normals = self._normals(cam_pts, face_normals)
        # a triangle is seen from the front when its normal points toward the camera (at origin)
        front = np.einsum("ij,ij->i", face_normals, cam_pts[self.faces[:, 0]]) < 0.0
        screen = camera.project(cam_pts, width, height)
        buffers = self._buffers
        frags = rasterize(
            screen, self.faces, width, height, self.cull_backfaces, getattr(buffers, "frags", None)
        )
        linear = getattr(buffers, "linear", None)
        if linear is None or linear.shape[:2] != (height, width):
            linear = np.empty((height, width, 3), np.float32)
        buffers.frags, buffers.linear = frags, linear
        _shade(
            frags.triangle,
            frags.coef,
            self.faces,
            front,
            cam_pts,
            normals,
            self._albedo,
            self._dirs,
            self._params,
            self._background,
            linear,
        )
        image = np.empty((self.height, self.width, 3), np.uint8)
        _encode(linear, s, _SRGB_LUT, image)
        return image
