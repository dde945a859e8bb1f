"""The z-buffer rasterizer on tiny synthetic scenes with known answers."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from lsf_animation.render.camera import Camera
from lsf_animation.render.rasterizer import rasterize


def _screen(points: list[tuple[float, float, float]]) -> np.ndarray:
    """(x_px, y_px, depth) triples -> screen array with 1 / depth."""
    arr = np.asarray(points, np.float64)
    arr[:, 2] = 1.0 / arr[:, 2]
    return arr


@pytest.mark.parametrize("near_first", [True, False])
def test_nearer_triangle_wins_where_they_overlap(near_first: bool) -> None:
    far = [(2, 2, 5.0), (60, 2, 5.0), (2, 60, 5.0)]  # big, far away
    near = [(20, 20, 2.0), (50, 20, 2.0), (20, 50, 2.0)]  # smaller, nearer, overlaps far
    pts = near + far if near_first else far + near
    faces = np.array([[0, 1, 2], [3, 4, 5]])
    near_id = 0 if near_first else 1
    frags = rasterize(_screen(pts), faces, 64, 64)
    assert frags.triangle[25, 25] == near_id  # inside both
    assert frags.triangle[5, 5] == 1 - near_id  # inside the far one only
    assert frags.triangle[62, 62] == -1  # inside neither
    assert frags.inv_depth[25, 25] == pytest.approx(0.5)
    assert frags.inv_depth[5, 5] == pytest.approx(0.2)
    assert frags.inv_depth[62, 62] == 0.0


def test_depth_test_uses_interpolated_depth_of_crossing_triangles() -> None:
    # two triangles that cross: A is nearer on the left, B on the right
    a = [(0, 0, 1.0), (64, 0, 3.0), (0, 64, 1.0)]
    b = [(0, 0, 3.0), (64, 0, 1.0), (0, 64, 3.0)]
    frags = rasterize(_screen(a + b), np.array([[0, 1, 2], [3, 4, 5]]), 64, 64)
    assert frags.triangle[10, 4] == 0
    assert frags.triangle[10, 50] == 1


def test_covered_pixel_count_matches_triangle_area() -> None:
    pts = [(13.2, 7.9, 1.0), (190.7, 60.3, 1.0), (71.4, 201.6, 1.0)]
    (x0, y0, _), (x1, y1, _), (x2, y2, _) = pts
    area = 0.5 * abs((x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0))
    frags = rasterize(_screen(pts), np.array([[0, 1, 2]]), 256, 256)
    assert frags.mask.sum() == pytest.approx(area, rel=0.01)


def test_shared_edge_pixels_are_drawn_exactly_once() -> None:
    # a 20x20 square split along a diagonal that passes through pixel centres
    pts = _screen([(10, 10, 1.0), (30, 10, 1.0), (30, 30, 1.0), (10, 30, 1.0)])
    count = 0
    for tri in ([0, 1, 2], [0, 2, 3]):
        count += rasterize(pts, np.array([tri]), 40, 40).mask.sum()
    assert count == 400


def test_barycentrics_are_perspective_correct() -> None:
    cam = Camera(eye=(0.0, 0.0, 0.0), target=(0.0, 0.0, -1.0), fov_y_deg=60.0)
    tri = np.array([[-0.5, -0.4, -1.0], [0.6, -0.3, -3.0], [0.0, 0.7, -2.0]])  # camera space
    frags = rasterize(cam.project(tri, 96, 96), np.array([[0, 1, 2]]), 96, 96)
    ys, xs = np.nonzero(frags.mask)
    assert len(ys) > 200
    # the barycentric point must lie on the ray through the pixel centre it was drawn at
    points = frags.bary[ys, xs] @ tri
    back = cam.project(points, 96, 96)
    np.testing.assert_allclose(back[:, 0], xs + 0.5, atol=1e-3)
    np.testing.assert_allclose(back[:, 1], ys + 0.5, atol=1e-3)
    np.testing.assert_allclose(1.0 / frags.inv_depth[ys, xs], -points[:, 2], rtol=1e-5)


def test_backface_culling_drops_clockwise_triangles_only() -> None:
    ccw = [(5, 5, 1.0), (5, 30, 1.0), (30, 5, 1.0)]  # counter-clockwise with y up
    cw = [(35, 35, 1.0), (60, 35, 1.0), (35, 60, 1.0)]
    faces = np.array([[0, 1, 2], [3, 4, 5]])
    drawn = rasterize(_screen(ccw + cw), faces, 64, 64)
    culled = rasterize(_screen(ccw + cw), faces, 64, 64, cull_backfaces=True)
    assert set(np.unique(drawn.triangle)) == {-1, 0, 1}
    assert set(np.unique(culled.triangle)) == {-1, 0}


def test_triangles_behind_the_camera_are_skipped() -> None:
    pts = np.array([[5.0, 5.0, 1.0], [60.0, 5.0, -1.0], [5.0, 60.0, 1.0]])
    assert not rasterize(pts, np.array([[0, 1, 2]]), 64, 64).mask.any()


def test_jit_falls_back_when_no_cache_folder_is_writable(tmp_path: Path) -> None:
    # numba caches next to the source, else in a per-user folder; block both (even for root,
    # by putting files where the folders would go) and check the kernel still runs.
    (tmp_path / "__pycache__").write_text("not a folder")
    (tmp_path / "cache").write_text("not a folder")
    (tmp_path / "kernel.py").write_text(
        textwrap.dedent(
            """
            from lsf_animation.render.rasterizer import jit

            @jit()
            def add_one(x):
                return x + 1
            """
        )
    )
    script = "import kernel; print(kernel.add_one(41))"
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path / "cache"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "PYTHONPATH": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "42"
    assert "numba cannot cache add_one" in done.stderr  # the fallback ran, with a warning
