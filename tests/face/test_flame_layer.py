from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from fixtures_flame import (
    FLAME_FACES,
    FLAME_VERTICES,
    random_flame_arrays,
    write_flame_pickle,
    write_smplx_flame_folder,
)
from lsf_animation.errors import LsfError
from lsf_animation.face.flame import FlameLayer, axis_angle_to_matrix, motion_to_vertices
from lsf_animation.face.flame_file import load_flame_file
from lsf_animation.face.model import FaceModel


@pytest.fixture(scope="module")
def flame_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random model with FLAME's real sizes (smplx hard-codes the 300 + 100 split)."""
    arrays = random_flame_arrays(FLAME_VERTICES, FLAME_FACES, seed=3)
    folder = tmp_path_factory.mktemp("flame")
    write_smplx_flame_folder(folder, arrays)
    return folder


@pytest.fixture(scope="module")
def small_face(tmp_path_factory: pytest.TempPathFactory) -> FaceModel:
    path = tmp_path_factory.mktemp("small") / "m.pkl"
    return load_flame_file(write_flame_pickle(path, random_flame_arrays(48, 80, seed=5)))


def random_params(batch: int, num_expression: int, dtype: torch.dtype, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)

    def r(*shape: int, scale: float) -> torch.Tensor:
        return scale * torch.randn(*shape, generator=g, dtype=dtype)

    return {
        "shape": r(batch, 300, scale=1.0),
        "expression": r(batch, num_expression, scale=1.0),
        "global_pose": r(batch, 3, scale=0.3),
        "neck_pose": r(batch, 3, scale=0.3),
        "jaw_pose": r(batch, 3, scale=0.3),
        "eye_pose": r(batch, 6, scale=0.3),
        "translation": r(batch, 3, scale=0.05),
    }


@pytest.mark.parametrize(
    ("dtype", "num_expression", "tol"),
    [
        (torch.float64, 100, 1e-6),
        (torch.float64, 50, 1e-6),
        (torch.float32, 100, 1e-5),
        (torch.float32, 50, 1e-5),
    ],
)
def test_vertices_equal_smplx_flame(
    flame_folder: Path, dtype: torch.dtype, num_expression: int, tol: float
) -> None:
    smplx = pytest.importorskip("smplx")
    batch = 3
    p = random_params(batch, num_expression, dtype)
    reference = smplx.FLAME(
        model_path=str(flame_folder),
        num_betas=300,
        num_expression_coeffs=num_expression,
        dtype=dtype,
        batch_size=batch,
    )
    expected = reference(
        betas=p["shape"],
        expression=p["expression"],
        global_orient=p["global_pose"],
        neck_pose=p["neck_pose"],
        jaw_pose=p["jaw_pose"],
        leye_pose=p["eye_pose"][:, :3],
        reye_pose=p["eye_pose"][:, 3:],
        transl=p["translation"],
    ).vertices
    layer = FlameLayer(load_flame_file(flame_folder / "FLAME_NEUTRAL.pkl"), dtype=dtype)
    got = layer(**p)
    assert got.shape == (batch, FLAME_VERTICES, 3) and got.dtype == dtype
    # The poses really move the mesh by centimetres, so agreement is not trivially small.
    assert (got - layer(shape=p["shape"], expression=p["expression"])).abs().max() > 0.01
    assert (got - expected).abs().max().item() < tol


def test_rodrigues_matches_scipy_and_is_smooth_at_zero() -> None:
    rng = np.random.default_rng(0)
    vecs = np.concatenate(
        [
            rng.normal(scale=0.5, size=(50, 3)),
            rng.normal(scale=3.0, size=(10, 3)),  # beyond pi
            rng.normal(scale=1e-3, size=(10, 3)),  # the Taylor branch
            rng.normal(scale=1e-9, size=(5, 3)),
            np.zeros((1, 3)),
        ]
    )
    got = axis_angle_to_matrix(torch.from_numpy(vecs)).numpy()
    np.testing.assert_allclose(got, Rotation.from_rotvec(vecs).as_matrix(), atol=1e-14)
    got32 = axis_angle_to_matrix(torch.from_numpy(vecs).float()).numpy()
    np.testing.assert_allclose(got32, Rotation.from_rotvec(vecs).as_matrix(), atol=1e-6)

    # d R / d r at r = 0 is the cross-product generator: finite, no NaN from |r|.
    r = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    axis_angle_to_matrix(r)[2, 1].backward()  # R[2, 1] = r_x + O(|r|^2)
    assert r.grad.tolist() == [1.0, 0.0, 0.0]


