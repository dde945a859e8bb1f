"""The Hierarchical Interaction Fusion Block (paper §3.3), as the authors' release builds it.

n_f learnable fusion tokens F (shape (1, n_f, d), init N(0, 0.02^2)) and L layers. Layer l:

    m <- TransformerBlock_m^l([F ; m])[n_f:]      (pre-LN, 8 heads, FFN 384, tanh GELU)
    e <- TransformerBlock_e^l([F ; e])[n_f:]
    F <- F + PairCrossAttn(LN(F), {[e_j ; m_i]})  (all T x T pairs, exact O(T), pair_attention.py;
                                                   inner width d/4, no q/kv bias)
    F <- F + MLP(LN(F))                           (hidden 384, exact GELU)

The output is the final motion stream m (B, T, d), which the release gives the prior's
quantizer as it is (no output head; the demo preset adds one, `SIEConfig.output_head`). As in
the release, the last layer's emotion block and fusion block cannot reach that output; they are
built (the release's checkpoints hold them) but not run, which changes nothing but the time.
With L = 1 the emotion stream would not reach the output at all, so use L >= 2.
"""

from __future__ import annotations

import torch
from torch import nn

from lsf_animation.model.blocks import FeedForward, TransformerBlock
from lsf_animation.model.config import SIEConfig
from lsf_animation.model.pair_attention import PAIR_MODES, PairCrossAttention


class FusionBlock(nn.Module):
    """Token update: pair cross-attention then MLP, each pre-LN with a residual, no dropout.

    tokens (B, n, d), motion/emotion (B, T, d), mask (B, T) -> tokens (B, n, d).
    """

    def __init__(self, dim: int, num_heads: int, mlp_dim: int, attn_dim: int) -> None:
        super().__init__()
        self.norm_attn = nn.LayerNorm(dim)
        self.attn = PairCrossAttention(dim, dim, num_heads, attn_dim)
        self.norm_mlp = nn.LayerNorm(dim)
        self.mlp = FeedForward(dim, mlp_dim, gelu="none")

    def forward(
        self,
        tokens: torch.Tensor,
        motion: torch.Tensor,
        emotion: torch.Tensor,
        mask: torch.Tensor | None = None,
        mode: str = "factorized",
    ) -> torch.Tensor:
        tokens = tokens + self.attn(self.norm_attn(tokens), motion, emotion, mask, mask, mode)
        return tokens + self.mlp(self.norm_mlp(tokens))


class HIFB(nn.Module):
    """Motion and emotion streams (B, T, d) each, mask (B, T) -> final motion stream (B, T, d).

    `forward(..., pair_mode=)` selects the exact O(T) pair attention ("factorized", default) or
    the O(T^2) reference ("naive"); both compute the same function.
    """

    def __init__(self, cfg: SIEConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.num_tokens = cfg.fusion_tokens
        self.tokens = nn.Parameter(torch.randn(1, cfg.fusion_tokens, d) * cfg.token_init_std)
        self.motion_blocks = nn.ModuleList(
            TransformerBlock(d, cfg.num_heads, cfg.ffn_dim) for _ in range(cfg.num_layers)
        )
        self.emotion_blocks = nn.ModuleList(
            TransformerBlock(d, cfg.num_heads, cfg.ffn_dim) for _ in range(cfg.num_layers)
        )
        self.fusion_blocks = nn.ModuleList(
            FusionBlock(d, cfg.num_heads, cfg.fusion_mlp_dim, cfg.fusion_attn_dim)
            for _ in range(cfg.num_layers)
        )

    def forward(
        self,
        motion: torch.Tensor,
        emotion: torch.Tensor,
        mask: torch.Tensor | None = None,
        pair_mode: str = "factorized",
    ) -> torch.Tensor:
        if pair_mode not in PAIR_MODES:
            raise ValueError(f"pair_mode must be one of {PAIR_MODES}, got {pair_mode!r}")
        b, n = motion.shape[0], self.num_tokens
        tokens = self.tokens.expand(b, -1, -1)
        key_mask = None
        if mask is not None:
            key_mask = torch.cat((mask.new_ones(b, n), mask), dim=1)
        last = len(self.motion_blocks) - 1
        for layer, (motion_block, emotion_block, fusion_block) in enumerate(
            zip(self.motion_blocks, self.emotion_blocks, self.fusion_blocks, strict=True)
        ):
            motion = motion_block(torch.cat((tokens, motion), dim=1), key_mask)[:, n:]
            if layer == last:
                break  # the rest of the layer cannot affect the returned motion stream
            emotion = emotion_block(torch.cat((tokens, emotion), dim=1), key_mask)[:, n:]
            tokens = fusion_block(tokens, motion, emotion, mask, pair_mode)
        return motion
