"""Whole-clip training items and padded batches.

Each item is one clip: its motion (scaled), shape, labels and, for stage 2, its speech features
read from the feature cache (`lsf-animation extract` fills it; training never runs the frozen
encoders). Batches pad to the longest clip with boolean masks (True = valid, valid frames first,
as in `lsf_animation.model`).

Length alignment (docs/specification.md §2): features are at 50 Hz, motion at 25 fps, and both come
from the same audio, but the audio and the reconstruction rarely have exactly 2:1 lengths. Each item
is cut to `T = min(motion frames, feature frames // 2)` motion frames and `2T` feature frames: the
streams are trimmed to an even length of at most twice the motion, and when the features are shorter
than that, the motion is trimmed to floor(T50 / 2). Every feature stream of an item gets the same
length (the shortest stream decides), so one 50 Hz mask serves them all. `length_match=
"interpolate"` resamples instead of trimming, as the authors' release does (`length_match.py`).

Random crops (`crop=N`): a clip longer than N motion frames is cut to a window of N frames starting
at a random frame s, and its features to frames [2s, 2s + 2N). The offset is a function of
(seed, epoch, item index), so it is reproducible and independent of DataLoader workers; call
`set_epoch` each epoch (with persistent DataLoader workers, the workers keep the epoch they were
started with).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypedDict, cast

import numpy as np
import torch
from torch.utils.data import Dataset

from lsf_animation.audio.cache import FeatureCache, audio_key, read_entry
from lsf_animation.audio.extract import option_arguments
from lsf_animation.audio.features import FeatureExtractor
from lsf_animation.data.clips import Clip, ClipMotion, read_motion
from lsf_animation.data.identities import UNKNOWN, IdentityIndex
from lsf_animation.data.length_match import LENGTH_MATCH, interpolate_to_pairs
from lsf_animation.data.scalers import MinMaxScaler
from lsf_animation.errors import LsfError

MAX_EXAMPLES = 5


class Labels(TypedDict):
    """Class indices of a clip: identity (-1 = none), emotion 0..7, intensity 0..2."""

    identity: int
    emotion: int
    intensity: int


class ClipItem(TypedDict, total=False):
    """One `ClipDataset` item (the feature keys only for the streams it has)."""

    key: str
    motion: np.ndarray  # (T, 53) float32, scaled (or raw without a scaler)
    shape: np.ndarray  # (300,) float32
    num_frames: int  # T
    start: int  # crop offset in motion frames
    labels: Labels
    motion_features: np.ndarray  # (2T, Dm) float32
    emotion_features: np.ndarray  # (2T, De) float32


class ClipBatch(TypedDict, total=False):
    """A padded batch of `collate_clips` (the feature keys only with features)."""

    key: list[str]
    motion: torch.Tensor  # (B, T, 53) float32, zero-padded
    motion_mask: torch.Tensor  # (B, T) bool, True = valid
    num_frames: torch.Tensor  # (B,) int64
    start: torch.Tensor  # (B,) int64
    shape: torch.Tensor  # (B, 300) float32
    labels: dict[str, torch.Tensor]  # identity / emotion / intensity: (B,) int64
    motion_features: torch.Tensor  # (B, 2T, Dm) float32, zero-padded
    emotion_features: torch.Tensor  # (B, 2T, De) float32, zero-padded
    feature_mask: torch.Tensor  # (B, 2T) bool


FEATURE_ROLES = ("motion", "emotion")


class FeatureSource:
    """One speech-feature stream, read from the feature cache and never computed.

    Args:
        extractor: the extractor whose cached output to read (its name and fingerprint locate the
            entries; it is never called).
        cache: a `FeatureCache`, its directory, or None for the default cache directory.
        data_dir: the directory to name in the "run extract" message; None -> the common parent
            of the audio files involved.
    """

    def __init__(
        self,
        extractor: FeatureExtractor,
        cache: FeatureCache | str | Path | None = None,
        data_dir: str | Path | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self.extractor = extractor
        self.options = dict(options or {})
        self.cache = cache if isinstance(cache, FeatureCache) else FeatureCache(cache)
        self.data_dir = Path(data_dir) if data_dir is not None else None
        # path -> (size, mtime_ns, sha256): hashing the audio once per process, not per step.
        self._keys: dict[Path, tuple[int, int, str]] = {}
        self._memory: dict[Path, np.ndarray] = {}

    @property
    def name(self) -> str:
        return self.extractor.name

    @property
    def dim(self) -> int:
        return int(self.extractor.dim)

    def _key(self, path: Path) -> str:
        try:
            st = path.stat()
        except OSError as err:
            raise LsfError(f"cannot read audio file {path} ({err.strerror or err})") from err
        known = self._keys.get(path)
        if known is not None and known[:2] == (st.st_size, st.st_mtime_ns):
            return known[2]
        key = audio_key(path)
        self._keys[path] = (st.st_size, st.st_mtime_ns, key)
        return key

    def _read(self, path: Path) -> np.ndarray | None:
        feats = read_entry(self.cache.entry_path(self.extractor, self._key(path)))
        if feats is not None and (feats.ndim != 2 or feats.shape[1] != self.dim):
            raise LsfError(
                f"cached {self.name!r} features of {path} have shape {feats.shape}, expected "
                f"(T50, {self.dim}); delete {self.cache.root / self.name} and run extract again"
            )
        return feats

    def missing_message(self, paths: Sequence[Path]) -> str:
        """What to tell the user when `paths` have no cached entry."""
        data = self.data_dir
        if data is None:
            data = Path(os.path.commonpath([str(p.parent) for p in paths])) if paths else Path(".")
        examples = ", ".join(str(p) for p in paths[:MAX_EXAMPLES])
        more = f" and {len(paths) - MAX_EXAMPLES} more" if len(paths) > MAX_EXAMPLES else ""
        options = " ".join(option_arguments({self.name: self.options}))
        command = f"lsf-animation extract --data {data} --features {self.name} " + (
            f"{options} " if options else ""
        )
        return (
            f"{len(paths)} audio file(s) have no cached {self.name!r} features in "
            f"{self.cache.root} (e.g. {examples}{more}). Training reads features from the "
            f"cache and never computes them: run `{command}--cache {self.cache.root}` first "
            "(or `lsf-animation extract --data DIR --config CONFIG`: a change of the "
            "extractor's options or weights needs a new extract)"
        )

    def get(self, path: str | Path) -> np.ndarray:
        """(T50, dim) float32 features of the audio file.

        Raises:
            LsfError: no cache entry (the message gives the extract command).
        """
        p = Path(path)
        if p in self._memory:
            return self._memory[p]
        feats = self._read(p)
        if feats is None:
            raise LsfError(self.missing_message([p]))
        return feats

    def missing(self, paths: Sequence[str | Path]) -> list[Path]:
        """The files among `paths` with no cache entry."""
        return [Path(p) for p in paths if Path(p) not in self._memory and not self._exists(Path(p))]

    def _exists(self, path: Path) -> bool:
        return self.cache.entry_path(self.extractor, self._key(path)).is_file()

    def preload(self, paths: Sequence[str | Path]) -> None:
        """Keep the features of `paths` in memory (small corpora).

        Raises:
            LsfError: some have no cache entry (all of them are listed in the count).
        """
        absent: list[Path] = []
        for path in paths:
            p = Path(path)
            if p in self._memory:
                continue
            feats = self._read(p)
            if feats is None:
                absent.append(p)
            else:
                self._memory[p] = feats
        if absent:
            raise LsfError(self.missing_message(absent))


def aligned_num_frames(num_frames: int, num_feature_frames: int | None) -> int:
    """Motion frames kept for a clip: min(T, T50 // 2), or T without features."""
    if num_feature_frames is None:
        return num_frames
    return min(num_frames, num_feature_frames // 2)


def fit_motion_scaler(clips: Sequence[Clip]) -> MinMaxScaler:
    """Min-max scaler fitted on the motion of `clips` (the training clips)."""
    return MinMaxScaler.fit(read_motion(c).motion for c in clips)


class ClipDataset(Dataset):
    """Whole clips (optionally cropped) as training items.

    Args:
        clips: the clips (e.g. `select_clips(corpus.clips, ...)`).
        scaler: applied to the motion; None keeps raw motion.
        features: role ("motion", "emotion") -> source, e.g. {"motion": FeatureSource(hubert),
            "emotion": FeatureSource(emotion2vec)}; item key `<role>_features`. None for stage 1.
        crop: at most this many motion frames per item, cut at a random offset; None = whole clips.
        seed: seed of the crop offsets.
        identities: index for the "identity" label; None -> every identity label is `unknown`.
        unknown_identity: label of speakers outside `identities` (-1 = none; or a training
            speaker's label to condition on a seen identity).
        preload: read all motion and features into memory now (small corpora; also checks them).
        check_features: verify now that every clip has cached features for every stream, so a
            missing `extract` fails before training starts rather than mid-epoch.
        length_match: "trim" (cut to 2:1 lengths) or "interpolate" (resample, as the release).

    Items: {"key": str, "motion": (T, 53) float32, "shape": (300,) float32, "num_frames": T,
    "start": crop offset in motion frames, "<role>_features": (2T, D) float32 per stream,
    "labels": {"identity", "emotion", "intensity"}: int}.
    """

    def __init__(
        self,
        clips: Sequence[Clip],
        scaler: MinMaxScaler | None,
        features: Mapping[str, FeatureSource] | None = None,
        crop: int | None = None,
        *,
        seed: int = 0,
        identities: IdentityIndex | None = None,
        unknown_identity: int = UNKNOWN,
        preload: bool = False,
        check_features: bool = True,
        length_match: str = "trim",
    ) -> None:
        if length_match not in LENGTH_MATCH:
            raise LsfError(
                f"length_match must be one of {', '.join(LENGTH_MATCH)}, got {length_match!r}"
            )
        self.length_match = length_match
        if crop is not None and crop < 1:
            raise LsfError(f"crop must be at least 1 motion frame, got {crop}")
        if not clips:
            raise LsfError("no clips for the dataset (is the split empty?)")
        self.clips = list(clips)
        self.scaler = scaler
        self.features = dict(features or {})
        if not set(self.features) <= set(FEATURE_ROLES):
            raise ValueError(
                f"feature streams are named by role {FEATURE_ROLES}, got {sorted(self.features)}"
            )
        self.crop = crop
        self.seed = int(seed)
        self.epoch = 0
        self.identities = identities
        self.unknown_identity = int(unknown_identity)
        self._motion: dict[int, ClipMotion] = {}
        audio = [c.audio_path for c in self.clips]
        if preload:
            self._motion = {i: read_motion(c) for i, c in enumerate(self.clips)}
            for source in self.features.values():
                source.preload(audio)
        elif check_features:
            for source in self.features.values():
                absent = source.missing(audio)
                if absent:
                    raise LsfError(source.missing_message(absent))

    def __len__(self) -> int:
        return len(self.clips)

    def set_epoch(self, epoch: int) -> None:
        """Change the crop offsets (call once per epoch)."""
        self.epoch = int(epoch)

    def _crop_start(self, index: int, length: int) -> int:
        if self.crop is None or length <= self.crop:
            return 0
        rng = np.random.default_rng([self.seed, self.epoch, index])
        return int(rng.integers(0, length - self.crop + 1))

    def __getitem__(self, index: int) -> ClipItem:
        clip = self.clips[index]
        cm = self._motion[index] if index in self._motion else read_motion(clip)
        feats = {name: src.get(clip.audio_path) for name, src in self.features.items()}
        full_motion = cm.motion
        if self.length_match == "interpolate" and min(map(len, feats.values()), default=0) > 1:
            feats, full_motion = interpolate_to_pairs(feats, full_motion)
        t50 = min((f.shape[0] for f in feats.values()), default=None)
        t = aligned_num_frames(full_motion.shape[0], t50)
        if t < 1:
            raise LsfError(
                f"clip {clip.key}: its features have {t50} frames at 50 Hz, too few for one motion "
                f"frame; audio {clip.audio_path} is too short or not this clip's"
            )
        start = self._crop_start(index, t)
        length = t if self.crop is None else min(t, self.crop)
        motion = full_motion[start : start + length]
        if self.scaler is not None:
            motion = self.scaler.transform(motion)
        item: ClipItem = {
            "key": clip.key,
            "motion": np.ascontiguousarray(motion, dtype=np.float32),
            "shape": cm.shape,
            "num_frames": length,
            "start": start,
            "labels": {
                "identity": (
                    self.identities.index(clip.subject, self.unknown_identity)
                    if self.identities is not None
                    else self.unknown_identity
                ),
                "emotion": clip.emotion,
                "intensity": clip.intensity,
            },
        }
        for role, f in feats.items():
            window = np.ascontiguousarray(f[2 * start : 2 * (start + length)])
            if role == "motion":
                item["motion_features"] = window
            else:  # "emotion", checked in __init__
                item["emotion_features"] = window
        return item


def collate_clips(items: Sequence[ClipItem]) -> ClipBatch:
    """Pad items of `ClipDataset` to the longest in the batch.

    Returns:
        {"key": list[str], "motion": (B, T, 53) float32 zero-padded, "motion_mask": (B, T) bool,
        "num_frames": (B,) int64, "start": (B,) int64, "shape": (B, 300) float32,
        "<role>_features": (B, 2T, D) float32 zero-padded per stream, "feature_mask": (B, 2T)
        bool (only with features), "labels": {"identity", "emotion", "intensity"}: (B,) int64}.
    """
    if not items:
        raise LsfError("collate_clips: empty batch")
    b = len(items)
    lengths = torch.tensor([int(it["num_frames"]) for it in items], dtype=torch.int64)
    t = int(lengths.max())
    motion_mask = torch.arange(t)[None, :] < lengths[:, None]
    dim = items[0]["motion"].shape[1]
    motion = torch.zeros(b, t, dim, dtype=torch.float32)
    for i, it in enumerate(items):
        motion[i, : lengths[i]] = torch.from_numpy(np.asarray(it["motion"], dtype=np.float32))
    batch: ClipBatch = {
        "key": [it["key"] for it in items],
        "motion": motion,
        "motion_mask": motion_mask,
        "num_frames": lengths,
        "start": torch.tensor([int(it.get("start", 0)) for it in items], dtype=torch.int64),
        "shape": torch.from_numpy(np.stack([np.asarray(it["shape"]) for it in items])).float(),
        "labels": {
            "identity": torch.tensor([it["labels"]["identity"] for it in items]),
            "emotion": torch.tensor([it["labels"]["emotion"] for it in items]),
            "intensity": torch.tensor([it["labels"]["intensity"] for it in items]),
        },
    }
    feature_keys = [f"{role}_features" for role in FEATURE_ROLES if f"{role}_features" in items[0]]
    for key in feature_keys:
        rows = [cast(np.ndarray, it[key]) for it in items]  # type: ignore[literal-required]
        padded = torch.zeros(b, 2 * t, rows[0].shape[1], dtype=torch.float32)
        for i, row in enumerate(rows):
            padded[i, : row.shape[0]] = torch.from_numpy(np.asarray(row, dtype=np.float32))
        batch[key] = padded  # type: ignore[literal-required]
    if feature_keys:
        batch["feature_mask"] = motion_mask.repeat_interleave(2, dim=1)
    return batch


def motion_batch(batch: ClipBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """(motion (B, T, 53) scaled, motion_mask (B, T) bool True = valid)."""
    return batch["motion"], batch["motion_mask"]


def speech_batch(
    batch: ClipBatch, emotion: bool
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """(motion_features (B, T50, Dm), emotion_features (B, T50, De) or None, feature_mask).

    Raises:
        LsfError: the batch has no speech features (a stage-1 dataset given to stage 2).
    """
    if "motion_features" not in batch or "feature_mask" not in batch:
        raise LsfError("stage 2 needs speech features in its batches (motion_features)")
    if emotion and "emotion_features" not in batch:
        raise LsfError("this model variant reads the emotion stream: the batch has none")
    ef = batch["emotion_features"] if emotion else None
    return batch["motion_features"], ef, batch["feature_mask"]
