"""The self-contained checkpoint format of both stages, and `load_checkpoint`.

A checkpoint is a `torch.save`d dict, written by Lightning during training (`best.ckpt`,
`last.ckpt`: weights + optimizer and loop state, so training can resume) or, for inference, by
`write_model_file` (`model.ckpt`: the same without the optimizer and loop state). Besides
Lightning's keys (`state_dict`, `epoch`, `global_step`, ...) it holds one entry, `"lsf"`:

    {
      "format": "lsf-animation-checkpoint", "version": 1,
      "stage": 1 | 2,
      "model_config": ModelConfig.to_dict(),          # sizes and Table 2 variant
      "train_config": TrainConfig.to_dict(),          # the whole run config
      "scaler": MinMaxScaler.to_dict(),               # motion scaling (fitted in stage 1)
      "identity_index": IdentityIndex.to_dict() | None,  # speaker -> one-hot label
      "features": {                                   # stage 2: the speech features it was
        "motion":  {"name", "options", "fingerprint", "dim"},   # trained on, so inference
        "emotion": {...} | None,                      # computes (and checks) the same ones
      } | None,
      "backbone": {"type": "hubert-upper", "hubert_config", "num_frozen"} | None,
      "data": {"root", "split", "train_subjects", "val_subjects", ...},
      "prior": {"path", "epoch", "val_loss"} | None,  # stage 2: the stage-1 file it started from
    }

Stage-1 `state_dict` keys are `vqvae.*` (the `MotionVQVAE`); stage-2 keys are `model.*` (the
whole `LSFModel`: the frozen prior, the SIE-Encoder and the motion backbone), so a stage-2 file
alone rebuilds the model. The pretrained speech encoders are not stored: they are inputs, named
and fingerprinted under "features" (the offline features need no files at all).
"""

from __future__ import annotations

import os
import pickle
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from lsf_animation.errors import LsfError
from lsf_animation.model.config import ModelConfig

FORMAT = "lsf-animation-checkpoint"
VERSION = 1
STAGE_NAMES = {1: "stage 1 (motion prior)", 2: "stage 2 (SIE-Encoder, the full model)"}
_PREFIX = {1: "vqvae.", 2: "model."}


def attach_metadata(
    checkpoint: dict[str, Any], stage: int, model_config: ModelConfig, metadata: dict[str, Any]
) -> None:
    """Put the "lsf" entry into a checkpoint dict being saved (LightningModule hook)."""
    checkpoint["lsf"] = {
        **metadata,
        "format": FORMAT,
        "version": VERSION,
        "stage": stage,
        "model_config": model_config.to_dict(),
    }


@dataclass
class Checkpoint:
    """A loaded checkpoint.

    Attributes:
        path: the file.
        stage: 1 or 2.
        meta: the "lsf" entry (see the module docstring).
        state_dict: the model's weights with the Lightning prefix removed (stage 1: the
            `MotionVQVAE`'s keys; stage 2: the `LSFModel`'s keys).
        epoch, global_step: where training was when it was saved.
    """

    path: Path
    stage: int
    meta: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    epoch: int
    global_step: int

    @property
    def model_config(self) -> ModelConfig:
        return ModelConfig.from_dict(self.meta["model_config"])

    @property
    def scaler(self) -> Any:
        """The motion `MinMaxScaler`."""
        from lsf_animation.data.scalers import MinMaxScaler

        return MinMaxScaler.from_dict(self.meta["scaler"])

    @property
    def identity_index(self) -> Any:
        """The `IdentityIndex` (speaker -> label), or None when the run had none."""
        from lsf_animation.data.identities import IdentityIndex

        d = self.meta.get("identity_index")
        return None if d is None else IdentityIndex.from_dict(d)

    @property
    def features(self) -> dict[str, Any] | None:
        return self.meta.get("features")

    def build_prior(self) -> Any:
        """The `MotionVQVAE` with its trained weights, in eval mode."""
        from lsf_animation.model.vqvae import MotionVQVAE

        prior = MotionVQVAE(self.model_config.vqvae)
        sd = self.state_dict
        if self.stage == 2:
            sd = {k[len("prior.") :]: v for k, v in sd.items() if k.startswith("prior.")}
        _load(prior, sd, self.path)
        return prior.eval()

    def build_model(self) -> Any:
        """The whole `LSFModel` (stage 2 only) with its weights, prior frozen, in eval mode."""
        from lsf_animation.model.lsf import LSFModel
        from lsf_animation.train.backbone import build_backbone

        self.require_stage(2)
        model = LSFModel(self.model_config, build_backbone(self.meta.get("backbone")))
        _load(model, self.state_dict, self.path)
        model.freeze_prior()
        return model.eval()

    def require_stage(self, stage: int) -> Checkpoint:
        """Self, or LsfError when this is the other stage's checkpoint."""
        if self.stage != stage:
            hint = (
                "give the stage-1 checkpoint (<out>/stage1/model.ckpt) as the prior"
                if stage == 1
                else "train stage 2 on it first (lsf-animation train stage2) and use "
                "<out>/stage2/model.ckpt"
            )
            raise LsfError(
                f"{self.path} is a {STAGE_NAMES[self.stage]} checkpoint, but a "
                f"{STAGE_NAMES[stage]} checkpoint is needed here; {hint}"
            )
        return self


