"""ARKit curves mean what their names say, on synthetic clips whose phones and emotions are known.

The synthetic corpus's face motion is made from eSpeak's phoneme timeline (bilabials close and
press the lips, rounded vowels pucker and funnel them) and the emotion's face pattern (happy
raises the mouth corners, sad lowers them); fitting the ARKit targets to that motion must give
curves that rise at those phones and emotions.
"""

from __future__ import annotations

import numpy as np
import pytest

from lsf_animation.data.synth.generate import synthesize_clip
from lsf_animation.data.synth.speakers import make_speakers
from lsf_animation.export.arkit import fit_arkit
from lsf_animation.face.arkit import ARKIT_NAMES
from lsf_animation.face.builtin import builtin_face
from lsf_animation.face.builtin_arkit import builtin_arkit_targets

pytestmark = pytest.mark.slow

BILABIALS = "Bob may buy more maps and a big blue pump by the bay."
ROUNDING = "Sue sees two moons, but Lee eats cheese by the blue sea."
EMOTIONS = "I think the weather will be lovely this afternoon."
FPS = 25


def _curves(emotion: str, text: str, speaker_index: int = 0):
    speaker = make_speakers(3, seed=0)[speaker_index]
    level = 1 if emotion == "neutral" else 3
    clip = synthesize_clip(speaker, emotion, level, text, np.random.default_rng(0))
    motion = np.concatenate([clip.exp[:, :50], clip.jaw], axis=1)
    fit = fit_arkit(builtin_face(), motion, clip.shape, builtin_arkit_targets())
    return clip, motion, fit.weights


def _mean(weights: np.ndarray, names: tuple[str, ...], frames: np.ndarray) -> float:
    return float(weights[np.ix_(frames, [ARKIT_NAMES.index(n) for n in names])].mean())


def _centres(clip, classes: set[str]) -> np.ndarray:
    """Frames at the middle of the phones of the given viseme classes."""
    frames = {int(0.5 * (a + b) * FPS) for cls, a, b in clip.phonemes if cls in classes}
    return np.array(sorted(frames), dtype=int)


@pytest.fixture(scope="module")
def bilabial_clip():
    return _curves("neutral", BILABIALS)


def test_jaw_open_follows_the_jaw(bilabial_clip):
    _, motion, weights = bilabial_clip
    jaw_open = weights[:, ARKIT_NAMES.index("jawOpen")]
    assert np.corrcoef(jaw_open, motion[:, 50])[0, 1] > 0.98
    # 0.4 rad is jawOpen = 1 on this face: the weight reads as the opening angle.
    assert np.abs(jaw_open - motion[:, 50] / 0.4).max() < 0.1


def test_mouth_press_and_close_rise_on_bilabial_closure(bilabial_clip):
    clip, _, weights = bilabial_clip
    closed = _centres(clip, {"bilabial"})
    vowels = _centres(clip, {"open", "mid"})
    assert len(closed) >= 8 and len(vowels) >= 5
    press = ("mouthPressLeft", "mouthPressRight")
    assert _mean(weights, press, closed) > 0.3
    assert _mean(weights, press, closed) > 2.0 * _mean(weights, press, vowels)
    assert _mean(weights, ("mouthClose",), closed) > _mean(weights, ("mouthClose",), vowels)
    assert _mean(weights, ("jawOpen",), closed) < 0.5 * _mean(weights, ("jawOpen",), vowels)


def test_pucker_and_funnel_on_rounded_vowels():
    clip, _, weights = _curves("neutral", ROUNDING)
    rounded = _centres(clip, {"rounded_mid", "rounded_close", "w"})
    spread = _centres(clip, {"close_front"})
    assert len(rounded) >= 3 and len(spread) >= 3
    pucker = _mean(weights, ("mouthPucker",), rounded)
    assert pucker > 0.15 and pucker > 3.0 * _mean(weights, ("mouthPucker",), spread)
    assert _mean(weights, ("mouthFunnel",), rounded) > _mean(weights, ("mouthFunnel",), spread)


def test_smiles_on_happy_speech_and_frowns_on_sad():
    smile = ("mouthSmileLeft", "mouthSmileRight")
    frown = ("mouthFrownLeft", "mouthFrownRight")
    means = {}
    for emotion in ("happy", "neutral", "sad"):
        _, _, weights = _curves(emotion, EMOTIONS)
        every = np.arange(len(weights))
        means[emotion] = (_mean(weights, smile, every), _mean(weights, frown, every))
    assert means["happy"][0] > means["neutral"][0] + 0.3
    assert means["happy"][0] > means["sad"][0] + 0.3
    assert means["sad"][1] > means["happy"][1] + 0.3
