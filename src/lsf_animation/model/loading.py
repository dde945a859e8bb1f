"""Building modules whose weights are loaded right after: skip the random initialization.

Constructing the paper-size model and the speech encoders draws ~200 M random numbers that a
strict `load_state_dict` then overwrites (about 1.5 s of the first call on 2 cores). Inside
`skip_weight_init()` the `torch.nn.init` functions (and, when a HuBERT is built,
transformers' `init_weights`) do nothing, so parameters keep the uninitialized memory
`torch.empty` gave them. Use it only around code that loads every parameter strictly afterwards.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

_INIT_FUNCTIONS = (
    "uniform_",
    "normal_",
    "trunc_normal_",
    "constant_",
    "zeros_",
    "ones_",
    "eye_",
    "dirac_",
    "xavier_uniform_",
    "xavier_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "orthogonal_",
    "sparse_",
)
# Modules that bind init functions by name at import time (`from torch.nn.init import ...`).
_MODULES = (
    "torch.nn.init",
    "torch.nn.modules.linear",
    "torch.nn.modules.conv",
    "torch.nn.modules.normalization",
    "torch.nn.modules.sparse",
    "torch.nn.modules.activation",
    "torch.nn.modules.batchnorm",
    "torch.nn.modules.transformer",
)


def _keep(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
    return tensor


@contextmanager
def skip_weight_init() -> Iterator[None]:
    """Within the block, `torch.nn.init.*` and transformers' `PreTrainedModel.init_weights`
    leave tensors untouched. Not thread-safe: other threads building modules meanwhile would
    get uninitialized weights too."""
    saved: list[tuple[Any, str, Any]] = []
    try:
        for name in _MODULES:
            module = sys.modules.get(name)
            for fn in _INIT_FUNCTIONS:
                if module is not None and hasattr(module, fn):
                    saved.append((module, fn, getattr(module, fn)))
                    setattr(module, fn, _keep)
        modeling = sys.modules.get("transformers.modeling_utils")
        if modeling is not None and hasattr(modeling, "PreTrainedModel"):
            cls = modeling.PreTrainedModel
            saved.append((cls, "init_weights", cls.__dict__["init_weights"]))
            cls.init_weights = lambda self, *a, **k: None
        yield
    finally:
        for owner, name, original in reversed(saved):
            setattr(owner, name, original)
