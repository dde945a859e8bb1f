"""Cross-attention from fusion tokens to all T x T motion/emotion pairs, in exact O(T).

The HIFB updates its n_f fusion tokens by attending to every pair p_ij = [m_i ; e_j] (motion
frame i concatenated with emotion frame j). With keys and values linear in the pair,

    k_ij = A m_i + B e_j + b_k,        v_ij = C m_i + D e_j + b_v,

the per-head score of query q is q.A m_i + q.B e_j + q.b_k; the last term is the same for all
pairs and cancels in the softmax, and exp(a_i + b_j) = exp(a_i) exp(b_j), so the softmax over
pairs is the product p_i r_j of a softmax over i (keys A m) and a softmax over j (keys B e).
Summing the values, with sum_i p_i = sum_j r_j = 1:

    out = sum_i p_i C m_i + sum_j r_j D e_j + b_v.

That is two ordinary attentions of length T, exactly (up to float rounding). A padded i or j
excludes every pair it belongs to, which is a mask on i in the first attention and on j in the
second. Normalization of the pair inputs is per stream (LayerNorm on m and on e separately,
before the concatenation), which keeps the identity exact; no dropout on attention weights.

`mode="naive"` builds the (B, T*T, 2*d_stream) pair tensor like the authors' release and is kept
as the reference for tests and the benchmark.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lsf_animation.model.blocks import attention_key_mask

PAIR_MODES = ("factorized", "naive")


class PairCrossAttention(nn.Module):
    """Queries from tokens (B, n, d); keys/values from pairs of two streams (B, T, d_s) each.

    Parameters: per-stream LayerNorm(d_s) x 2, q Linear(d, d), k Linear(2 d_s, d),
    v Linear(2 d_s, d), out Linear(d, d). Scores scaled by 1/sqrt(d / heads).
    """

    def __init__(self, dim: int, stream_dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.stream_dim = stream_dim
        self.norm_motion = nn.LayerNorm(stream_dim)
        self.norm_emotion = nn.LayerNorm(stream_dim)
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(2 * stream_dim, dim)
        self.v = nn.Linear(2 * stream_dim, dim)
        self.out = nn.Linear(dim, dim)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        return x.view(b, t, self.num_heads, d // self.num_heads).transpose(1, 2)

    def _merge(self, x: torch.Tensor) -> torch.Tensor:
        b, h, t, dh = x.shape
        return x.transpose(1, 2).reshape(b, t, h * dh)

    def forward(
        self,
        tokens: torch.Tensor,
        motion: torch.Tensor,
        emotion: torch.Tensor,
        motion_mask: torch.Tensor | None = None,
        emotion_mask: torch.Tensor | None = None,
        mode: str = "factorized",
    ) -> torch.Tensor:
        """Attend from the tokens to all pairs (i, j) with both frames valid.

        Args:
            tokens: (B, n, d), already normalized by the caller.
            motion: (B, Tm, d_s); emotion: (B, Te, d_s).
            motion_mask: (B, Tm) bool valid or None; emotion_mask: (B, Te) likewise.
            mode: "factorized" (O(T)) or "naive" (materializes the Tm*Te pairs).

        Returns:
            (B, n, d).
        """
        m = self.norm_motion(motion)
        e = self.norm_emotion(emotion)
        q = self._heads(self.q(tokens))
        if mode == "factorized":
            ds = self.stream_dim
            wk, wv = self.k.weight, self.v.weight
            # Key bias b_k is constant over pairs and cancels in the softmax.
            km, ke = m @ wk[:, :ds].t(), e @ wk[:, ds:].t()
            vm, ve = m @ wv[:, :ds].t(), e @ wv[:, ds:].t()
            out_m = F.scaled_dot_product_attention(
                q, self._heads(km), self._heads(vm), attn_mask=attention_key_mask(motion_mask)
            )
            out_e = F.scaled_dot_product_attention(
                q, self._heads(ke), self._heads(ve), attn_mask=attention_key_mask(emotion_mask)
            )
            out = self._merge(out_m + out_e) + self.v.bias
        elif mode == "naive":
            b, tm, ds = m.shape
            te = e.shape[1]
            pairs = torch.cat(
                (m[:, :, None, :].expand(b, tm, te, ds), e[:, None, :, :].expand(b, tm, te, ds)),
                dim=-1,
            ).reshape(b, tm * te, 2 * ds)
            pair_mask = None
            if motion_mask is not None or emotion_mask is not None:
                mm = motion_mask if motion_mask is not None else m.new_ones(b, tm, dtype=torch.bool)
                em = (
                    emotion_mask
                    if emotion_mask is not None
                    else e.new_ones(b, te, dtype=torch.bool)
                )
                pair_mask = (mm[:, :, None] & em[:, None, :]).reshape(b, tm * te)
            out = self._merge(
                F.scaled_dot_product_attention(
                    q,
                    self._heads(self.k(pairs)),
                    self._heads(self.v(pairs)),
                    attn_mask=attention_key_mask(pair_mask),
                )
            )
        else:
            raise ValueError(f"pair attention mode must be one of {PAIR_MODES}, got {mode!r}")
        return self.out(out)
