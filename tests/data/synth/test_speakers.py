"""Speakers: MEAD-style ids, voices by gender, style predictable from the face shape."""

from __future__ import annotations

import re

import numpy as np
import pytest

from lsf_animation.data.synth.generate import measured_jaw_amplitude
from lsf_animation.data.synth.sentences import SENTENCES, sentence_pools
from lsf_animation.data.synth.speakers import articulation_style, make_speakers
from lsf_animation.errors import LsfError


def test_ids_voices_and_determinism() -> None:
    speakers = make_speakers(10, seed=3)
    assert [s.subject for s in speakers[:4]] == ["M001", "W001", "M002", "W002"]
    assert all(re.fullmatch(r"[MW]0\d\d", s.subject) for s in speakers)
    assert all(("+m" in s.voice.name) == s.male for s in speakers)
    assert min(s.voice.pitch for s in speakers if not s.male) > max(
        s.voice.pitch for s in speakers if s.male
    )
    again = make_speakers(12, seed=3)[:10]  # a larger corpus extends a smaller one
    assert all(
        np.array_equal(a.shape, b.shape) and a.voice == b.voice
        for a, b in zip(speakers, again, strict=True)
    )
    assert all(s.style == articulation_style(s.shape) for s in speakers)
    assert not np.array_equal(make_speakers(3, seed=4)[0].shape, speakers[0].shape)


def test_too_few_identities_is_a_user_error() -> None:
    with pytest.raises(LsfError, match="at least 3"):
        make_speakers(2, seed=0)


def test_sentences_are_many_distinct_and_split_disjointly() -> None:
    assert len(set(SENTENCES)) == len(SENTENCES) >= 40
    pools = sentence_pools()
    assert sum(len(p) for p in pools.values()) == len(SENTENCES)
    assert not set(pools["train"]) & (set(pools["val"]) | set(pools["test"]))
    assert not set(pools["val"]) & set(pools["test"])


def _r_squared(truth: np.ndarray, pred: np.ndarray) -> float:
    return float(1 - ((truth - pred) ** 2).sum() / ((truth - truth.mean()) ** 2).sum())


def test_jaw_amplitude_is_predictable_from_shape_on_held_out_speakers() -> None:
    """A linear fit from the 20 named shape coefficients to each speaker's measured jaw
    amplitude (95th percentile of jaw opening over 3 neutral clips) explains most of its
    variance on 10 speakers it never saw."""
    speakers = make_speakers(40, seed=11)
    amplitude = np.array([measured_jaw_amplitude(s) for s in speakers])
    design = np.c_[np.array([s.shape[:20] for s in speakers]), np.ones(len(speakers))]
    train, test = slice(0, 30), slice(30, 40)
    weights = np.linalg.lstsq(design[train], amplitude[train], rcond=None)[0]
    r2 = _r_squared(amplitude[test], design[test] @ weights)
    assert r2 > 0.8, r2
