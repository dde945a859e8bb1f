"""Mouth motion from phonemes: lips open on open vowels and close on p/b/m, without steps."""

from __future__ import annotations

import numpy as np
import pytest

from lsf_animation.data.synth.generate import synthesize_clip
from lsf_animation.data.synth.speakers import make_speakers
from lsf_animation.data.synth.visemes import (
    CHANNELS,
    mouth_trajectory,
    place_channels,
    viseme_class,
)
from lsf_animation.face.builtin import EXPRESSION_NAMES, builtin_face
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


def test_each_mouth_channel_drives_its_own_coefficient() -> None:
    intervals = [("open", 0.0, 0.2), ("bilabial", 0.2, 0.3), ("rounded_close", 0.3, 0.5)]
    mouth = mouth_trajectory(intervals, 15)
    exp, jaw = place_channels(mouth, 50)
    assert exp.shape == (15, 50) and jaw.shape == (15,)
    used = []
    for k, channel in enumerate(CHANNELS):
        if channel == "jaw":
            np.testing.assert_array_equal(jaw, mouth[:, k])
        else:
            used.append(EXPRESSION_NAMES.index(channel))
            np.testing.assert_array_equal(exp[:, used[-1]], mouth[:, k])
    assert not np.delete(exp, used, axis=1).any()
    assert np.ptp(jaw) > 0.1  # the open vowel opens the jaw, the bilabial closes it
