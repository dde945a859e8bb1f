"""The viewer's server: loopback only, serves the page, the manifest and the folder's animation
files, and nothing else."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from lsf_animation.errors import LsfError
from lsf_animation.export.gltf import write_glb
from lsf_animation.face.builtin import builtin_face
from lsf_animation.web.server import Manifest, ViewerServer, serve


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("out")
    write_glb(out / "animation.glb", builtin_face(), np.zeros((1, 3, 53)), None, 25.0, "speech.wav")
    (out / "speech.wav").write_bytes(b"RIFF....WAVE")
    (out / "heatmap_mean.png").write_bytes(b"\x89PNG mean")
    (out / "heatmap_std.png").write_bytes(b"\x89PNG std")
    (out / "motion.npz").write_bytes(b"private")
    return out


def _get(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read(), response.headers["Content-Type"]
    except urllib.error.HTTPError as err:
        return err.code, b"", ""


def test_manifest_finds_the_glb_its_audio_and_the_heatmaps(out_dir, tmp_path):
    m = Manifest.of(out_dir)
    assert m.glb.name == "animation.glb" and m.audio == out_dir / "speech.wav"
    assert [p.name for p in m.heatmaps] == ["heatmap_mean.png", "heatmap_std.png"]
    other = tmp_path / "other.wav"
    other.write_bytes(b"RIFF")
    assert Manifest.of(out_dir, audio=other).audio == other.resolve()
    with pytest.raises(LsfError, match="audio file not found"):
        Manifest.of(out_dir, audio=tmp_path / "missing.wav")


def test_manifest_explains_a_folder_without_one_glb(tmp_path):
    with pytest.raises(LsfError, match=r"needs animation.glb .*found none.*--gltf"):
        Manifest.of(tmp_path)
    (tmp_path / "a.glb").write_bytes(b"x")
    (tmp_path / "b.glb").write_bytes(b"x")
    with pytest.raises(LsfError, match=r"a\.glb, b\.glb"):
        Manifest.of(tmp_path)
    with pytest.raises(LsfError, match="is not a folder"):
        Manifest.of(tmp_path / "nope")


def test_server_serves_the_page_and_only_the_animation_files(out_dir):
    with ViewerServer(out_dir) as server:
        url = server.url
        assert url.startswith("http://127.0.0.1:")
        status, body, kind = _get(url)
        assert status == 200 and b'type="importmap"' in body and kind.startswith("text/html")
        status, body, kind = _get(url + "static/viewer.js")
        assert status == 200 and kind.startswith("text/javascript")
        status, body, _ = _get(url + "static/vendor/three/build/three.module.min.js")
        assert status == 200 and len(body) > 100_000
        status, body, _ = _get(url + "api/manifest.json")
        manifest = json.loads(body)
        assert manifest["glb"] == "files/animation.glb" and manifest["audio_name"] == "speech.wav"
        assert [h["name"] for h in manifest["heatmaps"]] == ["mean", "std"]
        status, body, kind = _get(url + manifest["glb"])
        assert status == 200 and body == (out_dir / "animation.glb").read_bytes()
        assert kind == "model/gltf-binary"
        assert _get(url + manifest["audio"])[1] == b"RIFF....WAVE"
        for private in (
            "files/motion.npz",
            "files/../motion.npz",
            "files/%2e%2e/motion.npz",
            "static/../server.py",
            "static/%2e%2e/server.py",
            "files/speech.wav",  # served as files/audio.wav only
        ):
            assert _get(url + private)[0] == 404, private


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.org"])
def test_server_refuses_to_listen_beyond_the_loopback(out_dir, host):
    with pytest.raises(LsfError, match="loopback"):
        ViewerServer(out_dir, host=host)


def test_serve_prints_the_url_and_stops(out_dir):
    lines: list[str] = []
    stop = threading.Event()
    thread = threading.Thread(
        target=serve, args=(out_dir,), kwargs={"echo": lines.append, "stop": stop}
    )
    thread.start()
    for _ in range(100):
        if lines:
            break
        threading.Event().wait(0.05)
    url = lines[0].split()[1]
    assert url.startswith("http://127.0.0.1:") and "audio: speech.wav" in lines[0]
    assert _get(url)[0] == 200
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()
