"""Exports of any length in bounded memory (issue 17): every format is written from vertices
computed a chunk of frames at a time, never the whole (T, V, 3) sequence, and the streamed
files equal those of the whole array."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

import lsf_animation.face.motion as motion_module
from lsf_animation.api import Animation, write_animation
from lsf_animation.export.base import ExportInput
from lsf_animation.export.vertices import VerticesExporter
from lsf_animation.face.load import load_face_model
from lsf_animation.face.motion import MotionFile, motion_vertices
from lsf_animation.render.camera import Camera, vertex_bounds
from lsf_animation.render.heatmap import DisplacementStatistics, displacement_statistics
from lsf_animation.render.renderer import MeshRenderer
from lsf_animation.render.video import write_motion_video

CHUNK = 16


@pytest.fixture(scope="module")
def face():
    return load_face_model("builtin")


def _motion(frames: int, samples: int = 1, seed: int = 0) -> MotionFile:
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[None, :, None]
    motion = 0.8 * np.sin(0.3 * t + rng.uniform(0, 6, (samples, 1, 53)))
    motion[..., 50] = 0.15 + 0.1 * np.sin(0.5 * t[..., 0])  # the jaw opens and closes
    motion[..., 51:] = 0.0
    return MotionFile(motion.astype(np.float32), rng.normal(size=300).astype(np.float32) * 0.5)


@pytest.fixture
def small_chunks(monkeypatch):
    """Vertices come CHUNK frames at a time; records the frames of every vertex computation."""
    calls: list[int] = []
    real = motion_module.motion_to_vertices

    def counted(layer, motion, shape):
        calls.append(len(motion))
        return real(layer, motion, shape)

    monkeypatch.setattr(motion_module, "VERTEX_CHUNK_FRAMES", CHUNK)
    monkeypatch.setattr(motion_module, "motion_to_vertices", counted)
    return calls


def test_vertices_file_is_written_chunk_by_chunk_with_np_save_bytes(tmp_path, face, small_chunks):
    motion = _motion(3 * CHUNK + 5)
    VerticesExporter().write(ExportInput(motion, face), tmp_path)
    assert max(small_chunks) == CHUNK and sum(small_chunks) == motion.num_frames
    whole = motion_vertices(face, motion)
    np.save(tmp_path / "whole.npy", whole)
    assert (tmp_path / "vertices.npy").read_bytes() == (tmp_path / "whole.npy").read_bytes()


def test_heatmap_statistics_merged_over_chunks_equal_the_whole_sequence(face):
    vertices = motion_vertices(face, _motion(70))
    whole = displacement_statistics(vertices)
    stats = DisplacementStatistics()
    for start in (0, 1, 17, 40, 41):  # uneven chunks, one of a single frame
        stop = {0: 1, 1: 17, 17: 40, 40: 41, 41: 70}[start]
        stats.add(vertices[start:stop])
    for got, want in zip(stats.result(), whole, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-15)


def test_camera_framed_from_chunk_bounds_is_the_whole_sequence_camera(face):
    vertices = motion_vertices(face, _motion(50))
    lo, hi, frames = vertex_bounds(vertices[i : i + 7] for i in range(0, 50, 7))
    assert frames == 50
    assert Camera.framing_box(lo, hi, 64, 64) == Camera.framing(vertices, 64, 64)


def test_frames_rendered_from_chunks_equal_the_whole_sequence(face):
    vertices = motion_vertices(face, _motion(9))
    renderer = MeshRenderer(face.faces, face.vertex_colors, None, 48, 48, threads=2)
    camera = Camera.framing(vertices, 48, 48)
    whole = list(renderer.render_sequence(vertices, camera))
    chunked = list(renderer.render_chunks([vertices[:4], vertices[4:5], vertices[5:]], camera))
    assert len(chunked) == 9
    assert all(np.array_equal(a, b) for a, b in zip(whole, chunked, strict=True))


def test_render_never_computes_more_than_a_chunk_of_vertices(tmp_path, face, small_chunks):
    motion = _motion(2 * CHUNK + 3)
    path = write_motion_video(face, motion, tmp_path / "out.mp4", size=32)
    assert max(small_chunks) == CHUNK
    assert sum(small_chunks) == 2 * motion.num_frames  # framing pass + rendering pass
    with av.open(str(path)) as container:
        assert sum(1 for _ in container.decode(video=0)) == motion.num_frames


def test_every_format_is_written_from_chunks(tmp_path, face, small_chunks, monkeypatch):
    def whole(*args, **kwargs):
        raise AssertionError("an exporter computed the whole vertex sequence")

    monkeypatch.setattr("lsf_animation.export.base.motion_vertices", whole)
    motion = _motion(3 * CHUNK + 1, samples=2)
    files = write_animation(
        Animation(motion, face), tmp_path / "out", video=True, obj=True, size=32, gltf=True,
        arkit=True,
    )  # fmt: skip
    assert max(small_chunks) == CHUNK
    assert {"motion", "vertices", "heatmap_mean", "video", "obj", "gltf", "arkit_csv"} <= set(
        files
    )
    assert len(list(Path(files["obj"]).glob("frame_*.obj"))) == motion.num_frames
    assert np.load(files["vertices"]).shape == (motion.num_frames, face.num_vertices, 3)


def test_no_vertices_leaves_the_vertices_file_out(tmp_path, face):
    files = write_animation(Animation(_motion(10), face), tmp_path, video=False, vertices=False)
    assert "vertices" not in files and not (tmp_path / "vertices.npy").exists()
    assert (tmp_path / "motion.npz").is_file() and (tmp_path / "heatmap_std.png").is_file()
