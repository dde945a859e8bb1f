"""ARKit-52 weights from animated vertices: bounded least squares per frame.

For each frame, the displacement of the face from its neutral, d (V, 3), is approximated by the
52 targets' displacements a_k (V, 3) (`face.arkit.ArkitTargets`):

    w* = argmin_{0 <= w_k <= 1}  sum over fitted vertices |sum_k w_k a_k - d|^2
                                 + ridge * sum_k |a_k|^2 w_k^2

The fitted vertices are the region the targets move: every vertex some target displaces by more
than 1% of that target's largest displacement (the union over the 52 targets), so the back of the
head and other still parts neither pull on nor dilute the fit. The small ridge (1e-3 of each
target's own squared norm) breaks ties between targets that can stand in for or cancel each
other (jawLeft and jawRight both on; a symmetric motion shared by a Left and a Right target); on
the demo it changes the other weights by at most 0.02 and the lip residual by 0.01 mm.

Solver: the problem is the box-constrained quadratic program min 0.5 w^T G w - b^T w with
G = A^T A + ridge diag(|a_k|^2) (formed once) and b = A^T d, solved exactly per frame by the
primal active-set method of bounded-variable least squares (`export.box_qp`), started from the
previous frame's weights; the tests check it against scipy.optimize.lsq_linear(method="bvls").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from lsf_animation.export.box_qp import solve_box_qp
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
        self._gram = gram
        self._a_t = np.ascontiguousarray(a.T)  # (52, 3n)
        self._last = np.zeros(NUM_ARKIT)  # the previous frame's weights: the next one's start
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
        rhs = d[:, self.region].reshape(len(d), -1) @ self._a_t.T  # (T, 52): A^T d
        weights = np.empty((len(d), NUM_ARKIT))
        for t in range(len(d)):
            self._last = weights[t] = solve_box_qp(self._gram, rhs[t], self._last)
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
