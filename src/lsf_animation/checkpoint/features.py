"""The speech features a stage-2 checkpoint was trained on: recording and checking them.

A checkpoint names each speech stream's extractor with its options and fingerprint (config and
weights). Whatever computes features for that model later (`Animator`, the evaluation) builds the
extractors from these records, or from where the user says the encoders are now, and must get the
same fingerprints: the model only works on the features it was trained on.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from lsf_animation.audio.features import FeatureExtractor, get_extractor
from lsf_animation.checkpoint.encoder_paths import EncoderPaths, absolute_paths
from lsf_animation.checkpoint.metadata import BackboneSpec, FeatureRecord, FeatureRecords
from lsf_animation.errors import LsfError
from lsf_animation.model.config import ModelConfig
from lsf_animation.model.variants import USES_EMOTION_FEATURES


def feature_record(extractor: FeatureExtractor, options: Mapping[str, Any]) -> FeatureRecord:
    """What a checkpoint records about an extractor built with `options` (paths of existing
    files and folders made absolute, so the record does not depend on where training ran)."""
    return FeatureRecord(
        name=extractor.name,
        options=absolute_paths(options),
        fingerprint=extractor.fingerprint(),
        dim=int(extractor.dim),
    )


def verify_extractor(
    role: str, record: FeatureRecord, extractor: FeatureExtractor, source: str | Path
) -> None:
    """LsfError unless `extractor` computes the features `record` describes.

    Args:
        role: "motion" or "emotion", for the message.
        source: the checkpoint, for the message.
    """
    if extractor.name != record.name or extractor.fingerprint() != record.fingerprint:
        raise LsfError(
            f"the {role} speech feature {extractor.name!r} built here has fingerprint "
            f"{extractor.fingerprint()}, but {source} was trained on {record.name!r} with "
            f"fingerprint {record.fingerprint} (options {record.options or {}}): its "
            "configuration or encoder weights differ from the ones used in training; give the "
            "same weights (options) or retrain stage 2"
        )


def feature_roles(model_config: ModelConfig) -> tuple[str, ...]:
    """The speech streams a model reads: ("motion",) or ("motion", "emotion")."""
    uses_emotion = model_config.sie.variant in USES_EMOTION_FEATURES
    return ("motion", "emotion") if uses_emotion else ("motion",)


def build_extractors(
    records: FeatureRecords,
    roles: tuple[str, ...],
    source: str | Path,
    paths: EncoderPaths | None = None,
    carried: Mapping[str, Mapping[str, torch.Tensor]] | None = None,
    backbone: BackboneSpec | None = None,
) -> dict[str, FeatureExtractor]:
    """The checkpoint's extractors for `roles`, built from the recorded options and verified.

    Args:
        paths: where the encoders are now; replaces the recorded paths (`EncoderPaths`) of
            encoders the checkpoint does not carry.
        carried: role -> encoder weights the checkpoint carries (`Checkpoint.encoders`), used
            for records marked `carried` (they need no path).
        backbone: the checkpoint's backbone spec (the HuBERT config of a carried HuBERT).

    Raises:
        LsfError: a role has no record, an extractor cannot be built (its weights are missing),
            or it is not the one the model was trained on.
    """
    from lsf_animation.checkpoint.carried import carried_extractor

    paths = paths or EncoderPaths()
    recorded = records.by_role()
    extractors: dict[str, FeatureExtractor] = {}
    for role in roles:
        record = recorded.get(role)
        if record is None:
            raise LsfError(f"{source}: the model reads {role} features but none are named")
        if record.carried:
            state = (carried or {}).get(role)
            extractor = carried_extractor(role, record, state, backbone, source)
        else:
            extractor = get_extractor(record.name, **paths.options(record.name, record.options))
        verify_extractor(role, record, extractor, source)
        extractors[role] = extractor
    return extractors
