"""Reading emotion2vec / data2vec 2.0 audio checkpoints into `data2vec.Data2VecAudioModel`.

Accepts the official fairseq checkpoints and FunASR's; the architecture is inferred from the state
dict's key names and shapes, then loaded strictly. Reading never runs code from the file: the
restricted unpickler of `lsf_animation.io.safe_pickle` turns the pickled training config's
fairseq/omegaconf classes into inert placeholders.

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

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from lsf_animation.audio.data2vec import (
    STANDARD_CONV_KERNELS,
    STANDARD_CONV_STRIDES,
    Data2VecAudioConfig,
    Data2VecAudioModel,
)
from lsf_animation.errors import LsfError, short_list
from lsf_animation.io.safe_pickle import torch_load_mapped, torch_pickle_module

PREFIX = "modality_encoders.AUDIO."
IGNORED_PREFIXES = (
    PREFIX + "decoder.",
    "_ema",
    "ema.",
    "shared_decoder.",
    "recon_proj.",
    "proj.",
)


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
        obj = torch_load_mapped(p, weights_only=True)
    except Exception as strict_err:  # any failure: retry tolerant, report both
        try:
            obj = torch_load_mapped(p, weights_only=False, pickle_module=torch_pickle_module())
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


def _describe(value: object) -> str:
    return str(tuple(value.shape)) if isinstance(value, torch.Tensor) else type(value).__name__


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
            f"'{PREFIX}*' weights (its keys start with: {short_list(state, 6)})"
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
            f"{short_list(unsupported)}"
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
    with torch.device("meta"):  # no random init: every weight is assigned strictly below
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
        problems.append(f"missing keys: {short_list(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {short_list(unexpected)}")
    if mismatched:
        problems.append(f"shape mismatches: {short_list(mismatched)}")
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
