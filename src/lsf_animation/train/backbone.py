"""The trainable motion backbone of the paper preset: HuBERT's upper layers.

The paper fine-tunes HuBERT above its frozen front (CNN, feature projection, first two layers).
The front's output is what the feature cache holds ("hubert-frozen"), so training runs only the
upper layers, on cached features, through `LSFModel(motion_backbone=...)`.

A checkpoint stores the HuBERT config and the cut point (`backbone_spec`); `build_backbone`
rebuilds the module from them (random weights, then the checkpoint's state dict), so loading a
trained model never needs the original HuBERT files.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from lsf_animation.audio.hubert import HubertTrainablePart, split_hubert
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
            hidden = self.part.embed(features)
            for layer in self.part.layers:
                hidden = _first(layer(hidden))
        else:
            keep = mask.unsqueeze(-1).to(features.dtype)
            hidden = self.part.embed(features * keep)
            bias = torch.zeros(mask.shape, dtype=features.dtype, device=features.device)
            bias = bias.masked_fill(~mask, torch.finfo(features.dtype).min)[:, None, None, :]
            for layer in self.part.layers:
                hidden = _first(layer(hidden, attention_mask=bias))
        if self.part.final_layer_norm is not None:
            hidden = self.part.final_layer_norm(hidden)
        return hidden if mask is None else hidden * mask.unsqueeze(-1).to(hidden.dtype)


def _first(out: Any) -> torch.Tensor:
    return out[0] if isinstance(out, tuple) else out


def hubert_backbone(
    extractor: Any,
) -> tuple[HubertUpperLayers, dict[str, Any]]:
    """The upper layers of a "hubert-frozen" extractor's model, and the spec to rebuild them.

    Args:
        extractor: a `HubertExtractor` with `frozen_only=True` (its `trainable` part shares the
            loaded model's layers; fine-tuning them does not change the cached front).
    """
    if getattr(extractor, "name", None) != "hubert-frozen":
        raise LsfError(
            "the hubert-upper backbone needs the hubert-frozen feature as the motion stream"
        )
    spec = {
        "type": "hubert-upper",
        "hubert_config": extractor.model.config.to_dict(),
        "num_frozen": int(extractor.num_frozen),
        "frozen_front": str(extractor.frozen_front),
    }
    return HubertUpperLayers(extractor.trainable), spec


def build_backbone(spec: dict[str, Any] | None) -> nn.Module | None:
    """Rebuild a backbone (random weights) from `hubert_backbone`'s spec; None for no spec."""
    if spec is None:
        return None
    if spec.get("type") != "hubert-upper":
        raise LsfError(f"unknown motion backbone {spec.get('type')!r} in the checkpoint")
    from transformers import HubertConfig, HubertModel

    config = HubertConfig.from_dict(dict(spec["hubert_config"]))
    front = str(spec.get("frozen_front", "layers"))
    _, upper = split_hubert(HubertModel(config), int(spec["num_frozen"]), front)
    return HubertUpperLayers(upper)
