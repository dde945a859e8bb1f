"""The authors' released checkpoints' keys -> this package's state dicts (pure functions).

Two releases are read (docs/release_architecture.md has the full key tables and the reading):

- LSF-Animation (Dogter521/LSF-Animation at a7637c0): stage 1 is ProbTalk3D's motion VQ-VAE;
  stage 2 (`VqvaePredict`) holds the HIFB predictor (`feature_predictor.*`), the identity MLP
  (`identity_extractor.*`), the frozen prior (`motion_prior.*`), the fine-tuned HuBERT
  (`feature_extractor.audiomodel.*`) and emotion2vec (`audio_model.*`, fairseq names).
- ProbTalk3D (uuembodiedsocialai/ProbTalk3D): the same stage 1; its stage 2 is the one-hot
  predictor, this package's `one_hot` variant, with its fine-tuned HuBERT.

`map_release_state` takes a Lightning `state_dict` (no file reading here; see
`lsf_animation.checkpoint.release_file` for the reader) and returns the weights of `MotionVQVAE`,
`SIEEncoder`, transformers' `HubertModel` and the emotion2vec backbone
(`lsf_animation.audio.data2vec`), with the `ModelConfig` the shapes imply. Every source key is
either mapped by an explicit rule or matched by an entry of `IGNORED`; anything else, a missing
key or a shape that does not fit is one `LsfError` that lists them all.

The release also fixes things its weights do not carry: the motion normalisation (fixed min-max
ranges, `RELEASE_EXPRESSION_RANGE` / `RELEASE_JAW_RANGE`, no clipping) and the identity order of
ProbTalk3D's one-hot (`RELEASE_TRAIN_IDENTITIES`).

One module for one concept (the release's key map: every name and shape, stage by stage), hence
its length.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from lsf_animation.errors import LsfError, short_list
from lsf_animation.model.config import ModelConfig, SIEConfig, VQVAEConfig
from lsf_animation.model.positional import sinusoidal_encoding

ReleaseKind = Literal["lsf-release", "probtalk3d"]
RELEASE_KINDS: tuple[str, ...] = ("lsf-release", "probtalk3d")

RELEASE_EXPRESSION_RANGE = (-3.0, 3.0)
"""The release scales each of the 50 expression coefficients from this range to [0, 1]."""
RELEASE_JAW_RANGE = (-0.1, 0.5)
"""The release scales each of the 3 jaw values (radians) from this range to [0, 1]."""
RELEASE_TRAIN_IDENTITIES: tuple[str, ...] = (
    "M003", "M005", "M007", "M009", "M011", "M012", "M013", "M019",
    "M022", "M023", "M024", "M025", "M026", "M027", "M028", "M029", "M030", "M031",
    "W009", "W011", "W014", "W015", "W016", "W018", "W019", "W021",
    "W023", "W024", "W025", "W026", "W028", "W029",
)  # fmt: skip
"""The 32 identities of the releases' training split file, in its order: ProbTalk3D's one-hot
index i is this list's speaker i, and LSF-Animation's identity MLP has this many outputs."""
RELEASE_NUM_EMOTIONS = 8
RELEASE_NUM_INTENSITIES = 3
RELEASE_NUM_HEADS = 8
"""Attention heads of every released Transformer (a config value; shapes cannot show it)."""

HUBERT_PREFIX = "feature_extractor.audiomodel."
EMOTION2VEC_PREFIX = "audio_model."

_LOSS_BUFFERS_STAGE1 = ("quant", "recons_exp", "recons_jaw", "total", "count")
_LOSS_BUFFERS_STAGE2 = ("latent_manifold", "recons_exp", "recons_jaw", "total", "count")
_METRIC_STATES = ("count", "count_seq", "l2", "var")

IGNORED: tuple[tuple[str, str], ...] = (
    (
        r"(motion_prior\.)?_losses\.losses_(train|val|test)\.("
        + "|".join(sorted(set(_LOSS_BUFFERS_STAGE1 + _LOSS_BUFFERS_STAGE2)))
        + r")",
        "running sums of the logged losses (training bookkeeping)",
    ),
    (
        r"(motion_prior\.)?metrics\.(" + "|".join(_METRIC_STATES) + ")",
        "validation metric accumulators (training bookkeeping)",
    ),
    (
        r"feature_predictor\.out_norm\.(weight|bias)",
        "a LayerNorm the LSF-Animation predictor builds but never applies",
    ),
)
"""Source keys deliberately not carried: (regular expression over the whole key, reason). The
positional tables (`...pe`) are not listed: they are checked against the sinusoidal table this
package computes, then dropped."""

_PRIOR_PE_KEYS = (
    "motion_encoder.encoder_pos_embedding.pe",
    "motion_decoder.decoder_pos_embedding.pe",
)
_PREDICTOR_PE_KEY = {
    "lsf-release": "feature_predictor.pos_enc.pe",
    "probtalk3d": "feature_predictor.encoder_pos_embedding.pe",
}


@dataclass
class ReleaseWeights:
    """The converted weights of one released checkpoint.

    Attributes:
        stage: 1 (motion prior only) or 2.
        kind: "lsf-release" or "probtalk3d" (stage 1 of both is the same network).
        config: the model config the shapes imply (variant "hifb" or "one_hot").
        prior: `MotionVQVAE` state dict.
        sie: `SIEEncoder` state dict (stage 2).
        hubert: transformers `HubertModel` state dict, the fine-tuned HuBERT (stage 2).
        hubert_config: `transformers.HubertConfig` keyword arguments the HuBERT weights imply
            (see `hubert_config_from_release`).
        emotion2vec: the emotion2vec model's state dict in its own (fairseq) names, for
            `lsf_animation.audio.data2vec.build_from_state_dict` (LSF-Animation stage 2).
        ignored: the source keys not carried (matched by `IGNORED`, or positional tables).
    """

    stage: int
    kind: str
    config: ModelConfig
    prior: dict[str, torch.Tensor]
    sie: dict[str, torch.Tensor] | None = None
    hubert: dict[str, torch.Tensor] | None = None
    hubert_config: dict[str, Any] | None = None
    emotion2vec: dict[str, torch.Tensor] | None = None
    ignored: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Name rules


def _transformer_rules(src: str, dst_layer: str, num_layers: int, per_layer: bool) -> dict:
    """Keys of the release's `Transformer` (pre-LN, Residual(Norm(fn)) pairs in `net`) ->
    ours (`TransformerBlock`).

    per_layer=False: one `Transformer` of `num_layers` layers at `src` (net.{2l}, net.{2l+1}).
    per_layer=True: `num_layers` one-layer `Transformer`s at `src.{l}` (net.0, net.1 each).
    `dst_layer` is a format string with {l}.
    """
    rules = {}
    for layer in range(num_layers):
        if per_layer:
            attn, ffn = f"{src}.{layer}.net.0.fn", f"{src}.{layer}.net.1.fn"
        else:
            attn, ffn = f"{src}.net.{2 * layer}.fn", f"{src}.net.{2 * layer + 1}.fn"
        dst = dst_layer.format(l=layer)
        rules.update(
            {
                f"{attn}.norm.weight": f"{dst}.norm1.weight",
                f"{attn}.norm.bias": f"{dst}.norm1.bias",
                f"{attn}.fn.to_qkv.weight": f"{dst}.attn.qkv.weight",
                f"{attn}.fn.to_out.weight": f"{dst}.attn.out.weight",
                f"{attn}.fn.to_out.bias": f"{dst}.attn.out.bias",
                f"{ffn}.norm.weight": f"{dst}.norm2.weight",
                f"{ffn}.norm.bias": f"{dst}.norm2.bias",
                f"{ffn}.fn.l1.weight": f"{dst}.ffn.fc1.weight",
                f"{ffn}.fn.l1.bias": f"{dst}.ffn.fc1.bias",
                f"{ffn}.fn.l2.weight": f"{dst}.ffn.fc2.weight",
                f"{ffn}.fn.l2.bias": f"{dst}.ffn.fc2.bias",
            }
        )
    return rules


def _wb(src: str, dst: str, bias: bool = True) -> dict[str, str]:
    rules = {f"{src}.weight": f"{dst}.weight"}
    if bias:
        rules[f"{src}.bias"] = f"{dst}.bias"
    return rules


def stage1_rules(num_layers: int, prefix: str = "") -> dict[str, str]:
    """Release VQ-VAE key -> `MotionVQVAE` key, for `num_layers` encoder and decoder layers."""
    p = prefix
    rules = {
        **_wb(f"{p}motion_encoder.feature_mapping.0", "encoder.input_map"),
        **_wb(f"{p}motion_encoder.squasher.0.0", "encoder.conv.conv"),
        **_wb(f"{p}motion_encoder.encoder_linear_embedding.net", "encoder.embedding"),
        **_transformer_rules(
            f"{p}motion_encoder.encoder_transformer",
            "encoder.transformer.layers.{l}",
            num_layers,
            per_layer=False,
        ),
        f"{p}quantize.embedding.weight": "quantizer.codebook.weight",
        **_wb(f"{p}motion_decoder.expander.0.0", "decoder.conv.conv"),
        **_wb(f"{p}motion_decoder.decoder_linear_embedding.net", "decoder.embedding"),
        **_transformer_rules(
            f"{p}motion_decoder.decoder_transformer",
            "decoder.transformer.layers.{l}",
            num_layers,
            per_layer=False,
        ),
        f"{p}motion_decoder.feature_mapping_reverse.weight": "decoder.output_map.weight",
    }
    return rules


def lsf_predictor_rules(num_layers: int) -> dict[str, str]:
    """LSF-Animation stage-2 key -> `SIEEncoder` key (variant "hifb")."""
    p = "feature_predictor."
    rules = {
        **_wb("identity_extractor.0", "identity.net.0"),
        **_wb("identity_extractor.2", "identity.net.2"),
        **_wb("identity_extractor.4", "identity.net.4"),
        f"{p}style_proj.weight": "style.weight",
        **_wb(f"{p}audio_feat", "motion_input.project"),
        **_wb(f"{p}emo_feat", "emotion_input.project"),
        **_wb(f"{p}squash_a.0", "motion_input.conv.conv"),
        **_wb(f"{p}squash_e.0", "emotion_input.conv.conv"),
        **_wb(f"{p}lin_embed.net", "embedding"),
        f"{p}fusion_tokens": "trunk.tokens",
        **_transformer_rules(
            f"{p}audio_blocks", "trunk.motion_blocks.{l}", num_layers, per_layer=True
        ),
        **_transformer_rules(
            f"{p}emo_blocks", "trunk.emotion_blocks.{l}", num_layers, per_layer=True
        ),
    }
    for layer in range(num_layers):
        src, dst = f"{p}fusion_blocks.{layer}", f"trunk.fusion_blocks.{layer}"
        rules.update(
            {
                **_wb(f"{src}.norm_mm", f"{dst}.norm_attn"),
                **_wb(f"{src}.norm_a", f"{dst}.attn.norm_motion"),
                **_wb(f"{src}.norm_v", f"{dst}.attn.norm_emotion"),
                f"{src}.attn.q.weight": f"{dst}.attn.q.weight",
                f"{src}.attn.kv.weight": f"{dst}.attn.kv.weight",
                **_wb(f"{src}.attn.proj", f"{dst}.attn.out"),
                **_wb(f"{src}.norm_mlp", f"{dst}.norm_mlp"),
                **_wb(f"{src}.mlp.fc1", f"{dst}.mlp.fc1"),
                **_wb(f"{src}.mlp.fc2", f"{dst}.mlp.fc2"),
            }
        )
    return rules


def probtalk3d_predictor_rules(num_layers: int) -> dict[str, str]:
    """ProbTalk3D stage-2 key -> `SIEEncoder` key (variant "one_hot")."""
    p = "feature_predictor."
    return {
        **_wb(f"{p}audio_feature_map", "motion_input.project"),
        f"{p}style_embedding.weight": "style.weight",
        **_wb(f"{p}squasher.0.0", "motion_input.conv.conv"),
        **_wb(f"{p}encoder_linear_embedding.net", "embedding"),
        **_transformer_rules(
            f"{p}encoder_transformer", "trunk.blocks.layers.{l}", num_layers, per_layer=False
        ),
    }


_HUBERT_PATTERNS = (
    r"masked_spec_embed",
    r"feature_extractor\.conv_layers\.\d+\.conv\.(weight|bias)",
    r"feature_extractor\.conv_layers\.\d+\.layer_norm\.(weight|bias)",
    r"feature_projection\.(layer_norm|projection)\.(weight|bias)",
    r"encoder\.pos_conv_embed\.conv\.(weight_g|weight_v|bias)",
    r"encoder\.layer_norm\.(weight|bias)",
    r"encoder\.layers\.\d+\.attention\.(q|k|v|out)_proj\.(weight|bias)",
    r"encoder\.layers\.\d+\.(layer_norm|final_layer_norm)\.(weight|bias)",
    r"encoder\.layers\.\d+\.feed_forward\.(intermediate|output)_dense\.(weight|bias)",
)
_WEIGHT_NORM_NAMES = {
    "weight_g": "parametrizations.weight.original0",
    "weight_v": "parametrizations.weight.original1",
}


def hubert_key(release_key: str) -> str | None:
    """A HuBERT key of the release (transformers 4.10 names, prefix removed) -> its name in
    current transformers' `HubertModel` (weight norm as a parametrization); None if the key is
    not part of HuBERT's layout."""
    if not any(re.fullmatch(p, release_key) for p in _HUBERT_PATTERNS):
        return None
    head, _, last = release_key.rpartition(".")
    return f"{head}.{_WEIGHT_NORM_NAMES[last]}" if last in _WEIGHT_NORM_NAMES else release_key


