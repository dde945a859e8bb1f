"""Mouth motion from a phoneme timeline: viseme targets blended with coarticulation, at 25 fps.

Each eSpeak NG phoneme maps to a viseme target over the mouth channels (`CHANNELS`: jaw opening
in radians and seven expression coefficients of the built-in face) and a dominance. The
trajectory is a dominance-weighted blend of all targets (in the manner of Cohen and Massaro's
coarticulation model): phoneme i pulls with weight a_i * exp(-|(t - c_i) / w_i|^4) around its
centre c_i, a flat-topped pull that holds the target through the phoneme's own span
(w_i = half its duration + 10 ms) and hands over to the next one near the boundary, so the
mouth is in the phoneme's shape while it sounds; neighbours still blend and nothing steps.
Bilabials are dominant (the lips close even between open vowels); alveolars and velars are weak
(they take their vowels' shape).

The shapes are the mouth gestures of English phones on the built-in face: bilabials /p b m/
bring the lips together (the jaw nearly closed, mouth_open set so the lip midlines meet rather
than pass each other) and press them (lip_press); /f v/ tuck the lower lip up and back under the
upper teeth (negative lower_lip_depress); rounded /u o w/ pucker and protrude; /i/ spreads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.ndimage import gaussian_filter1d

from lsf_animation.constants import FPS
from lsf_animation.data.synth.espeak import Phoneme
from lsf_animation.face.builtin import EXPRESSION_NAMES

SUBSTEPS = 4  # trajectory evaluated at 100 Hz, averaged into each 40 ms frame
KERNEL_POWER = 4
"""Exponent of the dominance kernels (2 = Gaussian): flat tops hold each target through its phone.
With Gaussians peaking at the phone centres the mouth reached a vowel's opening and left a
bilabial's closure late, after the sound: the corpus's own lip aperture lagged the speech
envelope by +27 ms (median of 24 clips; +6 ms with these kernels)."""
HOLD_PAD_S = 0.010
"""Added to each phone's half-duration for its kernel's half-width."""
MIN_HALF_S = 0.020
"""Shortest half-duration a kernel assumes (very short phones still pull)."""
SMOOTHING_S = {"jaw": 0.025}
"""Standard deviation (s) of the Gaussian that smooths each channel's 100 Hz trajectory (the
articulators' inertia: the held targets alone would switch within a frame); other channels
use DEFAULT_SMOOTHING_S."""
DEFAULT_SMOOTHING_S = 0.015
EVENT_DELAY_S = 0.012
"""How late eSpeak NG reports phoneme events against its own audio: shifting the events by
-12 ms best matches a vowel/consonant/pause track to the speech envelope (median of 30
sentences, 1 ms steps; -4 to -19 ms each). `phoneme_intervals` takes it off."""

CHANNELS = (
    "jaw",
    "mouth_open",
    "lip_pucker",
    "lip_funnel",
    "lip_stretch",
    "lip_press",
    "upper_lip_raise",
    "lower_lip_depress",
)
"""Mouth channels: "jaw" is the jaw's opening rotation (rad), the rest are expression names."""


@dataclass(frozen=True)
class Viseme:
    """A mouth target (values per `CHANNELS`) and its dominance (pull strength)."""

    target: tuple[float, ...]
    dominance: float


def _v(dominance: float, **values: float) -> Viseme:
    return Viseme(tuple(values.get(c, 0.0) for c in CHANNELS), dominance)


