"""The built-in face's 52 ARKit targets, sculpted in code.

Each target is a displacement field on the built-in face's template (zero shape), metres, at
full activation, made from the face's own parts so that it does what its ARKit name says:

- joint motions through the FLAME layer (the face's skinning): jawOpen (0.4 rad about +x),
  jawLeft/Right (0.12 rad about y), eyeLook* (each eyeball 0.4 rad); jawForward moves what the
  jaw carries 4 mm forward. A rotation is not linear in its angle, so a rotation target is the
  straight line (in the weight) that best fits the arc over weights 0..0.5, the range speech
  uses (a jaw opening up to 0.2 rad), rather than the chord to weight 1: speech openings are
  then reproduced to a few tenths of a millimetre, and little curvature is left over for other
  targets (jawForward) to absorb;
- the face's designed expression directions (`builtin_bases.EXPRESSION_NAMES`) at a strong
  coefficient, split into left and right halves by a smooth mask across the midline (the two
  halves sum to the whole): blinks (shut at the coefficient that shuts the lid), wide eyes,
  smiles, frowns, stretches, presses, upper-lip raise, lower-lip depress, brows, cheek raise
  and puff, nose wrinkle, pucker, funnel, mouth left/right;
- sculpted fields for the rest: eye squints (lower lid up, upper lid a little down),
  mouthClose (brings the lower lip back up to the upper lip against jawOpen: jawOpen +
  mouthClose = jaw open, lips together), dimples (corners back and out), lip rolls, shrugs,
  tongueOut (the built-in face has no tongue: the floor of the mouth cavity comes forward out
  between the lips).

Left is the subject's left (+x), as in ARKit and FLAME.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
import torch

from lsf_animation.face.arkit import ARKIT_NAMES, ArkitTargets
from lsf_animation.face.builtin import builtin_face
from lsf_animation.face.builtin_bases import EXPRESSION_NAMES
from lsf_animation.face.builtin_mesh import PART_MOUTH, PART_SKIN, HeadMesh, build_head_mesh
from lsf_animation.face.builtin_sculpt import MOUTH_HALF_WIDTH, lip_line_y, ramp
from lsf_animation.face.flame import FlameLayer
from lsf_animation.face.model import JOINT_NAMES

MM = 1e-3
JAW_OPEN_RAD = 0.4
JAW_SIDE_RAD = 0.12
EYE_LOOK_RAD = 0.4
JAW_FORWARD_M = 4.0 * MM
STRONG = 2.5  # expression coefficient of a fully-on target (the eye shuts at 2.5)
EYE_WIDE = -0.9  # eye_close coefficient of wide-open lids
MIDLINE_WIDTH = 0.004  # metres over which the left/right masks cross at x = 0
ARC_RANGE = 0.5  # rotation targets are fitted to their arc over weights 0..0.5
_ARC_SAMPLES = 33


def _left(x: np.ndarray) -> np.ndarray:
    """Smooth 0..1 weight of the subject's left half; _left(x) + _left(-x) = 1."""
    return 0.5 * (1.0 + np.tanh(x / MIDLINE_WIDTH))


def _arc_fit(poses_at: Callable[[np.ndarray], np.ndarray], rest: np.ndarray) -> np.ndarray:
    """Least-squares line through the origin of the displacements poses_at(w) - rest over w in
    [0, ARC_RANGE]: argmin_a sum_w |d(w) - w a|^2 = sum_w w d(w) / sum_w w^2. `poses_at` maps
    (W,) weights to (W, V, 3) vertices."""
    ws = np.linspace(0.0, ARC_RANGE, _ARC_SAMPLES)
    d = poses_at(ws) - rest
    return np.einsum("w,wvc->vc", ws, d) / float((ws**2).sum())


