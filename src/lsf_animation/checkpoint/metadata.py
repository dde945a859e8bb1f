"""What a checkpoint says about itself: typed metadata, stored as the plain dict `"lsf"`.

A checkpoint is a `torch.save`d dict: Lightning's entries (`state_dict`, `epoch`, `global_step`,
and during training the optimizer and loop state) plus one entry, `"lsf"`, which is
`CheckpointMeta.to_dict()`:

    {
      "train_config": the whole run config as the run wrote it (provenance),
      "scaler": {"type": "minmax", "min": [...53], "max": [...53]},   # motion scaling
      "identity_index": {"type": "identity_index", "subjects": [...]} | None,
      "features": {"motion": {"name", "options", "fingerprint", "dim"},
                   "emotion": {...} | None} | None,            # stage 2: the speech features
      "backbone": {"type": "hubert-upper", "hubert_config", "num_frozen"} | None,
      "data": {"root", "layout", "split", "stage1_protocol", "train_subjects", ...} | None,
      "prior": {"path", "epoch", "data"} | None,               # stage 2: the stage-1 file used
      "face": {"kind", "num_vertices", "fingerprint", "path"} | None,  # the face of the motion
      "format": "lsf-animation-checkpoint", "version": 1,
      "stage": 1 | 2,
      "model_config": ModelConfig.to_dict(),
    }

Reading checks every key and type (`CheckpointMeta.from_dict`), so a damaged or hand-edited file
is refused with a message naming the key, never half-used. The pretrained speech encoders are
normally not stored: they are inputs, named and fingerprinted under "features"; an imported
release carries its fine-tuned ones (`FeatureRecord.carried`, weights under "encoders.<role>.").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from lsf_animation.data.identities import IdentityIndex
from lsf_animation.data.scalers import MinMaxScaler
from lsf_animation.errors import LsfError
from lsf_animation.io.typed_dict import OMIT_IF_DEFAULT, from_dict, to_dict
from lsf_animation.model.config import ModelConfig

FORMAT = "lsf-animation-checkpoint"
VERSION = 1
Stage = Literal[1, 2]
STAGE_NAMES = {1: "stage 1 (motion prior)", 2: "stage 2 (SIE-Encoder, the full model)"}


@dataclass(frozen=True)
class FeatureRecord:
    """One speech-feature stream a stage-2 model was trained on.

    Attributes:
        name: the extractor's registry name (`audio.features.get_extractor`).
        options: the options it was built with (JSON values: paths, numbers, strings).
        fingerprint: its `fingerprint()` at training: config and weights.
        dim: feature size per 50 Hz frame.
        carried: the encoder's weights are stored in the checkpoint itself (an imported
            release: `checkpoint.carried`), so no path is needed to rebuild it.
    """

    name: str
    options: dict[str, Any]
    fingerprint: str
    dim: int
    carried: bool = field(default=False, metadata={OMIT_IF_DEFAULT: True})


@dataclass(frozen=True)
class FeatureRecords:
    """The speech streams of a stage-2 model by role."""

    motion: FeatureRecord
    emotion: FeatureRecord | None = None

    def by_role(self) -> dict[str, FeatureRecord]:
        """{"motion": ..., "emotion": ...} without the absent ones."""
        roles = {"motion": self.motion, "emotion": self.emotion}
        return {role: record for role, record in roles.items() if record is not None}


@dataclass(frozen=True)
class BackboneSpec:
    """The trainable motion backbone of the paper preset: HuBERT's layers above the frozen ones.

    Attributes:
        type: "hubert-upper".
        hubert_config: the HuBERT config (`HubertConfig.to_dict()`), to rebuild the layers.
        num_frozen: transformer layers frozen (2 in the paper).
        frozen_front: where the cached front ends: "layers" (after the `num_frozen` layers) or
            "projection" (after the feature projection, as the authors' release trains).
    """

    type: Literal["hubert-upper"]
    hubert_config: dict[str, Any]
    num_frozen: int
    frozen_front: str = "layers"


@dataclass(frozen=True)
class FaceRecord:
    """The face model whose coefficients a checkpoint's motion is (`checkpoint.face_record`).

    Attributes:
        kind: "builtin" (the built-in face) or "flame2020" (FLAME 2020, as 3DMEAD's tracking and
            the authors' release use).
        num_vertices: the face's vertex count (5023 for FLAME).
        fingerprint: `face.fingerprint.face_fingerprint` of the face trained with, or None when
            the file was not at hand (then only the topology is checked).
        path: where the face came from, as a hint for the message ("builtin", a file path).
    """

    kind: str
    num_vertices: int
    fingerprint: str | None = None
    path: str | None = None


@dataclass(frozen=True)
class DataInfo:
    """The corpus a stage was trained on, and how it was split."""

    root: str
    layout: str
    split: str
    stage1_protocol: str
    train_subjects: tuple[str, ...] = ()
    val_subjects: tuple[str, ...] = ()
    train_clips: int = 0
    val_clips: int = 0
    excluded_clips: int = 0


@dataclass(frozen=True)
class PriorInfo:
    """Stage 2: the stage-1 checkpoint it was trained against."""

    path: str
    epoch: int
    data: DataInfo | None = None


@dataclass(frozen=True, kw_only=True)
class CheckpointMeta:
    """The `"lsf"` entry of a checkpoint (the module docstring shows its stored form).

    Fields are declared in the stored order, so a checkpoint's bytes do not depend on how the
    metadata was built.
    """

    train_config: dict[str, Any] = field(default_factory=dict)
    scaler: MinMaxScaler
    identity_index: IdentityIndex | None = None
    features: FeatureRecords | None = None
    backbone: BackboneSpec | None = None
    data: DataInfo | None = None
    prior: PriorInfo | None = None
    face: FaceRecord | None = field(default=None, metadata={OMIT_IF_DEFAULT: True})
    format: str = FORMAT
    version: int = VERSION
    stage: Stage
    model_config: ModelConfig

    def to_dict(self) -> dict[str, Any]:
        """The plain dict stored under "lsf"."""
        stored: dict[str, Any] = to_dict(self)
        return stored

    @classmethod
    def from_dict(cls, d: object, source: str = "checkpoint") -> CheckpointMeta:
        """Read and check a stored "lsf" entry.

        Raises:
            LsfError: not lsf-animation metadata, a newer format version, or any key missing,
                unknown or of the wrong type (named in the message).
        """
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise LsfError(
                f"{source} is not an lsf-animation checkpoint (no 'lsf' metadata); give a "
                "checkpoint written by lsf-animation train"
            )
        version = d.get("version")
        if isinstance(version, int) and version > VERSION:
            raise LsfError(
                f"{source} has checkpoint format version {version}, newer than this "
                f"lsf-animation reads ({VERSION}); upgrade lsf-animation"
            )
        return from_dict(cls, d, f"the metadata of {source}")

    @property
    def feature_cache(self) -> str | None:
        """The feature cache the run was trained with (`features.cache` of its run config)."""
        features = self.train_config.get("features")
        cache = features.get("cache") if isinstance(features, dict) else None
        return cache if isinstance(cache, str) else None