# ---------------------------------------------------------------------------------------------
# Config from shapes


def _shape(state: Mapping[str, Any], key: str, dims: int) -> tuple[int, ...]:
    value = state.get(key)
    if not isinstance(value, torch.Tensor) or value.dim() != dims:
        got = tuple(value.shape) if isinstance(value, torch.Tensor) else "absent"
        raise LsfError(
            f"the checkpoint does not have the released layout: key {key!r} should be a "
            f"{dims}-d tensor (got {got}); is it a released LSF-Animation / ProbTalk3D checkpoint?"
        )
    return tuple(value.shape)


def _count(state: Mapping[str, Any], fmt: str) -> int:
    n = 0
    while fmt.format(n) in state:
        n += 1
    return n


def _vqvae_config(state: Mapping[str, Any], prefix: str, num_heads: int) -> VQVAEConfig:
    p = prefix
    d, motion_dim = _shape(state, f"{p}motion_encoder.feature_mapping.0.weight", 2)
    kernel = _shape(state, f"{p}motion_encoder.squasher.0.0.weight", 3)[2]
    layers = _count(state, p + "motion_encoder.encoder_transformer.net.{}.fn.norm.weight") // 2
    ffn = _shape(state, f"{p}motion_encoder.encoder_transformer.net.1.fn.fn.l1.weight", 2)[0]
    codes, code_dim = _shape(state, f"{p}quantize.embedding.weight", 2)
    return VQVAEConfig(
        motion_dim=motion_dim,
        num_expression=50,
        hidden_dim=d,
        num_layers=layers,
        num_heads=num_heads,
        ffn_dim=ffn,
        conv_kernel=kernel,
        dropout=0.1,
        codebook_size=codes,
        code_dim=code_dim,
        beta=0.25,
        quantizer_layout="release",
    )


def _sie_config(state: Mapping[str, Any], kind: str, num_heads: int) -> SIEConfig:
    p = "feature_predictor."
    if kind == "lsf-release":
        d, motion_in = _shape(state, f"{p}audio_feat.weight", 2)
        emotion_in = _shape(state, f"{p}emo_feat.weight", 2)[1]
        kernel = _shape(state, f"{p}squash_a.0.weight", 3)[2]
        layers = _count(state, p + "audio_blocks.{}.net.0.fn.norm.weight")
        ffn = _shape(state, f"{p}audio_blocks.0.net.1.fn.fn.l1.weight", 2)[0]
        h1, shape_dim = _shape(state, "identity_extractor.0.weight", 2)
        h2 = _shape(state, "identity_extractor.2.weight", 2)[0]
        k = _shape(state, "identity_extractor.4.weight", 2)[0]
        tokens = _shape(state, f"{p}fusion_tokens", 3)[1]
        inner = _shape(state, f"{p}fusion_blocks.0.attn.q.weight", 2)[0]
        mlp = _shape(state, f"{p}fusion_blocks.0.mlp.fc1.weight", 2)[0]
        return SIEConfig(
            motion_dim=motion_in // 2,
            emotion_dim=emotion_in // 2,
            shape_dim=shape_dim,
            identity_hidden=(h1, h2),
            identity_dim=k,
            d_model=d,
            num_layers=layers,
            num_heads=num_heads,
            ffn_dim=ffn,
            conv_kernel=kernel,
            fusion_tokens=tokens,
            fusion_mlp_dim=mlp,
            fusion_attn_ratio=inner / d,
            variant="hifb",
            num_identities=k,
        )
    d, motion_in = _shape(state, f"{p}audio_feature_map.weight", 2)
    style_in = _shape(state, f"{p}style_embedding.weight", 2)[1]
    kernel = _shape(state, f"{p}squasher.0.0.weight", 3)[2]
    layers = _count(state, p + "encoder_transformer.net.{}.fn.norm.weight") // 2
    ffn = _shape(state, f"{p}encoder_transformer.net.1.fn.fn.l1.weight", 2)[0]
    identities = style_in - RELEASE_NUM_EMOTIONS - RELEASE_NUM_INTENSITIES
    if identities < 1:
        raise LsfError(
            f"ProbTalk3D's style one-hot has {style_in} entries, fewer than its "
            f"{RELEASE_NUM_EMOTIONS} emotions + {RELEASE_NUM_INTENSITIES} intensities"
        )
    return SIEConfig(
        motion_dim=motion_in // 2,
        emotion_dim=motion_in // 2,
        d_model=d,
        num_layers=layers,
        num_heads=num_heads,
        ffn_dim=ffn,
        conv_kernel=kernel,
        variant="one_hot",
        num_identities=identities,
        num_emotions=RELEASE_NUM_EMOTIONS,
        num_intensities=RELEASE_NUM_INTENSITIES,
    )


