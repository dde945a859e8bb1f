"""The on-disk feature cache: hits, invalidation by audio and config, damaged entries, atomicity."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lsf_animation.audio import cache as cache_mod
from lsf_animation.audio.cache import FeatureCache, default_cache_dir, read_entry, write_entry
from lsf_animation.audio.offline_motion import OfflineMotionExtractor

SR = 16000


class Counting(OfflineMotionExtractor):
    """The offline motion extractor, counting its calls."""

    def __init__(self, **options: object) -> None:
        super().__init__(**options)
        self.calls = 0

    def __call__(self, wav: np.ndarray) -> np.ndarray:
        self.calls += 1
        return super().__call__(wav)


def write_wav(path: Path, seed: int, seconds: float = 0.5) -> Path:
    wav = 0.1 * np.random.default_rng(seed).standard_normal(int(SR * seconds))
    sf.write(path, wav.astype(np.float32), SR)
    return path


def read_wav(path: Path) -> np.ndarray:
    wav, sr = sf.read(path, dtype="float32")
    assert sr == SR
    return wav


@pytest.fixture
def wav_file(tmp_path: Path) -> Path:
    return write_wav(tmp_path / "a.wav", seed=1)


def test_hit_returns_identical_array_without_recomputing(tmp_path: Path, wav_file: Path) -> None:
    ex = Counting()
    cache = FeatureCache(tmp_path / "cache")
    assert cache.lookup(ex, wav_file) is None
    first = cache.get_or_compute(ex, wav_file, load=read_wav)
    assert ex.calls == 1
    second = FeatureCache(tmp_path / "cache").get_or_compute(ex, wav_file, load=read_wav)
    assert ex.calls == 1
    np.testing.assert_array_equal(first, second)
    assert second.dtype == np.float32 and second.shape == (24, ex.dim)
    np.testing.assert_array_equal(cache.lookup(ex, wav_file), first)


def test_default_loader_is_load_audio(tmp_path: Path, wav_file: Path) -> None:
    feats = FeatureCache(tmp_path / "cache").get_or_compute(OfflineMotionExtractor(), wav_file)
    np.testing.assert_allclose(feats, OfflineMotionExtractor()(read_wav(wav_file)), atol=1e-4)


def test_changed_audio_recomputes(tmp_path: Path, wav_file: Path) -> None:
    ex = Counting()
    cache = FeatureCache(tmp_path / "cache")
    before = cache.get_or_compute(ex, wav_file, load=read_wav)
    write_wav(wav_file, seed=2)
    after = cache.get_or_compute(ex, wav_file, load=read_wav)
    assert ex.calls == 2
    assert not np.allclose(before, after)
    np.testing.assert_array_equal(after, ex(read_wav(wav_file)))


def test_changed_config_recomputes(tmp_path: Path, wav_file: Path) -> None:
    cache = FeatureCache(tmp_path / "cache")
    a, b = Counting(), Counting(preemphasis=0.9)
    cache.get_or_compute(a, wav_file, load=read_wav)
    cache.get_or_compute(b, wav_file, load=read_wav)
    cache.get_or_compute(Counting(), wav_file, load=read_wav)  # same config as `a`: a hit
    assert (a.calls, b.calls) == (1, 1)
    assert cache.entry_path(a, "k") != cache.entry_path(b, "k")


@pytest.mark.parametrize("damage", ["truncate", "flip_payload", "garbage_header", "empty"])
def test_damaged_entry_is_detected_and_recomputed(
    tmp_path: Path, wav_file: Path, damage: str
) -> None:
    ex = Counting()
    cache = FeatureCache(tmp_path / "cache")
    good = cache.get_or_compute(ex, wav_file, load=read_wav)
    entry = cache.entry_path(ex, cache_mod.audio_key(wav_file))
    data = bytearray(entry.read_bytes())
    if damage == "truncate":
        data = data[: len(data) - 100]
    elif damage == "flip_payload":
        data[-5] ^= 0xFF
    elif damage == "garbage_header":
        data[10:20] = b"x" * 10
    else:
        data = bytearray()
    entry.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="recomputing"):
        assert cache.lookup(ex, wav_file) is None
    with pytest.warns(UserWarning, match="recomputing"):
        again = cache.get_or_compute(ex, wav_file, load=read_wav)
    assert ex.calls == 2
    np.testing.assert_array_equal(again, good)
    np.testing.assert_array_equal(read_entry(entry), good)  # repaired on disk


def test_failed_write_leaves_old_entry_and_no_temp_file(tmp_path: Path, monkeypatch) -> None:
    entry = tmp_path / "ab" / "x.feat"
    old = np.ones((3, 2), np.float32)
    write_entry(entry, old)

    def boom(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_entry(entry, np.zeros((3, 2), np.float32))
    monkeypatch.undo()
    np.testing.assert_array_equal(read_entry(entry), old)
    assert sorted(p.name for p in entry.parent.iterdir()) == ["x.feat"]


def test_in_memory_samples_are_cached_by_content(tmp_path: Path) -> None:
    ex = Counting()
    cache = FeatureCache(tmp_path / "cache")
    wav = read_wav(write_wav(tmp_path / "b.wav", seed=3))
    first = cache.get_or_compute_samples(ex, wav)
    np.testing.assert_array_equal(cache.get_or_compute_samples(ex, wav.copy()), first)
    cache.get_or_compute_samples(ex, wav[:-1])
    assert ex.calls == 2


def test_default_cache_dir_environment(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LSF_ANIMATION_CACHE", str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"
    assert FeatureCache().root == tmp_path / "mine"
    monkeypatch.delenv("LSF_ANIMATION_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "lsf-animation" / "features"


def test_unreadable_audio_is_a_clear_error(tmp_path: Path) -> None:
    from lsf_animation.errors import LsfError

    with pytest.raises(LsfError, match="cannot read audio file"):
        FeatureCache(tmp_path / "cache").get_or_compute(Counting(), tmp_path / "missing.wav")
