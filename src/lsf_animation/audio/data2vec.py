"""A pure-PyTorch data2vec 2.0 audio backbone (the architecture of emotion2vec), inference only.

Written from the published architecture (data2vec 2.0 / emotion2vec; facts read from the public
emotion2vec and FunASR sources, no code taken), so that the official checkpoints load without
fairseq, funasr or modelscope. Module names mirror the checkpoints' state-dict keys, so a
checkpoint loads with a strict `load_state_dict` after the checks in `build_from_state_dict`.

Forward pass (eval, no masking, one unpadded clip):

1. `modality_encoders.AUDIO.local_encoder`: 7 conv layers (512 channels; kernel/stride
   (10,5), (3,2) x4, (2,2) x2; no bias), each followed by a LayerNorm over channels and GELU.
   Same 20 ms hop and 25 ms receptive field as HuBERT.
2. `project_features`: LayerNorm(512) -> Linear(512, D).
3. `relative_positional_encoder`: 5 x [grouped Conv1d(D, D, k=19, groups=16, "same" padding) ->
   LayerNorm over channels without affine -> GELU], its output added once to its input.
4. ALiBi attention bias: slope_h * -|i - j| per head (fairseq's slopes), times the learned
   `alibi_scale` clamped at 0 (one scale per head shared by all layers, or one per layer).
5. `extra_tokens` (10 learned vectors) prepended; they get zero ALiBi bias.
6. `context_encoder`: LayerNorm, then the 4 "prenet" blocks; then the 8 main `blocks`.
   Blocks are post-LN: x = norm1(x + attn(x)); x = norm2(x + mlp(x)) with a fused `qkv` projection
   and a GELU MLP (4x).
7. The extra tokens are dropped: output (B, T50, D).

How the official checkpoints are read and checked, key by key: `audio.data2vec_checkpoint`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lsf_animation.errors import LsfError

STANDARD_CONV_KERNELS = (10, 3, 3, 3, 3, 2, 2)
STANDARD_CONV_STRIDES = (5, 2, 2, 2, 2, 2, 2)
NORM_EPS = 1e-5


@dataclass(frozen=True)
class Data2VecAudioConfig:
    """Architecture of a data2vec 2.0 audio model. Defaults are emotion2vec_base's."""

    embed_dim: int = 768
    conv_channels: tuple[int, ...] = (512,) * 7
    conv_kernels: tuple[int, ...] = STANDARD_CONV_KERNELS
    conv_strides: tuple[int, ...] = STANDARD_CONV_STRIDES
    conv_pos_depth: int = 5
    conv_pos_kernel: int = 19  # max(3, conv_pos_width 95 // depth 5)
    conv_pos_groups: int = 16
    prenet_depth: int = 4
    depth: int = 8
    num_heads: int = 12
    mlp_hidden: int = 3072
    num_extra_tokens: int = 10
    alibi_scale_shape: tuple[int, ...] | None = (1, 1, 12, 1, 1)
    norm_eps: float = NORM_EPS

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Transpose(nn.Module):
    """Swap the last two axes ((B, C, T) <-> (B, T, C))."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(-2, -1)


class _TrimRight(nn.Module):
    """Drop the extra last step an even-kernel "same" convolution produces."""

    def __init__(self, kernel: int) -> None:
        super().__init__()
        self.remove = 1 if kernel % 2 == 0 else 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[..., : x.shape[-1] - self.remove]


def _channel_norm(channels: int, affine: bool, eps: float) -> nn.Sequential:
    # Index 1 holds the LayerNorm, matching the checkpoints' "...2.1.weight" / "...2.1.bias".
    return nn.Sequential(
        _Transpose(), nn.LayerNorm(channels, eps=eps, elementwise_affine=affine), _Transpose()
    )


class ConvFeatureEncoder(nn.Module):
    """Waveform (B, N) -> (B, C, T50): conv (no bias) -> LayerNorm over channels -> GELU, x7."""

    def __init__(self, cfg: Data2VecAudioConfig) -> None:
        super().__init__()
        layers = []
        in_ch = 1
        for out_ch, k, s in zip(cfg.conv_channels, cfg.conv_kernels, cfg.conv_strides, strict=True):
            layers.append(
                nn.Sequential(
                    nn.Conv1d(in_ch, out_ch, k, stride=s, bias=False),
                    nn.Identity(),  # dropout slot of the original layout (keeps key indices)
                    _channel_norm(out_ch, affine=True, eps=cfg.norm_eps),
                    nn.GELU(),
                )
            )
            in_ch = out_ch
        self.conv_layers = nn.ModuleList(layers)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """(B, N) -> (B, C, T50), a transposed view of a (B, T50, C) contiguous tensor.

        Runs on (T, C) rows, one clip at a time: each conv is a sum of matrix products, one
        per kernel tap, whose left operand is a strided view of the rows (rows j, j + s,
        j + 2s, ... hold tap j of every output step), so no input is copied; the LayerNorm
        over channels is then the fused kernel on contiguous rows (BENCHMARKS.md: on one
        thread, each speech stream's share when the two run at once, about 10% faster than
        channels-last 2-D convolutions; on two threads about as fast).
        """
        if wav.shape[-1] < self.receptive_field:
            raise LsfError(
                f"audio too short for emotion2vec: {wav.shape[-1]} samples; at least "
                f"{self.receptive_field} (one 50 Hz frame's window) are needed"
            )
        out = []
        for clip in wav:
            rows = clip[:, None]  # (N, 1)
            for conv, ln in self._conv_norms():
                rows = _conv_rows(rows, conv.weight, conv.stride[0])
                rows = F.gelu(F.layer_norm(rows, rows.shape[-1:], ln.weight, ln.bias, ln.eps))
            out.append(rows)
        return torch.stack(out).transpose(1, 2)

    @property
    def receptive_field(self) -> int:
        """Samples one output frame sees (400 for the standard stack: 25 ms at 16 kHz)."""
        field = 1
        for conv, _ in reversed(self._conv_norms()):
            field = (field - 1) * conv.stride[0] + conv.kernel_size[0]
        return field

    def _conv_norms(self) -> list[tuple[nn.Conv1d, nn.LayerNorm]]:
        """Each layer's convolution and LayerNorm (its GELU is F.gelu)."""
        pairs = []
        for layer in self.conv_layers:
            assert isinstance(layer, nn.Sequential)
            conv, channel_norm = layer[0], layer[2]
            assert isinstance(channel_norm, nn.Sequential)
            norm = channel_norm[1]
            assert isinstance(conv, nn.Conv1d) and isinstance(norm, nn.LayerNorm)
            pairs.append((conv, norm))
        return pairs


