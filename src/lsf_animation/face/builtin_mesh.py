"""Topology of the built-in face: skin grid, lip slit, mouth pocket, eyeballs and ears.

The skin is one latitude-longitude grid cast from a point inside the head onto the sculpted head
of `builtin_sculpt` (denser on the face than on the back of the head). One grid row follows the
line between the lips; along the mouth that row is split in two (upper-lip and lower-lip
vertices are not connected), and a pocket hangs from the slit into the head: inner lips, teeth
and a dark mouth cavity, shut at rest, seen when the jaw opens. Each eye is a separate sphere with
iris and pupil rings, behind skin shaped as eyelids; each ear is a thin closed shell.

Coordinates follow FLAME: metres, +y up, +z out of the face, +x to the subject's left. The whole
mesh is closed and consistently oriented (triangles counter-clockwise seen from outside).
One module for one concept (the built-in face's topology), hence its length.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lsf_animation.face.builtin_colors import vertex_colors
from lsf_animation.face.builtin_sculpt import (
    EYE_RADIUS,
    EYE_X,
    EYE_Y,
    EYE_Z,
    MOUTH_HALF_WIDTH,
    MOUTH_Y,
    RAY_CENTER,
    cast_rays,
    eye_region,
    face_relief,
    lip_line_y,
    ramp,
)

NUM_ROWS = 62  # skin grid rows between the two poles
NUM_COLS = 80  # skin grid columns around the vertical axis (even: the grid is left/right symmetric)

PART_SKIN, PART_MOUTH, PART_LEFT_EYE, PART_RIGHT_EYE, PART_EAR = 0, 1, 2, 3, 4

# Mouth pocket rings behind the lip slit: (depth behind the slit, height above/below it, x scale),
# metres, for the upper and the lower half, and what each ring is (for colours).
# The upper teeth hang 3 mm below the lip line and the lower teeth reach 2.5 mm above it (hidden
# behind closed lips), so both rows show as soon as the jaw opens.
UPPER_POCKET = (
    (0.0030, 0.0008, 0.99),
    (0.0056, 0.0011, 0.97),
    (0.0060, 0.0008, 0.96),
    (0.0062, -0.0032, 0.96),
    (0.0074, -0.0030, 0.95),
    (0.0090, 0.0065, 0.94),
    (0.0200, 0.0140, 1.00),
    (0.0380, 0.0060, 0.70),
)
LOWER_POCKET = (
    (0.0030, 0.0010, 0.99),
    (0.0070, 0.0013, 0.97),
    (0.0074, 0.0010, 0.95),
    (0.0078, -0.0025, 0.95),
    (0.0090, -0.0023, 0.94),
    (0.0105, 0.0060, 0.94),
    (0.0200, 0.0120, 1.00),
    (0.0380, 0.0200, 0.70),
)
POCKET_KIND = ("lip", "lip", "teeth", "teeth", "teeth", "gum", "cavity", "cavity")
POCKET_END_DEPTH = 0.060  # the throat: the cavity's far end, behind and below the lips
POCKET_END_DROP = 0.016

# Eyeball rings: polar angle from the gaze direction (+z), radians, and what they are.
EYEBALL_ANGLES = (
    0.0,
    0.09,
    0.17,
    0.205,
    0.33,
    0.46,
    0.50,
    0.56,
    0.80,
    1.10,
    1.35,
    np.pi / 2,
    2.1,
    2.6,
    np.pi,
)
EYEBALL_COLS = 18
# The eyeball drawn is a little smaller than the one the eyelids are shaped against, so that the
# lids' triangles never let it show through outside the opening.
EYEBALL_RADIUS = EYE_RADIUS - 0.0003


@dataclass(frozen=True)
class HeadMesh:
    """The built-in head's template mesh and the per-vertex labels its bases and weights need.

    Attributes:
        vertices: (V, 3) template positions, metres.
        faces: (F, 3) int64 triangles, counter-clockwise seen from outside.
        colors: (V, 3) sRGB albedo in [0, 1].
        part: (V,) int: PART_SKIN, PART_MOUTH (pocket behind the lips), PART_LEFT_EYE,
            PART_RIGHT_EYE.
        side: (V,) float: +1 above the lip line, -1 below it (the slit's two copies of a vertex
            differ), 0 at the mouth corners.
        pocket_anchor: (V,) int: for a pocket vertex, the lip-slit vertex it hangs from; for every
            other vertex, itself.
        pocket_ring: (V,) int: ring index behind the slit (1 = first) for pocket vertices, 0 on the
            slit, -1 elsewhere.
        pocket_kind: (V,) str labels of pocket rings ("lip", "teeth", "gum", "cavity"), "" else.
        eye_s: (V,) signed distance-like value to the nearer eye opening, metres (negative inside
            the opening, large far from the eyes).
        eye_dy: (V,) height above the nearer eye centre, metres.
        eye_side: (V,) +1 for vertices nearer the left eye (+x), -1 for the right.
        eye_recess: (V,) how far the skin lies inside the eyeball surface in the opening, metres
            (0 outside the opening).
        grid_rows: (V,) skin-grid row (-1 for poles and non-skin vertices).
        slit_upper, slit_lower: vertex indices along the lip slit from corner to corner; the
            corners are shared, so both start and end with the same vertices.
        mouth_row: the grid row that carries the slit.
        eye_centers: (2, 3) left (+x) and right eyeball centres.
        eye_equators: (2, K) vertex indices of each eyeball's equator ring (mean = centre).
    """

    vertices: np.ndarray
    faces: np.ndarray
    colors: np.ndarray
    part: np.ndarray
    side: np.ndarray
    pocket_anchor: np.ndarray
    pocket_ring: np.ndarray
    pocket_kind: np.ndarray
    eye_s: np.ndarray
    eye_dy: np.ndarray
    eye_side: np.ndarray
    eye_recess: np.ndarray
    grid_rows: np.ndarray
    slit_upper: np.ndarray
    slit_lower: np.ndarray
    mouth_row: int
    eye_centers: np.ndarray
    eye_equators: np.ndarray


# ---------------------------------------------------------------------------------------------
# The skin grid


def _warped_samples(num: int, lo: float, hi: float, density, endpoints: bool) -> np.ndarray:
    """`num` values in [lo, hi] spaced inversely to `density` (a function of the value)."""
    fine = np.linspace(lo, hi, 4001)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (density(fine[1:]) + density(fine[:-1])))])
    cdf /= cdf[-1]
    u = np.linspace(0.0, 1.0, num) if endpoints else (np.arange(num) + 0.5) / num
    return np.interp(u, cdf, fine)


def _grid_angles() -> tuple[np.ndarray, np.ndarray]:
    """Polar angles of the rows (from +y) and azimuths of the columns (0 = +z, +x positive)."""
    polar = _warped_samples(
        NUM_ROWS + 2,
        0.0,
        np.pi,
        lambda a: (
            1.0
            + 1.2 * ramp(a, 0.45, 0.75)
            + 1.4 * ramp(a, 0.85, 1.05) * ramp(a, 2.75, 2.5)
            + 2.0 * np.exp(-0.5 * ((a - 1.27) / 0.10) ** 2)
            + 2.0 * np.exp(-0.5 * ((a - 1.99) / 0.12) ** 2)
        ),
        endpoints=True,
    )[1:-1]
    u = -np.pi + 2.0 * np.pi * np.arange(NUM_COLS) / NUM_COLS
    cdf_density = lambda a: 1.0 + 3.6 * ramp(np.abs(a), 1.0, 0.7)  # noqa: E731
    fine = np.linspace(0.0, np.pi, 4001)
    dens = cdf_density(fine)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]))])
    cdf /= cdf[-1]
    azimuth = np.sign(u) * np.interp(np.abs(u) / np.pi, cdf, fine)
    return polar, azimuth


def _directions(polar: np.ndarray, azimuth: np.ndarray) -> np.ndarray:
    s = np.sin(polar)
    return np.stack([s * np.sin(azimuth), np.cos(polar), s * np.cos(azimuth)], axis=-1)


# ---------------------------------------------------------------------------------------------
# Assembly


def _uv_sphere(
    center: np.ndarray,
    radius: float,
    rings: tuple[float, ...] = EYEBALL_ANGLES[1:-1],
    cols: int = EYEBALL_COLS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closed sphere with its poles on the z axis: (vertices, faces, polar angle per vertex).

    rings: polar angles of the rings between the poles; cols: vertices per ring.
    Vertex 0 is the front pole (+z), then rings, then the back pole.
    """
    polar = np.asarray(rings)
    az = 2.0 * np.pi * np.arange(cols) / cols
    s = np.sin(polar)[:, None]
    ring_pts = np.stack(
        [s * np.cos(az), s * np.sin(az), np.cos(polar)[:, None] * np.ones_like(az)], axis=-1
    ).reshape(-1, 3)
    pts = np.concatenate([[[0.0, 0.0, 1.0]], ring_pts, [[0.0, 0.0, -1.0]]])
    angle = np.concatenate([[0.0], np.repeat(rings, cols), [np.pi]])
    n, m = cols, len(polar)
    faces = []
    ring = lambda r, c: 1 + r * n + (c % n)  # noqa: E731
    for c in range(n):
        faces.append((0, ring(0, c), ring(0, c + 1)))
        last = 1 + m * n
        faces.append((ring(m - 1, c), last, ring(m - 1, c + 1)))
        for r in range(m - 1):
            a, b = ring(r, c), ring(r, c + 1)
            c2, d = ring(r + 1, c), ring(r + 1, c + 1)
            faces.append((a, c2, d))
            faces.append((a, d, b))
    return center + radius * pts, np.asarray(faces, np.int64), angle


