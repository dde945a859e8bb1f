"""The authors' released checkpoints, as tests need them: key layouts, random weights, and a
reference forward pass written from the release's order of operations.

Written from reading Dogter521/LSF-Animation at a7637c0 and uuembodiedsocialai/ProbTalk3D
(docs/release_architecture.md); independent of `lsf_animation.model.release_keys`, so the tests
compare two readings. Import as `from fixtures_release import ...`.

Layout functions return {release key: (shape, "param" | "buffer")}.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

Layout = dict[str, tuple[tuple[int, ...], str]]


@dataclass(frozen=True)
class Sizes:
    """Sizes of a released network (defaults: the releases' own)."""

    d: int = 256
    heads: int = 8
    prior_layers: int = 6
    predictor_layers: int = 12
    ffn: int = 384
    motion: int = 53
    codes: int = 256
    code_dim: int = 128
    kernel: int = 5
    feature: int = 768  # HuBERT / emotion2vec frame width (paired: 2x)
    shape: int = 300
    identity_hidden: tuple[int, int] = (256, 128)
    identities: int = 32
    tokens: int = 4
    attn_ratio: float = 0.25
    max_len: int = 5000


TINY = Sizes(
    d=32,
    heads=4,
    prior_layers=2,
    predictor_layers=3,
    ffn=48,
    codes=16,
    code_dim=16,
    feature=12,
    identity_hidden=(24, 16),
    identities=5,
    max_len=200,
)


def _linear(name: str, i: int, o: int, bias: bool = True) -> Layout:
    out: Layout = {f"{name}.weight": ((o, i), "param")}
    if bias:
        out[f"{name}.bias"] = ((o,), "param")
    return out


def _norm(name: str, d: int) -> Layout:
    return {f"{name}.weight": ((d,), "param"), f"{name}.bias": ((d,), "param")}


def _conv(name: str, d: int, k: int) -> Layout:
    return {f"{name}.weight": ((d, d, k), "param"), f"{name}.bias": ((d,), "param")}


def _transformer(prefix: str, layers: int, d: int, ffn: int) -> Layout:
    """learning2listen's Transformer: net = [Residual(Norm(Attention)), Residual(Norm(MLP))]*L."""
    out: Layout = {}
    for i in range(layers):
        a, m = f"{prefix}.net.{2 * i}.fn", f"{prefix}.net.{2 * i + 1}.fn"
        out |= _norm(f"{a}.norm", d)
        out |= _linear(f"{a}.fn.to_qkv", d, 3 * d, bias=False)
        out |= _linear(f"{a}.fn.to_out", d, d)
        out |= _norm(f"{m}.norm", d)
        out |= _linear(f"{m}.fn.l1", d, ffn)
        out |= _linear(f"{m}.fn.l2", ffn, d)
    return out


def _losses(prefix: str, names: tuple[str, ...]) -> Layout:
    return {
        f"{prefix}_losses.losses_{split}.{n}": ((), "buffer")
        for split in ("train", "test", "val")
        for n in (*names, "count")
    }


def vqvae_layout(s: Sizes = Sizes(), prefix: str = "") -> Layout:
    """ProbTalk3D's VQVAE (stage 1 of both releases)."""
    p = prefix
    out: Layout = {}
    out |= _linear(f"{p}motion_encoder.feature_mapping.0", s.motion, s.d)
    out |= _conv(f"{p}motion_encoder.squasher.0.0", s.d, s.kernel)
    out |= _transformer(f"{p}motion_encoder.encoder_transformer", s.prior_layers, s.d, s.ffn)
    out[f"{p}motion_encoder.encoder_pos_embedding.pe"] = ((s.max_len, 1, s.d), "buffer")
    out |= _linear(f"{p}motion_encoder.encoder_linear_embedding.net", s.d, s.d)
    out |= _conv(f"{p}motion_decoder.expander.0.0", s.d, s.kernel)
    out |= _transformer(f"{p}motion_decoder.decoder_transformer", s.prior_layers, s.d, s.ffn)
    out[f"{p}motion_decoder.decoder_pos_embedding.pe"] = ((s.max_len, 1, s.d), "buffer")
    out |= _linear(f"{p}motion_decoder.decoder_linear_embedding.net", s.d, s.d)
    out |= _linear(f"{p}motion_decoder.feature_mapping_reverse", s.d, s.motion, bias=False)
    out[f"{p}quantize.embedding.weight"] = ((s.codes, s.code_dim), "param")
    out |= _losses(p, ("quant", "recons_exp", "recons_jaw", "total"))
    return out


def lsf_predictor_layout(s: Sizes = Sizes()) -> Layout:
    """LSF-Animation's TransformerPredictor and identity MLP (without the prior and encoders)."""
    p = "feature_predictor."
    h1, h2 = s.identity_hidden
    inner = int(s.d * s.attn_ratio)
    out: Layout = {}
    out |= _linear("identity_extractor.0", s.shape, h1)
    out |= _linear("identity_extractor.2", h1, h2)
    out |= _linear("identity_extractor.4", h2, s.identities)
    out |= _linear(f"{p}audio_feat", 2 * s.feature, s.d)
    out |= _linear(f"{p}emo_feat", 2 * s.feature, s.d)
    out |= _linear(f"{p}style_proj", s.identities, s.d, bias=False)
    out |= _conv(f"{p}squash_a.0", s.d, s.kernel)
    out |= _conv(f"{p}squash_e.0", s.d, s.kernel)
    out |= _linear(f"{p}lin_embed.net", s.d, s.d)
    out[f"{p}pos_enc.pe"] = ((s.max_len, 1, s.d), "buffer")
    for i in range(s.predictor_layers):
        out |= _transformer(f"{p}audio_blocks.{i}", 1, s.d, s.ffn)
        out |= _transformer(f"{p}emo_blocks.{i}", 1, s.d, s.ffn)
    out[f"{p}fusion_tokens"] = ((1, s.tokens, s.d), "param")
    for i in range(s.predictor_layers):
        f = f"{p}fusion_blocks.{i}"
        out |= _norm(f"{f}.norm_mm", s.d) | _norm(f"{f}.norm_a", s.d) | _norm(f"{f}.norm_v", s.d)
        out |= _linear(f"{f}.attn.q", s.d, inner, bias=False)
        out |= _linear(f"{f}.attn.kv", 2 * s.d, 2 * inner, bias=False)
        out |= _linear(f"{f}.attn.proj", inner, s.d)
        out |= _norm(f"{f}.norm_mlp", s.d)
        out |= _linear(f"{f}.mlp.fc1", s.d, s.ffn) | _linear(f"{f}.mlp.fc2", s.ffn, s.d)
    out |= _norm(f"{p}out_norm", s.d)
    out |= _losses("", ("latent_manifold", "recons_exp", "recons_jaw", "total"))
    return out


def probtalk3d_predictor_layout(s: Sizes = Sizes()) -> Layout:
    """ProbTalk3D's one-hot TransformerPredictor (style one-hot: identities + 8 + 3)."""
    p = "feature_predictor."
    out: Layout = {}
    out |= _linear(f"{p}audio_feature_map", 2 * s.feature, s.d)
    out |= _linear(f"{p}style_embedding", s.identities + 8 + 3, s.d, bias=False)
    out |= _conv(f"{p}squasher.0.0", s.d, s.kernel)
    out |= _transformer(f"{p}encoder_transformer", s.predictor_layers, s.d, s.ffn)
    out[f"{p}encoder_pos_embedding.pe"] = ((s.max_len, 1, s.d), "buffer")
    out |= _linear(f"{p}encoder_linear_embedding.net", s.d, s.d)
    out |= _losses("", ("latent_manifold", "recons_exp", "recons_jaw", "total"))
    return out


def release_pe(max_len: int, d: int) -> torch.Tensor:
    """The release's stored table: (max_len, 1, d), float32 sin / cos interleaved."""
    position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
    div = torch.exp(torch.arange(0, d, 2).float() * (-math.log(10000.0) / d))
    pe = torch.zeros(max_len, d)
    pe[:, 0::2] = torch.sin(position * div)
    pe[:, 1::2] = torch.cos(position * div)
    return pe.unsqueeze(1)


def random_state(layout: Layout, seed: int = 0, scale: float = 0.2) -> dict[str, torch.Tensor]:
    """Random weights in a layout: normal * scale (LayerNorm weights around 1), the positional
    tables as the release builds them, loss buffers as running sums."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for key, (shape, kind) in layout.items():
        if key.endswith(".pe"):
            out[key] = release_pe(shape[0], shape[2])
        elif kind == "buffer":
            out[key] = torch.rand((), generator=g) * 10
        elif "norm" in key.split(".")[-2] and key.endswith(".weight") and len(shape) == 1:
            out[key] = 1.0 + scale * torch.randn(shape, generator=g)
        else:
            out[key] = scale * torch.randn(shape, generator=g)
    return out


# ---------------------------------------------------------------------------------------------
# Reference forward (the release's order of operations on its own key names)


def _gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def _ln(w: dict, name: str, x: torch.Tensor) -> torch.Tensor:
    return F.layer_norm(x, x.shape[-1:], w[f"{name}.weight"], w[f"{name}.bias"], 1e-5)


def _lin(w: dict, name: str, x: torch.Tensor) -> torch.Tensor:
    return F.linear(x, w[f"{name}.weight"], w.get(f"{name}.bias"))


def ref_transformer(w: dict, prefix: str, x: torch.Tensor, layers: int, heads: int) -> torch.Tensor:
    b, n, d = x.shape
    for i in range(layers):
        a, m = f"{prefix}.net.{2 * i}.fn", f"{prefix}.net.{2 * i + 1}.fn"
        qkv = _lin(w, f"{a}.fn.to_qkv", _ln(w, f"{a}.norm", x))  # b n (3 h dh)
        qkv = qkv.view(b, n, 3, heads, d // heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        dots = torch.einsum("bhid,bhjd->bhij", q, k) * d**-0.5
        out = torch.einsum("bhij,bhjd->bhid", dots.softmax(-1), v)
        x = x + _lin(w, f"{a}.fn.to_out", out.permute(0, 2, 1, 3).reshape(b, n, d))
        h = _lin(w, f"{m}.fn.l1", _ln(w, f"{m}.norm", x))
        x = x + _lin(w, f"{m}.fn.l2", _gelu_tanh(h))
    return x


def ref_squash(w: dict, name: str, x: torch.Tensor) -> torch.Tensor:
    """Conv1d(k, replicate padding) -> LeakyReLU(0.2) -> InstanceNorm1d on (B, T, C)."""
    k = w[f"{name}.weight"].shape[2]
    y = F.pad(x.transpose(1, 2), (k // 2, k // 2), mode="replicate")
    y = F.leaky_relu(F.conv1d(y, w[f"{name}.weight"], w[f"{name}.bias"]), 0.2)
    return F.instance_norm(y).transpose(1, 2)


def _pe(w: dict, name: str, x: torch.Tensor) -> torch.Tensor:
    return x + w[name].permute(1, 0, 2)[:, : x.shape[1]]


def ref_encode(w: dict, motion: torch.Tensor, s: Sizes) -> torch.Tensor:
    p = "motion_encoder"
    x = F.leaky_relu(_lin(w, f"{p}.feature_mapping.0", motion), 0.2)
    x = ref_squash(w, f"{p}.squasher.0.0", x)
    x = _pe(w, f"{p}.encoder_pos_embedding.pe", _lin(w, f"{p}.encoder_linear_embedding.net", x))
    return ref_transformer(w, f"{p}.encoder_transformer", x, s.prior_layers, s.heads)


def ref_quantize(w: dict, z: torch.Tensor) -> torch.Tensor:
    """Nearest code per row of the (B, d, T) view, as the release's VectorQuantizer."""
    e = w["quantize.embedding.weight"]
    zt = z.permute(0, 2, 1).contiguous()
    flat = zt.view(-1, e.shape[1])
    d = (flat**2).sum(1, keepdim=True) + (e**2).sum(1) - 2 * flat @ e.t()
    return e[d.argmin(1)].view(zt.shape).permute(0, 2, 1)


def ref_decode(w: dict, zq: torch.Tensor, s: Sizes) -> torch.Tensor:
    p = "motion_decoder"
    x = ref_squash(w, f"{p}.expander.0.0", zq)
    x = _pe(w, f"{p}.decoder_pos_embedding.pe", _lin(w, f"{p}.decoder_linear_embedding.net", x))
    x = ref_transformer(w, f"{p}.decoder_transformer", x, s.prior_layers, s.heads)
    return _lin(w, f"{p}.feature_mapping_reverse", x)


def ref_lsf_predictor(
    w: dict, audio: torch.Tensor, emotion: torch.Tensor, shape: torch.Tensor, s: Sizes
) -> torch.Tensor:
    """audio, emotion: paired (B, T, 2F); shape (B, 300) -> (B, T, d)."""
    p = "feature_predictor"
    h = F.relu(_lin(w, "identity_extractor.0", shape))
    h = F.relu(_lin(w, "identity_extractor.2", h))
    style = _lin(w, f"{p}.style_proj", _lin(w, "identity_extractor.4", h).softmax(-1))[:, None]
    xa = ref_squash(w, f"{p}.squash_a.0", _lin(w, f"{p}.audio_feat", audio) * style)
    xv = ref_squash(w, f"{p}.squash_e.0", _lin(w, f"{p}.emo_feat", emotion) * style)
    xa = _pe(w, f"{p}.pos_enc.pe", _lin(w, f"{p}.lin_embed.net", xa))
    xv = _pe(w, f"{p}.pos_enc.pe", _lin(w, f"{p}.lin_embed.net", xv))
    b, n_f = audio.shape[0], s.tokens
    xmm = w[f"{p}.fusion_tokens"].expand(b, -1, -1)
    for i in range(s.predictor_layers):
        xa = ref_transformer(w, f"{p}.audio_blocks.{i}", torch.cat([xmm, xa], 1), 1, s.heads)
        xa = xa[:, n_f:]
        xv = ref_transformer(w, f"{p}.emo_blocks.{i}", torch.cat([xmm, xv], 1), 1, s.heads)
        xv = xv[:, n_f:]
        f = f"{p}.fusion_blocks.{i}"
        src_mm, src_v = _ln(w, f"{f}.norm_mm", xmm), _ln(w, f"{f}.norm_v", xv)
        src_a = _ln(w, f"{f}.norm_a", xa)
        na, nv = src_a.shape[1], src_v.shape[1]
        pairs = torch.cat(
            [src_v.unsqueeze(2).repeat(1, 1, na, 1), src_a.unsqueeze(1).repeat(1, nv, 1, 1)], 3
        ).flatten(1, 2)
        q = _lin(w, f"{f}.attn.q", src_mm).reshape(b, n_f, s.heads, -1).permute(0, 2, 1, 3)
        kv = _lin(w, f"{f}.attn.kv", pairs).reshape(b, nv * na, 2, s.heads, -1)
        k, v = kv.permute(2, 0, 3, 1, 4)
        attn = ((q @ k.transpose(-2, -1)) * (s.d // s.heads) ** -0.5).softmax(-1)
        out = _lin(w, f"{f}.attn.proj", (attn @ v).transpose(1, 2).reshape(b, n_f, -1))
        xmm = xmm + out
        hidden = F.gelu(_lin(w, f"{f}.mlp.fc1", _ln(w, f"{f}.norm_mlp", xmm)))
        xmm = xmm + _lin(w, f"{f}.mlp.fc2", hidden)
    return xa


def ref_probtalk3d_predictor(
    w: dict, audio: torch.Tensor, style_one_hot: torch.Tensor, s: Sizes
) -> torch.Tensor:
    """audio: paired (B, T, 2F); style one-hot (B, identities + 11) -> (B, T, d)."""
    p = "feature_predictor"
    x = (
        _lin(w, f"{p}.audio_feature_map", audio)
        * _lin(w, f"{p}.style_embedding", style_one_hot)[:, None]
    )
    x = ref_squash(w, f"{p}.squasher.0.0", x)
    x = _pe(w, f"{p}.encoder_pos_embedding.pe", _lin(w, f"{p}.encoder_linear_embedding.net", x))
    return ref_transformer(w, f"{p}.encoder_transformer", x, s.predictor_layers, s.heads)


def pair_like_release(features: torch.Tensor) -> torch.Tensor:
    """(B, T50, F) -> (B, T50 // 2, 2F): drop an odd last frame, join adjacent frames."""
    b, t, f = features.shape
    t -= t % 2
    return features[:, :t].reshape(b, t // 2, 2 * f)


def strip(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
