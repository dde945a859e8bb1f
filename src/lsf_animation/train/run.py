"""Running a training stage: `train_stage(1 | 2, config)`, what `lsf-animation train` calls.

Stage 1 trains the motion prior on the corpus's motion; stage 2 trains the SIE-Encoder against
the frozen prior of a stage-1 checkpoint, on cached speech features. Both check the output folder
first (a finished or interrupted run is never overwritten: `--resume` continues it), seed
everything, and write their checkpoints with the metadata of `lsf_animation.checkpoint`.
"""

from __future__ import annotations

import os
from pathlib import Path

import lightning as L
import torch

from lsf_animation.checkpoint.backbone import hubert_backbone
from lsf_animation.checkpoint.face_record import face_record_for_split
from lsf_animation.checkpoint.files import Checkpoint, load_checkpoint
from lsf_animation.checkpoint.metadata import CheckpointMeta, PriorInfo
from lsf_animation.errors import LsfError
from lsf_animation.model.config import ModelConfig
from lsf_animation.model.lsf import LSFModel
from lsf_animation.model.variants import LABELS_USED
from lsf_animation.model.vqvae import MotionVQVAE
from lsf_animation.train.config import TrainConfig
from lsf_animation.train.data import Echo, prepare_data, stderr_echo
from lsf_animation.train.stage1 import Stage1Module
from lsf_animation.train.stage2 import Stage2Module
from lsf_animation.train.trainer import ClipDataModule, StageResult, fit_stage


def _is_child_process() -> bool:
    """True in the extra processes of a DDP run (they must not re-check or create outputs)."""
    return any(int(os.environ.get(v, "0") or 0) > 0 for v in ("RANK", "LOCAL_RANK", "NODE_RANK"))


def _stage_dir(cfg: TrainConfig, stage: int) -> Path:
    return Path(cfg.out).expanduser() / f"stage{stage}"


def _check_outputs(out_dir: Path, resume: bool) -> Path | None:
    """The checkpoint to resume from (None = fresh run); refuses to overwrite a run.

    Checkpoints are written atomically, so a run killed (or stopped by a full disk) at any point
    leaves complete checkpoints or none: with --resume it continues from last.ckpt, or from
    best.ckpt when it was stopped between writing the two at the end of its first epoch (both
    then hold the same state); without --resume a folder with no checkpoint starts over.
    """
    checkpoints = out_dir / "checkpoints"
    if resume:
        for name in ("last.ckpt", "best.ckpt"):
            if (checkpoints / name).is_file():
                return checkpoints / name
        raise LsfError(
            f"--resume: {checkpoints / 'last.ckpt'} does not exist (no epoch of that run was "
            "saved), so there is nothing to resume; run the same command without --resume to "
            "start training"
        )
    if _is_child_process():
        return None
    existing = sorted(checkpoints.glob("*.ckpt"))
    if existing:
        raise LsfError(
            f"{out_dir} already holds a training run ({existing[0].name}); pass --resume to "
            f"continue it, or --out to train into another folder (or delete {out_dir} to start "
            "over)"
        )
    return None


def _resumed(last: Path, fresh: ModelConfig) -> Checkpoint:
    """The checkpoint a run resumes from, refused when the model config changed."""
    ckpt = load_checkpoint(last)
    if ckpt.model_config.to_dict() != fresh.to_dict():
        raise LsfError(
            f"the model config differs from the one {last} was trained with; resume with the "
            "same config, or train into another --out"
        )
    return ckpt


def _seed(cfg: TrainConfig) -> None:
    # The run config asks for this process's torch threads; training owns its process.
    if cfg.trainer.num_threads:
        torch.set_num_threads(cfg.trainer.num_threads)
    L.seed_everything(cfg.trainer.seed, workers=True, verbose=False)


def _batch_size(cfg: TrainConfig, stage: int) -> int:
    section = cfg.stage1 if stage == 1 else cfg.stage2
    return section.batch_size or cfg.data.batch_size


def train_stage1(
    cfg: TrainConfig, resume: bool = False, progress: bool = True, echo: Echo = stderr_echo
) -> StageResult:
    """Train the motion prior (stage 1) on `cfg.data`."""
    out_dir = _stage_dir(cfg, 1)
    resume_from = _check_outputs(out_dir, resume)
    model_cfg = cfg.model_config(None, None)
    scaler = None
    if resume_from is not None:
        resumed = _resumed(resume_from, model_cfg)
        model_cfg, scaler = resumed.model_config, resumed.scaler
    _seed(cfg)
    data = prepare_data(cfg, 1, scaler=scaler, echo=echo)
    meta = CheckpointMeta(
        train_config=cfg.to_dict(),
        scaler=data.scaler,
        identity_index=data.identity_index,
        data=data.info,
        face=face_record_for_split(cfg.data.split),
        stage=1,
        model_config=model_cfg,
    )
    module = Stage1Module(meta, cfg.stage1)
    dm = ClipDataModule(
        data.train, data.val, _batch_size(cfg, 1), cfg.data.num_workers, seed=cfg.trainer.seed
    )
    return fit_stage(1, module, dm, cfg, out_dir, resume_from, progress, echo)


