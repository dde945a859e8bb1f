"""The optimizers of docs/specification.md §2, built from a stage's config section."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from lsf_animation.errors import LsfError
from lsf_animation.train.config import StageSection


def make_optimizer(
    stage: StageSection, params: Iterable[torch.nn.Parameter]
) -> torch.optim.Optimizer:
    """Adam or AdamW over `params` with the section's lr, betas, eps and weight decay.

    Stage 1: AdamW lr 1e-4. Stage 2: Adam lr 1e-5, betas (0.9, 0.98), eps 1e-9.

    Raises:
        LsfError: no trainable parameters, or an unknown optimizer name.
    """
    params = list(params)
    if not params:
        raise LsfError("nothing to train: the model has no parameters that require gradients")
    lr, betas, eps, decay = stage.lr, stage.betas, stage.eps, stage.weight_decay
    if stage.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=betas, eps=eps, weight_decay=decay)
    if stage.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas, eps=eps, weight_decay=decay)
    raise LsfError(f"unknown optimizer {stage.optimizer!r}; use adam or adamw")
