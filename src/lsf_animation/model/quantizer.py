"""Vector quantizer with the per-frame (default) and the release code layouts.

A latent (B, T, D) is cut into "rows" of C = code_dim values; each row is replaced by its
nearest codebook entry. Layouts:

- per_frame: frame t's D values are split into D/C consecutive codes; R = T*D/C rows, row
  t*(D/C)+j holds z[b, t, j*C:(j+1)*C]. Codes never mix frames, so padding cannot leak.
- release: the authors' layout; z is permuted to (B, D, T) and its memory viewed as rows of C,
  so a row mixes channels and time steps (R = D*T/C rows, 2T for D=256, C=128). Results for a
  clip then depend on the padded length of its batch; use it to reproduce the release only.

Training and deterministic inference use argmin; sampling draws each row's code from
softmax(-||z - e_k||^2 / temperature).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from lsf_animation.errors import LsfError


@dataclass
class QuantizerOutput:
    """What one quantization pass gives.

    Attributes:
        quantized: (B, T, D) codebook vectors with straight-through gradients to the input.
        indices: (B, R) int64 code per row (per_frame: view as (B, T, D // C)).
        loss: codebook loss + beta * commitment loss (scalar, valid rows only).
        codebook_loss: mean ||sg(z) - e||^2 per element.
        commitment_loss: mean ||z - sg(e)||^2 per element.
        counts: (N,) how often each code was chosen on valid rows.
        perplexity: exp(entropy of the code histogram), 1..N.
        dead_codes: number of codes not chosen in this batch.
    """

    quantized: torch.Tensor
    indices: torch.Tensor
    loss: torch.Tensor
    codebook_loss: torch.Tensor
    commitment_loss: torch.Tensor
    counts: torch.Tensor
    perplexity: torch.Tensor
    dead_codes: torch.Tensor


def usage_statistics(counts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N,) code counts -> (perplexity, number of unused codes). Accumulate counts over an epoch
    and call this for epoch-level statistics."""
    total = counts.sum().clamp_min(1)
    p = counts.float() / total
    entropy = -(p * torch.log(p.clamp_min(1e-12))).sum()
    return torch.exp(entropy), (counts == 0).sum()


class VectorQuantizer(nn.Module):
    """Codebook of N entries of size C over latents of width D (a multiple of C)."""

    def __init__(
        self,
        num_codes: int = 256,
        code_dim: int = 128,
        latent_dim: int = 256,
        beta: float = 0.25,
        layout: str = "per_frame",
    ) -> None:
        super().__init__()
        if latent_dim % code_dim:
            raise LsfError(f"latent width {latent_dim} is not a multiple of code_dim {code_dim}.")
        if layout not in ("per_frame", "release"):
            raise LsfError(f"quantizer layout must be 'per_frame' or 'release', got {layout!r}.")
        self.num_codes = num_codes
        self.code_dim = code_dim
        self.latent_dim = latent_dim
        self.beta = beta
        self.layout = layout
        self.codebook = nn.Embedding(num_codes, code_dim)
        nn.init.uniform_(self.codebook.weight, -1.0 / num_codes, 1.0 / num_codes)

    # -- layout ---------------------------------------------------------------------------------
    def to_rows(self, z: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> (B, R, C)."""
        b, t, d = z.shape
        if d != self.latent_dim:
            raise LsfError(f"latent has width {d}, the quantizer expects {self.latent_dim}.")
        if self.layout == "per_frame":
            return z.reshape(b, t * d // self.code_dim, self.code_dim)
        return z.permute(0, 2, 1).reshape(b, d * t // self.code_dim, self.code_dim)

    def from_rows(self, rows: torch.Tensor, length: int) -> torch.Tensor:
        """(B, R, C) -> (B, T, D); inverse of `to_rows`."""
        b = rows.shape[0]
        if self.layout == "per_frame":
            return rows.reshape(b, length, self.latent_dim)
        return rows.reshape(b, self.latent_dim, length).permute(0, 2, 1)

    def row_mask(self, mask: torch.Tensor | None, length: int) -> torch.Tensor | None:
        """(B, T) frame mask -> (B, R) row mask (release: a row is valid if it touches a valid
        frame)."""
        if mask is None:
            return None
        full = mask.unsqueeze(-1).expand(-1, length, self.latent_dim)
        return self.to_rows(full).any(-1)

    @torch.no_grad()
    def init_from_latents(
        self,
        z: torch.Tensor,
        mask: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        codes: torch.Tensor | None = None,
    ) -> int:
        """Data-dependent (re)initialization: set codes to randomly chosen latent rows.

        Args:
            z: (B, T, D) encoder latents (e.g. of the first training batch).
            mask: (B, T) valid frames or None.
            codes: (K,) which codes to set (default all: data-dependent init); pass the dead
                codes to restart them.

        Returns:
            number of codes set (capped by the number of valid rows when drawing without
            replacement is impossible, rows are drawn with replacement).
        """
        rows = self.to_rows(z)
        rmask = self.row_mask(mask, z.shape[1])
        pool = rows.reshape(-1, self.code_dim) if rmask is None else rows[rmask]
        target = torch.arange(self.num_codes, device=z.device) if codes is None else codes
        if pool.shape[0] == 0 or target.numel() == 0:
            return 0
        pick = torch.randint(
            pool.shape[0], (target.numel(),), generator=generator, device=pool.device
        )
        self.codebook.weight[target] = pool[pick].to(self.codebook.weight.dtype)
        return int(target.numel())

    # -- core -----------------------------------------------------------------------------------
    def distances(self, rows: torch.Tensor) -> torch.Tensor:
        """(B, R, C) -> (B, R, N) squared Euclidean distances to every code."""
        e = self.codebook.weight
        return (
            rows.pow(2).sum(-1, keepdim=True) - 2.0 * rows @ e.t() + e.pow(2).sum(-1)[None, None, :]
        )

    def quantize_indices(
        self,
        z: torch.Tensor,
        temperature: float | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Codes for a latent: argmin (temperature None or 0) or sampled.

        Args:
            z: (B, T, D).
            temperature: > 0 draws each code from softmax(-||z - e_k||^2 / temperature).
            generator: torch.Generator for reproducible draws.

        Returns:
            (B, R) int64.
        """
        dist = self.distances(self.to_rows(z))
        if not temperature:
            return dist.argmin(-1)
        if temperature < 0:
            raise LsfError(f"temperature must be >= 0, got {temperature}.")
        probs = torch.softmax(-dist / temperature, dim=-1)
        flat = probs.reshape(-1, self.num_codes)
        draws = torch.multinomial(flat, 1, generator=generator)
        return draws.view(dist.shape[:-1])

    def decode_indices(self, indices: torch.Tensor, length: int) -> torch.Tensor:
        """(B, R) codes -> (B, T, D) codebook vectors (T = length)."""
        return self.from_rows(self.codebook(indices), length)

    def forward(self, z: torch.Tensor, mask: torch.Tensor | None = None) -> QuantizerOutput:
        """Argmin quantization with straight-through gradients and the VQ-VAE losses.

        Args:
            z: (B, T, D) encoder latent.
            mask: (B, T) bool valid frames or None.
        """
        t = z.shape[1]
        rows = self.to_rows(z)
        indices = self.distances(rows.detach()).argmin(-1)
        q_rows = self.codebook(indices)
        rmask = self.row_mask(mask, t)
        per_row_cb = F.mse_loss(q_rows, rows.detach(), reduction="none").mean(-1)
        per_row_commit = F.mse_loss(rows, q_rows.detach(), reduction="none").mean(-1)
        if rmask is None:
            codebook_loss, commitment_loss = per_row_cb.mean(), per_row_commit.mean()
            chosen = indices.reshape(-1)
        else:
            w = rmask.to(z.dtype)
            n = w.sum().clamp_min(1)
            codebook_loss = (per_row_cb * w).sum() / n
            commitment_loss = (per_row_commit * w).sum() / n
            chosen = indices[rmask]
        counts = torch.bincount(chosen, minlength=self.num_codes)
        perplexity, dead = usage_statistics(counts)
        st_rows = rows + (q_rows - rows).detach()
        return QuantizerOutput(
            quantized=self.from_rows(st_rows, t),
            indices=indices,
            loss=codebook_loss + self.beta * commitment_loss,
            codebook_loss=codebook_loss,
            commitment_loss=commitment_loss,
            counts=counts,
            perplexity=perplexity,
            dead_codes=dead,
        )
