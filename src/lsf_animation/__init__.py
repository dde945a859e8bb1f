"""lsf-animation: label-free, emotion-aware, speech-driven 3D facial animation."""

from lsf_animation.errors import LsfError

__version__ = "0.1.0"

__all__ = ["LsfError", "__version__"]
