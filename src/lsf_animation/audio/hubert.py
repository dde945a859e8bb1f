"""HuBERT, the motion stream of the SIE-Encoder: 768-d last hidden state at 50 Hz.

The model is transformers' `HubertModel` (default `facebook/hubert-base-ls960`), loaded with
`from_pretrained` from a local directory (offline, `local_files_only=True`) or from a hub id (the
user's network or Hugging Face cache). The waveform is normalized per clip to zero mean and unit
variance, as HuBERT's feature extractor does.

The paper freezes the CNN, the feature projection and the first two transformer layers and
fine-tunes the rest. `split_hubert` cuts the model exactly there:

- `HubertFrozenPart`: CNN feature encoder -> feature projection -> positional conv embedding
  (added) -> encoder layer norm (post-LN models such as base, `do_stable_layer_norm=False`, apply
  it before the layers) -> the first `num_frozen` transformer layers. Its `(T50, 768)` output is
  what the feature cache stores ("hubert-frozen").
- `HubertTrainablePart`: the remaining layers (3..12 for base), plus the encoder's final layer
  norm for pre-LN ("stable layer norm") models; composed with the frozen part it equals
  `HubertModel(...).last_hidden_state`.

`frozen_front="projection"` cuts after the feature projection instead, as the authors' release
needs: it fine-tunes the positional conv embedding and the encoder layer norm (which come before
the layers) along with layers 3..12, and freezes only the CNN, the projection and layers 1-2.
The frozen part is then CNN + projection (what can be cached for release-exact training); the
trainable part is positional conv -> layer norm -> all layers, with the first `num_frozen`
layers' weights frozen (`requires_grad=False`) but computed.

Extractors (see `lsf_animation.audio.features`): "hubert" (the full model) and "hubert-frozen"
(the frozen part), both `(num_frames_50hz(N), hidden_size)` float32.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from lsf_animation.audio.features import config_fingerprint, num_frames_50hz, register_extractor
from lsf_animation.errors import LsfError

if TYPE_CHECKING:
    from transformers import HubertConfig, HubertModel

DEFAULT_HUBERT = "facebook/hubert-base-ls960"
"""Hub id of the paper's HuBERT (HuBERT-base pre-trained on LibriSpeech 960 h)."""
NUM_FROZEN_LAYERS = 2
"""Transformer layers frozen in the paper (with the CNN and the feature projection)."""
FROZEN_FRONTS = ("layers", "projection")
"""Where the cacheable front ends: after the first frozen layers, or after the projection."""


def _check_front(front: str) -> None:
    if front not in FROZEN_FRONTS:
        raise LsfError(
            f"HuBERT frozen_front must be one of {', '.join(FROZEN_FRONTS)}, got {front!r}"
        )


def load_hubert(model: str | os.PathLike[str] = DEFAULT_HUBERT) -> HubertModel:
    """Load a `HubertModel` in eval mode from a local directory or a hub id.

    Args:
        model: a directory written by `save_pretrained` (config.json + weights; loaded with
            `local_files_only=True`, never downloads) or a Hugging Face hub id such as
            "facebook/hubert-base-ls960" (uses the local cache, downloads if the network allows).

    Raises:
        LsfError: the directory does not exist or holds no HuBERT model, or the hub id cannot be
            resolved.
    """
    try:
        from transformers import HubertModel
    except ImportError as err:  # pragma: no cover - transformers is a dependency
        raise LsfError("HuBERT needs the 'transformers' package: pip install transformers") from err

    spec = str(model)
    path = Path(spec).expanduser()
    # A hub id is "owner/name"; anything else path-like is a local directory, and so is
    # "folder/name" when the folder exists here (a missing local model, not a hub id).
    is_local = (
        path.exists()
        or spec.startswith((".", "/", "~"))
        or spec.count("/") > 1
        or (path.parent != Path(".") and path.parent.is_dir())
    )
    if is_local:
        if not path.is_dir():
            raise LsfError(
                f"HuBERT model directory {path} does not exist (or is not a directory); give a "
                "directory saved with save_pretrained (config.json + model weights) or a hub id"
            )
        try:
            hubert = HubertModel.from_pretrained(str(path), local_files_only=True)
        except (OSError, ValueError, KeyError) as err:
            raise LsfError(
                f"cannot load a HuBERT model from {path}: {err}; the directory must hold the "
                "config.json and weights written by save_pretrained"
            ) from err
    else:
        try:  # the local Hugging Face cache first: no network lookup (and no retries) if cached
            hubert = HubertModel.from_pretrained(spec, local_files_only=True)
        except (OSError, ValueError):
            try:
                hubert = HubertModel.from_pretrained(spec)
            except (OSError, ValueError) as err:
                raise LsfError(
                    f"cannot load HuBERT {spec!r} from the Hugging Face hub or its local cache: "
                    f"{err}; check the id and the network, or download it once and pass the "
                    "local directory"
                ) from err
    if hubert.config.model_type != "hubert":
        raise LsfError(f"{spec} holds a {hubert.config.model_type!r} model, not HuBERT")
    return hubert.eval()