def _ear(sign: float) -> tuple[np.ndarray, np.ndarray]:
    """A closed ear shell on the side `sign` (+1 = left, +x): a thin tilted disc with a bowl."""
    unit, faces, _ = _uv_sphere(np.zeros(3), 1.0, tuple(np.linspace(0.3, np.pi - 0.3, 9)), 16)
    a, b, n = unit[:, 0], unit[:, 1], unit[:, 2]  # front-back, up, outward (poles on the normal)
    r2 = np.clip(a**2 + b**2, 0.0, 1.0)
    n = 0.45 * n - np.where(n > 0.0, 0.62 * (1.0 - r2) ** 2, 0.0)  # bowl on the outer side
    b = b - 0.25 * (a < 0.0) * a * (1.0 - b)  # lobe slightly forward at the bottom
    local = np.stack([0.0058 * n, 0.031 * b, 0.018 * a], axis=-1)  # (out, up, forward)
    tilt, yaw = np.deg2rad(-14.0), np.deg2rad(-22.0)
    rot_x = np.array([[1, 0, 0], [0, np.cos(tilt), -np.sin(tilt)], [0, np.sin(tilt), np.cos(tilt)]])
    rot_y = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
    pts = local @ rot_x.T @ rot_y.T + np.array([0.0800, 0.010, -0.016])
    pts[:, 0] *= sign
    return pts, _orient_outward(pts, faces)


