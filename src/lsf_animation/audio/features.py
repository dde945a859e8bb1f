"""The speech-feature extractor protocol and the registry of extractors by name.

Every speech feature (HuBERT, emotion2vec, the offline extractors) is a callable that turns a mono
16 kHz float32 waveform of N samples into a `(num_frames_50hz(N), dim)` float32 array at 50 Hz,
frame-aligned with HuBERT's convolutional stack (25 ms receptive field, 20 ms stride).

Modules that define extractors register a factory with `register_extractor(name, factory)` when
imported; `get_extractor(name, **options)` imports the module of a built-in name on first use, so
heavy dependencies (transformers) load only when their extractor is asked for.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np

from lsf_animation.constants import FEATURE_HOP_SAMPLES, FEATURE_WINDOW_SAMPLES
from lsf_animation.errors import LsfError
from lsf_animation.io.typed_dict import from_dict

_C = TypeVar("_C")


@runtime_checkable
class FeatureExtractor(Protocol):
    """A speech-feature extractor.

    Attributes:
        name: registry name, e.g. "hubert", "hubert-frozen", "emotion2vec", "offline-motion",
            "offline-prosody".
        dim: feature dimension (columns of the output).
        rate_hz: output frame rate in Hz (50.0 for all of ours).
    """

    name: str
    dim: int
    rate_hz: float

    def fingerprint(self) -> str:
        """A stable hash of the config and weights; changes when either changes."""
        ...

    def __call__(self, wav: np.ndarray) -> np.ndarray:
        """(N,) float32 mono 16 kHz waveform -> (num_frames_50hz(N), dim) float32 features."""
        ...


def num_frames_50hz(num_samples: int) -> int:
    """Number of 50 Hz frames for `num_samples` samples at 16 kHz (HuBERT's conv stack).

    `max(0, (N - 400) // 320 + 1)`: a frame every 320 samples whose 400-sample window fits.
    """
    return max(0, (int(num_samples) - FEATURE_WINDOW_SAMPLES) // FEATURE_HOP_SAMPLES + 1)


def frame_starts(num_samples: int) -> np.ndarray:
    """Start sample of each 50 Hz frame's 400-sample window, shape (num_frames_50hz(N),) int64."""
    return np.arange(num_frames_50hz(num_samples), dtype=np.int64) * FEATURE_HOP_SAMPLES


def config_fingerprint(config: dict[str, Any], *extra: bytes) -> str:
    """A stable hex digest (16 chars) of a JSON-serializable config plus optional raw bytes.

    Extractors use it for `fingerprint()`: the config is serialized with sorted keys, so the
    digest depends on the values only, not on dict order.
    """
    h = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode())
    for chunk in extra:
        h.update(chunk)
    return h.hexdigest()[:16]


def make_config(config_cls: type[_C], name: str, options: dict[str, Any]) -> _C:
    """`config_cls(**options)` for extractor `name`, with every option checked.

    Raises:
        LsfError: an option the config does not have (the message lists the valid ones), or a
            value of the wrong type.
    """
    return from_dict(config_cls, dict(options), f"speech feature {name!r}", noun="option")


ExtractorFactory = Callable[..., FeatureExtractor]

_REGISTRY: dict[str, ExtractorFactory] = {}

# Built-in names -> the module whose import registers them (imported lazily on first use).
_BUILTIN_MODULES: dict[str, str] = {
    "offline-motion": "lsf_animation.audio.offline_motion",
    "offline-prosody": "lsf_animation.audio.prosody",
    "offline-phonetic": "lsf_animation.audio.phonetic",
    "offline-voice": "lsf_animation.audio.voice_cues",
    "hubert": "lsf_animation.audio.hubert",
    "hubert-frozen": "lsf_animation.audio.hubert",
    "emotion2vec": "lsf_animation.audio.emotion2vec",
}


def register_extractor(name: str, factory: ExtractorFactory) -> None:
    """Register `factory(**options) -> FeatureExtractor` under `name` (replacing any previous)."""
    _REGISTRY[name] = factory


def available_extractors() -> list[str]:
    """Names that `get_extractor` accepts: registered ones plus the built-in names."""
    return sorted(set(_REGISTRY) | set(_BUILTIN_MODULES))


def get_extractor(name: str, **options: Any) -> FeatureExtractor:
    """The extractor registered as `name`, built with `options`.

    Raises:
        LsfError: unknown name (the message lists the known ones), or its module failed to import.
    """
    if name not in _REGISTRY and name in _BUILTIN_MODULES:
        module = _BUILTIN_MODULES[name]
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise LsfError(
                f"speech feature {name!r} is not available: importing {module} failed ({err}); "
                "install the missing package or choose another feature"
            ) from err
    if name not in _REGISTRY:
        raise LsfError(
            f"unknown speech feature {name!r}; choose one of: {', '.join(available_extractors())}"
        )
    return _REGISTRY[name](**options)


def check_features(extractor: FeatureExtractor, wav: np.ndarray, feats: np.ndarray) -> None:
    """Assert the extractor contract on one output (used by tests and the cache).

    Raises:
        LsfError: wrong shape or dtype, or non-finite values.
    """
    expected = (num_frames_50hz(len(wav)), extractor.dim)
    if feats.shape != expected or feats.dtype != np.float32:
        raise LsfError(
            f"extractor {extractor.name!r} returned {feats.shape} {feats.dtype}, "
            f"expected {expected} float32"
        )
    if not np.isfinite(feats).all():
        raise LsfError(f"extractor {extractor.name!r} returned NaN or inf features")
