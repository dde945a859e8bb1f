"""Identity (shape) and expression directions of the built-in face.

Both are displacement fields over the template, in metres per unit coefficient, FLAME-style:
coefficients about N(0, 1) give plausible people and expressions. One module for one concept
(the built-in face's two bases are designed together), hence its length.

Shape (300): the first `len(SHAPE_NAMES)` are designed (overall scale, width, height, depth, face
length, jaw width, nose, chin, cheekbones, brow ridge, lips, eye spacing ...), each about one
population standard deviation (a few millimetres) per unit; the rest are smooth random fields,
sums of Gaussian radial-basis displacements 2-5 cm wide, mostly left/right symmetric, with peak
displacement decaying from about 2 mm to 0.2 mm. Eyeballs stay rigid: they translate with the
field at their centre (their socket).

Expression (100): the first `len(EXPRESSION_NAMES)` are designed and named (mouth open, pucker,
smile, ..., eye closing), moving their region by 2-5 mm per unit; the rest are smooth random
fields on the face, 0.8-2 cm wide, peak displacement decaying from about 1.6 mm to 0.2 mm. The
eyeballs and ears do not move; the mouth pocket follows the lip-slit vertex it hangs from (fully
at the inner lips, not at all deep inside), and fields other than eye closing and cheek raising
leave the eyelid margins alone, so lids keep covering the eyeballs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lsf_animation.constants import FACE_NUM_EXPRESSION, NUM_SHAPE
from lsf_animation.face.builtin_mesh import (
    PART_EAR,
    PART_LEFT_EYE,
    PART_MOUTH,
    PART_RIGHT_EYE,
    PART_SKIN,
    HeadMesh,
)
from lsf_animation.face.builtin_sculpt import (
    EYE_Y,
    MOUTH_HALF_WIDTH,
    eye_lids,
    gauss2,
    lip_line_y,
    pair_gauss,
    ramp,
)

MM = 1e-3

SHAPE_NAMES = (
    "scale",
    "width",
    "height",
    "depth",
    "face_length",
    "jaw_width",
    "nose_length",
    "nose_width",
    "chin",
    "cheekbones",
    "brow_ridge",
    "lip_thickness",
    "eye_spacing",
    "forehead",
    "head_length",
    "cheek_fullness",
    "mouth_width",
    "nose_bridge",
    "eye_height",
    "neck_thickness",
)

EXPRESSION_NAMES = (
    "mouth_open",
    "lip_pucker",
    "lip_corner_up",
    "lip_corner_down",
    "lip_stretch",
    "upper_lip_raise",
    "lower_lip_depress",
    "brow_inner_raise",
    "brow_outer_raise",
    "brow_lower",
    "eye_close_left",
    "eye_close_right",
    "cheek_raise",
    "nose_wrinkle",
    "lip_press",
    "mouth_left",
    "lip_funnel",
    "cheek_puff",
)

# How much of its lip-slit vertex's expression a pocket ring follows (ring 1 = inner lip).
POCKET_FOLLOW = (1.0, 1.0, 0.8, 0.4, 0.35, 0.3, 0.2, 0.05, 0.0, 0.0)
# The expression at which an eye is fully shut.
EYE_SHUT_AT = 2.5


@dataclass(frozen=True)
class _Frame:
    """Per-vertex quantities the fields are written in (all (V,) arrays)."""

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    sx: np.ndarray  # sign of x (+1 on the subject's left)
    dy: np.ndarray  # height above the lip line
    side: np.ndarray  # +1 upper lip side, -1 lower, 0 corners
    front: np.ndarray  # 1 on the face, 0 on the back of the head

    @classmethod
    def of(cls, points: np.ndarray, side: np.ndarray) -> _Frame:
        x, y, z = points[:, 0], points[:, 1], points[:, 2]
        return cls(
            x=x,
            y=y,
            z=z,
            sx=np.tanh(x / 0.006),
            dy=y - lip_line_y(x),
            side=side,
            front=ramp(z, 0.015, 0.045),
        )


def _vec(*components: np.ndarray | float) -> np.ndarray:
    n = max(np.size(c) for c in components)
    return np.stack([np.broadcast_to(np.asarray(c, float), (n,)) for c in components], axis=-1)


# ---------------------------------------------------------------------------------------------
# Shape


def _shape_fields() -> list[Callable[[_Frame], np.ndarray]]:
    def lips(f: _Frame) -> np.ndarray:
        return np.exp(-0.5 * (f.x / 0.024) ** 4 - 0.5 * (f.dy / 0.012) ** 2) * f.front

    eye = lambda f: pair_gauss(f.x, f.y, 0.032, EYE_Y, 0.017, 0.017) * f.front  # noqa: E731
    return [
        lambda f: _vec(0.03 * f.x, 0.03 * (f.y + 0.01), 0.03 * f.z),
        lambda f: _vec(0.035 * f.x, 0.0, 0.0),
        lambda f: _vec(0.0, 0.03 * f.y, 0.0),
        lambda f: _vec(0.0, 0.0, 0.03 * (f.z + 0.01)),
        lambda f: _vec(0.0, -5.0 * MM * ramp(f.y, -0.005, -0.075), 0.0),
        lambda f: _vec(0.08 * f.x * ramp(f.y, -0.005, -0.055) * ramp(f.z, -0.045, -0.005), 0, 0),
        lambda f: (
            gauss2(f.x, f.y, 0.0, 0.004, 0.012, 0.018)[:, None]
            * f.front[:, None]
            * np.array([0.0, -1.5 * MM, 3.0 * MM])
        ),
        lambda f: _vec(0.15 * f.x * gauss2(f.x, f.y, 0.0, -0.006, 0.02, 0.012) * f.front, 0, 0),
        lambda f: (
            (gauss2(f.x, f.y, 0.0, -0.076, 0.02, 0.015) * f.front)[:, None]
            * np.array([0.0, -2.0 * MM, 3.5 * MM])
        ),
        lambda f: _vec(
            *(
                pair_gauss(f.x, f.y, 0.05, 0.004, 0.015, 0.015) * f.front * c
                for c in (3.0 * MM * f.sx, 0.0, 1.5 * MM)
            )
        ),
        lambda f: (
            (pair_gauss(f.x, f.y, 0.028, 0.050, 0.025, 0.010) * f.front)[:, None]
            * np.array([0.0, 0.5 * MM, 2.5 * MM])
        ),
        lambda f: _vec(0.0, 0.12 * f.dy * lips(f), 1.5 * MM * lips(f)),
        lambda f: _vec(2.5 * MM * f.sx * eye(f), 0.0, 0.0),
        lambda f: _vec(0.0, 0.0, 3.0 * MM * gauss2(f.x, f.y, 0.0, 0.078, 0.05, 0.025) * f.front),
        lambda f: _vec(0.0, 0.0, -5.0 * MM * ramp(f.z, -0.02, -0.09) * ramp(f.y, -0.10, -0.03)),
        lambda f: _vec(
            *(
                pair_gauss(f.x, f.y, 0.045, -0.03, 0.016, 0.018) * f.front * c
                for c in (3.0 * MM * f.sx, 0.0, 1.5 * MM)
            )
        ),
        lambda f: _vec(
            0.10 * f.x * np.exp(-0.5 * (f.x / 0.03) ** 4 - 0.5 * (f.dy / 0.014) ** 2) * f.front,
            0.0,
            0.0,
        ),
        lambda f: _vec(0.0, 0.0, 2.5 * MM * gauss2(f.x, f.y, 0.0, 0.026, 0.008, 0.012) * f.front),
        lambda f: _vec(0.0, 2.0 * MM * eye(f), 0.0),
        lambda f: _vec(0.10 * f.x, 0.0, 0.10 * (f.z + 0.025)) * ramp(f.y, -0.09, -0.125)[:, None],
    ]


def _random_fields(
    rng: np.random.Generator,
    points: np.ndarray,
    anchors: np.ndarray,
    num: int,
    num_bumps: int,
    per_field: int,
    width_range: tuple[float, float],
    symmetric_share: float,
) -> np.ndarray:
    """`num` random smooth displacement fields at `points` (N, 3): (N, 3, num), unnormalised.

    A dictionary of `num_bumps` Gaussian bumps centred on random `anchors`, each with its mirror
    image in x; every field is the sum of `per_field` bumps with random 3D displacement vectors.
    A share of the fields is left/right symmetric (a bump and its mirror move mirrored).
    """
    centers = anchors[rng.integers(0, len(anchors), num_bumps)]
    widths = rng.uniform(*width_range, size=num_bumps)
    mirror = np.array([-1.0, 1.0, 1.0])
    both = np.concatenate([centers, centers * mirror])
    d2 = (points**2).sum(1)[:, None] + (both**2).sum(1)[None, :] - 2.0 * points @ both.T
    bumps = np.exp(-0.5 * d2 / np.concatenate([widths, widths])[None, :] ** 2)  # (N, 2B)
    bumps = np.ascontiguousarray(bumps.T)  # (2B, N)
    out = np.empty((num, 3, len(points)))
    for k in range(num):
        chosen = rng.choice(num_bumps, per_field, replace=False)
        vectors = rng.normal(size=(per_field, 3))
        if rng.random() < symmetric_share:
            chosen = np.concatenate([chosen, chosen + num_bumps])
            vectors = np.concatenate([vectors, vectors * mirror])
        out[k] = vectors.T @ bumps[chosen]
    return out.transpose(2, 1, 0)


def _peak_norm(fields: np.ndarray) -> np.ndarray:
    """Largest vertex displacement of each of the fields (N, 3, K): (K,)."""
    return np.sqrt(np.einsum("ndk,ndk->nk", fields, fields).max(0))


def _rigid_eyes(mesh: HeadMesh, fields: np.ndarray, at_centers: np.ndarray) -> np.ndarray:
    """Move each eyeball, and the eyelids around it, with the field at the eye's centre.

    fields: (V, 3, K) displacements at the vertices; at_centers: (2, 3, K) at the two eye
    centres (left, right). The skin within a few millimetres of an eye opening blends from the
    eyeball's motion to its own, so lids keep covering the eyeball whatever the shape.
    """
    out = fields.copy()
    for e, (part, side) in enumerate(((PART_LEFT_EYE, 1.0), (PART_RIGHT_EYE, -1.0))):
        out[mesh.part == part] = at_centers[e]
        lids = (mesh.part == PART_SKIN) & (mesh.eye_side == side) & (mesh.eye_s < 0.012)
        own = ramp(mesh.eye_s[lids], 0.002, 0.012)[:, None, None]
        out[lids] = own * fields[lids] + (1.0 - own) * at_centers[e][None]
    return out


def shape_basis(mesh: HeadMesh, rng: np.random.Generator) -> np.ndarray:
    """(V, 3, NUM_SHAPE) identity directions, metres per unit coefficient."""
    dirs = np.zeros((len(mesh.vertices), 3, NUM_SHAPE))
    points = np.concatenate([mesh.vertices, mesh.eye_centers])
    frame = _Frame.of(points, np.zeros(len(points)))
    for k, field in enumerate(_shape_fields()):
        value = field(frame)[:, :, None]
        dirs[:, :, k : k + 1] = _rigid_eyes(mesh, value[:-2], value[-2:])
    skin = mesh.vertices[mesh.part == PART_SKIN]
    designed = len(SHAPE_NAMES)
    num = NUM_SHAPE - designed
    fields = _random_fields(rng, points, skin, num, 120, 4, (0.02, 0.05), symmetric_share=0.7)
    fields = _rigid_eyes(mesh, fields[:-2], fields[-2:])
    peak = 2.0 * MM * np.arange(1, num + 1) ** -0.45
    fields *= peak / _peak_norm(fields)
    dirs[:, :, designed:] = fields
    return dirs


# ---------------------------------------------------------------------------------------------
# Expression


def _eye_close(mesh: HeadMesh, f: _Frame, eye: float) -> np.ndarray:
    """Upper lid down over the eye on the side `eye` (+1 left): shut at EYE_SHUT_AT."""
    on_side = (mesh.eye_side == eye) & (mesh.part == PART_SKIN)
    p = mesh.vertices
    dx = p[:, 0] - eye * 0.032
    dy = mesh.eye_dy
    outward = eye * np.sign(dx + 1e-12)
    # The descending lid edge reaches a point of the opening at coefficient EYE_SHUT_AT * tau.
    top, bottom = eye_lids(dx, outward)
    tau = 0.12 + 0.88 * np.clip((top - dy) / np.maximum(top - bottom, 1e-4), 0.0, 1.0)
    inside = on_side & (mesh.eye_s < 0.0)
    # The skin of the opening lies `eye_recess` inside the eyeball; a point crosses the eyeball
    # surface at EYE_SHUT_AT * tau * 0.9, leaving a small margin at EYE_SHUT_AT.
    dz = np.where(inside, mesh.eye_recess / (0.9 * EYE_SHUT_AT * tau), 0.0)
    lid = on_side & (mesh.eye_s >= 0.0) & (dy > 0.0)
    fall = np.where(lid, ramp(mesh.eye_s, 0.008, 0.0), 0.0)
    return _vec(0.0, -1.0 * MM * fall, dz + 0.45 * MM * fall)


def _expression_fields(mesh: HeadMesh) -> list[Callable[[_Frame], np.ndarray]]:
    hw = MOUTH_HALF_WIDTH

    def lateral(f: _Frame, width: float = hw + 0.004) -> np.ndarray:
        return np.clip(1.0 - (f.x / width) ** 2, 0.0, 1.0)

    def lips(f: _Frame, sx: float = 0.024, sy: float = 0.011) -> np.ndarray:
        return np.exp(-0.5 * (f.x / sx) ** 4 - 0.5 * (f.dy / sy) ** 2) * f.front

    def corners(f: _Frame, s: float = 0.010) -> np.ndarray:
        return pair_gauss(f.x, f.dy, hw, 0.0, s, s) * f.front

    def upper(f: _Frame, s: float = 0.010) -> np.ndarray:
        return (f.side > 0) * lateral(f) * np.exp(-0.5 * (f.dy / s) ** 2) * f.front

    def lower(f: _Frame, s: float = 0.014) -> np.ndarray:
        return (f.side < 0) * lateral(f) * np.exp(-0.5 * (f.dy / s) ** 2) * f.front

    def g(f: _Frame, cx: float, cy: float, sx: float, sy: float) -> np.ndarray:
        return pair_gauss(f.x, f.y, cx, cy, sx, sy) * f.front

    lower_lid = (mesh.eye_s >= 0.0) & (mesh.eye_dy < 0.0)
    lower_lid_w = np.where(lower_lid, ramp(mesh.eye_s, 0.008, 0.0), 0.0)

    return [
        lambda f: _vec(0.0, 1.5 * MM * upper(f) - 3.0 * MM * lower(f), 0.0),
        lambda f: _vec(-0.11 * f.x * lips(f), -0.1 * f.dy * lips(f), 3.0 * MM * lips(f)),
        lambda f: _vec(
            1.8 * MM * f.sx * corners(f),
            3.0 * MM * corners(f) + 1.2 * MM * g(f, 0.042, -0.01, 0.014, 0.014),
            -1.5 * MM * corners(f) + 0.8 * MM * g(f, 0.042, -0.01, 0.014, 0.014),
        ),
        lambda f: _vec(
            0.5 * MM * f.sx * corners(f), -3.0 * MM * corners(f), -0.5 * MM * corners(f)
        ),
        lambda f: _vec(
            3.5 * MM * f.sx * corners(f, 0.013),
            -0.5 * MM * corners(f, 0.013),
            -1.5 * MM * corners(f, 0.013) - 0.5 * MM * lips(f),
        ),
        lambda f: _vec(
            0.0,
            3.0 * MM * upper(f, 0.012) + 1.0 * MM * g(f, 0.015, -0.01, 0.006, 0.006),
            0.8 * MM * upper(f, 0.012),
        ),
        lambda f: _vec(0.0, -3.0 * MM * lower(f, 0.012), 1.0 * MM * lower(f, 0.012)),
        lambda f: _vec(
            0.0,
            4.0 * MM * g(f, 0.013, 0.050, 0.011, 0.013),
            0.3 * MM * g(f, 0.013, 0.050, 0.011, 0.013),
        ),
        lambda f: _vec(0.0, 4.0 * MM * g(f, 0.043, 0.047, 0.012, 0.011), 0.0),
        lambda f: _vec(
            -1.5 * MM * f.sx * g(f, 0.022, 0.047, 0.016, 0.010),
            -3.0 * MM * g(f, 0.022, 0.047, 0.016, 0.010),
            0.8 * MM * g(f, 0.022, 0.047, 0.016, 0.010),
        ),
        lambda f: _eye_close(mesh, f, 1.0),
        lambda f: _eye_close(mesh, f, -1.0),
        lambda f: _vec(
            0.6 * MM * f.sx * g(f, 0.040, -0.005, 0.015, 0.014),
            3.5 * MM * g(f, 0.040, -0.005, 0.015, 0.014) + 0.8 * MM * lower_lid_w,
            1.5 * MM * g(f, 0.040, -0.005, 0.015, 0.014) + 0.4 * MM * lower_lid_w,
        ),
        lambda f: _vec(
            0.0,
            3.0 * MM * g(f, 0.011, 0.006, 0.008, 0.012)
            + 2.0 * MM * g(f, 0.015, -0.010, 0.006, 0.006)
            - 1.2 * MM * g(f, 0.012, 0.045, 0.010, 0.008),
            0.5 * MM * g(f, 0.011, 0.006, 0.008, 0.012),
        ),
        lambda f: _vec(0.0, -0.25 * f.dy * lips(f), -1.5 * MM * lips(f)),
        lambda f: _vec(3.0 * MM * lips(f, 0.03, 0.014), 0.0, 0.0),
        lambda f: _vec(
            -0.06 * f.x * lips(f), 1.2 * MM * upper(f) - 1.5 * MM * lower(f), 2.5 * MM * lips(f)
        ),
        lambda f: _vec(
            3.0 * MM * f.sx * g(f, 0.042, -0.03, 0.015, 0.016),
            0.0,
            1.5 * MM * g(f, 0.042, -0.03, 0.015, 0.016),
        ),
    ]


def _attach_pocket(mesh: HeadMesh, field: np.ndarray) -> np.ndarray:
    """Pocket vertices follow their lip-slit vertex; eyeballs and ears stay."""
    out = field.copy()
    pocket = mesh.part == PART_MOUTH
    follow = np.asarray(POCKET_FOLLOW)[np.clip(mesh.pocket_ring[pocket], 0, len(POCKET_FOLLOW) - 1)]
    out[pocket] = field[mesh.pocket_anchor[pocket]] * follow[:, None]
    out[(mesh.part != PART_SKIN) & (mesh.part != PART_MOUTH)] = 0.0
    out[mesh.part == PART_EAR] = 0.0
    return out


def expression_basis(mesh: HeadMesh, rng: np.random.Generator) -> np.ndarray:
    """(V, 3, FACE_NUM_EXPRESSION) expression directions, metres per unit coefficient."""
    frame = _Frame.of(mesh.vertices, mesh.side)
    # Fields other than lid closing leave the eyelid margins and the eye openings alone.
    lids_stay = ramp(mesh.eye_s, 0.001, 0.007)[:, None]
    dirs = np.zeros((len(mesh.vertices), 3, FACE_NUM_EXPRESSION))
    lid_fields = {
        EXPRESSION_NAMES.index(n) for n in ("eye_close_left", "eye_close_right", "cheek_raise")
    }
    for k, field in enumerate(_expression_fields(mesh)):
        value = field(frame)
        if k not in lid_fields:
            value = value * lids_stay
        dirs[:, :, k] = _attach_pocket(mesh, value)
    skin = mesh.vertices[(mesh.part == PART_SKIN) & (frame.front > 0.99)]
    skin = skin[(np.abs(skin[:, 0]) < 0.06) & (skin[:, 1] > -0.09) & (skin[:, 1] < 0.07)]
    mouth = skin[
        (np.abs(skin[:, 0]) < 0.04) & (np.abs(skin[:, 1] - lip_line_y(skin[:, 0])) < 0.025)
    ]
    designed = len(EXPRESSION_NAMES)
    num = FACE_NUM_EXPRESSION - designed
    anchors = np.concatenate([mouth, skin])  # about half the bumps near the mouth
    fields = _random_fields(
        rng, mesh.vertices, anchors, num, 80, 3, (0.008, 0.02), symmetric_share=0.5
    )
    fields *= (frame.front[:, None] * lids_stay)[:, :, None]
    peak = 1.6 * MM * np.arange(1, num + 1) ** -0.5
    for k in range(num):
        value = _attach_pocket(mesh, fields[:, :, k])
        dirs[:, :, designed + k] = value * (peak[k] / _peak_norm(value[:, :, None])[0])
    return dirs
