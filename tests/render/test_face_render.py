"""Rendering the built-in face: the mouth moves when the jaw opens, the forehead does not."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lsf_animation.face.flame import FlameLayer
from lsf_animation.face.load import load_face_model
from lsf_animation.render.camera import Camera
from lsf_animation.render.renderer import MeshRenderer


def _window(points: np.ndarray, pad: int, size: int) -> tuple[slice, slice]:
    lo = np.floor(points[:, :2].min(axis=0)).astype(int) - pad
    hi = np.ceil(points[:, :2].max(axis=0)).astype(int) + pad
    lo, hi = np.clip(lo, 0, size), np.clip(hi, 0, size)
    return slice(lo[1], hi[1]), slice(lo[0], hi[0])


def test_builtin_face_mouth_changes_when_the_jaw_opens() -> None:
    face = load_face_model("builtin")
    layer = FlameLayer(face)
    with torch.no_grad():
        neutral = layer()[0].numpy()
        jaw_open = layer(jaw_pose=torch.tensor([[0.35, 0.0, 0.0]]))[0].numpy()
    size = 256
    cam = Camera.framing(neutral, size, size)
    renderer = MeshRenderer(face.faces, face.vertex_colors, camera=cam, width=size, height=size)
    before, after = renderer.render(neutral), renderer.render(jaw_open)
    diff = np.abs(after.astype(int) - before.astype(int)).sum(axis=2)

    screen = cam.project(cam.to_camera(neutral), size, size)
    mouth = _window(screen[face.regions["lips"]], 2, size)
    upper = screen[face.regions["upper_face"]]
    forehead = _window(upper[upper[:, 1] < np.percentile(upper[:, 1], 15)], 0, size)
    assert (diff[mouth] > 30).mean() > 0.2  # a good part of the mouth window changes
    assert diff[forehead].size > 100
    assert diff[forehead].max() == 0


@pytest.mark.parametrize("supersample", [1, 2])
def test_builtin_face_fills_the_frame_without_touching_the_border(supersample: int) -> None:
    face = load_face_model("builtin")
    with torch.no_grad():
        verts = FlameLayer(face)()[0].numpy()
    image = MeshRenderer(
        face.faces,
        face.vertex_colors,
        width=128,
        height=160,
        supersample=supersample,
        background=(0.0, 0.0, 0.0),
    ).render(verts)
    fg = image.astype(int).sum(axis=2) > 0
    rows, cols = np.nonzero(fg.any(axis=1))[0], np.nonzero(fg.any(axis=0))[0]
    assert rows.min() > 0 and rows.max() < 159 and cols.min() > 0 and cols.max() < 127
    assert np.ptp(rows) > 0.7 * 160  # a tall head in a tall picture: height-limited framing
