"""A face model's fingerprint: which mesh and bases motion coefficients are meant for.

Motion is 50 expression coefficients and a jaw rotation; they only mean something on the face
whose template, shape and expression bases the model was trained with. The fingerprint hashes
those arrays (float32, rounded to 1e-7 m, so bit noise of a recomputed basis does not change
it) and the triangle list.
"""

from __future__ import annotations

import hashlib

import numpy as np

from lsf_animation.face.model import FaceModel

FLAME_NUM_VERTICES = 5023
"""Vertices of FLAME's mesh (2017, 2020 and 2023 share the topology)."""


def _bytes(name: str, array: np.ndarray, rounded: bool = True) -> bytes:
    values = np.round(np.asarray(array, np.float64), 7).astype(np.float32) if rounded else array
    values = np.ascontiguousarray(values)
    return f"{name}|{values.dtype}|{values.shape}\n".encode() + values.tobytes()


def face_fingerprint(face: FaceModel) -> str:
    """16 hex digits over the template (V, 3), shape basis (V, 3, S), expression basis
    (V, 3, E) and faces (F, 3) of `face`."""
    h = hashlib.sha256()
    h.update(_bytes("v_template", face.v_template))
    h.update(_bytes("shapedirs", face.shapedirs))
    h.update(_bytes("exprdirs", face.exprdirs))
    h.update(_bytes("faces", np.asarray(face.faces, np.int64), rounded=False))
    return h.hexdigest()[:16]
