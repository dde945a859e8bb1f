"""Pure torch.nn models: the motion VQ-VAE (stage 1), the SIE-Encoder with the HIFB (stage 2),
the Table 2 ablation variants and the assembled LSF-Animation model with sampling."""

from lsf_animation.model.config import (
    VARIANTS,
    ModelConfig,
    SIEConfig,
    VQVAEConfig,
    demo_config,
    paper_config,
    preset,
)
from lsf_animation.model.losses import sie_loss, vqvae_loss
from lsf_animation.model.lsf import LSFModel, LSFOutput
from lsf_animation.model.quantizer import VectorQuantizer
from lsf_animation.model.sie_encoder import SIEEncoder
from lsf_animation.model.vqvae import MotionVQVAE

__all__ = [
    "VARIANTS",
    "LSFModel",
    "LSFOutput",
    "ModelConfig",
    "MotionVQVAE",
    "SIEConfig",
    "SIEEncoder",
    "VQVAEConfig",
    "VectorQuantizer",
    "demo_config",
    "paper_config",
    "preset",
    "sie_loss",
    "vqvae_loss",
]
