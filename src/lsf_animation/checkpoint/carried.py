"""Speech encoders whose weights a checkpoint carries (imported releases).

The authors' stage-2 checkpoints hold a fine-tuned HuBERT and emotion2vec. The import stores
the parts the extractors run under "encoders.<role>." in our checkpoint (`Checkpoint.encoders`):

- motion, "hubert-frozen" with `frozen_front="projection"`: HuBERT's CNN feature encoder and
  feature projection (`feature_extractor.*`, `feature_projection.*`, transformers names); the
  rest of the fine-tuned HuBERT is the model's motion backbone. The HuBERT config is the
  checkpoint's `BackboneSpec.hubert_config`.
- emotion, "emotion2vec": the whole backbone in fairseq names
  (`lsf_animation.audio.data2vec_checkpoint`).

`carried_extractor` rebuilds such an extractor from those tensors (no file, no download);
`carried_state` is the inverse, what an import stores.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch

from lsf_animation.audio.features import FeatureExtractor
from lsf_animation.checkpoint.metadata import BackboneSpec, FeatureRecord
from lsf_animation.errors import LsfError

HUBERT_FRONT_PREFIXES = ("feature_extractor.", "feature_projection.")


def hubert_front_state(hubert_state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The CNN and feature-projection weights of a `HubertModel` state dict."""
    return {k: v for k, v in hubert_state.items() if k.startswith(HUBERT_FRONT_PREFIXES)}


def carried_hubert(
    front: Mapping[str, torch.Tensor], spec: BackboneSpec, num_frozen: int, frozen_front: str
) -> FeatureExtractor:
    """The "hubert-frozen" extractor whose front weights are `front`; the transformer layers
    (the model's backbone, not needed here) stay unallocated on the meta device."""
    from transformers import HubertConfig, HubertModel

    from lsf_animation.audio.hubert import HubertExtractor

    if frozen_front != "projection":
        raise LsfError(
            "a carried HuBERT holds its CNN and projection only (frontal cut: projection)"
        )
    with torch.device("meta"):
        model = HubertModel(HubertConfig.from_dict(dict(spec.hubert_config)))
    for name in ("feature_extractor", "feature_projection"):
        part = {k[len(name) + 1 :]: v for k, v in front.items() if k.startswith(name + ".")}
        getattr(model, name).load_state_dict(part, strict=True, assign=True)
    return HubertExtractor(
        model, frozen_only=True, num_frozen=num_frozen, frozen_front=frozen_front
    )


def carried_extractor(
    role: str,
    record: FeatureRecord,
    state: Mapping[str, torch.Tensor] | None,
    backbone: BackboneSpec | None,
    source: str | Path,
) -> FeatureExtractor:
    """The extractor of a carried record, built from the checkpoint's tensors.

    Raises:
        LsfError: the checkpoint lacks the weights (damaged) or they do not fit.
    """
    if not state:
        raise LsfError(
            f"{source} says it carries the {role} encoder ({record.name}) but holds no "
            f"encoders.{role}.* weights; the file is damaged: import the release again"
        )
    try:
        if record.name == "hubert-frozen" and backbone is not None:
            return carried_hubert(
                state,
                backbone,
                int(record.options.get("num_frozen", 2)),
                str(record.options.get("frozen_front", "projection")),
            )
        if record.name == "emotion2vec":
            from lsf_animation.audio.data2vec_checkpoint import build_from_state_dict
            from lsf_animation.audio.emotion2vec import Emotion2vecExtractor

            model = build_from_state_dict(state, source=f"the emotion2vec carried in {source}")
            return Emotion2vecExtractor(model)
    except RuntimeError as err:
        raise LsfError(
            f"the {role} encoder weights carried in {source} do not fit ({err}); the file is "
            "damaged: import the release again"
        ) from err
    raise LsfError(f"{source}: a carried {record.name!r} {role} encoder is not supported")
