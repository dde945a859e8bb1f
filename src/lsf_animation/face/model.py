"""The face model: FLAME's data in one typed object, whatever file or generator it came from."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

JOINT_NAMES = ("root", "neck", "jaw", "left_eye", "right_eye")
NUM_JOINTS = len(JOINT_NAMES)


@dataclass(frozen=True)
class FaceModel:
    """A FLAME-format morphable head (FLAME itself or the built-in face).

    All arrays are float64 (faces int64); lengths in metres.

    Attributes:
        v_template: (V, 3) neutral template vertices.
        shapedirs: (V, 3, S) identity (shape) basis, S <= 300.
        exprdirs: (V, 3, E) expression basis, E <= 100.
        posedirs: (P, V * 3) pose-corrective basis, P = 9 * (NUM_JOINTS - 1) = 36, laid out as
            smplx lays it out (rows index the flattened (R - I) of the four non-root joints).
        j_regressor: (5, V) dense joint regressor.
        weights: (V, 5) skinning weights, rows sum to 1.
        parents: (5,) parent joint index of each joint, -1 for the root.
        faces: (F, 3) triangle vertex indices.
        regions: named vertex index arrays: at least "lips" (for LVE) and "upper_face" (for FDD).
        vertex_colors: (V, 3) albedo in [0, 1] for rendering, or None for a uniform skin tone.
        name: where it came from ("builtin", a file path ...).
    """

    v_template: np.ndarray
    shapedirs: np.ndarray
    exprdirs: np.ndarray
    posedirs: np.ndarray
    j_regressor: np.ndarray
    weights: np.ndarray
    parents: np.ndarray
    faces: np.ndarray
    regions: dict[str, np.ndarray] = field(default_factory=dict)
    vertex_colors: np.ndarray | None = None
    name: str = ""

    @property
    def num_vertices(self) -> int:
        return int(self.v_template.shape[0])

    @property
    def num_shape(self) -> int:
        return int(self.shapedirs.shape[2])

    @property
    def num_expression(self) -> int:
        return int(self.exprdirs.shape[2])
