"""glTF 2.0 binary (.glb) of an animation that reproduces the FLAME layer exactly.

What the file holds (glTF 2.0 specification, sections 3.7.2 "Meshes", 3.7.3 "Skins", 3.8
"Animations"):

- one mesh whose base positions are the face's template with the subject's shape baked in
  (v_template + shapedirs · shape);
- morph targets: the expression directions the motion drives (50 for a motion file), then the
  pose correctives (posedirs) of every non-root joint the animation rotates, one target per entry
  of that joint's (R - I) (9 per joint, row-major, as FLAME lays them out); targets that are zero
  everywhere (the built-in face has no pose correctives) are left out. Morph targets are applied
  before skinning in glTF, as the blend shapes are in FLAME;
- a skin over five joint nodes root <- neck <- {jaw, left_eye, right_eye} (the face model's tree)
  with inverse bind matrices translate(-J_rest), J_rest the joints of the shaped neutral;
- one animation per motion sample at the motion's frame rate, LINEAR, keyed on every frame: the
  morph weights (expression coefficients and the (R - I) entries), the joints' rotations and the
  joints' translations where they move;
- vertex colours (linear RGB, COLOR_0) or a skin-tone material, and a camera framing the face.

Why joints translate: FLAME regresses the joints from the shaped *and expressed* mesh, so a
joint's position J(t) moves with the expression coefficients, and FLAME's skinning transform of
joint j is A_j = [G_j | w_j - G_j J_j(t)] (G_j, w_j: the joint's world rotation and position
from the kinematic chain over J(t)). With a fixed inverse bind matrix translate(-J_rest) glTF's
joint matrix is W_j · IBM_j, so the node's world transform must be
W_j = [G_j | w_j - G_j (J_j(t) - J_rest_j)]; its local translation follows from its parent's
(L_j = G_p^T (t_j - t_p)). A joint whose ancestors and itself do not rotate has W_j equal to its
rest transform, so for speech motion (only the jaw rotates) only the jaw node is animated.

Evaluated by the specification's rules, the file gives our FLAME layer's vertices (float32 file
values; measured error about 1e-7 m: tests/export/test_gltf.py).

One module for one concept (the glTF document: mesh, morph targets, skin, animation and
buffers), hence its length.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from lsf_animation.constants import MOTION_DIM, NUM_EXPRESSION
from lsf_animation.errors import LsfError
from lsf_animation.export.base import Exporter, ExportInput
from lsf_animation.export.glb import ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER, GlbBuilder, JsonObject
from lsf_animation.face.model import JOINT_NAMES, NUM_JOINTS, FaceModel
from lsf_animation.io.atomic import atomic_write_bytes
from lsf_animation.render.camera import Camera

JAW = JOINT_NAMES.index("jaw")
SKIN_TONE_SRGB = (0.86, 0.70, 0.60)  # the CPU renderer's albedo for faces without colours
GLB_NAME = "animation.glb"
# The file's camera: the CPU renderer's framing (render.camera.Camera.framing) of the shaped
# neutral, with room for the jaw, looking along -z (glTF cameras look along their -z, too).
CAMERA_FOV_DEG = 20.0
CAMERA_MARGIN = 1.25
# A joint translation that differs from its rest value by less than this (metres) is not
# animated: far below float32 resolution at head size (~1e-8 m at 0.1 m).
_STILL = 1e-9


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    """sRGB values in [0, 1] -> linear RGB (glTF vertex colours and factors are linear)."""
    c = np.clip(np.asarray(c, np.float64), 0.0, 1.0)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def rotation_matrices(rotvec: np.ndarray) -> np.ndarray:
    """Rodrigues' formula in float64: (..., 3) axis-angle (rad) -> (..., 3, 3)."""
    r = np.asarray(rotvec, np.float64)
    theta_sq = (r * r).sum(-1)
    small = theta_sq < 1e-8
    theta = np.sqrt(np.where(small, 1.0, theta_sq))
    a = np.where(small, 1.0 - theta_sq / 6.0, np.sin(theta) / theta)
    b = np.where(small, 0.5 - theta_sq / 24.0, 2.0 * np.sin(0.5 * theta) ** 2 / theta**2)
    k = np.zeros((*r.shape[:-1], 3, 3))
    k[..., 0, 1], k[..., 0, 2] = -r[..., 2], r[..., 1]
    k[..., 1, 0], k[..., 1, 2] = r[..., 2], -r[..., 0]
    k[..., 2, 0], k[..., 2, 1] = -r[..., 1], r[..., 0]
    eye = np.broadcast_to(np.eye(3), k.shape)
    return eye + a[..., None, None] * k + b[..., None, None] * (k @ k)


