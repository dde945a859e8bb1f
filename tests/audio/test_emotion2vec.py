"""emotion2vec: official checkpoint layout in, 50 Hz frame features out, loud failures on bad keys.

The checkpoints here are random tensors written under the official key names and shapes (spelled
out below independently of the loader) in the official structures: fairseq's
{"cfg": ..., "model": state_dict} with pre-training extras, and FunASR's bare state dict.
"""

from __future__ import annotations

import enum
import math
import sys
import types
from collections import OrderedDict

import numpy as np
import pytest
import torch

from lsf_animation.audio.data2vec import alibi_slopes
from lsf_animation.audio.data2vec_checkpoint import read_checkpoint
from lsf_animation.audio.emotion2vec import Emotion2vecExtractor, load_emotion2vec
from lsf_animation.audio.features import check_features, get_extractor, num_frames_50hz
from lsf_animation.errors import LsfError

P = "modality_encoders.AUDIO."


def official_state_dict(
    embed: int = 768,
    conv_dim: int = 512,
    heads: int = 12,
    prenet: int = 4,
    depth: int = 8,
    extra: int = 10,
    pos_groups: int = 16,
    pos_kernel: int = 19,
    pos_depth: int = 5,
    decoder_dim: int = 384,
    seed: int = 0,
) -> OrderedDict[str, torch.Tensor]:
    """Random weights under emotion2vec_base's key names and shapes (defaults = paper size)."""
    g = torch.Generator().manual_seed(seed)

    def rnd(*shape: int, scale: float = 0.02) -> torch.Tensor:
        return torch.randn(*shape, generator=g) * scale

    def norm(key: str, dim: int) -> None:
        sd[key + ".weight"] = 1 + rnd(dim, scale=0.05)
        sd[key + ".bias"] = rnd(dim)

    sd: OrderedDict[str, torch.Tensor] = OrderedDict()
    sd[P + "extra_tokens"] = rnd(1, extra, embed, scale=1.0)
    sd[P + "alibi_scale"] = 0.5 + torch.rand(1, 1, heads, 1, 1, generator=g)
    in_ch = 1
    for i, k in enumerate((10, 3, 3, 3, 3, 2, 2)):
        sd[P + f"local_encoder.conv_layers.{i}.0.weight"] = rnd(
            conv_dim, in_ch, k, scale=math.sqrt(2 / (in_ch * k))
        )
        norm(P + f"local_encoder.conv_layers.{i}.2.1", conv_dim)
        in_ch = conv_dim
    norm(P + "project_features.1", conv_dim)
    sd[P + "project_features.2.weight"] = rnd(embed, conv_dim, scale=conv_dim**-0.5)
    sd[P + "project_features.2.bias"] = rnd(embed)
    for j in range(1, pos_depth + 1):
        sd[P + f"relative_positional_encoder.{j}.0.weight"] = rnd(
            embed, embed // pos_groups, pos_kernel, scale=0.05
        )
        sd[P + f"relative_positional_encoder.{j}.0.bias"] = rnd(embed)
    norm(P + "context_encoder.norm", embed)

    def block(prefix: str) -> None:
        norm(prefix + "norm1", embed)
        sd[prefix + "attn.qkv.weight"] = rnd(3 * embed, embed, scale=embed**-0.5)
        sd[prefix + "attn.qkv.bias"] = rnd(3 * embed)
        sd[prefix + "attn.proj.weight"] = rnd(embed, embed, scale=embed**-0.5)
        sd[prefix + "attn.proj.bias"] = rnd(embed)
        norm(prefix + "norm2", embed)
        sd[prefix + "mlp.fc1.weight"] = rnd(4 * embed, embed, scale=embed**-0.5)
        sd[prefix + "mlp.fc1.bias"] = rnd(4 * embed)
        sd[prefix + "mlp.fc2.weight"] = rnd(embed, 4 * embed, scale=(4 * embed) ** -0.5)
        sd[prefix + "mlp.fc2.bias"] = rnd(embed)

    for i in range(prenet):
        block(P + f"context_encoder.blocks.{i}.")
    for i in range(depth):
        block(f"blocks.{i}.")
    # Pre-training decoder (4 grouped conv blocks, kernel 7) - present in the release, unused.
    for i in range(4):
        cin = embed if i == 0 else decoder_dim
        sd[P + f"decoder.blocks.{i}.0.weight"] = rnd(decoder_dim, cin // 16, 7)
        sd[P + f"decoder.blocks.{i}.0.bias"] = rnd(decoder_dim)
    sd[P + "decoder.proj.weight"] = rnd(embed, decoder_dim)
    sd[P + "decoder.proj.bias"] = rnd(embed)
    return sd


TINY = dict(embed=64, conv_dim=32, heads=4, prenet=2, depth=2, extra=10, decoder_dim=32)


class FakeModality(enum.Enum):
    """Stands for fairseq's Modality enum, pickled inside the training config."""

    AUDIO = 1


def save_fairseq_style(path, state: dict[str, torch.Tensor]) -> None:
    """{"cfg", "model", ...} with a config that pickles a class the loader cannot import."""
    module = types.ModuleType("fake_fairseq_tasks")
    FakeModality.__module__ = "fake_fairseq_tasks"
    module.FakeModality = FakeModality
    sys.modules["fake_fairseq_tasks"] = module
    try:
        torch.save(
            {
                "cfg": {
                    "model": {"_name": "data2vec_multi", "num_heads": TINY["heads"]},
                    "task": {"normalize": True, "modality": FakeModality.AUDIO},
                },
                "args": None,
                "model": state,
                "optimizer_history": [{"num_updates": 100000, "lr_scheduler_state": {}}],
                "extra_state": {"epoch": 37, "best": np.float64(0.5)},
                "last_optimizer_state": None,
            },
            path,
        )
    finally:
        del sys.modules["fake_fairseq_tasks"]


def speech_like(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(16000 * seconds)
    t = np.arange(n) / 16000
    return (
        0.3 * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)) * np.sin(2 * np.pi * 200 * t)
        + 0.01 * rng.standard_normal(n)
    ).astype(np.float32)


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("e2v") / "emotion2vec_tiny.pt"
    save_fairseq_style(path, official_state_dict(**TINY))
    return path


