"""The 8 emotions of MEAD x 3 levels, in the voice and in the face.

Voice: each emotion shifts the speaker's pitch, scales the pitch range, the speaking rate and
the loudness, as people do (sad: lower, flatter, slower, quieter; angry: louder, faster; ...).
Face: each emotion has a pattern over the brows, lids, cheeks, nose and mouth corners, and a
gain on articulation. Both are scaled by the level (`LEVEL_SCALE`); the face pattern also follows
the voice's energy over the utterance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lsf_animation.data.synth.espeak import VoiceSettings

EMOTIONS = ("neutral", "happy", "sad", "surprised", "fear", "disgusted", "angry", "contempt")
"""MEAD's folder names; the index is the emotion code."""

LEVEL_SCALE = {1: 0.45, 2: 0.75, 3: 1.0}
"""Fraction of an emotion's full (level 3) pattern shown at each level."""


def levels(emotion: str) -> tuple[int, ...]:
    """The levels an emotion has in MEAD: neutral only level 1, the others 1..3."""
    return (1,) if emotion == "neutral" else (1, 2, 3)


@dataclass(frozen=True)
class VoiceShift:
    """An emotion's effect on the voice at level 3: added pitch (0..100 scale), factors on the
    pitch range, rate and volume; voice quality as a spectral tilt (+ brighter, pressed voice;
    - darker, lax voice; in [-1, 1]) and a tremor (depth of a 7 Hz loudness wobble)."""

    pitch: float = 0.0
    range: float = 1.0
    rate: float = 1.0
    volume: float = 1.0
    tilt: float = 0.0
    tremor: float = 0.0


# The directions follow the acoustic profiles of vocal emotion summarized by Juslin and Laukka
# (2003, "Communication of emotions in vocal expression and music performance: different
# channels, same code?", Psychological Bulletin 129(5), 770-814, Table 7, the cue patterns of
# anger, fear, happiness and sadness in vocal expression):
#   anger:     fast rate, high intensity, much high-frequency energy, high F0, much F0 variability
#   fear:      fast rate, low intensity, little high-frequency energy, high F0, little F0
#              variability, irregular microstructure (here a tremor)
#   happiness: fast rate, medium-high intensity, medium high-frequency energy, high F0, much F0
#              variability
#   sadness:   slow rate, low intensity, little high-frequency energy, low F0, little F0
#              variability, irregular microstructure (a faint tremor)
# Surprise, disgust and contempt are not in that table; their settings (surprise: high, wide,
# slowed F0; disgust and contempt: low F0, slow, low to medium intensity) are our reading of
# acted portrayals (Banse and Scherer 1996, J. Personality and Social Psychology 70(3)) and are
# assumptions. The sizes were chosen so that one utterance of an unseen speaker tells the
# emotions apart (no speaker baseline is available at inference): happy (fast, bright) and
# surprised (slow, high, wide) used to overlap.
VOICE: dict[str, VoiceShift] = {
    "neutral": VoiceShift(),
    "happy": VoiceShift(pitch=12, range=1.5, rate=1.18, volume=1.2, tilt=0.6),
    "sad": VoiceShift(pitch=-14, range=0.35, rate=0.75, volume=0.6, tilt=-0.7, tremor=0.1),
    "surprised": VoiceShift(pitch=28, range=2.3, rate=0.82, volume=1.3, tilt=-0.15),
    "fear": VoiceShift(pitch=20, range=0.6, rate=1.3, volume=0.8, tilt=-0.2, tremor=0.35),
    "disgusted": VoiceShift(pitch=-8, range=1.2, rate=0.8, volume=1.0, tilt=-0.4),
    "angry": VoiceShift(pitch=10, range=1.3, rate=1.18, volume=1.75, tilt=0.9),
    "contempt": VoiceShift(pitch=-4, range=0.5, rate=0.85, volume=0.8, tilt=0.5),
}
"""Each emotion's voice at level 3 (anger's F0 raised from +6 and sadness given a faint tremor to
match the table above)."""

