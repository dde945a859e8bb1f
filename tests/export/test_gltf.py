"""The .glb export: evaluated by the glTF specification's rules it reproduces the FLAME layer on
every frame (built-in face and a FLAME-format model), and the Khronos validator accepts it."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from fixtures_flame import random_flame_arrays, write_flame_pickle
from gltf_reference import Gltf
from lsf_animation.errors import LsfError
from lsf_animation.export.base import ExportInput
from lsf_animation.export.gltf import GltfExporter, gltf_bytes, write_glb
from lsf_animation.face.builtin import builtin_face
from lsf_animation.face.flame import FlameLayer
from lsf_animation.face.load import load_face_model
from lsf_animation.face.motion import make_motion_file
from node_tools import validate_gltf

TOLERANCE = 1e-5  # metres, the bar; measured errors are ~1e-8 to 2e-7 m


def _speech_like_motion(num_samples: int, num_frames: int, seed: int) -> np.ndarray:
    """(K, T, 53): expression ~ N(0, 1), the jaw opening 0-0.35 rad with some side motion."""
    rng = np.random.default_rng(seed)
    motion = np.zeros((num_samples, num_frames, 53), np.float32)
    motion[..., :50] = rng.normal(size=(num_samples, num_frames, 50))
    motion[..., 50] = rng.uniform(0.0, 0.35, size=(num_samples, num_frames))
    motion[..., 51:] = rng.normal(scale=0.05, size=(num_samples, num_frames, 2))
    return motion


def _flame_vertices(face, expression, poses, shape) -> np.ndarray:
    """Our FLAME layer in float64: expression (T, E), poses (T, 5, 3), shape (S,) -> (T, V, 3)."""
    layer = FlameLayer(face, torch.float64)

    def d(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(a, np.float64))

    t = len(expression)
    return layer(
        shape=d(shape)[None],
        expression=d(expression),
        global_pose=d(poses[:, 0]),
        neck_pose=d(poses[:, 1]),
        jaw_pose=d(poses[:, 2]),
        eye_pose=d(poses[:, 3:].reshape(t, 6)),
    ).numpy()


def _max_error(path: Path, face, expression, poses, shape, fps: float) -> float:
    """Largest vertex distance (m) between the file, read by the spec, and the FLAME layer, over
    every frame of every sample (animation k = sample k)."""
    gltf = Gltf.read(path)
    worst = 0.0
    for k in range(expression.shape[0]):
        ref = _flame_vertices(face, expression[k], poses[k], shape)
        for f in range(expression.shape[1]):
            got = gltf.vertices(0, k, f / fps)
            worst = max(worst, float(np.linalg.norm(got - ref[f], axis=1).max()))
    return worst


def _motion_poses(motion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    poses = np.zeros((*motion.shape[:2], 5, 3))
    poses[:, :, 2] = motion[..., 50:]
    return motion[..., :50].astype(np.float64), poses


@pytest.fixture(scope="module")
def flame_fixture(tmp_path_factory) -> object:
    """A FLAME-format model (the real pickle format) with pose correctives, joints regressed
    from vertices that the expressions move, and five skinning influences per vertex."""
    folder = tmp_path_factory.mktemp("flame")
    arrays = random_flame_arrays(num_vertices=400, num_faces=700, seed=3)
    return load_face_model(write_flame_pickle(folder / "generic_model.pkl", arrays))


def test_builtin_face_glb_reproduces_the_flame_layer_on_every_frame(tmp_path):
    face = builtin_face()
    motion = _speech_like_motion(2, 30, seed=0)
    shape = np.random.default_rng(1).normal(size=300).astype(np.float32)
    path = write_glb(tmp_path / "a.glb", face, motion, shape, 25.0, audio="clips/speech.wav")
    expression, poses = _motion_poses(motion)
    assert _max_error(path, face, expression, poses, shape, 25.0) < TOLERANCE
    doc = Gltf.read(path).doc
    assert doc["scenes"][0]["extras"]["audio"] == "speech.wav"
    assert [a["name"] for a in doc["animations"]] == ["sample_0", "sample_1"]
    names = doc["meshes"][0]["extras"]["targetNames"]
    assert names == [f"expression_{k:02d}" for k in range(50)]  # no correctives: posedirs = 0
    assert [doc["nodes"][j]["name"] for j in doc["skins"][0]["joints"]] == [
        "root",
        "neck",
        "jaw",
        "left_eye",
        "right_eye",
    ]
    assert "COLOR_0" in doc["meshes"][0]["primitives"][0]["attributes"]


def test_flame_format_glb_reproduces_the_flame_layer_with_pose_correctives(tmp_path, flame_fixture):
    face = flame_fixture
    motion = _speech_like_motion(1, 25, seed=2)
    shape = np.random.default_rng(4).normal(size=300)
    path = write_glb(tmp_path / "f.glb", face, motion, shape, 25.0)
    expression, poses = _motion_poses(motion)
    assert _max_error(path, face, expression, poses, shape, 25.0) < TOLERANCE
    doc = Gltf.read(path).doc
    names = doc["meshes"][0]["extras"]["targetNames"]
    assert names[50:] == [f"pose_jaw_{r}{c}" for r in range(3) for c in range(3)]
    attributes = doc["meshes"][0]["primitives"][0]["attributes"]
    assert "JOINTS_1" in attributes  # five influences per vertex in this model
    material = doc["materials"][0]["pbrMetallicRoughness"]
    assert "COLOR_0" not in attributes and len(material["baseColorFactor"]) == 4


def test_every_joint_rotated_still_matches(tmp_path, flame_fixture):
    """Head, neck, jaw and eye rotations together: the hierarchy and the per-frame joint
    translations that compensate for expression-dependent joints are right for every joint."""
    face = flame_fixture
    rng = np.random.default_rng(5)
    expression = rng.normal(size=(1, 12, 80))
    poses = rng.normal(scale=0.3, size=(1, 12, 5, 3))
    shape = rng.normal(size=120)
    path = tmp_path / "all.glb"
    path.write_bytes(gltf_bytes(face, expression, poses, shape, 30.0))
    assert _max_error(path, face, expression, poses, shape, 30.0) < TOLERANCE
    assert len(Gltf.read(path).doc["meshes"][0]["extras"]["targetNames"]) == 80 + 4 * 9


def test_keys_are_on_the_frame_times_and_interpolate_between(tmp_path):
    face = builtin_face()
    motion = np.zeros((1, 3, 53), np.float32)
    motion[0, :, 50] = [0.0, 0.2, 0.1]
    path = write_glb(tmp_path / "k.glb", face, motion, None, 25.0)
    gltf = Gltf.read(path)
    sampler = gltf.doc["animations"][0]["samplers"][0]
    np.testing.assert_allclose(gltf.accessor(sampler["input"])[:, 0], [0.0, 0.04, 0.08])
    lower_lip = face.regions["lips"][np.argmin(face.v_template[face.regions["lips"], 1])]
    heights = [gltf.vertices(0, 0, t)[lower_lip, 1] for t in (0.0, 0.02, 0.04)]
    assert heights[0] > heights[1] > heights[2]  # the jaw opens through the half-way time


@pytest.mark.parametrize("which", ["builtin", "flame"])
def test_khronos_validator_reports_no_errors_and_no_warnings(tmp_path, flame_fixture, which):
    face = builtin_face() if which == "builtin" else flame_fixture
    path = write_glb(tmp_path / "v.glb", face, _speech_like_motion(2, 10, 7), None, 25.0, "a.wav")
    report = validate_gltf(path)
    assert (report["errors"], report["warnings"]) == (0, 0), report["messages"]


def test_glb_container_is_well_formed(tmp_path):
    path = write_glb(tmp_path / "c.glb", builtin_face(), _speech_like_motion(1, 4, 8), None, 25.0)
    data = path.read_bytes()
    magic, version, length = struct.unpack_from("<III", data)
    json_length, json_type = struct.unpack_from("<II", data, 12)
    assert (magic, version, length) == (0x46546C67, 2, len(data))
    assert json_type == 0x4E4F534A and json_length % 4 == 0
    doc = json.loads(data[20 : 20 + json_length])
    bin_length, bin_type = struct.unpack_from("<II", data, 20 + json_length)
    assert bin_type == 0x004E4942 and bin_length == doc["buffers"][0]["byteLength"]
    assert [p.name for p in tmp_path.iterdir()] == ["c.glb"]  # no temporary file left


def test_exporter_writes_animation_glb_and_refuses_bad_motion(tmp_path):
    face = builtin_face()
    exporter = GltfExporter()
    exporter.write(ExportInput(make_motion_file(_speech_like_motion(1, 5, 9)), face), tmp_path)
    assert exporter.outputs() == {"gltf": "animation.glb"}
    assert (tmp_path / "animation.glb").stat().st_size > 0
    with pytest.raises(LsfError, match=r"expected \(K, T, 53\)"):
        write_glb(tmp_path / "bad.glb", face, np.zeros((4, 52)), None, 25.0)
    with pytest.raises(LsfError, match="NaN"):
        write_glb(tmp_path / "bad.glb", face, np.full((4, 53), np.nan), None, 25.0)
    with pytest.raises(LsfError, match="frame rate"):
        write_glb(tmp_path / "bad.glb", face, np.zeros((4, 53)), None, 0.0)
    assert not (tmp_path / "bad.glb").exists()
