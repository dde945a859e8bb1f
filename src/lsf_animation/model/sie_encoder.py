"""Stage 2: the SIE-Encoder, speech features + neutral face -> the prior's latent.

The authors' released predictor (docs/release_architecture.md):

    motion features (B, T50, Dm) ─ pair ─ Linear(2Dm->d) ⊙ s ─ Conv block ─ emb ─ PE ─┐
    emotion features (B, T50, De) ─ pair ─ Linear(2De->d) ⊙ s ─ Conv block ─ emb ─ PE ─┤ trunk
    shape (B, 300) ─ MLP 300->256->128->K softmax = z_id ─ Linear(K->d, no bias) = s ──┘
    trunk (HIFB by default) -> final motion stream (B, T, d) = the prior's latent (no head)

"emb" is one Linear(d, d) shared by both streams and "PE" one sinusoidal encoding (with
dropout while training), as in the release; the two Conv blocks are separate.

50 Hz -> 25 fps: frame t is [f_2t ; f_2t+1]; an odd trailing feature frame is dropped, and the
output is trimmed to the requested number of frames (at most T50 // 2). Which style and trunk
are used depends on `cfg.variant` (see variants.py).
"""

from __future__ import annotations

import torch
from torch import nn

from lsf_animation.errors import LsfError
from lsf_animation.model.blocks import ConvBlock, lengths_to_mask, mask_lengths
from lsf_animation.model.config import SIEConfig
from lsf_animation.model.hifb import HIFB
from lsf_animation.model.positional import PositionalEncoding
from lsf_animation.model.variants import (
    LABELS_USED,
    TWO_STREAM,
    USES_EMOTION_FEATURES,
    USES_IDENTITY_MLP,
    LateFusionTrunk,
    SingleStreamTrunk,
    one_hot_labels,
    style_input_dim,
)


def pair_frames(features: torch.Tensor, num_frames: int) -> torch.Tensor:
    """Join adjacent 50 Hz frames: (B, T50, D) -> (B, num_frames, 2D), num_frames <= T50 // 2."""
    b, t50, d = features.shape
    if 2 * num_frames > t50:
        raise LsfError(f"need {2 * num_frames} feature frames for {num_frames} frames, have {t50}.")
    return features[:, : 2 * num_frames].reshape(b, num_frames, 2 * d)


def output_lengths(
    lengths_50hz: torch.Tensor, num_frames: int | torch.Tensor | None
) -> torch.Tensor:
    """Output frames per clip: min(requested, valid 50 Hz frames // 2). (B,) int64."""
    available = lengths_50hz // 2
    if num_frames is None:
        return available
    requested = torch.as_tensor(num_frames, device=available.device).long().reshape(-1)
    return torch.minimum(available, requested.expand_as(available))


