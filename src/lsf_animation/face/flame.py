"""The FLAME layer: shape, expression and joint poses -> vertices, batched in torch.

vertices = LBS(v_template + shapedirs·shape + exprdirs·expression + posedirs·(R - I), joints)
+ translation, with joints regressed from the shaped (shape + expression) template and pose
correctives from (R - I) of the four non-root joints (neck, jaw, left eye, right eye), as in FLAME
and smplx. Because the joint regressor is linear, joints are computed from precomputed regressed
blendshapes (5 x 3 per coefficient) rather than from the full (B, V, 3) shaped mesh.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from lsf_animation.constants import MOTION_DIM, NUM_EXPRESSION
from lsf_animation.errors import LsfError
from lsf_animation.face.model import NUM_JOINTS, FaceModel

# Below this squared angle (rad^2) the Rodrigues coefficients use their Taylor series; the
# truncation error there is < 1e-16, and the branch keeps gradients finite at zero rotation.
_SMALL_ANGLE_SQ = 1e-4


def axis_angle_to_matrix(rotvec: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula: (..., 3) axis-angle vectors (rad) -> (..., 3, 3) rotation matrices.

    R = cos(t) I + (sin(t)/t) K + ((1 - cos(t))/t^2) r r^T, with t = |r| and K the cross-product
    matrix of r; (1 - cos t) is computed as 2 sin^2(t/2) to avoid cancellation.
    """
    theta_sq = (rotvec * rotvec).sum(-1)
    small = theta_sq < _SMALL_ANGLE_SQ
    safe_sq = torch.where(small, torch.ones_like(theta_sq), theta_sq)
    theta = safe_sq.sqrt()
    half_sin = torch.sin(0.5 * theta)
    a = torch.where(small, 1.0 - theta_sq / 6.0 + theta_sq**2 / 120.0, torch.sin(theta) / theta)
    b = torch.where(
        small, 0.5 - theta_sq / 24.0 + theta_sq**2 / 720.0, 2.0 * half_sin * half_sin / safe_sq
    )
    c = 1.0 - b * theta_sq  # cos(t)
    x, y, z = rotvec.unbind(-1)
    ax, ay, az = a * x, a * y, a * z
    bx, by, bz = b * x, b * y, b * z
    rows = (
        c + bx * x, bx * y - az, bx * z + ay,
        bx * y + az, c + by * y, by * z - ax,
        bx * z - ay, by * z + ax, c + bz * z,
    )  # fmt: skip
    return torch.stack(rows, dim=-1).reshape(*rotvec.shape[:-1], 3, 3)