def quaternions(rotvec: np.ndarray) -> np.ndarray:
    """(..., 3) axis-angle (rad) -> (..., 4) unit quaternions (x, y, z, w), glTF's order."""
    r = np.asarray(rotvec, np.float64)
    theta = np.sqrt((r * r).sum(-1))
    half = 0.5 * theta
    small = theta < 1e-4
    scale = np.where(small, 0.5 - theta**2 / 48.0, np.sin(half) / np.where(small, 1.0, theta))
    q = np.concatenate([r * scale[..., None], np.cos(half)[..., None]], axis=-1)
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def _vertex_normal_sums(incidence: sp.csr_matrix, faces: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(V, 3) unnormalized area-weighted vertex normals (sums of face cross products)."""
    v0 = v[faces[:, 0]]
    cross = np.cross(v[faces[:, 1]] - v0, v[faces[:, 2]] - v0)
    return np.asarray(incidence @ cross)


@dataclass(frozen=True)
class GltfRig:
    """The static part of the file for one face and shape, and the per-frame node values.

    Attributes:
        base: (V, 3) shaped neutral vertices, metres.
        targets: (N, V, 3) morph target position deltas, metres per unit weight.
        target_names: N names: expression_00 ..., then pose_<joint>_<row><col>.
        num_expression: E, the first E targets are expression directions.
        corrective_joints: the joints (indices 1..4) whose pose correctives are targets.
        joints_rest: (5, 3) joints of the shaped neutral (the bind pose), metres.
        joints_expression: (5, 3, E) joint displacement per unit expression coefficient.
        parents: (5,) parent joint index, -1 for the root.
    """

    base: np.ndarray
    targets: np.ndarray
    target_names: tuple[str, ...]
    num_expression: int
    corrective_joints: tuple[int, ...]
    joints_rest: np.ndarray
    joints_expression: np.ndarray
    parents: np.ndarray

    @classmethod
    def build(
        cls,
        face: FaceModel,
        shape: np.ndarray,
        num_expression: int,
        rotated_joints: Sequence[int],
    ) -> GltfRig:
        """Rig of `face` with `shape` (<= S coefficients) baked in, `num_expression` expression
        targets and the pose correctives of `rotated_joints` (joints other than the root)."""
        shape = np.asarray(shape, np.float64).reshape(-1)
        if shape.size > face.num_shape:
            raise LsfError(
                f"the shape has {shape.size} coefficients but the face model {face.name!r} has "
                f"only {face.num_shape}"
            )
        if num_expression > face.num_expression:
            raise LsfError(
                f"the motion has {num_expression} expression coefficients but the face model "
                f"{face.name!r} has only {face.num_expression}"
            )
        v = face.num_vertices
        base = face.v_template + face.shapedirs[:, :, : shape.size] @ shape
        exprdirs = face.exprdirs[:, :, :num_expression]
        targets = [exprdirs[:, :, k] for k in range(num_expression)]
        names = [f"expression_{k:02d}" for k in range(num_expression)]
        posedirs = np.asarray(face.posedirs, np.float64).reshape(-1, v, 3)
        correctives = []
        for j in sorted(set(rotated_joints)):
            if not 1 <= j < NUM_JOINTS:
                continue  # the root's rotation has no corrective in FLAME
            block = posedirs[9 * (j - 1) : 9 * j]
            if not np.any(block):
                continue
            correctives.append(j)
            targets += list(block)
            names += [f"pose_{JOINT_NAMES[j]}_{e // 3}{e % 3}" for e in range(9)]
        j_reg = np.asarray(face.j_regressor, np.float64)
        return cls(
            base=base,
            targets=np.stack(targets) if targets else np.zeros((0, v, 3)),
            target_names=tuple(names),
            num_expression=num_expression,
            corrective_joints=tuple(correctives),
            joints_rest=j_reg @ base,
            joints_expression=np.einsum("jv,vce->jce", j_reg, exprdirs),
            parents=np.asarray(face.parents, np.int64),
        )

    def frames(
        self, expression: np.ndarray, poses: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-frame animated values of one sample.

        Args:
            expression: (T, E) expression coefficients.
            poses: (T, 5, 3) axis-angle rotation of each joint relative to its parent (rad).

        Returns:
            weights (T, N) morph weights, translations (T, 5, 3) local node translations
            (metres) and rotations (T, 5, 4) local node quaternions (x, y, z, w), float64.
        """
        t = expression.shape[0]
        rot = rotation_matrices(poses)  # (T, 5, 3, 3)
        weights = [expression]
        for j in self.corrective_joints:
            weights.append((rot[:, j] - np.eye(3)).reshape(t, 9))
        joints = self.joints_rest + np.einsum("jce,te->tjc", self.joints_expression, expression)
        shift = joints - self.joints_rest  # (T, 5, 3): how far expression moved each joint
        world_rot = [rot[:, 0]]
        world_pos = [joints[:, 0]]
        node_pos = [world_pos[0] - np.einsum("tab,tb->ta", rot[:, 0], shift[:, 0])]
        local = [node_pos[0]]
        for j in range(1, NUM_JOINTS):
            p = int(self.parents[j])
            g_p = world_rot[p]
            world_pos.append(
                world_pos[p] + np.einsum("tab,tb->ta", g_p, joints[:, j] - joints[:, p])
            )
            world_rot.append(g_p @ rot[:, j])
            node_pos.append(world_pos[j] - np.einsum("tab,tb->ta", world_rot[j], shift[:, j]))
            local.append(np.einsum("tba,tb->ta", g_p, node_pos[j] - node_pos[p]))  # G_p^T (...)
        return (
            np.concatenate(weights, axis=1),
            np.stack(local, axis=1),
            quaternions(poses),
        )

    def rest_translations(self) -> np.ndarray:
        """(5, 3) local translations of the joint nodes in the bind pose."""
        out = self.joints_rest.copy()
        for j in range(1, NUM_JOINTS):
            out[j] = self.joints_rest[j] - self.joints_rest[int(self.parents[j])]
        return out


def _skin_attributes(weights: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(V, 5) skinning weights -> [(joints uint8 (V, 4), weights float32 (V, 4))], one pair per
    four influences (JOINTS_0/WEIGHTS_0, then JOINTS_1/WEIGHTS_1 when a vertex has five).

    Influences are sorted by weight; unused slots hold joint 0 with weight 0 (the glTF
    validator asks zero weights to have joint index 0). Weights are renormalized in float32 so
    that each vertex's sum is 1 to float32 rounding, as glTF requires."""
    w = np.clip(np.asarray(weights, np.float64), 0.0, None)
    w = w / w.sum(1, keepdims=True)
    order = np.argsort(-w, axis=1, kind="stable")
    sorted_w = np.take_along_axis(w, order, axis=1)
    used = int((sorted_w > 0).sum(1).max())
    slots = 4 if used <= 4 else 8
    joints = np.zeros((w.shape[0], slots), np.uint8)
    values = np.zeros((w.shape[0], slots), np.float64)
    n = min(slots, w.shape[1])
    joints[:, :n] = np.where(sorted_w[:, :n] > 0, order[:, :n], 0)
    values[:, :n] = sorted_w[:, :n]
    v32 = values.astype(np.float32)
    # Put the float32 rounding residue on the largest weight.
    v32[:, 0] = np.float32(1.0) - v32[:, 1:].sum(1, dtype=np.float32)
    return [(joints[:, s : s + 4], v32[:, s : s + 4]) for s in range(0, slots, 4)]


def motion_poses(motion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(K, T, 53) motion -> expression (K, T, 50) and joint poses (K, T, 5, 3) (only the jaw
    rotates; root, neck and eyes stay at zero, as `motion_to_vertices` has them)."""
    motion = np.asarray(motion, np.float64)
    poses = np.zeros((*motion.shape[:2], NUM_JOINTS, 3))
    poses[:, :, JAW] = motion[:, :, NUM_EXPRESSION:]
    return motion[:, :, :NUM_EXPRESSION], poses


def _check_motion(motion: np.ndarray) -> np.ndarray:
    motion = np.asarray(motion)
    if motion.ndim == 2:
        motion = motion[None]
    if motion.ndim != 3 or motion.shape[-1] != MOTION_DIM or motion.shape[1] == 0:
        raise LsfError(
            f"motion has shape {tuple(motion.shape)}, expected (K, T, {MOTION_DIM}) with T >= 1: "
            f"{NUM_EXPRESSION} expression coefficients + 3 jaw values per frame"
        )
    if not np.isfinite(motion).all():
        raise LsfError("motion contains NaN or inf values")
    return motion


def gltf_bytes(
    face: FaceModel,
    expression: np.ndarray,
    poses: np.ndarray,
    shape: np.ndarray,
    fps: float,
    audio_name: str | None = None,
    normals: bool = True,
) -> bytes:
    """The .glb file of K animation samples on one face.

    Args:
        face: the face model (FLAME or the built-in face).
        expression: (K, T, E) expression coefficients per sample and frame.
        poses: (K, T, 5, 3) joint rotations relative to their parents, axis-angle (rad), in the
            order of `JOINT_NAMES` (FLAME's global, neck, jaw, left eye, right eye poses).
        shape: (<= S,) shape coefficients, baked into the mesh.
        fps: frames per second; frame f is keyed at f / fps seconds.
        audio_name: the audio file's name, recorded in the scene's `extras` as "audio".
        normals: write vertex normals and their morph-target deltas (the exact derivative of
            the area-weighted unit normal at the neutral along each target), so viewers shade
            the moving face smoothly.

    Returns:
        The GLB bytes: animation k is named "sample_k".
    """
    num_samples, num_frames, num_expression = expression.shape
    if poses.shape != (num_samples, num_frames, NUM_JOINTS, 3):
        raise ValueError(
            f"poses have shape {poses.shape}, expected {(*expression.shape[:2], 5, 3)}"
        )
    if not fps > 0:
        raise LsfError(f"the frame rate must be positive, got {fps}")
    rotated = [j for j in range(NUM_JOINTS) if np.any(poses[:, :, j])]
    rig = GltfRig.build(face, shape, num_expression, rotated)
    builder = GlbBuilder()
    faces = np.asarray(face.faces, np.int64)
    v = face.num_vertices

    attributes: JsonObject = {
        "POSITION": builder.add(rig.base.astype(np.float32), 3, ARRAY_BUFFER, min_max=True)
    }
    normal_deltas: list[np.ndarray] = []
    if normals:
        cols = np.repeat(np.arange(len(faces)), 3)
        incidence = sp.csr_matrix(
            (np.ones(cols.size), (faces.ravel(), cols)), shape=(v, len(faces))
        )
        n_sum = _vertex_normal_sums(incidence, faces, rig.base)
        length = np.linalg.norm(n_sum, axis=1)
        unused = length == 0.0
        unit = n_sum / np.where(unused, 1.0, length)[:, None]
        unit[unused] = (0.0, 0.0, 1.0)
        attributes["NORMAL"] = builder.add(unit.astype(np.float32), 3, ARRAY_BUFFER)
        for d in rig.targets:
            # The summed normal is quadratic in the positions, so the central difference with
            # unit step is its exact derivative; project out the radial part for the unit normal.
            plus = _vertex_normal_sums(incidence, faces, rig.base + d)
            minus = _vertex_normal_sums(incidence, faces, rig.base - d)
            d_sum = 0.5 * (plus - minus)
            radial = (d_sum * unit).sum(1, keepdims=True)
            delta = (d_sum - radial * unit) / np.where(unused, 1.0, length)[:, None]
            delta[unused] = 0.0
            normal_deltas.append(delta)
    material: JsonObject = {
        "name": "skin",
        "doubleSided": True,  # the mouth's inside and FLAME's open neck are seen from behind
        "pbrMetallicRoughness": {"metallicFactor": 0.0, "roughnessFactor": 0.7},
    }
    if face.vertex_colors is not None:
        colors = srgb_to_linear(face.vertex_colors).astype(np.float32)
        attributes["COLOR_0"] = builder.add(colors, 3, ARRAY_BUFFER)
    else:
        factor = [*(float(c) for c in srgb_to_linear(np.asarray(SKIN_TONE_SRGB))), 1.0]
        material["pbrMetallicRoughness"]["baseColorFactor"] = factor
    for s, (joint_set, weight_set) in enumerate(_skin_attributes(face.weights)):
        attributes[f"JOINTS_{s}"] = builder.add(joint_set, 4, ARRAY_BUFFER)
        attributes[f"WEIGHTS_{s}"] = builder.add(weight_set, 4, ARRAY_BUFFER)
    index_type = np.uint16 if v <= 65535 else np.uint32
    indices = builder.add(faces.reshape(-1).astype(index_type), 1, ELEMENT_ARRAY_BUFFER)
    targets = []
    for k, d in enumerate(rig.targets):
        target = {"POSITION": builder.add(d.astype(np.float32), 3, ARRAY_BUFFER, min_max=True)}
        if normals:
            target["NORMAL"] = builder.add(normal_deltas[k].astype(np.float32), 3, ARRAY_BUFFER)
        targets.append(target)
    primitive: JsonObject = {"attributes": attributes, "indices": indices, "material": 0}
    mesh: JsonObject = {"name": "face", "primitives": [primitive]}
    if targets:
        primitive["targets"] = targets
        mesh["weights"] = [0.0] * len(targets)
        mesh["extras"] = {"targetNames": list(rig.target_names)}

    ibm = np.zeros((NUM_JOINTS, 4, 4))
    ibm[:] = np.eye(4)
    ibm[:, :3, 3] = -rig.joints_rest
    ibm_accessor = builder.add(ibm.transpose(0, 2, 1).astype(np.float32), 16)  # column-major

    rest = rig.rest_translations()
    joint_nodes: list[JsonObject] = []
    for j in range(NUM_JOINTS):
        node: JsonObject = {"name": JOINT_NAMES[j], "translation": [float(x) for x in rest[j]]}
        children = [1 + c for c in range(NUM_JOINTS) if int(rig.parents[c]) == j]
        if children:
            node["children"] = children
        joint_nodes.append(node)
    roots = [1 + j for j in range(NUM_JOINTS) if int(rig.parents[j]) < 0]
    camera_node = 1 + NUM_JOINTS
    view = Camera.framing(rig.base, 1, 1, fov_y_deg=CAMERA_FOV_DEG, margin=CAMERA_MARGIN)
    camera_json: JsonObject = {
        "type": "perspective",
        "perspective": {"yfov": math.radians(CAMERA_FOV_DEG), "znear": view.near, "zfar": 100.0},
    }

    per_sample = [
        rig.frames(expression[k].astype(np.float64), poses[k].astype(np.float64))
        for k in range(num_samples)
    ]
    moving = [
        j
        for j in range(NUM_JOINTS)
        if any(np.abs(trans[:, j] - rest[j]).max() > _STILL for _, trans, _ in per_sample)
    ]
    times = builder.add((np.arange(num_frames) / fps).astype(np.float32), 1, min_max=True)
    animations = []
    for k, (weights, trans, quats) in enumerate(per_sample):
        tracks: list[tuple[int, str, np.ndarray, int]] = []
        if targets:
            tracks.append((0, "weights", weights.reshape(-1), 1))
        tracks += [(1 + j, "rotation", quats[:, j], 4) for j in rotated]
        tracks += [(1 + j, "translation", trans[:, j], 3) for j in moving]
        if not tracks:
            continue
        samplers = [
            {
                "input": times,
                "output": builder.add(values.astype(np.float32), element),
                "interpolation": "LINEAR",
            }
            for _, _, values, element in tracks
        ]
        channels = [
            {"sampler": i, "target": {"node": node, "path": path}}
            for i, (node, path, _, _) in enumerate(tracks)
        ]
        animations.append({"name": f"sample_{k}", "samplers": samplers, "channels": channels})

    document: JsonObject = {
        "asset": {"version": "2.0", "generator": "lsf-animation"},
        "scene": 0,
        "scenes": [
            {
                "name": "lsf-animation",
                "nodes": [0, *roots, camera_node],
                "extras": {
                    "audio": audio_name,
                    "fps": float(fps),
                    "frames": int(num_frames),
                    "samples": int(num_samples),
                    "face_model": face.name,
                },
            }
        ],
        "nodes": [
            {"name": "face", "mesh": 0, "skin": 0},
            *joint_nodes,
            {
                "name": "camera",
                "camera": 0,
                "translation": [float(x) for x in view.eye],
                "extras": {"target": [float(x) for x in view.target]},
            },
        ],
        "cameras": [camera_json],
        "meshes": [mesh],
        "materials": [material],
        "skins": [
            {
                "name": "flame",
                "inverseBindMatrices": ibm_accessor,
                "joints": [1 + j for j in range(NUM_JOINTS)],
                "skeleton": roots[0],
            }
        ],
    }
    if animations:
        document["animations"] = animations
    return builder.glb(document)


def write_glb(
    path: str | Path,
    face: FaceModel,
    motion: np.ndarray,
    shape: np.ndarray | None,
    fps: float,
    audio: str | Path | None = None,
    normals: bool = True,
) -> Path:
    """Write the .glb of a motion file's samples, atomically.

    Args:
        path: the .glb to write.
        face: the face model the motion is for.
        motion: (K, T, 53) or (T, 53): 50 expression coefficients + jaw axis-angle (rad).
        shape: (<= 300,) shape coefficients or None (the template identity).
        fps: frames per second (25).
        audio: the audio file played with the animation (its name goes into `extras`).
        normals: see `gltf_bytes`.

    Returns:
        The path written.
    """
    motion = _check_motion(motion)
    expression, poses = motion_poses(motion)
    shape_arr = np.zeros(0) if shape is None else np.asarray(shape, np.float64)
    data = gltf_bytes(
        face,
        expression,
        poses,
        shape_arr,
        fps,
        audio_name=None if audio is None else Path(audio).name,
        normals=normals,
    )
    return atomic_write_bytes(path, data, "the glTF file")


class GltfExporter(Exporter):
    """animation.glb: every motion sample as one animation of the face model.

    The glTF needs no vertices: the file carries the face model's directions and the per-frame
    coefficients, and a glTF reader rebuilds them.
    """

    def __init__(self, normals: bool = True) -> None:
        self.normals = normals

    def outputs(self) -> dict[str, str]:
        return {"gltf": GLB_NAME}

    def write(self, item: ExportInput, folder: Path) -> None:
        m = item.motion
        write_glb(folder / GLB_NAME, item.face, m.motion, m.shape, m.fps, item.audio, self.normals)
