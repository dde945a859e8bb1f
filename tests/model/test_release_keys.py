"""Released checkpoints' keys -> our state dicts: every key maps, the converted model computes
what the release computes, and corrupted or foreign checkpoints are refused with the keys.

The release-side layout, weights and forward pass come from tests/fixtures_release.py, written
from reading the releases independently of `release_keys`.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from transformers import HubertConfig, HubertModel

from fixtures_hubert import tiny_hubert_config
from fixtures_release import (
    TINY,
    lsf_predictor_layout,
    pair_like_release,
    probtalk3d_predictor_layout,
    random_state,
    ref_decode,
    ref_encode,
    ref_lsf_predictor,
    ref_probtalk3d_predictor,
    ref_quantize,
    strip,
    vqvae_layout,
)
from fixtures_release_files import (
    TINY_EMOTION2VEC,
    emotion2vec_release_keys,
    hubert_release_keys,
)
from lsf_animation.audio.data2vec import Data2VecAudioModel
from lsf_animation.audio.data2vec_checkpoint import build_from_state_dict as build_emotion2vec
from lsf_animation.data.scalers import MinMaxScaler
from lsf_animation.errors import LsfError
from lsf_animation.model.lsf import LSFModel
from lsf_animation.model.release_keys import (
    EMOTION2VEC_PREFIX,
    HUBERT_PREFIX,
    RELEASE_EXPRESSION_RANGE,
    RELEASE_JAW_RANGE,
    RELEASE_TRAIN_IDENTITIES,
    hubert_config_from_release,
    map_release_state,
)
from lsf_animation.model.sie_encoder import SIEEncoder
from lsf_animation.model.vqvae import MotionVQVAE

S = TINY


def release_hubert(seed: int = 0) -> tuple[HubertModel, dict[str, torch.Tensor]]:
    """A tiny HuBERT and its weights under the release's names (transformers 4.10: weight norm
    as weight_g / weight_v), prefixed as in the release's stage-2 module."""
    torch.manual_seed(seed)
    model = HubertModel(tiny_hubert_config()).eval()
    return model, hubert_release_keys(model)


def release_emotion2vec() -> dict[str, torch.Tensor]:
    """A tiny emotion2vec under fairseq's names, with its unused pre-training decoder."""
    return emotion2vec_release_keys(Data2VecAudioModel(replace(TINY_EMOTION2VEC, embed_dim=32)))


def lsf_stage2_state(seed: int = 0) -> dict[str, torch.Tensor]:
    state = random_state(lsf_predictor_layout(S), seed)
    state |= random_state(vqvae_layout(S, prefix="motion_prior."), seed + 1)
    state |= release_hubert(seed)[1]
    state |= release_emotion2vec()
    return state


def probtalk3d_stage2_state(seed: int = 0) -> dict[str, torch.Tensor]:
    state = random_state(probtalk3d_predictor_layout(S), seed)
    state |= random_state(vqvae_layout(S, prefix="motion_prior."), seed + 1)
    state |= release_hubert(seed)[1]
    return state


def _load(weights):
    prior = MotionVQVAE(weights.config.vqvae).eval()
    prior.load_state_dict(weights.prior, strict=True)
    sie = None
    if weights.sie is not None:
        sie = SIEEncoder(weights.config.sie).eval()
        sie.load_state_dict(weights.sie, strict=True)
    return prior, sie


def _hubert_shapes() -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in HubertModel(tiny_hubert_config()).state_dict().items()}


def test_stage1_maps_every_key_and_computes_the_same() -> None:
    state = random_state(vqvae_layout(S), seed=3)
    weights = map_release_state(state, num_heads=S.heads)
    assert weights.stage == 1 and weights.sie is None and weights.hubert is None
    assert weights.config.vqvae.quantizer_layout == "release"
    mapped = len(weights.prior) + len(weights.ignored)
    assert mapped == len(state)  # every key mapped or deliberately ignored
    assert all(k.endswith(".pe") or "_losses." in k for k in weights.ignored)
    prior, _ = _load(weights)

    motion = torch.rand(2, 23, 53)
    with torch.no_grad():
        z = prior.encoder(motion)
        torch.testing.assert_close(z, ref_encode(state, motion, S), atol=2e-5, rtol=1e-4)
        zq = prior.quantizer.decode_indices(prior.quantizer.quantize_indices(z), 23)
        torch.testing.assert_close(zq, ref_quantize(state, z))
        out = prior.decode(zq)
        torch.testing.assert_close(out, ref_decode(state, zq, S), atol=2e-5, rtol=1e-4)


