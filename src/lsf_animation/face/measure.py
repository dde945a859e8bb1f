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


def mouth_width(face: FaceModel, vertices: np.ndarray, corner_vertices: int = 5) -> np.ndarray:
    """How wide the mouth is, per frame.

    Args:
        face: supplies the neutral template and its "lips" region.
        vertices: (T, V, 3) metres.
        corner_vertices: how many of the lip region's outermost template vertices on each side
            stand for that mouth corner.

    Returns:
        (T,) metres: the x distance between the mean of the left corner's vertices and the mean
        of the right one's (rounding narrows it, spreading widens it).
    """
    lips = face.regions["lips"]
    order = lips[np.argsort(face.v_template[lips, 0])]
    left, right = order[-corner_vertices:], order[:corner_vertices]
    return vertices[:, left, 0].mean(axis=1) - vertices[:, right, 0].mean(axis=1)


JAW_JOINT = 2
"""Index of the jaw in FLAME's joint layout (root, neck, jaw, left eye, right eye)."""


def lip_contact_vertices(face: FaceModel, midline_m: float = 0.001) -> tuple[int, int]:
    """(upper, lower) vertex where the lips meet at the face's midline.

    The lips region is split into the lower lip (vertices mostly skinned to the jaw) and the
    upper lip; of their vertices within `midline_m` of the symmetry plane, the upper lip's
    lowest and the lower lip's highest in the neutral template.
    """
    v = face.v_template
    lips = face.regions["lips"]
    mid = lips[np.abs(v[lips, 0]) <= midline_m]
    on_jaw = face.weights[mid, JAW_JOINT] > 0.5
    upper, lower = mid[~on_jaw], mid[on_jaw]
    if not len(upper) or not len(lower):
        raise ValueError("the lips region has no upper and lower midline vertices")
    return int(upper[np.argmin(v[upper, 1])]), int(lower[np.argmax(v[lower, 1])])


def lip_gap(face: FaceModel, vertices: np.ndarray) -> np.ndarray:
    """How far apart the lips are at the midline, per frame.

    Args:
        face: supplies the neutral template, skinning weights and "lips" region.
        vertices: (T, V, 3) metres.

    Returns:
        (T,) metres between the upper- and lower-lip midline vertices where the lips meet
        (`lip_contact_vertices`): 0 when they touch. Lips pushed past each other count as
        apart, so a closure must bring them together, not through each other.
    """
    upper, lower = lip_contact_vertices(face)
    return np.linalg.norm(vertices[:, upper] - vertices[:, lower], axis=-1)