class _Sculptor:
    """The built-in face, its template mesh labels and its FLAME layer, for making targets."""

    def __init__(self) -> None:
        self.face = builtin_face()
        self.mesh: HeadMesh = build_head_mesh()
        self.layer = FlameLayer(self.face, torch.float64)
        v = self.face.v_template
        self.x, self.y, self.z = v[:, 0], v[:, 1], v[:, 2]
        self.left = _left(self.x)
        self.rest = self._poses(np.zeros((1, 3)), np.zeros((1, 6)))[0]

    def _poses(self, jaw: np.ndarray, eyes: np.ndarray) -> np.ndarray:
        """(B, V, 3) template vertices under jaw (B, 3) and eye (B, 6) poses."""
        with torch.inference_mode():
            out = self.layer(jaw_pose=torch.from_numpy(jaw), eye_pose=torch.from_numpy(eyes))
        return out.numpy()

    def expression(self, name: str, coefficient: float = STRONG) -> np.ndarray:
        return coefficient * self.face.exprdirs[:, :, EXPRESSION_NAMES.index(name)]

    def side(self, field: np.ndarray, left: bool) -> np.ndarray:
        """The left (or right) half of a field."""
        mask = self.left if left else 1.0 - self.left
        return field * mask[:, None]

    def jaw(self, axis: int, angle: float) -> np.ndarray:
        def at(ws: np.ndarray) -> np.ndarray:
            jaw = np.zeros((len(ws), 3))
            jaw[:, axis] = ws * angle
            return self._poses(jaw, np.zeros((len(ws), 6)))

        return _arc_fit(at, self.rest)

    def eye(self, left: bool, axis: int, angle: float) -> np.ndarray:
        def at(ws: np.ndarray) -> np.ndarray:
            eyes = np.zeros((len(ws), 6))
            eyes[:, (0 if left else 3) + axis] = ws * angle
            return self._poses(np.zeros((len(ws), 3)), eyes)

        return _arc_fit(at, self.rest)

    def squint(self, eye_side: float) -> np.ndarray:
        """The lids of one eye narrowing: the lower lid up 1.6 mm (and forward, to stay on the
        eyeball), the upper lid margin down 0.5 mm."""
        m = self.mesh
        near = (m.eye_side == eye_side) & (m.part == PART_SKIN) & (m.eye_s >= 0.0)
        lower = np.where(near & (m.eye_dy < 0.0), ramp(m.eye_s, 0.009, 0.0), 0.0)
        upper = np.where(near & (m.eye_dy > 0.0), ramp(m.eye_s, 0.006, 0.0), 0.0)
        dy = 1.6 * MM * lower - 0.5 * MM * upper
        return np.stack([np.zeros_like(dy), dy, 0.6 * MM * lower], axis=1)

    def jaw_share(self) -> np.ndarray:
        return self.face.weights[:, JOINT_NAMES.index("jaw")]

    def lip_band(self, lower: bool, reach: float) -> np.ndarray:
        """(V,) 1 on the red of the upper (or lower) lip and its inner lip, fading to 0 within
        `reach` metres beyond it, 0 on the other lip; pocket vertices follow their lip-slit
        vertex near the lips and fade deeper in."""
        m = self.mesh
        dy = self.y - lip_line_y(self.x)
        away = -dy if lower else dy
        lateral = ramp(np.abs(self.x), MOUTH_HALF_WIDTH + 0.006, MOUTH_HALF_WIDTH - 0.002)
        this_side = (m.side < 0) if lower else (m.side > 0)
        band = ramp(away, 0.010 + reach, 0.008) * lateral * (this_side | (m.side == 0))
        band = np.where(m.side == 0, 0.5 * band, band)
        band *= (m.part == PART_SKIN) | (m.part == PART_MOUTH)
        pocket = m.part == PART_MOUTH
        follow = np.clip(1.0 - 0.25 * (m.pocket_ring - 2), 0.0, 1.0)
        band[pocket] = band[m.pocket_anchor[pocket]] * follow[pocket]
        return band


