"""Every random stream of a training run, saved in its checkpoints and restored on resume.

A run killed after epoch k and resumed with `--resume` must continue exactly as the run that was
never interrupted (tests/train/test_resume.py compares the final weights bit for bit on CPU).
Lightning restores the weights, the optimizer, the loops and the callbacks, but not the random
generators, which the remaining epochs draw from: Python's `random`, numpy's global generator,
torch's CPU generator (dropout, the stage-1 codebook restarts, and the DataLoader, whose
shuffling sampler and worker seeds are drawn from it at the start of every epoch) and, when
CUDA is in use, every GPU's generator. `RandomStateCheckpoint` stores them all in each checkpoint
(as plain tensors and numbers, readable with `weights_only=True`) and puts them back when the
resumed run starts training, after everything that draws differently in a resumed run (model
construction, the sanity validation) is done.

Under DDP each process has its own generators but only rank 0 writes the checkpoint, so every
rank resumes with rank 0's state: the run continues correctly, but not bit for bit as an
uninterrupted multi-process run.
"""

from __future__ import annotations

import random
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback


def capture_random_state() -> dict[str, Any]:
    """The current state of every random generator a training run draws from."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "python": {"version": version, "internal": list(internal), "gauss": gauss},
        "numpy": {
            "kind": str(kind),
            "keys": torch.from_numpy(np.asarray(keys, np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_random_state(state: dict[str, Any]) -> None:
    """Put back what `capture_random_state` returned."""
    py = state["python"]
    random.setstate((py["version"], tuple(py["internal"]), py["gauss"]))
    nps = state["numpy"]
    keys = nps["keys"].numpy().astype(np.uint32)
    np.random.set_state((nps["kind"], keys, nps["pos"], nps["has_gauss"], nps["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class RandomStateCheckpoint(Callback):
    """Saves the random generators' state with every checkpoint and restores it when a resumed
    run starts training (`on_train_start`, before the LightningModule's own hook)."""

    def __init__(self) -> None:
        self._resumed: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        return capture_random_state()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._resumed = state_dict

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._resumed is not None:
            restore_random_state(self._resumed)
            self._resumed = None
