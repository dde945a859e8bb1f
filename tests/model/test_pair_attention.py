"""The exact O(T) pair attention equals the T x T reference, values and gradients."""

from __future__ import annotations

import pytest
import torch

from lsf_animation.model.blocks import lengths_to_mask
from lsf_animation.model.config import SIEConfig
from lsf_animation.model.hifb import HIFB
from lsf_animation.model.pair_attention import PairCrossAttention


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach(), b.detach()
    return float((a - b).norm() / b.norm().clamp_min(1e-30)) if a.numel() else 0.0


def _inputs(batch: int, t: int, masked: bool, dim: int = 64, n: int = 4):
    g = torch.Generator().manual_seed(1000 * t + batch)
    tokens = torch.randn(batch, n, dim, generator=g, requires_grad=True)
    m = torch.randn(batch, t, dim, generator=g, requires_grad=True)
    e = torch.randn(batch, t, dim, generator=g, requires_grad=True)
    mask = None
    if masked:
        lengths = torch.randint(1, t + 1, (batch,), generator=g)
        lengths[0] = t
        mask = lengths_to_mask(lengths, t)
    return tokens, m, e, mask


def _release_pair_attention(attn: PairCrossAttention, tokens, m, e) -> torch.Tensor:
    """The release's order of operations, written out: every pair [e_j ; m_i] through `kv`,
    heads of width inner / H, scores scaled by (d // H) ** -0.5, softmax over all pairs."""
    b, n, d = tokens.shape
    h = attn.num_heads
    en, mn = attn.norm_emotion(e), attn.norm_motion(m)
    te, tm = en.shape[1], mn.shape[1]
    pairs = torch.cat(
        [en.unsqueeze(2).repeat(1, 1, tm, 1), mn.unsqueeze(1).repeat(1, te, 1, 1)], dim=3
    ).flatten(1, 2)
    q = attn.q(tokens).reshape(b, n, h, -1).permute(0, 2, 1, 3)
    k, v = attn.kv(pairs).reshape(b, te * tm, 2, h, -1).permute(2, 0, 3, 1, 4)
    weights = ((q @ k.transpose(-2, -1)) * (d // h) ** -0.5).softmax(dim=-1)
    return attn.out((weights @ v).transpose(1, 2).reshape(b, n, -1))


# (model width, heads, inner width): the release's block (256, 8 heads, inner 64 = d / 4) and a
# small one.
SIZES = [(256, 8, 64), (32, 4, 8)]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("t", [1, 7, 40])
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("masked", [False, True])
def test_factorized_equals_naive_values_and_gradients(
    size: tuple[int, int, int], t: int, batch: int, masked: bool
) -> None:
    dim, heads, inner = size
    attn = PairCrossAttention(dim, dim, num_heads=heads, inner_dim=inner)
    with torch.no_grad():  # non-trivial norms and a visible attention pattern
        for p in attn.parameters():
            p.add_(0.1 * torch.randn_like(p))
        attn.q.weight.mul_(4.0)
    outs, grads = {}, {}
    for mode in ("naive", "factorized"):
        tokens, m, e, mask = _inputs(batch, t, masked, dim=dim)
        attn.zero_grad()
        out = attn(tokens, m, e, mask, mask, mode=mode)
        weight = torch.randn(out.shape, generator=torch.Generator().manual_seed(7))
        (out * weight).sum().backward()
        outs[mode] = out.detach()
        grads[mode] = [tokens.grad, m.grad, e.grad] + [
            torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in attn.parameters()
        ]
    assert rel_err(outs["factorized"], outs["naive"]) < 1e-5
    if not masked:
        tokens, m, e, _ = _inputs(batch, t, masked, dim=dim)
        assert rel_err(outs["factorized"], _release_pair_attention(attn, tokens, m, e)) < 1e-5
    names = ["tokens", "motion", "emotion"] + [n for n, _ in attn.named_parameters()]
    # With one pair (T=1) the softmax is 1 whatever the scores, so queries and keys get no
    # gradient: those true gradients are zero.
    zero = set() if t > 1 else {"tokens", "q.weight"}
    for name, gf, gn in zip(names, grads["factorized"], grads["naive"], strict=True):
        if name in zero:
            assert gn.abs().max() < 1e-4 and gf.abs().max() < 1e-4, name
            continue
        if t == 1 and name == "kv.weight":  # the key rows get no gradient either
            gf, gn = gf[inner:], gn[inner:]
        if masked and name in ("motion", "emotion"):
            gf, gn = gf[mask], gn[mask]
        assert rel_err(gf, gn) < 1e-5, name


def test_padded_frames_do_not_change_the_output() -> None:
    attn = PairCrossAttention(32, 32, num_heads=4, inner_dim=8)
    tokens, m, e, _ = _inputs(1, 9, False, dim=32)
    mask = lengths_to_mask(torch.tensor([6]), 9)
    ref = attn(tokens, m[:, :6], e[:, :6])
    m2, e2 = m.detach().clone(), e.detach().clone()
    m2[:, 6:] = 1e3
    e2[:, 6:] = -1e3
    for mode in ("factorized", "naive"):
        out = attn(tokens, m2, e2, mask, mask, mode=mode)
        assert rel_err(out, ref) < 1e-5


def test_unequal_stream_lengths() -> None:
    attn = PairCrossAttention(32, 32, num_heads=4, inner_dim=8)
    tokens = torch.randn(2, 3, 32)
    m, e = torch.randn(2, 5, 32), torch.randn(2, 8, 32)
    a = attn(tokens, m, e, mode="factorized")
    b = attn(tokens, m, e, mode="naive")
    assert rel_err(a, b) < 1e-5
    assert rel_err(a, _release_pair_attention(attn, tokens, m, e)) < 1e-5


def test_hifb_factorized_equals_naive() -> None:
    cfg = SIEConfig(
        d_model=32, num_layers=3, num_heads=4, ffn_dim=64, fusion_mlp_dim=64, dropout=0.0
    )
    hifb = HIFB(cfg)
    m, e = torch.randn(2, 11, 32), torch.randn(2, 11, 32)
    mask = lengths_to_mask(torch.tensor([11, 5]), 11)
    a = hifb(m, e, mask, pair_mode="factorized")
    b = hifb(m, e, mask, pair_mode="naive")
    assert rel_err(a[mask], b[mask]) < 1e-5
    # The emotion stream reaches the motion stream through the fusion tokens (made large here:
    # at their N(0, 0.02^2) init the effect is tiny).
    with torch.no_grad():
        hifb.tokens.normal_()
    a = hifb(m, e, mask)
    e2 = e.clone()
    e2[:, 3] += torch.randn(32)
    assert (hifb(m, e2, mask) - a).abs().max() > 1e-3
