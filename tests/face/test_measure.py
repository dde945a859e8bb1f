"""Lip gap and mouth width on the built-in face: they move the way the mouth does."""

from __future__ import annotations

import numpy as np
import torch

from lsf_animation.face.builtin import EXPRESSION_NAMES
from lsf_animation.face.flame import FlameLayer
from lsf_animation.face.load import load_face_model
from lsf_animation.face.measure import lip_contact_vertices, lip_gap, mouth_width


def _vertices(jaw: float = 0.0, **expressions: float) -> np.ndarray:
    face = load_face_model("builtin")
    exp = torch.zeros(1, 100)
    for name, value in expressions.items():
        exp[0, EXPRESSION_NAMES.index(name)] = value
    layer = FlameLayer(face)
    with torch.no_grad():
        v = layer(
            shape=torch.zeros(1, 300), expression=exp, jaw_pose=torch.tensor([[jaw, 0.0, 0.0]])
        )
    return v.numpy()


def test_lip_gap_is_zero_at_rest_and_opens_with_the_jaw() -> None:
    face = load_face_model("builtin")
    upper, lower = lip_contact_vertices(face)
    assert face.weights[upper, 2] < 0.5 < face.weights[lower, 2]
    assert abs(face.v_template[upper, 0]) < 1e-3 and abs(face.v_template[lower, 0]) < 1e-3
    rest = lip_gap(face, _vertices())
    assert rest[0] < 1e-4
    gaps = [lip_gap(face, _vertices(jaw))[0] for jaw in (0.05, 0.1, 0.2)]
    assert 0.002 < gaps[0] < gaps[1] < gaps[2] < 0.03
    # Closing the lips over a slightly open jaw brings them back together...
    assert lip_gap(face, _vertices(0.02, mouth_open=-0.43))[0] < 0.2 * gaps[0]
    # ... and pushing them past each other counts as apart.
    assert lip_gap(face, _vertices(0.02, mouth_open=-1.5))[0] > 0.5 * gaps[0]


def test_mouth_width_narrows_when_rounding_and_widens_when_spreading() -> None:
    face = load_face_model("builtin")
    rest = mouth_width(face, _vertices())[0]
    assert 0.04 < rest < 0.06
    assert mouth_width(face, _vertices(lip_pucker=1.0))[0] < rest - 0.002
    assert mouth_width(face, _vertices(lip_stretch=1.0))[0] > rest + 0.003