def hubert_config_from_release(state: Mapping[str, Any]) -> dict[str, Any]:
    """`transformers.HubertConfig` keyword arguments implied by released HuBERT weights.

    Args:
        state: the HuBERT keys with the release's prefix removed (transformers 4.10 names).

    Shapes give the widths, depths, conv kernels and the positional conv; the rest is what the
    release fine-tuned, facebook/hubert-base-ls960: post-LN layers, GELU, strides (5, 2, 2, 2,
    2, 2, 2), 64-wide attention heads, eps 1e-5.
    """
    hidden = _shape(state, "feature_projection.projection.weight", 2)[0]
    n_conv = _count(state, "feature_extractor.conv_layers.{}.conv.weight")
    kernels = tuple(
        _shape(state, f"feature_extractor.conv_layers.{i}.conv.weight", 3)[2] for i in range(n_conv)
    )
    channels = tuple(
        _shape(state, f"feature_extractor.conv_layers.{i}.conv.weight", 3)[0] for i in range(n_conv)
    )
    if kernels != (10, 3, 3, 3, 3, 2, 2):
        raise LsfError(
            f"the checkpoint's HuBERT has conv kernels {kernels}; only HuBERT-base's stack "
            "(10, 3, 3, 3, 3, 2, 2) with strides (5, 2, 2, 2, 2, 2, 2) is supported"
        )
    all_norms = all(
        f"feature_extractor.conv_layers.{i}.layer_norm.weight" in state for i in range(n_conv)
    )
    pos = _shape(state, "encoder.pos_conv_embed.conv.weight_v", 3)
    layers = _count(state, "encoder.layers.{}.layer_norm.weight")
    inter = _shape(state, "encoder.layers.0.feed_forward.intermediate_dense.weight", 2)[0]
    return {
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": max(1, hidden // 64),
        "intermediate_size": inter,
        "hidden_act": "gelu",
        "conv_dim": list(channels),
        "conv_kernel": list(kernels),
        "conv_stride": [5, 2, 2, 2, 2, 2, 2],
        "conv_bias": "feature_extractor.conv_layers.0.conv.bias" in state,
        "feat_extract_norm": "layer" if all_norms else "group",
        "feat_extract_activation": "gelu",
        "feat_proj_layer_norm": "feature_projection.layer_norm.weight" in state,
        "num_conv_pos_embeddings": pos[2],
        "num_conv_pos_embedding_groups": hidden // pos[1],
        "do_stable_layer_norm": False,
        "layer_norm_eps": 1e-5,
        "mask_time_prob": 0.05 if "masked_spec_embed" in state else 0.0,
    }