def _conv_rows(rows: torch.Tensor, weight: torch.Tensor, stride: int) -> torch.Tensor:
    """A bias-free strided 1-D convolution on rows: (T, Cin) -> (T', Cout), T >= k.

    `weight` is a Conv1d weight (Cout, Cin, k); T' = (T - k) // stride + 1.
    """
    c_in, k = weight.shape[1], weight.shape[2]
    steps = (rows.shape[0] - k) // stride + 1
    taps = weight.permute(2, 1, 0)  # (k, Cin, Cout)
    rows = rows.contiguous()
    if k == stride:  # taps of consecutive steps do not overlap: one product
        return rows[: steps * stride].reshape(steps, k * c_in) @ taps.reshape(k * c_in, -1)
    base = rows.storage_offset()  # as_strided offsets count from the start of the storage
    out = rows.as_strided((steps, c_in), (stride * c_in, 1)) @ taps[0]
    for j in range(1, k):
        tap = rows.as_strided((steps, c_in), (stride * c_in, 1), base + j * c_in)
        # .to(): no-ops in float32; under autocast the product above came out in its dtype
        out.addmm_(tap.to(out.dtype), taps[j].to(out.dtype))
    return out


def _relative_positional_encoder(cfg: Data2VecAudioConfig) -> nn.Sequential:
    d, k = cfg.embed_dim, cfg.conv_pos_kernel
    blocks = [
        nn.Sequential(
            nn.Conv1d(d, d, k, padding=k // 2, groups=cfg.conv_pos_groups),
            _TrimRight(k),
            _channel_norm(d, affine=False, eps=cfg.norm_eps),
            nn.GELU(),
        )
        for _ in range(cfg.conv_pos_depth)
    ]
    # (B, T, D) -> (B, D, T) -> blocks -> (B, T, D); blocks sit at indices 1..depth.
    return nn.Sequential(_Transpose(), *blocks, _Transpose())


class SelfAttention(nn.Module):
    """Multi-head self-attention with a fused qkv projection and an additive bias."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        if dim % num_heads:
            raise LsfError(f"embedding size {dim} is not divisible by {num_heads} heads")
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, H, N, hd)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Post-LN transformer block: x = norm1(x + attn(x)); x = norm2(x + mlp(x))."""

    def __init__(self, cfg: Data2VecAudioConfig) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(cfg.embed_dim, eps=cfg.norm_eps)
        self.attn = SelfAttention(cfg.embed_dim, cfg.num_heads)
        self.norm2 = nn.LayerNorm(cfg.embed_dim, eps=cfg.norm_eps)
        self.mlp = Mlp(cfg.embed_dim, cfg.mlp_hidden)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        x = self.norm1(x + self.attn(x, bias))
        return self.norm2(x + self.mlp(x))


class ContextEncoder(nn.Module):
    def __init__(self, cfg: Data2VecAudioConfig) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(cfg.embed_dim, eps=cfg.norm_eps)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.prenet_depth))