def build_stage2_model(
    cfg: TrainConfig,
    prior: Checkpoint,
    motion_dim: int,
    emotion_dim: int | None,
    backbone: torch.nn.Module | None = None,
) -> LSFModel:
    """`LSFModel` with the run's SIE config and the prior's VQ-VAE config and weights."""
    run_cfg = cfg.model_config(motion_dim, emotion_dim)
    model_cfg = ModelConfig(
        vqvae=prior.model_config.vqvae, sie=run_cfg.sie, name=run_cfg.name
    ).validate()
    model = LSFModel(model_cfg, backbone)
    # A second prior is built initialized (drawing from torch's generator) only to keep the
    # seeded random stream of stage 2 as it has always been: retraining then reproduces earlier
    # checkpoints exactly (the shipped demo checkpoint among them).
    MotionVQVAE(prior.model_config.vqvae)
    model.prior.load_state_dict(prior.state_dict)
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
    echo: Echo = stderr_echo,
) -> StageResult:
    """Train the SIE-Encoder (stage 2) against the frozen prior of a stage-1 checkpoint."""
    from lsf_animation.audio.hubert import HubertExtractor
    from lsf_animation.train.data import feature_sources

    out_dir = _stage_dir(cfg, 2)
    resume_from = _check_outputs(out_dir, resume)
    prior_path = resolve_prior(cfg, prior)
    prior_ckpt = load_checkpoint(prior_path, stage=1)
    data_root = Path(cfg.data.root).expanduser() if cfg.data.root else None
    sources, records = feature_sources(cfg, data_root)
    backbone, backbone_spec = None, None
    if cfg.features.backbone == "hubert-upper":
        motion_extractor = sources["motion"].extractor
        assert isinstance(motion_extractor, HubertExtractor)  # checked by TrainConfig.validate
        backbone, backbone_spec = hubert_backbone(motion_extractor)
    emotion_dim = sources["emotion"].dim if "emotion" in sources else None
    _seed(cfg)
    model = build_stage2_model(cfg, prior_ckpt, sources["motion"].dim, emotion_dim, backbone)
    identity_index = None
    if resume_from is not None:
        identity_index = _resumed(resume_from, model.cfg).identity_index
    data = prepare_data(
        cfg, 2, scaler=prior_ckpt.scaler, identity_index=identity_index, features=sources,
        echo=echo,
    )  # fmt: skip
    _check_identity_labels(model.cfg, len(data.identity_index))
    meta = CheckpointMeta(
        train_config=cfg.to_dict(),
        scaler=data.scaler,
        identity_index=data.identity_index,
        features=records,
        backbone=backbone_spec,
        data=data.info,
        face=face_record_for_split(cfg.data.split),
        prior=PriorInfo(str(prior_path.resolve()), prior_ckpt.epoch, prior_ckpt.meta.data),
        stage=2,
        model_config=model.cfg,
    )
    module = Stage2Module(model, cfg.stage2, meta)
    dm = ClipDataModule(
        data.train, data.val, _batch_size(cfg, 2), cfg.data.num_workers, seed=cfg.trainer.seed
    )
    return fit_stage(2, module, dm, cfg, out_dir, resume_from, progress, echo)


def _check_identity_labels(model_cfg: ModelConfig, num_speakers: int) -> None:
    if "identity" in LABELS_USED[model_cfg.sie.variant] and num_speakers > (
        model_cfg.sie.num_identities
    ):
        raise LsfError(
            f"variant {model_cfg.sie.variant} has {model_cfg.sie.num_identities} identity "
            f"labels but the training split has {num_speakers} speakers; set "
            f"model.sie.num_identities to at least {num_speakers}"
        )


def train_stage(
    stage: int,
    cfg: TrainConfig,
    prior: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    echo: Echo = stderr_echo,
) -> StageResult:
    """Train stage 1 or 2 (see `train_stage1`, `train_stage2`)."""
    if stage == 1:
        if prior is not None:
            raise LsfError("--prior is for stage 2 (the stage-1 checkpoint to train against)")
        return train_stage1(cfg, resume, progress, echo)
    if stage == 2:
        return train_stage2(cfg, prior, resume, progress, echo)
    raise LsfError(f"stage must be 1 or 2, got {stage}")
