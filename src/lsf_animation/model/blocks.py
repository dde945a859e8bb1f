"""Building blocks shared by the VQ-VAE and the SIE-Encoder, all padding-mask aware.

Mask convention everywhere in `model/`: `mask` is a (B, T) bool tensor, True on valid frames,
valid frames first (padding at the end), at least one valid frame per row; None = all valid.
Each block guarantees that the outputs on valid frames do not depend on what the padded frames
hold, so a clip gives the same result alone and padded in a batch.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from lsf_animation.errors import LsfError


def mask_lengths(mask: torch.Tensor) -> torch.Tensor:
    """(B, T) bool prefix mask -> (B,) int64 lengths; raises LsfError if not a prefix mask."""
    if mask.dtype != torch.bool or mask.dim() != 2:
        raise LsfError(f"mask must be a (B, T) bool tensor, got {tuple(mask.shape)} {mask.dtype}.")
    lengths = mask.sum(1)
    expected = torch.arange(mask.shape[1], device=mask.device)[None, :] < lengths[:, None]
    if not torch.equal(expected, mask):
        raise LsfError("mask must mark valid frames first and padding at the end of each row.")
    if bool((lengths == 0).any()):
        raise LsfError("every clip in the batch needs at least one valid frame (mask row empty).")
    return lengths


def check_mask(mask: torch.Tensor | None, batch: int, length: int) -> None:
    """Raise LsfError unless mask is None or a (batch, length) prefix mask."""
    if mask is None:
        return
    if tuple(mask.shape) != (batch, length):
        raise LsfError(f"mask is {tuple(mask.shape)}, expected (B, T) = ({batch}, {length}).")
    mask_lengths(mask)


def lengths_to_mask(lengths: torch.Tensor, length: int) -> torch.Tensor:
    """(B,) lengths -> (B, length) bool mask, True on the first lengths[b] frames."""
    return torch.arange(length, device=lengths.device)[None, :] < lengths[:, None]


def masked_instance_norm(
    x: torch.Tensor, mask: torch.Tensor | None, eps: float = 1e-5
) -> torch.Tensor:
    """InstanceNorm1d (no affine) over time using valid frames only.

    Args:
        x: (B, T, C).
        mask: (B, T) bool or None.

    Returns:
        (B, T, C), normalized per clip and channel; padded frames are zero.
    """
    if mask is None:
        mean = x.mean(1, keepdim=True)
        var = (x - mean).pow(2).mean(1, keepdim=True)
        return (x - mean) / torch.sqrt(var + eps)
    m = mask.unsqueeze(-1).to(x.dtype)
    n = m.sum(1, keepdim=True)
    mean = (x * m).sum(1, keepdim=True) / n
    var = ((x - mean) * m).pow(2).sum(1, keepdim=True) / n
    return (x - mean) / torch.sqrt(var + eps) * m


def replicate_past_end(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Overwrite padded frames with each clip's last valid frame. x: (B, T, C)."""
    if mask is None:
        return x
    lengths = mask.sum(1)
    idx = torch.minimum(torch.arange(x.shape[1], device=x.device)[None, :], lengths[:, None] - 1)
    return torch.gather(x, 1, idx.unsqueeze(-1).expand(-1, -1, x.shape[2]))


class ConvBlock(nn.Module):
    """Conv1d(k, stride 1, replicate padding) -> LeakyReLU(0.2) -> InstanceNorm1d, masked.

    Replicate padding is reproduced per clip by filling padded frames with the clip's last valid
    frame before convolving, so the clip's right edge sees what it would see alone.
    (B, T, C_in) -> (B, T, C_out).
    """

    def __init__(self, in_dim: int, out_dim: int, kernel: int = 5, slope: float = 0.2) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_dim, out_dim, kernel, stride=1, padding=0)
        self.pad = kernel // 2
        self.slope = slope

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = replicate_past_end(x, mask).transpose(1, 2)
        x = F.pad(x, (self.pad, self.pad), mode="replicate")
        x = F.leaky_relu(self.conv(x), self.slope).transpose(1, 2)
        return masked_instance_norm(x, mask)


def attention_key_mask(mask: torch.Tensor | None) -> torch.Tensor | None:
    """(B, Tk) valid mask -> (B, 1, 1, Tk) for scaled_dot_product_attention (True = attend)."""
    return None if mask is None else mask[:, None, None, :]


