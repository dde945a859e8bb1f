"""The sculpted shape of the built-in face: an implicit base head and a facial relief.

The base head is a smooth implicit surface (cranium, face, jaw, cheek and neck ellipsoids blended
together), star-shaped from RAY_CENTER so that rays from there meet it once. The face is a relief
height field along +z on top of it (brow ridge, eye sockets, cheekbones, nose, lips, chin), and
around each eye the skin is shaped against the eyeball: just inside it in an almond-shaped opening
(the eye shows through) and just outside it around the opening (the eyelids).

Coordinates follow FLAME: metres, +y up, +z out of the face, +x to the subject's left.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import PchipInterpolator

# Landmarks, metres.
RAY_CENTER = np.array([0.0, 0.005, -0.005])
EYE_X = 0.032  # half the distance between the eye centres
EYE_Y = 0.031
EYE_Z = 0.0605  # eyeball centre depth
EYE_RADIUS = 0.0135
APERTURE_HALF_WIDTH = 0.0120
MOUTH_Y = -0.040  # lip line at the midline
MOUTH_HALF_WIDTH = 0.025


# ---------------------------------------------------------------------------------------------
# Small smooth functions


def smoothstep(t: np.ndarray) -> np.ndarray:
    """0 below 0, 1 above 1, cubic in between."""
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def ramp(t: np.ndarray, start: float, stop: float) -> np.ndarray:
    """Smoothly 0 at `start`, 1 at `stop` (either order)."""
    return smoothstep((np.asarray(t, float) - start) / (stop - start))


def gauss2(x: np.ndarray, y: np.ndarray, cx: float, cy: float, sx: float, sy: float) -> np.ndarray:
    """Unit-height 2D Gaussian bump centred on (cx, cy) with widths (sx, sy)."""
    return np.exp(-0.5 * (((x - cx) / sx) ** 2 + ((y - cy) / sy) ** 2))


def pair_gauss(
    x: np.ndarray, y: np.ndarray, cx: float, cy: float, sx: float, sy: float
) -> np.ndarray:
    """A bump at (cx, cy) plus its mirror image at (-cx, cy): symmetric and smooth at x = 0."""
    return gauss2(x, y, cx, cy, sx, sy) + gauss2(x, y, -cx, cy, sx, sy)


def profile(t: np.ndarray, points: tuple[tuple[float, float], ...]) -> np.ndarray:
    """Monotone cubic (PCHIP) curve through `points` (increasing t), held constant outside."""
    ts = np.array([p[0] for p in points])
    vs = np.array([p[1] for p in points])
    return PchipInterpolator(ts, vs)(np.clip(t, ts[0], ts[-1]))


def lip_line_y(x: np.ndarray) -> np.ndarray:
    """Height of the line between the lips at lateral position x, metres."""
    return MOUTH_Y + 0.0008 * (np.asarray(x) / MOUTH_HALF_WIDTH) ** 2


def _ellipsoid(p: np.ndarray, center: tuple[float, ...], radii: tuple[float, ...]) -> np.ndarray:
    q = (p - np.asarray(center)) / np.asarray(radii)
    return (np.sqrt(np.einsum("...i,...i->...", q, q)) - 1.0) * min(radii)


def _smooth_union(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b * (1.0 - h) + a * h - k * h * (1.0 - h)


def _head_field(p: np.ndarray) -> np.ndarray:
    """Negative inside the base head (no facial features), roughly a distance in metres."""
    cranium = _ellipsoid(p, (0.0, 0.032, -0.012), (0.078, 0.092, 0.099))
    face = _ellipsoid(p, (0.0, -0.018, 0.018), (0.066, 0.068, 0.069))
    jaw = _ellipsoid(p, (0.0, -0.046, 0.006), (0.062, 0.044, 0.073))
    p_mirror = np.concatenate([np.abs(p[..., :1]), p[..., 1:]], axis=-1)
    cheek = _ellipsoid(p_mirror, (0.044, -0.002, 0.036), (0.021, 0.022, 0.032))
    head = _smooth_union(_smooth_union(cranium, face, 0.02), jaw, 0.02)
    head = _smooth_union(head, cheek, 0.012)
    radial = np.hypot(p[..., 0] / 0.056, (p[..., 2] + 0.025) / 0.058)
    neck_side = (radial - 1.0) * 0.056
    neck = np.maximum(neck_side, np.maximum(-0.170 - p[..., 1], p[..., 1] - 0.04))
    return _smooth_union(head, neck, 0.03)


def cast_rays(directions: np.ndarray) -> np.ndarray:
    """Where rays from RAY_CENTER along unit `directions` (N, 3) leave the base head, (N, 3)."""
    lo = np.zeros(len(directions))
    hi = np.full(len(directions), 0.35)
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        inside = _head_field(RAY_CENTER + mid[:, None] * directions) < 0.0
        lo = np.where(inside, mid, lo)
        hi = np.where(inside, hi, mid)
    return RAY_CENTER + (0.5 * (lo + hi))[:, None] * directions


# ---------------------------------------------------------------------------------------------
# Face relief and eyelids


def _nose(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    height = profile(
        y,
        (
            (-0.021, 0.0),
            (-0.0175, 0.004),
            (-0.013, 0.0125),
            (-0.007, 0.0185),
            (-0.001, 0.0205),
            (0.006, 0.0185),
            (0.020, 0.0125),
            (0.032, 0.0068),
            (0.040, 0.0030),
            (0.050, 0.0),
        ),
    )
    width = profile(
        y,
        (
            (-0.020, 0.0105),
            (-0.010, 0.0110),
            (0.000, 0.0098),
            (0.015, 0.0074),
            (0.035, 0.0078),
            (0.050, 0.011),
        ),
    )
    ridge = height * np.exp(-((np.abs(x) / width) ** 2.4))
    alae = 0.0075 * pair_gauss(x, y, 0.0142, -0.0105, 0.0050, 0.0048)
    return np.maximum(ridge, alae) + 0.25 * np.minimum(ridge, alae)


def _lips(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    dy = y - lip_line_y(x)
    upper = profile(
        dy,
        (
            (0.0, 0.0012),
            (0.0025, 0.0042),
            (0.0060, 0.0040),
            (0.0085, 0.0022),
            (0.0120, 0.0),
            (0.0200, 0.0),
        ),
    )
    lower = profile(
        -dy,
        (
            (0.0, 0.0012),
            (0.0040, 0.0046),
            (0.0080, 0.0036),
            (0.0120, 0.0004),
            (0.0160, -0.0018),
            (0.0220, 0.0),
        ),
    )
    lateral = np.clip(1.0 - (x / (MOUTH_HALF_WIDTH + 0.002)) ** 2, 0.0, 1.0) ** 0.5
    corner_dent = -0.0015 * pair_gauss(x, dy, MOUTH_HALF_WIDTH + 0.002, 0.0, 0.004, 0.005)
    return lateral * np.where(dy >= 0.0, upper, lower) + corner_dent


def face_relief(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Height of the facial features above the base head, along +z, metres."""
    z = 0.0040 * pair_gauss(x, y, 0.030, 0.049, 0.020, 0.0075)  # brow ridge
    z -= 0.0060 * pair_gauss(x, y, EYE_X, EYE_Y, 0.013, 0.010)  # eye sockets
    z += 0.0050 * pair_gauss(x, y, 0.047, 0.003, 0.013, 0.013)  # cheekbones
    z += 0.0085 * gauss2(x, y, 0.0, -0.036, 0.027, 0.020)  # muzzle over the teeth
    z += 0.0105 * gauss2(x, y, 0.0, -0.075, 0.017, 0.011)  # chin
    return z + _nose(x, y) + _lips(x, y)


