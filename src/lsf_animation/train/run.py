"""Running a training stage: data, model, Lightning Trainer, callbacks, loggers, outputs.

`train_stage(1 | 2, config)` is what `lsf-animation train stage1|stage2` calls. Stage N writes
into `<out>/stage<N>/`:

    checkpoints/best.ckpt   lowest validation loss so far (Lightning checkpoint, resumable)
    checkpoints/last.ckpt   end of the latest epoch (what --resume continues from)
    model.ckpt              best.ckpt without optimizer state: the file inference loads
    logs/version_<k>/metrics.csv   per-step and per-epoch metrics (k = 0, then 1 after a resume)
    tensorboard/            the same metrics, when tensorboard is installed

Early stopping ends a stage when the validation loss has not improved for `patience` epochs;
the best weights are those in best.ckpt / model.ckpt. Runs are seeded and, on CPU,
deterministic. Several devices or machines go through Lightning's DDP (`devices`, `num_nodes`,
`strategy` in the trainer section or on the command line).
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger, Logger
from torch.utils.data import DataLoader, Dataset

from lsf_animation.errors import LsfError
from lsf_animation.model.config import ModelConfig
from lsf_animation.train.checkpoint import load_checkpoint, write_model_file
from lsf_animation.train.config import StageSection, TrainConfig

MONITOR = "val/loss"
Echo = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class StageData:
    """The datasets of one stage and what the checkpoint records about them."""

    train: Dataset
    val: Dataset
    scaler: Any
    identity_index: Any = None
    info: dict[str, Any] = field(default_factory=dict)


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


class ClipDataModule(L.LightningDataModule):
    """Batches of whole (or cropped) clips, padded (`data.dataset.collate_clips`)."""

    def __init__(
        self,
        train: Dataset,
        val: Dataset,
        batch_size: int,
        num_workers: int = 0,
        collate: Callable[[list[Any]], Any] | None = None,
    ) -> None:
        super().__init__()
        if collate is None:
            from lsf_animation.data.dataset import collate_clips as collate
        self.train_set, self.val_set = train, val
        self.batch_size, self.num_workers, self.collate = batch_size, num_workers, collate

    def _loader(self, dataset: Dataset, shuffle: bool) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            collate_fn=self.collate,
            num_workers=self.num_workers,
            persistent_workers=False,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, shuffle=False)


class _CropEpoch(Callback):
    """Tells the training dataset the epoch, so random crops change every epoch."""

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        loader = trainer.train_dataloader
        dataset = getattr(loader, "dataset", None)
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(trainer.current_epoch)


def _is_child_process() -> bool:
    """True in the extra processes of a DDP run (they must not re-check or create outputs)."""
    return any(int(os.environ.get(v, "0") or 0) > 0 for v in ("RANK", "LOCAL_RANK", "NODE_RANK"))


def _tensorboard_available() -> bool:
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        try:
            import tensorboardX  # noqa: F401
        except ImportError:
            return False
    return True


def _deterministic(cfg: TrainConfig) -> bool | str:
    value = cfg.trainer.deterministic
    if value != "auto":
        return bool(value)
    gpu = torch.cuda.is_available() and cfg.trainer.accelerator in ("auto", "gpu", "cuda")
    return "warn" if gpu else True


class _DropAdverts(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "litlogger" not in record.getMessage()


def _quiet_lightning() -> None:
    """Silence Lightning's notices that say nothing about this run (an advert; the frozen prior
    in eval mode, which is intended; a torch-version deprecation inside Lightning)."""
    log = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    if not any(isinstance(f, _DropAdverts) for f in log.filters):
        log.addFilter(_DropAdverts())
    for message in (
        r"Found \d+ module\(s\) in eval mode",
        r".*isinstance\(treespec, LeafSpec\)",
        r"The number of training batches .* is smaller than the logging interval",
        r"Checkpoint directory .* exists and is not empty",  # resuming writes into it
    ):
        warnings.filterwarnings("ignore", message=message)


def build_trainer(
    cfg: TrainConfig,
    stage: StageSection,
    out_dir: Path,
    progress: bool = True,
    callbacks: Sequence[Callback] = (),
) -> L.Trainer:
    """The Lightning Trainer of one stage: best/last checkpoints, early stopping on the
    validation loss, CSV (and TensorBoard) logs, progress bar, seeded determinism, DDP."""
    _quiet_lightning()
    checkpoint = ModelCheckpoint(
        dirpath=out_dir / "checkpoints",
        filename="best",
        monitor=MONITOR,
        mode="min",
        save_top_k=1,
        save_last=True,
        auto_insert_metric_name=False,
        enable_version_counter=False,
    )
    stopping = EarlyStopping(
        monitor=MONITOR, mode="min", patience=stage.patience, min_delta=stage.min_delta
    )
    all_callbacks: list[Callback] = [checkpoint, stopping, _CropEpoch(), *callbacks]
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
        accelerator=t.accelerator,
        devices=t.devices,
        num_nodes=t.num_nodes,
        strategy=t.strategy,
        precision=t.precision,
        deterministic=_deterministic(cfg),
        log_every_n_steps=t.log_every_n_steps,
        num_sanity_val_steps=t.sanity_val_steps,
        gradient_clip_val=stage.gradient_clip,
        callbacks=all_callbacks,
        logger=loggers,
        enable_progress_bar=progress,
        enable_model_summary=progress,
    )


# -- data ---------------------------------------------------------------------------------------
def _feature_sources(cfg: TrainConfig, data_dir: Path | None) -> tuple[dict[str, Any], dict]:
    """Feature sources for stage 2 and their identity for the checkpoint."""
    from lsf_animation.audio.features import get_extractor
    from lsf_animation.data.dataset import FeatureSource

    sources: dict[str, Any] = {}
    identity: dict[str, Any] = {"motion": None, "emotion": None}
    for stream in ("motion", "emotion"):
        spec = getattr(cfg.features, stream)
        if spec is None:
            continue
        extractor = get_extractor(spec.name, **spec.options)
        sources[stream] = FeatureSource(extractor, cfg.features.cache, data_dir)
        identity[stream] = {
            "name": spec.name,
            "options": dict(spec.options),
            "fingerprint": extractor.fingerprint(),
            "dim": int(extractor.dim),
        }
    return sources, identity


def prepare_data(
    cfg: TrainConfig,
    stage: int,
    scaler: Any = None,
    identity_index: Any = None,
    features: dict[str, Any] | None = None,
    echo: Echo = _stderr,
) -> StageData:
    """Scan the corpus, split it for `stage`, fit the scaler (unless given) and build datasets.

    Args:
        cfg: the run config (`data` section).
        stage: 1 or 2.
        scaler: the motion scaler to use (stage 2: the prior's); None = fit on the training clips.
        identity_index: speaker labels; None = the stage-2 training speakers.
        features: stream -> FeatureSource (stage 2); None for stage 1.
    """
    from lsf_animation.data.corpus import scan_corpus
    from lsf_animation.data.dataset import ClipDataset, fit_motion_scaler
    from lsf_animation.data.identities import IdentityIndex
    from lsf_animation.data.splits import select_clips

    d = cfg.data
    if d.root is None:
        raise LsfError(
            "no corpus given: pass --data DIR (or set data.root in the config); "
            "`lsf-animation synth` writes the default synthetic corpus"
        )
    root = Path(d.root).expanduser()
    corpus = scan_corpus(root, d.layout)
    if corpus.problems:
        echo(corpus.report())
        echo(f"training on the {len(corpus.clips)} clean clips; the problems above are excluded")

    def pick(part: str, which: int) -> list[Any]:
        return select_clips(corpus.clips, d.split, part, which, d.stage1_protocol, root)

    train_clips, val_clips = pick("train", stage), pick("val", stage)
    if scaler is None:
        scaler = fit_motion_scaler(train_clips)
    if identity_index is None:
        identity_index = IdentityIndex.from_clips(pick("train", 2))
    common = {
        "scaler": scaler,
        "features": features,
        "seed": cfg.trainer.seed,
        "identities": identity_index,
        "preload": d.preload,
        "length_match": d.length_match,
    }
    train = ClipDataset(train_clips, crop=d.crop, **common)
    # Validation speakers of a speaker split have no identity label of their own: the label
    # variants condition them on the first training speaker.
    val = ClipDataset(val_clips, crop=None, unknown_identity=0, **common)
    info = {
        "root": str(root),
        "layout": corpus.layout,
        "split": d.split,
        "stage1_protocol": d.stage1_protocol,
        "train_subjects": sorted({c.subject for c in train_clips}),
        "val_subjects": sorted({c.subject for c in val_clips}),
        "train_clips": len(train_clips),
        "val_clips": len(val_clips),
        "excluded_clips": len(corpus.problems),
    }
    return StageData(train, val, scaler, identity_index, info)


# -- runs ---------------------------------------------------------------------------------------
def _stage_dir(cfg: TrainConfig, stage: int) -> Path:
    return Path(cfg.out).expanduser() / f"stage{stage}"


def _check_outputs(out_dir: Path, resume: bool) -> Path | None:
    """The checkpoint to resume from (None = fresh run); refuses to overwrite a run."""
    last = out_dir / "checkpoints" / "last.ckpt"
    if resume:
        if not last.is_file():
            raise LsfError(
                f"--resume: {last} does not exist, so there is nothing to resume; run without "
                "--resume to start training"
            )
        return last
    if _is_child_process():
        return None
    existing = sorted((out_dir / "checkpoints").glob("*.ckpt"))
    if existing:
        raise LsfError(
            f"{out_dir} already holds a training run ({existing[0].name}); pass --resume to "
            "continue it, or --out to train into another folder"
        )
    return None


def _resumed_model_config(last: Path, fresh: ModelConfig) -> tuple[ModelConfig, dict]:
    ckpt = load_checkpoint(last)
    if ckpt.model_config.to_dict() != fresh.to_dict():
        raise LsfError(
            f"the model config differs from the one {last} was trained with; resume with the "
            "same config, or train into another --out"
        )
    return ckpt.model_config, ckpt.meta


def _seed(cfg: TrainConfig) -> None:
    if cfg.trainer.num_threads:
        torch.set_num_threads(cfg.trainer.num_threads)
    L.seed_everything(cfg.trainer.seed, workers=True, verbose=False)


def _finish(trainer: L.Trainer, stage: int, out_dir: Path, echo: Echo) -> StageResult:
    ckpt_cb = trainer.checkpoint_callback
    stop = next(c for c in trainer.callbacks if isinstance(c, EarlyStopping))
    best = Path(ckpt_cb.best_model_path) if ckpt_cb and ckpt_cb.best_model_path else None
    last = out_dir / "checkpoints" / "last.ckpt"
    model_file = None
    if trainer.is_global_zero and best is not None and best.is_file():
        model_file = write_model_file(best, out_dir / "model.ckpt")
    score = ckpt_cb.best_model_score if ckpt_cb else None
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
            f"{result.best_val_loss}; model: {model_file}"
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
    echo: Echo = _stderr,
    callbacks: Sequence[Callback] = (),
) -> StageResult:
    """Fit an already built module on a datamodule (the core of `train_stage`; tests use it
    with in-memory datasets)."""
    section = cfg.stage1 if stage == 1 else cfg.stage2
    trainer = build_trainer(cfg, section, out_dir, progress, callbacks)
    trainer.fit(module, datamodule=datamodule, ckpt_path=resume_from)
    return _finish(trainer, stage, out_dir, echo)


def _batch_size(cfg: TrainConfig, stage: int) -> int:
    section = cfg.stage1 if stage == 1 else cfg.stage2
    return section.batch_size or cfg.data.batch_size


def train_stage1(
    cfg: TrainConfig, resume: bool = False, progress: bool = True, echo: Echo = _stderr
) -> StageResult:
    """Train the motion prior (stage 1) on `cfg.data`."""
    from lsf_animation.data.scalers import MinMaxScaler
    from lsf_animation.train.stage1 import Stage1Module

    out_dir = _stage_dir(cfg, 1)
    resume_from = _check_outputs(out_dir, resume)
    model_cfg = cfg.model_config(None, None)
    scaler = None
    if resume_from is not None:
        model_cfg, meta = _resumed_model_config(resume_from, model_cfg)
        scaler = MinMaxScaler.from_dict(meta["scaler"])
    _seed(cfg)
    data = prepare_data(cfg, 1, scaler=scaler, echo=echo)
    metadata = {
        "train_config": cfg.to_dict(),
        "scaler": data.scaler.to_dict(),
        "identity_index": data.identity_index.to_dict(),
        "features": None,
        "backbone": None,
        "data": data.info,
        "prior": None,
    }
    module = Stage1Module(model_cfg, cfg.stage1, metadata)
    dm = ClipDataModule(data.train, data.val, _batch_size(cfg, 1), cfg.data.num_workers)
    return fit_stage(1, module, dm, cfg, out_dir, resume_from, progress, echo)


def build_stage2_model(
    cfg: TrainConfig, prior: Any, motion_dim: int, emotion_dim: int | None, backbone: Any = None
) -> Any:
    """`LSFModel` with the run's SIE config and the prior's VQ-VAE config and weights."""
    from lsf_animation.model.lsf import LSFModel

    run_cfg = cfg.model_config(motion_dim, emotion_dim)
    model_cfg = ModelConfig(
        vqvae=prior.model_config.vqvae, sie=run_cfg.sie, name=run_cfg.name
    ).validate()
    model = LSFModel(model_cfg, backbone)
    model.prior.load_state_dict(prior.build_prior().state_dict())
    return model.freeze_prior()


def resolve_prior(cfg: TrainConfig, prior: str | Path | None) -> Path:
    """The stage-1 checkpoint: `prior`, else stage2.prior, else `<out>/stage1/model.ckpt`."""
    path = prior or cfg.stage2.prior
    if path is None:
        path = _stage_dir(cfg, 1) / "model.ckpt"
        if not path.is_file():
            raise LsfError(
                f"stage 2 needs the stage-1 checkpoint and {path} does not exist: train stage 1 "
                "first (lsf-animation train stage1 with the same --out) or pass --prior PATH"
            )
    return Path(path).expanduser()


def train_stage2(
    cfg: TrainConfig,
    prior: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    echo: Echo = _stderr,
) -> StageResult:
    """Train the SIE-Encoder (stage 2) against the frozen prior of a stage-1 checkpoint."""
    from lsf_animation.data.identities import IdentityIndex
    from lsf_animation.train.backbone import hubert_backbone
    from lsf_animation.train.stage2 import Stage2Module

    out_dir = _stage_dir(cfg, 2)
    resume_from = _check_outputs(out_dir, resume)
    prior_path = resolve_prior(cfg, prior)
    prior_ckpt = load_checkpoint(prior_path, stage=1)
    data_root = Path(cfg.data.root).expanduser() if cfg.data.root else None
    sources, feature_identity = _feature_sources(cfg, data_root)
    backbone, backbone_spec = (None, None)
    if cfg.features.backbone == "hubert-upper":
        backbone, backbone_spec = hubert_backbone(sources["motion"].extractor)
    emotion_dim = sources["emotion"].dim if "emotion" in sources else None
    _seed(cfg)
    model = build_stage2_model(cfg, prior_ckpt, sources["motion"].dim, emotion_dim, backbone)
    identity_index = None
    if resume_from is not None:
        _, meta = _resumed_model_config(resume_from, model.cfg)
        identity_index = IdentityIndex.from_dict(meta["identity_index"])
    data = prepare_data(
        cfg,
        2,
        scaler=prior_ckpt.scaler,
        identity_index=identity_index,
        features=sources,
        echo=echo,
    )
    _check_identity_labels(model.cfg, data.identity_index)
    metadata = {
        "train_config": cfg.to_dict(),
        "scaler": data.scaler.to_dict(),
        "identity_index": data.identity_index.to_dict(),
        "features": feature_identity,
        "backbone": backbone_spec,
        "data": data.info,
        "prior": {
            "path": str(prior_path.resolve()),
            "epoch": prior_ckpt.epoch,
            "data": prior_ckpt.meta.get("data"),
        },
    }
    module = Stage2Module(model, cfg.stage2, metadata)
    dm = ClipDataModule(data.train, data.val, _batch_size(cfg, 2), cfg.data.num_workers)
    return fit_stage(2, module, dm, cfg, out_dir, resume_from, progress, echo)


def _check_identity_labels(model_cfg: ModelConfig, identities: Any) -> None:
    from lsf_animation.model.variants import LABELS_USED

    if "identity" in LABELS_USED[model_cfg.sie.variant] and len(identities) > (
        model_cfg.sie.num_identities
    ):
        raise LsfError(
            f"variant {model_cfg.sie.variant} has {model_cfg.sie.num_identities} identity "
            f"labels but the training split has {len(identities)} speakers; set "
            f"model.sie.num_identities to at least {len(identities)}"
        )


def train_stage(
    stage: int,
    cfg: TrainConfig,
    prior: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    echo: Echo = _stderr,
) -> StageResult:
    """Train stage 1 or 2 (see `train_stage1`, `train_stage2`)."""
    if stage == 1:
        if prior is not None:
            raise LsfError("--prior is for stage 2 (the stage-1 checkpoint to train against)")
        return train_stage1(cfg, resume, progress, echo)
    if stage == 2:
        return train_stage2(cfg, prior, resume, progress, echo)
    raise LsfError(f"stage must be 1 or 2, got {stage}")
