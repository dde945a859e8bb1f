"""Box-constrained convex quadratic programs, warm-started: the per-frame solver of ARKit fits.

    minimize 0.5 w^T G w - b^T w   subject to  lower <= w <= upper,   G symmetric positive definite

which is the bounded least-squares problem min |A w - d|^2 with G = A^T A, b = A^T d. The method
is the primal active-set method (the one bounded-variable least squares, BVLS, uses): variables
are either fixed at a bound or free; the free ones are solved exactly with the others fixed; a
step that would leave the box stops at the first bound it meets (that variable is fixed there);
at a feasible point where every fixed variable's gradient points out of the box (the KKT
conditions) the point is the unique minimum. Started from the previous frame's solution, whose
fixed set is usually already right, a frame takes one or two small solves instead of the ~20 a
cold BVLS does.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import cholesky, solve_triangular
from scipy.optimize import lsq_linear


def _solve_free(
    gram: np.ndarray, b: np.ndarray, free: np.ndarray, fixed_values: np.ndarray
) -> np.ndarray:
    """The free variables' minimizer with the others at `fixed_values` (free entries ignored)."""
    w = fixed_values.copy()
    w[free] = 0.0
    if free.any():
        w[free] = np.linalg.solve(gram[np.ix_(free, free)], b[free] - gram[free] @ w)
    return w


def solve_box_qp(
    gram: np.ndarray,
    b: np.ndarray,
    start: np.ndarray | None = None,
    lower: float = 0.0,
    upper: float = 1.0,
) -> np.ndarray:
    """The minimizer of 0.5 w^T G w - b^T w over lower <= w <= upper.

    Args:
        gram: (n, n) symmetric positive definite G.
        b: (n,) linear term.
        start: (n,) a starting point (clipped into the box), e.g. the previous frame's answer;
            variables on a bound there start fixed at it.
        lower, upper: the box.

    Returns:
        (n,) float64.
    """
    n = b.shape[0]
    scale = float(np.abs(np.diag(gram)).max()) or 1.0
    tol = 1e-11 * scale
    w = np.clip(np.zeros(n) if start is None else np.asarray(start, np.float64), lower, upper)
    state = np.where(w <= lower, -1, np.where(w >= upper, 1, 0))  # -1/+1 fixed at lower/upper
    w[state < 0], w[state > 0] = lower, upper
    for _ in range(6 * n + 20):
        free = state == 0
        target = _solve_free(gram, b, free, np.where(state > 0, upper, lower).astype(float))
        step = target - w
        outside = free & ((target < lower) | (target > upper))
        if not outside.any():
            w = target
            grad = gram @ w - b
            # Fixed at lower: optimal if the objective grows inward (grad >= 0); at upper: <= 0.
            violation = np.where(state < 0, -grad, np.where(state > 0, grad, 0.0))
            worst = int(np.argmax(violation))
            if violation[worst] <= tol:
                return w
            state[worst] = 0
            continue
        # Step toward the target until the first free variable reaches a bound.
        with np.errstate(divide="ignore", invalid="ignore"):
            room = np.where(step < 0, (lower - w) / step, (upper - w) / step)
        room = np.where(outside, room, np.inf)
        k = int(np.argmin(room))
        alpha = float(np.clip(room[k], 0.0, 1.0))
        w = np.clip(w + alpha * step, lower, upper)
        state[k] = -1 if step[k] < 0 else 1
        w[k] = lower if step[k] < 0 else upper
    # Not reached in practice (the method terminates); fall back to scipy's BVLS.
    c = cholesky(gram, lower=False)
    rhs = solve_triangular(c, b, trans="T")
    return lsq_linear(c, rhs, bounds=(lower, upper), method="bvls").x
