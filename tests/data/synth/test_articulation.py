"""The synthetic corpus articulates the phones, on time: scored with the same phone-level
measures as real speech (eval.phone_lips), at eSpeak's own phone times."""

from __future__ import annotations

import numpy as np
import pytest

from lsf_animation.audio.phonetic import PhoneSegment
from lsf_animation.data.synth.generate import synthesize_clip
from lsf_animation.data.synth.sentences import SENTENCES
from lsf_animation.data.synth.speakers import make_speakers
from lsf_animation.data.synth.visemes import close_lips, lip_gap_slopes
from lsf_animation.eval.lipsync import speech_envelope
from lsf_animation.eval.phone_lips import phone_lip_sync, pool
from lsf_animation.face.builtin import EXPRESSION_NAMES, builtin_face
from lsf_animation.face.flame import FlameLayer, motion_to_vertices
from lsf_animation.face.measure import lip_gap, mouth_width

# A phone standing for each viseme class the measures read.
PHONE_OF_CLASS = {
    "bilabial": "P",
    "rounded_close": "UW",
    "rounded_mid": "OW",
    "w": "W",
    "close_front": "IY",
    "mid": "EH",
    "open": "AA",
    "rest": "SIL",
}


@pytest.fixture(scope="module")
def measures():  # type: ignore[no-untyped-def]
    face = builtin_face()
    layer = FlameLayer(face)
    speakers = make_speakers(24, seed=0)
    results = []
    for k in range(12):
        emotion = ("neutral", "happy", "sad", "surprised", "angry", "disgusted")[k % 6]
        clip = synthesize_clip(
            speakers[(5 * k) % 24],
            emotion,
            1 if emotion == "neutral" else 3,
            SENTENCES[k],
            np.random.default_rng(k),
        )
        verts = motion_to_vertices(layer, clip.motion, np.zeros(300, np.float32))
        gap = lip_gap(face, verts)
        phones = [PhoneSegment(PHONE_OF_CLASS.get(c, "T"), a, b) for c, a, b in clip.phonemes]
        envelope = speech_envelope(clip.audio, len(gap))
        results.append(phone_lip_sync(gap, mouth_width(face, verts), envelope, phones))
    return pool(results)


def test_bilabials_close_even_in_open_emotional_faces(measures) -> None:  # type: ignore[no-untyped-def]
    # Surprise opens the mouth and disgust raises the upper lip: the lips still meet.
    assert len(measures.bilabial_apertures) > 30
    assert measures.bilabials_closed > 0.95
    assert measures.open_vowel_median > 0.6


def test_rounded_vowels_narrow_the_mouth(measures) -> None:  # type: ignore[no-untyped-def]
    # Measured 0.80 (0.87 before the rounding was strengthened).
    assert measures.rounding_ratio < 0.85


def test_the_mouth_moves_with_the_sound_not_after_it(measures) -> None:  # type: ignore[no-untyped-def]
    # Measured +11 ms (+27 ms with Gaussian kernels peaking at the phone centres and eSpeak's
    # event delay left in).
    assert abs(measures.lag_ms) <= 20
    assert np.mean(measures.envelope_r) > 0.5


def test_close_lips_brings_the_lip_midlines_together() -> None:
    per_jaw, per_expression = lip_gap_slopes()
    assert 0.08 < per_jaw < 0.12  # ~0.1 m per radian: the lower lip is ~10 cm from the hinge
    k = EXPRESSION_NAMES.index("mouth_open")
    exp = np.zeros((3, 100))
    exp[:, EXPRESSION_NAMES.index("upper_lip_raise")] = 1.0
    jaw = np.array([0.0, 0.1, 0.1])
    closure = np.array([1.0, 1.0, 0.5])
    out = close_lips(exp, jaw, closure)
    gap = per_jaw * jaw + out[:, :100] @ per_expression
    before = per_jaw * jaw + exp @ per_expression
    np.testing.assert_allclose(gap, [0.0, 0.0, 0.5 * before[2]], atol=1e-9)
    assert out[0, k] < 0 and (np.delete(out, k, axis=1) == np.delete(exp, k, axis=1)).all()
