"""Training losses of both stages (docs/specification.md §2), on valid frames only.

Stage 1: quantization loss x1.5 + L1 on expression x0.5 + L1 on jaw x0.1 (or squared error,
`VQVAEConfig.reconstruction_loss`).
Stage 2: L1(predicted quantized latent, ground truth's quantized latent) x1 + L1 expression x0.15
+ L1 jaw x0.1. L1 terms are means over valid frames and the term's dimensions.
"""

from __future__ import annotations

import torch

from lsf_animation.errors import LsfError
from lsf_animation.model.config import SIEConfig, VQVAEConfig
from lsf_animation.model.lsf import LSFOutput
from lsf_animation.model.vqvae import VQVAEOutput


def _masked_mean(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None, square: bool
) -> torch.Tensor:
    if pred.shape != target.shape:
        raise LsfError(
            f"loss shapes differ: prediction {tuple(pred.shape)}, target {tuple(target.shape)}."
        )
    err = (pred - target).square() if square else (pred - target).abs()
    if mask is None:
        return err.mean()
    w = mask.to(err.dtype).unsqueeze(-1)
    return (err * w).sum() / (w.sum() * err.shape[-1]).clamp_min(1)


def masked_l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean |pred - target| over valid frames and all trailing dims. (B, T, C) each."""
    return _masked_mean(pred, target, mask, square=False)


def masked_l2(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean (pred - target)^2 over valid frames and all trailing dims. (B, T, C) each."""
    return _masked_mean(pred, target, mask, square=True)


def _motion_terms(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None,
    num_expression: int,
    error: str = "l1",
) -> tuple[torch.Tensor, torch.Tensor]:
    e = num_expression
    term = masked_l2 if error == "l2" else masked_l1
    return term(pred[..., :e], target[..., :e], mask), term(pred[..., e:], target[..., e:], mask)


def vqvae_loss(
    out: VQVAEOutput, target: torch.Tensor, mask: torch.Tensor | None, cfg: VQVAEConfig
) -> dict[str, torch.Tensor]:
    """Stage-1 loss.

    Args:
        out: `MotionVQVAE(target, mask)`.
        target: (B, T, 53) scaled motion.
        mask: (B, T) bool valid frames or None.

    Returns:
        {"loss", "quant", "expression", "jaw", "perplexity", "dead_codes"}; "loss" is the total.
    """
    expression, jaw = _motion_terms(
        out.reconstruction, target, mask, cfg.num_expression, cfg.reconstruction_loss
    )
    total = cfg.loss_quant * out.quant.loss + cfg.loss_expression * expression + cfg.loss_jaw * jaw
    return {
        "loss": total,
        "quant": out.quant.loss.detach(),
        "expression": expression.detach(),
        "jaw": jaw.detach(),
        "perplexity": out.quant.perplexity.detach(),
        "dead_codes": out.quant.dead_codes.detach(),
    }


def sie_loss(
    out: LSFOutput,
    target_motion: torch.Tensor,
    target_latent: torch.Tensor,
    cfg: SIEConfig,
    num_expression: int = 50,
) -> dict[str, torch.Tensor]:
    """Stage-2 loss.

    Args:
        out: `LSFModel.run(...)` (T output frames, mask `out.mask`).
        target_motion: (B, >=T, 53) scaled ground truth; cut to T frames.
        target_latent: (B, >=T, D) ground truth's quantized latent
            (`model.prior.target_latent(motion, mask)`); cut to T frames.
        cfg: SIE config (loss weights).

    Returns:
        {"loss", "latent", "expression", "jaw"}.
    """
    t = out.motion.shape[1]
    if target_motion.shape[1] < t or target_latent.shape[1] < t:
        raise LsfError(
            f"targets have {target_motion.shape[1]} frames, the model produced {t}; pass "
            "num_frames=<motion length> so the output is trimmed to the motion."
        )
    latent = masked_l1(out.quantized, target_latent[:, :t], out.mask)
    expression, jaw = _motion_terms(out.motion, target_motion[:, :t], out.mask, num_expression)
    total = cfg.loss_latent * latent + cfg.loss_expression * expression + cfg.loss_jaw * jaw
    return {
        "loss": total,
        "latent": latent.detach(),
        "expression": expression.detach(),
        "jaw": jaw.detach(),
    }