def test_lsf_stage2_maps_every_key_and_animates_like_the_release() -> None:
    state = lsf_stage2_state(seed=5)
    weights = map_release_state(state, "lsf-release", S.heads, hubert_shapes=_hubert_shapes())
    n = len(weights.prior) + len(weights.sie) + len(weights.hubert) + len(weights.emotion2vec)
    assert n + len(weights.ignored) == len(state)
    assert set(weights.ignored) >= {
        "feature_predictor.out_norm.weight",
        "feature_predictor.out_norm.bias",
        "feature_predictor.pos_enc.pe",
        "motion_prior.motion_encoder.encoder_pos_embedding.pe",
    }
    cfg = weights.config
    assert cfg.sie.variant == "hifb" and cfg.sie.identity_dim == S.identities
    assert cfg.sie.fusion_attn_dim == S.d // 4
    prior, sie = _load(weights)
    model = LSFModel(cfg).eval()
    model.prior.load_state_dict(prior.state_dict())
    model.sie.load_state_dict(sie.state_dict())

    # Speech features at 50 Hz (an odd count: the release drops the last frame), a face.
    audio, emotion = torch.randn(2, 31, S.feature), torch.randn(2, 31, S.feature)
    shape = torch.randn(2, S.shape)
    with torch.no_grad():
        ours = model.run(audio, emotion, shape)
        ref_latent = ref_lsf_predictor(
            state, pair_like_release(audio), pair_like_release(emotion), shape, S
        )
        torch.testing.assert_close(ours.latent, ref_latent, atol=2e-5, rtol=1e-4)
        zq = ref_quantize(strip(state, "motion_prior."), ref_latent)
        torch.testing.assert_close(ours.quantized, zq)
        ref_motion = ref_decode(strip(state, "motion_prior."), zq, S)
        torch.testing.assert_close(ours.motion, ref_motion, atol=2e-5, rtol=1e-4)


def test_probtalk3d_stage2_is_the_one_hot_variant() -> None:
    state = probtalk3d_stage2_state(seed=7)
    weights = map_release_state(state, "probtalk3d", S.heads)
    assert weights.config.sie.variant == "one_hot" and weights.emotion2vec is None
    assert weights.config.sie.num_identities == S.identities
    n = len(weights.prior) + len(weights.sie) + len(weights.hubert) + len(weights.ignored)
    assert n == len(state)
    _, sie = _load(weights)
    labels = {
        "identity": torch.tensor([0, S.identities - 1]),
        "emotion": torch.tensor([3, 7]),
        "intensity": torch.tensor([2, 0]),
    }
    # ProbTalk3D's style vector: identity one-hot, then emotion (8), then intensity (3).
    one_hot = torch.cat(
        [
            F.one_hot(labels["identity"], S.identities),
            F.one_hot(labels["emotion"], 8),
            F.one_hot(labels["intensity"], 3),
        ],
        dim=-1,
    ).float()
    audio = torch.randn(2, 20, S.feature)
    with torch.no_grad():
        ours, _ = sie(audio, None, None, labels=labels)
        ref = ref_probtalk3d_predictor(state, pair_like_release(audio), one_hot, S)
    torch.testing.assert_close(ours, ref, atol=2e-5, rtol=1e-4)