def test_fairseq_checkpoint_loads_without_fairseq(tiny_checkpoint):
    assert "fake_fairseq_tasks" not in sys.modules
    model = load_emotion2vec(tiny_checkpoint)
    cfg = model.cfg
    assert (cfg.embed_dim, cfg.num_heads, cfg.prenet_depth, cfg.depth) == (64, 4, 2, 2)
    assert (cfg.num_extra_tokens, cfg.conv_pos_kernel, cfg.conv_pos_groups) == (10, 19, 16)
    assert not model.training
    assert not any(p.requires_grad for p in model.parameters())
    # Every used tensor landed in the model, bit for bit.
    state = official_state_dict(**TINY)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, state[key], rtol=0, atol=0)


def test_foreign_config_classes_are_never_executed(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    state = official_state_dict(**TINY)
    torch.save({"cfg": {"hook": Evil()}, "model": state}, tmp_path / "evil.pt")
    model = load_emotion2vec(tmp_path / "evil.pt")
    assert not marker.exists()
    assert model.cfg.embed_dim == 64


def test_funasr_bare_state_dict_with_classifier_head(tmp_path):
    state = official_state_dict(**TINY)
    state["proj.weight"] = torch.randn(9, 64)  # emotion2vec+ 9-class head, unused for features
    state["proj.bias"] = torch.randn(9)
    state = OrderedDict(("module." + k, v) for k, v in state.items())  # DataParallel prefix
    torch.save(state, tmp_path / "model.pt")
    ext = Emotion2vecExtractor(tmp_path / "model.pt")
    wav = speech_like(0.6)
    check_features(ext, wav, ext(wav))


def test_extractor_protocol_frames_and_determinism(tiny_checkpoint):
    ext = get_extractor("emotion2vec", checkpoint=tiny_checkpoint)
    assert (ext.name, ext.dim, ext.rate_hz) == ("emotion2vec", 64, 50.0)
    for n in (640, 720, 16000 + 319):
        wav = speech_like(n / 16000, seed=n)[:n]
        feats = ext(wav)
        assert feats.shape == (num_frames_50hz(n), 64)
        check_features(ext, wav, feats)
    assert ext(np.zeros(399, np.float32)).shape == (0, 64)
    wav = speech_like(1.0)
    again = Emotion2vecExtractor(tiny_checkpoint)
    np.testing.assert_array_equal(ext(wav), ext(wav))
    np.testing.assert_array_equal(ext(wav), again(wav))


def test_clip_is_layer_normalized_first(tiny_checkpoint):
    ext = Emotion2vecExtractor(tiny_checkpoint)
    wav = speech_like(0.8)
    np.testing.assert_allclose(ext(wav), ext(5.0 * wav + 0.2), atol=2e-4)
    assert not np.allclose(ext(wav), ext(speech_like(0.8, seed=1)[::-1].copy()), atol=1e-3)


def test_extra_tokens_shape_the_output_but_are_removed(tmp_path):
    a = official_state_dict(**TINY)
    b = OrderedDict(a)
    # (a constant shift would vanish in the context encoder's LayerNorm)
    b[P + "extra_tokens"] = a[P + "extra_tokens"] + torch.randn_like(a[P + "extra_tokens"])
    torch.save({"model": a}, tmp_path / "a.pt")
    torch.save({"model": b}, tmp_path / "b.pt")
    wav = speech_like(0.5)
    fa = Emotion2vecExtractor(tmp_path / "a.pt")(wav)
    fb = Emotion2vecExtractor(tmp_path / "b.pt")(wav)
    assert fa.shape == fb.shape == (num_frames_50hz(len(wav)), 64)
    assert not np.allclose(fa, fb, atol=1e-4)  # frames attend to the tokens


def test_conv_stack_normalizes_over_channels(tiny_checkpoint):
    """The fused channel LayerNorm equals the checkpoint layout's conv -> LayerNorm -> GELU."""
    model = load_emotion2vec(tiny_checkpoint)
    enc = model.modality_encoders["AUDIO"].local_encoder
    x = torch.from_numpy(speech_like(0.3))[None]
    with torch.inference_mode():
        ref = x[:, None]
        for conv, _, norm, act in enc.conv_layers:
            h = conv(ref).transpose(1, 2)
            ref = act(torch.nn.functional.layer_norm(h, h.shape[-1:], norm[1].weight, norm[1].bias))
            ref = ref.transpose(1, 2)
        torch.testing.assert_close(enc(x), ref, atol=1e-5, rtol=1e-5)


def test_alibi_slopes_follow_fairseq_rule():
    # 8 heads (a power of two): 2^-1 ... 2^-8.
    assert alibi_slopes(8) == pytest.approx([2.0**-i for i in range(1, 9)])
    # 12 heads: the 8-head slopes, then every other slope of the 16-head set.
    expected = [2.0**-i for i in range(1, 9)] + [2.0 ** -(0.5 * i) for i in (1, 3, 5, 7)]
    assert alibi_slopes(12) == pytest.approx(expected)


def test_per_layer_alibi_scales_are_supported(tmp_path):
    state = official_state_dict(**TINY)
    layers = TINY["prenet"] + TINY["depth"]
    state[P + "alibi_scale"] = 0.5 + torch.rand(layers, 1, TINY["heads"], 1, 1)
    torch.save({"model": state}, tmp_path / "per_layer.pt")
    ext = Emotion2vecExtractor(tmp_path / "per_layer.pt")
    assert ext.model.cfg.alibi_scale_shape == (layers, 1, 4, 1, 1)
    wav = speech_like(0.5)
    check_features(ext, wav, ext(wav))


def test_fingerprint_tracks_weights(tmp_path, tiny_checkpoint):
    base = Emotion2vecExtractor(tiny_checkpoint)
    assert base.fingerprint() == Emotion2vecExtractor(tiny_checkpoint).fingerprint()
    state = official_state_dict(**TINY)
    state["blocks.1.mlp.fc2.bias"] = state["blocks.1.mlp.fc2.bias"] + 1e-3
    torch.save({"model": state}, tmp_path / "changed.pt")
    assert Emotion2vecExtractor(tmp_path / "changed.pt").fingerprint() != base.fingerprint()
    # Ignored keys (the pre-training decoder) do not change the features, nor the fingerprint.
    state = official_state_dict(**TINY)
    state[P + "decoder.proj.bias"] = state[P + "decoder.proj.bias"] + 1.0
    torch.save({"model": state}, tmp_path / "decoder.pt")
    assert Emotion2vecExtractor(tmp_path / "decoder.pt").fingerprint() == base.fingerprint()


def _save(tmp_path, state, name="bad.pt"):
    path = tmp_path / name
    torch.save({"model": state}, path)
    return path


def test_missing_key_is_listed(tmp_path):
    state = official_state_dict(**TINY)
    del state["blocks.1.attn.qkv.bias"]
    del state[P + "context_encoder.norm.weight"]
    with pytest.raises(LsfError, match="missing keys:") as err:
        load_emotion2vec(_save(tmp_path, state))
    assert "blocks.1.attn.qkv.bias" in str(err.value)
    assert P + "context_encoder.norm.weight" in str(err.value)


def test_unknown_key_is_listed_not_dropped(tmp_path):
    state = official_state_dict(**TINY)
    state["blocks.0.attn.rel_bias"] = torch.zeros(4)
    with pytest.raises(LsfError, match=r"unexpected keys: blocks\.0\.attn\.rel_bias"):
        load_emotion2vec(_save(tmp_path, state))


def test_unsupported_variant_key_is_refused(tmp_path):
    state = official_state_dict(**TINY)
    state["norm.weight"] = torch.ones(64)  # a pre-LN model's final norm
    state["norm.bias"] = torch.zeros(64)
    with pytest.raises(LsfError, match=r"does not support.*norm\.bias, norm\.weight"):
        load_emotion2vec(_save(tmp_path, state))


def test_shape_mismatch_is_listed(tmp_path):
    state = official_state_dict(**TINY)
    state["blocks.0.mlp.fc1.weight"] = torch.zeros(100, 64)  # inconsistent with the other block
    with pytest.raises(LsfError, match=r"shape mismatches: .*mlp\.fc1\.weight \(100, 64\)"):
        load_emotion2vec(_save(tmp_path, state))


def test_non_standard_conv_stack_is_refused(tmp_path):
    state = official_state_dict(**TINY)
    state[P + "local_encoder.conv_layers.0.0.weight"] = torch.zeros(32, 1, 8)
    with pytest.raises(LsfError, match=r"kernels \(8, 3, 3, 3, 3, 2, 2\)"):
        load_emotion2vec(_save(tmp_path, state))


def test_other_models_and_files_are_refused(tmp_path):
    hubert_like = {"encoder.layers.0.attention.q_proj.weight": torch.zeros(4, 4)}
    with pytest.raises(LsfError, match="not an emotion2vec"):
        load_emotion2vec(_save(tmp_path, hubert_like))
    text = tmp_path / "notes.pt"
    text.write_text("not a checkpoint")
    with pytest.raises(LsfError, match=r"notes\.pt is not a readable PyTorch checkpoint"):
        read_checkpoint(text)
    with pytest.raises(LsfError, match="does not exist"):
        load_emotion2vec(tmp_path / "missing.pt")


def test_checkpoint_is_required(monkeypatch):
    monkeypatch.delenv("LSF_EMOTION2VEC", raising=False)
    with pytest.raises(LsfError, match="needs its checkpoint"):
        get_extractor("emotion2vec")


@pytest.mark.slow
def test_paper_size_emotion2vec(tmp_path):
    path = tmp_path / "emotion2vec_base.pt"
    save_fairseq_style(path, official_state_dict())  # 768-d, 12 heads, 4 + 8 blocks
    ext = Emotion2vecExtractor(path)
    cfg = ext.model.cfg
    assert (ext.dim, cfg.num_heads, cfg.prenet_depth, cfg.depth, cfg.mlp_hidden) == (
        768,
        12,
        4,
        8,
        3072,
    )
    n_params = sum(p.numel() for p in ext.model.parameters())
    assert 90e6 < n_params < 95e6  # emotion2vec_base is ~93 M parameters without its decoder
    for seconds in (1.0, 2.5):
        wav = speech_like(seconds)
        feats = ext(wav)
        assert feats.shape == (int(seconds * 50) - 1, 768)
        assert np.isfinite(feats).all()