def eye_lids(dx: np.ndarray, outward: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Heights of the upper and lower lid edges above an eye's centre, metres.

    dx: offset from the eye centre (clipped to the opening); outward: +1 where dx points away
    from the midline.
    """
    w = APERTURE_HALF_WIDTH
    xc = np.clip(dx, -w, w)
    t = 1.0 - (xc / w) ** 2
    tilt = 0.0012 * (xc * outward) / w
    peak_shift = 1.0 - 0.25 * (xc * outward) / w  # the upper lid is highest toward the nose
    return 0.0046 * t**0.85 * peak_shift + tilt, -0.0037 * t**1.1 + tilt


def eye_opening(dx: np.ndarray, dy: np.ndarray, outward: np.ndarray) -> np.ndarray:
    """Signed distance-like value to an eye's almond opening, metres (negative inside).

    dx, dy: offsets from the eye centre; outward: +1 where dx points away from the midline.
    """
    upper, lower = eye_lids(dx, outward)
    return np.maximum.reduce([dy - upper, lower - dy, np.abs(dx) - APERTURE_HALF_WIDTH])


def eye_region(p: np.ndarray, relief_z: np.ndarray) -> tuple[np.ndarray, ...]:
    """Skin depth around the eyes: (z, s, dy, side, recess) per vertex of `p`."""
    side = np.where(p[:, 0] >= 0.0, 1.0, -1.0)
    dx = p[:, 0] - side * EYE_X
    dy = p[:, 1] - EYE_Y
    outward = side * np.sign(dx + 1e-12)
    s = eye_opening(dx, dy, outward)
    rho2 = dx**2 + dy**2
    ball = EYE_Z + np.sqrt(np.maximum(EYE_RADIUS**2 - rho2, 0.0))
    corner = np.clip((APERTURE_HALF_WIDTH - np.abs(dx)) / 0.004, 0.0, 1.0)  # shallow at the corners
    recess = 0.0016 * np.clip(-s / 0.0025, 0.0, 1.0) * corner
    # Away from the opening the lids follow a slightly larger sphere: near the eye's silhouette
    # (the corners) a straight triangle edge from the opening to the lid would cut the eyeball.
    big = EYE_Z + np.sqrt(np.maximum((EYE_RADIUS + 0.0015) ** 2 - rho2, 0.0))
    lid = ball + (big - ball) * np.clip(s / 0.003, 0.0, 1.0)
    lid += 0.0020 * np.clip(s / 0.0018, 0.0, 1.0) ** 0.8
    lid -= 0.0006 * gauss2(dx, s * np.sign(dy), 0.0, 0.0045, 0.008, 0.0020)  # lid crease
    blend = ramp(s, 0.003, 0.009)
    outside = (1.0 - blend) * lid + blend * relief_z
    outside = np.where(rho2 < EYE_RADIUS**2, np.maximum(outside, ball + 0.0010), outside)
    z = np.where(s < 0.0, ball - recess, outside)
    near = s < 0.0095
    return (
        np.where(near, z, relief_z),
        s,
        dy,
        side,
        np.where(s < 0.0, recess, 0.0),
    )


def lip_mask(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """1 on the red of the lips, 0 on the skin around them (soft edge)."""
    dy = y - lip_line_y(x)
    across = np.abs(x) / (MOUTH_HALF_WIDTH + 0.001)
    shape = np.clip(1.0 - across**2, 0.0, 1.0)
    bow = 0.0015 * np.exp(-0.5 * ((np.abs(x) - 0.0055) / 0.004) ** 2)  # Cupid's bow
    upper_h = 0.0024 + 0.0068 * shape**0.5 + bow - 0.0012 * np.exp(-0.5 * (x / 0.0025) ** 2)
    lower_h = 0.0030 + 0.0080 * shape**0.6
    h = np.where(dy >= 0.0, upper_h, lower_h)
    inside = np.clip((h - np.abs(dy)) / 0.003 + 0.35, 0.0, 1.0)
    return inside * ramp(across, 1.08, 0.95)
