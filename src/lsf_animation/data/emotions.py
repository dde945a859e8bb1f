"""MEAD's emotion and intensity labels.

Codes (3DMEAD, MEAD, ProbTalk3D): 0 neutral, 1 happy, 2 sad, 3 surprised, 4 fear, 5 disgusted,
6 angry, 7 contempt; the names are MEAD's folder names. Intensity levels are 1..3 (folders
`level_1`..`level_3`); neutral clips exist only at level 1. Model labels use 0-based indices:
`emotion` = the code, `intensity` = level - 1.
"""

from __future__ import annotations

from lsf_animation.errors import LsfError

EMOTIONS: tuple[str, ...] = (
    "neutral",
    "happy",
    "sad",
    "surprised",
    "fear",
    "disgusted",
    "angry",
    "contempt",
)
"""Emotion names indexed by code."""
NUM_EMOTIONS = len(EMOTIONS)
NUM_LEVELS = 3
"""Intensity levels 1..NUM_LEVELS."""
NEUTRAL = 0


def emotion_code(value: str | int) -> int:
    """Emotion code 0..7 from a MEAD folder name ("angry", any case) or a numeric code (6, "6").

    Raises:
        LsfError: neither a known name nor a code in 0..7.
    """
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        code = int(value)
        if 0 <= code < NUM_EMOTIONS:
            return code
    elif isinstance(value, str) and value.strip().lower() in EMOTIONS:
        return EMOTIONS.index(value.strip().lower())
    raise LsfError(
        f"unknown emotion {value!r}; expected one of {', '.join(EMOTIONS)} or a code 0..7"
    )


def emotion_name(code: int) -> str:
    """MEAD folder name of an emotion code 0..7."""
    if not 0 <= code < NUM_EMOTIONS:
        raise LsfError(f"emotion code {code} out of range 0..{NUM_EMOTIONS - 1}")
    return EMOTIONS[code]
