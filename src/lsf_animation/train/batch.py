"""Reading the parts of a `data.dataset.collate_clips` batch that each stage needs."""

from __future__ import annotations

from typing import Any

import torch

from lsf_animation.errors import LsfError


def motion_batch(batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    """(motion (B, T, 53) scaled, motion_mask (B, T) bool True = valid)."""
    return batch["motion"], batch["motion_mask"]


def speech_batch(
    batch: dict[str, Any], emotion: bool
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