class AudioModalityEncoder(nn.Module):
    def __init__(self, cfg: Data2VecAudioConfig) -> None:
        super().__init__()
        d = cfg.embed_dim
        self.local_encoder = ConvFeatureEncoder(cfg)
        self.project_features = nn.Sequential(
            _Transpose(), nn.LayerNorm(cfg.conv_channels[-1]), nn.Linear(cfg.conv_channels[-1], d)
        )
        self.relative_positional_encoder = _relative_positional_encoder(cfg)
        self.context_encoder = ContextEncoder(cfg)
        self.extra_tokens = nn.Parameter(torch.zeros(1, cfg.num_extra_tokens, d))
        self.alibi_scale = (
            nn.Parameter(torch.ones(cfg.alibi_scale_shape)) if cfg.alibi_scale_shape else None
        )


def alibi_slopes(num_heads: int) -> list[float]:
    """Per-head ALiBi slopes (fairseq's rule, also for head counts that are not powers of 2)."""

    def power_of_two(n: int) -> list[float]:
        start = 2.0 ** (-(2.0 ** -(math.log2(n) - 3)))
        return [start ** (i + 1) for i in range(n)]

    if math.log2(num_heads).is_integer():
        return power_of_two(num_heads)
    closest = 2 ** math.floor(math.log2(num_heads))
    return power_of_two(closest) + alibi_slopes(2 * closest)[0::2][: num_heads - closest]


def alibi_bias(length: int, num_heads: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Symmetric ALiBi bias (1, H, T, T): -slope_h * |i - j|."""
    pos = torch.arange(length)
    dist = -(pos[None, :] - pos[:, None]).abs().to(dtype)
    slopes = torch.tensor(alibi_slopes(num_heads), dtype=dtype)
    return (slopes[:, None, None] * dist[None])[None]


class Data2VecAudioModel(nn.Module):
    """data2vec 2.0 audio encoder; `forward(wav (B, N)) -> (B, T50, D)` frame features.

    The caller normalizes the waveform (emotion2vec: layer norm over the whole clip). Strict
    inference module: no masking, padding or decoder.
    """

    def __init__(self, cfg: Data2VecAudioConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.modality_encoders = nn.ModuleDict({"AUDIO": AudioModalityEncoder(cfg)})
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))

    @property
    def audio_encoder(self) -> AudioModalityEncoder:
        enc = self.modality_encoders["AUDIO"]
        assert isinstance(enc, AudioModalityEncoder)
        return enc

    def _layer_biases(self, length: int, dtype: torch.dtype) -> list[torch.Tensor | None]:
        enc = self.audio_encoder
        n_layers = self.cfg.prenet_depth + self.cfg.depth
        if enc.alibi_scale is None:
            return [None] * n_layers
        base = alibi_bias(length, self.cfg.num_heads, dtype)
        scale = enc.alibi_scale.clamp_min(0).to(dtype)  # (L or 1, 1, H or 1, 1, 1)
        e = self.cfg.num_extra_tokens
        biases = [base * scale[0]] if scale.shape[0] == 1 else [base * s for s in scale]
        # Extra tokens attend and are attended with zero bias.
        biases = [F.pad(b, (e, 0, e, 0)) for b in biases]
        return biases * n_layers if len(biases) == 1 else list(biases)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        enc = self.audio_encoder
        x = enc.project_features(enc.local_encoder(wav))  # (B, T, D)
        x = x + enc.relative_positional_encoder(x)
        biases = self._layer_biases(x.shape[1], x.dtype)
        x = torch.cat([enc.extra_tokens.expand(x.shape[0], -1, -1).to(x.dtype), x], dim=1)
        x = enc.context_encoder.norm(x)
        blocks = [*enc.context_encoder.blocks, *self.blocks]
        for block, bias in zip(blocks, biases, strict=True):
            x = block(x, bias)
        return x[:, self.cfg.num_extra_tokens :]
