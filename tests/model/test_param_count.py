"""The paper preset's parameter count equals the architecture's arithmetic
(docs/specification.md §2).

Counts are derived here from the layer formulas, not by walking the modules.
"""

from __future__ import annotations

import torch

from lsf_animation.model.config import paper_config
from lsf_animation.model.lsf import LSFModel


def linear(i: int, o: int, bias: bool = True) -> int:
    return i * o + (o if bias else 0)


def layer_norm(d: int) -> int:
    return 2 * d


def transformer_block(d: int, ffn: int) -> int:
    # pre-LN: LN, q/k/v without bias, output projection with bias, LN, FFN d->ffn->d
    return (
        layer_norm(d)
        + 3 * linear(d, d, bias=False)
        + linear(d, d)
        + layer_norm(d)
        + linear(d, ffn)
        + linear(ffn, d)
    )


def conv1d(c_in: int, c_out: int, k: int) -> int:
    return c_in * c_out * k + c_out  # InstanceNorm without affine: no parameters


def vqvae_count(motion=53, d=256, layers=6, ffn=384, k=5, codes=256, code_dim=128) -> int:
    encoder = (
        linear(motion, d) + conv1d(d, d, k) + linear(d, d) + layers * transformer_block(d, ffn)
    )
    decoder = (
        conv1d(d, d, k)
        + linear(d, d)
        + layers * transformer_block(d, ffn)
        + linear(d, motion, bias=False)
    )
    return encoder + codes * code_dim + decoder


def sie_count(
    feat=768,
    shape=300,
    hidden=(256, 128),
    z=32,
    d=256,
    layers=12,
    ffn=384,
    k=5,
    tokens=4,
    mlp=384,
    latent=256,
) -> int:
    identity = linear(shape, hidden[0]) + linear(hidden[0], hidden[1]) + linear(hidden[1], z)
    style = linear(z, d, bias=False)
    stream = linear(2 * feat, d) + conv1d(d, d, k) + linear(d, d)
    pair_attention = (
        2 * layer_norm(d)  # per-stream norms before the concatenation
        + linear(d, d)
        + 2 * linear(2 * d, d)
        + linear(d, d)  # q, k and v on [m;e], out
    )
    fusion = layer_norm(d) + pair_attention + layer_norm(d) + linear(d, mlp) + linear(mlp, d)
    hifb = tokens * d + layers * (2 * transformer_block(d, ffn) + fusion)
    head = layer_norm(d) + linear(d, latent)
    return identity + style + 2 * stream + hifb + head


def test_paper_parameter_count() -> None:
    model = LSFModel(paper_config())
    prior = sum(p.numel() for p in model.prior.parameters())
    sie = sum(p.numel() for p in model.sie.parameters())
    assert prior == vqvae_count() == 6_375_680
    assert sie == sie_count() == 19_942_560


def test_paper_preset_runs() -> None:
    model = LSFModel(paper_config()).eval()
    motion = model(torch.randn(1, 11, 768), torch.randn(1, 11, 768), torch.randn(1, 300))
    assert motion.shape == (1, 5, 53) and torch.isfinite(motion).all()