def _load(module: torch.nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    try:
        # assign: the module takes the (memory-mapped) checkpoint tensors as its parameters
        # instead of copying them into freshly initialized ones.
        module.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as err:
        raise LsfError(
            f"the weights in {path} do not fit the model its config describes ({err}); the "
            "file is damaged or was written by an incompatible version"
        ) from err


def read_checkpoint_dict(path: str | Path) -> dict[str, Any]:
    """The raw dict of a checkpoint file (tensors and plain Python values only: no code runs).

    Raises:
        LsfError: missing, unreadable, truncated or not a torch checkpoint.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise LsfError(f"checkpoint {p} not found; give the .ckpt written by lsf-animation train")
    if not p.is_file():
        raise LsfError(f"checkpoint {p} is not a file")
    try:
        # mmap: tensors are paged in from the file when used (copy-on-write), not read up front.
        data = torch.load(p, map_location="cpu", weights_only=True, mmap=True)
    except (
        RuntimeError,
        OSError,
        EOFError,
        ValueError,
        pickle.UnpicklingError,
        zipfile.BadZipFile,
        KeyError,
        IndexError,
    ) as err:
        raise LsfError(
            f"cannot read checkpoint {p}: {str(err).splitlines()[0] if str(err) else err!r}; "
            "the file is truncated, damaged or not a checkpoint"
        ) from err
    if not isinstance(data, dict):
        raise LsfError(f"{p} holds a {type(data).__name__}, not a checkpoint dict")
    return data


def load_checkpoint(path: str | Path, stage: int | None = None) -> Checkpoint:
    """Read a checkpoint of either stage (or only `stage`).

    Args:
        path: a `.ckpt` from `lsf-animation train` (best.ckpt, last.ckpt or model.ckpt).
        stage: 1 or 2 to require that stage; None accepts both.

    Raises:
        LsfError: the file is missing or unreadable, not an lsf-animation checkpoint, from a
            newer format version, or of the other stage.
    """
    p = Path(path).expanduser()
    data = read_checkpoint_dict(p)
    meta = data.get("lsf")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise LsfError(
            f"{p} is not an lsf-animation checkpoint (no 'lsf' metadata); give a checkpoint "
            "written by lsf-animation train"
        )
    if int(meta.get("version", 0)) > VERSION:
        raise LsfError(
            f"{p} has checkpoint format version {meta.get('version')}, newer than this "
            f"lsf-animation reads ({VERSION}); upgrade lsf-animation"
        )
    got = int(meta.get("stage", 0))
    if got not in _PREFIX:
        raise LsfError(f"{p}: unknown stage {meta.get('stage')!r} in the checkpoint metadata")
    state = data.get("state_dict")
    if not isinstance(state, dict):
        raise LsfError(f"{p} has no model weights (state_dict)")
    prefix = _PREFIX[got]
    weights = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    ckpt = Checkpoint(
        path=p,
        stage=got,
        meta=meta,
        state_dict=weights,
        epoch=int(data.get("epoch", -1)),
        global_step=int(data.get("global_step", -1)),
    )
    if stage is not None:
        ckpt.require_stage(stage)
    return ckpt


def write_model_file(source: str | Path, dest: str | Path) -> Path:
    """Copy a training checkpoint without its optimizer and loop state (the inference file).

    Written to a temporary file and renamed, so `dest` is either absent or complete. Returns
    `dest`. The result loads with `load_checkpoint` (not for resuming training).
    """
    data = read_checkpoint_dict(source)
    keep = {k: data[k] for k in ("state_dict", "epoch", "global_step", "lsf") if k in data}
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".ckpt", dir=dest.parent)
    os.close(fd)
    try:
        torch.save(keep, tmp)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest
