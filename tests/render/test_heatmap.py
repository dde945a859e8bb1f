"""Motion statistics per vertex and the heatmap picture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lsf_animation.errors import LsfError
from lsf_animation.render.colormap import COLORMAP, apply_colormap
from lsf_animation.render.heatmap import displacement_statistics, write_heatmap_png


def test_displacement_statistics_on_a_known_sequence() -> None:
    frames = 9
    verts = np.zeros((frames, 3, 3))
    verts[:, 0, 0] = 0.001 * np.arange(frames)  # steady 1 mm per frame along x
    steps = np.where(np.arange(frames - 1) % 2 == 0, 0.001, 0.003)  # alternating 1 and 3 mm
    verts[1:, 1, 1] = np.cumsum(steps)
    verts[:, 2] = [0.1, 0.2, 0.3]  # still
    mean, std = displacement_statistics(verts.astype(np.float32))
    np.testing.assert_allclose(mean, [0.001, 0.002, 0.0], atol=1e-7)
    np.testing.assert_allclose(std, [0.0, 0.001, 0.0], atol=1e-7)


def test_displacement_statistics_needs_two_frames() -> None:
    with pytest.raises(LsfError, match="at least 2 frames"):
        displacement_statistics(np.zeros((1, 4, 3)))
    with pytest.raises(LsfError, match=r"\(T, V, 3\)"):
        displacement_statistics(np.zeros((4, 3)))


def test_colormap_gets_lighter_from_low_to_high() -> None:
    luminance = COLORMAP @ [0.2126, 0.7152, 0.0722]
    assert (np.diff(luminance) > 0).all()
    np.testing.assert_allclose(
        apply_colormap(np.array([-1.0, 0.0, 2.0]), 0.0, 2.0)[[0, 2]], COLORMAP[[0, -1]]
    )


def test_heatmap_png_shows_high_values_in_bright_colours(tmp_path: Path, icosphere) -> None:
    verts, faces = icosphere(3, 0.1)
    values = (verts[:, 1] + 0.1) * 0.02  # 0 at the bottom, 4 mm at the top
    out = write_heatmap_png(verts, faces, values, tmp_path / "heat.png", title="motion")
    image = np.asarray(Image.open(out).convert("RGB")).astype(float)
    assert image.shape == (512, 640, 3)  # default width x height
    lum = image @ [0.2126, 0.7152, 0.0722]
    # mesh area: left part below the title; the sphere's top is high (light), bottom low (dark)
    column = lum[28:, 230:320]
    rows = np.nonzero((column < 250).any(axis=1))[0]
    top, bottom = column[rows[:10]].mean(), column[rows[-10:]].mean()
    assert top > bottom + 80


def test_heatmap_checks_its_input(tmp_path: Path, icosphere) -> None:
    verts, faces = icosphere(1, 0.1)
    with pytest.raises(LsfError, match="one entry per vertex"):
        write_heatmap_png(verts, faces, np.zeros(3), tmp_path / "a.png")
    with pytest.raises(LsfError, match="does not exist"):
        write_heatmap_png(verts, faces, np.zeros(len(verts)), tmp_path / "no" / "a.png")
    assert list(tmp_path.iterdir()) == []
