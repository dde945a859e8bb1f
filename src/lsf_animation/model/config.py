"""Typed model configuration: the `paper` and `demo` presets and the ablation variant.

The same modules are built from either preset; only sizes differ. The `paper` preset is the
authors' released network, parameter for parameter (docs/release_architecture.md). Feature
dimensions and rates come from here (the offline extractors have other dimensions than HuBERT /
emotion2vec), never from constants in the modules.

`ModelConfig.to_dict()` / `ModelConfig.from_dict()` round-trip through plain dicts so the
training code can store the config in a checkpoint or load it from YAML.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from lsf_animation.constants import FEATURE_RATE_HZ, MOTION_DIM, NUM_EXPRESSION, NUM_SHAPE
from lsf_animation.errors import LsfError
from lsf_animation.io.typed_dict import from_dict, to_dict

QuantizerLayout = Literal["per_frame", "release"]

#: The rows of the paper's Table 2 (see `lsf_animation.model.variants` for what each one is).
VARIANTS: tuple[str, ...] = (
    "no_style",  # w/o style one-hot
    "no_identity",  # w/o iden
    "emotion_one_hot_shape",  # Emo one-hot + shape parameter
    "one_hot",  # Baseline (gt one-hot): identity 32 + emotion 8 + intensity 3
    "emotion_style",  # + Emotion Feature (style vector)
    "emotion_identity_style",  # + Emotion Feature + Iden Feature (style vector)
    "gate",  # Gate fusion
    "cross_attention",  # Cross-attention fusion
    "hifb",  # LSF-Animation (HIFB)
)


RECONSTRUCTION_LOSSES = ("l1", "l2")
"""Per-frame motion error of stage 1's expression and jaw terms."""


@dataclass
class VQVAEConfig:
    """Stage 1: the motion VQ-VAE (motion prior).

    Attributes:
        motion_dim: per-frame motion size (50 expression + 3 jaw).
        num_expression: how many of the leading motion dims are expression (the rest is jaw).
        hidden_dim: width of encoder/decoder and of the latent per frame.
        num_layers: Transformer blocks in the encoder and in the decoder (each).
        num_heads: attention heads.
        ffn_dim: Transformer feed-forward hidden size.
        conv_kernel: temporal Conv1d kernel size (odd).
        dropout: dropout after the positional encoding (the release's 0.1; training only).
            The Transformer blocks have none, as in the release.
        codebook_size: N codebook entries.
        code_dim: C, size of one code; `hidden_dim` must be a multiple of it.
        beta: commitment weight.
        quantizer_layout: "per_frame" (each frame's latent split into hidden_dim/code_dim codes)
            or "release" (the authors' (B,256,T) view; codes mix channels and time steps, so a
            clip's codes depend on the padded length of its batch; the paper preset uses it).
        loss_quant, loss_expression, loss_jaw: stage-1 loss weights.
        reconstruction_loss: "l1" (the paper's) or "l2" (squared error) for the expression and
            jaw terms. L1's optimum is a channel's median, so a mouth shape used on few frames
            (lip rounding, only on /UW OW W/) is reconstructed as its rest value; squared
            error keeps it (pucker reconstructed at r 0.91 against 0.25). The demo trains
            with squared error first, then L1 (`Stage1Section.warmup_loss`).
    """

    motion_dim: int = MOTION_DIM
    num_expression: int = NUM_EXPRESSION
    hidden_dim: int = 256
    num_layers: int = 6
    num_heads: int = 8
    ffn_dim: int = 384
    conv_kernel: int = 5
    dropout: float = 0.1
    codebook_size: int = 256
    code_dim: int = 128
    beta: float = 0.25
    quantizer_layout: QuantizerLayout = "per_frame"
    loss_quant: float = 1.5
    loss_expression: float = 0.5
    loss_jaw: float = 0.1
    reconstruction_loss: str = "l1"

    def validate(self) -> None:
        if self.reconstruction_loss not in RECONSTRUCTION_LOSSES:
            raise LsfError(
                f"vqvae.reconstruction_loss must be one of {', '.join(RECONSTRUCTION_LOSSES)}, "
                f"got {self.reconstruction_loss!r}."
            )
        if self.hidden_dim % self.code_dim:
            raise LsfError(
                f"vqvae.hidden_dim ({self.hidden_dim}) must be a multiple of vqvae.code_dim "
                f"({self.code_dim}); change one of them in the model config."
            )
        if self.hidden_dim % self.num_heads:
            raise LsfError(
                f"vqvae.hidden_dim ({self.hidden_dim}) must be divisible by vqvae.num_heads "
                f"({self.num_heads})."
            )
        if self.quantizer_layout not in ("per_frame", "release"):
            raise LsfError(
                f"vqvae.quantizer_layout must be 'per_frame' or 'release', "
                f"got {self.quantizer_layout!r}."
            )
        if not 0 < self.num_expression <= self.motion_dim:
            raise LsfError("vqvae.num_expression must be in 1..motion_dim.")
        if self.conv_kernel % 2 != 1:
            raise LsfError(f"vqvae.conv_kernel must be odd, got {self.conv_kernel}.")


