"""A tiny HuBERT configuration shared by the speech-feature, backbone and inference tests."""

from __future__ import annotations

from transformers import HubertConfig


def tiny_hubert_config(**overrides) -> HubertConfig:
    """A 4-layer, 32-d HuBERT with the real conv stack (kernels, strides) and tiny widths."""
    cfg = dict(
        hidden_size=32,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=64,
        conv_dim=(16,) * 7,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4,
    )
    cfg.update(overrides)
    return HubertConfig(**cfg)
