"""The built-in face's 52 ARKit targets each do what their name says, on that face's geometry."""

from __future__ import annotations

import numpy as np
import pytest

from lsf_animation.face.arkit import ARKIT_NAMES
from lsf_animation.face.builtin import builtin_face
from lsf_animation.face.builtin_arkit import builtin_arkit_targets
from lsf_animation.face.builtin_mesh import (
    PART_LEFT_EYE,
    PART_MOUTH,
    PART_RIGHT_EYE,
    PART_SKIN,
    build_head_mesh,
)
from lsf_animation.face.builtin_sculpt import EYE_RADIUS, EYE_X

MM = 1e-3


class Face:
    """Landmarks of the built-in template and the targets applied to it."""

    def __init__(self) -> None:
        self.face = builtin_face()
        self.mesh = build_head_mesh()
        self.targets = builtin_arkit_targets()
        self.v = self.face.v_template
        m = self.mesh
        self.upper_mid = m.slit_upper[len(m.slit_upper) // 2]
        self.lower_mid = m.slit_lower[len(m.slit_lower) // 2]
        ends = [m.slit_upper[0], m.slit_upper[-1]]
        self.left_corner = max(ends, key=lambda i: self.v[i, 0])
        self.right_corner = min(ends, key=lambda i: self.v[i, 0])
        skin = np.flatnonzero(m.part == PART_SKIN)
        front = skin[self.v[skin, 2] > 0.03]
        self.chin = front[np.argmin(np.abs(self.v[front, 1] + 0.075) + np.abs(self.v[front, 0]))]

    def pose(self, **weights: float) -> np.ndarray:
        return self.v + sum(w * self.targets.delta(n) for n, w in weights.items())

    def moved(self, name: str, index: int | np.ndarray) -> np.ndarray:
        """Displacement of vertex (or mean of vertices) `index` at full activation, (3,)."""
        d = self.targets.delta(name)[index]
        return d if d.ndim == 1 else d.mean(0)

    def covered(self, vertices: np.ndarray, side: float) -> float:
        """Share of the skin of an eye's opening that lies in front of the eyeball (the lids
        cover the eye) rather than inside it (the eyeball shows)."""
        m = self.mesh
        opening = (m.part == PART_SKIN) & (m.eye_side == side) & (m.eye_s < -0.0005)
        centre = m.eye_centers[0 if side > 0 else 1]
        drawn = EYE_RADIUS - 0.0003
        return float((np.linalg.norm(vertices[opening] - centre, axis=1) > drawn).mean())

    def lid_margin(self, vertices: np.ndarray, side: float, upper: bool) -> float:
        """Mean height of an eye's upper (or lower) lid margin near its centre column."""
        m = self.mesh
        near = (m.part == PART_SKIN) & (m.eye_side == side) & (m.eye_s >= 0) & (m.eye_s < 0.0025)
        near &= np.abs(self.v[:, 0] - side * EYE_X) < 0.005
        near &= (m.eye_dy > 0) if upper else (m.eye_dy < 0)
        return float(vertices[near, 1].mean())

    def pupil(self, part: int) -> int:
        idx = np.flatnonzero(self.mesh.part == part)
        return int(idx[np.argmax(self.v[idx, 2])])

    def energy(self, name: str, left: bool) -> float:
        d = np.linalg.norm(self.targets.delta(name), axis=1)
        half = self.v[:, 0] > 0.002 if left else self.v[:, 0] < -0.002
        return float((d[half] ** 2).sum())


@pytest.fixture(scope="module")
def f() -> Face:
    return Face()


def test_there_are_52_distinct_named_targets_in_arkit_order(f):
    assert len(ARKIT_NAMES) == 52 == len(set(ARKIT_NAMES)) == f.targets.deltas.shape[0]
    assert f.targets.deltas.shape[1:] == (f.face.num_vertices, 3)
    # Every target moves something, and no two are the same field.
    flat = f.targets.deltas.reshape(52, -1)
    assert (np.abs(flat).max(1) > 0.5 * MM).all()
    cos = (flat @ flat.T) / np.outer(np.linalg.norm(flat, axis=1), np.linalg.norm(flat, axis=1))
    assert (cos[~np.eye(52, dtype=bool)] < 0.99).all()


HALF_FACE = [
    (n, n.replace("Left", "Right"))
    for n in ARKIT_NAMES
    if n.endswith("Left") and not n.startswith(("eyeLook", "jaw")) and n != "mouthLeft"
]


@pytest.mark.parametrize("left, right", HALF_FACE)
def test_left_targets_move_the_subjects_left_side_and_right_ones_the_right(f, left, right):
    """(eyeLook* turn one eyeball, jawLeft/mouthLeft move sideways: tested below.)"""
    assert f.energy(left, left=True) > 5 * f.energy(left, left=False)
    assert f.energy(right, left=False) > 5 * f.energy(right, left=True)


def test_jaw_open_drops_the_chin_and_parts_the_lips(f):
    chin = f.moved("jawOpen", f.chin)
    assert chin[1] < -8 * MM  # down (the chin sits ~7 cm in front of/below the hinge)
    gap = f.v[f.upper_mid, 1] - f.v[f.lower_mid, 1]
    opened = f.pose(jawOpen=1.0)
    assert opened[f.upper_mid, 1] - opened[f.lower_mid, 1] > gap + 10 * MM
    assert np.linalg.norm(f.moved("jawOpen", f.upper_mid)) < 1.5 * MM  # upper lip stays


def test_mouth_close_closes_the_lips_while_the_jaw_stays_open(f):
    for w in (0.4, 1.0):
        neutral_gap = f.v[f.upper_mid, 1] - f.v[f.lower_mid, 1]
        both = f.pose(jawOpen=w, mouthClose=w)
        assert abs((both[f.upper_mid, 1] - both[f.lower_mid, 1]) - neutral_gap) < 0.5 * MM
        jaw_only = f.pose(jawOpen=w)
        assert both[f.chin, 1] - f.v[f.chin, 1] < 0.7 * (jaw_only[f.chin, 1] - f.v[f.chin, 1])


def test_smiles_raise_and_frowns_lower_their_own_corner(f):
    assert f.moved("mouthSmileLeft", f.left_corner)[1] > 2 * MM
    assert abs(f.moved("mouthSmileLeft", f.right_corner)[1]) < 0.3 * MM
    assert f.moved("mouthSmileRight", f.right_corner)[1] > 2 * MM
    assert f.moved("mouthFrownLeft", f.left_corner)[1] < -2 * MM
    assert f.moved("mouthFrownRight", f.right_corner)[1] < -2 * MM
    assert f.moved("mouthStretchLeft", f.left_corner)[0] > 2 * MM  # outward (+x)
    assert f.moved("mouthStretchRight", f.right_corner)[0] < -2 * MM
    assert f.moved("mouthDimpleLeft", f.left_corner)[2] < -1.5 * MM  # back
    assert f.moved("mouthDimpleRight", f.right_corner)[2] < -1.5 * MM


def test_blinks_close_their_own_lids_and_wide_eyes_open_them(f):
    for side, suffix in ((1.0, "Left"), (-1.0, "Right")):
        # Shut: all the skin of the opening in front of the eyeball; open: little of it.
        assert f.covered(f.v, side) < 0.2
        blink = f.pose(**{f"eyeBlink{suffix}": 1.0})
        assert f.covered(blink, side) == 1.0
        assert f.covered(blink, -side) == f.covered(f.v, -side)  # the other eye stays open
        assert f.covered(f.v, side) < f.covered(f.pose(**{f"eyeBlink{suffix}": 0.3}), side) < 1
        wide = f.pose(**{f"eyeWide{suffix}": 1.0})
        assert f.lid_margin(wide, side, upper=True) > f.lid_margin(f.v, side, upper=True) + 0.5 * MM
        squint = f.pose(**{f"eyeSquint{suffix}": 1.0})
        assert f.lid_margin(squint, side, upper=False) > f.lid_margin(f.v, side, upper=False) + MM


def test_eye_look_targets_turn_the_right_eyeball_the_right_way(f):
    for part, suffix, nose in ((PART_LEFT_EYE, "Left", -1.0), (PART_RIGHT_EYE, "Right", 1.0)):
        pupil = f.pupil(part)
        assert f.moved(f"eyeLookUp{suffix}", pupil)[1] > 2 * MM
        assert f.moved(f"eyeLookDown{suffix}", pupil)[1] < -2 * MM
        assert nose * f.moved(f"eyeLookIn{suffix}", pupil)[0] > 2 * MM  # toward the nose
        assert nose * f.moved(f"eyeLookOut{suffix}", pupil)[0] < -2 * MM
        others = np.flatnonzero(f.mesh.part != part)
        assert np.abs(f.targets.delta(f"eyeLookUp{suffix}")[others]).max() == 0.0


def test_jaw_and_mouth_sideways_and_forward(f):
    assert f.moved("jawLeft", f.chin)[0] > 5 * MM and f.moved("jawRight", f.chin)[0] < -5 * MM
    assert f.moved("jawForward", f.chin)[2] > 3 * MM
    lips = f.face.regions["lips"]
    assert f.moved("mouthLeft", lips)[0] > 2 * MM and f.moved("mouthRight", lips)[0] < -2 * MM


def test_pucker_funnel_press_roll_shrug(f):
    lips = f.face.regions["lips"]
    assert f.moved("mouthPucker", lips)[2] > 2 * MM  # lips forward
    corner_in = f.moved("mouthPucker", f.left_corner)[0]
    assert corner_in < -1 * MM  # the left corner moves toward the midline
    funnel = f.pose(mouthFunnel=1.0)
    gap = f.v[f.upper_mid, 1] - f.v[f.lower_mid, 1]
    assert funnel[f.upper_mid, 1] - funnel[f.lower_mid, 1] > gap + 2 * MM  # lips part
    assert f.moved("mouthFunnel", lips)[2] > 2 * MM
    press = f.pose(mouthPressLeft=1.0, mouthPressRight=1.0)
    assert press[f.upper_mid, 2] < f.v[f.upper_mid, 2] - 1 * MM  # pressed back
    assert f.moved("mouthRollLower", f.lower_mid)[2] < -2 * MM
    assert f.moved("mouthRollUpper", f.upper_mid)[2] < -2 * MM
    assert f.moved("mouthShrugLower", f.lower_mid)[1] > 2 * MM
    assert f.moved("mouthShrugUpper", f.upper_mid)[1] > 1.5 * MM
    assert f.moved("mouthUpperUpLeft", f.upper_mid)[1] > 1 * MM
    assert f.moved("mouthLowerDownLeft", f.lower_mid)[1] < -1 * MM


def test_brows_cheeks_nose_and_tongue(f):
    x, y, z = f.v[:, 0], f.v[:, 1], f.v[:, 2]
    skin = (f.mesh.part == PART_SKIN) & (z > 0.04)
    inner_brow = np.flatnonzero(
        skin & (np.abs(np.abs(x) - 0.013) < 0.004) & (np.abs(y - 0.05) < 0.004)
    )
    left_brow = np.flatnonzero(skin & (np.abs(x - 0.025) < 0.006) & (np.abs(y - 0.047) < 0.004))
    left_outer = np.flatnonzero(skin & (np.abs(x - 0.043) < 0.004) & (np.abs(y - 0.047) < 0.004))
    left_cheek = np.flatnonzero(skin & (np.abs(x - 0.040) < 0.005) & (np.abs(y + 0.005) < 0.005))
    left_ala = np.flatnonzero(skin & (np.abs(x - 0.012) < 0.004) & (np.abs(y - 0.005) < 0.005))
    assert f.moved("browInnerUp", inner_brow)[1] > 2 * MM
    assert f.moved("browDownLeft", left_brow)[1] < -2 * MM
    assert f.moved("browOuterUpLeft", left_outer)[1] > 2 * MM
    assert f.moved("cheekSquintLeft", left_cheek)[1] > 2 * MM
    assert f.moved("noseSneerLeft", left_ala)[1] > 1.5 * MM
    puff_cheek = np.flatnonzero(skin & (np.abs(x - 0.042) < 0.005) & (np.abs(y + 0.03) < 0.005))
    assert f.moved("cheekPuff", puff_cheek)[0] > 2 * MM  # the left cheek bulges out (+x)
    # No tongue on this face: the floor of the mouth comes out past the lips' front.
    pocket = np.flatnonzero(f.mesh.part == PART_MOUTH)
    out = f.pose(tongueOut=1.0)
    lip_front = z[f.face.regions["lips"]].max()
    assert out[pocket, 2].max() > lip_front + 1 * MM
    assert f.v[pocket, 2].max() < lip_front
