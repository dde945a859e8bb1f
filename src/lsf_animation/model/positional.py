"""Sinusoidal positional encoding, computed for any length on the fly (no length cap)."""

from __future__ import annotations

import math

import torch
from torch import nn


def sinusoidal_encoding(
    length: int, dim: int, device: torch.device | None = None, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """The Transformer's sin/cos table.

    Returns:
        (length, dim): row t, column 2k = sin(t / 10000^(2k/dim)), column 2k+1 = cos(same).
    """
    pos = torch.arange(length, device=device, dtype=torch.float64).unsqueeze(1)
    freq = torch.exp(
        torch.arange(0, dim, 2, device=device, dtype=torch.float64) * (-math.log(10000.0) / dim)
    )
    table = torch.zeros(length, dim, device=device, dtype=torch.float64)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return table.to(dtype)


class PositionalEncoding(nn.Module):
    """x + sinusoidal table, then dropout. x: (B, T, dim) -> (B, T, dim)."""

    def __init__(self, dim: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.dim = dim
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        table = sinusoidal_encoding(x.shape[1], self.dim, x.device, x.dtype)
        return self.dropout(x + table)
