"""The frame strip of a rendered synthetic clip (how docs/synth_*_strip.png is made)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lsf_animation.data.synth.preview import clip_strip


@pytest.mark.slow
def test_strip_tiles_frames_decoded_from_the_rendered_mp4(tmp_path: Path) -> None:
    out = clip_strip(tmp_path / "strip.png", "surprised", 3, sentence=1, size=96, num_frames=4)
    strip = np.asarray(Image.open(out))
    height, width, _ = strip.shape
    assert 40 < height <= 96 and width % 4 == 0
    tiles = np.split(strip.astype(int), 4, axis=1)
    # a face in every tile, and the face moves between tiles
    assert all(tile.std() > 10 for tile in tiles)
    assert np.abs(tiles[0] - tiles[1]).mean() > 0.5