@dataclass
class SIEConfig:
    """Stage 2: the SIE-Encoder (speech + neutral face -> prior latent).

    Attributes:
        motion_dim: size of one motion-stream feature frame (HuBERT: 768).
        emotion_dim: size of one emotion-stream feature frame (emotion2vec: 768).
        feature_rate_hz: rate of both feature streams; two frames make one 25 fps frame.
        shape_dim: FLAME shape coefficients given as the neutral face.
        identity_hidden: hidden sizes of the identity MLP.
        identity_dim: size of z_id (softmax output).
        d_model: width of the streams.
        num_layers: L, HIFB layers (and Transformer blocks per stream in the other variants).
        num_heads, ffn_dim: per-stream Transformer block.
        conv_kernel: temporal Conv1d kernel size.
        fusion_tokens: n_f, learnable fusion tokens.
        fusion_mlp_dim: hidden size of the fusion block's MLP.
        fusion_attn_ratio: width of the fusion cross-attention's queries, keys and values as a
            fraction of d_model (the release's 0.25: 64 for d_model 256).
        token_init_std: std of the fusion tokens' normal init.
        dropout: after the positional encoding (the release's 0.1; training only). The
            Transformer and fusion blocks have none, as in the release.
        output_head: a LayerNorm and a Linear(d_model, d_model) between the final motion
            stream and the prior's quantizer. Not in the release (the `paper` preset has none);
            the `demo` preset needs it (see `demo_config`).
        variant: which row of the paper's Table 2 to build (`VARIANTS`).
        num_identities, num_emotions, num_intensities: one-hot sizes of the label variants.
        loss_latent, loss_expression, loss_jaw: stage-2 loss weights.
    """

    motion_dim: int = 768
    emotion_dim: int = 768
    feature_rate_hz: float = float(FEATURE_RATE_HZ)
    shape_dim: int = NUM_SHAPE
    identity_hidden: tuple[int, ...] = (256, 128)
    identity_dim: int = 32
    d_model: int = 256
    num_layers: int = 12
    num_heads: int = 8
    ffn_dim: int = 384
    conv_kernel: int = 5
    fusion_tokens: int = 4
    fusion_mlp_dim: int = 384
    fusion_attn_ratio: float = 0.25
    token_init_std: float = 0.02
    dropout: float = 0.1
    output_head: bool = False
    variant: str = "hifb"
    num_identities: int = 32
    num_emotions: int = 8
    num_intensities: int = 3
    loss_latent: float = 1.0
    loss_expression: float = 0.15
    loss_jaw: float = 0.1

    @property
    def fusion_attn_dim(self) -> int:
        """Width of the fusion cross-attention's q, k and v (d_model * fusion_attn_ratio)."""
        return int(self.d_model * self.fusion_attn_ratio)

    def validate(self) -> None:
        if self.variant not in VARIANTS:
            raise LsfError(
                f"sie.variant {self.variant!r} is not known; use one of {', '.join(VARIANTS)}."
            )
        if self.d_model % self.num_heads:
            raise LsfError(
                f"sie.d_model ({self.d_model}) must be divisible by sie.num_heads "
                f"({self.num_heads})."
            )
        if self.feature_rate_hz != FEATURE_RATE_HZ:
            raise LsfError(
                f"sie.feature_rate_hz must be 50 (two feature frames per 25 fps motion frame), "
                f"got {self.feature_rate_hz}; resample the features to 50 Hz."
            )
        if self.conv_kernel % 2 != 1:
            raise LsfError(f"sie.conv_kernel must be odd, got {self.conv_kernel}.")
        if self.fusion_attn_dim < self.num_heads or self.fusion_attn_dim % self.num_heads:
            raise LsfError(
                f"sie.d_model * sie.fusion_attn_ratio = {self.fusion_attn_dim} must be a positive "
                f"multiple of sie.num_heads ({self.num_heads})."
            )
        if self.variant == "hifb" and self.num_layers < 2:
            raise LsfError(
                "sie.num_layers must be >= 2 for the HIFB: with one layer the emotion stream "
                "never reaches the motion stream."
            )


