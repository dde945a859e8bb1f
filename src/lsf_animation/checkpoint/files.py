"""Reading and writing checkpoint files (the format is described in `checkpoint.metadata`).

`load_checkpoint(path)` reads a checkpoint of either stage: Lightning's training checkpoints
(`best.ckpt`, `last.ckpt`, with optimizer and loop state, so training can resume) and the
inference file `model.ckpt` (the same without them). Stage-1 `state_dict` keys are `vqvae.*` (the
`MotionVQVAE`); stage-2 keys are `model.*` (the whole `LSFModel`: frozen prior, SIE-Encoder and
motion backbone), so a stage-2 file alone rebuilds the model. Files are read with
`weights_only=True` (tensors and plain containers; no code from the file runs) and memory-mapped,
so tensors are paged in when used.
"""

from __future__ import annotations

import errno
import os
import pickle
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, cast

import torch

from lsf_animation.checkpoint.metadata import STAGE_NAMES, CheckpointMeta, FeatureRecords
from lsf_animation.data.identities import IdentityIndex
from lsf_animation.data.scalers import MinMaxScaler
from lsf_animation.errors import LsfError
from lsf_animation.io.atomic import atomic_path
from lsf_animation.model.config import ModelConfig

if TYPE_CHECKING:
    from lsf_animation.model.lsf import LSFModel
    from lsf_animation.model.vqvae import MotionVQVAE

