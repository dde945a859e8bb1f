"""A perceptually ordered colour map (dark violet -> teal -> yellow), built in the OKLab space.

Lightness rises linearly along the map, so equal steps in value read as equal steps in colour and
the map stays ordered in greyscale; hue turns from violet to yellow for contrast. Colours outside
the sRGB gamut have their chroma reduced until they fit.
"""

from __future__ import annotations

import numpy as np

_LAB_TO_LMS = np.array(
    [
        [1.0, 0.3963377774, 0.2158037573],
        [1.0, -0.1055613458, -0.0638541728],
        [1.0, -0.0894841775, -1.2914855480],
    ]
)
_LMS_TO_RGB = np.array(
    [
        [4.0767416621, -3.3077115913, 0.2309699292],
        [-1.2684380046, 2.6097574011, -0.3413193965],
        [-0.0041960863, -0.7034186147, 1.7076147010],
    ]
)


def oklab_to_linear_rgb(lab: np.ndarray) -> np.ndarray:
    """(..., 3) OKLab (L, a, b) -> (..., 3) linear sRGB (may fall outside [0, 1])."""
    lms = np.asarray(lab, np.float64) @ _LAB_TO_LMS.T
    return (lms**3) @ _LMS_TO_RGB.T


def _in_gamut(rgb: np.ndarray) -> np.ndarray:
    return np.all((rgb >= -1e-9) & (rgb <= 1.0 + 1e-9), axis=-1)


def _build(n: int) -> np.ndarray:
    t = np.linspace(0.0, 1.0, n)
    lightness = 0.24 + 0.70 * t
    hue = np.radians(300.0 - 195.0 * t)  # violet (300 deg) -> blue -> teal -> green -> yellow
    chroma = 0.11 + 0.07 * t**2
    # shrink chroma by bisection until each colour lies in the sRGB gamut
    lo, hi = np.zeros(n), np.ones(n)
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        lab = np.stack([lightness, mid * chroma * np.cos(hue), mid * chroma * np.sin(hue)], -1)
        ok = _in_gamut(oklab_to_linear_rgb(lab))
        lo, hi = np.where(ok, mid, lo), np.where(ok, hi, mid)
    full = np.stack([lightness, chroma * np.cos(hue), chroma * np.sin(hue)], -1)
    scale = np.where(_in_gamut(oklab_to_linear_rgb(full)), 1.0, lo)
    lab = np.stack([lightness, scale * chroma * np.cos(hue), scale * chroma * np.sin(hue)], -1)
    rgb = np.clip(oklab_to_linear_rgb(lab), 0.0, 1.0)
    return np.where(rgb <= 0.0031308, rgb * 12.92, 1.055 * rgb ** (1.0 / 2.4) - 0.055)


COLORMAP = _build(256)
"""(256, 3) sRGB colours in [0, 1], from low to high values."""


def apply_colormap(values: np.ndarray, vmin: float, vmax: float) -> np.ndarray:
    """(...,) values -> (..., 3) sRGB colours in [0, 1]; values outside [vmin, vmax] clamp."""
    span = vmax - vmin if vmax > vmin else 1.0
    t = np.clip((np.asarray(values, np.float64) - vmin) / span, 0.0, 1.0)
    pos = t * (COLORMAP.shape[0] - 1)
    i = np.minimum(pos.astype(np.int64), COLORMAP.shape[0] - 2)
    frac = (pos - i)[..., None]
    return COLORMAP[i] * (1.0 - frac) + COLORMAP[i + 1] * frac
