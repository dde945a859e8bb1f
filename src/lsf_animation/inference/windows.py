"""Windowed inference: speech of any length -> motion, with bounded memory and no seams.

Frame count: an utterance of N samples at 16 kHz gives T = round(N / 640) frames at 25 fps
(round(duration x 25)). The model makes one 25 fps frame from two 50 Hz feature frames, and the
50 Hz grid (a 400-sample window every 320 samples) yields one frame too few at the end, so each
window's audio slice is zero-padded at the end to the 640 T + 80 samples that 2 T feature frames
need (at most 65 ms of silence, which moves the per-utterance statistics negligibly).

Long audio is cut into the fewest windows of at most `window_frames` frames that overlap by at
least `overlap_frames`, all of one length and evenly spaced (60 s in 20 s windows with 2 s
overlap: 4 windows of 16.5 s, 66 s of audio through the encoders, where full-length windows with
the last one moved back to the end would run 80 s).
Each window's features are computed on that window's own audio slice, not sliced from features
of the whole file: the offline extractors normalize per utterance (zero mean, unit variance over
the input), and the model was trained on utterance-length clips, so per-window normalization
matches training while whole-file statistics (a 10-minute file with long pauses) would not; it
also bounds memory for the pretrained encoders, whose attention is quadratic in the input.
Overlapping windows are blended with a linear cross-fade of the motion in FLAME units.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from lsf_animation.constants import MAX_SEED, SAMPLES_PER_FRAME
from lsf_animation.errors import LsfError

_TAIL_SAMPLES = 80  # 2 T 50 Hz frames need 320 (2T - 1) + 400 = 640 T + 80 samples


def num_output_frames(num_samples: int) -> int:
    """Frames at 25 fps for `num_samples` samples at 16 kHz: round(duration x 25), at least 1."""
    return max(1, int(np.floor(num_samples / SAMPLES_PER_FRAME + 0.5)))


def window_plan(total: int, window: int, overlap: int) -> tuple[list[int], int]:
    """Windows covering `total` frames: (first frame of each window, frames per window).

    The fewest windows of at most `window` frames whose neighbours share at least `overlap`
    frames; all have the same length (as short as that allows) and their starts are spread as
    evenly as integers allow, so no audio is processed more often than needed. One window of
    `total` frames when total <= window.
    """
    if total <= window:
        return [0], total
    count = -(-(total - overlap) // (window - overlap))  # ceil
    # shortest length with count * length - (count - 1) * overlap >= total
    length = -(-(total + (count - 1) * overlap) // count)
    span = total - length  # split into count - 1 hops of at most length - overlap each
    return [i * span // (count - 1) for i in range(count)], length


def window_starts(total: int, window: int, overlap: int) -> list[int]:
    """First frame of each window of `window_plan` (one window when total <= window)."""
    return window_plan(total, window, overlap)[0]


def window_audio(wav: np.ndarray, start: int, frames: int) -> np.ndarray:
    """The audio slice for frames [start, start + frames), zero-padded to 640 frames + 80."""
    lo = start * SAMPLES_PER_FRAME
    need = frames * SAMPLES_PER_FRAME + _TAIL_SAMPLES
    piece = np.asarray(wav[lo : lo + need], dtype=np.float32)
    if len(piece) < need:
        piece = np.pad(piece, (0, need - len(piece)))
    return piece


def windowed_motion(
    wav: np.ndarray,
    predict: Callable[[np.ndarray, int, int], np.ndarray],
    window_frames: int = 500,
    overlap_frames: int = 50,
    progress: bool = False,
) -> np.ndarray:
    """Motion of the whole utterance from per-window predictions, cross-faded.

    Args:
        wav: (N,) float32 16 kHz waveform.
        predict: `predict(audio_slice, frames, start) -> (K, frames, D)` motion in FLAME units
            of the window of `frames` frames from frame `start`.
        window_frames: at most this many frames per window (500 = 20 s).
        overlap_frames: at least this many frames shared by consecutive windows (50 = 2 s),
            < window_frames.
        progress: show a progress bar of the frames done (stderr).

    Returns:
        (K, round(N / 640), D) float32.
    """
    if not 0 <= overlap_frames < window_frames:
        raise ValueError("need 0 <= overlap_frames < window_frames")
    total = num_output_frames(len(wav))
    starts, frames = window_plan(total, window_frames, overlap_frames)
    out: np.ndarray | None = None
    end_prev = 0
    from tqdm import tqdm  # imported when used, as the other progress bars

    with tqdm(total=total, unit="frame", desc="animate", disable=not progress) as bar:
        for start in starts:
            motion = predict(window_audio(wav, start, frames), frames, start)
            if out is None:
                out = np.zeros((motion.shape[0], total, motion.shape[2]), np.float32)
            shared = max(0, end_prev - start)  # frames this window shares with the previous
            if shared:
                # weight of the new window rises linearly from 1/(shared+1) to shared/(shared+1)
                w = (np.arange(1, shared + 1, dtype=np.float32) / (shared + 1))[None, :, None]
                region = slice(start, start + shared)
                out[:, region] = (1 - w) * out[:, region] + w * motion[:, :shared]
            out[:, start + shared : start + frames] = motion[:, shared:frames]
            bar.update(start + frames - max(end_prev, start))
            end_prev = start + frames
    assert out is not None
    return out


def seeded_generator(seed: int | None) -> torch.Generator:
    """A CPU generator seeded with `seed` (0 to `MAX_SEED`; from the OS when None).

    Raises:
        LsfError: the seed is out of that range.
    """
    g = torch.Generator()
    if seed is None:
        g.seed()
        return g
    if not 0 <= int(seed) <= MAX_SEED:
        raise LsfError(f"the seed must be a whole number from 0 to {MAX_SEED}, got {seed}")
    g.manual_seed(int(seed))
    return g
