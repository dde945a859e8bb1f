"""Model tests run tiny networks: one thread is faster than two fighting over small ops."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import torch

from lsf_animation.model.config import ModelConfig, demo_config


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(before)


def make_tiny_config(
    variant: str = "hifb", motion_dim: int = 16, emotion_dim: int = 12
) -> ModelConfig:
    """Smaller than the demo preset (which is already small), no dropout: for unit tests."""
    cfg = demo_config(variant, motion_dim, emotion_dim)
    vq, sie = cfg.vqvae, cfg.sie
    vq.hidden_dim, vq.code_dim, vq.num_layers, vq.ffn_dim, vq.codebook_size = 32, 16, 1, 64, 16
    vq.dropout = 0.0
    sie.d_model, sie.ffn_dim, sie.fusion_mlp_dim, sie.dropout = 32, 64, 64, 0.0
    sie.num_layers = 2 if variant == "hifb" else 1  # the HIFB needs two layers to fuse
    return cfg.validate()


@pytest.fixture
def tiny_config() -> Callable[..., ModelConfig]:
    """Factory: tiny_config(variant="hifb", motion_dim=16, emotion_dim=12) -> ModelConfig."""
    return make_tiny_config
