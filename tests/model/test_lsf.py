"""The assembled model: shapes, sampling, frozen prior, backbone hook, config round trip."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lsf_animation.errors import LsfError
from lsf_animation.model.blocks import lengths_to_mask
from lsf_animation.model.config import ModelConfig, demo_config, paper_config, preset
from lsf_animation.model.losses import sie_loss
from lsf_animation.model.lsf import LSFModel


def _inputs(t50: int = 21, b: int = 2):
    return torch.randn(b, t50, 16), torch.randn(b, t50, 12), torch.randn(b, 300)


def test_forward_and_sample_shapes(tiny_config) -> None:
    model = LSFModel(tiny_config()).eval()
    mf, ef, shape = _inputs()
    motion = model(mf, ef, shape)
    assert motion.shape == (2, 10, 53)
    assert model(mf, ef, shape, num_frames=7).shape == (2, 7, 53)
    samples = model.sample(mf, ef, shape, num_samples=3, temperature=0.2)
    assert samples.shape == (2, 3, 10, 53)


def test_sampling_reproducible_diverse_and_argmin_at_zero(tiny_config) -> None:
    model = LSFModel(tiny_config()).eval()
    torch.nn.init.normal_(model.prior.quantizer.codebook.weight, std=0.1)
    mf, ef, shape = _inputs()
    a = model.sample(
        mf, ef, shape, num_samples=4, temperature=1.0, generator=torch.Generator().manual_seed(5)
    )
    b = model.sample(
        mf, ef, shape, num_samples=4, temperature=1.0, generator=torch.Generator().manual_seed(5)
    )
    assert torch.equal(a, b)
    assert (a[:, 0] - a[:, 1]).abs().max() > 1e-3  # samples differ
    det = model.sample(mf, ef, shape, num_samples=2, temperature=0.0)
    assert torch.allclose(det[:, 0], model(mf, ef, shape), atol=1e-6)
    assert torch.allclose(det[:, 1], det[:, 0])


def test_sample_with_padding_matches_alone(tiny_config) -> None:
    model = LSFModel(tiny_config()).eval()
    mf, ef, shape = _inputs(21)
    mask = lengths_to_mask(torch.tensor([21, 12]), 21)
    batch = model.sample(mf, ef, shape, mask=mask, num_samples=2, temperature=0.0)
    alone = model.sample(mf[1:, :12], ef[1:, :12], shape[1:], num_samples=2, temperature=0.0)
    assert torch.allclose(batch[1, :, :6], alone[0], atol=1e-5)


def test_frozen_prior_stays_frozen_and_in_eval(tiny_config) -> None:
    cfg = tiny_config()
    cfg.vqvae.dropout = 0.5
    model = LSFModel(cfg).freeze_prior().train()
    assert not model.prior.training and model.sie.training
    mf, ef, shape = _inputs()
    out = model.run(mf, ef, shape)
    target = torch.rand(2, 10, 53)
    loss = sie_loss(out, target, model.prior.target_latent(target), cfg.sie)["loss"]
    loss.backward()
    assert all(p.grad is None for p in model.prior.parameters())
    assert model.sie.embedding.weight.grad is not None


def test_motion_backbone_is_applied_first(tiny_config) -> None:
    calls = []

    class Backbone(nn.Module):
        def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
            calls.append(x.shape)
            return x * 0.0

    model = LSFModel(tiny_config(), motion_backbone=Backbone()).eval()
    mf, ef, shape = _inputs()
    a = model(mf, ef, shape)
    b = model(torch.randn_like(mf), ef, shape)
    assert calls == [mf.shape, mf.shape] and torch.allclose(a, b)


def test_config_round_trip_and_errors() -> None:
    for cfg in (paper_config(), demo_config("gate", 40, 24), preset("demo", "one_hot")):
        again = ModelConfig.from_dict(cfg.to_dict())
        assert again == cfg
    with pytest.raises(LsfError, match="unknown key"):
        ModelConfig.from_dict({"vqvae": {"hidden": 3}})
    with pytest.raises(LsfError, match="variant"):
        paper_config("nope")
    with pytest.raises(LsfError, match="preset"):
        preset("huge")
    assert paper_config().sie.motion_dim == 768 and demo_config(motion_dim=40).sie.motion_dim == 40
