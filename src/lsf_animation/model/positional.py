"""Sinusoidal positional encoding, computed for any length on the fly (no length cap).

The table is computed in float32 in the order the authors' release builds its stored table
(positions times frequencies, then sin / cos), so a released model sees the same values; the
release keeps a 5000-row table as a buffer, this module has no state.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def sinusoidal_encoding(
    length: int, dim: int, device: torch.device | None = None, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """The Transformer's sin/cos table, computed in float32 and returned in `dtype`.

    Returns:
        (length, dim): row t, column 2k = sin(t * w_k), column 2k+1 = cos(t * w_k) with
        w_k = exp(2k * -ln(10000) / dim).
    """
    pos = torch.arange(length, device=device, dtype=torch.float32).unsqueeze(1)
    freq = torch.exp(
        torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim)
    )
    angle = pos * freq
    table = torch.zeros(length, dim, device=device, dtype=torch.float32)
    table[:, 0::2] = torch.sin(angle)
    table[:, 1::2] = torch.cos(angle[:, : dim // 2])
    return table.to(dtype)


class PositionalEncoding(nn.Module):
    """x + sinusoidal table, then dropout (training only). x: (B, T, dim) -> (B, T, dim)."""

    def __init__(self, dim: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.dim = dim
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        table = sinusoidal_encoding(x.shape[1], self.dim, x.device, x.dtype)
        return self.dropout(x + table)
