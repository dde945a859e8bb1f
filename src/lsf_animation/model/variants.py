"""The ablation variants of the paper's Table 2: how each builds its style and fuses its streams.

Every variant turns the 50 Hz features into 25 fps frames the same way (pair adjacent frames,
Linear(2D -> d), optional element-wise style, Conv1d block, the shared linear embedding, PE,
dropout), runs L layers of trunk, and its final motion stream is the prior's latent (no output
head). All use the release's blocks (`lsf_animation.model.blocks`: fused-qkv attention scaled
by 1/sqrt(d), tanh-GELU FFN, no dropout inside). They differ in the style vector s (B, d) that
multiplies the projected stream(s) and in the trunk:

| `sie.variant`          | Table 2 row       | style input (-> s)          | trunk             |
|------------------------|-------------------|-----------------------------|-------------------|
| no_style               | w/o style one-hot | none (s = 1)                | M: L blocks       |
| no_identity            | w/o iden          | emotion 8 + intensity 3     | M: L blocks       |
| emotion_one_hot_shape  | Emo one-hot+shape | emotion, intensity, shape   | M: L blocks       |
| one_hot                | Baseline (gt)     | identity 32 + emo + int     | M: L blocks       |
| emotion_style          | + Emotion Feature | identity one-hot + mean e   | M: L blocks       |
| emotion_identity_style | + Emo + Iden Feat | z_id + mean e               | M: L blocks       |
| gate                   | Gate fusion       | z_id (both streams)         | M, E: L, gate     |
| cross_attention        | Cross-attention   | z_id (both streams)         | M, E: L, x-attn   |
| hifb                   | LSF-Animation     | z_id (both streams)         | HIFB, L layers    |

One-hots are concatenated; s = Linear(style input -> d, no bias). M = motion (HuBERT) stream
only; M, E = motion and emotion streams. "mean e" is the emotion feature averaged over the
clip's valid frames; shape is the raw 300 coefficients.

Decisions where the paper is silent (it describes the rows in one sentence each):
- One-hot and style-vector rows follow ProbTalk3D's predictor (the "Baseline" row is ProbTalk3D,
  and `one_hot` is its released stage 2 parameter for parameter): s = Linear(k -> d, no
  bias)(style input), multiplied into the single HuBERT stream, then L pre-LN Transformer
  blocks. "w/o iden" keeps the emotion and intensity labels, drops identity.
- "Emotion feature" in a style vector is sequence-level (the paper calls it so): the mean of the
  emotion features over the clip's valid 50 Hz frames, concatenated with the identity part.
- Gate fusion (late, after FC-4DFS): g = sigmoid(W [m ; e] + b), out = g * m + (1 - g) * e.
- Cross-attention fusion (late, after FaceFormer): one pre-LN block whose queries are the motion
  stream and keys/values the (separately normalized) emotion stream, then an FFN, each with a
  residual; its attention is built like the stream blocks' (no q/kv bias, 1/sqrt(d) scale).
- z_id is the identity MLP's softmax output on the 300 shape coefficients; labels are
  {"identity", "emotion", "intensity"} -> (B,) int64 class indices.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lsf_animation.errors import LsfError
from lsf_animation.model.blocks import TransformerBlock, TransformerStack
from lsf_animation.model.config import SIEConfig

#: Which inputs each variant reads.
LABELS_USED: dict[str, tuple[str, ...]] = {
    "no_style": (),
    "no_identity": ("emotion", "intensity"),
    "emotion_one_hot_shape": ("emotion", "intensity"),
    "one_hot": ("identity", "emotion", "intensity"),
    "emotion_style": ("identity",),
    "emotion_identity_style": (),
    "gate": (),
    "cross_attention": (),
    "hifb": (),
}
USES_EMOTION_FEATURES = {
    "emotion_style",
    "emotion_identity_style",
    "gate",
    "cross_attention",
    "hifb",
}
TWO_STREAM = {"gate", "cross_attention", "hifb"}
USES_IDENTITY_MLP = {"emotion_identity_style", "gate", "cross_attention", "hifb"}


def label_sizes(cfg: SIEConfig) -> dict[str, int]:
    return {
        "identity": cfg.num_identities,
        "emotion": cfg.num_emotions,
        "intensity": cfg.num_intensities,
    }


def one_hot_labels(
    labels: dict[str, torch.Tensor] | None, names: tuple[str, ...], cfg: SIEConfig, batch: int
) -> torch.Tensor:
    """Concatenated one-hots (B, sum of sizes) of the named labels; LsfError if one is missing."""
    sizes = label_sizes(cfg)
    parts = []
    for name in names:
        if labels is None or name not in labels:
            raise LsfError(
                f"model variant {cfg.variant!r} needs the {name!r} label "
                f"(labels={{'{name}': LongTensor (B,)}}); only the label-free variants "
                "(emotion_identity_style, gate, cross_attention, hifb) run without labels."
            )
        value = torch.as_tensor(labels[name]).long().reshape(-1)
        if value.shape[0] != batch:
            raise LsfError(f"label {name!r} has {value.shape[0]} entries for a batch of {batch}.")
        if bool(((value < 0) | (value >= sizes[name])).any()):
            raise LsfError(f"label {name!r} must be in 0..{sizes[name] - 1}, got {value.tolist()}.")
        parts.append(F.one_hot(value, sizes[name]).float())
    return torch.cat(parts, dim=-1)


def style_input_dim(cfg: SIEConfig) -> int:
    """Width of the style Linear's input for the variant (0 = no style)."""
    sizes = label_sizes(cfg)
    v = cfg.variant
    labels = sum(sizes[n] for n in LABELS_USED[v])
    if v == "no_style":
        return 0
    if v == "emotion_one_hot_shape":
        return labels + cfg.shape_dim
    if v == "emotion_style":
        return labels + cfg.emotion_dim
    if v == "emotion_identity_style":
        return cfg.identity_dim + cfg.emotion_dim
    if v in TWO_STREAM:
        return cfg.identity_dim
    return labels