class IdentityEncoder(nn.Module):
    """F_id: (B, 300) shape -> (B, 32) z_id; Linear+ReLU per hidden layer, softmax at the end."""

    def __init__(self, in_dim: int, hidden: tuple[int, ...], out_dim: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        prev = in_dim
        for h in hidden:
            layers += [nn.Linear(prev, h), nn.ReLU()]
            prev = h
        layers.append(nn.Linear(prev, out_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, shape: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(shape), dim=-1)


class StreamInput(nn.Module):
    """Paired features (B, T, 2D) [⊙ style (B, d)] -> (B, T, d): Linear, then the Conv block.

    The embedding and positional encoding that follow are shared by the streams (`SIEEncoder`).
    """

    def __init__(self, in_dim: int, cfg: SIEConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.project = nn.Linear(in_dim, d)
        self.conv = ConvBlock(d, d, cfg.conv_kernel)

    def forward(
        self, x: torch.Tensor, style: torch.Tensor | None, mask: torch.Tensor | None
    ) -> torch.Tensor:
        x = self.project(x)
        if style is not None:
            x = x * style.unsqueeze(1)
        return self.conv(x, mask)


class SIEEncoder(nn.Module):
    """Features + shape (+ labels for the label variants) -> predicted prior latent (B, T, d).

    Args:
        cfg: the stage-2 config.
        latent_dim: the prior's latent width; must equal `cfg.d_model` and defaults to it.
    """

    def __init__(self, cfg: SIEConfig, latent_dim: int | None = None) -> None:
        super().__init__()
        cfg.validate()
        if latent_dim is not None and latent_dim != cfg.d_model:
            raise LsfError(
                f"the SIE-Encoder outputs d_model = {cfg.d_model} values per frame, but the "
                f"prior's latent has {latent_dim}; set sie.d_model = vqvae.hidden_dim"
            )
        self.cfg = cfg
        v = cfg.variant
        self.identity = (
            IdentityEncoder(cfg.shape_dim, cfg.identity_hidden, cfg.identity_dim)
            if v in USES_IDENTITY_MLP
            else None
        )
        k = style_input_dim(cfg)
        self.style = nn.Linear(k, cfg.d_model, bias=False) if k else None
        self.motion_input = StreamInput(2 * cfg.motion_dim, cfg)
        self.emotion_input = StreamInput(2 * cfg.emotion_dim, cfg) if v in TWO_STREAM else None
        self.embedding = nn.Linear(cfg.d_model, cfg.d_model)
        self.position = PositionalEncoding(cfg.d_model, cfg.dropout)
        if v == "hifb":
            self.trunk: nn.Module = HIFB(cfg)
        elif v in ("gate", "cross_attention"):
            self.trunk = LateFusionTrunk(cfg, v)
        else:
            self.trunk = SingleStreamTrunk(cfg)
        self.output_head = (
            nn.Sequential(nn.LayerNorm(cfg.d_model), nn.Linear(cfg.d_model, cfg.d_model))
            if cfg.output_head
            else None
        )

    @property
    def uses_emotion_features(self) -> bool:
        return self.cfg.variant in USES_EMOTION_FEATURES

    def _check(self, name: str, x: torch.Tensor, dim: int) -> None:
        if x.dim() != 3 or x.shape[-1] != dim:
            raise LsfError(
                f"{name} must be (B, T50, {dim}) as set by the model config, got "
                f"{tuple(x.shape)}; check the feature extractor matches the checkpoint."
            )

    def _style(
        self,
        shape: torch.Tensor | None,
        emotion_paired: torch.Tensor | None,
        mask: torch.Tensor | None,
        labels: dict[str, torch.Tensor] | None,
        batch: int,
    ) -> torch.Tensor | None:
        if self.style is None:
            return None
        cfg, v = self.cfg, self.cfg.variant
        parts: list[torch.Tensor] = []
        if LABELS_USED[v]:
            parts.append(one_hot_labels(labels, LABELS_USED[v], cfg, batch))
        if self.identity is not None:
            if shape is None:
                raise LsfError(f"model variant {v!r} needs the neutral shape (B, {cfg.shape_dim}).")
            parts.append(self.identity(shape))
        if v == "emotion_one_hot_shape":
            if shape is None:
                raise LsfError(f"model variant {v!r} needs the neutral shape (B, {cfg.shape_dim}).")
            parts.append(shape)
        if v in ("emotion_style", "emotion_identity_style"):
            assert emotion_paired is not None
            parts.append(_clip_mean(emotion_paired, mask, cfg.emotion_dim))
        ref = emotion_paired if emotion_paired is not None else shape
        dtype = ref.dtype if ref is not None else torch.float32
        return self.style(torch.cat([p.to(dtype) for p in parts], dim=-1))

    def forward(
        self,
        motion_features: torch.Tensor,
        emotion_features: torch.Tensor | None,
        shape: torch.Tensor | None,
        mask: torch.Tensor | None = None,
        labels: dict[str, torch.Tensor] | None = None,
        num_frames: int | torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Predict the prior latent.

        Args:
            motion_features: (B, T50, motion_dim) at 50 Hz.
            emotion_features: (B, T50, emotion_dim) at 50 Hz (None for single-stream variants
                that do not read it). Both streams are cut to the shorter one.
            shape: (B, shape_dim) neutral FLAME shape (None where the variant does not use it).
            mask: (B, T50) bool valid feature frames, or None.
            labels: {"identity"|"emotion"|"intensity": (B,) int64} for the label variants.
            num_frames: int or (B,) requested output frames (e.g. the motion length); None =
                T50 // 2.

        Returns:
            latent (B, T, d_model) and the 25 fps mask (B, T) (None when every clip has T).
        """
        cfg = self.cfg
        self._check("motion_features", motion_features, cfg.motion_dim)
        b, t50 = motion_features.shape[:2]
        if self.uses_emotion_features:
            if emotion_features is None:
                raise LsfError(f"model variant {cfg.variant!r} needs emotion features.")
            self._check("emotion_features", emotion_features, cfg.emotion_dim)
            if emotion_features.shape[0] != b:
                raise LsfError("motion_features and emotion_features have different batch sizes.")
            t50 = min(t50, emotion_features.shape[1])
        if shape is not None and tuple(shape.shape) != (b, cfg.shape_dim):
            raise LsfError(f"shape must be (B, {cfg.shape_dim}), got {tuple(shape.shape)}.")
        if mask is not None:
            if tuple(mask.shape) != (b, motion_features.shape[1]):
                raise LsfError(
                    f"mask must be (B, T50) = {(b, motion_features.shape[1])} like "
                    f"motion_features, got {tuple(mask.shape)}."
                )
            lengths50 = torch.clamp(mask_lengths(mask), max=t50)
        else:
            lengths50 = torch.full((b,), t50, dtype=torch.long, device=motion_features.device)
        lengths = output_lengths(lengths50, num_frames)
        t = int(lengths.max())
        if t < 1 or bool((lengths < 1).any()):
            raise LsfError(
                "a clip is too short: at least 2 feature frames (one 25 fps frame, ~60 ms of "
                "audio) are needed."
            )
        mask25 = None if bool((lengths == t).all()) else lengths_to_mask(lengths, t)

        motion = pair_frames(motion_features, t)
        emotion = None
        if self.uses_emotion_features:
            if emotion_features is None:
                raise LsfError(f"variant {self.cfg.variant} reads the emotion stream: give it")
            emotion = pair_frames(emotion_features, t)
        style = self._style(shape, emotion, mask25, labels, b)
        m = self.position(self.embedding(self.motion_input(motion, style, mask25)))
        e = None
        if self.emotion_input is not None:
            assert emotion is not None
            e = self.position(self.embedding(self.emotion_input(emotion, style, mask25)))
        latent = self.trunk(m, e, mask25)
        if self.output_head is not None:
            latent = self.output_head(latent)
        return latent, mask25


def _clip_mean(paired: torch.Tensor, mask: torch.Tensor | None, dim: int) -> torch.Tensor:
    """Mean over a clip's valid 50 Hz frames from paired features (B, T, 2*dim) -> (B, dim)."""
    b, t, _ = paired.shape
    frames = paired.reshape(b, t, 2, dim).mean(2)
    if mask is None:
        return frames.mean(1)
    w = mask.to(frames.dtype).unsqueeze(-1)
    return (frames * w).sum(1) / w.sum(1)