def _targets(s: _Sculptor) -> dict[str, np.ndarray]:
    m = s.mesh
    zero = np.zeros_like(s.rest)
    out: dict[str, np.ndarray] = {}

    for left, suffix in ((True, "Left"), (False, "Right")):
        close = "eye_close_left" if left else "eye_close_right"
        out[f"eyeBlink{suffix}"] = s.expression(close)
        # The eye's own frame: +x of the left eye points out (away from the nose).
        outward = 1.0 if left else -1.0
        out[f"eyeLookDown{suffix}"] = s.eye(left, 0, EYE_LOOK_RAD)
        out[f"eyeLookUp{suffix}"] = s.eye(left, 0, -EYE_LOOK_RAD)
        out[f"eyeLookOut{suffix}"] = s.eye(left, 1, outward * EYE_LOOK_RAD)
        out[f"eyeLookIn{suffix}"] = s.eye(left, 1, -outward * EYE_LOOK_RAD)
        out[f"eyeSquint{suffix}"] = s.squint(1.0 if left else -1.0)
        out[f"eyeWide{suffix}"] = s.expression(close, EYE_WIDE)

    out["jawOpen"] = s.jaw(0, JAW_OPEN_RAD)
    out["jawLeft"] = s.jaw(1, JAW_SIDE_RAD)  # about +y: the chin (in front) moves to +x
    out["jawRight"] = s.jaw(1, -JAW_SIDE_RAD)
    out["jawForward"] = s.jaw_share()[:, None] * np.array([0.0, 0.0, JAW_FORWARD_M])

    # Lips together against an open jaw: the lower lip (and the inner lip behind it) takes back
    # what jawOpen did to it.
    out["mouthClose"] = -out["jawOpen"] * s.lip_band(lower=True, reach=0.006)[:, None]
    out["mouthFunnel"] = s.expression("lip_funnel")
    out["mouthPucker"] = s.expression("lip_pucker")
    out["mouthLeft"] = s.expression("mouth_left", 1.5)
    out["mouthRight"] = s.expression("mouth_left", -1.5)

    corners = np.exp(
        -0.5
        * (((np.abs(s.x) - MOUTH_HALF_WIDTH) / 0.008) ** 2 + ((s.y - lip_line_y(s.x)) / 0.008) ** 2)
    ) * ((m.part == PART_SKIN) | (m.part == PART_MOUTH))
    outward_x = np.sign(s.x)
    dimple = corners[:, None] * np.stack(
        [1.5 * MM * outward_x, np.zeros_like(s.x), -2.5 * MM * np.ones_like(s.x)], axis=1
    )
    for left, suffix in ((True, "Left"), (False, "Right")):
        out[f"mouthSmile{suffix}"] = s.side(s.expression("lip_corner_up"), left)
        out[f"mouthFrown{suffix}"] = s.side(s.expression("lip_corner_down"), left)
        out[f"mouthDimple{suffix}"] = s.side(dimple, left)
        out[f"mouthStretch{suffix}"] = s.side(s.expression("lip_stretch"), left)
        out[f"mouthPress{suffix}"] = s.side(s.expression("lip_press", 2.0), left)
        out[f"mouthLowerDown{suffix}"] = s.side(s.expression("lower_lip_depress"), left)
        out[f"mouthUpperUp{suffix}"] = s.side(s.expression("upper_lip_raise"), left)
        out[f"browDown{suffix}"] = s.side(s.expression("brow_lower"), left)
        out[f"browOuterUp{suffix}"] = s.side(s.expression("brow_outer_raise"), left)
        out[f"cheekSquint{suffix}"] = s.side(s.expression("cheek_raise"), left)
        out[f"noseSneer{suffix}"] = s.side(s.expression("nose_wrinkle"), left)

    lower = s.lip_band(lower=True, reach=0.0)[:, None]
    upper = s.lip_band(lower=False, reach=0.0)[:, None]
    # Rolls: the red of the lip turns in over the teeth (back, toward the lip line).
    out["mouthRollLower"] = lower * np.array([0.0, 1.5 * MM, -3.0 * MM])
    out["mouthRollUpper"] = upper * np.array([0.0, -1.5 * MM, -3.0 * MM])
    # Shrugs: the lower lip pushed up and out by the chin; the upper lip up and out.
    chin = s.lip_band(lower=True, reach=0.018)[:, None]
    out["mouthShrugLower"] = chin * np.array([0.0, 2.5 * MM, 1.5 * MM])
    out["mouthShrugUpper"] = upper * np.array([0.0, 2.0 * MM, 1.0 * MM])

    out["browInnerUp"] = s.expression("brow_inner_raise")
    out["cheekPuff"] = s.expression("cheek_puff", 2.0)

    # No tongue on this face: the floor of the mouth cavity (behind the lower teeth) comes
    # forward out between the lips and up to the lip line.
    tongue = zero.copy()
    floor = (m.part == PART_MOUTH) & (m.side < 0) & (m.pocket_ring >= 7)
    centre = ramp(np.abs(s.x), 0.016, 0.006)
    reach = np.where(m.pocket_ring == 7, 1.0, 0.7) * centre
    tongue[floor, 2] = (0.116 - s.z[floor]) * reach[floor]
    tongue[floor, 1] = (lip_line_y(s.x[floor]) - 0.002 - s.y[floor]) * reach[floor]
    out["tongueOut"] = tongue
    return out


@lru_cache(maxsize=1)
def builtin_arkit_targets() -> ArkitTargets:
    """The built-in face's 52 ARKit targets (cached; the same on every machine)."""
    fields = _targets(_Sculptor())
    deltas = np.stack([fields[name] for name in ARKIT_NAMES])
    return ArkitTargets(deltas, "builtin")
