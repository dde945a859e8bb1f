"""How both stages log their losses: the total per step and per epoch, each term per epoch."""

from __future__ import annotations

from collections.abc import Iterable

import lightning as L
import torch


def log_losses(
    module: L.LightningModule,
    part: str,
    losses: dict[str, torch.Tensor],
    terms: Iterable[str],
    batch_size: int,
) -> None:
    """Log `losses["loss"]` and each of `terms` as "<part>/<name>" ("train" or "val").

    Training logs the total on every step too (for the progress bar); validation averages over
    all processes (`sync_dist`) so every rank sees the same early-stopping value.
    """
    train = part == "train"
    sync = not train
    module.log(f"{part}/loss", losses["loss"], on_step=train, on_epoch=True, prog_bar=True,
               sync_dist=sync, batch_size=batch_size)  # fmt: skip
    for name in terms:
        module.log(f"{part}/{name}", losses[name], on_step=False, on_epoch=True, sync_dist=sync,
                   batch_size=batch_size)  # fmt: skip