# ---------------------------------------------------------------------------------------------
# Mapping


def detect_release(state: Mapping[str, Any]) -> tuple[int, str]:
    """(stage, kind) of a released state dict, from its key names.

    Raises:
        LsfError: neither layout.
    """
    if any(k.startswith("feature_predictor.fusion_blocks.") for k in state):
        return 2, "lsf-release"
    if any(k.startswith("feature_predictor.encoder_transformer.") for k in state):
        return 2, "probtalk3d"
    if any(k.startswith("motion_encoder.") for k in state) and any(
        k.startswith("quantize.") for k in state
    ):
        return 1, "lsf-release"
    sample = ", ".join(sorted(state)[:6])
    raise LsfError(
        "the checkpoint is neither a released LSF-Animation nor a ProbTalk3D checkpoint (no "
        f"motion_encoder.* / feature_predictor.* weights; its keys start with: {sample})"
    )


def _shapes_of(module: nn.Module) -> dict[str, tuple[int, ...]]:
    """Shapes of a module's state dict."""
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


Shapes = dict[str, tuple[int, ...]]


def _expected_shapes(config: ModelConfig, stage: int) -> tuple[Shapes, Shapes]:
    """State-dict shapes of `MotionVQVAE` and (stage 2) `SIEEncoder` for `config`, built on
    the meta device (no memory, no initialization)."""
    from lsf_animation.model.sie_encoder import SIEEncoder
    from lsf_animation.model.vqvae import MotionVQVAE

    with torch.device("meta"):
        prior = _shapes_of(MotionVQVAE(config.vqvae))
        sie = _shapes_of(SIEEncoder(config.sie)) if stage == 2 else {}
    return prior, sie