REST = _v(1.0)
VISEMES: dict[str, Viseme] = {
    "open": _v(1.0, jaw=0.18, mouth_open=1.1, lower_lip_depress=0.3),
    "mid": _v(1.0, jaw=0.13, mouth_open=0.6, lip_stretch=0.4),
    "close_front": _v(1.0, jaw=0.06, mouth_open=0.2, lip_stretch=0.9),
    # Rounding narrows the mouth by about a fifth at /u/ (pucker 2.5: 48 -> 39 mm on the
    # built-in face), spreading widens it by about a tenth at /i/, as lip widths of rounded and
    # spread vowels differ in real speech.
    "rounded_mid": _v(1.0, jaw=0.14, mouth_open=0.4, lip_pucker=1.6, lip_funnel=1.0),
    "rounded_close": _v(1.2, jaw=0.06, mouth_open=0.1, lip_pucker=2.5, lip_funnel=1.0),
    # mouth_open -0.325 closes the 1.46 mm the jaw's 0.015 rad opens between the lip midlines.
    "bilabial": _v(6.0, jaw=0.015, mouth_open=-0.325, lip_press=1.0),
    "labiodental": _v(3.0, jaw=0.03, lower_lip_depress=-0.6, upper_lip_raise=0.3),
    "dental": _v(0.6, jaw=0.06, mouth_open=0.25),
    "alveolar": _v(0.35, jaw=0.05, mouth_open=0.15),
    "sibilant": _v(0.8, jaw=0.03, lip_stretch=0.5),
    "postalveolar": _v(1.5, jaw=0.05, lip_pucker=1.0, lip_funnel=1.1),
    "w": _v(2.0, jaw=0.04, lip_pucker=2.5, lip_funnel=0.7),
    "r": _v(0.8, jaw=0.06, lip_pucker=0.8, lip_funnel=0.3),
    "j": _v(0.6, jaw=0.05, lip_stretch=0.5),
    "velar": _v(0.3, jaw=0.08, mouth_open=0.3),
    "rest": REST,
}

# eSpeak NG English phoneme mnemonics (stress marks and length marks removed) -> viseme class.
_CLASSES: dict[str, tuple[str, ...]] = {
    "open": ("a", "A", "aI", "aU", "0", "V", "a#", "A@", "aI@", "aU@", "aa"),
    "mid": ("E", "e", "eI", "3", "@", "@2", "@5", "@L", "e@", "3:", "I@", "E2", "E@", "@r"),
    "close_front": ("i", "I", "I2", "I#", "i@", "i@3", "y"),
    "rounded_mid": ("O", "oU", "OI", "O@", "o@", "o"),
    "rounded_close": ("u", "U", "U@", "u:", "W"),
    "bilabial": ("p", "b", "m"),
    "labiodental": ("f", "v"),
    "dental": ("T", "D"),
    "alveolar": ("t", "d", "n", "l", "t#", "d#", "n-", "l/", "L", "?", "t2", "r-"),
    "sibilant": ("s", "z"),
    "postalveolar": ("S", "Z", "tS", "dZ"),
    "w": ("w",),
    "r": ("r", "r/", "*"),
    "j": ("j",),
    "velar": ("k", "g", "N", "h", "x", "n^"),
}
_LOOKUP = {name: cls for cls, names in _CLASSES.items() for name in names}


def viseme_class(phoneme: str) -> str:
    """The viseme class of an eSpeak NG phoneme mnemonic, e.g. "'a" -> "open", "_:" -> "rest"."""
    name = phoneme.lstrip("',%=").rstrip(":;")
    if not name or name.startswith("_"):
        return "rest"
    if name in _LOOKUP:
        return _LOOKUP[name]
    if name[:2] in _LOOKUP:
        return _LOOKUP[name[:2]]
    if name[0] in _LOOKUP:
        return _LOOKUP[name[0]]
    return "mid"


def phoneme_intervals(
    phonemes: Sequence[Phoneme], end: float, delay: float = EVENT_DELAY_S
) -> list[tuple[str, float, float]]:
    """(class, start s, stop s) per phoneme, its event time less `delay` (eSpeak's report lag,
    `EVENT_DELAY_S`); each lasts until the next one starts (the last until `end`). Zero-length
    events (eSpeak emits a pause and a phoneme at one instant) are dropped."""
    out = []
    for i, p in enumerate(phonemes):
        start = max(p.start - delay, 0.0)
        stop = max(phonemes[i + 1].start - delay, 0.0) if i + 1 < len(phonemes) else end
        if stop > start:
            out.append((viseme_class(p.name), start, stop))
    return out


