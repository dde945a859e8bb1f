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

State-dict keys used (P = "modality_encoders.AUDIO."): P+"extra_tokens", P+"alibi_scale",
P+"local_encoder.conv_layers.{i}.0.weight" (conv),
P+"local_encoder.conv_layers.{i}.2.1.{weight,bias}" (its LayerNorm),
P+"project_features.{1,2}.{weight,bias}",
P+"relative_positional_encoder.{1..5}.0.{weight,bias}", P+"context_encoder.norm.{weight,bias}",
P+"context_encoder.blocks.{i}.*" and "blocks.{i}.*" with norm1, norm2, attn.qkv, attn.proj,
mlp.fc1, mlp.fc2 (each weight and bias).
Keys ignored (pre-training or classification only): P+"decoder.*" (the masked-prediction
decoder), "_ema" / "ema.*" (the EMA teacher), "shared_decoder.*", "recon_proj.*" and "proj.*"
(FunASR's utterance-level emotion classifier of the finetuned / emotion2vec+ models).
Any other key, a missing key or a shape that does not fit is an `LsfError` listing the keys.
Not supported (clear error): pre-LN models (a final top-level "norm"), learned ALiBi tables
("alibi_bias"), the pre-LN positional encoder variant and non-standard conv stacks.
"""

from __future__ import annotations

import math
import pickle
import types
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lsf_animation.errors import LsfError

PREFIX = "modality_encoders.AUDIO."
STANDARD_CONV_KERNELS = (10, 3, 3, 3, 3, 2, 2)
STANDARD_CONV_STRIDES = (5, 2, 2, 2, 2, 2, 2)
IGNORED_PREFIXES = (
    PREFIX + "decoder.",
    "_ema",
    "ema.",
    "shared_decoder.",
    "recon_proj.",
    "proj.",
)
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
            for conv, _, norm, act in self.conv_layers:
                rows = _conv_rows(rows, conv.weight, conv.stride[0])
                ln = norm[1]
                rows = act(F.layer_norm(rows, rows.shape[-1:], ln.weight, ln.bias, ln.eps))
            out.append(rows)
        return torch.stack(out).transpose(1, 2)

    @property
    def receptive_field(self) -> int:
        """Samples one output frame sees (400 for the standard stack: 25 ms at 16 kHz)."""
        field = 1
        for conv, *_ in reversed(self.conv_layers):
            field = (field - 1) * conv.stride[0] + conv.kernel_size[0]
        return field


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

    def _layer_biases(self, length: int, dtype: torch.dtype) -> list[torch.Tensor | None]:
        enc = self.modality_encoders["AUDIO"]
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
        enc = self.modality_encoders["AUDIO"]
        x = enc.project_features(enc.local_encoder(wav))  # (B, T, D)
        x = x + enc.relative_positional_encoder(x)
        biases = self._layer_biases(x.shape[1], x.dtype)
        x = torch.cat([enc.extra_tokens.expand(x.shape[0], -1, -1).to(x.dtype), x], dim=1)
        x = enc.context_encoder.norm(x)
        blocks = [*enc.context_encoder.blocks, *self.blocks]
        for block, bias in zip(blocks, biases, strict=True):
            x = block(x, bias)
        return x[:, self.cfg.num_extra_tokens :]


# ---------------------------------------------------------------------------------------------
# Checkpoint reading


class _Opaque:
    """Inert stand-in for any class a checkpoint pickles that we do not allow (configs, enums)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __setitem__(self, key: Any, value: Any) -> None:
        self.__dict__.setdefault("items", {})[key] = value

    def append(self, value: Any) -> None:
        self.__dict__.setdefault("list", []).append(value)

    def extend(self, values: Any) -> None:
        for v in values:
            self.append(v)

    def __call__(self, *args: Any, **kwargs: Any) -> _Opaque:
        # A pickle may call what it rebuilt (e.g. getattr(cls, name)(...)): stay inert.
        return _Opaque(*args, **kwargs)


def _safe_reconstructor(cls: Any, base: Any, state: Any) -> Any:
    return _Opaque(cls, base, state)


_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {}


def _allowed(module: str, name: str) -> Any | None:
    """The object for an allowed pickle global (tensors, containers, numpy arrays), else None."""
    if not _ALLOWED_GLOBALS:
        import _codecs
        import builtins
        import collections

        import numpy as np
        import torch._utils as tu

        core = getattr(np, "_core", None) or np.core
        table: dict[tuple[str, str], Any] = {
            ("collections", "OrderedDict"): collections.OrderedDict,
            ("collections", "defaultdict"): collections.defaultdict,
            ("copyreg", "_reconstructor"): _safe_reconstructor,
            ("_codecs", "encode"): _codecs.encode,
            ("torch", "Size"): torch.Size,
            ("torch", "device"): torch.device,
            ("numpy", "ndarray"): np.ndarray,
            ("numpy", "dtype"): np.dtype,
        }
        for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
            table[(mod, "_reconstruct")] = core.multiarray._reconstruct
            table[(mod, "scalar")] = core.multiarray.scalar
        for fn in (
            "_rebuild_tensor",
            "_rebuild_tensor_v2",
            "_rebuild_tensor_v3",
            "_rebuild_parameter",
            "_rebuild_parameter_with_state",
        ):
            if hasattr(tu, fn):
                table[("torch._utils", fn)] = getattr(tu, fn)
        for b in (
            "set",
            "frozenset",
            "slice",
            "complex",
            "bytearray",
            "list",
            "dict",
            "tuple",
            "int",
            "float",
            "str",
            "bool",
            "range",
        ):
            table[("builtins", b)] = getattr(builtins, b)
        _ALLOWED_GLOBALS.update(table)
    if (module, name) in _ALLOWED_GLOBALS:
        return _ALLOWED_GLOBALS[(module, name)]
    if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
        return getattr(torch, name)
    if module == "numpy.dtypes" and name.endswith("DType"):
        import numpy as np

        cls = getattr(np.dtypes, name, None)
        return cls if isinstance(cls, type) else None
    return None


class _TolerantUnpickler(pickle.Unpickler):
    """Resolves only tensor/container/numpy globals; every other class becomes an `_Opaque`.

    Used when `weights_only=True` refuses a checkpoint because its training config pickles
    fairseq/omegaconf classes. Nothing from the checkpoint is executed.
    """

    def find_class(self, module: str, name: str) -> Any:
        found = _allowed(module, name)
        if found is not None:
            return found
        return type(name, (_Opaque,), {"__module__": "lsf_animation.opaque." + module})


_tolerant_pickle = types.ModuleType("lsf_tolerant_pickle")
_tolerant_pickle.Unpickler = _TolerantUnpickler  # type: ignore[attr-defined]
_tolerant_pickle.load = lambda f, **kw: _TolerantUnpickler(f, **kw).load()  # type: ignore[attr-defined]
_tolerant_pickle.__dict__["__name__"] = "lsf_tolerant_pickle"


def _torch_load(path: Path, **kwargs: Any) -> Any:
    """`torch.load` memory-mapping the file (the weights are then used in place, not copied);
    files in the legacy (pre-zip) format, which cannot be mapped, are read normally."""
    try:
        return torch.load(path, map_location="cpu", mmap=True, **kwargs)
    except RuntimeError as err:
        if "mmap" not in str(err):
            raise
        return torch.load(path, map_location="cpu", **kwargs)


def read_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], Any]:
    """The model state dict and the config entry ("cfg", or None) of a data2vec checkpoint.

    Accepts fairseq checkpoints ({"cfg": ..., "model": state_dict, ...}), FunASR ones (the state
    dict, possibly under "state_dict" / "model_state_dict" / "model") and a bare state dict; a
    "module." prefix (DataParallel) is removed. Loads with `weights_only=True` first; if the
    pickled config needs classes that are not installed (fairseq, omegaconf), loads again with an
    unpickler that turns those classes into inert placeholders and never runs checkpoint code.

    Raises:
        LsfError: missing file, not a PyTorch checkpoint, or no state dict inside.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise LsfError(
            f"emotion2vec checkpoint {p} does not exist; download emotion2vec_base.pt (or an "
            "emotion2vec_plus model.pt) and pass its path"
        )
    try:
        obj = _torch_load(p, weights_only=True)
    except Exception as strict_err:  # any failure: retry tolerant, report both
        try:
            obj = _torch_load(p, weights_only=False, pickle_module=_tolerant_pickle)
        except Exception as err:
            raise LsfError(
                f"{p} is not a readable PyTorch checkpoint ({type(err).__name__}: {err}; "
                f"weights-only load: {type(strict_err).__name__}); give the emotion2vec .pt file"
            ) from err
    if not isinstance(obj, Mapping):
        raise LsfError(f"{p} holds a {type(obj).__name__}, not a checkpoint dictionary")
    cfg = obj.get("cfg")
    state: Any = obj
    for wrapper in ("state_dict", "model_state_dict", "model"):
        inner = state.get(wrapper) if isinstance(state, Mapping) else None
        if isinstance(inner, Mapping):
            state = inner
    tensors = {
        (k[len("module.") :] if k.startswith("module.") else k): v
        for k, v in state.items()
        if isinstance(k, str)
    }
    if not any(isinstance(v, torch.Tensor) for v in tensors.values()):
        raise LsfError(f"{p} contains no model weights (no tensors in its state dict)")
    return tensors, cfg


def _count(state: Mapping[str, Any], fmt: str, start: int = 0) -> int:
    n = start
    while fmt.format(n) in state:
        n += 1
    return n - start


def _describe(value: Any) -> str:
    return str(tuple(value.shape)) if isinstance(value, torch.Tensor) else type(value).__name__


def _list_keys(keys: list[str], limit: int = 12) -> str:
    shown = ", ".join(sorted(keys)[:limit])
    return shown + (f", ... ({len(keys)} in all)" if len(keys) > limit else "")


def infer_config(state: Mapping[str, Any], cfg: Any = None) -> Data2VecAudioConfig:
    """The architecture implied by a state dict's key names and shapes.

    Shapes give everything except the strides (standard stack required) and, when ALiBi scales
    are not per head, the head count (taken from a plain-dict "cfg" if present, else D / 64).
    Anchors that are missing fall back to emotion2vec_base's values, so the key check that
    follows reports them as missing.
    """
    d = Data2VecAudioConfig()

    def shape(key: str) -> tuple[int, ...] | None:
        v = state.get(key)
        return tuple(v.shape) if isinstance(v, torch.Tensor) else None

    proj = shape(PREFIX + "project_features.2.weight")
    embed = proj[0] if proj and len(proj) == 2 else d.embed_dim

    n_conv = _count(state, PREFIX + "local_encoder.conv_layers.{}.0.weight") or len(d.conv_kernels)
    channels, kernels = [], []
    for i in range(n_conv):
        s = shape(PREFIX + f"local_encoder.conv_layers.{i}.0.weight")
        channels.append(s[0] if s and len(s) == 3 else d.conv_channels[-1])
        kernels.append(s[2] if s and len(s) == 3 else STANDARD_CONV_KERNELS[min(i, 6)])
    if tuple(kernels) != STANDARD_CONV_KERNELS:
        raise LsfError(
            f"the checkpoint's conv feature encoder has kernels {tuple(kernels)}; only data2vec's "
            f"standard stack {STANDARD_CONV_KERNELS} (strides {STANDARD_CONV_STRIDES}) is supported"
        )

    n_pos = _count(state, PREFIX + "relative_positional_encoder.{}.0.weight", start=1)
    pos = shape(PREFIX + "relative_positional_encoder.1.0.weight")
    pos_kernel = pos[2] if pos and len(pos) == 3 else d.conv_pos_kernel
    pos_groups = embed // pos[1] if pos and len(pos) == 3 and pos[1] else d.conv_pos_groups

    prenet = _count(state, PREFIX + "context_encoder.blocks.{}.norm1.weight") or d.prenet_depth
    depth = _count(state, "blocks.{}.norm1.weight") or d.depth
    # The MLP width all blocks share: the most common one, so one odd block is the one reported.
    widths = Counter(
        s[0]
        for key in state
        if key.endswith("mlp.fc1.weight") and (s := shape(key)) is not None and len(s) == 2
    )
    mlp_hidden = widths.most_common(1)[0][0] if widths else 4 * embed
    extra = shape(PREFIX + "extra_tokens")
    num_extra = extra[1] if extra and len(extra) == 3 else d.num_extra_tokens

    alibi = shape(PREFIX + "alibi_scale")
    if alibi is not None and len(alibi) == 4:  # older layout without the per-layer axis
        alibi = (1, *alibi)
    heads = None
    if alibi is not None and len(alibi) == 5 and alibi[2] > 1:
        heads = alibi[2]
    if heads is None and isinstance(cfg, Mapping) and isinstance(cfg.get("model"), Mapping):
        value = cfg["model"].get("num_heads")
        heads = value if isinstance(value, int) else None
    heads = heads or max(1, embed // 64)

    return Data2VecAudioConfig(
        embed_dim=embed,
        conv_channels=tuple(channels),
        conv_kernels=STANDARD_CONV_KERNELS,
        conv_strides=STANDARD_CONV_STRIDES,
        conv_pos_depth=n_pos or d.conv_pos_depth,
        conv_pos_kernel=pos_kernel,
        conv_pos_groups=pos_groups,
        prenet_depth=prenet,
        depth=depth,
        num_heads=heads,
        mlp_hidden=mlp_hidden,
        num_extra_tokens=num_extra,
        alibi_scale_shape=alibi,
    )


def build_from_state_dict(
    state: Mapping[str, Any], cfg: Any = None, source: str = "checkpoint"
) -> Data2VecAudioModel:
    """Build the backbone the state dict describes and load it strictly (eval mode).

    Raises:
        LsfError: not a data2vec audio state dict; unsupported variant; missing keys; keys that are
            neither used nor known to be ignorable; or shapes that do not fit (all listed).
    """
    if not any(k.startswith(PREFIX) for k in state):
        raise LsfError(
            f"{source} is not an emotion2vec / data2vec 2.0 audio checkpoint: no "
            f"'{PREFIX}*' weights (its keys start with: {_list_keys(list(state), 6)})"
        )
    unsupported = [
        k
        for k in state
        if k in ("norm.weight", "norm.bias", PREFIX + "alibi_bias")
        or k.startswith(PREFIX + "relative_positional_encoder.0.")
    ]
    if unsupported:
        raise LsfError(
            f"{source} uses a data2vec variant this loader does not support (pre-LN blocks, "
            f"learned ALiBi tables or a pre-LN positional encoder); unexpected required keys: "
            f"{_list_keys(unsupported)}"
        )
    config = infer_config(state, cfg)
    if config.alibi_scale_shape is not None and config.alibi_scale_shape[0] not in (
        1,
        config.prenet_depth + config.depth,
    ):
        raise LsfError(
            f"{source}: alibi_scale has {config.alibi_scale_shape[0]} layer entries, expected 1 or "
            f"{config.prenet_depth + config.depth}"
        )
    from lsf_animation.model.loading import skip_weight_init

    with skip_weight_init():  # every weight is loaded strictly below
        model = Data2VecAudioModel(config)
    expected = model.state_dict()
    used = {k: v for k, v in state.items() if not k.startswith(IGNORED_PREFIXES)}
    if config.alibi_scale_shape is not None and PREFIX + "alibi_scale" in used:
        a = used[PREFIX + "alibi_scale"]
        if isinstance(a, torch.Tensor) and a.dim() == 4:
            used[PREFIX + "alibi_scale"] = a.unsqueeze(0)
    missing = [k for k in expected if k not in used]
    unexpected = [k for k in used if k not in expected]
    mismatched = [
        f"{k} {_describe(used[k])} (expected {tuple(expected[k].shape)})"
        for k in expected
        if k in used
        and (not isinstance(used[k], torch.Tensor) or used[k].shape != expected[k].shape)
    ]
    problems = []
    if missing:
        problems.append(f"missing keys: {_list_keys(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_list_keys(unexpected)}")
    if mismatched:
        problems.append(f"shape mismatches: {_list_keys(mismatched)}")
    if problems:
        raise LsfError(
            f"{source} does not match the emotion2vec / data2vec 2.0 audio layout "
            f"({config.prenet_depth}+{config.depth} blocks, {config.embed_dim}-d): "
            + "; ".join(problems)
            + ". Use an official emotion2vec_base.pt or emotion2vec_plus_* checkpoint"
        )
    # assign: the (memory-mapped) checkpoint tensors become the parameters, no copy
    weights = {k: used[k].float().contiguous() for k in expected}
    model.load_state_dict(weights, strict=True, assign=True)
    model.requires_grad_(False)
    return model.eval()