class GateFusion(nn.Module):
    """Late gate fusion: m, e (B, T, d) -> g * m + (1 - g) * e, g = sigmoid(Linear([m ; e]))."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gate = nn.Linear(2 * dim, dim)

    def forward(self, motion: torch.Tensor, emotion: torch.Tensor) -> torch.Tensor:
        g = torch.sigmoid(self.gate(torch.cat((motion, emotion), dim=-1)))
        return g * motion + (1.0 - g) * emotion


class SingleStreamTrunk(nn.Module):
    """L pre-LN blocks on the motion stream (ProbTalk3D's predictor). (B, T, d) -> (B, T, d)."""

    def __init__(self, cfg: SIEConfig) -> None:
        super().__init__()
        self.blocks = TransformerStack(cfg.d_model, cfg.num_layers, cfg.num_heads, cfg.ffn_dim)

    def forward(
        self, motion: torch.Tensor, emotion: torch.Tensor | None, mask: torch.Tensor | None
    ) -> torch.Tensor:
        return self.blocks(motion, mask)


class LateFusionTrunk(nn.Module):
    """Each stream through its own L blocks, then gate or cross-attention fusion."""

    def __init__(self, cfg: SIEConfig, kind: str) -> None:
        super().__init__()
        d = cfg.d_model
        self.kind = kind
        self.motion_blocks = TransformerStack(d, cfg.num_layers, cfg.num_heads, cfg.ffn_dim)
        self.emotion_blocks = TransformerStack(d, cfg.num_layers, cfg.num_heads, cfg.ffn_dim)
        if kind == "gate":
            self.fusion: nn.Module = GateFusion(d)
        else:
            self.fusion = TransformerBlock(d, cfg.num_heads, cfg.ffn_dim, context_dim=d)

    def forward(
        self, motion: torch.Tensor, emotion: torch.Tensor | None, mask: torch.Tensor | None
    ) -> torch.Tensor:
        assert emotion is not None
        m = self.motion_blocks(motion, mask)
        e = self.emotion_blocks(emotion, mask)
        if self.kind == "gate":
            return self.fusion(m, e)
        return self.fusion(m, mask, context=e)
