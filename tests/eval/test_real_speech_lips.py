"""Phone-level lip measures on real speech (the LibriVox clips in ../shared/audio)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pocketsphinx")

from lsf_animation.audio.load import load_audio
from lsf_animation.audio.phonetic import PhoneRecognizer
from lsf_animation.eval.lipsync import speech_envelope
from lsf_animation.eval.phone_lips import (
    BILABIALS,
    OPEN_VOWELS,
    centre_frames,
    phone_lip_sync,
    pool,
)

LIBRIVOX = Path(__file__).resolve().parents[3] / "shared" / "audio" / "librivox"


@pytest.fixture(scope="module")
def clips() -> list[tuple[np.ndarray, list]]:
    """(waveform, aligned phones) of each LibriVox clip."""
    if not (LIBRIVOX / "transcription").is_file():
        pytest.skip("no LibriVox clips")
    aligner = PhoneRecognizer()
    out = []
    for line in (LIBRIVOX / "transcription").read_text().splitlines():
        text, name = re.match(r"<s> (.*) </s> \((.*)\)", line).groups()
        wav = load_audio(LIBRIVOX / f"{name}.wav")
        out.append((wav, aligner.align(wav, text)))
    return out


def test_aligned_phones_sit_where_the_voice_says(clips) -> None:  # type: ignore[no-untyped-def]
    """The voice is quieter at the aligned bilabials than at the aligned open vowels."""
    for wav, phones in clips:
        env = speech_envelope(wav, round(len(wav) / 640))
        frames = centre_frames(phones, len(env), 25.0)
        names = np.array([p.phone for p in phones])
        assert np.median(env[frames[np.isin(names, BILABIALS)]]) < 0.6 * np.median(
            env[frames[np.isin(names, OPEN_VOWELS)]]
        )


def test_loudness_follower_scores_as_the_issue_describes(clips) -> None:  # type: ignore[no-untyped-def]
    results = []
    for wav, phones in clips:
        env = speech_envelope(wav, round(len(wav) / 640))
        results.append(phone_lip_sync(env, np.full(len(env), 0.05), env, phones))
    pooled = pool(results)
    assert len(pooled.bilabial_apertures) == 29
    assert pooled.rounding_ratio == pytest.approx(1.0)
    assert pooled.lag_ms == pytest.approx(0.0, abs=1e-6)
    assert 0.6 < pooled.bilabials_closed < 0.95  # loudness alone closes many, not all
    assert pooled.open_vowel_median < 0.5  # but it does not open the vowels in proportion


def test_demo_model_closes_bilabials_more_than_open_vowels(clips) -> None:  # type: ignore[no-untyped-def]
    from lsf_animation.api import Animator
    from lsf_animation.face.measure import lip_gap, mouth_width

    animator = Animator.from_checkpoint("demo")
    results = []
    for wav, phones in clips:
        verts = animator.animate(wav, seed=0).vertices()
        gap = lip_gap(animator.face, verts)
        results.append(
            phone_lip_sync(
                gap, mouth_width(animator.face, verts), speech_envelope(wav, len(gap)), phones
            )
        )
    pooled = pool(results)
    assert np.median(pooled.bilabial_apertures) < 0.5 * pooled.open_vowel_median
    # the lips round on /UW OW W/ (the shipped model: 0.90; without rounding 1.0)
    assert pooled.rounding_ratio < 0.95
    # The mouth follows loudness on every clip, if less than the goal of 0.55 (the shipped
    # model: 0.47 pooled, 0.22 on its weakest clip, where the corpus's own articulation of the
    # aligned phones scores 0.25; see the README's scores).
    assert (pooled.envelope_r > 0.2).all() and pooled.mean_envelope_r > 0.4