def _orient_outward(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Flip a closed component's triangles if they face inward (negative signed volume)."""
    v = vertices[faces]
    volume = np.einsum("ij,ij->i", v[:, 0], np.cross(v[:, 1], v[:, 2])).sum()
    return faces if volume > 0.0 else faces[:, ::-1].copy()


def build_head_mesh() -> HeadMesh:
    """Build the template head (deterministic; about 5,800 vertices)."""
    polar, azimuth = _grid_angles()
    nr, nc = NUM_ROWS, NUM_COLS
    pol = np.repeat(polar[:, None], nc, axis=1)
    azi = np.repeat(azimuth[None, :], nr, axis=0)

    # Bend the rows near the mouth so that one row follows the lip line exactly.
    base = cast_rays(_directions(pol, azi).reshape(-1, 3)).reshape(nr, nc, 3)
    front = np.abs(azimuth) < 0.9
    mouth_row = int(np.argmin(np.abs(base[:, nc // 2, 1] - MOUTH_Y)))
    for _ in range(3):
        y = base[mouth_row, :, 1]
        r = np.linalg.norm(base[mouth_row] - RAY_CENTER, axis=-1)
        near = front * ramp(
            np.abs(base[mouth_row, :, 0]), MOUTH_HALF_WIDTH + 0.02, MOUTH_HALF_WIDTH
        )
        dphi = near * (y - lip_line_y(base[mouth_row, :, 0])) / (r * np.sin(polar[mouth_row]))
        rows = slice(mouth_row - 3, mouth_row + 4)
        pol[rows] += dphi[None, :] * (1.0 - np.abs(np.arange(-3, 4)) / 4.0)[:, None]
        base[rows] = cast_rays(_directions(pol[rows], azi[rows]).reshape(-1, 3)).reshape(7, nc, 3)

    skin = base.reshape(-1, 3).copy()
    x, y = skin[:, 0], skin[:, 1]
    facing = ramp(skin[:, 2], 0.015, 0.045)
    relief_z = skin[:, 2] + facing * face_relief(x, y)
    z, eye_s, eye_dy, eye_side, recess = eye_region(skin, relief_z)
    near_eyes = facing > 0.999
    skin[:, 2] = np.where(near_eyes, z, relief_z)
    eye_s = np.where(near_eyes, eye_s, 1.0)
    recess = np.where(near_eyes, recess, 0.0)

    top = cast_rays(np.array([[0.0, 1.0, 0.0]]))
    bottom = cast_rays(np.array([[0.0, -1.0, 0.0]]))
    grid_index = np.arange(nr * nc).reshape(nr, nc)
    i_top, i_bottom = nr * nc, nr * nc + 1
    vertices = [skin, top, bottom]
    count = nr * nc + 2

    # The lip slit: columns of the mouth row inside the mouth; corners are shared.
    row_x = skin[grid_index[mouth_row], 0]
    centre_col = nc // 2
    half = int(np.argmin(np.abs(row_x[centre_col : centre_col + nc // 4] - MOUTH_HALF_WIDTH)))
    cols = np.arange(centre_col - half, centre_col + half + 1)
    upper = grid_index[mouth_row, cols]
    lower_inner = np.arange(count, count + len(cols) - 2)
    vertices.append(skin[upper[1:-1]])
    count += len(lower_inner)
    lower = np.concatenate([[upper[0]], lower_inner, [upper[-1]]])
    lower_of = {int(c): int(v) for c, v in zip(cols[1:-1], lower_inner, strict=True)}

    faces = []
    for r in range(nr - 1):
        for c in range(nc):
            c1 = (c + 1) % nc
            a, b = grid_index[r, c], grid_index[r, c1]
            c2, d = grid_index[r + 1, c], grid_index[r + 1, c1]
            if r == mouth_row:
                a, b = lower_of.get(c, a), lower_of.get(c1, b)
            faces.append((a, c2, d))
            faces.append((a, d, b))
    for c in range(nc):
        c1 = (c + 1) % nc
        faces.append((i_top, grid_index[0, c], grid_index[0, c1]))
        faces.append((grid_index[nr - 1, c], i_bottom, grid_index[nr - 1, c1]))

    # Mouth pocket: rings behind the slit loop [upper corner..corner, lower back].
    loop = np.concatenate([upper, lower[-2:0:-1]])
    loop_side = np.concatenate([[0.0], np.ones(len(cols) - 2), [0.0], -np.ones(len(cols) - 2)])
    loop_pos = skin[np.concatenate([upper, upper[-2:0:-1]])]
    hw = abs(loop_pos[0, 0])
    lat = np.clip(1.0 - (loop_pos[:, 0] / hw) ** 2, 0.0, 1.0) ** 0.5
    pocket_anchor_list, pocket_ring_list, pocket_kind_list, pocket_side_list = [], [], [], []
    prev = loop
    for k, (up, lo) in enumerate(zip(UPPER_POCKET, LOWER_POCKET, strict=True)):
        prof = np.where(loop_side[:, None] > 0, np.asarray(up), np.asarray(lo))
        prof = np.where(loop_side[:, None] == 0, 0.5 * (np.asarray(up) + np.asarray(lo)), prof)
        ring_pos = np.stack(
            [
                loop_pos[:, 0] * prof[:, 2],
                lip_line_y(loop_pos[:, 0]) + loop_side * prof[:, 1] * lat,
                loop_pos[:, 2] - prof[:, 0],
            ],
            axis=-1,
        )
        ring = np.arange(count, count + len(loop))
        vertices.append(ring_pos)
        count += len(loop)
        pocket_anchor_list.append(loop)
        pocket_ring_list.append(np.full(len(loop), k + 1))
        pocket_kind_list.append(np.full(len(loop), POCKET_KIND[k]))
        pocket_side_list.append(loop_side)
        n = len(loop)
        for i in range(n):
            i1 = (i + 1) % n
            faces.append((prev[i1], prev[i], ring[i]))
            faces.append((prev[i1], ring[i], ring[i1]))
        prev = ring
    end = count
    centre_pos = loop_pos[:, 2].max() - POCKET_END_DEPTH
    vertices.append(np.array([[0.0, MOUTH_Y - POCKET_END_DROP, centre_pos]]))
    count += 1
    pocket_anchor_list.append(loop[:1] * 0 + upper[len(upper) // 2])
    pocket_ring_list.append(np.array([len(UPPER_POCKET) + 1]))
    pocket_kind_list.append(np.array(["cavity"]))
    pocket_side_list.append(np.zeros(1))
    for i in range(len(prev)):
        faces.append((prev[(i + 1) % len(prev)], prev[i], end))

    # Eyeballs.
    eye_centers = np.array([[EYE_X, EYE_Y, EYE_Z], [-EYE_X, EYE_Y, EYE_Z]])
    eye_parts, eye_angles, equators = [], [], []
    for e in range(2):
        pts, tri, angle = _uv_sphere(eye_centers[e], EYEBALL_RADIUS)
        vertices.append(pts)
        faces.extend((tri + count).tolist())
        eq_ring = EYEBALL_ANGLES[1:-1].index(np.pi / 2)
        equators.append(count + 1 + eq_ring * EYEBALL_COLS + np.arange(EYEBALL_COLS))
        eye_parts.append(np.full(len(pts), PART_LEFT_EYE + e))
        eye_angles.append(angle)
        count += len(pts)

    ear_parts = []
    for sign in (1.0, -1.0):
        pts, tri = _ear(sign)
        vertices.append(pts)
        faces.extend((tri + count).tolist())
        ear_parts.append(np.full(len(pts), PART_EAR))
        eye_angles.append(np.full(len(pts), np.pi))
        count += len(pts)

    verts = np.concatenate(vertices)
    num = len(verts)
    num_skin = nr * nc + 2 + len(lower_inner)
    n_pocket = end + 1 - num_skin
    part = np.concatenate(
        [np.full(num_skin, PART_SKIN), np.full(n_pocket, PART_MOUTH), *eye_parts, *ear_parts]
    )
    side = np.zeros(num)
    side[:num_skin] = np.sign(verts[:num_skin, 1] - lip_line_y(verts[:num_skin, 0]))
    side[upper[1:-1]] = 1.0
    side[lower_inner] = -1.0
    side[[upper[0], upper[-1]]] = 0.0
    side[num_skin : end + 1] = np.concatenate(pocket_side_list)
    pocket_anchor = np.arange(num)
    pocket_anchor[num_skin : end + 1] = np.concatenate(pocket_anchor_list)
    pocket_ring = np.full(num, -1)
    pocket_ring[upper] = 0
    pocket_ring[lower_inner] = 0
    pocket_ring[num_skin : end + 1] = np.concatenate(pocket_ring_list)
    pocket_kind = np.full(num, "", dtype=object)
    pocket_kind[num_skin : end + 1] = np.concatenate(pocket_kind_list)
    grid_rows = np.full(num, -1)
    grid_rows[: nr * nc] = np.repeat(np.arange(nr), nc)
    grid_rows[lower_inner] = mouth_row

    def skin_values(values: np.ndarray, fill: float) -> np.ndarray:
        out = np.full(num, fill)
        out[: nr * nc] = values
        out[lower_inner] = values[upper[1:-1]]
        return out

    eye_s_all = skin_values(eye_s, 1.0)
    eye_dy_all = skin_values(eye_dy, 1.0)
    eye_side_all = skin_values(eye_side, 0.0)
    recess_all = skin_values(recess, 0.0)
    colors = vertex_colors(
        verts,
        part == PART_SKIN,
        (part == PART_LEFT_EYE) | (part == PART_RIGHT_EYE),
        pocket_kind,
        eye_s_all,
        np.concatenate([np.zeros(num_skin + n_pocket), *eye_angles]),
        side,
    )
    return HeadMesh(
        vertices=verts,
        faces=np.asarray(faces, np.int64),
        colors=colors,
        part=part,
        side=side,
        pocket_anchor=pocket_anchor,
        pocket_ring=pocket_ring,
        pocket_kind=pocket_kind,
        eye_s=eye_s_all,
        eye_dy=eye_dy_all,
        eye_side=eye_side_all,
        eye_recess=recess_all,
        grid_rows=grid_rows,
        slit_upper=upper,
        slit_lower=lower,
        mouth_row=mouth_row,
        eye_centers=eye_centers,
        eye_equators=np.stack(equators),
    )
