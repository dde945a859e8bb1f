"""Building the models a checkpoint describes, with its weights.

Large models are built on the meta device (no memory, no random initialization); small ones
directly, inside `torch.random.fork_rng` so that their discarded initialization leaves torch's
random generator as it was (the first meta-device build imports torch._dynamo: about 2 s and
70 MB, more than initializing a model of a few million weights costs). Either way the
checkpoint's (memory-mapped) tensors are then assigned to the modules by a strict
`load_state_dict(assign=True)`, so nothing is copied. Weights with NaN or infinite values are
refused first (`check_finite_weights`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path

import torch

from lsf_animation.checkpoint.backbone import build_backbone
from lsf_animation.checkpoint.files import Checkpoint
from lsf_animation.errors import LsfError
from lsf_animation.model.lsf import LSFModel
from lsf_animation.model.vqvae import MotionVQVAE

META_BUILD_MIN_WEIGHTS = 5_000_000
"""Models with at least this many weights are built on the meta device."""


@contextlib.contextmanager
def _building(state: Mapping[str, torch.Tensor]) -> Iterator[None]:
    """Where to build the modules that `state` will fill (see the module docstring)."""
    if sum(t.numel() for t in state.values()) >= META_BUILD_MIN_WEIGHTS:
        with torch.device("meta"):
            yield
    else:
        with torch.random.fork_rng(devices=[]):
            yield


def assign_weights(
    module: torch.nn.Module, state: Mapping[str, torch.Tensor], path: str | Path
) -> None:
    """Make `state`'s tensors the module's parameters (strict: every key, every shape).

    Raises:
        LsfError: the weights do not fit the module (missing, unknown or mis-shaped keys), or
            some are NaN or infinite (a diverged run or a damaged file: such a model would
            produce NaN motion or fail while sampling codes).
    """
    check_finite_weights(state, path)
    try:
        module.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as err:
        raise LsfError(
            f"the weights in {path} do not fit the model its config describes ({err}); the "
            "file is damaged or was written by an incompatible version"
        ) from err


def check_finite_weights(state: Mapping[str, torch.Tensor], path: str | Path) -> None:
    """LsfError naming the first floating-point tensor of `state` with NaN or inf values."""
    for name, tensor in state.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            bad = int((~torch.isfinite(tensor)).sum())
            raise LsfError(
                f"the weights in {path} contain NaN or infinite values ({bad} in {name}): the "
                "training diverged or the file is damaged; use an earlier checkpoint (e.g. its "
                "run's best.ckpt or model.ckpt) or train again with a lower learning rate"
            )


def build_prior(checkpoint: Checkpoint) -> MotionVQVAE:
    """The `MotionVQVAE` of a checkpoint of either stage, with its trained weights, eval mode."""
    state = checkpoint.state_dict
    if checkpoint.stage == 2:
        state = {k[len("prior.") :]: v for k, v in state.items() if k.startswith("prior.")}
    with _building(state):
        prior = MotionVQVAE(checkpoint.model_config.vqvae)
    assign_weights(prior, state, checkpoint.path)
    return prior.eval()


def build_model(checkpoint: Checkpoint) -> LSFModel:
    """The whole `LSFModel` of a stage-2 checkpoint with its weights, prior frozen, eval mode."""
    checkpoint.require_stage(2)
    with _building(checkpoint.state_dict):
        model = LSFModel(checkpoint.model_config, build_backbone(checkpoint.meta.backbone))
    assign_weights(model, checkpoint.state_dict, checkpoint.path)
    return model.freeze_prior().eval()