FACE: dict[str, dict[str, float]] = {
    "neutral": {},
    "happy": {
        "lip_corner_up": 2.0,
        "cheek_raise": 1.6,
        "eye_close_left": 0.5,
        "eye_close_right": 0.5,
        "brow_outer_raise": 0.4,
    },
    "sad": {
        "brow_inner_raise": 1.8,
        "brow_lower": 0.6,
        "eye_close_left": 0.5,
        "eye_close_right": 0.5,
        "lip_corner_down": 1.6,
        "lip_press": 0.3,
    },
    "surprised": {
        "brow_inner_raise": 1.6,
        "brow_outer_raise": 2.0,
        "eye_close_left": -0.6,
        "eye_close_right": -0.6,
        "mouth_open": 0.5,
    },
    "fear": {
        "brow_inner_raise": 1.8,
        "brow_outer_raise": 0.9,
        "brow_lower": 0.7,
        "eye_close_left": -0.7,
        "eye_close_right": -0.7,
        "lip_stretch": 1.2,
        "lip_corner_down": 0.4,
    },
    "disgusted": {
        "nose_wrinkle": 1.8,
        "upper_lip_raise": 1.2,
        "brow_lower": 1.2,
        "cheek_raise": 0.7,
        "lip_corner_down": 0.6,
        "eye_close_left": 0.35,
        "eye_close_right": 0.35,
    },
    "angry": {
        "brow_lower": 2.0,
        "nose_wrinkle": 0.5,
        "eye_close_left": 0.3,
        "eye_close_right": 0.3,
        "lip_press": 0.8,
        "lip_stretch": 0.3,
    },
    "contempt": {
        "mouth_left": 1.2,
        "lip_corner_up": 0.5,
        "brow_lower": 0.7,
        "brow_outer_raise": 0.6,
        "eye_close_left": 0.35,
        "eye_close_right": 0.35,
    },
}
"""Each emotion's face pattern at level 3 (expression name -> coefficient)."""

ARTICULATION_GAIN = {
    "neutral": 1.0,
    "happy": 1.1,
    "sad": 0.75,
    "surprised": 1.15,
    "fear": 0.9,
    "disgusted": 0.95,
    "angry": 1.25,
    "contempt": 0.85,
}
"""Gain on mouth movement at level 3 (aroused speech articulates more)."""

UPPER_FACE = ("brow_inner_raise", "brow_outer_raise", "brow_lower", "cheek_raise", "nose_wrinkle")
"""Expressions the speaker's brow activity scales."""


def _mix(neutral: float, full: float, level: int) -> float:
    return neutral + LEVEL_SCALE[level] * (full - neutral)


def emotional_voice(voice: VoiceSettings, emotion: str, level: int) -> VoiceSettings:
    """The speaker's voice with an emotion at a level (parameters clipped to eSpeak's ranges)."""
    shift = VOICE[emotion]
    if emotion == "neutral":
        return voice
    return VoiceSettings(
        name=voice.name,
        rate=round(min(max(voice.rate * _mix(1.0, shift.rate, level), 90), 400)),
        pitch=round(min(max(voice.pitch + _mix(0.0, shift.pitch, level), 0), 99)),
        range=round(min(max(voice.range * _mix(1.0, shift.range, level), 0), 99)),
        volume=round(min(max(voice.volume * _mix(1.0, shift.volume, level), 10), 190)),
    )


def articulation_gain(emotion: str, level: int) -> float:
    return _mix(1.0, ARTICULATION_GAIN[emotion], level)


def face_pattern(emotion: str, level: int) -> dict[str, float]:
    """Expression name -> coefficient for an emotion at a level (before energy modulation)."""
    scale = LEVEL_SCALE[level]
    return {name: scale * value for name, value in FACE[emotion].items()}


def voice_quality(audio: np.ndarray, sample_rate: int, emotion: str, level: int) -> np.ndarray:
    """Apply the emotion's spectral tilt and tremor to (N,) float32 speech at `sample_rate`."""
    from scipy.signal import lfilter

    shift = VOICE[emotion]
    tilt = LEVEL_SCALE[level] * shift.tilt
    tremor = LEVEL_SCALE[level] * shift.tremor
    out = np.asarray(audio, np.float64)
    if tilt > 0:  # pre-emphasis: y[n] = x[n] + b (x[n] - x[n-1])
        out = out + 0.9 * tilt * np.diff(out, prepend=0.0)
    elif tilt < 0:  # one-pole low-pass, unit gain at DC
        pole = 0.75 * -tilt
        out = lfilter([1.0 - pole], [1.0, -pole], out)
    if tremor > 0:
        t = np.arange(len(out)) / sample_rate
        out = out * (1.0 + tremor * np.sin(2 * np.pi * 7.0 * t))
    return np.clip(out, -1.0, 1.0).astype(np.float32)
