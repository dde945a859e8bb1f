"""The public Python API: what the CLI's subcommands call."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

from lsf_animation.errors import LsfError
from lsf_animation.export.motion_npz import MotionFile
from lsf_animation.face.model import FaceModel


def motion_vertices(face: FaceModel, motion_file: MotionFile, sample: int = 0) -> np.ndarray:
    """Vertices of one motion sample on a face.

    Args:
        face: the face model (FLAME or the built-in face).
        motion_file: motion (K, T, 53) and shape (300,).
        sample: which of the K samples.

    Returns:
        (T, V, 3) float32 vertices in metres.
    """
    from lsf_animation.face.flame import FlameLayer, motion_to_vertices

    num_samples = motion_file.motion.shape[0]
    if not 0 <= sample < num_samples:
        raise LsfError(f"sample {sample} does not exist: the motion holds {num_samples} sample(s)")
    return motion_to_vertices(FlameLayer(face), motion_file.motion[sample], motion_file.shape)


def render_video(
    face: FaceModel,
    motion_file: MotionFile,
    out: str | Path,
    audio: str | Path | None = None,
    sample: int = 0,
    size: int = 512,
    progress: bool = False,
) -> Path:
    """Render one motion sample on a face to an mp4 (H.264, yuv420p), with the audio muxed in.

    Args:
        face: the face model.
        motion_file: motion (K, T, 53) at `motion_file.fps` and shape (300,).
        out: the .mp4 to write (written atomically).
        audio: an audio file to mux in, or None for a silent video.
        sample: which of the K samples to render.
        size: frame width and height in pixels.
        progress: show a progress bar on stderr.

    Returns:
        The path written.
    """
    from lsf_animation.render.camera import Camera
    from lsf_animation.render.renderer import MeshRenderer
    from lsf_animation.render.video import write_mp4

    if size < 16 or size % 2:
        raise LsfError(f"--size must be an even number of pixels >= 16, got {size}")
    out = Path(out)
    vertices = motion_vertices(face, motion_file, sample)
    camera = Camera.framing(vertices, size, size)
    renderer = MeshRenderer(face.faces, face.vertex_colors, camera, size, size)
    frames = tqdm(
        renderer.render_sequence(vertices),
        total=len(vertices),
        desc="render",
        unit="frame",
        disable=not progress,
    )
    write_mp4(
        frames,
        out,
        fps=motion_file.fps,
        audio=audio,
        num_frames=len(vertices),
    )
    return out
