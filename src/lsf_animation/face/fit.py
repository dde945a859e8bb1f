"""Fitting identity (shape) coefficients to a neutral mesh in the face model's topology."""

from __future__ import annotations

import numpy as np
import scipy.linalg

from lsf_animation.errors import LsfError
from lsf_animation.face.model import FaceModel


def fit_shape(
    face: FaceModel, mesh: np.ndarray, num_coeffs: int | None = None, ridge: float = 0.0
) -> np.ndarray:
    """Least-squares shape coefficients of a neutral mesh: mesh ~ v_template + shapedirs @ beta.

    The mesh must be in the model's frame (metres, same vertex order); no rigid alignment is done.

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
