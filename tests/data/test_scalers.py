"""Min-max motion scaler and the identity index, as stored in checkpoints."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lsf_animation.data.identities import IdentityIndex
from lsf_animation.data.scalers import MinMaxScaler
from lsf_animation.errors import LsfError


def _training_motion() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    clips = [rng.normal(size=(t, 53)).astype(np.float32) * 2 for t in (10, 17, 5)]
    for c in clips:
        c[:, 7] = 0.25  # a dimension constant over the whole training set
    return clips


def test_fit_maps_training_data_to_unit_range_per_dimension() -> None:
    clips = _training_motion()
    scaler = MinMaxScaler.fit(clips)
    scaled = np.concatenate([scaler.transform(c) for c in clips])
    assert scaled.dtype == np.float32
    assert np.all(np.isfinite(scaled))
    others = np.delete(scaled, 7, axis=1)
    np.testing.assert_allclose(others.min(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(others.max(axis=0), 1.0, atol=1e-6)
    np.testing.assert_array_equal(scaled[:, 7], 0.0)  # constant dim: no division by zero
    for c in clips:
        np.testing.assert_allclose(scaler.inverse(scaler.transform(c)), c, atol=1e-5)


def test_torch_tensors_round_trip_on_their_dtype() -> None:
    scaler = MinMaxScaler.fit(_training_motion())
    x = torch.randn(2, 9, 53, dtype=torch.float64)
    y = scaler.transform(x)
    assert isinstance(y, torch.Tensor) and y.dtype == torch.float64
    torch.testing.assert_close(scaler.inverse(y), x)
    np.testing.assert_allclose(y.numpy(), scaler.transform(x.numpy()))


def test_checkpoint_round_trip_through_json() -> None:
    scaler = MinMaxScaler.fit(_training_motion())
    restored = MinMaxScaler.from_dict(json.loads(json.dumps(scaler.to_dict())))
    assert restored == scaler
    x = np.random.default_rng(1).normal(size=(4, 53))
    np.testing.assert_array_equal(restored.transform(x), scaler.transform(x))
    with pytest.raises(LsfError, match="min-max"):
        MinMaxScaler.from_dict({"min": [0.0]})


def test_release_ranges() -> None:
    scaler = MinMaxScaler.release()
    x = np.zeros((1, 53))
    x[0, :50] = 3.0
    x[0, 50:] = -0.1
    np.testing.assert_allclose(scaler.transform(x), np.r_[np.ones(50), np.zeros(3)][None])


def test_fit_errors() -> None:
    with pytest.raises(LsfError, match="no training frames"):
        MinMaxScaler.fit([])
    with pytest.raises(LsfError, match="NaN"):
        MinMaxScaler.fit([np.full((3, 53), np.nan)])
    with pytest.raises(LsfError, match="53 dims"):
        MinMaxScaler.fit(_training_motion()).transform(np.zeros((2, 50)))


def test_identity_index_is_order_independent_and_stored() -> None:
    a = IdentityIndex(["W009", "M003", "M005", "M003"])
    b = IdentityIndex(["M005", "W009", "M003"])
    assert a == b and len(a) == 3
    assert [a.index(s) for s in ("M003", "M005", "W009")] == [0, 1, 2]
    assert a.index("W040") == -1 and a.index("W040", unknown=0) == 0
    assert IdentityIndex.from_dict(json.loads(json.dumps(a.to_dict()))) == a
