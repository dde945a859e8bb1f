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


@pytest.mark.parametrize("t", [1, 7, 64])
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("masked", [False, True])
def test_factorized_equals_naive_values_and_gradients(t: int, batch: int, masked: bool) -> None:
    attn = PairCrossAttention(64, 64, num_heads=8)
    with torch.no_grad():  # non-trivial biases and norms so every term is exercised
        for p in attn.parameters():
            p.add_(0.1 * torch.randn_like(p))
    outs, grads = {}, {}
    for mode in ("naive", "factorized"):
        tokens, m, e, mask = _inputs(batch, t, masked)
        attn.zero_grad()
        out = attn(tokens, m, e, mask, mask, mode=mode)
        weight = torch.randn(out.shape, generator=torch.Generator().manual_seed(7))
        (out * weight).sum().backward()
        outs[mode] = out.detach()
        grads[mode] = [tokens.grad, m.grad, e.grad] + [
            torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in attn.parameters()
        ]
    assert rel_err(outs["factorized"], outs["naive"]) < 1e-5
    names = ["tokens", "motion", "emotion"] + [n for n, _ in attn.named_parameters()]
    # The key bias cancels in the softmax; with one pair (T=1) the softmax is 1 whatever the
    # scores, so queries and keys get no gradient either. Those true gradients are zero.
    zero = {"k.bias"} if t > 1 else {"k.bias", "k.weight", "q.weight", "q.bias", "tokens"}
    for name, gf, gn in zip(names, grads["factorized"], grads["naive"], strict=True):
        if name in zero:
            assert gn.abs().max() < 1e-5 and gf.abs().max() < 1e-5, name
            continue
        if masked and name in ("motion", "emotion"):
            gf, gn = gf[mask], gn[mask]
            assert rel_err(gf, gn) < 1e-5, name
        else:
            assert rel_err(gf, gn) < 1e-5, name


def test_padded_frames_do_not_change_the_output() -> None:
    attn = PairCrossAttention(32, 32, num_heads=4)
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
    attn = PairCrossAttention(32, 32, num_heads=4)
    tokens = torch.randn(2, 3, 32)
    m, e = torch.randn(2, 5, 32), torch.randn(2, 8, 32)
    a = attn(tokens, m, e, mode="factorized")
    b = attn(tokens, m, e, mode="naive")
    assert rel_err(a, b) < 1e-5


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
