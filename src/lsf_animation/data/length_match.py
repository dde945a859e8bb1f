"""How a clip's 50 Hz features and 25 fps motion are brought to exactly 2:1 lengths.

Both come from the same audio, but the reconstruction and the audio rarely agree to the frame.

- "trim" (default): cut to T = min(motion frames, feature frames // 2) motion frames and 2T
  feature frames (`lsf_animation.data.dataset`).
- "interpolate": what the authors' release does at training time (its `resample_input`):
  an odd feature count is resampled to one frame less; features longer than twice the motion
  are resampled to exactly twice the motion; when they are shorter, the motion is resampled to
  half the features. Resampling is linear with the end frames kept (align_corners), per
  channel, so nothing is cut off, at the cost of a slight time warp.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F

from lsf_animation.errors import LsfError

LENGTH_MATCH = ("trim", "interpolate")


def resample_frames(x: np.ndarray, length: int) -> np.ndarray:
    """Linear resampling along axis 0, first and last frames kept: (T, C) -> (length, C)."""
    if x.shape[0] == length:
        return x
    if x.shape[0] < 2:
        raise LsfError(f"cannot resample {x.shape[0]} frame(s) to {length}")
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).T[None]  # (1, C, T)
    out = F.interpolate(t, size=length, mode="linear", align_corners=True)
    return out[0].T.numpy()


def interpolate_to_pairs(
    features: Mapping[str, np.ndarray], motion: np.ndarray
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The release's length matching: features (T50_s, D_s) per stream, motion (T, C) ->
    features (2T', D_s) and motion (T', C).

    Streams of different lengths are first cut to the shortest (the release's two streams
    have equal lengths).
    """
    if not features:
        return {}, motion
    t50 = min(f.shape[0] for f in features.values())
    if t50 < 2 or motion.shape[0] < 1:
        raise LsfError(
            f"too short to match lengths: {t50} feature frames and {motion.shape[0]} motion frames"
        )
    feats = {name: f[:t50] for name, f in features.items()}
    if t50 % 2:
        t50 -= 1
        feats = {name: resample_frames(f, t50) for name, f in feats.items()}
    target = 2 * motion.shape[0]
    if t50 > target:
        feats = {name: resample_frames(f, target) for name, f in feats.items()}
    elif t50 < target:
        motion = resample_frames(motion, t50 // 2)
    return feats, motion
