"""Motion VQ-VAE: any length, padding-invariant, masked blocks, stage-1 loss, overfitting."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lsf_animation.errors import LsfError
from lsf_animation.model.blocks import ConvBlock, lengths_to_mask, masked_instance_norm
from lsf_animation.model.losses import vqvae_loss
from lsf_animation.model.vqvae import MotionVQVAE


@pytest.mark.parametrize("t", [1, 2, 5, 1500])
def test_any_length(t: int, tiny_config) -> None:
    model = MotionVQVAE(tiny_config().vqvae).eval()
    out = model(torch.rand(1, t, 53))
    assert out.reconstruction.shape == (1, t, 53)
    assert out.quant.indices.shape == (1, t * 2)
    assert torch.isfinite(out.reconstruction).all()


def test_clip_alone_equals_clip_padded_in_a_batch(tiny_config) -> None:
    model = MotionVQVAE(tiny_config().vqvae).eval()
    short, long = torch.rand(1, 9, 53), torch.rand(1, 17, 53)
    alone = model(short)
    batch = torch.cat((torch.cat((short, torch.full((1, 8, 53), 7.0)), 1), long))
    mask = lengths_to_mask(torch.tensor([9, 17]), 17)
    padded = model(batch, mask)
    assert torch.allclose(padded.latent[0, :9], alone.latent[0], atol=1e-5)
    assert torch.allclose(padded.reconstruction[0, :9], alone.reconstruction[0], atol=1e-5)
    assert torch.allclose(padded.reconstruction[1], model(long).reconstruction[0], atol=1e-5)


def test_masked_blocks_match_torch_without_padding() -> None:
    x = torch.randn(2, 11, 6)
    ref = nn.InstanceNorm1d(6)(x.transpose(1, 2)).transpose(1, 2)
    assert torch.allclose(masked_instance_norm(x, None), ref, atol=1e-5)
    full = torch.ones(2, 11, dtype=torch.bool)
    assert torch.allclose(masked_instance_norm(x, full), ref, atol=1e-5)
    block = ConvBlock(6, 4, 5)
    conv = nn.Conv1d(6, 4, 5, padding=2, padding_mode="replicate")
    conv.load_state_dict(block.conv.state_dict())
    y = nn.functional.leaky_relu(conv(x.transpose(1, 2)), 0.2)
    expected = nn.InstanceNorm1d(4)(y).transpose(1, 2)
    assert torch.allclose(block(x), expected, atol=1e-5)


def test_masks_must_be_prefix_masks(tiny_config) -> None:
    model = MotionVQVAE(tiny_config().vqvae)
    with pytest.raises(LsfError, match="valid frames first"):
        model(torch.rand(1, 4, 53), torch.tensor([[True, False, True, True]]))


def test_stage1_loss_weights_and_valid_frames_only(tiny_config) -> None:
    cfg = tiny_config().vqvae
    model = MotionVQVAE(cfg).eval()
    x = torch.rand(2, 8, 53)
    mask = lengths_to_mask(torch.tensor([8, 5]), 8)
    out = model(x, mask)
    parts = vqvae_loss(out, x, mask, cfg)
    expected = 1.5 * out.quant.loss + 0.5 * parts["expression"] + 0.1 * parts["jaw"]
    assert torch.allclose(parts["loss"], expected)
    err = (out.reconstruction - x).abs()
    assert torch.allclose(parts["jaw"], torch.cat((err[0, :, 50:], err[1, :5, 50:])).mean())
    x2 = x.clone()
    x2[1, 5:] = 50.0  # padded targets must not matter
    assert torch.allclose(vqvae_loss(out, x2, mask, cfg)["loss"], parts["loss"])


def test_release_layout_runs(tiny_config) -> None:
    cfg = tiny_config().vqvae
    cfg.quantizer_layout = "release"
    out = MotionVQVAE(cfg)(torch.rand(2, 5, 53))
    assert out.reconstruction.shape == (2, 5, 53) and out.quant.indices.shape == (2, 10)


def test_overfits_one_batch(tiny_config) -> None:
    cfg = tiny_config().vqvae
    model = MotionVQVAE(cfg)
    x = torch.rand(2, 16, 53)
    mask = lengths_to_mask(torch.tensor([16, 11]), 16)
    with torch.no_grad():
        model.quantizer.init_from_latents(model.encoder(x, mask), mask)
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    first = None
    for _ in range(400):
        parts = vqvae_loss(model(x, mask), x, mask, cfg)
        now = (parts["loss"].item(), parts["expression"].item())
        first = first or now
        # the whole loss and the reconstruction itself (not just the codebook terms) fall 90%
        if now[0] < 0.1 * first[0] and now[1] < 0.1 * first[1]:
            break
        opt.zero_grad()
        parts["loss"].backward()
        opt.step()
    assert now[0] < 0.1 * first[0] and now[1] < 0.1 * first[1], (first, now)


def test_squared_reconstruction_error_and_its_check(tiny_config) -> None:
    """reconstruction_loss="l2" (the demo prior's): squared error on valid frames only."""
    cfg = tiny_config().vqvae
    model = MotionVQVAE(cfg).eval()
    x = torch.rand(2, 8, 53)
    mask = lengths_to_mask(torch.tensor([8, 5]), 8)
    out = model(x, mask)
    cfg.reconstruction_loss = "l2"
    parts = vqvae_loss(out, x, mask, cfg)
    sq = (out.reconstruction - x).square()
    assert torch.allclose(parts["expression"], torch.cat((sq[0, :, :50], sq[1, :5, :50])).mean())
    assert torch.allclose(parts["jaw"], torch.cat((sq[0, :, 50:], sq[1, :5, 50:])).mean())
    cfg.reconstruction_loss = "huber"
    with pytest.raises(LsfError, match="reconstruction_loss must be one of l1, l2"):
        cfg.validate()