def test_no_parameters_give_the_template_and_translation_shifts(small_face: FaceModel) -> None:
    layer = FlameLayer(small_face, dtype=torch.float64)
    np.testing.assert_allclose(layer()[0].numpy(), small_face.v_template, atol=1e-15)
    shift = torch.tensor([[0.01, -0.02, 0.03]], dtype=torch.float64)
    np.testing.assert_allclose(
        layer(translation=shift)[0].numpy(), small_face.v_template + shift.numpy(), atol=1e-15
    )


def test_translation_moves_every_vertex_even_if_weights_do_not_sum_to_one(
    small_face: FaceModel,
) -> None:
    shift = torch.tensor([[0.01, -0.02, 0.03]], dtype=torch.float64)
    jaw = torch.tensor([[0.2, 0.0, 0.1]], dtype=torch.float64)
    unnormalized = dataclasses.replace(small_face, weights=small_face.weights * 0.9)
    for face in (small_face, unnormalized):
        layer = FlameLayer(face, dtype=torch.float64)
        moved = layer(jaw_pose=jaw, translation=shift) - layer(jaw_pose=jaw)
        torch.testing.assert_close(
            moved, shift.expand(face.num_vertices, 3)[None], atol=1e-15, rtol=0
        )


def test_batch_is_vectorized_broadcast_and_zero_padded(small_face: FaceModel) -> None:
    layer = FlameLayer(small_face, dtype=torch.float64)
    p = random_params(4, 50, torch.float64, seed=1)
    p["shape"] = p["shape"][:1]  # one identity for the whole batch
    batched = layer(**p)
    for i in range(4):
        single = {k: (v if k == "shape" else v[i : i + 1]) for k, v in p.items()}
        torch.testing.assert_close(batched[i : i + 1], layer(**single), rtol=0, atol=1e-14)
    padded = dict(p, expression=torch.cat([p["expression"], torch.zeros(4, 50)], 1))
    padded["shape"] = torch.cat([p["shape"][:, :120], torch.zeros(1, 180)], 1)
    short = dict(p, shape=p["shape"][:, :120])
    torch.testing.assert_close(layer(**short), layer(**padded), rtol=0, atol=1e-14)


def test_gradients_flow_to_expression_and_jaw_at_rest(small_face: FaceModel) -> None:
    layer = FlameLayer(small_face)
    expression = torch.zeros(2, 50, requires_grad=True)
    jaw = torch.zeros(2, 3, requires_grad=True)
    layer(expression=expression, jaw_pose=jaw).square().sum().backward()
    assert torch.isfinite(expression.grad).all() and expression.grad.abs().sum() > 0
    assert torch.isfinite(jaw.grad).all() and jaw.grad.abs().sum() > 0


def test_bad_parameter_shapes_raise_lsf_error(small_face: FaceModel) -> None:
    layer = FlameLayer(small_face)
    with pytest.raises(LsfError, match=r"jaw_pose has shape \(2, 2\), expected \(B, 3\)"):
        layer(jaw_pose=torch.zeros(2, 2))
    with pytest.raises(LsfError, match="expression has 101 coefficients"):
        layer(expression=torch.zeros(1, 101))
    with pytest.raises(LsfError, match="inconsistent batch sizes"):
        layer(expression=torch.zeros(2, 50), jaw_pose=torch.zeros(3, 3))


def test_motion_to_vertices_in_chunks_equals_one_pass(small_face: FaceModel) -> None:
    layer = FlameLayer(small_face)
    rng = np.random.default_rng(2)
    motion = rng.normal(scale=0.5, size=(2, 7, 53)).astype(np.float32)
    shape = rng.normal(size=300).astype(np.float32)
    got = motion_to_vertices(layer, motion, shape, chunk=3)
    assert got.shape == (2, 7, small_face.num_vertices, 3) and got.dtype == np.float32
    m = torch.from_numpy(motion.reshape(14, 53))
    direct = layer(
        shape=torch.from_numpy(shape)[None], expression=m[:, :50], jaw_pose=m[:, 50:]
    ).reshape(2, 7, -1, 3)
    np.testing.assert_allclose(got, direct.numpy(), atol=1e-6)
    single = motion_to_vertices(layer, motion[1], None)
    assert single.shape == (7, small_face.num_vertices, 3)
    no_shape = layer(expression=m[7:, :50], jaw_pose=m[7:, 50:])
    np.testing.assert_allclose(single, no_shape.numpy(), atol=1e-6)
    with pytest.raises(LsfError, match=r"expected \(T, 53\) or \(K, T, 53\)"):
        motion_to_vertices(layer, np.zeros((5, 52)))
