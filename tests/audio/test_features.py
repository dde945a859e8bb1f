"""The extractor protocol, the 50 Hz frame count and the registry."""

from __future__ import annotations

import numpy as np
import pytest

from lsf_animation.audio import features
from lsf_animation.audio.features import (
    FeatureExtractor,
    available_extractors,
    check_features,
    config_fingerprint,
    get_extractor,
    num_frames_50hz,
    register_extractor,
)
from lsf_animation.errors import LsfError


def hubert_conv_frames(n: int) -> int:
    """Output length of HuBERT's feature-extractor conv stack for n input samples."""
    for kernel, stride in [(10, 5), (3, 2), (3, 2), (3, 2), (3, 2), (2, 2), (2, 2)]:
        n = (n - kernel) // stride + 1 if n >= kernel else 0
    return n


@pytest.mark.parametrize("n", [0, 1, 399, 400, 401, 719, 720, 16000, 16001, 48000, 160_000])
def test_num_frames_matches_hubert_conv_stack(n: int) -> None:
    assert num_frames_50hz(n) == hubert_conv_frames(n)


def test_num_frames_is_50_per_second() -> None:
    assert num_frames_50hz(16000 * 10) == 499  # 10 s: one frame per 20 ms, the last window fits
    assert all(num_frames_50hz(n) == hubert_conv_frames(n) for n in range(0, 5000, 7))


class _Const:
    name = "const-test"
    rate_hz = 50.0

    def __init__(self, dim: int = 3, value: float = 1.0) -> None:
        self.dim = dim
        self.value = value

    def fingerprint(self) -> str:
        return config_fingerprint({"dim": self.dim, "value": self.value})

    def __call__(self, wav: np.ndarray) -> np.ndarray:
        return np.full((num_frames_50hz(len(wav)), self.dim), self.value, np.float32)


def test_register_and_get_with_options() -> None:
    register_extractor("const-test", _Const)
    ex = get_extractor("const-test", dim=5, value=2.0)
    assert isinstance(ex, FeatureExtractor)
    assert ex.dim == 5
    out = ex(np.zeros(1000, np.float32))
    check_features(ex, np.zeros(1000, np.float32), out)
    assert "const-test" in available_extractors()


def test_builtin_offline_extractors_are_registered_lazily() -> None:
    names = available_extractors()
    for name in ("offline-motion", "offline-prosody", "hubert", "emotion2vec"):
        assert name in names
    for name in ("offline-motion", "offline-prosody"):
        ex = get_extractor(name)
        assert ex.name == name and ex.rate_hz == 50.0 and ex.dim > 0


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(LsfError, match=r"unknown speech feature 'nope'.*offline-motion"):
        get_extractor("nope")


def test_builtin_whose_module_fails_to_import_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setitem(features._BUILTIN_MODULES, "broken-test", "lsf_animation.no_such_module")
    with pytest.raises(LsfError, match="'broken-test' is not available"):
        get_extractor("broken-test")


def test_config_fingerprint_depends_on_values_not_order() -> None:
    assert config_fingerprint({"a": 1, "b": 2}) == config_fingerprint({"b": 2, "a": 1})
    assert config_fingerprint({"a": 1, "b": 2}) != config_fingerprint({"a": 1, "b": 3})
    assert config_fingerprint({"a": 1}, b"w1") != config_fingerprint({"a": 1}, b"w2")


def test_check_features_rejects_wrong_frame_count_and_nan() -> None:
    ex = _Const()
    wav = np.zeros(16000, np.float32)
    with pytest.raises(LsfError, match="expected"):
        check_features(ex, wav, np.zeros((10, 3), np.float32))
    bad = ex(wav)
    bad[0, 0] = np.nan
    with pytest.raises(LsfError, match="NaN"):
        check_features(ex, wav, bad)


def test_unknown_extractor_option_is_a_clear_error() -> None:
    with pytest.raises(LsfError, match=r"unknown option\(s\) bogus .*'offline-motion'.*n_mels"):
        get_extractor("offline-motion", bogus=1)