def normalize_waveform(wav: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Zero mean, unit variance per clip along the last axis: (..., N) -> (..., N)."""
    mean = wav.mean(dim=-1, keepdim=True)
    var = wav.var(dim=-1, keepdim=True, unbiased=False)
    return (wav - mean) / torch.sqrt(var + eps)


def _layer_output(out: torch.Tensor | tuple[torch.Tensor, ...]) -> torch.Tensor:
    # transformers 5 returns the hidden states; 4.x returned a tuple (hidden_states, ...).
    return out[0] if isinstance(out, tuple) else out


class HubertFrozenPart(nn.Module):
    """CNN + feature projection + positional conv + first `num_frozen` layers of a HubertModel
    (`frozen_front="layers"`), or CNN + feature projection only (`"projection"`).

    Shares (does not copy) the modules of `model` and sets `requires_grad=False` on them.
    `forward(input_values (B, N) normalized waveform) -> (B, T50, hidden_size)`.
    """

    def __init__(
        self, model: HubertModel, num_frozen: int = NUM_FROZEN_LAYERS, frozen_front: str = "layers"
    ) -> None:
        super().__init__()
        encoder = model.encoder
        _check_front(frozen_front)
        if not 0 <= num_frozen <= len(encoder.layers):
            raise LsfError(
                f"cannot freeze {num_frozen} HuBERT layers: the model has {len(encoder.layers)}"
            )
        self.stable_layer_norm = bool(model.config.do_stable_layer_norm)
        self.feature_extractor = model.feature_extractor
        self.feature_projection = model.feature_projection
        layers = frozen_front == "layers"
        self.pos_conv_embed = encoder.pos_conv_embed if layers else None
        # Post-LN encoders normalize before the layers; pre-LN ones normalize at the very end.
        self.layer_norm = None if self.stable_layer_norm or not layers else encoder.layer_norm
        self.layers = nn.ModuleList(encoder.layers[:num_frozen] if layers else [])
        for p in self.parameters():
            p.requires_grad_(False)

    def forward(self, input_values: torch.Tensor) -> torch.Tensor:
        h = self.feature_extractor(input_values).transpose(1, 2)
        h = self.feature_projection(h)
        if isinstance(h, tuple):  # transformers 4.x returned (hidden, extract_features)
            h = h[0]
        if self.pos_conv_embed is not None:
            h = h + self.pos_conv_embed(h)
        if self.layer_norm is not None:
            h = self.layer_norm(h)
        for layer in self.layers:
            h = _layer_output(layer(h))
        return h


class HubertTrainablePart(nn.Module):
    """The transformer layers after the frozen ones (plus the final norm of pre-LN models);
    with `frozen_front="projection"`, positional conv -> layer norm -> all layers, the first
    `num_frozen` of them with frozen weights.

    Shares the modules of `model`; `forward(hidden (B, T, hidden_size)) -> (B, T, hidden_size)`,
    equal to `model(...).last_hidden_state` when fed `HubertFrozenPart`'s output.
    """

    def __init__(
        self, model: HubertModel, num_frozen: int = NUM_FROZEN_LAYERS, frozen_front: str = "layers"
    ) -> None:
        super().__init__()
        _check_front(frozen_front)
        encoder = model.encoder
        stable = bool(model.config.do_stable_layer_norm)
        if frozen_front == "projection":
            self.pos_conv_embed: nn.Module | None = encoder.pos_conv_embed
            self.input_layer_norm: nn.Module | None = None if stable else encoder.layer_norm
            self.layers = nn.ModuleList(encoder.layers)
            for layer in encoder.layers[:num_frozen]:
                layer.requires_grad_(False)
        else:
            self.pos_conv_embed = None
            self.input_layer_norm = None
            self.layers = nn.ModuleList(encoder.layers[num_frozen:])
        self.final_layer_norm = encoder.layer_norm if stable else None

    def embed(self, hidden: torch.Tensor) -> torch.Tensor:
        """The positional conv and input norm ("projection" front); identity otherwise."""
        if self.pos_conv_embed is not None:
            hidden = hidden + self.pos_conv_embed(hidden)
        if self.input_layer_norm is not None:
            hidden = self.input_layer_norm(hidden)
        return hidden

    @classmethod
    def from_config(
        cls, config: HubertConfig, num_frozen: int, frozen_front: str = "layers"
    ) -> HubertTrainablePart:
        """The same modules built from the config alone (freshly initialized), without the
        rest of a HubertModel; a checkpoint's state dict then supplies the weights."""
        from transformers.models.hubert.modeling_hubert import (
            HubertEncoderLayer,
            HubertEncoderLayerStableLayerNorm,
            HubertPositionalConvEmbedding,
        )

        _check_front(frozen_front)

        part = cls.__new__(cls)
        nn.Module.__init__(part)
        stable = bool(config.do_stable_layer_norm)
        layer = HubertEncoderLayerStableLayerNorm if stable else HubertEncoderLayer
        projection = frozen_front == "projection"
        count = config.num_hidden_layers - (0 if projection else num_frozen)
        part.layers = nn.ModuleList(layer(config) for _ in range(count))
        part.pos_conv_embed = HubertPositionalConvEmbedding(config) if projection else None
        part.input_layer_norm = (
            nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
            if projection and not stable
            else None
        )
        if projection:
            for frozen in part.layers[:num_frozen]:
                frozen.requires_grad_(False)
        part.final_layer_norm = (
            nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps) if stable else None
        )
        return part

    def forward(
        self, hidden: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """`attention_mask`: (B, 1, 1, T) additive bias (0 keep, large negative masked) or None."""
        hidden = self.embed(hidden)
        for layer in self.layers:
            hidden = _layer_output(layer(hidden, attention_mask=attention_mask))
        if self.final_layer_norm is not None:
            hidden = self.final_layer_norm(hidden)
        return hidden


def split_hubert(
    model: HubertModel, num_frozen: int = NUM_FROZEN_LAYERS, frozen_front: str = "layers"
) -> tuple[HubertFrozenPart, HubertTrainablePart]:
    """Split `model` into its frozen front and trainable rest (sharing its modules)."""
    return (
        HubertFrozenPart(model, num_frozen, frozen_front),
        HubertTrainablePart(model, num_frozen, frozen_front),
    )


def state_dict_digest(module: nn.Module) -> bytes:
    """SHA-256 of a module's state dict: every tensor's name, dtype, shape and bytes, by name."""
    h = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}\n".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy())  # the buffer itself, no copy
    return h.digest()


