from __future__ import annotations

import numpy as np
import pytest
import torch

from fixtures_flame import random_flame_arrays, write_flame_pickle
from lsf_animation.errors import LsfError
from lsf_animation.face.fit import fit_shape
from lsf_animation.face.flame import FlameLayer
from lsf_animation.face.flame_file import load_flame_file
from lsf_animation.face.model import FaceModel

V = 160  # 480 equations for 300 unknowns: the random basis is well determined


@pytest.fixture(scope="module")
def face(tmp_path_factory: pytest.TempPathFactory) -> FaceModel:
    path = tmp_path_factory.mktemp("fit") / "m.pkl"
    return load_flame_file(write_flame_pickle(path, random_flame_arrays(V, 200, seed=7)))


def test_recovers_known_coefficients_from_a_flame_layer_mesh(face: FaceModel) -> None:
    beta = np.random.default_rng(0).normal(size=300)
    layer = FlameLayer(face, dtype=torch.float64)
    mesh = layer(shape=torch.from_numpy(beta)[None])[0].numpy()
    got = fit_shape(face, mesh)
    assert got.shape == (300,)
    assert np.abs(got - beta).max() < 1e-6


def test_fits_only_the_first_coefficients_when_asked(face: FaceModel) -> None:
    beta = np.zeros(300)
    beta[:40] = np.random.default_rng(1).normal(size=40)
    mesh = face.v_template + face.shapedirs @ beta
    got = fit_shape(face, mesh, num_coeffs=40)
    assert np.abs(got[:40] - beta[:40]).max() < 1e-6
    assert not got[40:].any()


def test_ridge_shrinks_by_a_bounded_amount(face: FaceModel) -> None:
    beta = np.random.default_rng(2).normal(size=300)
    mesh = face.v_template + face.shapedirs @ beta
    basis = face.shapedirs.reshape(V * 3, 300)
    ridge = 1e-6  # m^2, small against the squared singular values (s_min^2 ~ 2e-5)
    got = fit_shape(face, mesh, ridge=ridge)
    # Same solution as least squares on the augmented system [A; sqrt(l) I] beta = [d; 0].
    augmented = np.concatenate([basis, np.sqrt(ridge) * np.eye(300)])
    target = np.concatenate([(mesh - face.v_template).ravel(), np.zeros(300)])
    np.testing.assert_allclose(got, np.linalg.lstsq(augmented, target, rcond=None)[0], atol=1e-9)
    # beta_ridge - beta = -l (A^T A + l I)^-1 beta: shrinkage at most l / (s_min^2 + l) of |beta|.
    s_min = np.linalg.svd(basis, compute_uv=False).min()
    bound = ridge / (s_min**2 + ridge) * np.linalg.norm(beta)
    error = np.linalg.norm(got - beta)
    assert 0 < error <= bound
    assert np.linalg.norm(got) < np.linalg.norm(beta)


def test_wrong_topology_or_bad_values_raise_lsf_error(face: FaceModel) -> None:
    with pytest.raises(LsfError, match=rf"shape \(5023, 3\).*expected \({V}, 3\).*topology"):
        fit_shape(face, np.zeros((5023, 3)))
    mesh = face.v_template.copy()
    mesh[3, 1] = np.nan
    with pytest.raises(LsfError, match="NaN"):
        fit_shape(face, mesh)
    with pytest.raises(LsfError, match="num_coeffs must be between 1 and 300"):
        fit_shape(face, face.v_template, num_coeffs=301)
    with pytest.raises(LsfError, match="ridge"):
        fit_shape(face, face.v_template, ridge=-1.0)
