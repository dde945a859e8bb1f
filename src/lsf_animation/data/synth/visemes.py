"""Mouth motion from a phoneme timeline: viseme targets blended with coarticulation, at 25 fps.

Each eSpeak NG phoneme maps to a viseme target over the mouth channels (`CHANNELS`: jaw opening
in radians and seven expression coefficients of the built-in face) and a dominance. The
trajectory is a dominance-weighted blend of all targets (in the manner of Cohen and Massaro's
coarticulation model): phoneme i pulls with weight a_i * exp(-((t - c_i) / w_i)^2) around its
centre c_i, so neighbours blend and nothing steps. Bilabials are dominant and narrow (the lips
close even between open vowels); alveolars and velars are weak (they take their vowels' shape).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lsf_animation.constants import FPS
from lsf_animation.data.synth.espeak import Phoneme

SUBSTEPS = 4  # trajectory evaluated at 100 Hz, averaged into each 40 ms frame

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
    """A mouth target (values per `CHANNELS`) and its dominance (pull strength, width scale)."""

    target: tuple[float, ...]
    dominance: float
    width: float = 1.0


def _v(dominance: float, width: float = 1.0, **values: float) -> Viseme:
    return Viseme(tuple(values.get(c, 0.0) for c in CHANNELS), dominance, width)


REST = _v(1.0, 1.2)
VISEMES: dict[str, Viseme] = {
    "open": _v(1.0, jaw=0.18, mouth_open=1.1, lower_lip_depress=0.3),
    "mid": _v(1.0, jaw=0.13, mouth_open=0.6, lip_stretch=0.2),
    "close_front": _v(1.0, jaw=0.06, mouth_open=0.2, lip_stretch=0.9),
    "rounded_mid": _v(1.0, jaw=0.14, mouth_open=0.4, lip_pucker=0.8, lip_funnel=0.9),
    "rounded_close": _v(1.2, jaw=0.06, mouth_open=0.1, lip_pucker=1.3, lip_funnel=0.8),
    "bilabial": _v(6.0, 0.6, jaw=0.015, mouth_open=-0.8, lip_press=1.0),
    "labiodental": _v(3.0, 0.7, jaw=0.04, mouth_open=-0.3, upper_lip_raise=0.4),
    "dental": _v(0.6, jaw=0.06, mouth_open=0.25),
    "alveolar": _v(0.35, jaw=0.05, mouth_open=0.15),
    "sibilant": _v(0.8, jaw=0.03, lip_stretch=0.5),
    "postalveolar": _v(1.5, 0.8, jaw=0.05, lip_pucker=0.6, lip_funnel=1.1),
    "w": _v(2.0, 0.8, jaw=0.04, lip_pucker=1.4, lip_funnel=0.5),
    "r": _v(0.8, jaw=0.06, lip_pucker=0.5, lip_funnel=0.3),
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


def phoneme_intervals(phonemes: Sequence[Phoneme], end: float) -> list[tuple[str, float, float]]:
    """(class, start s, stop s) per phoneme; each lasts until the next one starts (the last until
    `end`). Zero-length events (eSpeak emits a pause and a phoneme at one instant) are dropped."""
    out = []
    for i, p in enumerate(phonemes):
        stop = phonemes[i + 1].start if i + 1 < len(phonemes) else end
        if stop > p.start:
            out.append((viseme_class(p.name), p.start, stop))
    return out


def mouth_trajectory(
    intervals: Sequence[tuple[str, float, float]], num_frames: int, rate_scale: float = 1.0
) -> np.ndarray:
    """The coarticulated mouth channels at 25 fps.

    Args:
        intervals: (class, start s, stop s) from `phoneme_intervals`, on the clip's time axis;
            time outside every interval is rest.
        num_frames: T; frame f covers [f/25, (f+1)/25) s.
        rate_scale: widens (> 1) or narrows the blending kernels.

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
        width = rate_scale * vis.width * max(0.5 * (stop - start), 0.025) + 0.02
        weight = vis.dominance * np.exp(-(((times - centre) / width) ** 2))
        num += weight[:, None] * np.asarray(vis.target)
        den += weight
    traj = num / den[:, None]
    return traj.reshape(num_frames, SUBSTEPS, len(CHANNELS)).mean(axis=1)
