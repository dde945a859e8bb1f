"""The viewer in a real browser: Debian's chromium, headless, driven by playwright-core.

What a user relies on: the page loads with no console errors, plays (the clock runs and stops),
shows the same picture as our CPU renderer at the same instant, and the face it animates is our
FLAME layer's face (three.js's own glTF loader, morph targets and skinning, read back per vertex).
Skips, saying why, only when node or chromium is not installed (tests/node_tools.py).
"""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from PIL import Image

from fixtures_flame import random_flame_arrays, write_flame_pickle
from gltf_reference import Gltf
from lsf_animation.export.gltf import write_glb
from lsf_animation.face.builtin import builtin_face
from lsf_animation.face.flame import FlameLayer, motion_to_vertices
from lsf_animation.face.load import load_face_model
from lsf_animation.render.camera import Camera
from lsf_animation.render.heatmap import write_motion_heatmaps
from lsf_animation.render.renderer import MeshRenderer
from lsf_animation.web.server import ViewerServer
from node_tools import REPO, chromium, node, node_package

FPS = 25.0
FRAMES = 100  # 4 s: the play check (about 1.5 s) stays well inside it
SIZE = 256  # canvas pixels (square)
TOLERANCE = 1e-5  # metres, as for the spec-written evaluator (tests/export/test_gltf.py)
# Mean absolute difference (8-bit sRGB levels, all pixels) allowed between the page's frame and
# the CPU renderer's frame of the same instant. Same camera, lights, albedo and colour pipeline;
# what remains is edge anti-aliasing (MSAA vs 2x2 supersampling) and three.js's Blinn-Phong
# highlight, which is multiplied by n.l where ours is not: measured about 1 level. The test also
# asks the same instant's frame to be the closest of its neighbours around the mouth (measured:
# about 7 levels there against 11-13 for the frames one step before and after).
MAX_MEAN_ABS_DIFF = 4.0


def _motion(num_samples: int, seed: int) -> np.ndarray:
    """(K, T, 53): the jaw opens and closes once a second, a little wider each time (so no two
    instants look alike), with a slow smooth expression drift; sample k is shifted in phase."""
    rng = np.random.default_rng(seed)
    t = np.arange(FRAMES) / FPS
    motion = np.zeros((num_samples, FRAMES, 53), np.float32)
    for k in range(num_samples):
        amplitude = 0.06 + 0.03 * t
        motion[k, :, 50] = amplitude * (1.0 - np.cos(2.0 * np.pi * (t + 0.25 * k)))
        drift = rng.normal(size=(4, 50)) * 0.5
        for j in range(50):
            motion[k, :, j] = np.interp(t, np.linspace(0, t[-1], 4), drift[:, j])
    return motion


def _flame(face, motion: np.ndarray, shape: np.ndarray) -> np.ndarray:
    layer = FlameLayer(face, torch.float64)
    return motion_to_vertices(layer, motion, shape)


@pytest.fixture(scope="module")
def browser_run(tmp_path_factory) -> dict:
    chromium_path = chromium()
    node()
    node_package("playwright-core")
    root = tmp_path_factory.mktemp("viewer")

    builtin_dir = root / "builtin_out"
    face = builtin_face()
    motion = _motion(2, seed=0)
    shape = (0.5 * np.random.default_rng(1).normal(size=300)).astype(np.float32)
    write_glb(builtin_dir / "animation.glb", face, motion, shape, FPS, audio="speech.wav")
    samples = np.arange(FRAMES * 640) / 16000.0
    soundfile.write(builtin_dir / "speech.wav", 0.2 * np.sin(2 * np.pi * 220 * samples), 16000)
    verts0 = _flame(face, motion[0], shape)
    write_motion_heatmaps(
        face, verts0, builtin_dir / "heatmap_mean.png", builtin_dir / "heatmap_std.png"
    )

    # A FLAME-format model with pose correctives and four skinning influences per vertex
    # (three.js skins with four); no audio in this folder.
    flame_dir = root / "flame_out"
    arrays = random_flame_arrays(num_vertices=300, num_faces=500, seed=5)
    w = arrays["weights"]
    w[np.arange(len(w)), np.argmin(w, axis=1)] = 0.0
    arrays["weights"] = w / w.sum(1, keepdims=True)
    flame_face = load_face_model(write_flame_pickle(root / "flame" / "model.pkl", arrays))
    flame_motion = _motion(1, seed=2)
    flame_shape = np.random.default_rng(3).normal(size=300)
    write_glb(flame_dir / "animation.glb", flame_face, flame_motion, flame_shape, FPS)

    check_frames = [0, 7, 12, 25, 37, 61, 99]
    shot_times = [0.24, 0.76]  # frames 6 and 19: the jaw opening and closing fastest
    config = {
        "chromium": chromium_path,
        "userDataDir": str(root / "chromium-profile"),
        "out": str(root / "result.json"),
        "pages": [],
    }
    with ViewerServer(builtin_dir) as builtin_server, ViewerServer(flame_dir) as flame_server:
        config["pages"] = [
            {
                "url": builtin_server.url,
                "size": SIZE,
                "screenshots": [
                    {"t": t, "path": str(root / f"shot_{t:.2f}.png")} for t in shot_times
                ],
                "vertices": [{"t": f / FPS, "sample": k} for k in (0, 1) for f in check_frames],
                "play": True,
                "pagePng": str(root / "page.png"),
            },
            {
                "url": flame_server.url,
                "size": SIZE,
                "vertices": [{"t": f / FPS} for f in check_frames],
            },
        ]
        (root / "config.json").write_text(json.dumps(config))
        result = subprocess.run(
            [node(), str(REPO / "tests" / "web" / "viewer_check.js"), str(root / "config.json")],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )
    if result.returncode != 0:
        raise AssertionError(f"the browser run failed:\n{result.stderr[-4000:]}")
    out = json.loads(Path(config["out"]).read_text())
    return {
        "root": root,
        "pages": out["pages"],
        "builtin": (face, motion, shape, builtin_dir),
        "flame": (flame_face, flame_motion, flame_shape),
        "check_frames": check_frames,
        "shot_times": shot_times,
    }


