"""The trainable motion backbone of the paper preset: HuBERT's upper layers.

The paper fine-tunes HuBERT above its frozen front (CNN, feature projection, first two layers).
The front's output is what the feature cache holds ("hubert-frozen"), so training runs only the
upper layers, on cached features, through `LSFModel(motion_backbone=...)`.

A checkpoint stores the HuBERT config and the cut point (`BackboneSpec`); `build_backbone`
rebuilds the module from them without weights (the checkpoint's state dict supplies them), so
loading a trained model never needs the original HuBERT files.
"""

from __future__ import annotations

import torch
from torch import nn

from lsf_animation.audio.hubert import HubertExtractor, HubertTrainablePart
from lsf_animation.checkpoint.metadata import BackboneSpec
from lsf_animation.errors import LsfError


class HubertUpperLayers(nn.Module):
    """`motion_backbone` adapter: (B, T50, 768) frozen-front states + (B, T50) mask -> same shape.

    Padded frames are zeroed on the way in and out and masked out of the attention, as
    HuBERT's encoder does for padded batches.
    """

    def __init__(self, part: HubertTrainablePart) -> None:
        super().__init__()
        self.part = part

    def forward(self, features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is None:
            return self.part(features)
        keep = mask.unsqueeze(-1).to(features.dtype)
        bias = torch.zeros(mask.shape, dtype=features.dtype, device=features.device)
        bias = bias.masked_fill(~mask, torch.finfo(features.dtype).min)[:, None, None, :]
        return self.part(features * keep, attention_mask=bias) * keep


def hubert_backbone(extractor: HubertExtractor) -> tuple[HubertUpperLayers, BackboneSpec]:
    """The upper layers of a "hubert-frozen" extractor's model, and the spec to rebuild them.

    The backbone shares the loaded model's layers (fine-tuning them does not change the cached
    front).
    """
    if extractor.name != "hubert-frozen":
        raise LsfError(
            "the hubert-upper backbone needs the hubert-frozen feature as the motion stream"
        )
    spec = BackboneSpec(
        type="hubert-upper",
        hubert_config=extractor.model.config.to_dict(),
        num_frozen=int(extractor.num_frozen),
        frozen_front=extractor.frozen_front,
    )
    return HubertUpperLayers(extractor.trainable), spec


def build_backbone(spec: BackboneSpec | None) -> nn.Module | None:
    """Rebuild a backbone from its spec (freshly initialized; a checkpoint's state dict then
    supplies the weights); None for no spec."""
    if spec is None:
        return None
    from transformers import HubertConfig

    config = HubertConfig.from_dict(dict(spec.hubert_config))
    return HubertUpperLayers(
        HubertTrainablePart.from_config(config, spec.num_frozen, spec.frozen_front)
    )
