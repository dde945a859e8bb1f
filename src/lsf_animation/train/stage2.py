"""Stage 2 as a LightningModule: the SIE-Encoder trained against the frozen motion prior.

Loss (docs/specification.md §2): L1(predicted quantized latent, ground truth's quantized latent) x1
+ L1 expression x0.15 + L1 jaw x0.1, on valid frames; Adam lr 1e-5, betas (0.9, 0.98), eps 1e-9 over
the parameters that require gradients (the SIE-Encoder and, for the paper preset, HuBERT's upper
layers). The prior stays frozen and in eval mode; speech features come from the cache.

Logged: train/loss, train/latent, train/expression, train/jaw, and val/* per epoch.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch

from lsf_animation.checkpoint.metadata import CheckpointMeta
from lsf_animation.data.dataset import ClipBatch, motion_batch, speech_batch
from lsf_animation.model.losses import sie_loss
from lsf_animation.model.lsf import LSFModel
from lsf_animation.train.config import Stage2Section
from lsf_animation.train.loss_logging import log_losses
from lsf_animation.train.optim import make_optimizer

_TERMS = ("latent", "expression", "jaw")


class Stage2Module(L.LightningModule):
    """Trains `model.sie` (and `model.motion_backbone`) with `model.prior` frozen.

    Args:
        model: the assembled model with the trained prior loaded (frozen here).
        stage: the stage-2 optimizer and stopping settings.
        meta: what the checkpoint carries besides the weights (`checkpoint.metadata`).
    """

    def __init__(self, model: LSFModel, stage: Stage2Section, meta: CheckpointMeta) -> None:
        super().__init__()
        if meta.stage != 2 or meta.model_config != model.cfg:
            raise ValueError("stage-2 module given metadata of another stage or model config")
        self.model = model.freeze_prior()
        self.stage = stage
        self.meta = meta

    def forward(self, batch: ClipBatch):
        motion_features, emotion_features, mask50 = speech_batch(
            batch, self.model.sie.uses_emotion_features
        )
        return self.model.run(
            motion_features,
            emotion_features,
            batch["shape"],
            mask=mask50,
            labels=batch.get("labels"),
            num_frames=batch["num_frames"],
        )

    def _losses(self, batch: ClipBatch) -> dict[str, torch.Tensor]:
        motion, _ = motion_batch(batch)
        out = self(batch)
        t = out.motion.shape[1]
        target = self.model.prior.target_latent(motion[:, :t], out.mask)
        cfg = self.model.cfg
        return sie_loss(out, motion, target, cfg.sie, cfg.vqvae.num_expression)

    def training_step(self, batch: ClipBatch, batch_idx: int) -> torch.Tensor:
        losses = self._losses(batch)
        log_losses(self, "train", losses, _TERMS, batch["motion"].shape[0])
        return losses["loss"]

    def validation_step(self, batch: ClipBatch, batch_idx: int) -> torch.Tensor:
        losses = self._losses(batch)
        log_losses(self, "val", losses, _TERMS, batch["motion"].shape[0])
        return losses["loss"]

    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        return [p for p in self.model.parameters() if p.requires_grad]

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return make_optimizer(self.stage, self.trainable_parameters())

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["lsf"] = self.meta.to_dict()
