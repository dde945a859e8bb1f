"""Emotion in the face (upper face differs from neutral, more with the level) and in the voice
(recoverable from the audio alone, on held-out speakers)."""

from __future__ import annotations

import numpy as np
import pytest

from lsf_animation.audio.features import get_extractor
from lsf_animation.data.synth.emotion import EMOTIONS, levels
from lsf_animation.data.synth.generate import synthesize_clip
from lsf_animation.data.synth.sentences import SENTENCES
from lsf_animation.data.synth.speakers import make_speakers
from lsf_animation.face.builtin import builtin_face
from lsf_animation.face.flame import FlameLayer, motion_to_vertices


@pytest.mark.slow
def test_upper_face_differs_from_neutral_and_grows_with_level() -> None:
    """Mean upper-face vertex offset of each (emotion, level) from neutral, over 3 speakers x 2
    sentences: nonzero, and strictly increasing from level 1 to 3."""
    face = builtin_face()
    layer = FlameLayer(face)
    upper = face.regions["upper_face"]
    speakers = make_speakers(3, seed=2)
    mean_motion = {}
    for code, emotion in enumerate(EMOTIONS):
        for level in levels(emotion):
            clips = [
                synthesize_clip(s, emotion, level, SENTENCES[k], np.random.default_rng([code, k]))
                for s in speakers
                for k in (4, 9)
            ]
            mean_motion[emotion, level] = np.mean([c.motion.mean(axis=0) for c in clips], axis=0)
    keys = list(mean_motion)
    vertices = motion_to_vertices(
        layer, np.stack([mean_motion[k] for k in keys]).astype(np.float32)
    )
    upper_face = {k: vertices[i, upper] for i, k in enumerate(keys)}
    neutral = upper_face["neutral", 1]
    for emotion in EMOTIONS[1:]:
        offsets = [
            float(np.linalg.norm(upper_face[emotion, level] - neutral, axis=1).mean())
            for level in (1, 2, 3)
        ]
        assert offsets[0] > 1.5e-4, (emotion, offsets)  # > 0.15 mm on average over the upper face
        assert offsets[0] < offsets[1] < offsets[2], (emotion, offsets)


@pytest.mark.slow
def test_emotion_is_recoverable_from_audio_on_held_out_speakers() -> None:
    """Per-clip mean and spread of the offline-prosody features, standardized per speaker; a
    least-squares linear classifier trained on 7 speakers labels the 8 emotions of 3 unseen
    speakers far above chance (1/8)."""
    extractor = get_extractor("offline-prosody")
    speakers = make_speakers(10, seed=7)
    features, labels, owner = [], [], []
    for i, speaker in enumerate(speakers):
        for code, emotion in enumerate(EMOTIONS):
            for level in levels(emotion):
                text = SENTENCES[(5 * i + 3 * code + level) % len(SENTENCES)]
                clip = synthesize_clip(speaker, emotion, level, text, np.random.default_rng(i))
                frames = extractor(clip.audio)
                voiced = frames[frames[:, 1] > 0.5]
                features.append(np.concatenate([voiced.mean(axis=0), voiced.std(axis=0)]))
                labels.append(code)
                owner.append(i)
    x, y, owner = np.array(features), np.array(labels), np.array(owner)
    for i in range(len(speakers)):  # speaker normalization
        mine = owner == i
        x[mine] = (x[mine] - x[mine].mean(axis=0)) / (x[mine].std(axis=0) + 1e-6)
    design = np.c_[x, np.ones(len(x))]
    train, test = owner < 7, owner >= 7
    weights = np.linalg.lstsq(design[train], np.eye(8)[y[train]], rcond=None)[0]
    accuracy = float(((design[test] @ weights).argmax(axis=1) == y[test]).mean())
    assert accuracy > 0.4, accuracy
