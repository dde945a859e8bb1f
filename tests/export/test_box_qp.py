"""The warm-started active-set solver finds the same minimum as scipy's BVLS."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import cholesky, solve_triangular
from scipy.optimize import lsq_linear

from lsf_animation.export.box_qp import solve_box_qp


def _bvls(gram: np.ndarray, b: np.ndarray) -> np.ndarray:
    c = cholesky(gram, lower=False)
    return lsq_linear(c, solve_triangular(c, b, trans="T"), bounds=(0, 1), method="bvls").x


def _objective(gram: np.ndarray, b: np.ndarray, w: np.ndarray) -> float:
    return float(0.5 * w @ gram @ w - b @ w)


@pytest.mark.parametrize("seed", range(8))
def test_matches_bvls_from_cold_and_warm_starts(seed):
    rng = np.random.default_rng(seed)
    n = 52
    a = rng.normal(size=(300, n)) @ np.diag(rng.uniform(0.1, 3.0, n))
    a[:, 1] = a[:, 0] + 0.01 * rng.normal(size=300)  # two nearly redundant columns
    gram = a.T @ a + 1e-3 * np.diag(np.diag(a.T @ a))
    for _ in range(5):
        # Targets inside, outside and across the box.
        b = gram @ rng.uniform(-0.8, 1.8, n)
        reference = _bvls(gram, b)
        for start in (None, rng.uniform(0, 1, n), np.round(rng.uniform(0, 1, n)), reference):
            w = solve_box_qp(gram, b, start)
            assert w.min() >= 0.0 and w.max() <= 1.0
            assert np.abs(w - reference).max() < 1e-7
            assert _objective(gram, b, w) <= _objective(gram, b, reference) + 1e-9


def test_interior_and_corner_solutions():
    gram = np.array([[2.0, 0.5], [0.5, 1.0]])
    inside = np.array([0.3, 0.6])
    np.testing.assert_allclose(solve_box_qp(gram, gram @ inside), inside, atol=1e-12)
    np.testing.assert_allclose(solve_box_qp(gram, gram @ np.array([5.0, -5.0])), [1.0, 0.0])