def test_hubert_weights_load_into_transformers_and_compute_the_same() -> None:
    original, release = release_hubert(seed=2)
    state = lsf_stage2_state()
    state |= release
    weights = map_release_state(state, hubert_shapes=_hubert_shapes(), num_heads=S.heads)
    config = weights.hubert_config
    # What the shapes imply is the tiny config (the heads: 64-wide as in HuBERT-base).
    tiny = tiny_hubert_config()
    for key in ("hidden_size", "num_hidden_layers", "intermediate_size"):
        assert config[key] == getattr(tiny, key), key
    assert config["conv_dim"] == list(tiny.conv_dim)
    assert config["num_conv_pos_embeddings"] == tiny.num_conv_pos_embeddings
    assert config["num_conv_pos_embedding_groups"] == tiny.num_conv_pos_embedding_groups
    rebuilt = HubertModel(HubertConfig(**{**config, "num_attention_heads": 4})).eval()
    rebuilt.load_state_dict(weights.hubert, strict=True)
    wav = torch.randn(1, 4000)
    with torch.no_grad():
        torch.testing.assert_close(
            rebuilt(wav).last_hidden_state, original(wav).last_hidden_state, atol=1e-5, rtol=1e-4
        )
    assert hubert_config_from_release(strip(release, HUBERT_PREFIX))["feat_extract_norm"] == "group"


def test_emotion2vec_weights_load_into_the_backbone() -> None:
    weights = map_release_state(lsf_stage2_state(), num_heads=S.heads)
    model = build_emotion2vec(weights.emotion2vec, source="the release's audio_model")
    assert model.cfg.embed_dim == 32
    assert set(weights.emotion2vec) - set(model.state_dict()) == {
        "modality_encoders.AUDIO.decoder.proj.weight"  # the loader's own ignore list takes it
    }


def _refused(state, *patterns: str, kind: str | None = None) -> None:
    with pytest.raises(LsfError) as info:
        map_release_state(state, kind, S.heads, hubert_shapes=_hubert_shapes())
    message = str(info.value)
    assert "\n" not in message
    for p in patterns:
        assert re.search(p, message), (p, message)


def test_missing_unknown_and_misshaped_keys_are_listed_together() -> None:
    state = lsf_stage2_state()
    del state["feature_predictor.fusion_blocks.1.attn.kv.weight"]
    state["feature_predictor.extra_head.weight"] = torch.zeros(3, 3)
    state["feature_predictor.audio_blocks.0.net.0.fn.fn.to_qkv.weight"] = torch.zeros(7, S.d)
    state[HUBERT_PREFIX + "encoder.layers.0.attention.q_proj.weight"] = torch.zeros(5, 5)
    _refused(
        state,
        r"missing keys: feature_predictor\.fusion_blocks\.1\.attn\.kv\.weight",
        r"unknown keys: feature_predictor\.extra_head\.weight",
        r"audio_blocks\.0\.net\.0\.fn\.fn\.to_qkv\.weight \(7, 32\) \(expected \(96, 32\)\)",
        r"q_proj\.weight \(5, 5\)",
    )


def test_missing_encoders_and_wrong_positional_table_are_refused() -> None:
    state = {k: v for k, v in lsf_stage2_state().items() if not k.startswith(EMOTION2VEC_PREFIX)}
    state["feature_predictor.pos_enc.pe"] = torch.randn_like(state["feature_predictor.pos_enc.pe"])
    _refused(state, r"audio_model\.\* \(emotion2vec\)", r"pos_enc\.pe: not the sinusoidal table")


def test_wrong_kind_and_foreign_checkpoints_are_refused() -> None:
    _refused(
        probtalk3d_stage2_state(), r"probtalk3d stage 2.*--kind probtalk3d", kind="lsf-release"
    )
    _refused({"encoder.weight": torch.zeros(2, 2)}, r"neither a released LSF-Animation")
    with pytest.raises(LsfError, match="unknown release kind"):
        map_release_state(lsf_stage2_state(), "faceformer")


def test_release_normalisation_and_identities() -> None:
    scaler = MinMaxScaler.release()
    assert scaler.data_min[:50].tolist() == [RELEASE_EXPRESSION_RANGE[0]] * 50
    assert scaler.data_max[50:].tolist() == [RELEASE_JAW_RANGE[1]] * 3
    # No clipping: values outside the range map outside [0, 1].
    assert float(scaler.transform(torch.full((1, 53), 6.0))[0, 0]) == pytest.approx(1.5)
    assert len(RELEASE_TRAIN_IDENTITIES) == 32 == len(set(RELEASE_TRAIN_IDENTITIES))
