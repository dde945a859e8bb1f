"""Inference pieces behind `api.Animator`: windowing long audio (`windows`) and computing the
speech streams of a window on worker threads (`streams`)."""

from lsf_animation.inference.windows import (
    num_output_frames,
    seeded_generator,
    window_audio,
    window_plan,
    window_starts,
    windowed_motion,
)

__all__ = [
    "num_output_frames",
    "seeded_generator",
    "window_audio",
    "window_plan",
    "window_starts",
    "windowed_motion",
]
