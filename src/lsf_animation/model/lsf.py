"""The assembled LSF-Animation model: SIE-Encoder -> frozen codebook -> frozen decoder.

Motion in and out is in scaled units (each dim min-max scaled to [0, 1]); the scalers belong to
the training code and the checkpoint. Output frames are at 25 fps: T = min(num_frames,
valid 50 Hz frames // 2) per clip, or T50 // 2 when num_frames is not given.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lsf_animation.errors import LsfError
from lsf_animation.model.config import ModelConfig
from lsf_animation.model.sie_encoder import SIEEncoder
from lsf_animation.model.vqvae import MotionVQVAE


@dataclass
class LSFOutput:
    """motion (B, T, 53) scaled; latent (B, T, D) SIE output; quantized (B, T, D) with
    straight-through gradients; indices (B, R); mask (B, T) bool valid frames or None."""

    motion: torch.Tensor
    latent: torch.Tensor
    quantized: torch.Tensor
    indices: torch.Tensor
    mask: torch.Tensor | None


class LSFModel(nn.Module):
    """Motion prior (`prior`, stage 1) + SIE-Encoder (`sie`, stage 2).

    Args:
        cfg: the model config (`paper_config()`, `demo_config()`, or loaded).
        motion_backbone: optional module applied to the motion features first, called as
            `motion_backbone(features (B, T50, Dm), mask (B, T50) bool | None) -> (B, T50, Dm)`
            (for the paper preset: HuBERT's fine-tuned upper layers on cached lower-layer
            states).
    """

    def __init__(self, cfg: ModelConfig, motion_backbone: nn.Module | None = None) -> None:
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.prior = MotionVQVAE(cfg.vqvae)
        self.sie = SIEEncoder(cfg.sie, latent_dim=cfg.vqvae.hidden_dim)
        self.motion_backbone = motion_backbone
        self.prior_frozen = False

    def freeze_prior(self) -> LSFModel:
        """Stage 2: stop training the prior (no gradients to it, always in eval mode)."""
        self.prior.requires_grad_(False)
        self.prior.eval()
        self.prior_frozen = True
        return self

    def train(self, mode: bool = True) -> LSFModel:
        super().train(mode)
        if self.prior_frozen:
            self.prior.eval()
        return self

    def predict_latent(
        self,
        motion_features: torch.Tensor,
        emotion_features: torch.Tensor | None,
        shape: torch.Tensor | None,
        mask: torch.Tensor | None = None,
        labels: dict[str, torch.Tensor] | None = None,
        num_frames: int | torch.Tensor | None = None,
        apply_backbone: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """SIE-Encoder latent (B, T, D) and the 25 fps mask (see `SIEEncoder.forward`).

        `apply_backbone=False`: the motion features already went through `motion_backbone`
        (inference runs it next to the emotion encoder, see `Animator`)."""
        if self.motion_backbone is not None and apply_backbone:
            motion_features = self.motion_backbone(motion_features, mask)
        return self.sie(motion_features, emotion_features, shape, mask, labels, num_frames)

    def run(
        self,
        motion_features: torch.Tensor,
        emotion_features: torch.Tensor | None,
        shape: torch.Tensor | None,
        mask: torch.Tensor | None = None,
        labels: dict[str, torch.Tensor] | None = None,
        num_frames: int | torch.Tensor | None = None,
    ) -> LSFOutput:
        """Deterministic (argmin) pass with everything the stage-2 loss needs."""
        latent, mask25 = self.predict_latent(
            motion_features, emotion_features, shape, mask, labels, num_frames
        )
        quant = self.prior.quantizer(latent, mask25)
        motion = self.prior.decode(quant.quantized, mask25)
        return LSFOutput(motion, latent, quant.quantized, quant.indices, mask25)

    def forward(
        self,
        motion_features: torch.Tensor,
        emotion_features: torch.Tensor | None,
        shape: torch.Tensor | None,
        mask: torch.Tensor | None = None,
        labels: dict[str, torch.Tensor] | None = None,
        num_frames: int | torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Features (B, T50, Dm), (B, T50, De) at 50 Hz, shape (B, 300) -> motion (B, T, 53)."""
        return self.run(motion_features, emotion_features, shape, mask, labels, num_frames).motion

    @torch.no_grad()
    def sample(
        self,
        motion_features: torch.Tensor,
        emotion_features: torch.Tensor | None,
        shape: torch.Tensor | None,
        mask: torch.Tensor | None = None,
        labels: dict[str, torch.Tensor] | None = None,
        num_frames: int | torch.Tensor | None = None,
        num_samples: int = 1,
        temperature: float = 0.2,
        generator: torch.Generator | None = None,
        apply_backbone: bool = True,
    ) -> torch.Tensor:
        """K samples per clip: codes drawn from softmax(-||z - e||^2 / temperature).

        temperature 0 gives argmin (the `forward` result) for every sample. Call `eval()` first
        for inference (dropout). `apply_backbone`: see `predict_latent`. Returns (B, K, T, 53).
        """
        if num_samples < 1:
            raise LsfError(f"num_samples must be >= 1, got {num_samples}.")
        latent, mask25 = self.predict_latent(
            motion_features, emotion_features, shape, mask, labels, num_frames, apply_backbone
        )
        b, t, d = latent.shape
        k = num_samples
        latent_k = latent.unsqueeze(1).expand(b, k, t, d).reshape(b * k, t, d)
        mask_k = None if mask25 is None else mask25.repeat_interleave(k, dim=0)
        indices = self.prior.quantizer.quantize_indices(latent_k, temperature, generator)
        motion = self.prior.decode_indices(indices, t, mask_k)
        return motion.view(b, k, t, -1)