STATE_PREFIX = {1: "vqvae.", 2: "model."}
"""Lightning-module attribute holding each stage's model: the prefix of its state-dict keys."""
ENCODERS_PREFIX = "encoders."
"""State-dict prefix of speech-encoder weights a checkpoint carries ("encoders.<role>.<key>"),
written by `lsf-animation import-checkpoint` (`FeatureRecord.carried`)."""
_MODEL_FILE_KEYS = ("state_dict", "epoch", "global_step", "lsf")


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint.

    Attributes:
        path: the file.
        meta: its metadata.
        state_dict: the model's weights without the Lightning prefix (stage 1: the
            `MotionVQVAE`'s keys; stage 2: the `LSFModel`'s keys).
        epoch, global_step: where training was when it was saved.
        encoders: role -> the weights of a speech encoder the file carries (without prefix);
            empty for checkpoints of `lsf-animation train`.
    """

    path: Path
    meta: CheckpointMeta
    state_dict: dict[str, torch.Tensor]
    epoch: int = -1
    global_step: int = -1
    encoders: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)

    @property
    def stage(self) -> int:
        return self.meta.stage

    @property
    def model_config(self) -> ModelConfig:
        return self.meta.model_config

    @property
    def scaler(self) -> MinMaxScaler:
        """The motion scaler (fitted in stage 1)."""
        return self.meta.scaler

    @property
    def identity_index(self) -> IdentityIndex | None:
        """Speaker -> one-hot label, or None when the run had none."""
        return self.meta.identity_index

    @property
    def features(self) -> FeatureRecords | None:
        """The speech features a stage-2 model was trained on."""
        return self.meta.features

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

    def build_prior(self) -> MotionVQVAE:
        """The `MotionVQVAE` with its trained weights, in eval mode."""
        from lsf_animation.checkpoint.build import build_prior

        return build_prior(self)

    def build_model(self) -> LSFModel:
        """The whole `LSFModel` (stage 2 only) with its weights, prior frozen, in eval mode."""
        from lsf_animation.checkpoint.build import build_model

        return build_model(self)


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


def _int(value: object, default: int = -1) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def load_checkpoint(path: str | Path, stage: int | None = None) -> Checkpoint:
    """Read a checkpoint of either stage (or only `stage`).

    Args:
        path: a `.ckpt` from `lsf-animation train` (best.ckpt, last.ckpt or model.ckpt).
        stage: 1 or 2 to require that stage; None accepts both.

    Raises:
        LsfError: the file is missing or unreadable, not an lsf-animation checkpoint, from a
            newer format version, with metadata of the wrong form, or of the other stage.
    """
    p = Path(path).expanduser()
    data = read_checkpoint_dict(p)
    meta = CheckpointMeta.from_dict(data.get("lsf"), str(p))
    state = data.get("state_dict")
    if not isinstance(state, dict):
        raise LsfError(f"{p} has no model weights (state_dict)")
    prefix = STATE_PREFIX[meta.stage]
    weights = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    encoders: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        if key.startswith(ENCODERS_PREFIX):
            role, _, name = key[len(ENCODERS_PREFIX) :].partition(".")
            encoders.setdefault(role, {})[name] = value
    ckpt = Checkpoint(
        p, meta, weights, _int(data.get("epoch")), _int(data.get("global_step")), encoders
    )
    if stage is not None:
        ckpt.require_stage(stage)
    return ckpt


def save_checkpoint(
    path: str | Path,
    state_dict: Mapping[str, torch.Tensor],
    meta: CheckpointMeta,
    epoch: int = 0,
    global_step: int = 0,
    encoders: Mapping[str, Mapping[str, torch.Tensor]] | None = None,
) -> Path:
    """Write an inference checkpoint (`model.ckpt` form) from a model's state dict.

    Args:
        state_dict: the stage's model weights (`MotionVQVAE` for stage 1, `LSFModel` for 2),
            without prefix.
        meta: the metadata; its stage decides the key prefix.
        encoders: role -> speech-encoder weights to carry (`Checkpoint.encoders`).

    Written atomically: `path` is either absent or complete. Returns `path`.
    """
    prefix = STATE_PREFIX[meta.stage]
    state = {prefix + k: v for k, v in state_dict.items()}
    for role, weights in (encoders or {}).items():
        state.update({f"{ENCODERS_PREFIX}{role}.{k}": v for k, v in weights.items()})
    data = {
        "state_dict": state,
        "epoch": epoch,
        "global_step": global_step,
        "lsf": meta.to_dict(),
    }
    save_torch_file(data, path, "the checkpoint")
    return Path(path)


def write_model_file(source: str | Path, dest: str | Path) -> Path:
    """Copy a training checkpoint without its optimizer and loop state (the inference file).

    Written atomically, so `dest` is either absent or complete. Returns `dest`. The result loads
    with `load_checkpoint` (not for resuming training).
    """
    data = read_checkpoint_dict(source)
    keep = {k: data[k] for k in _MODEL_FILE_KEYS if k in data}
    save_torch_file(keep, dest, "the model file")
    return Path(dest)


def save_torch_file(
    data: Mapping[str, Any], path: str | Path, what: str, then: str = "run again"
) -> None:
    """`torch.save` `data` to `path` atomically (`io.atomic.atomic_path`).

    A full disk must reach `atomic_path` as the OSError (ENOSPC) it turns into one line saying
    what, where and how much (`what`, `then`), but torch's zip writer reports a failed write as
    a RuntimeError ("unexpected pos"), so the file is written through `_WholeWrites`, which
    keeps the OSError that stopped it and is re-raised instead.
    """
    with atomic_path(path, what, then=then) as tmp, open(tmp, "wb", buffering=0) as raw:
        sink = _WholeWrites(raw)
        try:
            torch.save(data, cast(IO[bytes], sink))  # torch only calls write and flush
        except RuntimeError:
            if sink.error is not None:
                raise sink.error from None
            raise


class _WholeWrites:
    """A write-only file that writes all it is given, and remembers the OSError that stopped
    it (`error`)."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.error: OSError | None = None

    def write(self, data: bytes) -> int:
        view = memoryview(data).cast("B")
        try:
            while view:
                written = self.raw.write(view)
                if not written:  # no progress without an error: the disk is full
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                view = view[written:]
        except OSError as err:
            self.error = self.error or err
            raise
        return len(data)

    def flush(self) -> None:
        self.raw.flush()
