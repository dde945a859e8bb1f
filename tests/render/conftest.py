"""Synthetic meshes for the renderer tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest


def make_icosphere(subdivisions: int, radius: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """A sphere of (10 * 4**n + 2) vertices, faces counter-clockwise seen from outside.

    Returns:
        vertices (V, 3) float64, faces (F, 3) int64.
    """
    t = (1.0 + 5.0**0.5) / 2.0
    verts = [
        (-1, t, 0), (1, t, 0), (-1, -t, 0), (1, -t, 0),
        (0, -1, t), (0, 1, t), (0, -1, -t), (0, 1, -t),
        (t, 0, -1), (t, 0, 1), (-t, 0, -1), (-t, 0, 1),
    ]  # fmt: skip
    faces = [
        (0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11),
        (1, 5, 9), (5, 11, 4), (11, 10, 2), (10, 7, 6), (7, 1, 8),
        (3, 9, 4), (3, 4, 2), (3, 2, 6), (3, 6, 8), (3, 8, 9),
        (4, 9, 5), (2, 4, 11), (6, 2, 10), (8, 6, 7), (9, 8, 1),
    ]  # fmt: skip
    v = np.asarray(verts, np.float64)
    f = np.asarray(faces, np.int64)
    for _ in range(subdivisions):
        edges = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
        uniq, inverse = np.unique(edges, axis=0, return_inverse=True)
        mid = v.shape[0] + inverse.reshape(3, -1).T  # (F, 3): midpoints of edges 01, 12, 20
        v = np.concatenate([v, 0.5 * (v[uniq[:, 0]] + v[uniq[:, 1]])])
        a, b, c = f[:, 0], f[:, 1], f[:, 2]
        m01, m12, m20 = mid[:, 0], mid[:, 1], mid[:, 2]
        f = np.concatenate(
            [
                np.stack([a, m01, m20], 1),
                np.stack([b, m12, m01], 1),
                np.stack([c, m20, m12], 1),
                np.stack([m01, m12, m20], 1),
            ]
        )
    v = radius * v / np.linalg.norm(v, axis=1, keepdims=True)
    return v, f


@pytest.fixture
def icosphere() -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    """`make_icosphere(subdivisions, radius=1.0) -> (vertices, faces)`."""
    return make_icosphere
