"""Reading the authors' released Lightning checkpoints without running code from them.

A released `.ckpt` (PyTorch Lightning 2.1, torch 2.1, hydra / omegaconf 2.3) is a `torch.save`d
dict: "state_dict" (the weights), "epoch", "global_step", "pytorch-lightning_version",
"loops", "callbacks", "optimizer_states", "lr_schedulers", "hparams_name" and
"hyper_parameters". The last holds the hydra config the model was built from, pickled as
omegaconf `DictConfig` / `ListConfig` objects, and numpy scalars (parameter counts), so
torch's weights-only loader refuses it. Such a file is then read with a restricted unpickler
that rebuilds only tensors, numpy arrays and plain containers and turns every other class into
an inert placeholder (`lsf_animation.io.safe_pickle`); nothing in the file is executed.
`plain` turns the placeholders of omegaconf containers back into dicts and lists.

`read_lightning_checkpoint` returns the weights and the plain hyper-parameters; converting the
weights is `lsf_animation.model.release_keys.map_release_state`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from lsf_animation.errors import LsfError
from lsf_animation.io.safe_pickle import Placeholder, torch_load_mapped, torch_pickle_module

PlainValue = Any  # None | bool | int | float | str | list | dict | torch.Tensor (recursive)


@dataclass
class LightningCheckpoint:
    """The parts of a Lightning checkpoint an import needs.

    Attributes:
        path: the file.
        state_dict: every tensor of the "state_dict" entry, by key.
        hyper_parameters: the "hyper_parameters" entry as plain values (`plain`); {} if absent.
        epoch, global_step: training progress when saved (None if absent).
        lightning_version: the "pytorch-lightning_version" entry (None if absent).
        weights_only: True when torch's weights-only loader read the file; False when the
            restricted unpickler was needed.
        top_level_keys: the file's top-level keys.
    """

    path: Path
    state_dict: dict[str, torch.Tensor]
    hyper_parameters: dict[str, PlainValue] = field(default_factory=dict)
    epoch: int | None = None
    global_step: int | None = None
    lightning_version: str | None = None
    weights_only: bool = True
    top_level_keys: tuple[str, ...] = ()


def plain(obj: Any, depth: int = 0) -> PlainValue:
    """A value read by the restricted unpickler as plain Python: containers recursively,
    omegaconf containers and value nodes (placeholders holding `_content` / `_val`) as their
    content, numpy scalars as Python numbers, other placeholders as "<module.Class>" strings.
    Tensors are kept."""
    if depth > 100:
        return "<too deep>"
    if obj is None or isinstance(obj, bool | int | float | str | torch.Tensor):
        return obj
    if isinstance(obj, Mapping):
        return {(k if isinstance(k, str) else str(k)): plain(v, depth + 1) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [plain(v, depth + 1) for v in obj]
    if isinstance(obj, Placeholder):
        state: object = obj.state
        inner = obj.state.get("state")
        if isinstance(inner, tuple) and len(inner) == 2 and isinstance(inner[0], dict):
            state = inner[0]  # (dict state, slot state)
        if isinstance(state, dict):
            if "_content" in state:
                return plain(state["_content"], depth + 1)
            if "_val" in state:
                return plain(state["_val"], depth + 1)
        return f"<{obj.source}>"
    item = getattr(obj, "item", None)  # numpy scalars and 0-d arrays
    if callable(item) and getattr(obj, "shape", None) == ():
        value = item()
        return value if isinstance(value, bool | int | float | str) else str(value)
    return f"<{type(obj).__module__}.{type(obj).__name__}>"


def _read(path: Path) -> tuple[Any, bool]:
    try:
        return torch_load_mapped(path, weights_only=True), True
    except Exception as strict_err:  # any refusal: read again, restricted
        try:
            module = torch_pickle_module()
            return torch_load_mapped(path, weights_only=False, pickle_module=module), False
        except Exception as err:
            raise LsfError(
                f"{path} is not a readable PyTorch checkpoint ({type(err).__name__}: "
                f"{str(err).splitlines()[0] if str(err) else ''}; weights-only load: "
                f"{type(strict_err).__name__}); give the .ckpt file of the release"
            ) from err


def read_lightning_checkpoint(path: str | Path) -> LightningCheckpoint:
    """Read a Lightning checkpoint's weights and hyper-parameters (no code from it runs).

    Also accepts a bare state dict (a dict of tensors). Tensors stay memory-mapped where the
    file allows it.

    Raises:
        LsfError: the file is missing, unreadable, not a dict, or holds no tensors.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise LsfError(f"checkpoint {p} does not exist (or is not a file); give the .ckpt path")
    obj, weights_only = _read(p)
    if not isinstance(obj, Mapping):
        raise LsfError(f"{p} holds a {type(obj).__name__}, not a checkpoint dictionary")
    inner = obj.get("state_dict")
    raw: Mapping[Any, Any] = inner if isinstance(inner, Mapping) else obj
    state = {k: v for k, v in raw.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}
    if not state:
        raise LsfError(f"{p} contains no model weights (no tensors in its state_dict)")
    hp = plain(obj.get("hyper_parameters")) if "hyper_parameters" in obj else {}
    epoch, step = obj.get("epoch"), obj.get("global_step")
    version = obj.get("pytorch-lightning_version")
    return LightningCheckpoint(
        path=p,
        state_dict=state,
        hyper_parameters=hp if isinstance(hp, dict) else {"value": hp},
        epoch=int(epoch) if isinstance(epoch, int) else None,
        global_step=int(step) if isinstance(step, int) else None,
        lightning_version=version if isinstance(version, str) else None,
        weights_only=weights_only,
        top_level_keys=tuple(str(k) for k in obj),
    )