def split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """(B, T, H*dh) -> (B, H, T, dh): head h holds channels [h*dh, (h+1)*dh)."""
    b, t, d = x.shape
    return x.view(b, t, num_heads, d // num_heads).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, H, T, dh) -> (B, T, H*dh); inverse of `split_heads`."""
    b, h, t, dh = x.shape
    return x.transpose(1, 2).reshape(b, t, h * dh)


class SelfAttention(nn.Module):
    """Multi-head self-attention with one fused projection, as in the authors' release.

    Parameters: qkv Linear(d, 3d, no bias) whose output is [q | k | v], each split into heads
    as `split_heads` does; out Linear(d, d). Scores are scaled by 1/sqrt(d), the model width
    (not 1/sqrt(d / heads)): the release's choice, kept so its weights compute the same
    function. No dropout. (B, T, d), key mask (B, T) -> (B, T, d).
    """

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        if dim % num_heads:
            raise LsfError(f"attention width {dim} is not divisible by {num_heads} heads.")
        self.num_heads = num_heads
        self.scale = dim**-0.5
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None = None) -> torch.Tensor:
        q, k, v = (split_heads(p, self.num_heads) for p in self.qkv(x).chunk(3, dim=-1))
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attention_key_mask(key_mask), scale=self.scale
        )
        return self.out(merge_heads(out))


class CrossAttention(nn.Module):
    """Multi-head attention from x to a context, built like `SelfAttention`.

    Parameters: q Linear(d, d, no bias), kv Linear(d_ctx, 2d, no bias) with output [k | v],
    out Linear(d, d); scores scaled by 1/sqrt(d). x (B, Tq, d), context (B, Tk, d_ctx),
    key mask (B, Tk) -> (B, Tq, d). Used by the cross-attention row of Table 2.
    """

    def __init__(self, dim: int, num_heads: int, context_dim: int) -> None:
        super().__init__()
        if dim % num_heads:
            raise LsfError(f"attention width {dim} is not divisible by {num_heads} heads.")
        self.num_heads = num_heads
        self.scale = dim**-0.5
        self.q = nn.Linear(dim, dim, bias=False)
        self.kv = nn.Linear(context_dim, 2 * dim, bias=False)
        self.out = nn.Linear(dim, dim)

    def forward(
        self, x: torch.Tensor, context: torch.Tensor, key_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        k, v = (split_heads(p, self.num_heads) for p in self.kv(context).chunk(2, dim=-1))
        out = F.scaled_dot_product_attention(
            split_heads(self.q(x), self.num_heads),
            k,
            v,
            attn_mask=attention_key_mask(key_mask),
            scale=self.scale,
        )
        return self.out(merge_heads(out))


GeluApproximation = Literal["tanh", "none"]


class FeedForward(nn.Module):
    """Linear(d, hidden) -> GELU -> Linear(hidden, d).

    `gelu="tanh"`: the tanh approximation of GELU (the release's Transformer blocks);
    `gelu="none"`: the exact erf form (the release's fusion-block MLP).
    """

    def __init__(self, dim: int, hidden: int, gelu: GeluApproximation = "tanh") -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.gelu = gelu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x), approximate=self.gelu))


class TransformerBlock(nn.Module):
    """Pre-LN Transformer block: x + Attn(LN(x)), then x + FFN(LN(x)). (B, T, d) -> (B, T, d).

    The release's block: `SelfAttention` (fused qkv, 1/sqrt(d) scale), LayerNorm eps 1e-5,
    tanh-GELU FFN, no dropout inside. With `context_dim` set it is a cross-attention block
    (`CrossAttention`, queries from x, keys/values from the context, which gets its own
    LayerNorm).
    """

    def __init__(
        self, dim: int, num_heads: int, ffn_dim: int, context_dim: int | None = None
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.context_norm = nn.LayerNorm(context_dim) if context_dim else None
        self.attn: nn.Module = (
            CrossAttention(dim, num_heads, context_dim)
            if context_dim
            else SelfAttention(dim, num_heads)
        )
        self.norm2 = nn.LayerNorm(dim)
        self.ffn = FeedForward(dim, ffn_dim, gelu="tanh")

    def forward(
        self,
        x: torch.Tensor,
        key_mask: torch.Tensor | None = None,
        context: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """key_mask masks the keys: x's frames for self-attention, the context's otherwise."""
        if self.context_norm is not None:
            if context is None:
                raise ValueError("cross-attention block called without context")
            x = x + self.attn(self.norm1(x), self.context_norm(context), key_mask)
        else:
            x = x + self.attn(self.norm1(x), key_mask)
        return x + self.ffn(self.norm2(x))


class TransformerStack(nn.Module):
    """`num_layers` pre-LN self-attention blocks. (B, T, d), mask (B, T) -> (B, T, d)."""

    def __init__(self, dim: int, num_layers: int, num_heads: int, ffn_dim: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            TransformerBlock(dim, num_heads, ffn_dim) for _ in range(num_layers)
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, mask)
        return x
