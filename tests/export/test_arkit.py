"""ARKit-52 export: the Live Link Face CSV layout, the JSON, the bounded least-squares fit, and
user-supplied targets for FLAME-format models."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from fixtures_flame import random_flame_arrays, write_flame_pickle
from lsf_animation.errors import LsfError
from lsf_animation.export.arkit import ArkitExporter, fit_arkit, timecode, write_live_link_csv
from lsf_animation.export.arkit_fit import ArkitSolver
from lsf_animation.export.base import ExportInput
from lsf_animation.face.arkit import ARKIT_NAMES, ArkitTargets, arkit_targets_for
from lsf_animation.face.builtin import builtin_face
from lsf_animation.face.builtin_arkit import builtin_arkit_targets
from lsf_animation.face.load import load_face_model
from lsf_animation.face.motion import make_motion_file

# The header of the CSV files the Live Link Face app records, as public readers of those files
# carry it (e.g. nmfisher/blender_livelinkface, bpylivelinkface.py, LIVE_LINK_FACE_HEADER).
LIVE_LINK_FACE_HEADER = [
    "Timecode",
    "BlendShapeCount",
    "EyeBlinkLeft",
    "EyeLookDownLeft",
    "EyeLookInLeft",
    "EyeLookOutLeft",
    "EyeLookUpLeft",
    "EyeSquintLeft",
    "EyeWideLeft",
    "EyeBlinkRight",
    "EyeLookDownRight",
    "EyeLookInRight",
    "EyeLookOutRight",
    "EyeLookUpRight",
    "EyeSquintRight",
    "EyeWideRight",
    "JawForward",
    "JawRight",
    "JawLeft",
    "JawOpen",
    "MouthClose",
    "MouthFunnel",
    "MouthPucker",
    "MouthRight",
    "MouthLeft",
    "MouthSmileLeft",
    "MouthSmileRight",
    "MouthFrownLeft",
    "MouthFrownRight",
    "MouthDimpleLeft",
    "MouthDimpleRight",
    "MouthStretchLeft",
    "MouthStretchRight",
    "MouthRollLower",
    "MouthRollUpper",
    "MouthShrugLower",
    "MouthShrugUpper",
    "MouthPressLeft",
    "MouthPressRight",
    "MouthLowerDownLeft",
    "MouthLowerDownRight",
    "MouthUpperUpLeft",
    "MouthUpperUpRight",
    "BrowDownLeft",
    "BrowDownRight",
    "BrowInnerUp",
    "BrowOuterUpLeft",
    "BrowOuterUpRight",
    "CheekPuff",
    "CheekSquintLeft",
    "CheekSquintRight",
    "NoseSneerLeft",
    "NoseSneerRight",
    "TongueOut",
    "HeadYaw",
    "HeadPitch",
    "HeadRoll",
    "LeftEyeYaw",
    "LeftEyePitch",
    "LeftEyeRoll",
    "RightEyeYaw",
    "RightEyePitch",
    "RightEyeRoll",
]


def _jaw_motion(num_frames: int = 30) -> np.ndarray:
    motion = np.zeros((num_frames, 53), np.float32)
    motion[:, 50] = 0.12 * (1 - np.cos(np.linspace(0, 4 * np.pi, num_frames)))
    return motion


def test_csv_has_live_link_faces_exact_columns_and_timecodes(tmp_path):
    weights = np.random.default_rng(0).uniform(size=(30, 52))
    path = write_live_link_csv(tmp_path / "a.csv", weights, 25.0)
    rows = list(csv.reader(path.open()))
    assert rows[0] == LIVE_LINK_FACE_HEADER
    assert all(len(r) == len(LIVE_LINK_FACE_HEADER) == 63 for r in rows)
    assert [r[0] for r in rows[1:4]] == ["00:00:00:00.000", "00:00:00:01.000", "00:00:00:02.000"]
    assert rows[26][0] == "00:00:01:00.000" and rows[1][1] == "61"
    np.testing.assert_allclose(np.array([r[2:54] for r in rows[1:]], float), weights, atol=1e-6)
    assert (np.array([r[54:] for r in rows[1:]], float) == 0).all()  # no head or eye rotation
    # ARKit's own camelCase names, in the same order.
    assert [n[0].upper() + n[1:] for n in ARKIT_NAMES] == LIVE_LINK_FACE_HEADER[2:54]


def test_timecodes_at_other_rates():
    assert timecode(0, 30.0) == "00:00:00:00.000"
    assert timecode(30 * 3725 + 7, 30.0) == "01:02:05:07.000"
    assert timecode(1, 29.97) == "00:00:00:01.000"
    assert timecode(30, 29.97) == "00:00:01:00.030"


def test_solver_recovers_weights_made_from_the_targets():
    targets = builtin_arkit_targets()
    rng = np.random.default_rng(1)
    true = np.where(rng.random((6, 52)) < 0.2, rng.uniform(0.1, 0.9, (6, 52)), 0.0)
    # Opposite motions cancel and are not identifiable together: keep one of each pair.
    for side in ("Left", "Right"):
        for _, b in (
            ("eyeLookIn", "eyeLookOut"),
            ("eyeLookUp", "eyeLookDown"),
            ("eyeBlink", "eyeWide"),
        ):
            true[:, ARKIT_NAMES.index(b + side)] = 0.0
    true[:, ARKIT_NAMES.index("jawRight")] = 0.0
    true[:, ARKIT_NAMES.index("mouthRight")] = 0.0
    displacement = np.einsum("tk,kvc->tvc", true, targets.deltas)
    weights, residual = ArkitSolver(targets, builtin_face().regions["lips"]).solve(displacement)
    assert np.abs(weights - true).max() < 0.05
    assert weights.min() >= 0.0 and weights.max() <= 1.0
    assert np.percentile(residual, 95) < 0.05  # mm


def test_weights_stay_in_bounds_for_motions_beyond_the_targets():
    face = builtin_face()
    motion = _jaw_motion()
    motion[:, 50] *= 4.0  # far past jawOpen = 1 (0.4 rad)
    fit = fit_arkit(face, motion, None, builtin_arkit_targets())
    assert fit.weights.min() >= 0.0 and fit.weights.max() <= 1.0
    assert fit.weights[:, ARKIT_NAMES.index("jawOpen")].max() == pytest.approx(1.0)


def test_exporter_writes_csv_and_json_for_the_builtin_face(tmp_path):
    face = builtin_face()
    motion = np.stack([_jaw_motion(), np.zeros((30, 53), np.float32)])
    exporter = ArkitExporter()
    exporter.write(ExportInput(make_motion_file(motion), face, Path("in/speech.wav")), tmp_path)
    assert exporter.outputs() == {"arkit_csv": "arkit.csv", "arkit_json": "arkit.json"}
    paths = [tmp_path / "arkit.csv", tmp_path / "arkit.json"]
    doc = json.loads(paths[1].read_text())
    assert doc["names"] == list(ARKIT_NAMES) and doc["frames"] == 30 and doc["fps"] == 25.0
    assert doc["audio"] == "speech.wav" and doc["targets"] == "builtin"
    assert "lsq_linear" in doc["solver"] and "bvls" in doc["solver"]
    weights = np.asarray(doc["weights"])
    assert weights.shape == (30, 52)
    jaw = weights[:, ARKIT_NAMES.index("jawOpen")]
    assert np.corrcoef(jaw, motion[0, :, 50])[0, 1] > 0.99  # sample 0's jaw, not sample 1's
    assert doc["lip_residual_mm"]["p95"] < 0.5
    rows = list(csv.reader(paths[0].open()))
    np.testing.assert_allclose(np.array([r[2:54] for r in rows[1:]], float), weights, atol=2e-6)


def test_exporter_uses_vertices_given_in_chunks(tmp_path):
    from lsf_animation.face.flame import FlameLayer, motion_to_vertices

    face = builtin_face()
    motion = _jaw_motion()
    verts = motion_to_vertices(FlameLayer(face), motion, None)
    whole = fit_arkit(face, motion, None, builtin_arkit_targets())
    chunked = fit_arkit(
        face, np.zeros_like(motion), None, builtin_arkit_targets(), [verts[:7], verts[7:]]
    )
    np.testing.assert_allclose(chunked.weights, whole.weights, atol=1e-6)


@pytest.fixture(scope="module")
def flame_face(tmp_path_factory):
    folder = tmp_path_factory.mktemp("flame")
    arrays = random_flame_arrays(num_vertices=120, num_faces=200, seed=4)
    return load_face_model(write_flame_pickle(folder / "generic_model.pkl", arrays))


def test_flame_needs_user_targets_and_says_how(tmp_path, flame_face):
    with pytest.raises(LsfError, match=r"no ARKit targets.*--arkit-targets.*\.npz.*OBJ"):
        arkit_targets_for(flame_face)
    with pytest.raises(LsfError, match="no ARKit targets"):
        item = ExportInput(make_motion_file(np.zeros((3, 53))), flame_face)
        ArkitExporter().write(item, tmp_path)
    assert not any(tmp_path.iterdir())


def _user_targets(face, rng) -> dict[str, np.ndarray]:
    return {
        name: face.v_template + rng.normal(scale=2e-3, size=face.v_template.shape)
        for name in ARKIT_NAMES
    }


def test_flame_targets_from_npz_and_obj_folder_are_fitted(tmp_path, flame_face):
    rng = np.random.default_rng(7)
    shapes = _user_targets(flame_face, rng)
    # .npz with Live Link's PascalCase names and an explicit neutral.
    npz = tmp_path / "targets.npz"
    np.savez(
        npz,
        neutral=flame_face.v_template,
        **{n[0].upper() + n[1:]: v for n, v in shapes.items()},
    )
    folder = tmp_path / "objs"
    folder.mkdir()
    for name, verts in shapes.items():
        (folder / f"{name}.obj").write_text(
            "".join(f"v {x:.17g} {y:.17g} {z:.17g}\n" for x, y, z in verts)
        )
    for source in (npz, folder):
        targets = arkit_targets_for(flame_face, source)
        assert isinstance(targets, ArkitTargets) and targets.source == str(source)
        np.testing.assert_allclose(
            targets.delta("jawOpen"), shapes["jawOpen"] - flame_face.v_template, atol=1e-12
        )
    # Vertices made from the targets are fitted back (the FLAME motion itself plays no part).
    targets = arkit_targets_for(flame_face, npz)
    true = np.zeros((4, 52))
    true[:, ARKIT_NAMES.index("mouthClose")] = [0.0, 0.3, 0.6, 0.9]
    true[:, ARKIT_NAMES.index("eyeBlinkLeft")] = [0.5, 0.0, 0.2, 1.0]
    verts = flame_face.v_template + np.einsum("tk,kvc->tvc", true, targets.deltas)
    fit = fit_arkit(flame_face, np.zeros((4, 53)), None, targets, [verts])
    np.testing.assert_allclose(fit.weights, true, atol=0.02)


def test_bad_user_targets_are_explained(tmp_path, flame_face):
    rng = np.random.default_rng(8)
    shapes = _user_targets(flame_face, rng)
    partial = dict(shapes)
    del partial["tongueOut"], partial["cheekPuff"]
    np.savez(tmp_path / "partial.npz", **partial)
    with pytest.raises(LsfError, match="missing for cheekPuff, tongueOut"):
        arkit_targets_for(flame_face, tmp_path / "partial.npz")
    wrong = {n: v[:-1] for n, v in shapes.items()}
    np.savez(tmp_path / "wrong.npz", **wrong)
    with pytest.raises(LsfError, match=r"has shape \(119, 3\).*120 vertices"):
        arkit_targets_for(flame_face, tmp_path / "wrong.npz")
    with pytest.raises(LsfError, match="not found"):
        arkit_targets_for(flame_face, tmp_path / "nope.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(LsfError, match="not a readable"):
        arkit_targets_for(flame_face, tmp_path / "junk.npz")