def _ignore_reason(key: str) -> str | None:
    for pattern, reason in IGNORED:
        if re.fullmatch(pattern, key):
            return reason
    return None


def _check_pe(key: str, value: Any, problems: list[str]) -> None:
    if not isinstance(value, torch.Tensor) or value.dim() != 3 or value.shape[1] != 1:
        problems.append(f"{key}: not a (max_len, 1, d) positional table")
        return
    table = sinusoidal_encoding(value.shape[0], value.shape[2])
    err = float((value[:, 0].float() - table).abs().max()) if value.numel() else 0.0
    # float32 sin/cos of arguments up to 5000 rad differ between libraries by ~1e-4
    if err > 1e-3:
        problems.append(f"{key}: not the sinusoidal table (max difference {err:.3g})")


def map_release_state(
    state: Mapping[str, Any],
    kind: str | None = None,
    num_heads: int = RELEASE_NUM_HEADS,
    hubert_shapes: Mapping[str, tuple[int, ...] | torch.Size] | None = None,
) -> ReleaseWeights:
    """Convert a released checkpoint's `state_dict` into this package's state dicts.

    Args:
        state: the Lightning checkpoint's "state_dict" (stage 1 or stage 2).
        kind: "lsf-release" or "probtalk3d" to require that release (stage 2); None accepts
            whichever the keys show.
        num_heads: attention heads of the released Transformers (8 in both releases).
        hubert_shapes: the state-dict shapes of the `HubertModel` the HuBERT weights will be
            loaded into (e.g. built from `hubert_config_from_release`); when given, HuBERT's
            shapes and key set are checked here too.

    Raises:
        LsfError: the layout is not a release's, the kind is the other one, or keys are
            missing, unknown or mis-shaped (all listed in one message).
    """
    stage, found = detect_release(state)
    if kind is not None:
        if kind not in RELEASE_KINDS:
            raise LsfError(f"unknown release kind {kind!r}; use one of {', '.join(RELEASE_KINDS)}")
        if stage == 2 and kind != found:
            raise LsfError(
                f"the checkpoint holds a {found} stage 2 (its keys show it), not {kind}; "
                f"use --kind {found}"
            )
        found = kind
    prior_prefix = "motion_prior." if stage == 2 else ""
    vq = _vqvae_config(state, prior_prefix, num_heads)
    sie = _sie_config(state, found, num_heads) if stage == 2 else SIEConfig(d_model=vq.hidden_dim)
    try:
        config = ModelConfig(vqvae=vq, sie=sie, name=found).validate()
    except LsfError as err:
        raise LsfError(f"the checkpoint's shapes do not make a valid model: {err}") from err

    rules: dict[str, tuple[str, str]] = {
        k: ("prior", v) for k, v in stage1_rules(vq.num_layers, prior_prefix).items()
    }
    if stage == 2:
        predictor = (
            lsf_predictor_rules(sie.num_layers)
            if found == "lsf-release"
            else probtalk3d_predictor_rules(sie.num_layers)
        )
        rules.update({k: ("sie", v) for k, v in predictor.items()})

    pe_keys = {prior_prefix + k for k in _PRIOR_PE_KEYS}
    if stage == 2:
        pe_keys.add(_PREDICTOR_PE_KEY[found])
    out: dict[str, dict[str, torch.Tensor]] = {"prior": {}, "sie": {}, "hubert": {}, "e2v": {}}
    ignored: list[str] = []
    unknown: list[str] = []
    problems: list[str] = []
    for key, value in state.items():
        if key in rules:
            group, name = rules[key]
            out[group][name] = value
        elif key in pe_keys:
            _check_pe(key, value, problems)
            ignored.append(key)
        elif stage == 2 and key.startswith(HUBERT_PREFIX):
            hub_name = hubert_key(key[len(HUBERT_PREFIX) :])
            if hub_name is None:
                unknown.append(key)
            else:
                out["hubert"][hub_name] = value
        elif stage == 2 and found == "lsf-release" and key.startswith(EMOTION2VEC_PREFIX):
            out["e2v"][key[len(EMOTION2VEC_PREFIX) :]] = value
        elif _ignore_reason(key) is not None:
            ignored.append(key)
        else:
            unknown.append(key)
    missing = [k for k in rules if k not in state]

    prior_shapes, sie_shapes = _expected_shapes(config, stage)
    for group, expected in (("prior", prior_shapes), ("sie", sie_shapes)):
        for name, value in out[group].items():
            want = expected.get(name)
            got = tuple(value.shape) if isinstance(value, torch.Tensor) else None
            if want is None:  # a rule without a target: a bug in the rules, not in the file
                raise AssertionError(f"release rule maps to unknown {group} key {name}")
            if got != want:
                src = next(k for k, (g, n) in rules.items() if g == group and n == name)
                problems.append(
                    f"{src} {got if got is not None else 'not a tensor'} (expected {want})"
                )
        absent = set(expected) - set(out[group])
        if absent and not missing:  # rules cover every target: absent targets are a rule bug
            raise AssertionError(f"release rules leave {group} keys unset: {short_list(absent)}")
    if stage == 2:
        if not out["hubert"]:
            missing.append(HUBERT_PREFIX + "* (the fine-tuned HuBERT)")
        if found == "lsf-release" and not out["e2v"]:
            missing.append(EMOTION2VEC_PREFIX + "* (emotion2vec)")
        if hubert_shapes is not None and out["hubert"]:
            for name, value in out["hubert"].items():
                want_shape = hubert_shapes.get(name)
                if want_shape is not None and tuple(value.shape) != tuple(want_shape):
                    problems.append(
                        f"{HUBERT_PREFIX}{name} {tuple(value.shape)} (expected {tuple(want_shape)})"
                    )
            unknown += [HUBERT_PREFIX + n for n in out["hubert"] if n not in hubert_shapes]
            missing += [HUBERT_PREFIX + n for n in hubert_shapes if n not in out["hubert"]]

    if missing or unknown or problems:
        parts = []
        if missing:
            parts.append(f"missing keys: {short_list(missing)}")
        if unknown:
            parts.append(f"unknown keys: {short_list(unknown)}")
        if problems:
            parts.append(f"mis-shaped or wrong values: {short_list(problems)}")
        raise LsfError(
            f"the checkpoint does not match the released {found} stage-{stage} layout ("
            + "; ".join(parts)
            + "); give an unmodified checkpoint of that release"
        )

    hubert = out["hubert"] or None
    hubert_src = {
        k[len(HUBERT_PREFIX) :]: v for k, v in state.items() if k.startswith(HUBERT_PREFIX)
    }
    return ReleaseWeights(
        stage=stage,
        kind=found,
        config=config,
        prior=out["prior"],
        sie=out["sie"] if stage == 2 else None,
        hubert=hubert,
        hubert_config=hubert_config_from_release(hubert_src) if hubert else None,
        emotion2vec=out["e2v"] or None,
        ignored=sorted(ignored),
    )