def mouth_trajectory(
    intervals: Sequence[tuple[str, float, float]], num_frames: int, rate_scale: float = 1.0
) -> np.ndarray:
    """The coarticulated mouth channels at 25 fps.

    Args:
        intervals: (class, start s, stop s) from `phoneme_intervals`, on the clip's time axis;
            time outside every interval is rest.
        num_frames: T; frame f covers [f/25, (f+1)/25) s.
        rate_scale: widens (> 1) or narrows the blending kernels (their hold scales with it).

    Returns:
        (T, len(CHANNELS)) float64.
    """
    times = (np.arange(num_frames * SUBSTEPS) + 0.5) / (FPS * SUBSTEPS)
    # Rest before the first and after the last phoneme anchors the ends.
    first = intervals[0][1] if intervals else times[-1]
    last = intervals[-1][2] if intervals else 0.0
    items = [("rest", min(0.0, first - 0.2), first), *intervals, ("rest", last, last + 0.3)]
    num = np.zeros((len(times), len(CHANNELS)))
    den = np.full(len(times), 1e-3)  # a faint pull to rest where no phoneme reaches
    for cls, start, stop in items:
        vis = VISEMES[cls]
        centre = 0.5 * (start + stop)
        width = rate_scale * max(0.5 * (stop - start), MIN_HALF_S) + HOLD_PAD_S
        weight = vis.dominance * np.exp(-(np.abs((times - centre) / width) ** KERNEL_POWER))
        num += weight[:, None] * np.asarray(vis.target)
        den += weight
    traj = num / den[:, None]
    for k, channel in enumerate(CHANNELS):
        sigma = SMOOTHING_S.get(channel, DEFAULT_SMOOTHING_S) * FPS * SUBSTEPS
        traj[:, k] = gaussian_filter1d(traj[:, k], sigma, mode="nearest")
    return traj.reshape(num_frames, SUBSTEPS, len(CHANNELS)).mean(axis=1)


def place_channels(mouth: np.ndarray, num_expression: int) -> tuple[np.ndarray, np.ndarray]:
    """Mouth channels on the face: ((T, num_expression) expression coefficients, zero but for
    the channels', and (T,) jaw opening in radians), from (T, len(CHANNELS)) channel values
    (a `mouth_trajectory`, maybe scaled per channel)."""
    exp = np.zeros((len(mouth), num_expression))
    for k, channel in enumerate(CHANNELS):
        if channel != "jaw":
            exp[:, EXPRESSION_NAMES.index(channel)] = mouth[:, k]
    return exp, mouth[:, CHANNELS.index("jaw")].copy()


def lip_closure(mouth: np.ndarray) -> np.ndarray:
    """(T,) in [0, 1]: how much of each frame's mouth shape is a bilabial closure, read from a
    `mouth_trajectory` output (T, len(CHANNELS)): only bilabials press the lips there."""
    k = CHANNELS.index("lip_press")
    return np.clip(mouth[:, k] / VISEMES["bilabial"].target[k], 0.0, 1.0)


@lru_cache(maxsize=1)
def lip_gap_slopes() -> tuple[float, np.ndarray]:
    """How the built-in face's lip midlines part, linearized at rest: (metres per radian of jaw
    opening, (NUM_EXPRESSION,) metres per unit of each expression), vertical distance from the
    lower lip's contact vertex up to the upper one's (`face.measure.lip_contact_vertices`)."""
    import torch

    from lsf_animation.face.builtin import builtin_face
    from lsf_animation.face.flame import FlameLayer
    from lsf_animation.face.measure import lip_contact_vertices

    face = builtin_face()
    upper, lower = lip_contact_vertices(face)
    per_expression = face.exprdirs[upper, 1, :] - face.exprdirs[lower, 1, :]
    step = 0.01
    with torch.no_grad():
        v = FlameLayer(face, dtype=torch.float64)(jaw_pose=torch.tensor([[step, 0.0, 0.0]]))[0]
    per_jaw = float(v[upper, 1] - v[lower, 1]) / step
    return per_jaw, np.asarray(per_expression, np.float64)


def close_lips(exp: np.ndarray, jaw: np.ndarray, closure: np.ndarray) -> np.ndarray:
    """Expression coefficients with mouth_open changed so the lips meet where `closure` is 1.

    The lips reach a bilabial closure whatever the jaw and the other layers (emotion, habit)
    are doing (lip compensation): where closure c is 1 the vertical gap between the lip
    midlines becomes 0, in between it is scaled by 1 - c.

    Args:
        exp: (T, >=NUM_EXPRESSION of the face) expression coefficients (not modified).
        jaw: (T,) jaw opening (rad).
        closure: (T,) in [0, 1] (`lip_closure`).

    Returns:
        (T, D) the corrected coefficients.
    """
    per_jaw, per_expression = lip_gap_slopes()
    n = min(exp.shape[1], len(per_expression))
    gap = per_jaw * jaw + exp[:, :n] @ per_expression[:n]
    k = EXPRESSION_NAMES.index("mouth_open")
    out = exp.copy()
    out[:, k] -= closure * gap / per_expression[k]
    return out
