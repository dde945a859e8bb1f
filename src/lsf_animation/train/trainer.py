"""The Lightning side of a training stage: data module, callbacks, loggers, the Trainer, fitting.

Stage N writes into `<out>/stage<N>/`:

    checkpoints/best.ckpt   lowest validation loss so far (Lightning checkpoint, resumable)
    checkpoints/last.ckpt   end of the latest epoch (what --resume continues from)
    model.ckpt              best.ckpt without optimizer state: the file inference loads
    logs/version_<k>/metrics.csv   per-step and per-epoch metrics (k = 0, then 1 after a resume)
    tensorboard/            the same metrics, when tensorboard is installed

Early stopping ends a stage when the validation loss has not improved for `patience` epochs;
the best weights are those in best.ckpt / model.ckpt. Runs are seeded and, on CPU,
deterministic, and a run resumed from last.ckpt ends with the same weights as one that was never
interrupted: checkpoints also hold every random generator's state (`train.random_state`).
Checkpoints are written atomically with the umask's permissions (`train.checkpoint_io`), so a
full disk or a kill never leaves a truncated one. Several devices or machines go through
Lightning's DDP (`devices`, `num_nodes`, `strategy` in the trainer section or on the command
line).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator, Sequence, Sized
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import (
    Callback,
    EarlyStopping,
    ModelCheckpoint,
    TQDMProgressBar,
    WeightAveraging,
)
from lightning.pytorch.loggers import CSVLogger, Logger
from torch.utils.data import DataLoader, Dataset, RandomSampler

from lsf_animation.checkpoint.files import write_model_file
from lsf_animation.data.dataset import ClipBatch, ClipItem, collate_clips
from lsf_animation.train.checkpoint_io import AtomicCheckpointIO
from lsf_animation.train.config import Stage1Section, StageSection, TrainConfig
from lsf_animation.train.data import Echo, stderr_echo
from lsf_animation.train.random_state import RandomStateCheckpoint

MONITOR = "val/loss"


@dataclass
class StageResult:
    """What a finished (or stopped) stage left behind.

    Attributes:
        out_dir: `<out>/stage<N>`.
        best, last: the Lightning checkpoints (None when no epoch finished).
        model_file: best.ckpt without optimizer state, for inference (rank 0 only).
        best_val_loss: the lowest validation loss, None before the first validation.
        epochs: epochs completed in total (including those before a resume).
        stopped_early: early stopping ended the run before max_epochs.
    """

    stage: int
    out_dir: Path
    best: Path | None
    last: Path | None
    model_file: Path | None
    best_val_loss: float | None
    epochs: int
    stopped_early: bool


class EpochShuffle(RandomSampler):
    """A random order of the dataset that is a function of (seed, epoch) alone.

    Lightning calls `set_epoch` before every epoch; the order is drawn when the epoch's
    iterator starts, from a generator seeded with (seed, epoch), so it does not depend on the
    global generators or on when Lightning creates the loader's iterator (earlier in a resumed
    run than in an uninterrupted one). A `RandomSampler`, so that under DDP Lightning replaces
    it with its `DistributedSampler` (seeded by the run's seed and the epoch, too).
    """

    def __init__(self, data_source: Sized, seed: int = 0) -> None:
        super().__init__(data_source)
        self.seed, self.epoch = int(seed), 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[int]:
        mixed = np.random.SeedSequence([self.seed, self.epoch]).generate_state(1, np.uint64)[0]
        order = torch.Generator().manual_seed(int(mixed >> np.uint64(1)))
        yield from torch.randperm(len(self.data_source), generator=order).tolist()


class ClipDataModule(L.LightningDataModule):
    """Batches of whole (or cropped) clips, padded (`data.dataset.collate_clips`), the training
    ones in an order that depends on (seed, epoch) alone (`EpochShuffle`)."""

    def __init__(
        self,
        train: Dataset,
        val: Dataset,
        batch_size: int,
        num_workers: int = 0,
        collate: Callable[[Sequence[ClipItem]], ClipBatch] = collate_clips,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.train_set, self.val_set = train, val
        self.batch_size, self.num_workers, self.collate = batch_size, num_workers, collate
        self.seed = int(seed)

    def train_dataloader(self) -> DataLoader:
        assert isinstance(self.train_set, Sized)
        return DataLoader(
            self.train_set,
            batch_size=self.batch_size,
            sampler=EpochShuffle(self.train_set, self.seed),
            collate_fn=self.collate,
            num_workers=self.num_workers,
            persistent_workers=False,
            # the workers' base seed is drawn from here, not from the global generator
            generator=torch.Generator().manual_seed(self.seed),
        )

    def val_dataloader(self) -> DataLoader:
        return DataLoader(
            self.val_set,
            batch_size=self.batch_size,
            shuffle=False,
            collate_fn=self.collate,
            num_workers=self.num_workers,
            persistent_workers=False,
        )


class _CropEpoch(Callback):
    """Tells the training dataset the epoch, so random crops change every epoch."""

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        dataset = getattr(trainer.train_dataloader, "dataset", None)
        set_epoch = getattr(dataset, "set_epoch", None)
        if callable(set_epoch):
            set_epoch(trainer.current_epoch)


def _tensorboard_available() -> bool:
    return any(importlib.util.find_spec(name) for name in ("tensorboard", "tensorboardX"))


def _deterministic(cfg: TrainConfig) -> bool | str:
    value = cfg.trainer.deterministic
    if value != "auto":
        return bool(value)
    gpu = torch.cuda.is_available() and cfg.trainer.accelerator in ("auto", "gpu", "cuda")
    return "warn" if gpu else True


def _min_epochs(stage: StageSection) -> int | None:
    """Early stopping may end a stage-1 warm-up only after one epoch of the configured loss."""
    if isinstance(stage, Stage1Section) and stage.warmup_loss is not None:
        return min(stage.warmup_epochs + 1, stage.max_epochs)
    return None


def _ema(decay: float) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
    """One step of an exponential moving average, for `torch.optim.swa_utils.AveragedModel`:
    decay x average + (1 - decay) x current. A weight equal to its average (a frozen one: the
    prior in stage 2) is taken as it is, so it stays bit-exact."""

    def update(average: torch.Tensor, current: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
        if torch.equal(average, current):
            return current
        return torch.lerp(current, average, decay)

    return update


def build_trainer(
    cfg: TrainConfig,
    stage: StageSection,
    out_dir: Path,
    progress: bool = True,
    callbacks: Sequence[Callback] = (),
) -> L.Trainer:
    """The Lightning Trainer of one stage: best/last checkpoints, early stopping on the
    validation loss, CSV (and TensorBoard) logs, progress bar, seeded determinism, DDP."""
    checkpoint = ModelCheckpoint(
        dirpath=out_dir / "checkpoints",
        filename="best",
        monitor=MONITOR,
        mode="min",
        save_top_k=1,
        auto_insert_metric_name=False,
        enable_version_counter=False,
    )
    # Every epoch's end state as last.ckpt (Lightning's save_last writes it only in epochs that
    # improved the monitored loss): what --resume continues and what `keep: last` keeps.
    latest = ModelCheckpoint(
        dirpath=out_dir / "checkpoints",
        filename="last",
        save_top_k=1,
        auto_insert_metric_name=False,
        enable_version_counter=False,
    )
    stopping = EarlyStopping(
        monitor=MONITOR, mode="min", patience=stage.patience, min_delta=stage.min_delta
    )
    all_callbacks: list[Callback] = [
        checkpoint, latest, stopping, _CropEpoch(), RandomStateCheckpoint(), *callbacks,
    ]  # fmt: skip
    if stage.ema_decay is not None:
        all_callbacks.append(WeightAveraging(use_buffers=False, avg_fn=_ema(stage.ema_decay)))
    if progress:
        all_callbacks.append(TQDMProgressBar())
    loggers: list[Logger] = [CSVLogger(out_dir, name="logs", flush_logs_every_n_steps=1)]
    if _tensorboard_available():
        from lightning.pytorch.loggers import TensorBoardLogger

        loggers.append(TensorBoardLogger(out_dir, name="tensorboard"))
    t = cfg.trainer
    return L.Trainer(
        default_root_dir=out_dir,
        max_epochs=stage.max_epochs,
        min_epochs=_min_epochs(stage),
        accelerator=t.accelerator,
        devices=t.devices,
        num_nodes=t.num_nodes,
        strategy=t.strategy,
        precision=t.precision,  # type: ignore[arg-type]
        deterministic=_deterministic(cfg),  # type: ignore[arg-type]
        log_every_n_steps=t.log_every_n_steps,
        num_sanity_val_steps=t.sanity_val_steps,
        gradient_clip_val=stage.gradient_clip,
        callbacks=all_callbacks,
        plugins=[AtomicCheckpointIO()],
        logger=loggers,
        enable_progress_bar=progress,
        enable_model_summary=progress,
    )


def _finish(
    trainer: L.Trainer, stage: int, section: StageSection, out_dir: Path, echo: Echo
) -> StageResult:
    callbacks: list[Callback] = trainer.callbacks  # type: ignore[attr-defined]
    ckpt_cb = next(c for c in callbacks if isinstance(c, ModelCheckpoint))
    stop = next(c for c in callbacks if isinstance(c, EarlyStopping))
    best = Path(ckpt_cb.best_model_path) if ckpt_cb.best_model_path else None
    last = out_dir / "checkpoints" / "last.ckpt"
    model_file = None
    kept = last if section.keep == "last" else best
    if trainer.is_global_zero and kept is not None and kept.is_file():
        model_file = write_model_file(kept, out_dir / "model.ckpt")
    score = ckpt_cb.best_model_score
    result = StageResult(
        stage=stage,
        out_dir=out_dir,
        best=best,
        last=last if last.is_file() else None,
        model_file=model_file,
        best_val_loss=None if score is None else float(score),
        epochs=int(trainer.current_epoch),
        stopped_early=bool(stop.stopped_epoch),
    )
    if trainer.is_global_zero:
        how = "early stopping" if result.stopped_early else "max_epochs"
        echo(
            f"stage {stage}: {result.epochs} epochs ({how}); best val/loss "
            f"{result.best_val_loss}; model ({section.keep} epoch): {model_file}"
        )
    return result


def fit_stage(
    stage: int,
    module: L.LightningModule,
    datamodule: L.LightningDataModule,
    cfg: TrainConfig,
    out_dir: Path,
    resume_from: Path | None = None,
    progress: bool = True,
    echo: Echo = stderr_echo,
    callbacks: Sequence[Callback] = (),
) -> StageResult:
    """Fit an already built module on a datamodule (the core of `train_stage`; tests use it
    with in-memory datasets)."""
    section = cfg.stage1 if stage == 1 else cfg.stage2
    trainer = build_trainer(cfg, section, out_dir, progress, callbacks)
    trainer.fit(module, datamodule=datamodule, ckpt_path=resume_from)
    return _finish(trainer, stage, section, out_dir, echo)
