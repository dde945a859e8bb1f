"""Training items from cached features, padded batches, crops."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from fixtures_mead import FixtureClip, make_mead_corpus, mead_audio_stem, write_wav
from lsf_animation.audio.cache import FeatureCache
from lsf_animation.audio.features import num_frames_50hz
from lsf_animation.data.clips import read_motion
from lsf_animation.data.corpus import scan_corpus
from lsf_animation.data.dataset import (
    ClipDataset,
    FeatureSource,
    collate_clips,
    fit_motion_scaler,
)
from lsf_animation.data.identities import IdentityIndex
from lsf_animation.errors import LsfError


class IndexExtractor:
    """Frame j -> [j, j, ...]: makes the 50 Hz alignment visible."""

    rate_hz = 50.0

    def __init__(self, name: str = "test-index", dim: int = 3) -> None:
        self.name = name
        self.dim = dim
        self.calls = 0

    def fingerprint(self) -> str:
        return f"{self.name}-v1"

    def __call__(self, wav: np.ndarray) -> np.ndarray:
        self.calls += 1
        n = num_frames_50hz(len(wav))
        return np.repeat(np.arange(n, dtype=np.float32)[:, None], self.dim, axis=1)


CLIPS = [
    FixtureClip("M003", 0, 1, 1, 20),
    FixtureClip("M003", 6, 2, 2, 33),
    FixtureClip("W009", 1, 3, 3, 26),
]


@pytest.fixture
def corpus_and_cache(tmp_path: Path):  # type: ignore[no-untyped-def]
    make_mead_corpus(tmp_path / "corpus", CLIPS, audio_format="wav")
    corpus = scan_corpus(tmp_path / "corpus")
    cache = FeatureCache(tmp_path / "cache")
    motion_ex, emotion_ex = IndexExtractor("test-motion", 4), IndexExtractor("test-emotion", 2)
    for clip in corpus.clips:
        cache.get_or_compute(motion_ex, clip.audio_path)
        cache.get_or_compute(emotion_ex, clip.audio_path)
    features = {
        "motion": FeatureSource(motion_ex, cache),
        "emotion": FeatureSource(emotion_ex, cache),
    }
    return corpus, cache, features


def test_items_align_features_to_twice_the_motion(corpus_and_cache) -> None:  # type: ignore[no-untyped-def]
    corpus, _, features = corpus_and_cache
    scaler = fit_motion_scaler(corpus.clips)
    ds = ClipDataset(corpus.clips, scaler, features)
    for i, clip in enumerate(corpus.clips):
        item = ds[i]
        raw = read_motion(clip)
        # audio of T/25 s has num_frames_50hz = 2T - 1 frames: motion trimmed to floor(T50/2)
        t = (2 * clip.num_frames - 1) // 2
        assert item["num_frames"] == t == clip.num_frames - 1
        assert item["motion"].shape == (t, 53)
        np.testing.assert_allclose(item["motion"], scaler.transform(raw.motion[:t]), atol=1e-6)
        assert item["motion_features"].shape == (2 * t, 4)
        assert item["emotion_features"].shape == (2 * t, 2)
        np.testing.assert_array_equal(item["motion_features"][:, 0], np.arange(2 * t))
        np.testing.assert_allclose(item["shape"], raw.shape)
        assert item["labels"]["emotion"] == clip.emotion
        assert item["labels"]["intensity"] == clip.level - 1


def test_longer_audio_is_trimmed_to_twice_the_motion(tmp_path: Path) -> None:
    clip = FixtureClip("M003", 0, 1, 1, 20)
    make_mead_corpus(tmp_path, [clip], audio_format="wav")
    write_wav(mead_audio_stem(tmp_path / "MEAD", clip).with_suffix(".wav"), 1.0)  # 49 frames
    (c,) = scan_corpus(tmp_path, check_lengths=False).clips
    ex = IndexExtractor()
    cache = FeatureCache(tmp_path / "cache")
    assert cache.get_or_compute(ex, c.audio_path).shape[0] == 49
    item = ClipDataset([c], None, {"motion": FeatureSource(ex, cache)})[0]
    assert item["num_frames"] == 20 and item["motion_features"].shape == (40, 3)
    np.testing.assert_array_equal(item["motion"], read_motion(c).motion)


def test_collate_pads_to_the_longest_with_masks(corpus_and_cache) -> None:  # type: ignore[no-untyped-def]
    corpus, _, features = corpus_and_cache
    ds = ClipDataset(corpus.clips, fit_motion_scaler(corpus.clips), features)
    batch = collate_clips([ds[0], ds[1], ds[2]])
    lengths = [ds[i]["num_frames"] for i in range(3)]
    t = max(lengths)
    assert batch["motion"].shape == (3, t, 53)
    assert batch["motion_mask"].dtype == torch.bool
    assert batch["motion_mask"].sum(1).tolist() == lengths
    assert batch["feature_mask"].shape == (3, 2 * t)
    assert batch["feature_mask"].sum(1).tolist() == [2 * n for n in lengths]
    assert batch["motion_features"].shape == (3, 2 * t, 4)
    assert batch["emotion_features"].shape == (3, 2 * t, 2)
    for i, n in enumerate(lengths):
        torch.testing.assert_close(batch["motion"][i, :n], torch.from_numpy(ds[i]["motion"]))
        assert torch.all(batch["motion"][i, n:] == 0)
        assert torch.all(batch["motion_features"][i, 2 * n :] == 0)
        assert bool(batch["motion_mask"][i, :n].all()) and not bool(
            batch["motion_mask"][i, n:].any()
        )
    assert batch["shape"].shape == (3, 300)
    assert batch["labels"]["emotion"].tolist() == [c.emotion for c in corpus.clips]
    assert batch["labels"]["intensity"].dtype == torch.int64
    assert batch["key"] == [c.key for c in corpus.clips]

    loader = DataLoader(ds, batch_size=2, shuffle=False, collate_fn=collate_clips)
    assert [b["motion"].shape[0] for b in loader] == [2, 1]


def test_crops_are_seeded_and_cut_features_at_matching_offsets(corpus_and_cache) -> None:  # type: ignore[no-untyped-def]
    corpus, _, features = corpus_and_cache
    whole = ClipDataset(corpus.clips, None, features)
    ds = ClipDataset(corpus.clips, None, features, crop=8, seed=3)
    again = ClipDataset(corpus.clips, None, features, crop=8, seed=3)
    starts = set()
    for epoch in range(4):
        ds.set_epoch(epoch)
        again.set_epoch(epoch)
        for i in range(len(ds)):
            item, twin, full = ds[i], again[i], whole[i]
            s = item["start"]
            assert twin["start"] == s
            assert item["num_frames"] == 8 and item["motion"].shape == (8, 53)
            np.testing.assert_array_equal(item["motion"], full["motion"][s : s + 8])
            np.testing.assert_array_equal(
                item["motion_features"][:, 0], np.arange(2 * s, 2 * s + 16)
            )
            assert item["emotion_features"].shape == (16, 2)
            starts.add((i, s))
    assert len(starts) > len(ds)  # offsets change across epochs
    short = ClipDataset(corpus.clips, None, features, crop=100)
    assert short[0]["num_frames"] == whole[0]["num_frames"] and short[0]["start"] == 0


def test_missing_features_say_to_run_extract(corpus_and_cache, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    corpus, _, _ = corpus_and_cache
    other = {"motion": FeatureSource(IndexExtractor("never-extracted"), tmp_path / "cache")}
    with pytest.raises(LsfError) as info:
        ClipDataset(corpus.clips, None, other)
    msg = str(info.value)
    assert "lsf-animation extract --data" in msg and "--features never-extracted" in msg
    assert "3 audio file(s)" in msg and str(tmp_path / "cache") in msg
    # without the up-front check the item itself fails with the same advice, never recomputes
    ds = ClipDataset(corpus.clips, None, other, check_features=False)
    with pytest.raises(LsfError, match="lsf-animation extract"):
        ds[0]
    assert other["motion"].extractor.calls == 0


def test_preload_keeps_everything_in_memory(corpus_and_cache, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    corpus, cache, features = corpus_and_cache
    expected = ClipDataset(corpus.clips, None, features)[1]
    ds = ClipDataset(corpus.clips, None, features, preload=True)
    shutil.rmtree(cache.root)
    shutil.rmtree(tmp_path / "corpus" / "EMICA-MEAD_flame2020")
    item = ds[1]
    np.testing.assert_array_equal(item["motion"], expected["motion"])
    np.testing.assert_array_equal(item["emotion_features"], expected["emotion_features"])


def test_identity_labels_index_training_speakers(corpus_and_cache) -> None:  # type: ignore[no-untyped-def]
    corpus, _, _ = corpus_and_cache
    train = [c for c in corpus.clips if c.subject == "M003"]
    index = IdentityIndex.from_clips(train)
    ds = ClipDataset(corpus.clips, None, None, identities=index)
    assert [ds[i]["labels"]["identity"] for i in range(3)] == [0, 0, -1]
    ds0 = ClipDataset(corpus.clips, None, None, identities=index, unknown_identity=0)
    assert ds0[2]["labels"]["identity"] == 0
    # stage 1 (no features): the whole motion, no feature keys, no feature mask
    item = ds[[c.key for c in corpus.clips].index(CLIPS[1].key)]
    assert item["num_frames"] == 33 and not any(k.endswith("_features") for k in item)
    assert "feature_mask" not in collate_clips([ds[0], ds[1]])
