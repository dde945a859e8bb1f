"""Per-vertex colours of the built-in face: skin, lips, brows, short hair, eyes, mouth inside."""

from __future__ import annotations

import numpy as np

from lsf_animation.face.builtin_sculpt import EYE_Y, gauss2, lip_mask, profile, ramp

SKIN = np.array([0.85, 0.66, 0.55])
LIP = np.array([0.74, 0.40, 0.40])
BROW = np.array([0.32, 0.23, 0.18])
HAIR = np.array([0.22, 0.15, 0.11])
SCLERA = np.array([0.93, 0.92, 0.89])
IRIS = np.array([0.33, 0.45, 0.55])
PUPIL = np.array([0.03, 0.03, 0.03])
TEETH = np.array([0.93, 0.91, 0.84])
GUM = np.array([0.50, 0.19, 0.21])
CAVITY = np.array([0.07, 0.02, 0.025])
INNER_LIP = np.array([0.62, 0.30, 0.31])


def vertex_colors(
    v: np.ndarray,
    skin: np.ndarray,
    eyes: np.ndarray,
    pocket_kind: np.ndarray,
    eye_s: np.ndarray,
    eye_angle: np.ndarray,
    side: np.ndarray,
) -> np.ndarray:
    """(V, 3) sRGB albedo in [0, 1].

    Args:
        v: (V, 3) template vertices, metres.
        skin, eyes: (V,) bool masks of the skin and of the eyeballs.
        pocket_kind: (V,) mouth-pocket labels ("lip", "teeth", "gum", "cavity", "" elsewhere).
        eye_s: (V,) signed distance to the nearer eye opening (metres; < 0 inside).
        eye_angle: (V,) angle from an eyeball's gaze axis (rad), for iris and pupil.
        side: (V,) +1 above the lip line, -1 below.
    """
    x, y, z = v[:, 0], v[:, 1], v[:, 2]
    ax = np.abs(x)
    front = ramp(z, 0.02, 0.05)
    col = np.tile(SKIN, (len(v), 1))
    cheek = 0.5 * gauss2(ax, y, 0.045, -0.012, 0.014, 0.012) * front
    col = col + cheek[:, None] * (np.array([0.83, 0.52, 0.47]) - SKIN)
    lips = lip_mask(x, y) * front
    col = col + lips[:, None] * (LIP - col)
    brow_y = EYE_Y + 0.0135 + 0.0045 * (1.0 - ((ax - 0.030) / 0.024) ** 2)
    brow_half = 0.0032 * np.clip(1.0 - ((ax - 0.022) / 0.036) ** 2, 0.0, 1.0) ** 0.5 + 0.0005
    brow = np.clip((brow_half - np.abs(y - brow_y)) / 0.0035 + 0.4, 0.0, 1.0)
    brow *= ramp(ax, 0.009, 0.015)
    brow *= ramp(ax, 0.058, 0.052) * front
    col = col + (0.8 * brow)[:, None] * (BROW - col)
    lid_line = np.clip(1.0 - np.abs(eye_s - 0.0004) / 0.0009, 0.0, 1.0) * 0.4
    col = col + lid_line[:, None] * (np.array([0.45, 0.30, 0.27]) - col)

    # Short hair: a cap above a hairline that runs from the forehead over the ears to the nape.
    around = np.abs(np.arctan2(x, z - 0.01))  # 0 at the front, pi at the back
    hairline = profile(
        around,
        (
            (0.0, 0.086),
            (0.55, 0.080),
            (1.0, 0.058),
            (1.35, 0.040),
            (1.75, 0.035),
            (2.3, 0.000),
            (np.pi, -0.050),
        ),
    )
    hair = np.clip((y - hairline) / 0.009 + 0.5, 0.0, 1.0) * skin
    col = col + (0.92 * hair)[:, None] * (HAIR - col)

    kinds = {"lip": INNER_LIP, "teeth": TEETH, "gum": GUM, "cavity": CAVITY}
    for name, value in kinds.items():
        col[pocket_kind == name] = value
    tongue = (side < 0) & (pocket_kind == "cavity")
    col[tongue] = np.array([0.30, 0.09, 0.10])

    iris = ramp(eye_angle, 0.19, 0.20) * ramp(eye_angle, 0.52, 0.48)
    pupil = ramp(eye_angle, 0.19, 0.18)
    eye_col = SCLERA + iris[:, None] * (IRIS - SCLERA)
    eye_col = eye_col + pupil[:, None] * (PUPIL - eye_col)
    ring = np.clip((eye_angle - 0.30) / 0.18, 0.0, 1.0) * iris
    eye_col = eye_col + (0.35 * ring)[:, None] * (np.array([0.20, 0.30, 0.40]) - eye_col)
    col[eyes] = eye_col[eyes]
    return np.clip(col, 0.0, 1.0)
