"""Measurements on vertex sequences that the tests, benchmarks and demo checks share."""

from __future__ import annotations

import numpy as np

from lsf_animation.face.model import FaceModel

MOUTH_LINE_Y = -0.040
"""Height (m) of the built-in face's mouth line: lip vertices above it belong to the upper lip."""


def lip_aperture(
    face: FaceModel, vertices: np.ndarray, mouth_line_y: float = MOUTH_LINE_Y
) -> np.ndarray:
    """How far the lips are apart, per frame.

    Args:
        face: supplies the neutral template and its "lips" region.
        vertices: (T, V, 3) metres.
        mouth_line_y: template height splitting upper from lower lip.

    Returns:
        (T,) metres: height of the upper lip's midline centroid above the lower lip's (the
        midline: lip vertices within 4 mm of the face's symmetry plane).
    """
    v = face.v_template
    lips = face.regions["lips"]
    mid = lips[np.abs(v[lips, 0]) < 0.004]
    upper, lower = mid[v[mid, 1] > mouth_line_y], mid[v[mid, 1] <= mouth_line_y]
    return vertices[:, upper, 1].mean(axis=1) - vertices[:, lower, 1].mean(axis=1)
