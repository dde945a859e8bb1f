"""A glTF 2.0 reader and evaluator written from the specification, for tests only.

It shares no code with `lsf_animation.export` on purpose: it reads a .glb the way any conforming
viewer must (specification sections 3.6 "Binary Data Storage", 3.7.2.2 "Morph Targets",
3.7.3 "Skins", 3.8 "Animations", 4.4 "Binary glTF Layout") and returns the skinned, morphed
vertex positions of a mesh at a time, so tests can compare them with the FLAME layer.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

_COMPONENTS = {5120: "<i1", 5121: "<u1", 5122: "<i2", 5123: "<u2", 5125: "<u4", 5126: "<f4"}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}


@dataclass
class Gltf:
    doc: dict[str, Any]
    binary: bytes
    _cache: dict[int, np.ndarray] = field(default_factory=dict)

    @classmethod
    def read(cls, path: str | Path) -> Gltf:
        data = Path(path).read_bytes()
        magic, version, length = struct.unpack_from("<III", data, 0)
        assert magic == 0x46546C67 and version == 2 and length == len(data), "not a GLB 2 file"
        offset, doc, binary = 12, None, b""
        while offset < length:
            chunk_length, chunk_type = struct.unpack_from("<II", data, offset)
            body = data[offset + 8 : offset + 8 + chunk_length]
            if chunk_type == 0x4E4F534A:
                doc = json.loads(body.decode("utf-8"))
            elif chunk_type == 0x004E4942:
                binary = body
            offset += 8 + chunk_length
        assert doc is not None, "no JSON chunk"
        return cls(doc, binary)

    def accessor(self, index: int) -> np.ndarray:
        """(count, components) float64 (integers as they are; normalized ones scaled)."""
        if index in self._cache:
            return self._cache[index]
        acc = self.doc["accessors"][index]
        width = _WIDTH[acc["type"]]
        dtype = np.dtype(_COMPONENTS[acc["componentType"]])
        count = acc["count"]
        out = np.zeros((count, width))
        if "bufferView" in acc:
            view = self.doc["bufferViews"][acc["bufferView"]]
            assert view.get("buffer", 0) == 0
            start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
            stride = view.get("byteStride", width * dtype.itemsize)
            end = start + (count - 1) * stride + width * dtype.itemsize
            assert end <= view.get("byteOffset", 0) + view["byteLength"], "accessor overruns view"
            out = np.ndarray(
                (count, width),
                dtype,
                buffer=self.binary,
                offset=start,
                strides=(stride, dtype.itemsize),
            ).astype(np.float64)
        if "sparse" in acc:
            raise NotImplementedError("sparse accessors are not used by the files under test")
        if acc.get("normalized"):
            out = out / np.iinfo(dtype).max
        self._cache[index] = out
        return out

    # -- nodes -----------------------------------------------------------------------------

    def parents(self) -> dict[int, int]:
        out = {}
        for i, node in enumerate(self.doc["nodes"]):
            for c in node.get("children", []):
                out[c] = i
        return out

    def local_matrix(self, index: int, overrides: dict[tuple[int, str], np.ndarray]) -> np.ndarray:
        node = self.doc["nodes"][index]
        if "matrix" in node:
            return np.asarray(node["matrix"], float).reshape(4, 4).T  # column-major
        t = overrides.get((index, "translation"), np.asarray(node.get("translation", [0, 0, 0])))
        q = overrides.get((index, "rotation"), np.asarray(node.get("rotation", [0, 0, 0, 1])))
        s = overrides.get((index, "scale"), np.asarray(node.get("scale", [1, 1, 1])))
        x, y, z, w = np.asarray(q, float) / np.linalg.norm(q)
        rot = np.array(
            [
                [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
            ]
        )
        m = np.eye(4)
        m[:3, :3] = rot @ np.diag(s)
        m[:3, 3] = t
        return m

    def world_matrix(self, index: int, overrides: dict[tuple[int, str], np.ndarray]) -> np.ndarray:
        parents = self.parents()
        m = self.local_matrix(index, overrides)
        while index in parents:
            index = parents[index]
            m = self.local_matrix(index, overrides) @ m
        return m

    # -- animation ---------------------------------------------------------------------------

    def sample_animation(self, animation: int, time: float) -> dict[tuple[int, str], np.ndarray]:
        """Animated property values at `time` seconds: {(node, path): value}."""
        anim = self.doc["animations"][animation]
        out = {}
        for channel in anim["channels"]:
            sampler = anim["samplers"][channel["sampler"]]
            times = self.accessor(sampler["input"])[:, 0]
            values = self.accessor(sampler["output"])
            path = channel["target"]["path"]
            per_key = values.reshape(len(times), -1)
            interpolation = sampler.get("interpolation", "LINEAR")
            if time <= times[0]:
                value = per_key[0]
            elif time >= times[-1]:
                value = per_key[-1]
            else:
                k = int(np.searchsorted(times, time, side="right")) - 1
                a = (time - times[k]) / (times[k + 1] - times[k])
                v0, v1 = per_key[k], per_key[k + 1]
                if interpolation == "STEP":
                    value = v0
                elif path == "rotation":
                    value = _slerp(v0, v1, a)
                else:
                    value = (1 - a) * v0 + a * v1
            out[(channel["target"]["node"], path)] = value
        return out

    # -- the mesh ----------------------------------------------------------------------------

    def vertices(self, node_index: int, animation: int | None, time: float) -> np.ndarray:
        """(V, 3) positions of the first primitive of the mesh on `node_index`, in world space
        (skinned meshes: the joints' world transforms; the mesh node's own transform is
        ignored, as the specification says)."""
        overrides = {} if animation is None else self.sample_animation(animation, time)
        node = self.doc["nodes"][node_index]
        mesh = self.doc["meshes"][node["mesh"]]
        prim = mesh["primitives"][0]
        pos = self.accessor(prim["attributes"]["POSITION"])
        targets = prim.get("targets", [])
        weights = np.asarray(
            overrides.get((node_index, "weights"), node.get("weights", mesh.get("weights", [])))
        )
        for w, target in zip(weights, targets, strict=False):
            if "POSITION" in target and w != 0.0:
                pos = pos + w * self.accessor(target["POSITION"])
        if "skin" not in node:
            world = self.world_matrix(node_index, overrides)
            return pos @ world[:3, :3].T + world[:3, 3]
        skin = self.doc["skins"][node["skin"]]
        ibm = self.accessor(skin["inverseBindMatrices"]).reshape(-1, 4, 4).transpose(0, 2, 1)
        inv_mesh = np.linalg.inv(self.world_matrix(node_index, overrides))
        joint_mats = np.stack(
            [
                inv_mesh @ self.world_matrix(j, overrides) @ ibm[i]
                for i, j in enumerate(skin["joints"])
            ]
        )
        out = np.zeros_like(pos)
        s = 0
        while f"JOINTS_{s}" in prim["attributes"]:
            joints = self.accessor(prim["attributes"][f"JOINTS_{s}"]).astype(int)
            wts = self.accessor(prim["attributes"][f"WEIGHTS_{s}"])
            for c in range(4):
                m = joint_mats[joints[:, c]]  # (V, 4, 4)
                moved = np.einsum("vab,vb->va", m[:, :3, :3], pos) + m[:, :3, 3]
                out += wts[:, c : c + 1] * moved
            s += 1
        if s == 0:
            world = self.world_matrix(node_index, overrides)
            return pos @ world[:3, :3].T + world[:3, 3]
        return out


def _slerp(q0: np.ndarray, q1: np.ndarray, a: float) -> np.ndarray:
    dot = float(np.dot(q0, q1))
    if dot < 0.0:
        q1, dot = -q1, -dot
    if dot > 0.9995:
        q = (1 - a) * q0 + a * q1
        return q / np.linalg.norm(q)
    theta = np.arccos(dot)
    return (np.sin((1 - a) * theta) * q0 + np.sin(a * theta) * q1) / np.sin(theta)