class HubertExtractor:
    """HuBERT features as a `FeatureExtractor`: (N,) 16 kHz -> (num_frames_50hz(N), hidden) float32.

    Args:
        model: hub id or local directory (see `load_hubert`), or an already loaded HubertModel.
        frozen_only: False -> "hubert", the last hidden state of the full model; True ->
            "hubert-frozen", the output of the frozen part (input of `HubertTrainablePart`).
        num_frozen: transformer layers frozen (2 in the paper).
        frozen_front: "layers" (the frozen part ends after the `num_frozen` layers) or
            "projection" (it ends after the feature projection, as the release needs).
    """

    rate_hz = 50.0

    def __init__(
        self,
        model: str | os.PathLike[str] | HubertModel = DEFAULT_HUBERT,
        frozen_only: bool = False,
        num_frozen: int = NUM_FROZEN_LAYERS,
        frozen_front: str = "layers",
    ) -> None:
        _check_front(frozen_front)
        self.model = model.eval() if isinstance(model, nn.Module) else load_hubert(model)
        self.frozen_only = frozen_only
        self.num_frozen = num_frozen
        self.frozen_front = frozen_front
        self.name = "hubert-frozen" if frozen_only else "hubert"
        self.dim = int(self.model.config.hidden_size)
        self.frozen, self.trainable = split_hubert(self.model, num_frozen, frozen_front)
        self._fingerprint: str | None = None

    def fingerprint(self) -> str:
        """Hash of the HuBERT config, the cut point and the weights the output depends on."""
        if self._fingerprint is None:
            config = self.model.config.to_diff_dict()
            for volatile in ("transformers_version", "_name_or_path", "torch_dtype", "dtype"):
                config.pop(volatile, None)
            meta = {
                "extractor": self.name,
                "num_frozen": self.num_frozen if self.frozen_only else None,
                "normalize": "zero-mean-unit-variance",
                "config": config,
            }
            if self.frozen_only and self.frozen_front != "layers":  # default: keep old caches
                meta["frozen_front"] = self.frozen_front
            weights = state_dict_digest(self.frozen if self.frozen_only else self.model)
            self._fingerprint = config_fingerprint(meta, weights)
        return self._fingerprint

    def __call__(self, wav: np.ndarray) -> np.ndarray:
        wav = np.asarray(wav, dtype=np.float32).reshape(-1)
        frames = num_frames_50hz(len(wav))
        if frames == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        x = normalize_waveform(torch.from_numpy(wav)[None])
        with torch.inference_mode():
            out = self.frozen(x) if self.frozen_only else self.model(x).last_hidden_state
        feats = out[0].float().numpy()
        if feats.shape[0] != frames:  # a non-standard conv stack: refuse rather than misalign
            raise LsfError(
                f"HuBERT returned {feats.shape[0]} frames for {len(wav)} samples, expected "
                f"{frames}; only models with the standard 20 ms / 25 ms conv stack are supported"
            )
        return np.ascontiguousarray(feats, dtype=np.float32)


def _hubert_factory(**options: Any) -> HubertExtractor:
    return HubertExtractor(frozen_only=False, **options)


def _hubert_frozen_factory(**options: Any) -> HubertExtractor:
    return HubertExtractor(frozen_only=True, **options)


register_extractor("hubert", _hubert_factory)
register_extractor("hubert-frozen", _hubert_frozen_factory)
