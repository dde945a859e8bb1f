"""The release's length matching (resample to 2:1) next to the default trimming."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fixtures_mead import FixtureClip, make_mead_corpus, mead_audio_stem, write_wav
from lsf_animation.audio.cache import FeatureCache
from lsf_animation.audio.features import num_frames_50hz
from lsf_animation.data.clips import read_motion
from lsf_animation.data.corpus import scan_corpus
from lsf_animation.data.dataset import ClipDataset, FeatureSource
from lsf_animation.data.length_match import interpolate_to_pairs, resample_frames
from lsf_animation.errors import LsfError


def _release(audio: np.ndarray, emotion: np.ndarray, motion: np.ndarray):
    """The release's resample_input for 50 Hz features and 25 fps motion, in torch."""

    def resize(x: torch.Tensor, n: int) -> torch.Tensor:
        return F.interpolate(x.permute(0, 2, 1), size=n, mode="linear", align_corners=True).permute(
            0, 2, 1
        )

    a, e, m = (torch.from_numpy(x)[None] for x in (audio, emotion, motion))
    if a.shape[1] % 2:
        a, e = resize(a, a.shape[1] - 1), resize(e, a.shape[1] - 1)
    if a.shape[1] > 2 * m.shape[1]:
        a, e = resize(a, 2 * m.shape[1]), resize(e, 2 * m.shape[1])
    elif a.shape[1] < 2 * m.shape[1]:
        m = resize(m, a.shape[1] // 2)
    return a[0].numpy(), e[0].numpy(), m[0].numpy()


@pytest.mark.parametrize(("t50", "t"), [(41, 20), (40, 20), (47, 20), (30, 20), (31, 16), (2, 5)])
def test_interpolation_follows_the_release(t50: int, t: int) -> None:
    rng = np.random.default_rng(t50 * 100 + t)
    audio, emotion = (
        rng.standard_normal((t50, 6), np.float32),
        rng.standard_normal((t50, 4), np.float32),
    )
    motion = rng.standard_normal((t, 53), np.float32)
    feats, m = interpolate_to_pairs({"motion": audio, "emotion": emotion}, motion)
    ra, re, rm = _release(audio, emotion, motion)
    np.testing.assert_allclose(feats["motion"], ra, atol=1e-6)
    np.testing.assert_allclose(feats["emotion"], re, atol=1e-6)
    np.testing.assert_allclose(m, rm, atol=1e-6)
    assert feats["motion"].shape[0] == 2 * m.shape[0]


def test_resampling_keeps_the_ends_and_is_linear() -> None:
    x = np.arange(11, dtype=np.float32)[:, None] * np.array([[1.0, -2.0]], np.float32)
    y = resample_frames(x, 6)
    np.testing.assert_allclose(y[:, 0], np.linspace(0, 10, 6), atol=1e-6)
    np.testing.assert_allclose(y[:, 1], -2 * np.linspace(0, 10, 6), atol=1e-5)
    with pytest.raises(LsfError):
        resample_frames(x[:1], 3)


class RampExtractor:
    """Frame j -> [j, j]: makes resampling visible."""

    name, rate_hz, dim = "test-ramp", 50.0, 2

    def fingerprint(self) -> str:
        return "ramp-v1"

    def __call__(self, wav: np.ndarray) -> np.ndarray:
        n = num_frames_50hz(len(wav))
        return np.repeat(np.arange(n, dtype=np.float32)[:, None], 2, axis=1)


def test_dataset_option_resamples_instead_of_trimming(tmp_path: Path) -> None:
    clip = FixtureClip("M003", 0, 1, 1, 20)
    make_mead_corpus(tmp_path, [clip], audio_format="wav")
    write_wav(mead_audio_stem(tmp_path / "MEAD", clip).with_suffix(".wav"), 1.0)  # 49 frames
    (c,) = scan_corpus(tmp_path, check_lengths=False).clips
    cache, ramp = FeatureCache(tmp_path / "cache"), RampExtractor()
    assert cache.get_or_compute(ramp, c.audio_path).shape[0] == 49
    source = {"motion": FeatureSource(ramp, cache)}
    trimmed = ClipDataset([c], None, source)[0]
    resampled = ClipDataset([c], None, source, length_match="interpolate")[0]
    assert trimmed["num_frames"] == resampled["num_frames"] == 20
    np.testing.assert_array_equal(trimmed["motion_features"][:, 0], np.arange(40))
    # 49 frames (0..48) -> 48 -> 40, ends kept: the ramp is stretched over 40 frames, not cut
    np.testing.assert_allclose(
        resampled["motion_features"][:, 0], np.linspace(0, 48, 40), atol=1e-4
    )
    np.testing.assert_array_equal(resampled["motion"], read_motion(c).motion)
    with pytest.raises(LsfError, match="length_match"):
        ClipDataset([c], None, source, length_match="stretch")