class FlameLayer(nn.Module):
    """FLAME forward pass for one `FaceModel`, batched over B parameter sets.

    All model arrays are buffers (they follow `.to(device)`), stored in `dtype`. Per-vertex
    buffers are kept coordinate-major ((3, V): all x, then all y, then all z) so that skinning
    runs as contiguous elementwise passes; `forward` returns the usual (B, V, 3).
    """

    # buffers (registered in __init__)
    v_template: torch.Tensor
    shapedirs: torch.Tensor
    posedirs_exprdirs: torch.Tensor
    joints_template: torch.Tensor
    joints_shapedirs: torch.Tensor
    joints_exprdirs: torch.Tensor
    weights_t: torch.Tensor
    faces: torch.Tensor

    def __init__(self, face: FaceModel, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        if dtype not in (torch.float32, torch.float64):
            raise LsfError(f"FlameLayer dtype must be torch.float32 or torch.float64, not {dtype}")
        self.face_name = face.name
        self.num_vertices = face.num_vertices
        self.num_shape = face.num_shape
        self.num_expression = face.num_expression
        self.parents = [int(p) for p in face.parents]
        v = self.num_vertices

        def buf(name: str, array: np.ndarray) -> None:
            tensor = torch.as_tensor(np.ascontiguousarray(array, dtype=np.float64)).to(dtype)
            self.register_buffer(name, tensor)

        def coordinate_major(dirs: np.ndarray) -> np.ndarray:  # (V, 3, K) -> (K, 3 * V)
            return dirs.transpose(2, 1, 0).reshape(dirs.shape[2], 3 * v)

        posedirs = np.asarray(face.posedirs).reshape(-1, v, 3).transpose(1, 2, 0)  # (V, 3, 36)
        j_reg = np.asarray(face.j_regressor, np.float64)
        # Joints are linear in the coefficients: J = J_reg v_template + sum_k c_k J_reg d_k.
        j_shape = np.einsum("jv,vcs->jcs", j_reg, face.shapedirs)
        j_expr = np.einsum("jv,vce->jce", j_reg, face.exprdirs)
        buf("v_template", face.v_template.T.reshape(3 * v))  # (3V,)
        buf("shapedirs", coordinate_major(face.shapedirs))  # (S, 3V)
        # Pose correctives first, then expressions: a prefix of the rows serves any E' <= E.
        buf("posedirs_exprdirs", coordinate_major(np.concatenate([posedirs, face.exprdirs], 2)))
        buf("joints_template", j_reg @ face.v_template)  # (5, 3)
        buf("joints_shapedirs", j_shape.reshape(NUM_JOINTS * 3, -1).T)  # (S, 15)
        buf("joints_exprdirs", j_expr.reshape(NUM_JOINTS * 3, -1).T)  # (E, 15)
        buf("weights_t", face.weights.T)  # (5, V)
        self.weights_sum_to_one = bool(np.allclose(face.weights.sum(1), 1.0, rtol=0, atol=1e-6))
        self.register_buffer("faces", torch.as_tensor(np.asarray(face.faces, np.int64)))

    @property
    def dtype(self) -> torch.dtype:
        return self.v_template.dtype

    def forward(
        self,
        shape: torch.Tensor | None = None,
        expression: torch.Tensor | None = None,
        global_pose: torch.Tensor | None = None,
        neck_pose: torch.Tensor | None = None,
        jaw_pose: torch.Tensor | None = None,
        eye_pose: torch.Tensor | None = None,
        translation: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Vertices of B faces.

        Args:
            shape: (B, <=S) identity coefficients (zero-padded to S); missing parameters are zero.
            expression: (B, <=E) expression coefficients (zero-padded to E, e.g. 50 of 100).
            global_pose, neck_pose, jaw_pose: (B, 3) axis-angle (rad).
            eye_pose: (B, 6) axis-angle of the left then the right eye (rad).
            translation: (B, 3) metres.
            Any argument may have batch size 1 and is then broadcast to B.

        Returns:
            (B, V, 3) vertices in metres, in the layer's dtype.
        """
        cm = self.vertices_coordinate_major(
            shape, expression, global_pose, neck_pose, jaw_pose, eye_pose, translation
        )
        return cm.transpose(1, 2).contiguous()

    def vertices_coordinate_major(
        self,
        shape: torch.Tensor | None = None,
        expression: torch.Tensor | None = None,
        global_pose: torch.Tensor | None = None,
        neck_pose: torch.Tensor | None = None,
        jaw_pose: torch.Tensor | None = None,
        eye_pose: torch.Tensor | None = None,
        translation: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Same as `forward` but returns (B, 3, V) (x row, y row, z row) without the transpose."""
        named = {
            "shape": (shape, None),
            "expression": (expression, None),
            "global_pose": (global_pose, 3),
            "neck_pose": (neck_pose, 3),
            "jaw_pose": (jaw_pose, 3),
            "eye_pose": (eye_pose, 6),
            "translation": (translation, 3),
        }
        given = {
            k: self._as_tensor(k, t, width) for k, (t, width) in named.items() if t is not None
        }
        batch = _batch_size(given)
        device, dtype = self.v_template.device, self.dtype
        v = self.num_vertices

        shape_c = self._coefficients(given, "shape", self.num_shape)
        expr_c = self._coefficients(given, "expression", self.num_expression)
        base = self.v_template.unsqueeze(0)  # (1 or B, 3V): the shaped template
        joints = self.joints_template.reshape(1, NUM_JOINTS * 3)  # (1 or B, 15)
        if shape_c is not None:
            n = shape_c.shape[1]
            base = torch.addmm(base, shape_c, self.shapedirs[:n])
            joints = torch.addmm(joints, shape_c, self.joints_shapedirs[:n])
        if expr_c is not None:
            joints = torch.addmm(joints, expr_c, self.joints_exprdirs[: expr_c.shape[1]])
        joints = joints.expand(batch, -1).reshape(batch, NUM_JOINTS, 3)

        zeros = torch.zeros(1, 3, device=device, dtype=dtype)
        eye = given.get("eye_pose", torch.zeros(1, 6, device=device, dtype=dtype))
        poses = [
            given.get("global_pose", zeros),
            given.get("neck_pose", zeros),
            given.get("jaw_pose", zeros),
            eye[:, :3],
            eye[:, 3:],
        ]
        pose = torch.stack([p.expand(batch, 3) for p in poses], dim=1)  # (B, 5, 3)
        rot = axis_angle_to_matrix(pose)  # (B, 5, 3, 3)

        # One matmul for pose correctives (from R - I of the non-root joints) and expressions.
        identity = torch.eye(3, device=device, dtype=dtype)
        parts = [(rot[:, 1:] - identity).reshape(batch, 9 * (NUM_JOINTS - 1))]
        if expr_c is not None:
            parts.append(expr_c.expand(batch, -1))
        features = torch.cat(parts, dim=1)
        dirs = self.posedirs_exprdirs[: features.shape[1]]
        v_posed = torch.addmm(base.expand(batch, -1), features, dirs).reshape(batch, 1, 3, v)

        # World rotation and translation of each joint, then relative to its rest position.
        world_rot = [rot[:, 0]]
        world_t = [joints[:, 0]]
        for j in range(1, NUM_JOINTS):
            p = self.parents[j]
            local_t = joints[:, j] - joints[:, p]
            world_t.append(world_t[p] + (world_rot[p] @ local_t.unsqueeze(-1)).squeeze(-1))
            world_rot.append(world_rot[p] @ rot[:, j])
        g_rot = torch.stack(world_rot, dim=1)  # (B, 5, 3, 3)
        g_t = torch.stack(world_t, dim=1) - (g_rot @ joints.unsqueeze(-1)).squeeze(-1)  # (B, 5, 3)
        translation = given.get("translation")
        if translation is not None and self.weights_sum_to_one:
            g_t = g_t + translation.unsqueeze(1)  # moves every vertex by the same amount
            translation = None

        # Skinning: blend the joints' 3x4 transforms per vertex ((B, 12, V), one matmul), then
        # x'_m = sum_n R_mn x_n + t_m as contiguous passes over V.
        transforms = torch.cat([g_rot.reshape(batch, NUM_JOINTS, 9), g_t], dim=-1)  # (B, 5, 12)
        blended = transforms.transpose(1, 2) @ self.weights_t  # (B, 12, V)
        rotated = (blended[:, :9].reshape(batch, 3, 3, v) * v_posed).sum(2)
        vertices = rotated + blended[:, 9:]
        if translation is not None:
            vertices = vertices + translation.unsqueeze(-1)
        return vertices

    def _coefficients(
        self, given: dict[str, torch.Tensor], key: str, available: int
    ) -> torch.Tensor | None:
        coeffs = given.get(key)
        if coeffs is None or coeffs.shape[1] == 0:
            return None
        if coeffs.shape[1] > available:
            raise LsfError(
                f"FlameLayer: {key} has {coeffs.shape[1]} coefficients but the face model "
                f"{self.face_name!r} has only {available}"
            )
        return coeffs

    def _as_tensor(self, name: str, value: torch.Tensor, width: int | None) -> torch.Tensor:
        t = torch.as_tensor(value, device=self.v_template.device).to(self.dtype)
        if t.ndim != 2 or (width is not None and t.shape[1] != width):
            expected = f"(B, {width})" if width is not None else "(B, N)"
            raise LsfError(f"FlameLayer: {name} has shape {tuple(t.shape)}, expected {expected}")
        return t


def _batch_size(given: dict[str, torch.Tensor]) -> int:
    sizes = {k: t.shape[0] for k, t in given.items()}
    batch = max(sizes.values(), default=1)
    bad = {k: n for k, n in sizes.items() if n not in (1, batch)}
    if bad:
        raise LsfError(f"FlameLayer: inconsistent batch sizes {sizes}; use B or 1 for each")
    return batch


def motion_to_vertices(
    layer: FlameLayer,
    motion: np.ndarray | torch.Tensor,
    shape: np.ndarray | torch.Tensor | Sequence[float] | None = None,
    chunk: int = 128,
) -> np.ndarray:
    """Vertices of a motion sequence: 50 expression coefficients + 3 jaw axis-angle per frame.

    Other poses are zero. Frames are processed `chunk` at a time under `torch.inference_mode`.

    Args:
        layer: the FLAME layer of the face.
        motion: (T, 53) or (K, T, 53).
        shape: (S',) identity coefficients (S' <= S, e.g. 300) or None for the template identity.
        chunk: frames per forward pass; bounds memory (about 0.6 MB per frame for FLAME in
            float32). The default keeps each temporary under glibc's 32 MB mmap threshold, so
            buffers are reused between chunks instead of page-faulted in again (faster on CPU).

    Returns:
        (T, V, 3) or (K, T, V, 3) float32 vertices in metres.
    """
    m = torch.as_tensor(np.asarray(motion) if not torch.is_tensor(motion) else motion)
    if m.ndim not in (2, 3) or m.shape[-1] != MOTION_DIM:
        raise LsfError(
            f"motion has shape {tuple(m.shape)}, expected (T, {MOTION_DIM}) or "
            f"(K, T, {MOTION_DIM}): {NUM_EXPRESSION} expression coefficients + 3 jaw values"
        )
    if chunk < 1:
        raise LsfError(f"chunk must be a positive number of frames, got {chunk}")
    lead = tuple(m.shape[:-1])
    frames = m.reshape(-1, MOTION_DIM)
    out = np.empty((frames.shape[0], layer.num_vertices, 3), dtype=np.float32)
    shape_row = None
    if shape is not None:
        shape_row = torch.as_tensor(np.asarray(shape, dtype=np.float64)).reshape(1, -1)
    with torch.inference_mode():
        for start in range(0, frames.shape[0], chunk):
            part = frames[start : start + chunk]
            verts = layer.vertices_coordinate_major(
                shape=shape_row,
                expression=part[:, :NUM_EXPRESSION],
                jaw_pose=part[:, NUM_EXPRESSION:],
            )  # (n, 3, V)
            out[start : start + part.shape[0]] = (
                verts.to("cpu", torch.float32).numpy().swapaxes(1, 2)
            )
    return out.reshape(*lead, layer.num_vertices, 3)
