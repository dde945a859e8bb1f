"""ARKit-52 weights from animated vertices: bounded least squares per frame.

For each frame, the displacement of the face from its neutral, d (V, 3), is approximated by the
52 targets' displacements a_k (V, 3) (`face.arkit.ArkitTargets`):

    w* = argmin_{0 <= w_k <= 1}  sum over fitted vertices |sum_k w_k a_k - d|^2
                                 + ridge * sum_k |a_k|^2 w_k^2

The fitted vertices are the region the targets move: every vertex some target displaces by more
than 1% of that target's largest displacement (the union over the 52 targets), so the back of the
head and other still parts neither pull on nor dilute the fit. The small ridge (1e-3 of each
target's own squared norm) only breaks ties between nearly redundant targets (e.g. a symmetric
motion shared between a Left and a Right target splits evenly) and leaves well-determined
weights within about 0.1% of the plain solution.

Solver: the normal matrix A^T A + ridge diag(|a_k|^2) = R^T R is factored once (Cholesky), which
turns each frame's problem into the 52 x 52 least-squares problem |R w - R^-T A^T d|^2 with the
same minimizer; that box-constrained problem is solved by scipy.optimize.lsq_linear with
method="bvls" (Stark and Parker's bounded-variable least squares), exact for this convex
problem.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy.linalg import cholesky, solve_triangular
from scipy.optimize import lsq_linear

from lsf_animation.face.arkit import NUM_ARKIT, ArkitTargets

RIDGE = 1e-3
REGION_SHARE = 0.01  # a vertex is in a target's region if it moves > 1% of the target's max


@dataclass(frozen=True)
class ArkitFit:
    """Weights of one motion sample and how well they reproduce it.

    Attributes:
        weights: (T, 52) float32 in [0, 1], ARKIT_NAMES order.
        lip_residual_mm: (T, L) distance between the animated and the reconstructed position of
            each lip vertex, millimetres (L = 0 when no lip vertices were given).
    """

    weights: np.ndarray
    lip_residual_mm: np.ndarray

    def lip_residual_summary(self) -> dict[str, float]:
        """Mean and 95th percentile of the lip residual over frames and lip vertices, mm."""
        r = self.lip_residual_mm
        if r.size == 0:
            return {"mean_mm": float("nan"), "p95_mm": float("nan")}
        return {"mean_mm": float(r.mean()), "p95_mm": float(np.percentile(r, 95))}


class ArkitSolver:
    """Fits ARKit weights to frames of one face model's vertices.

    Args:
        targets: the face model's 52 ARKit targets (V vertices).
        lips: vertex indices at which to report the residual (the face's "lips" region).
        ridge: see the module docstring.
    """

    def __init__(
        self, targets: ArkitTargets, lips: np.ndarray | None = None, ridge: float = RIDGE
    ) -> None:
        deltas = np.asarray(targets.deltas, np.float64)  # (52, V, 3)
        size = np.linalg.norm(deltas, axis=2)  # (52, V)
        peak = size.max(axis=1, keepdims=True)
        moved = (size > REGION_SHARE * np.maximum(peak, 1e-12)) & (peak > 0)
        self.region = np.flatnonzero(moved.any(axis=0))
        a = deltas[:, self.region].reshape(NUM_ARKIT, -1).T  # (3n, 52)
        gram = a.T @ a
        gram[np.diag_indices(NUM_ARKIT)] *= 1.0 + ridge
        gram[np.diag_indices(NUM_ARKIT)] += 1e-30  # a target that moves nothing stays solvable
        upper = cholesky(gram, lower=False)  # gram = R^T R
        self._r = upper
        self._project = solve_triangular(upper, a.T, trans="T", lower=False)  # R^-T A^T (52, 3n)
        self.deltas = deltas
        self.lips = np.asarray(lips if lips is not None else [], np.int64)

    def solve(self, displacement: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weights of frames.

        Args:
            displacement: (T, V, 3) vertices minus the neutral, metres.

        Returns:
            weights (T, 52) float64 in [0, 1] and the lip residual (T, L) in mm.
        """
        d = np.asarray(displacement, np.float64)
        rhs = d[:, self.region].reshape(len(d), -1) @ self._project.T  # (T, 52)
        weights = np.empty((len(d), NUM_ARKIT))
        for t in range(len(d)):
            weights[t] = lsq_linear(self._r, rhs[t], bounds=(0.0, 1.0), method="bvls").x
        weights = np.clip(weights, 0.0, 1.0)
        if self.lips.size:
            recon = np.einsum("tk,kvc->tvc", weights, self.deltas[:, self.lips])
            residual = 1e3 * np.linalg.norm(recon - d[:, self.lips], axis=2)
        else:
            residual = np.zeros((len(d), 0))
        return weights, residual

    def fit(self, chunks: Iterable[np.ndarray], neutral: np.ndarray) -> ArkitFit:
        """Weights of a whole sequence given as chunks of (t, V, 3) vertices (metres)."""
        parts = [self.solve(np.asarray(c, np.float64) - neutral) for c in chunks]
        if not parts:
            raise ValueError("no frames to fit")
        weights = np.concatenate([w for w, _ in parts]).astype(np.float32)
        return ArkitFit(weights, np.concatenate([r for _, r in parts]))
