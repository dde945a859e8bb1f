"""Synthetic speakers: MEAD-style ids, a face shape, a voice, and an articulation style that is a
deterministic function of the face shape (so the neutral face predicts how a speaker moves).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lsf_animation.constants import NUM_SHAPE
from lsf_animation.data.synth.espeak import VoiceSettings
from lsf_animation.errors import LsfError
from lsf_animation.face.builtin import SHAPE_NAMES

MAX_PER_GENDER = 99  # ids M001..M099 and W001..W099

_MALE_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7")
_FEMALE_VARIANTS = ("f1", "f2", "f3", "f4", "f5")
_ACCENTS = ("en-us", "en")  # American and British English


def _s(name: str) -> int:
    return SHAPE_NAMES.index(name)


@dataclass(frozen=True)
class ArticulationStyle:
    """How a speaker moves, derived from the face shape by `articulation_style`.

    Attributes:
        jaw_amplitude: gain on jaw opening and mouth_open (1 = average).
        round_amplitude: gain on lip rounding (pucker, funnel).
        spread_amplitude: gain on lip spreading (stretch).
        corner_habit: constant mouth-corner offset in expression units (+ up, - down).
        brow_activity: gain on brow movement (emotional and emphatic).
    """

    jaw_amplitude: float
    round_amplitude: float
    spread_amplitude: float
    corner_habit: float
    brow_activity: float


def articulation_style(shape: np.ndarray) -> ArticulationStyle:
    """The speaker's articulation style from shape coefficients (300,). Linear in a few named
    coefficients (longer faces and wider jaws open more, fuller lips round more, ...), clipped
    to a plausible range."""
    s = np.asarray(shape, np.float64)
    jaw = 1.0 + 0.16 * s[_s("face_length")] + 0.12 * s[_s("jaw_width")] - 0.07 * s[_s("chin")]
    round_ = 1.0 + 0.18 * s[_s("lip_thickness")] - 0.08 * s[_s("mouth_width")]
    spread = 1.0 + 0.18 * s[_s("mouth_width")] + 0.05 * s[_s("cheek_fullness")]
    corner = 0.30 * s[_s("cheekbones")] + 0.20 * s[_s("cheek_fullness")]
    brow = 1.0 + 0.25 * s[_s("brow_ridge")] + 0.15 * s[_s("forehead")]
    return ArticulationStyle(
        jaw_amplitude=float(np.clip(jaw, 0.45, 1.6)),
        round_amplitude=float(np.clip(round_, 0.45, 1.6)),
        spread_amplitude=float(np.clip(spread, 0.45, 1.6)),
        corner_habit=float(np.clip(corner, -0.8, 0.8)),
        brow_activity=float(np.clip(brow, 0.4, 1.8)),
    )


@dataclass(frozen=True)
class Speaker:
    """One synthetic identity.

    Attributes:
        subject: MEAD-style id, "M0xx" (male voice) or "W0xx" (female voice).
        shape: (300,) float32 shape coefficients (first 20 ~ N(0, 1), next 80 ~ N(0, 0.3²),
            rest 0).
        voice: the neutral voice (eSpeak NG voice+variant, rate, pitch, range, volume).
        style: articulation style, `articulation_style(shape)`.
    """

    subject: str
    shape: np.ndarray
    voice: VoiceSettings
    style: ArticulationStyle

    @property
    def male(self) -> bool:
        return self.subject.startswith("M")


def make_speakers(num_identities: int, seed: int) -> list[Speaker]:
    """`num_identities` speakers, alternating male and female (M001, W001, M002, ...).

    Each speaker depends only on (seed, its own index), so a larger corpus extends a smaller one.
    """
    if num_identities < 3:
        raise LsfError(
            f"--identities must be at least 3 (one each for train, val and test), got "
            f"{num_identities}"
        )
    if num_identities > 2 * MAX_PER_GENDER:
        raise LsfError(
            f"--identities must be at most {2 * MAX_PER_GENDER} (ids M001..M099, W001..W099), "
            f"got {num_identities}"
        )
    speakers = []
    for index in range(num_identities):
        rng = np.random.default_rng([seed, 1, index])
        male = index % 2 == 0
        number = index // 2 + 1
        subject = f"{'M' if male else 'W'}{number:03d}"
        shape = np.zeros(NUM_SHAPE)
        shape[:20] = rng.standard_normal(20)
        shape[20:100] = 0.3 * rng.standard_normal(80)
        variants = _MALE_VARIANTS if male else _FEMALE_VARIANTS
        voice = VoiceSettings(
            name=f"{_ACCENTS[int(rng.integers(len(_ACCENTS)))]}+"
            f"{variants[int(rng.integers(len(variants)))]}",
            rate=int(rng.integers(150, 191)),
            pitch=int(rng.integers(28, 48) if male else rng.integers(52, 72)),
            range=int(rng.integers(40, 66)),
            volume=int(rng.integers(85, 111)),
        )
        shape = shape.astype(np.float32)
        speakers.append(Speaker(subject, shape, voice, articulation_style(shape)))
    return speakers
