"""SIE-Encoder: 50 Hz -> 25 fps pairing, identity MLP, lengths, padding invariance, errors."""

from __future__ import annotations

import pytest
import torch

from lsf_animation.errors import LsfError
from lsf_animation.model.blocks import lengths_to_mask
from lsf_animation.model.config import demo_config
from lsf_animation.model.sie_encoder import IdentityEncoder, SIEEncoder, pair_frames


def test_pairing_joins_adjacent_frames_and_drops_an_odd_last_frame() -> None:
    f = torch.arange(2 * 7 * 3, dtype=torch.float32).view(2, 7, 3)
    p = pair_frames(f, 3)
    assert p.shape == (2, 3, 6)
    assert torch.equal(p[1, 2], torch.cat((f[1, 4], f[1, 5])))
    with pytest.raises(LsfError):
        pair_frames(f, 4)


def test_identity_embedding_is_a_distribution() -> None:
    enc = IdentityEncoder(300, (256, 128), 32)
    z = enc(torch.randn(4, 300))
    assert z.shape == (4, 32)
    assert torch.allclose(z.sum(-1), torch.ones(4)) and (z >= 0).all()


def test_output_length_follows_features_and_requested_frames(tiny_config) -> None:
    sie = SIEEncoder(tiny_config().sie, latent_dim=32).eval()
    mf, ef, shape = torch.randn(2, 41, 16), torch.randn(2, 39, 12), torch.randn(2, 300)
    latent, mask = sie(mf, ef, shape)
    assert latent.shape == (2, 19, 32) and mask is None  # min(41, 39) // 2
    latent, mask = sie(mf, ef, shape, num_frames=torch.tensor([10, 25]))
    assert latent.shape == (2, 19, 32)
    assert mask.sum(1).tolist() == [10, 19]
    feat_mask = lengths_to_mask(torch.tensor([41, 12]), 41)
    _, mask = sie(mf, ef, shape, mask=feat_mask)
    assert mask.sum(1).tolist() == [19, 6]


def test_clip_alone_equals_clip_padded_in_a_batch(tiny_config) -> None:
    cfg = tiny_config().sie
    cfg.num_layers = 2
    sie = SIEEncoder(cfg, latent_dim=32).eval()
    with torch.no_grad():
        sie.trunk.tokens.normal_()  # make the token path matter
    mf, ef, shape = torch.randn(2, 30, 16), torch.randn(2, 30, 12), torch.randn(2, 300)
    alone, _ = sie(mf[:1, :17], ef[:1, :17], shape[:1])  # 8 frames
    mf[0, 17:] = 1e3
    ef[0, 17:] = -1e3
    mask = lengths_to_mask(torch.tensor([17, 30]), 30)
    batch, m25 = sie(mf, ef, shape, mask=mask)
    assert m25.sum(1).tolist() == [8, 15]
    assert torch.allclose(batch[0, :8], alone[0], atol=1e-5)


def test_the_neutral_face_changes_the_output(tiny_config) -> None:
    sie = SIEEncoder(tiny_config().sie, latent_dim=32).eval()
    mf, ef = torch.randn(1, 20, 16), torch.randn(1, 20, 12)
    a, _ = sie(mf, ef, torch.randn(1, 300))
    b, _ = sie(mf, ef, torch.randn(1, 300))
    assert (a - b).abs().max() > 1e-4


def test_feature_dims_come_from_the_config() -> None:
    cfg = demo_config(motion_dim=40, emotion_dim=24).sie
    sie = SIEEncoder(cfg)
    latent, _ = sie(torch.randn(1, 10, 40), torch.randn(1, 10, 24), torch.randn(1, 300))
    assert latent.shape == (1, 5, cfg.d_model)  # no output head: the stream is the latent
    with pytest.raises(LsfError, match=r"set sie\.d_model = vqvae\.hidden_dim"):
        SIEEncoder(cfg, latent_dim=cfg.d_model + 1)
    with pytest.raises(LsfError, match="motion_features must be"):
        sie(torch.randn(1, 10, 768), torch.randn(1, 10, 24), torch.randn(1, 300))
    with pytest.raises(LsfError, match="too short"):
        sie(torch.randn(1, 1, 40), torch.randn(1, 1, 24), torch.randn(1, 300))


def test_label_variants_ask_for_their_labels(tiny_config) -> None:
    sie = SIEEncoder(tiny_config("one_hot").sie, latent_dim=32)
    mf = torch.randn(2, 10, 16)
    with pytest.raises(LsfError, match="'identity' label"):
        sie(mf, None, None)
    with pytest.raises(LsfError, match=r"must be in 0\.\.7"):
        sie(mf, None, None, labels={"identity": [0, 1], "emotion": [0, 8], "intensity": [0, 0]})
    latent, _ = sie(
        mf, None, None, labels={"identity": [0, 31], "emotion": [0, 7], "intensity": [0, 2]}
    )
    assert latent.shape == (2, 5, 32)


def test_output_head_only_where_the_preset_asks_for_it() -> None:
    """The release has no output head (the paper preset); the demo preset adds LayerNorm +
    Linear, applied to the final motion stream."""
    from lsf_animation.model.config import paper_config

    assert not paper_config().sie.output_head
    cfg = demo_config(motion_dim=10, emotion_dim=6).sie
    assert cfg.output_head
    sie = SIEEncoder(cfg).eval()
    assert sie.output_head is not None
    assert [tuple(p.shape) for p in sie.output_head.parameters()] == [(64,), (64,), (64, 64), (64,)]
    mf, ef, shape = torch.randn(1, 20, 10), torch.randn(1, 20, 6), torch.randn(1, 300)
    with torch.no_grad():
        latent, _ = sie(mf, ef, shape)
        head, sie.output_head = sie.output_head, None
        bare, _ = sie(mf, ef, shape)
    torch.testing.assert_close(latent, head(bare))
