"""emotion2vec, the emotion stream of the SIE-Encoder: frozen, frame-level 768-d at 50 Hz.

Loads the official `emotion2vec_base.pt` (fairseq checkpoint: {"cfg": ..., "model": state dict})
or an `emotion2vec_plus_*` / `emotion2vec_base_finetuned` FunASR `model.pt` (same backbone layout,
plus an utterance classifier "proj.*" that frame features do not use) from a local path into the
pure-PyTorch backbone of `lsf_animation.audio.data2vec`; no fairseq, funasr or modelscope.
Nothing is downloaded: the user supplies the file.

Input normalization, as emotion2vec's feature extraction does (`task.normalize`): the whole clip
is layer-normalized (`F.layer_norm(wav, wav.shape)`: zero mean, unit variance, eps 1e-5). Output:
the last block's hidden states with the 10 extra tokens removed, `(num_frames_50hz(N), 768)`.
Which checkpoint keys are used and which are ignored is listed in
`lsf_animation.audio.data2vec_checkpoint`.

Extractor "emotion2vec" (see `lsf_animation.audio.features`): `get_extractor("emotion2vec",
checkpoint=PATH)`; the path can also come from the `LSF_EMOTION2VEC` environment variable.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from lsf_animation.audio.data2vec import Data2VecAudioModel
from lsf_animation.audio.data2vec_checkpoint import build_from_state_dict, read_checkpoint
from lsf_animation.audio.features import config_fingerprint, num_frames_50hz, register_extractor
from lsf_animation.audio.hubert import state_dict_digest
from lsf_animation.errors import LsfError

ENV_CHECKPOINT = "LSF_EMOTION2VEC"
"""Environment variable naming the emotion2vec checkpoint when no path is given."""


def load_emotion2vec(path: str | os.PathLike[str]) -> Data2VecAudioModel:
    """Load an emotion2vec checkpoint into the data2vec backbone (eval mode, frozen).

    Raises:
        LsfError: the file is missing or not a checkpoint, or its keys or shapes do not match the
            emotion2vec layout (the message lists the offending keys).
    """
    state, cfg = read_checkpoint(Path(path))
    return build_from_state_dict(state, cfg, source=f"emotion2vec checkpoint {path}")


def layer_normalize(wav: torch.Tensor) -> torch.Tensor:
    """Layer norm over the whole clip (no affine, eps 1e-5): (N,) -> (N,)."""
    return F.layer_norm(wav, wav.shape)


class Emotion2vecExtractor:
    """emotion2vec frame features as a `FeatureExtractor`.

    `(N,) float32 16 kHz -> (num_frames_50hz(N), embed_dim) float32` (768 for emotion2vec_base).

    Args:
        checkpoint: path to emotion2vec_base.pt / an emotion2vec_plus model.pt; defaults to the
            `LSF_EMOTION2VEC` environment variable. An already built backbone is also accepted.
    """

    name = "emotion2vec"
    rate_hz = 50.0

    def __init__(self, checkpoint: str | os.PathLike[str] | Data2VecAudioModel | None = None):
        if checkpoint is None:
            checkpoint = os.environ.get(ENV_CHECKPOINT)
            if not checkpoint:
                raise LsfError(
                    "the emotion2vec feature needs its checkpoint: pass checkpoint=PATH (or set "
                    f"{ENV_CHECKPOINT}) to emotion2vec_base.pt from the emotion2vec release"
                )
        if isinstance(checkpoint, Data2VecAudioModel):
            self.model = checkpoint.eval()
            self.source = "<in-memory model>"
        else:
            self.source = str(Path(checkpoint).expanduser())
            self.model = load_emotion2vec(self.source)
        self.dim = self.model.cfg.embed_dim
        self._fingerprint: str | None = None

    def fingerprint(self) -> str:
        """Hash of the inferred architecture, the input normalization and all used weights."""
        if self._fingerprint is None:
            meta = {
                "extractor": self.name,
                "normalize": "layer_norm(whole clip)",
                "config": self.model.cfg.to_dict(),
            }
            self._fingerprint = config_fingerprint(meta, state_dict_digest(self.model))
        return self._fingerprint

    def __call__(self, wav: np.ndarray) -> np.ndarray:
        wav = np.asarray(wav, dtype=np.float32).reshape(-1)
        frames = num_frames_50hz(len(wav))
        if frames == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        with torch.inference_mode():
            x = layer_normalize(torch.from_numpy(wav))[None]
            feats = self.model(x)[0].float().numpy()
        if feats.shape[0] != frames:  # the conv stack is checked at load; this guards misuse
            raise LsfError(f"emotion2vec returned {feats.shape[0]} frames, expected {frames}")
        return np.ascontiguousarray(feats, dtype=np.float32)


def _emotion2vec_factory(**options: Any) -> Emotion2vecExtractor:
    return Emotion2vecExtractor(**options)


register_extractor("emotion2vec", _emotion2vec_factory)
