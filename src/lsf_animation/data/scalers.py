"""Per-dimension min-max scaling of motion to [0, 1] (docs/specification.md §2), stored in
checkpoints.

`transform(x) = (x - min) / (max - min)` per dimension, fitted on the training motion. A dimension
that is constant in the training data (max - min below `EPS`) gets a range of 1, so it maps to
x - min (0 on the training data) and `inverse` stays exact; no division by zero.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

import numpy as np
import torch

from lsf_animation.constants import MOTION_DIM, NUM_EXPRESSION
from lsf_animation.errors import LsfError

EPS = 1e-8
ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)


class MinMaxScaler:
    """Min-max scaler over the last axis.

    Args:
        data_min, data_max: (D,) per-dimension minimum and maximum.
    """

    def __init__(self, data_min: np.ndarray, data_max: np.ndarray) -> None:
        lo = np.asarray(data_min, dtype=np.float64).reshape(-1)
        hi = np.asarray(data_max, dtype=np.float64).reshape(-1)
        if lo.shape != hi.shape or lo.size == 0:
            raise LsfError(
                f"scaler min and max must be equal-length vectors, got {lo.shape}, {hi.shape}"
            )
        if not (np.isfinite(lo).all() and np.isfinite(hi).all()) or (hi < lo).any():
            raise LsfError("scaler min/max must be finite with max >= min")
        self.data_min = lo
        self.data_max = hi
        span = hi - lo
        self.scale = np.where(span > EPS, span, 1.0)

    @property
    def dim(self) -> int:
        return int(self.data_min.size)

    @classmethod
    def fit(cls, arrays: Iterable[np.ndarray]) -> MinMaxScaler:
        """Fit on (T_i, D) arrays (streamed: only running min and max are kept).

        Raises:
            LsfError: no data, inconsistent widths, or non-finite values.
        """
        lo: np.ndarray | None = None
        hi: np.ndarray | None = None
        for a in arrays:
            x = np.asarray(a, dtype=np.float64)
            x = x.reshape(-1, x.shape[-1])
            if x.shape[0] == 0:
                continue
            if lo is not None and x.shape[1] != lo.size:
                raise LsfError(f"scaler fit: arrays of width {lo.size} and {x.shape[1]} mixed")
            if not np.isfinite(x).all():
                raise LsfError("scaler fit: the training motion contains NaN or infinite values")
            a_lo, a_hi = x.min(axis=0), x.max(axis=0)
            lo = a_lo if lo is None else np.minimum(lo, a_lo)
            hi = a_hi if hi is None else np.maximum(hi, a_hi)
        if lo is None or hi is None:
            raise LsfError("scaler fit: no training frames (is the training split empty?)")
        return cls(lo, hi)

    @classmethod
    def release(cls) -> MinMaxScaler:
        """The released fixed ranges: expression [-3, 3] (50 dims), jaw [-0.1, 0.5] (3 dims)."""
        lo = np.r_[np.full(NUM_EXPRESSION, -3.0), np.full(MOTION_DIM - NUM_EXPRESSION, -0.1)]
        hi = np.r_[np.full(NUM_EXPRESSION, 3.0), np.full(MOTION_DIM - NUM_EXPRESSION, 0.5)]
        return cls(lo, hi)

    def _params(self, x: ArrayT) -> tuple[Any, Any]:
        if x.shape[-1] != self.dim:
            raise LsfError(f"scaler is for {self.dim} dims, got an array of shape {tuple(x.shape)}")
        if isinstance(x, torch.Tensor):
            dtype = x.dtype if x.is_floating_point() else torch.float32
            return (
                torch.as_tensor(self.data_min, dtype=dtype, device=x.device),
                torch.as_tensor(self.scale, dtype=dtype, device=x.device),
            )
        dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float32
        return self.data_min.astype(dtype), self.scale.astype(dtype)

    def transform(self, x: ArrayT) -> ArrayT:
        """(..., D) raw -> (..., D) scaled ([0, 1] on the training data); numpy or torch."""
        lo, scale = self._params(x)
        return (x - lo) / scale

    def inverse(self, x: ArrayT) -> ArrayT:
        """(..., D) scaled -> (..., D) raw; numpy or torch."""
        lo, scale = self._params(x)
        return x * scale + lo

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form for checkpoints."""
        return {"type": "minmax", "min": self.data_min.tolist(), "max": self.data_max.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MinMaxScaler:
        """Inverse of `to_dict`."""
        if not isinstance(d, dict) or d.get("type") != "minmax" or "min" not in d or "max" not in d:
            raise LsfError("not a stored min-max scaler (expected keys type='minmax', min, max)")
        return cls(np.asarray(d["min"]), np.asarray(d["max"]))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, MinMaxScaler)
            and np.array_equal(self.data_min, other.data_min)
            and np.array_equal(self.data_max, other.data_max)
        )

    def __repr__(self) -> str:
        return f"MinMaxScaler(dim={self.dim})"
