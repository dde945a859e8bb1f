"""Mouth motion from phonemes: lips open on open vowels and close on p/b/m, without steps."""

from __future__ import annotations

import numpy as np
import pytest

from lsf_animation.data.synth.generate import synthesize_clip
from lsf_animation.data.synth.speakers import make_speakers
from lsf_animation.data.synth.visemes import viseme_class
from lsf_animation.face.builtin import builtin_face
from lsf_animation.face.flame import FlameLayer, motion_to_vertices
from lsf_animation.face.measure import lip_aperture


@pytest.mark.parametrize(
    ("phoneme", "cls"),
    [
        ("'a", "open"),
        ("aI", "open"),
        ("p", "bilabial"),
        ("m", "bilabial"),
        ("_:", "rest"),
        ("u:", "rounded_close"),
        ("i:", "close_front"),
        ("f", "labiodental"),
    ],
)
def test_viseme_classes(phoneme: str, cls: str) -> None:
    assert viseme_class(phoneme) == cls


def test_lips_open_on_open_vowels_and_close_on_bilabials() -> None:
    face = builtin_face()
    layer = FlameLayer(face)
    speakers = make_speakers(4, seed=5)
    rest = lip_aperture(face, motion_to_vertices(layer, np.zeros((1, 53), np.float32)))[0]
    at = {"open": [], "bilabial": []}
    for i, text in enumerate(["Bob parked the van by the barn.", "My papa made a map of Rome."]):
        for speaker in speakers:
            clip = synthesize_clip(speaker, "neutral", 1, text, np.random.default_rng(i))
            aperture = lip_aperture(face, motion_to_vertices(layer, clip.motion, clip.shape))
            for cls, start, stop in clip.phonemes:
                if cls in at:
                    at[cls].append(aperture[int(0.5 * (start + stop) * 25)])
            # no step changes: between 40 ms frames the jaw moves by well under its range
            jaw = clip.jaw[:, 0]
            assert np.abs(np.diff(jaw)).max() < 0.6 * (jaw.max() - jaw.min())
    opened, closed = np.array(at["open"]), np.array(at["bilabial"])
    assert len(opened) > 10 and len(closed) > 10
    assert np.median(opened) > rest + 0.008  # > 8 mm wider than at rest
    assert np.median(closed) < rest + 0.002  # back to (about) closed
    assert np.percentile(closed, 90) < np.percentile(opened, 10)
