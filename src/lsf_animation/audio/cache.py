"""On-disk cache of speech features, keyed by audio content and extractor fingerprint.

Layout: `<root>/<extractor name>/<fingerprint>/<key[:2]>/<key>.feat`, where `key` is the SHA-256
of the audio file's bytes (see `audio_key`) and `fingerprint` is `extractor.fingerprint()`. A change
of either lands on another path, so it is recomputed; stale entries are simply never read again.

Why the file bytes and not the decoded 16 kHz samples: a lookup then costs one read and one hash
(about 1 ms per MB) instead of a decode and a resample, which matters when the training pipeline
looks features up every step and for compressed formats. The price is that re-encoding a file
(same sound, other bytes) misses the cache, which only costs a recomputation. Features of arrays
that have no file (`get_or_compute_samples`) are keyed by the hash of their float32 samples.

Entry format (one file): the magic line `LSFFEAT1\\n`, one JSON header line
(`{"shape": [T, D], "dtype": "float32", "sha256": <of the payload>, ...}`), then the raw
little-endian payload. Reads check the magic, the payload size against the shape and the checksum,
so a truncated or corrupt entry reads as a miss and is recomputed. Writes go to a temporary file in
the same directory, then `os.replace`, so readers never see a partial entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from lsf_animation.audio.features import FeatureExtractor, check_features
from lsf_animation.audio.load import load_audio
from lsf_animation.errors import LsfError
from lsf_animation.io.atomic import atomic_path

MAGIC = b"LSFFEAT1\n"
SUFFIX = ".feat"
ENV_CACHE_DIR = "LSF_ANIMATION_CACHE"


def default_cache_dir() -> Path:
    """`$LSF_ANIMATION_CACHE`, else `$XDG_CACHE_HOME/lsf-animation/features`, else
    `~/.cache/lsf-animation/features`.

    A per-user directory rather than one inside the corpus: corpora are often read-only, and the
    content-based keys make one cache serve every corpus.
    """
    if os.environ.get(ENV_CACHE_DIR):
        return Path(os.environ[ENV_CACHE_DIR]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lsf-animation" / "features"


def audio_key(path: str | Path) -> str:
    """SHA-256 hex digest of the file's bytes.

    Raises:
        LsfError: the file cannot be read.
    """
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except OSError as err:
        raise LsfError(f"cannot read audio file {path}: {err.strerror or err}") from err
    return h.hexdigest()


def samples_key(wav: np.ndarray) -> str:
    """SHA-256 hex digest of a waveform's float32 samples (for audio with no file)."""
    h = hashlib.sha256(b"float32 samples:")
    h.update(np.ascontiguousarray(wav, dtype="<f4").tobytes())
    return h.hexdigest()


def write_entry(path: Path, feats: np.ndarray, **meta: object) -> None:
    """Write one entry atomically (temporary file in the same directory, then os.replace)."""
    arr = np.ascontiguousarray(feats, dtype="<f4")
    payload = arr.tobytes()
    header = {
        "shape": list(arr.shape),
        "dtype": "float32",
        "sha256": hashlib.sha256(payload).hexdigest(),
        **meta,
    }
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(MAGIC)
        f.write(json.dumps(header, sort_keys=True).encode() + b"\n")
        f.write(payload)


def read_entry(path: Path) -> np.ndarray | None:
    """An entry's array, or None when it is missing, truncated or corrupt (never raises on bad
    content; a damaged entry warns)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as err:
        warnings.warn(f"feature cache entry {path} unreadable ({err}); recomputing", stacklevel=2)
        return None
    problem = _check_entry(data)
    if isinstance(problem, str):
        warnings.warn(f"feature cache entry {path} {problem}; recomputing", stacklevel=2)
        return None
    return problem


def _check_entry(data: bytes) -> np.ndarray | str:
    """The decoded array, or a string saying what is wrong with the entry."""
    if not data.startswith(MAGIC):
        return "has no valid header"
    end = data.find(b"\n", len(MAGIC))
    if end < 0:
        return "is truncated in its header"
    try:
        header = json.loads(data[len(MAGIC) : end])
        shape = tuple(int(s) for s in header["shape"])
        digest = str(header["sha256"])
    except (ValueError, KeyError, TypeError):
        return "has a corrupt header"
    payload = data[end + 1 :]
    if len(payload) != 4 * int(np.prod(shape)):
        return f"is truncated ({len(payload)} payload bytes for shape {shape})"
    if hashlib.sha256(payload).hexdigest() != digest:
        return "fails its checksum"
    return np.frombuffer(payload, dtype="<f4").reshape(shape).astype(np.float32)


class FeatureCache:
    """Speech features on disk, computed once per (audio content, extractor fingerprint).

    Args:
        root: cache directory (created on first write); None -> `default_cache_dir()`.
    """

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()
        # id -> (extractor, fingerprint); holding the extractor keeps its id from being reused.
        self._fingerprints: dict[int, tuple[FeatureExtractor, str]] = {}

    def _fingerprint(self, extractor: FeatureExtractor) -> str:
        # Fingerprints of weight-bearing extractors hash their weights: do it once per object.
        key = id(extractor)
        if key not in self._fingerprints:
            self._fingerprints[key] = (extractor, extractor.fingerprint())
        return self._fingerprints[key][1]

    def entry_path(self, extractor: FeatureExtractor, key: str) -> Path:
        """Where the entry for audio `key` (see `audio_key`) and this extractor lives."""
        return self.root / extractor.name / self._fingerprint(extractor) / key[:2] / (key + SUFFIX)

    def lookup(self, extractor: FeatureExtractor, wav_path: str | Path) -> np.ndarray | None:
        """Cached features of `wav_path`, or None when absent (or damaged)."""
        return read_entry(self.entry_path(extractor, audio_key(wav_path)))

    def get_or_compute(
        self,
        extractor: FeatureExtractor,
        wav_path: str | Path,
        load: Callable[[Path], np.ndarray] | None = None,
    ) -> np.ndarray:
        """Features of the audio file `wav_path`, from the cache or computed and stored.

        Args:
            extractor: the feature extractor.
            wav_path: an audio file.
            load: path -> (N,) float32 16 kHz waveform; default `audio.load.load_audio`.

        Returns:
            (num_frames_50hz(N), extractor.dim) float32.
        """
        path = Path(wav_path)
        entry = self.entry_path(extractor, audio_key(path))
        cached = read_entry(entry)
        if cached is not None:
            return cached
        wav = (load or load_audio)(path)
        return self._compute_and_store(extractor, wav, entry, source=str(path))

    def get_or_compute_samples(self, extractor: FeatureExtractor, wav: np.ndarray) -> np.ndarray:
        """Like `get_or_compute` for an in-memory (N,) float32 16 kHz waveform."""
        entry = self.entry_path(extractor, samples_key(wav))
        cached = read_entry(entry)
        if cached is not None:
            return cached
        return self._compute_and_store(extractor, wav, entry, source="<samples>")

    def _compute_and_store(
        self, extractor: FeatureExtractor, wav: np.ndarray, entry: Path, source: str
    ) -> np.ndarray:
        for_file = getattr(extractor, "for_file", None)  # extractors that read a file's sidecar
        if for_file is not None and source != "<samples>":
            extractor = for_file(Path(source))
        feats = extractor(wav)
        check_features(extractor, wav, feats)
        write_entry(entry, feats, extractor=extractor.name, source=source)
        return feats
