"""Stage 1 as a LightningModule: the motion VQ-VAE (motion prior) on scaled motion.

Loss (docs/specification.md §2): quantization x1.5 + L1 expression x0.5 + L1 jaw x0.1 on valid
frames; AdamW, lr 1e-4. An optional warm-up trains the first epochs with another reconstruction
error (`Stage1Section.warmup_loss`; validation keeps the configured one). The codebook is
initialized from the encoder latents of the first training batch (data-dependent init), and
codes that no training frame chose during an epoch are restarted on latents of the epoch's last
batch. Under DDP both happen on rank 0 and are broadcast, so every
process keeps the same codebook. The checkpoints of an epoch are written after its validation,
before that restart; they carry what the restart needs (the epoch's code counts and last latents),
and a run resumed from one does the restart first, as the interrupted run did, so it continues
exactly.

Logged: train/loss, train/quant, train/expression, train/jaw (step and epoch), val/* (epoch),
train/perplexity and train/dead_codes (epoch code usage), train/restarted_codes.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import lightning as L
import torch

from lsf_animation.checkpoint.metadata import CheckpointMeta
from lsf_animation.data.dataset import ClipBatch, motion_batch
from lsf_animation.model.config import VQVAEConfig
from lsf_animation.model.losses import vqvae_loss
from lsf_animation.model.quantizer import usage_statistics
from lsf_animation.model.vqvae import MotionVQVAE
from lsf_animation.train.config import Stage1Section
from lsf_animation.train.loss_logging import log_losses
from lsf_animation.train.optim import make_optimizer

_TERMS = ("quant", "expression", "jaw")
PENDING_RESTART = "lsf_pending_code_restart"
"""Checkpoint entry: the code counts and last latents of an epoch whose restart is still due."""


_Pending = tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor | None]]
"""An epoch's code counts and last (latent, mask), for a restart still to do."""


def _distributed() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


class Stage1Module(L.LightningModule):
    """Trains `MotionVQVAE(meta.model_config.vqvae)`.

    Args:
        meta: what the checkpoint carries besides the weights (`checkpoint.metadata`), the model
            config among it.
        stage: the stage-1 optimizer and stopping settings.
    """

    codebook_initialized: torch.Tensor  # buffers (registered in __init__)
    _epoch_counts: torch.Tensor

    def __init__(self, meta: CheckpointMeta, stage: Stage1Section) -> None:
        super().__init__()
        if meta.stage != 1:
            raise ValueError(f"stage-1 module given stage-{meta.stage} metadata")
        model_config = meta.model_config
        self.model_config = model_config
        self.stage = stage
        self.meta = meta
        self.vqvae = MotionVQVAE(model_config.vqvae)
        # Persistent, so a resumed run does not re-initialize a trained codebook.
        self.register_buffer("codebook_initialized", torch.tensor(False))
        n = model_config.vqvae.codebook_size
        self.register_buffer("_epoch_counts", torch.zeros(n, dtype=torch.long), persistent=False)
        self._last_latent: tuple[torch.Tensor, torch.Tensor | None] | None = None
        self._pending_restart: _Pending | None = None

    def forward(self, motion: torch.Tensor, mask: torch.Tensor | None = None):
        return self.vqvae(motion, mask)

    # -- training -------------------------------------------------------------------------------
    def _broadcast_codebook(self) -> None:
        if _distributed():
            torch.distributed.broadcast(self.vqvae.quantizer.codebook.weight.data, src=0)

    @torch.no_grad()
    def _init_codebook(self, motion: torch.Tensor, mask: torch.Tensor | None) -> None:
        latent = self.vqvae.encoder(motion, mask)
        self.vqvae.quantizer.init_from_latents(latent, mask)
        self._broadcast_codebook()
        self.codebook_initialized.fill_(True)

    def training_step(self, batch: ClipBatch, batch_idx: int) -> torch.Tensor:
        motion, mask = motion_batch(batch)
        if not bool(self.codebook_initialized):
            self._init_codebook(motion, mask)
        out = self.vqvae(motion, mask)
        losses = vqvae_loss(out, motion, mask, self._training_loss_config())
        self._epoch_counts += out.quant.counts.to(self._epoch_counts)
        self._last_latent = (out.latent.detach(), None if mask is None else mask.detach())
        log_losses(self, "train", losses, _TERMS, motion.shape[0])
        return losses["loss"]

    def _training_loss_config(self) -> VQVAEConfig:
        """The VQ-VAE config whose loss this epoch trains with (`Stage1Section.warmup_loss`)."""
        cfg = self.model_config.vqvae
        warmup = self.stage.warmup_loss
        if warmup is None or self.current_epoch >= self.stage.warmup_epochs:
            return cfg
        return dataclasses.replace(cfg, reconstruction_loss=warmup)

    def on_train_epoch_end(self) -> None:
        counts = self._epoch_counts.clone()
        if _distributed():
            torch.distributed.all_reduce(counts)
        perplexity, dead = usage_statistics(counts)
        self.log("train/perplexity", perplexity.float(), sync_dist=False)
        self.log("train/dead_codes", dead.float(), sync_dist=False)
        restarted = self._restart_dead_codes(counts, self._last_latent)
        self.log("train/restarted_codes", float(restarted), sync_dist=False)
        self._epoch_counts.zero_()
        self._last_latent = None

    def _restart_dead_codes(
        self, counts: torch.Tensor, last: tuple[torch.Tensor, torch.Tensor | None] | None
    ) -> int:
        """Restart the codes no frame chose (`counts` == 0) on the rows of `last` (latent, mask)."""
        if not self.stage.restart_dead_codes or last is None or not bool((counts == 0).any()):
            return 0
        latent, mask = last
        codes = torch.nonzero(counts == 0).flatten().to(latent.device)
        restarted = self.vqvae.quantizer.init_from_latents(latent, mask, codes=codes)
        self._broadcast_codebook()
        return restarted

    def validation_step(self, batch: ClipBatch, batch_idx: int) -> torch.Tensor:
        motion, mask = motion_batch(batch)
        out = self.vqvae(motion, mask)
        losses = vqvae_loss(out, motion, mask, self.model_config.vqvae)
        log_losses(self, "val", losses, _TERMS, motion.shape[0])
        return losses["loss"]

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return make_optimizer(self.stage, [p for p in self.parameters() if p.requires_grad])

    # -- checkpoint -----------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["lsf"] = self.meta.to_dict()
        if self._last_latent is not None:  # saved before this epoch's end: its restart is due
            latent, mask = self._last_latent
            checkpoint[PENDING_RESTART] = {
                "counts": self._epoch_counts.clone(), "latent": latent, "mask": mask,
            }  # fmt: skip

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        pending = checkpoint.get(PENDING_RESTART)
        if isinstance(pending, dict):
            self._pending_restart = (pending["counts"], (pending["latent"], pending["mask"]))

    def on_train_start(self) -> None:
        # Resumed from a checkpoint written before its epoch's restart: do it now, with the
        # random state the interrupted run had then (restored by `train.random_state`).
        if self._pending_restart is not None:
            counts, last = self._pending_restart
            self._pending_restart = None
            self._restart_dead_codes(counts.to(self._epoch_counts), last)
