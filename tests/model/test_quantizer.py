"""Vector quantizer: layouts, nearest-code choice, straight-through, losses, usage, sampling."""

from __future__ import annotations

import math

import pytest
import torch

from lsf_animation.errors import LsfError
from lsf_animation.model.blocks import lengths_to_mask
from lsf_animation.model.quantizer import VectorQuantizer, usage_statistics


def _vq(layout: str = "per_frame", n: int = 16, c: int = 8, d: int = 16) -> VectorQuantizer:
    vq = VectorQuantizer(n, c, d, beta=0.25, layout=layout)
    torch.nn.init.normal_(vq.codebook.weight)
    return vq


def test_per_frame_layout_keeps_each_code_inside_one_frame() -> None:
    vq = _vq()
    z = torch.arange(2 * 5 * 16, dtype=torch.float32).view(2, 5, 16)
    rows = vq.to_rows(z)
    assert rows.shape == (2, 10, 8)
    assert torch.equal(rows[1, 7], z[1, 3, 8:])  # frame 3, second code
    assert torch.equal(vq.from_rows(rows, 5), z)


def test_release_layout_is_the_permuted_view() -> None:
    vq = _vq("release")
    z = torch.randn(2, 5, 16)
    rows = vq.to_rows(z)
    expected = z.permute(0, 2, 1).contiguous().view(2, -1, 8)
    assert torch.equal(rows, expected)
    assert rows.shape[1] == 2 * 5  # 2T codes for D = 2C
    assert torch.equal(vq.from_rows(rows, 5), z)


def test_argmin_is_the_nearest_code() -> None:
    vq = _vq()
    z = torch.randn(3, 7, 16)
    idx = vq.quantize_indices(z)
    brute = torch.cdist(vq.to_rows(z), vq.codebook.weight[None]).argmin(-1)
    assert torch.equal(idx, brute)
    out = vq(z)
    assert torch.equal(out.indices, idx)
    assert torch.allclose(out.quantized, vq.decode_indices(idx, 7))


def test_straight_through_gradient_and_losses() -> None:
    vq = _vq()
    z = torch.randn(2, 4, 16, requires_grad=True)
    out = vq(z)
    w = torch.randn_like(z)
    (out.quantized * w).sum().backward()
    assert torch.allclose(z.grad, w)  # d quantized / d z = identity
    e = vq.decode_indices(out.indices, 4)
    mse = (z.detach() - e).pow(2).mean()
    assert torch.allclose(out.codebook_loss, mse) and torch.allclose(out.commitment_loss, mse)
    assert torch.allclose(out.loss, mse * 1.25)
    # codebook loss moves the codebook, commitment moves the encoder output (weight beta)
    z2 = z.detach().clone().requires_grad_(True)
    vq.zero_grad()
    vq(z2).loss.backward()
    assert torch.allclose(z2.grad, 0.25 * 2 * (z2.detach() - e) / z2.numel(), atol=1e-7)
    assert vq.codebook.weight.grad.abs().sum() > 0


def test_padded_frames_are_left_out_of_loss_and_usage() -> None:
    vq = _vq()
    z = torch.randn(2, 6, 16)
    mask = lengths_to_mask(torch.tensor([6, 3]), 6)
    a = vq(z, mask)
    z2 = z.clone()
    z2[1, 3:] = 100.0
    b = vq(z2, mask)
    assert torch.allclose(a.loss, b.loss) and torch.equal(a.counts, b.counts)
    assert int(a.counts.sum()) == (6 + 3) * 2


def test_usage_statistics() -> None:
    counts = torch.tensor([5, 5, 5, 5, 0, 0, 0, 0])
    perplexity, dead = usage_statistics(counts)
    assert math.isclose(float(perplexity), 4.0, rel_tol=1e-5) and int(dead) == 4
    perplexity, dead = usage_statistics(torch.tensor([9, 0, 0]))
    assert math.isclose(float(perplexity), 1.0, rel_tol=1e-5) and int(dead) == 2


def test_sampling_is_reproducible_and_follows_the_softmax() -> None:
    vq = _vq(n=4, c=2, d=2)
    z = torch.randn(1, 1, 2).expand(1, 4000, 2).contiguous()
    a = vq.quantize_indices(z, 1.0, torch.Generator().manual_seed(3))
    b = vq.quantize_indices(z, 1.0, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    probs = torch.softmax(-vq.distances(vq.to_rows(z[:, :1]))[0, 0] / 1.0, dim=0)
    freq = torch.bincount(a.view(-1), minlength=4).float() / a.numel()
    assert torch.allclose(freq, probs, atol=0.03)
    # temperature 0 (or None) is argmin; a tiny temperature almost always agrees with it
    assert torch.equal(vq.quantize_indices(z, 0.0), vq.quantize_indices(z))
    near = vq.quantize_indices(z, 1e-4, torch.Generator().manual_seed(0))
    assert torch.equal(near, vq.quantize_indices(z))


def test_init_from_latents_copies_latent_rows() -> None:
    vq = _vq(n=8)
    z = torch.randn(2, 5, 16)
    mask = lengths_to_mask(torch.tensor([5, 2]), 5)
    assert vq.init_from_latents(z, mask, torch.Generator().manual_seed(0)) == 8
    rows = vq.to_rows(z)[vq.row_mask(mask, 5)]
    for code in vq.codebook.weight:
        assert (rows - code).abs().sum(-1).min() == 0


def test_bad_sizes_raise() -> None:
    with pytest.raises(LsfError, match="multiple"):
        VectorQuantizer(8, 5, 16)
    with pytest.raises(LsfError, match="layout"):
        VectorQuantizer(8, 8, 16, layout="other")
    with pytest.raises(LsfError, match="width"):
        _vq().quantize_indices(torch.randn(1, 3, 12))
