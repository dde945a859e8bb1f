"""Rendering speed: frames per second at 512x512 on the CPU, 1 vs 2 threads.

Rows: rasterization only (projection + z-buffer), the full frame (+ vertex normals, shading,
sRGB encoding), and the full frame streamed into an H.264 mp4. The mesh is the built-in face
driven by a synthetic motion (jaw and expressions moving), or a ~5k-vertex sphere if the face
model is not available.

Run: .venv/bin/python benchmarks/render_speed.py [--frames 100]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from lsf_animation.render.camera import Camera
from lsf_animation.render.rasterizer import rasterize
from lsf_animation.render.renderer import MeshRenderer
from lsf_animation.render.video import write_mp4
from record import markdown_table, record

SIZE = 512


def face_sequence(frames: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, str]:
    """(T, V, 3) vertices, faces, vertex colours and a description of the mesh."""
    try:
        import torch

        from lsf_animation.face.flame import FlameLayer, motion_to_vertices
        from lsf_animation.face.load import load_face_model

        face = load_face_model("builtin")
    except ImportError as exc:
        print(f"built-in face unavailable ({exc}); timing a sphere instead", file=sys.stderr)
        return sphere_sequence(frames)
    t = np.arange(frames) / 25.0
    motion = np.zeros((frames, 53), np.float32)
    motion[:, :10] = 0.8 * np.sin(2 * np.pi * (0.7 + 0.13 * np.arange(10)) * t[:, None])
    motion[:, 50] = 0.12 + 0.12 * np.sin(2 * np.pi * 3.0 * t)  # jaw opening
    with torch.no_grad():
        verts = motion_to_vertices(FlameLayer(face), motion)
    desc = (
        f"built-in face ({face.num_vertices} vertices, {len(face.faces)} triangles), "
        "synthetic motion"
    )
    return verts, face.faces, face.vertex_colors, desc


def sphere_sequence(frames: int) -> tuple[np.ndarray, np.ndarray, None, str]:
    """A subdivided octahedron sphere of ~4k vertices, pulsing."""
    n = 45
    lat, lon = np.meshgrid(np.linspace(0, np.pi, n), np.linspace(0, 2 * np.pi, 2 * n))
    pts = np.stack([np.sin(lat) * np.cos(lon), np.cos(lat), np.sin(lat) * np.sin(lon)], -1)
    pts = pts.reshape(-1, 3) * 0.1
    idx = np.arange(2 * n * n).reshape(2 * n, n)
    a, b = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel()
    c, d = idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()
    faces = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])
    scale = 1.0 + 0.05 * np.sin(np.arange(frames) / 3.0)
    desc = f"UV sphere ({len(pts)} vertices, {len(faces)} triangles)"
    return pts[None] * scale[:, None, None], faces, None, desc


def fps(run: Callable[[], None], frames: int, repeats: int = 3) -> tuple[float, float]:
    """Frames per second of `run` (which handles `frames` frames), best of `repeats`, and the
    CPU time per frame (ms, all threads) of that run: the load-independent cost."""
    run()  # warm up (compilation is cached on disk, but first calls touch memory)
    best = min((_timed(run) for _ in range(repeats)), key=lambda t: t[0])
    return frames / best[0], 1000.0 * best[1] / frames


def _timed(run: Callable[[], None]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=100)
    args = parser.parse_args()
    verts, faces, colors, desc = face_sequence(args.frames)
    cam = Camera.framing(verts, SIZE, SIZE)
    faces32 = faces.astype(np.int32)
    tmp = Path(tempfile.mkdtemp())

    def raster_one(frame: np.ndarray) -> None:
        rasterize(cam.project(cam.to_camera(frame), SIZE, SIZE), faces32, SIZE, SIZE)

    def job(stage: str, threads: int) -> Callable[[], None]:
        renderer = MeshRenderer(
            faces,
            colors,
            camera=cam,
            width=SIZE,
            height=SIZE,
            threads=threads,
            supersample=2 if stage == "aa" else 1,
        )
        if stage == "raster":

            def run() -> None:
                with ThreadPoolExecutor(threads) as pool:
                    for _ in pool.map(raster_one, verts):
                        pass
        elif stage == "mp4":

            def run() -> None:
                write_mp4(renderer.render_sequence(verts), tmp / "b.mp4", threads=threads)
        else:

            def run() -> None:
                for _ in renderer.render_sequence(verts):
                    pass

        return run

    load = os.getloadavg()[0]
    rows = []
    for stage, name in (
        ("raster", "rasterize only (projection + z-buffer)"),
        ("frame", "+ vertex normals, shading, sRGB (full frame)"),
        ("mp4", "+ H.264 mp4 encoding (crf 18, preset fast)"),
        ("aa", "full frame with 2x supersampling"),
    ):
        (one, cpu_one), (two, _) = (fps(job(stage, threads), len(verts)) for threads in (1, 2))
        rows.append([name, f"{cpu_one:.1f}", f"{one:.1f}", f"{two:.1f}", f"{two / one:.2f}x"])
    for f in tmp.iterdir():
        f.unlink()
    tmp.rmdir()

    body = (
        f"Mesh: {desc}; {len(verts)} frames at {SIZE}x{SIZE}, frames/s (best of 3); CPU "
        "ms/frame = CPU time of the 1-thread run per frame, which other processes on the "
        "machine do not inflate as much as wall time. "
        "Threads: frames rendered concurrently (each frame on one thread; the numba kernels "
        "release the GIL) and, in the mp4 row, x264's encoder threads. "
        f"Load average when the run started: {load:.1f} (other processes share the 2 cores).\n\n"
        + markdown_table(
            ["stage", "CPU ms/frame", "1 thread (fps)", "2 threads (fps)", "speed-up"], rows
        )
    )
    record("Rendering", "benchmarks/render_speed.py", body)


if __name__ == "__main__":
    main()
