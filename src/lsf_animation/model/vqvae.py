"""Stage 1: the motion VQ-VAE (the motion prior), as ProbTalk3D and the LSF-Animation release
build it (docs/release_architecture.md).

Encoder: Linear(53->d) -> LeakyReLU(0.2) -> [Conv1d(k=5, replicate) -> LeakyReLU -> InstanceNorm]
-> linear embedding -> sinusoidal PE + dropout -> Transformer (pre-LN, 8 heads, FFN 384, the
release's blocks). Quantizer: codebook N x C (see `quantizer.py`). Decoder: [Conv1d block] ->
linear embedding -> PE + dropout -> Transformer -> Linear(d->53, no bias). No temporal
downsampling: one latent frame (d values) per motion frame. Motion is in scaled units (min-max
scaled per dimension).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from lsf_animation.model.blocks import ConvBlock, TransformerStack, check_mask
from lsf_animation.model.config import VQVAEConfig
from lsf_animation.model.positional import PositionalEncoding
from lsf_animation.model.quantizer import QuantizerOutput, VectorQuantizer


@dataclass
class VQVAEOutput:
    """reconstruction (B, T, 53); latent (B, T, d) before quantization; quant: quantizer pass."""

    reconstruction: torch.Tensor
    latent: torch.Tensor
    quant: QuantizerOutput


class MotionEncoder(nn.Module):
    """(B, T, 53) scaled motion -> (B, T, d) latent."""

    def __init__(self, cfg: VQVAEConfig) -> None:
        super().__init__()
        d = cfg.hidden_dim
        self.input_map = nn.Linear(cfg.motion_dim, d)
        self.conv = ConvBlock(d, d, cfg.conv_kernel)
        self.embedding = nn.Linear(d, d)
        self.position = PositionalEncoding(d, cfg.dropout)
        self.transformer = TransformerStack(d, cfg.num_layers, cfg.num_heads, cfg.ffn_dim)

    def forward(self, motion: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = F.leaky_relu(self.input_map(motion), 0.2)
        x = self.position(self.embedding(self.conv(x, mask)))
        return self.transformer(x, mask)


class MotionDecoder(nn.Module):
    """(B, T, d) quantized latent -> (B, T, 53) scaled motion."""

    def __init__(self, cfg: VQVAEConfig) -> None:
        super().__init__()
        d = cfg.hidden_dim
        self.conv = ConvBlock(d, d, cfg.conv_kernel)
        self.embedding = nn.Linear(d, d)
        self.position = PositionalEncoding(d, cfg.dropout)
        self.transformer = TransformerStack(d, cfg.num_layers, cfg.num_heads, cfg.ffn_dim)
        self.output_map = nn.Linear(d, cfg.motion_dim, bias=False)

    def forward(self, latent: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = self.position(self.embedding(self.conv(latent, mask)))
        return self.output_map(self.transformer(x, mask))


class MotionVQVAE(nn.Module):
    """Encoder -> vector quantizer -> decoder. Any T >= 1; padding masks supported."""

    def __init__(self, cfg: VQVAEConfig) -> None:
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.encoder = MotionEncoder(cfg)
        self.quantizer = VectorQuantizer(
            cfg.codebook_size, cfg.code_dim, cfg.hidden_dim, cfg.beta, cfg.quantizer_layout
        )
        self.decoder = MotionDecoder(cfg)

    @property
    def latent_dim(self) -> int:
        return self.cfg.hidden_dim

    def forward(self, motion: torch.Tensor, mask: torch.Tensor | None = None) -> VQVAEOutput:
        """motion: (B, T, 53) scaled; mask: (B, T) bool valid frames or None."""
        check_mask(mask, motion.shape[0], motion.shape[1])
        latent = self.encoder(motion, mask)
        quant = self.quantizer(latent, mask)
        return VQVAEOutput(self.decoder(quant.quantized, mask), latent, quant)

    @torch.no_grad()
    def target_latent(self, motion: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The quantized latent of ground-truth motion (stage-2 target), no gradient. (B, T, d)."""
        latent = self.encoder(motion, mask)
        indices = self.quantizer.quantize_indices(latent)
        return self.quantizer.decode_indices(indices, motion.shape[1])

    def decode(self, quantized: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, d) quantized latent -> (B, T, 53)."""
        check_mask(mask, quantized.shape[0], quantized.shape[1])
        return self.decoder(quantized, mask)

    def decode_indices(
        self, indices: torch.Tensor, length: int, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(B, R) codes -> (B, T, 53) motion, T = length."""
        return self.decoder(self.quantizer.decode_indices(indices, length), mask)
