"""Shaded rendering: coverage, smooth shading, colours, local changes, framing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lsf_animation.errors import LsfError
from lsf_animation.render.camera import Camera
from lsf_animation.render.renderer import MeshRenderer, VertexNormals

BLACK = (0.0, 0.0, 0.0)


def _foreground(image: np.ndarray) -> np.ndarray:
    return image.astype(int).sum(axis=2) > 0


def _neighbour_steps(image: np.ndarray) -> np.ndarray:
    """Absolute luminance steps between horizontal neighbours well inside the object."""
    lum = image.astype(float).mean(axis=2)
    fg = _foreground(image)
    inner = fg.copy()
    for shift, axis in ((1, 0), (-1, 0), (1, 1), (-1, 1)):
        inner &= np.roll(fg, shift, axis)
    both = inner[:, 1:] & inner[:, :-1]
    return np.abs(np.diff(lum, axis=1))[both]


def test_sphere_covers_its_projected_disc(icosphere) -> None:
    radius, dist, fov = 0.1, 0.5, 30.0
    verts, faces = icosphere(4, radius)
    cam = Camera(eye=(0.0, 0.0, dist), target=(0.0, 0.0, 0.0), fov_y_deg=fov)
    image = MeshRenderer(faces, camera=cam, width=200, height=200, background=BLACK).render(verts)
    assert image.shape == (200, 200, 3) and image.dtype == np.uint8
    # the silhouette of a sphere seen from distance d is a disc of angular radius asin(r / d)
    disc_px = cam.focal_px(200) * math.tan(math.asin(radius / dist))
    expected = math.pi * disc_px**2 / 200**2
    assert _foreground(image).mean() == pytest.approx(expected, rel=0.03)


def test_shading_is_smooth_across_a_coarse_sphere_and_lit_from_the_key_side(icosphere) -> None:
    verts, faces = icosphere(2, 0.1)  # 320 triangles: facets would show with flat shading
    image = MeshRenderer(faces, width=256, height=256, background=BLACK).render(verts)
    lum = image.astype(float).mean(axis=2)
    fg = _foreground(image)
    assert lum[fg].max() - lum[fg].min() > 80  # shading varies across the sphere
    assert _neighbour_steps(image).max() < 10  # ...without jumps at triangle edges
    # the key light is up and to the left
    assert lum[64:128, 64:128][fg[64:128, 64:128]].mean() > lum[128:192, 128:192].mean() + 20

    # the same triangles without shared vertices have per-face normals: faceted
    unwelded = verts[faces].reshape(-1, 3)
    own_faces = np.arange(unwelded.shape[0]).reshape(-1, 3)
    flat = MeshRenderer(own_faces, width=256, height=256, background=BLACK).render(unwelded)
    assert _neighbour_steps(flat).max() > 15


def test_vertex_colours_show_in_the_image(icosphere) -> None:
    verts, faces = icosphere(3, 0.1)
    colours = np.where(verts[:, :1] < 0.0, [[0.9, 0.1, 0.1]], [[0.1, 0.1, 0.9]])
    image = MeshRenderer(faces, vertex_colors=colours, width=128, height=128).render(verts)
    left, right = image[54:74, 30:50].astype(int), image[54:74, 78:98].astype(int)
    assert (left[..., 0] > left[..., 2] + 50).all()  # -x (subject's right) is on image left
    assert (right[..., 2] > right[..., 0] + 50).all()


def test_moving_some_vertices_changes_only_their_part_of_the_image(icosphere) -> None:
    verts, faces = icosphere(4, 0.1)
    cam = Camera.framing(verts, 256, 256)
    renderer = MeshRenderer(faces, camera=cam, width=256, height=256)
    before = renderer.render(verts)
    moved = verts.copy()
    cap = verts[:, 1] < -0.07  # bottom cap
    moved[cap, 2] += 0.01
    after = renderer.render(moved)
    diff = np.abs(after.astype(int) - before.astype(int)).sum(axis=2)
    assert diff[170:256].sum() > 1000  # the bottom of the image changes
    assert diff[:110].max() == 0  # the top does not


def test_supersampling_keeps_size_and_coverage(icosphere) -> None:
    verts, faces = icosphere(3, 0.1)
    plain = MeshRenderer(faces, width=96, height=80, background=BLACK).render(verts)
    smooth = MeshRenderer(faces, width=96, height=80, background=BLACK, supersample=2).render(verts)
    assert smooth.shape == plain.shape == (80, 96, 3)
    assert _foreground(smooth).mean() == pytest.approx(_foreground(plain).mean(), rel=0.05)
    # anti-aliased silhouette: edge pixels mix object and background
    edge = _foreground(plain) ^ np.roll(_foreground(plain), 1, axis=1)
    assert np.abs(smooth[edge].astype(int) - plain[edge].astype(int)).max() > 20


def test_sequence_uses_one_camera_that_frames_every_frame(icosphere) -> None:
    verts, faces = icosphere(3, 0.1)
    shifts = np.array([[-0.15, 0.0, 0.0], [0.0, 0.0, 0.0], [0.15, 0.0, 0.0]])
    sequence = verts[None] + shifts[:, None]
    frames = list(
        MeshRenderer(faces, width=160, height=120, background=BLACK).render_sequence(sequence)
    )
    assert len(frames) == 3
    cols = [np.nonzero(_foreground(f).any(axis=0))[0] for f in frames]
    # the sphere moves left to right inside the picture and is never cut off
    assert cols[0].mean() < cols[1].mean() < cols[2].mean()
    assert cols[0].min() > 0 and cols[2].max() < 159


def test_threaded_sequence_gives_the_same_frames_in_order(icosphere) -> None:
    verts, faces = icosphere(3, 0.1)
    sequence = verts[None] * np.linspace(0.8, 1.2, 7)[:, None, None]
    cam = Camera.framing(sequence, 64, 64)
    serial = list(
        MeshRenderer(faces, camera=cam, width=64, height=64, threads=1).render_sequence(sequence)
    )
    threaded = MeshRenderer(faces, camera=cam, width=64, height=64, threads=3)
    frames = list(threaded.render_sequence(sequence))
    assert len(frames) == 7
    for a, b in zip(serial, frames, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(frames[0], frames[-1])  # the sphere grows


def test_framing_keeps_every_vertex_inside_the_image() -> None:
    rng = np.random.default_rng(0)
    cloud = rng.normal(size=(2, 500, 3)) * [0.08, 0.12, 0.05] + [0.01, 0.02, -0.3]
    for width, height in ((512, 512), (640, 360), (300, 600)):
        cam = Camera.framing(cloud, width, height)
        screen = cam.project(cam.to_camera(cloud.reshape(-1, 3)), width, height)
        assert (screen[:, 2] > 0).all()
        assert screen[:, 0].min() >= 0 and screen[:, 0].max() <= width
        assert screen[:, 1].min() >= 0 and screen[:, 1].max() <= height
        # and uses the picture: the object spans most of one dimension
        span = max(np.ptp(screen[:, 0]) / width, np.ptp(screen[:, 1]) / height)
        assert span > 0.6


def test_vertex_normals_point_outward_on_a_sphere(icosphere) -> None:
    verts, faces = icosphere(3, 1.0)
    normals = VertexNormals(faces, verts.shape[0])(verts.astype(np.float32))
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-5)
    assert (np.einsum("ij,ij->i", normals, verts) > 0.99).all()


def test_bad_input_is_rejected_with_lsf_error(icosphere) -> None:
    verts, faces = icosphere(1, 0.1)
    renderer = MeshRenderer(faces, width=32, height=32)
    with pytest.raises(LsfError, match="vertices must be"):
        renderer.render(verts[None])
    with pytest.raises(LsfError, match="NaN"):
        renderer.render(np.full_like(verts, np.nan))
    with pytest.raises(LsfError, match="faces use"):
        renderer.render(verts[:10])
    with pytest.raises(LsfError, match="vertex_colors"):
        MeshRenderer(faces, vertex_colors=np.ones((3, 3)))
