"""Cross-attention from fusion tokens to all T x T emotion/motion pairs, in exact O(T).

The HIFB updates its n_f fusion tokens by attending to every pair p_ji = [e_j ; m_i] (emotion
frame j concatenated with motion frame i, in the release's order). Keys and values are linear
in the pair without bias (the release's `kv` projection),

    k_ji = A e_j + B m_i,        v_ji = C e_j + D m_i,

so the per-head score of query q is q.A e_j + q.B m_i, and exp(a_j + b_i) = exp(a_j) exp(b_i):
the softmax over pairs is the product r_j p_i of a softmax over j (keys A e) and a softmax over
i (keys B m). Summing the values, with sum_i p_i = sum_j r_j = 1:

    out = sum_j r_j C e_j + sum_i p_i D m_i.

That is two ordinary attentions of length T, exactly (up to float rounding). A padded i or j
excludes every pair it belongs to, which is a mask on i in one attention and on j in the other.
Normalization of the pair inputs is per stream (LayerNorm on e and on m separately, before the
concatenation), which keeps the identity exact; no dropout on attention weights.

Widths follow the release: queries, keys and values are `inner` wide (a quarter of the model
width d, so 64 for d = 256, 8 per head), while scores are scaled by 1/sqrt(d / heads) as if
they were d wide.

`mode="naive"` builds the (B, T*T, 2*d_stream) pair tensor like the authors' release and is kept
as the reference for tests and the benchmark.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lsf_animation.errors import LsfError
from lsf_animation.model.blocks import attention_key_mask, merge_heads, split_heads

PAIR_MODES = ("factorized", "naive")


class PairCrossAttention(nn.Module):
    """Queries from tokens (B, n, d); keys/values from pairs of two streams (B, T, d_s) each.

    Parameters: per-stream LayerNorm(d_s) x 2 (`norm_emotion`, `norm_motion`), q Linear(d,
    inner, no bias), kv Linear(2 d_s, 2 inner, no bias) whose input is [emotion ; motion] and
    output [k | v], out Linear(inner, d). Scores scaled by 1/sqrt(d // heads).
    """

    def __init__(self, dim: int, stream_dim: int, num_heads: int, inner_dim: int) -> None:
        super().__init__()
        if inner_dim % num_heads:
            raise LsfError(
                f"fusion attention width {inner_dim} is not divisible by {num_heads} heads."
            )
        self.num_heads = num_heads
        self.stream_dim = stream_dim
        self.inner_dim = inner_dim
        self.scale = (dim // num_heads) ** -0.5
        self.norm_emotion = nn.LayerNorm(stream_dim)
        self.norm_motion = nn.LayerNorm(stream_dim)
        self.q = nn.Linear(dim, inner_dim, bias=False)
        self.kv = nn.Linear(2 * stream_dim, 2 * inner_dim, bias=False)
        self.out = nn.Linear(inner_dim, dim)

    def forward(
        self,
        tokens: torch.Tensor,
        motion: torch.Tensor,
        emotion: torch.Tensor,
        motion_mask: torch.Tensor | None = None,
        emotion_mask: torch.Tensor | None = None,
        mode: str = "factorized",
    ) -> torch.Tensor:
        """Attend from the tokens to all pairs (j, i) with both frames valid.

        Args:
            tokens: (B, n, d), already normalized by the caller.
            motion: (B, Tm, d_s); emotion: (B, Te, d_s).
            motion_mask: (B, Tm) bool valid or None; emotion_mask: (B, Te) likewise.
            mode: "factorized" (O(T)) or "naive" (materializes the Te*Tm pairs).

        Returns:
            (B, n, d).
        """
        e = self.norm_emotion(emotion)
        m = self.norm_motion(motion)
        h = self.num_heads
        q = split_heads(self.q(tokens), h)
        if mode == "factorized":
            ds, di = self.stream_dim, self.inner_dim
            w = self.kv.weight  # (2 inner, 2 d_s): rows [k | v], columns [emotion | motion]
            ke, km = e @ w[:di, :ds].t(), m @ w[:di, ds:].t()
            ve, vm = e @ w[di:, :ds].t(), m @ w[di:, ds:].t()
            out_e = F.scaled_dot_product_attention(
                q,
                split_heads(ke, h),
                split_heads(ve, h),
                attn_mask=attention_key_mask(emotion_mask),
                scale=self.scale,
            )
            out_m = F.scaled_dot_product_attention(
                q,
                split_heads(km, h),
                split_heads(vm, h),
                attn_mask=attention_key_mask(motion_mask),
                scale=self.scale,
            )
            out = merge_heads(out_e + out_m)
        elif mode == "naive":
            b, te, ds = e.shape
            tm = m.shape[1]
            pairs = torch.cat(
                (e[:, :, None, :].expand(b, te, tm, ds), m[:, None, :, :].expand(b, te, tm, ds)),
                dim=-1,
            ).reshape(b, te * tm, 2 * ds)
            pair_mask = None
            if motion_mask is not None or emotion_mask is not None:
                em = (
                    emotion_mask
                    if emotion_mask is not None
                    else e.new_ones(b, te, dtype=torch.bool)
                )
                mm = motion_mask if motion_mask is not None else m.new_ones(b, tm, dtype=torch.bool)
                pair_mask = (em[:, :, None] & mm[:, None, :]).reshape(b, te * tm)
            k, v = self.kv(pairs).chunk(2, dim=-1)
            out = merge_heads(
                F.scaled_dot_product_attention(
                    q,
                    split_heads(k, h),
                    split_heads(v, h),
                    attn_mask=attention_key_mask(pair_mask),
                    scale=self.scale,
                )
            )
        else:
            raise ValueError(f"pair attention mode must be one of {PAIR_MODES}, got {mode!r}")
        return self.out(out)
