"""The built-in face: FLAME format, deterministic, a closed head that opens its mouth and emotes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from lsf_animation.face import builtin
from lsf_animation.face.builtin import (
    EXPRESSION_NAMES,
    SHAPE_NAMES,
    builtin_face,
    builtin_face_arrays,
)
from lsf_animation.face.builtin_bases import EYE_SHUT_AT
from lsf_animation.face.builtin_mesh import EYEBALL_RADIUS, build_head_mesh
from lsf_animation.face.flame import FlameLayer
from lsf_animation.face.load import load_face_model

ROOT, NECK, JAW, LEFT_EYE, RIGHT_EYE = range(5)


@pytest.fixture(scope="module")
def face():
    return builtin_face()


@pytest.fixture(scope="module")
def mesh():
    return build_head_mesh()


@pytest.fixture(scope="module")
def layer(face):
    return FlameLayer(face, dtype=torch.float64)


def pose(layer, **params) -> np.ndarray:
    tensors = {k: torch.tensor(np.asarray(v, float)[None]) for k, v in params.items()}
    return layer(**tensors)[0].numpy()


def mid_slit(face, mesh) -> tuple[int, int]:
    """(upper-lip, lower-lip) vertex at the middle of the lip slit."""
    mid = len(mesh.slit_upper) // 2
    return int(mesh.slit_upper[mid]), int(mesh.slit_lower[mid])


def test_two_builds_are_identical():
    first = builtin._build.__wrapped__()
    second = builtin._build.__wrapped__()
    assert first.keys() == second.keys()
    for key in first:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)
    cached = builtin_face_arrays()
    for key in first:
        np.testing.assert_array_equal(first[key], cached[key], err_msg=key)
    assert builtin_face() is builtin_face()


def test_flame_keys_and_shapes():
    a = builtin_face_arrays()
    v = a["v_template"].shape[0]
    assert 4000 <= v <= 7000
    assert a["v_template"].shape == (v, 3)
    assert a["shapedirs"].shape == (v, 3, 400)
    assert a["posedirs"].shape == (v, 3, 36)
    assert a["J_regressor"].shape == (5, v)
    assert a["weights"].shape == (v, 5)
    assert a["kintree_table"].shape == (2, 5)
    parents = a["kintree_table"][0].astype(np.int64)
    parents[0] = -1
    assert parents.tolist() == [-1, 0, 1, 1, 1]
    assert a["f"].ndim == 2 and a["f"].shape[1] == 3 and a["f"].dtype == np.int64
    assert a["vertex_colors"].shape == (v, 3)
    for key, value in a.items():
        assert np.all(np.isfinite(value)), key


def test_face_model_matches_the_arrays(face):
    a = builtin_face_arrays()
    v = face.num_vertices
    assert face.name == "builtin"
    assert face.num_shape == 300 and face.num_expression == 100
    np.testing.assert_array_equal(face.shapedirs, a["shapedirs"][:, :, :300])
    np.testing.assert_array_equal(face.exprdirs, a["shapedirs"][:, :, 300:])
    assert face.posedirs.shape == (36, v * 3)
    assert face.parents.tolist() == [-1, 0, 1, 1, 1]
    assert face.vertex_colors.min() >= 0.0 and face.vertex_colors.max() <= 1.0


def test_head_has_flame_size_and_axes(face):
    v = face.v_template[face.regions["face"]]
    skin = face.v_template
    width = skin[:, 0].max() - skin[:, 0].min()
    crown = skin[:, 1].max()
    chin = v[:, 1].min()
    assert 0.13 < width < 0.19  # ears included
    assert 0.19 < crown - chin < 0.25
    nose_tip = skin[np.argmax(skin[:, 2])]
    assert abs(nose_tip[0]) < 1e-3  # the face looks along +z, centred on x = 0
    left_eye = skin[face.regions["left_eyeball"]].mean(0)
    assert left_eye[0] > 0.02  # +x is the subject's left


def test_npz_round_trip_through_load_face_model(tmp_path, face):
    path = tmp_path / "builtin.npz"
    np.savez(path, **builtin_face_arrays())
    loaded = load_face_model(path)
    np.testing.assert_allclose(loaded.v_template, face.v_template)
    np.testing.assert_allclose(loaded.shapedirs, face.shapedirs)
    np.testing.assert_allclose(loaded.exprdirs, face.exprdirs)
    np.testing.assert_allclose(loaded.j_regressor, face.j_regressor)
    np.testing.assert_allclose(loaded.weights, face.weights)
    np.testing.assert_array_equal(loaded.faces, face.faces)
    assert loaded.parents.tolist() == face.parents.tolist()
    np.testing.assert_allclose(loaded.vertex_colors, face.vertex_colors)
    for name, idx in face.regions.items():
        np.testing.assert_array_equal(loaded.regions[name], idx)
    assert load_face_model("builtin") is face


def test_mesh_is_closed_oriented_and_non_degenerate(face):
    f, v = face.faces, face.v_template
    assert f.min() >= 0 and f.max() < len(v)
    assert len(np.unique(f)) == len(v)  # no unused vertices
    tri = v[f]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    assert area.min() > 1e-9  # m^2: no degenerate triangles
    directed = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    # Closed and consistently oriented: each directed edge once, and its reverse exists.
    assert len(np.unique(directed, axis=0)) == len(directed)
    forward = {tuple(e) for e in directed.tolist()}
    assert all((b, a) in forward for a, b in forward)
    volume = np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6.0
    assert volume > 0.0  # triangles counter-clockwise seen from outside


def test_lip_slit_is_open_topology(face, mesh):
    upper, lower = set(mesh.slit_upper[1:-1].tolist()), set(mesh.slit_lower[1:-1].tolist())
    assert upper.isdisjoint(lower)
    np.testing.assert_allclose(face.v_template[mesh.slit_upper], face.v_template[mesh.slit_lower])
    for tri in face.faces.tolist():
        assert not (upper & set(tri) and lower & set(tri))


def test_weights_are_convex_and_put_parts_on_the_right_joints(face, mesh):
    w = face.weights
    assert w.min() >= 0.0
    np.testing.assert_allclose(w.sum(1), 1.0)
    for region, joint in (("left_eyeball", LEFT_EYE), ("right_eyeball", RIGHT_EYE)):
        np.testing.assert_allclose(w[face.regions[region], joint], 1.0)
    up, low = mid_slit(face, mesh)
    assert w[low, JAW] == pytest.approx(1.0) and w[up, JAW] == pytest.approx(0.0)
    v = face.v_template
    assert w[np.argmax(v[:, 1]), NECK] == pytest.approx(1.0)  # crown
    assert w[np.argmin(v[:, 1]), ROOT] == pytest.approx(1.0)  # neck base
    chin = np.flatnonzero(
        (np.abs(v[:, 0]) < 0.005) & (np.abs(v[:, 1] + 0.075) < 0.004) & (v[:, 2] > 0.04)
    )
    assert w[chin, JAW].min() > 0.9
    forehead = np.flatnonzero((np.abs(v[:, 0]) < 0.02) & (v[:, 1] > 0.06) & (v[:, 2] > 0.05))
    assert w[forehead, JAW].max() == 0.0


def test_joints_regress_to_plausible_places(face):
    reg, v = face.j_regressor, face.v_template
    np.testing.assert_allclose(reg.sum(1), 1.0)  # joints follow translations of the mesh
    joints = reg @ v
    shifted = reg @ (v + np.array([0.01, -0.02, 0.03]))
    np.testing.assert_allclose(shifted - joints, np.tile([0.01, -0.02, 0.03], (5, 1)), atol=1e-12)
    face_v = v[face.regions["face"]]
    low = face_v[(face_v[:, 1] < -0.065) & (face_v[:, 1] > -0.095)]
    chin = low[np.argmax(low[:, 2])]  # the chin's most forward point
    jaw = joints[JAW]
    assert abs(jaw[0]) < 1e-6
    assert jaw[1] > chin[1] + 0.04 and jaw[2] < chin[2] - 0.05  # above and behind the chin
    assert jaw[1] < joints[LEFT_EYE, 1]
    assert joints[ROOT, 1] < joints[NECK, 1] < jaw[1]
    for region, joint in (("left_eyeball", LEFT_EYE), ("right_eyeball", RIGHT_EYE)):
        dist = np.linalg.norm(v[face.regions[region]] - joints[joint], axis=1)
        np.testing.assert_allclose(dist, EYEBALL_RADIUS, rtol=1e-9)  # the eyeball's centre
    big = v + 2.0 * face.shapedirs[:, :, 0]  # "scale": joints move with the shape
    assert np.linalg.norm(reg @ big - joints, axis=1).max() > 1e-3


def test_positive_jaw_rotation_opens_the_mouth(layer, face, mesh):
    up, low = mid_slit(face, mesh)
    gaps, lows = [], []
    for angle in (0.0, 0.1, 0.2, 0.3, 0.5):
        v = pose(layer, jaw_pose=[angle, 0.0, 0.0])
        gaps.append(v[up, 1] - v[low, 1])
        lows.append(v[low])
    assert gaps[0] == pytest.approx(0.0, abs=1e-9)
    assert all(b > a + 3e-3 for a, b in itertools.pairwise(gaps))
    assert 0.01 < gaps[3] < 0.04  # 0.3 rad: one to four centimetres
    assert lows[3][2] < lows[0][2]  # the lower lip moves down and slightly back
    assert lows[0][2] - lows[3][2] < lows[0][1] - lows[3][1]
    v = pose(layer, jaw_pose=[0.3, 0.0, 0.0])
    moved = np.linalg.norm(v - face.v_template, axis=1)
    upper_face = face.regions["upper_face"]
    assert moved[upper_face].max() < 1e-9  # the jaw leaves the upper face alone


def test_open_mouth_shows_a_dark_cavity(face, mesh, layer):
    from lsf_animation.render.camera import Camera
    from lsf_animation.render.renderer import MeshRenderer

    v = pose(layer, jaw_pose=[0.3, 0.0, 0.0])
    up, low = mid_slit(face, mesh)
    camera = Camera(eye=(0.0, -0.02, 0.6), target=(0.0, -0.02, 0.0), fov_y_deg=25)
    renderer = MeshRenderer(face.faces, face.vertex_colors, camera=camera, width=96, height=96)
    mouth = camera.project(camera.to_camera(0.5 * (v[up] + v[low])[None]), 96, 96)[0]
    cheek = camera.project(camera.to_camera(v[up][None] + [0.04, 0.03, 0.0]), 96, 96)[0]
    image = renderer.render(v).astype(float)
    inside = image[int(mouth[1]), int(mouth[0])]
    skin = image[int(cheek[1]), int(cheek[0])]
    assert inside.mean() < 0.5 * skin.mean()
    closed = renderer.render(face.v_template).astype(float)[int(mouth[1]), int(mouth[0])]
    assert closed.mean() > inside.mean() + 30


def test_expression_names_are_unique_and_designed():
    assert len(set(EXPRESSION_NAMES)) == len(EXPRESSION_NAMES) >= 15
    assert len(set(SHAPE_NAMES)) == len(SHAPE_NAMES) >= 10
    for name in ("mouth_open", "lip_pucker", "lip_corner_up", "brow_inner_raise", "brow_lower"):
        assert name in EXPRESSION_NAMES


MOUTH_EXPRESSIONS = (
    "mouth_open", "lip_pucker", "lip_corner_up", "lip_corner_down", "lip_stretch",
    "upper_lip_raise", "lower_lip_depress", "lip_press", "mouth_left", "lip_funnel",
)  # fmt: skip
UPPER_EXPRESSIONS = (
    "brow_inner_raise", "brow_outer_raise", "brow_lower", "eye_close_left", "eye_close_right",
    "nose_wrinkle",
)  # fmt: skip


@pytest.mark.parametrize("name", EXPRESSION_NAMES)
def test_each_named_expression_moves_its_region(face, name):
    d = np.linalg.norm(face.exprdirs[:, :, EXPRESSION_NAMES.index(name)], axis=1)
    assert 1.5e-3 < d.max() < 6e-3  # FLAME-like: a few millimetres per unit
    lips = d[face.regions["lips"]].mean()
    upper = d[face.regions["upper_face"]].mean()
    if name in MOUTH_EXPRESSIONS:
        assert lips > 3.0 * upper
    elif name in UPPER_EXPRESSIONS:
        assert upper > 3.0 * lips
    else:  # cheeks
        assert abs(face.v_template[np.argmax(d), 0]) > 0.025
    assert d[face.regions["eyeballs"]].max() == 0.0  # eyeballs only turn with the eye joints
    if name == "eye_close_left":
        assert d[face.v_template[:, 0] < 0.0].max() == 0.0


def test_eye_close_brings_the_lid_over_the_eyeball(face, mesh):
    k = EXPRESSION_NAMES.index("eye_close_left")
    # Skin of the opening, clearly inside the (slightly smaller) drawn eyeball.
    opening = np.flatnonzero((mesh.eye_recess > 0.0006) & (mesh.eye_side > 0))
    assert len(opening) >= 8
    centre = (face.j_regressor @ face.v_template)[LEFT_EYE]

    def outside_eyeball(coefficient: float) -> np.ndarray:
        v = face.v_template[opening] + coefficient * face.exprdirs[opening, :, k]
        return np.linalg.norm(v - centre, axis=1) > EYEBALL_RADIUS

    assert not outside_eyeball(0.0).any()  # open: the eyeball shows through the opening
    assert outside_eyeball(EYE_SHUT_AT).all()  # shut: skin covers it
    half = outside_eyeball(0.5 * EYE_SHUT_AT)
    upper = mesh.eye_dy[opening] > 0.002
    assert half[upper].mean() > half[~upper].mean()  # the upper lid comes down


def _edge_gradient(face, dirs: np.ndarray) -> np.ndarray:
    """Max over outer-surface edges of |d_i - d_j| / |v_i - v_j| per direction (K,).

    The mouth pocket is left out: its inner lips follow the lips and its teeth barely move,
    so it stretches by design.
    """
    f = face.faces
    edges = np.unique(
        np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), 1), axis=0
    )
    pocket = np.zeros(len(face.v_template), bool)
    pocket[face.regions["mouth_interior"]] = True
    edges = edges[~pocket[edges].any(1)]
    v = face.v_template
    length = np.linalg.norm(v[edges[:, 0]] - v[edges[:, 1]], axis=1)
    diff = np.linalg.norm(dirs[edges[:, 0]] - dirs[edges[:, 1]], axis=1)  # (E, K)
    return (diff / length[:, None]).max(0)


def test_shape_directions_are_smooth_decaying_and_keep_eyes_rigid(face):
    dirs = face.shapedirs
    assert _edge_gradient(face, dirs).max() < 0.4  # neighbouring vertices move alike
    peak = np.linalg.norm(dirs, axis=1).max(0)
    designed = len(SHAPE_NAMES)
    assert np.all(peak[:designed] > 1e-3)
    assert np.all(np.diff(peak[designed:]) <= 1e-12)  # the random tail decays
    assert peak[:designed].mean() > 2.0 * peak[designed:100].mean() > 2.0 * peak[200:].mean()
    for region in ("left_eyeball", "right_eyeball"):
        eye = dirs[face.regions[region]]
        np.testing.assert_allclose(eye, np.broadcast_to(eye[:1], eye.shape), atol=1e-15)


def test_expression_directions_are_smooth_and_decaying(face):
    dirs = face.exprdirs
    designed = len(EXPRESSION_NAMES)
    assert _edge_gradient(face, dirs[:, :, designed:]).max() < 0.6
    peak = np.linalg.norm(dirs, axis=1).max(0)
    assert np.all(np.diff(peak[designed:]) <= 1e-12)
    assert peak[:designed].mean() > 2.0 * peak[designed:].mean()


def test_random_people_are_head_sized(layer, face):
    rng = np.random.default_rng(0)
    reg = face.j_regressor
    for _ in range(10):
        v = pose(layer, shape=rng.normal(size=300), expression=rng.normal(size=100))
        assert np.all(np.isfinite(v))
        assert 0.12 < v[:, 0].max() - v[:, 0].min() < 0.21
        assert 0.18 < v[:, 1].max() - v[face.regions["face"], 1].min() < 0.28
        joints = reg @ v
        assert joints[JAW, 1] < joints[LEFT_EYE, 1]


def test_regions_are_where_they_belong(face):
    v = face.v_template
    for name, idx in face.regions.items():
        assert len(idx) > 0 and len(np.unique(idx)) == len(idx), name
        assert idx.min() >= 0 and idx.max() < len(v), name
    lips = v[face.regions["lips"]]
    assert 60 <= len(lips) <= 600
    assert np.abs(lips[:, 0]).max() < 0.035 and np.abs(lips[:, 1] + 0.04).max() < 0.02
    upper = v[face.regions["upper_face"]]
    assert upper[:, 1].min() > lips[:, 1].max()
    assert set(face.regions["eyeballs"]) <= set(face.regions["upper_face"])
    assert set(face.regions) >= {"lips", "upper_face", "face", "mouth_interior", "eyeballs"}