@dataclass
class ModelConfig:
    """The whole LSF-Animation model: the motion prior and the SIE-Encoder."""

    vqvae: VQVAEConfig = field(default_factory=VQVAEConfig)
    sie: SIEConfig = field(default_factory=SIEConfig)
    name: str = "paper"

    def validate(self) -> ModelConfig:
        """Check the sizes fit together; return self. Raises LsfError."""
        self.vqvae.validate()
        self.sie.validate()
        if self.sie.d_model != self.vqvae.hidden_dim:
            raise LsfError(
                f"sie.d_model ({self.sie.d_model}) must equal vqvae.hidden_dim "
                f"({self.vqvae.hidden_dim}): the SIE-Encoder's output is the prior's latent."
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (tuples become lists), e.g. for a checkpoint or YAML."""
        plain: dict[str, Any] = to_dict(self)
        return plain

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "model config") -> ModelConfig:
        """Inverse of `to_dict`; unknown keys or wrongly typed values raise LsfError naming
        them."""
        return from_dict(cls, d, source).validate()

    def with_variant(self, variant: str) -> ModelConfig:
        """A copy of this config with `sie.variant` replaced."""
        return dataclasses.replace(
            self, sie=dataclasses.replace(self.sie, variant=variant)
        ).validate()


def paper_config(variant: str = "hifb") -> ModelConfig:
    """The authors' released network: d=256, 6+6 prior layers with the release's code layout,
    12 HIFB layers, 768-d features (docs/release_architecture.md)."""
    cfg = ModelConfig(vqvae=VQVAEConfig(quantizer_layout="release"), name="paper")
    return cfg.with_variant(variant)


def demo_config(
    variant: str = "hifb", motion_dim: int = 768, emotion_dim: int = 768
) -> ModelConfig:
    """Small sizes that train on a CPU in minutes; same code and blocks as `paper_config`.

    Two choices differ, each for a measured reason:
    - the quantizer's "per_frame" code layout, under which a clip's codes do not depend on the
      other clips padded into its batch (the demo trains on batches of 16; the release's layout
      mixes time steps into a code, see quantizer.py);
    - an output head (`SIEConfig.output_head`): with the final motion stream going straight to
      the quantizer, as in the release, the 2-layer demo model's training loss rose from the
      second epoch on (0.085 -> 0.15 by epoch 10 at lr 1e-4; 0.084 -> 0.096 at 3e-5) and it
      never learned the emotions; with the head it falls steadily (0.073 by epoch 10).

    Args:
        variant: Table 2 row.
        motion_dim, emotion_dim: feature sizes of the extractors in use.
    """
    vq = VQVAEConfig(hidden_dim=64, num_layers=2, num_heads=4, ffn_dim=128, code_dim=32)
    sie = SIEConfig(
        motion_dim=motion_dim,
        emotion_dim=emotion_dim,
        identity_hidden=(64, 32),
        identity_dim=16,
        d_model=64,
        num_layers=2,
        num_heads=4,
        ffn_dim=128,
        fusion_tokens=4,
        fusion_mlp_dim=128,
        output_head=True,
        variant=variant,
    )
    return ModelConfig(vqvae=vq, sie=sie, name="demo").validate()


PRESETS = {"paper": paper_config, "demo": demo_config}


def preset(name: str, variant: str = "hifb") -> ModelConfig:
    """A preset by name ("paper" or "demo")."""
    if name not in PRESETS:
        raise LsfError(f"unknown model preset {name!r}; use one of {sorted(PRESETS)}.")
    return PRESETS[name](variant=variant)
