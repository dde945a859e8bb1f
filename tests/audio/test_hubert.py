"""HuBERT motion stream: loading, normalization, the exact frozen/trainable split, extractors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import HubertConfig, HubertModel

from fixtures_hubert import tiny_hubert_config
from lsf_animation.audio.features import check_features, get_extractor, num_frames_50hz
from lsf_animation.audio.hubert import (
    HubertExtractor,
    load_hubert,
    normalize_waveform,
    split_hubert,
)
from lsf_animation.errors import LsfError


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("hubert_tiny")
    HubertModel(tiny_hubert_config()).save_pretrained(path)
    return path


def speech_like(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(16000 * seconds)
    t = np.arange(n) / 16000
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)
    return (0.3 * env * np.sin(2 * np.pi * 180 * t) + 0.02 * rng.standard_normal(n)).astype(
        np.float32
    )


def test_load_from_directory_offline(tiny_dir):
    model = load_hubert(tiny_dir)
    assert not model.training
    assert model.config.hidden_size == 32


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(LsfError, match="does not exist"):
        load_hubert(tmp_path / "no_such_model")


def test_directory_without_model_is_a_clear_error(tmp_path):
    with pytest.raises(LsfError, match="cannot load a HuBERT model from"):
        load_hubert(tmp_path)


def test_normalization_is_zero_mean_unit_variance():
    x = torch.from_numpy(speech_like(0.5)) * 7 + 3
    y = normalize_waveform(x[None])[0]
    assert abs(float(y.mean())) < 1e-5
    assert abs(float(y.std(unbiased=False)) - 1) < 1e-4


def test_features_do_not_depend_on_gain_or_offset(tiny_dir):
    ext = HubertExtractor(tiny_dir)
    x = speech_like(1.0)
    np.testing.assert_allclose(ext(x), ext(4.0 * x + 0.1), atol=1e-4)


@pytest.mark.parametrize("stable_layer_norm", [False, True])
def test_split_composes_to_the_full_model(stable_layer_norm):
    torch.manual_seed(1)
    # post-LN with group norm as hubert-base; pre-LN with layer norm as hubert-large
    norm = "layer" if stable_layer_norm else "group"
    cfg = tiny_hubert_config(do_stable_layer_norm=stable_layer_norm, feat_extract_norm=norm)
    model = HubertModel(cfg).eval()
    frozen, trainable = split_hubert(model, num_frozen=2)
    assert len(frozen.layers) == 2 and len(trainable.layers) == 2
    x = normalize_waveform(torch.from_numpy(speech_like(1.3))[None])
    with torch.inference_mode():
        full = model(x).last_hidden_state
        composed = trainable(frozen(x))
    assert composed.shape == full.shape
    torch.testing.assert_close(composed, full, atol=1e-5, rtol=1e-5)


def test_split_freezes_only_the_front():
    model = HubertModel(tiny_hubert_config())
    frozen, trainable = split_hubert(model)
    assert not any(p.requires_grad for p in frozen.parameters())
    assert all(p.requires_grad for p in trainable.parameters())
    frozen_ids = {id(p) for p in frozen.parameters()}
    assert frozen_ids.isdisjoint(id(p) for p in trainable.parameters())
    # Together they hold every weight the forward pass uses (masked_spec_embed is training-only).
    used = {id(p) for n, p in model.named_parameters() if n != "masked_spec_embed"}
    assert used == frozen_ids | {id(p) for p in trainable.parameters()}


def test_trainable_part_receives_gradients_from_cached_features():
    model = HubertModel(tiny_hubert_config())
    frozen, trainable = split_hubert(model.eval())
    x = normalize_waveform(torch.from_numpy(speech_like(0.5))[None])
    with torch.inference_mode():
        cached = frozen(x)
    trainable.train()
    trainable(cached.clone()).pow(2).mean().backward()
    assert all(p.grad is not None for p in trainable.parameters())


def test_frame_counts_match_the_conv_stack():
    model = HubertModel(tiny_hubert_config())
    for n in [400, 719, 720, 1039, 1040, 16000, 16319, 40000, 123457]:
        assert int(model._get_feat_extract_output_lengths(n)) == num_frames_50hz(n)


@pytest.mark.parametrize("frozen_only", [False, True])
def test_extractors_follow_the_protocol(tiny_dir, frozen_only):
    name = "hubert-frozen" if frozen_only else "hubert"
    ext = get_extractor(name, model=tiny_dir)
    assert (ext.name, ext.dim, ext.rate_hz) == (name, 32, 50.0)
    for seconds in (0.04, 0.5, 1.234):
        wav = speech_like(seconds)
        feats = ext(wav)
        check_features(ext, wav, feats)
    assert ext(np.zeros(399, np.float32)).shape == (0, 32)
    wav = speech_like(1.0)
    np.testing.assert_array_equal(ext(wav), ext(wav))  # deterministic (eval mode)


def test_frozen_extractor_feeds_the_trainable_part(tiny_dir):
    full = HubertExtractor(tiny_dir)
    frozen = HubertExtractor(tiny_dir, frozen_only=True)
    wav = speech_like(0.8)
    with torch.inference_mode():
        rest = full.trainable(torch.from_numpy(frozen(wav))[None])[0].numpy()
    np.testing.assert_allclose(rest, full(wav), atol=1e-5)


def test_fingerprints(tiny_dir, tmp_path):
    full = HubertExtractor(tiny_dir)
    frozen = HubertExtractor(tiny_dir, frozen_only=True)
    again = HubertExtractor(tiny_dir)
    assert full.fingerprint() == again.fingerprint()  # stable across loads
    assert full.fingerprint() != frozen.fingerprint()
    assert len(full.fingerprint()) == 16

    # A change in the trainable layers changes "hubert" but not "hubert-frozen".
    model = load_hubert(tiny_dir)
    with torch.no_grad():
        model.encoder.layers[3].feed_forward.output_dense.bias.add_(1e-3)
    changed = tmp_path / "changed"
    model.save_pretrained(changed)
    assert HubertExtractor(changed).fingerprint() != full.fingerprint()
    assert HubertExtractor(changed, frozen_only=True).fingerprint() == frozen.fingerprint()

    # A change in a frozen layer changes both.
    with torch.no_grad():
        model.encoder.layers[0].attention.q_proj.bias.add_(1e-3)
    model.save_pretrained(changed)
    assert HubertExtractor(changed, frozen_only=True).fingerprint() != frozen.fingerprint()

    # A config change alone (same weights) changes it too.
    model = load_hubert(tiny_dir)
    model.config.layer_norm_eps = 1e-6
    model.save_pretrained(changed)
    assert HubertExtractor(changed).fingerprint() != full.fingerprint()


@pytest.mark.slow
def test_paper_size_random_hubert_shapes():
    torch.manual_seed(0)
    model = HubertModel(HubertConfig()).eval()  # HuBERT-base: 12 layers, 768-d
    full = HubertExtractor(model)
    frozen = HubertExtractor(model, frozen_only=True)
    assert full.dim == frozen.dim == 768
    for seconds in (1.0, 2.5):
        wav = speech_like(seconds)
        feats = full(wav)
        assert feats.shape == (num_frames_50hz(len(wav)), 768) == (int(seconds * 50) - 1, 768)
        assert frozen(wav).shape == feats.shape
        assert np.isfinite(feats).all()


def test_projection_front_is_what_the_release_can_cache():
    """The release fine-tunes the positional conv and the encoder norm: the cacheable front
    ends at the feature projection, and layers 1-2 are frozen but run after trainable parts."""
    torch.manual_seed(3)
    model = HubertModel(tiny_hubert_config()).eval()
    frozen, trainable = split_hubert(model, num_frozen=2, frozen_front="projection")
    x = normalize_waveform(torch.from_numpy(speech_like(1.1))[None])
    with torch.inference_mode():
        front = frozen(x)
        expected = model.feature_projection(model.feature_extractor(x).transpose(1, 2))
        expected = expected[0] if isinstance(expected, tuple) else expected
        torch.testing.assert_close(front, expected)
        torch.testing.assert_close(trainable(front), model(x).last_hidden_state, atol=1e-5, rtol=0)
    trainable_names = {n for n, p in model.named_parameters() if p.requires_grad}
    assert any(n.startswith("encoder.pos_conv_embed.") for n in trainable_names)
    assert {"encoder.layer_norm.weight", "encoder.layer_norm.bias"} <= trainable_names
    assert not any(
        n.startswith(("feature_extractor.", "feature_projection.")) for n in trainable_names
    )
    frozen_layers = {int(n.split(".")[2]) for n, p in model.named_parameters()
                     if n.startswith("encoder.layers.") and not p.requires_grad}  # fmt: skip
    assert frozen_layers == {0, 1}
    with pytest.raises(LsfError, match="frozen_front"):
        split_hubert(model, frozen_front="cnn")


def test_projection_front_extractor_has_its_own_fingerprint(tiny_dir):
    layers = HubertExtractor(tiny_dir, frozen_only=True)
    projection = HubertExtractor(tiny_dir, frozen_only=True, frozen_front="projection")
    assert projection.name == "hubert-frozen"
    assert projection.fingerprint() != layers.fingerprint()
    x = speech_like(0.7)
    assert projection(x).shape == layers(x).shape
