"""Fitting identity (shape) coefficients to a neutral mesh in the face model's topology.

A mesh in other units than the model's is refused before fitting: FLAME and the built-in face
are in metres, and a mesh in millimetres fits to absurd coefficients (about 1e6: a head hundreds
of metres wide) rather than failing. Real heads differ in size by far less than the factor 2
allowed here (`MAX_SCALE_RATIO`), while a change of units is a factor 10 or more.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from lsf_animation.errors import LsfError
from lsf_animation.face.model import FaceModel

MAX_SCALE_RATIO = 2.0
"""A neutral mesh whose size (RMS distance of its vertices from their centroid) differs from the
face model's template by more than this factor is refused."""


def _size(vertices: np.ndarray) -> float:
    """RMS distance of the vertices from their centroid (same units as the vertices)."""
    centred = vertices - vertices.mean(axis=0)
    return float(np.sqrt((centred**2).sum(axis=1).mean()))


def check_mesh_scale(face: FaceModel, mesh: np.ndarray) -> None:
    """LsfError unless the (V, 3) `mesh` is about the size of the face model's template.

    The message gives both widths and the likely unit (millimetres, centimetres).
    """
    template = np.asarray(face.v_template, np.float64)
    ratio = _size(mesh) / max(_size(template), 1e-12)
    if 1.0 / MAX_SCALE_RATIO <= ratio <= MAX_SCALE_RATIO:
        return
    width = float(np.ptp(mesh[:, 0]))
    model_width = float(np.ptp(template[:, 0]))
    hint = "scale it to metres"
    for factor, unit in ((1000.0, "millimetres"), (100.0, "centimetres")):
        if factor / 3 < ratio < factor * 3:
            hint = f"it looks like {unit}: multiply its coordinates by {1 / factor:g}"
    times = f"{ratio:,.0f}" if ratio >= 10 else f"{ratio:.2g}"
    raise LsfError(
        f"the neutral mesh is {times} times the size of face model {face.name!r} (it is "
        f"{width:.4g} units wide, the model {model_width:.3f} m); the face model is in metres "
        f"(as FLAME is), so the mesh must be too: {hint}"
    )


def fit_shape(
    face: FaceModel, mesh: np.ndarray, num_coeffs: int | None = None, ridge: float = 0.0
) -> np.ndarray:
    """Least-squares shape coefficients of a neutral mesh: mesh ~ v_template + shapedirs @ beta.

    The mesh must be in the model's frame (metres, same vertex order); no rigid alignment is done.
    A mesh of another size than the template by more than a factor 2 (other units) is refused.

    Args:
        face: the face model (S identity components).
        mesh: (V, 3) neutral vertices in metres.
        num_coeffs: fit only the first `num_coeffs` components (default all S).
        ridge: Tikhonov weight lambda >= 0 in m^2: minimises |A beta - d|^2 + lambda |beta|^2,
            which shrinks poorly determined coefficients toward zero.

    Returns:
        (S,) float64 coefficients; entries past `num_coeffs` are zero.
    """
    v = face.num_vertices
    s = face.num_shape
    mesh = np.asarray(mesh, dtype=np.float64)
    if mesh.shape != (v, 3):
        raise LsfError(
            f"the neutral mesh has shape {tuple(mesh.shape)} but face model {face.name!r} has "
            f"{v} vertices: expected ({v}, 3); give a mesh in the same topology (vertex order) as "
            "the face model"
        )
    if not np.isfinite(mesh).all():
        raise LsfError("the neutral mesh contains NaN or inf coordinates; fix the mesh file")
    check_mesh_scale(face, mesh)
    k = s if num_coeffs is None else int(num_coeffs)
    if not 1 <= k <= s:
        raise LsfError(f"num_coeffs must be between 1 and {s} (the model's shape components)")
    if not (np.isfinite(ridge) and ridge >= 0.0):
        raise LsfError(f"ridge must be a finite number >= 0, got {ridge}")

    basis = face.shapedirs[:, :, :k].reshape(v * 3, k).astype(np.float64)  # A: (3V, k)
    target = (mesh - face.v_template).reshape(v * 3)  # d: (3V,)
    if ridge == 0.0:
        coeffs = np.linalg.lstsq(basis, target, rcond=None)[0]  # SVD: stable if rank-deficient
    else:
        gram = basis.T @ basis
        gram[np.diag_indices_from(gram)] += ridge
        coeffs = scipy.linalg.cho_solve(scipy.linalg.cho_factor(gram), basis.T @ target)
    out = np.zeros(s, dtype=np.float64)
    out[:k] = coeffs
    return out