def test_page_loads_without_console_errors_and_describes_the_file(browser_run):
    builtin, flame = browser_run["pages"]
    assert builtin["consoleErrors"] == [] and flame["consoleErrors"] == []
    info = builtin["info"]
    assert info["samples"] == 2 and info["audio"] == "speech.wav"
    assert info["vertices"] == builtin_face().num_vertices and info["morphTargets"] == 50
    assert math.isclose(info["duration"], (FRAMES - 1) / FPS, rel_tol=1e-6)
    assert flame["info"]["audio"] is None and flame["info"]["morphTargets"] == 50 + 9


def test_page_plays_with_the_audio_clock_and_pauses(browser_run):
    play = browser_run["pages"][0]["play"]
    assert play["playing"] and play["button"] == "Pause"
    # The clock ran for about the wall time that passed (the audio element is the clock).
    assert 0.5 * play["wallSeconds"] < play["time"] <= play["wallSeconds"] + 0.3
    assert play["scrub"] > 0.0
    assert not play["playingAfterPause"] and play["stillAt"] == play["pausedAt"]


@pytest.mark.parametrize("which", ["builtin", "flame"])
def test_three_js_skinned_morphed_vertices_equal_the_flame_layer(browser_run, which):
    page = browser_run["pages"][0 if which == "builtin" else 1]
    face, motion, shape = browser_run[which][:3]
    frames = browser_run["check_frames"]
    samples = (0, 1) if which == "builtin" else (0,)
    got = iter(page["vertices"])
    worst = 0.0
    for k in samples:
        ref = _flame(face, motion[k], shape)
        for f in frames:
            positions = np.asarray(next(got)).reshape(-1, 3)
            worst = max(worst, float(np.linalg.norm(positions - ref[f], axis=1).max()))
    assert worst < TOLERANCE


def _glb_camera(glb: Path) -> Camera:
    """The .glb's camera as a CPU-renderer camera."""
    doc = Gltf.read(glb).doc
    node = next(n for n in doc["nodes"] if "camera" in n)
    perspective = doc["cameras"][node["camera"]]["perspective"]
    camera = Camera(
        eye=tuple(node["translation"]),
        target=tuple(node["extras"]["target"]),
        fov_y_deg=math.degrees(perspective["yfov"]),
        near=perspective["znear"],
    )
    return camera


def _mouth_box(face, vertices: np.ndarray, camera: Camera) -> tuple[slice, slice]:
    """Pixel rows and columns around the lips over the whole sequence, with a margin."""
    lips = vertices[:, face.regions["lips"]].reshape(-1, 3)
    xy = camera.project(camera.to_camera(lips), SIZE, SIZE)[:, :2]
    (x0, y0), (x1, y1) = np.floor(xy.min(0)) - 4, np.ceil(xy.max(0)) + 4
    return slice(max(0, int(y0)), int(y1)), slice(max(0, int(x0)), int(x1))


def test_screenshot_matches_the_cpu_renderer_at_the_same_instant(browser_run):
    face, motion, shape, folder = browser_run["builtin"]
    camera = _glb_camera(folder / "animation.glb")
    vertices = _flame(face, motion[0], shape)
    renderer = MeshRenderer(face.faces, face.vertex_colors, camera, SIZE, SIZE, supersample=2)
    cpu = [frame.astype(float) for frame in renderer.render_sequence(vertices)]
    rows, cols = _mouth_box(face, vertices, camera)
    for t in browser_run["shot_times"]:
        shot = np.asarray(Image.open(browser_run["root"] / f"shot_{t:.2f}.png").convert("RGB"))
        assert shot.shape == (SIZE, SIZE, 3)
        shot = shot.astype(float)
        frame = round(t * FPS)  # t is on a key: no interpolation between frames
        whole = float(np.abs(shot - cpu[frame]).mean())
        assert whole < MAX_MEAN_ABS_DIFF, whole
        # Of the frames within a quarter second (where the jaw moves one way, so no two look
        # alike), the mouth looks most like the same instant's, by a clear margin: a clock off
        # by a frame or more would show.
        near = range(frame - 6, frame + 7)
        mouth = {f: float(np.abs(shot[rows, cols] - cpu[f][rows, cols]).mean()) for f in near}
        best, second = sorted(mouth.values())[:2]
        assert min(mouth, key=mouth.__getitem__) == frame, mouth
        assert second > 1.2 * best, mouth
