"""Import the authors' released checkpoints as this package's self-contained checkpoints.

`import_release(src, out)` reads a released Lightning checkpoint (LSF-Animation or ProbTalk3D,
stage 1 or 2; `checkpoint.release_file`), maps every key (`model.release_keys`: every source key
is mapped or in its explicit ignore list, anything else is one LsfError listing the keys) and
writes a checkpoint `load_checkpoint` / `Animator` read like any other:

- stage 1: the motion VQ-VAE (`MotionVQVAE`), stored as `vqvae.*`.
- stage 2: the whole `LSFModel` (frozen prior, SIE-Encoder, and the fine-tuned HuBERT above its
  CNN and feature projection as the "hubert-upper" motion backbone, `frozen_front=projection`),
  plus the speech encoders the release carries, so that nothing but the face model is needed:
  HuBERT's CNN + projection (motion stream "hubert-frozen") and emotion2vec (emotion stream,
  LSF-Animation only) under "encoders.<role>." (`checkpoint.carried`).

Metadata: the model config the shapes imply (the `paper` preset for LSF-Animation's stage 2,
its `one_hot` variant for ProbTalk3D's), the release's fixed motion normalisation (expression
[-3, 3], jaw [-0.1, 0.5]), the 32 identities of its training split file, the split the release
trained stage 2 on, and the face: FLAME 2020 (checked by topology, the file is not at hand).

Dropped on import (training-only): the positional tables (checked to be the sinusoidal table
first), the loss and metric running sums, the never-applied `out_norm`, and HuBERT's
`masked_spec_embed` (the SpecAugment mask vector, used only while training).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from lsf_animation.checkpoint.backbone import build_backbone
from lsf_animation.checkpoint.carried import carried_hubert, hubert_front_state
from lsf_animation.checkpoint.face_record import flame2020_record
from lsf_animation.checkpoint.features import feature_record
from lsf_animation.checkpoint.files import load_checkpoint, save_checkpoint
from lsf_animation.checkpoint.metadata import (
    BackboneSpec,
    CheckpointMeta,
    DataInfo,
    FeatureRecord,
    FeatureRecords,
    PriorInfo,
)
from lsf_animation.checkpoint.release_file import LightningCheckpoint, read_lightning_checkpoint
from lsf_animation.data.identities import IdentityIndex
from lsf_animation.data.scalers import MinMaxScaler
from lsf_animation.errors import LsfError
from lsf_animation.model.config import ModelConfig, paper_config
from lsf_animation.model.release_keys import (
    HUBERT_PREFIX,
    RELEASE_KINDS,
    RELEASE_NUM_HEADS,
    RELEASE_TRAIN_IDENTITIES,
    ReleaseWeights,
    detect_release,
    hubert_config_from_release,
    map_release_state,
)

NUM_FROZEN = 2
"""HuBERT layers the release keeps frozen (with the CNN and the feature projection)."""
STAGE2_SPLIT = {"lsf-release": "lsf", "probtalk3d": "probtalk3d"}
"""The split each release trained stage 2 on (docs/release_architecture.md)."""
HUBERT_TRAINING_ONLY = ("masked_spec_embed",)

Echo = Callable[[str], None]


@dataclass(frozen=True)
class ImportResult:
    """What an import wrote.

    Attributes:
        out: the checkpoint written.
        stage, kind: what the source was.
        model_name: "paper" when the network is the paper preset, else the release kind.
        mapped: source keys carried into the model or an encoder.
        dropped: source keys not carried (ignore list, positional tables, training-only ones
            such as emotion2vec's pre-training decoder).
        parameters: parameters of the model written (without the carried encoders).
    """

    out: Path
    stage: int
    kind: str
    model_name: str
    mapped: int
    dropped: int
    parameters: int

    def summary(self) -> str:
        what = "motion prior" if self.stage == 1 else "full model"
        return (
            f"imported {self.kind} stage {self.stage} ({what}, {self.model_name}, "
            f"{self.parameters:,} parameters): {self.mapped} keys mapped, {self.dropped} "
            f"training-only keys dropped -> {self.out}"
        )


def _hubert_shapes(state: dict[str, torch.Tensor]) -> dict[str, tuple[int, ...]] | None:
    """Shapes of the `HubertModel` the release's HuBERT keys imply (None without HuBERT)."""
    from transformers import HubertConfig, HubertModel

    from lsf_animation.model.release_keys import hubert_key

    hubert = {k[len(HUBERT_PREFIX) :]: v for k, v in state.items() if k.startswith(HUBERT_PREFIX)}
    if not hubert or all(hubert_key(k) is None for k in hubert):
        return None  # reported as missing / unknown by map_release_state
    with torch.device("meta"):
        model = HubertModel(HubertConfig(**hubert_config_from_release(hubert)))
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _model_name(config: ModelConfig, kind: str) -> ModelConfig:
    """The config named "paper" when it is the paper preset (its variant), else the kind."""
    paper = paper_config(config.sie.variant)
    same = replace(config, name=paper.name).to_dict() == paper.to_dict()
    return replace(config, name="paper" if same else kind)


def _check_stage(found: int, stage: int | None, path: Path) -> None:
    if stage is not None and stage != found:
        raise LsfError(
            f"{path} is a stage-{found} checkpoint (its keys show it), not stage {stage}; "
            f"pass --stage {found} or leave --stage out"
        )


def _check_prior(weights: ReleaseWeights, prior: Path, num_heads: int) -> PriorInfo:
    """The stage-1 release checkpoint a stage 2 was trained against must hold the same prior."""
    source = read_lightning_checkpoint(prior)
    prior_weights = map_release_state(source.state_dict, None, num_heads)
    if prior_weights.stage != 1:
        raise LsfError(f"--prior {prior} is not a stage-1 (motion prior) checkpoint")
    differ = [
        k
        for k, v in weights.prior.items()
        if k not in prior_weights.prior
        or prior_weights.prior[k].shape != v.shape
        or not torch.equal(prior_weights.prior[k], v)
    ]
    if differ:
        raise LsfError(
            f"--prior {prior} is not the motion prior this stage 2 was trained against "
            f"({len(differ)} of {len(weights.prior)} weights differ, e.g. {differ[0]}); give "
            "the matching stage-1 checkpoint, or leave --prior out (stage 2 holds its prior)"
        )
    return PriorInfo(str(prior.resolve()), source.epoch if source.epoch is not None else -1)


def _provenance(source: LightningCheckpoint, weights: ReleaseWeights) -> dict[str, object]:
    return {
        "imported_from": {
            "path": str(source.path.resolve()),
            "kind": weights.kind,
            "stage": weights.stage,
            "epoch": source.epoch,
            "global_step": source.global_step,
            "lightning_version": source.lightning_version,
            "read_weights_only": source.weights_only,
            "dropped_keys": len(weights.ignored),
        }
    }


def _stage2_parts(
    weights: ReleaseWeights,
) -> tuple[dict[str, torch.Tensor], BackboneSpec, dict[str, dict[str, torch.Tensor]]]:
    """The `LSFModel` state dict, the backbone spec and the carried encoders."""
    from transformers import HubertConfig

    assert weights.sie is not None and weights.hubert is not None
    assert weights.hubert_config is not None
    hubert = weights.hubert
    spec = BackboneSpec(
        type="hubert-upper",
        hubert_config=HubertConfig(**weights.hubert_config).to_dict(),
        num_frozen=NUM_FROZEN,
        frozen_front="projection",
    )
    state = {f"prior.{k}": v for k, v in weights.prior.items()}
    state |= {f"sie.{k}": v for k, v in weights.sie.items()}
    upper = {
        "encoder.pos_conv_embed.": "motion_backbone.part.pos_conv_embed.",
        "encoder.layer_norm.": "motion_backbone.part.input_layer_norm.",
        "encoder.layers.": "motion_backbone.part.layers.",
    }
    for key, value in hubert.items():
        for src, dst in upper.items():
            if key.startswith(src):
                state[dst + key[len(src) :]] = value
    front = hubert_front_state(hubert)
    used = len(front) + sum(1 for k in hubert if k.startswith(tuple(upper)))
    dropped = [k for k in hubert if k in HUBERT_TRAINING_ONLY]
    if used + len(dropped) != len(hubert):  # map_release_state checked the HuBERT layout
        raise AssertionError("HuBERT keys neither carried nor dropped")
    encoders = {"motion": front}
    if weights.emotion2vec is not None:
        from lsf_animation.audio.data2vec_checkpoint import build_from_state_dict

        e2v = build_from_state_dict(weights.emotion2vec, source="the release's emotion2vec")
        encoders["emotion"] = dict(e2v.state_dict())
    return state, spec, encoders


def _records(
    spec: BackboneSpec, encoders: dict[str, dict[str, torch.Tensor]], path: Path
) -> FeatureRecords:
    """Feature records of the carried encoders, fingerprinted from the carried weights."""
    from lsf_animation.checkpoint.carried import carried_extractor

    options = {"num_frozen": NUM_FROZEN, "frozen_front": "projection"}
    motion = carried_hubert(encoders["motion"], spec, NUM_FROZEN, "projection")
    records: dict[str, FeatureRecord] = {
        "motion": replace(feature_record(motion, options), carried=True)
    }
    if "emotion" in encoders:
        emotion_record = FeatureRecord("emotion2vec", {}, "", 0, carried=True)
        emotion = carried_extractor("emotion", emotion_record, encoders["emotion"], spec, path)
        records["emotion"] = replace(feature_record(emotion, {}), carried=True)
    return FeatureRecords(**records)


def import_release(
    src: str | Path,
    out: str | Path,
    kind: str | None = None,
    stage: int | None = None,
    prior: str | Path | None = None,
    num_heads: int = RELEASE_NUM_HEADS,
) -> ImportResult:
    """Convert a released checkpoint into this package's checkpoint at `out`.

    Args:
        src: the release's Lightning `.ckpt`.
        out: where to write (atomically; parent folders are made).
        kind: "lsf-release" or "probtalk3d" to require that release; None = what the keys show
            (stage 1 of both releases is the same network).
        stage: 1 or 2 to require that stage; None = what the keys show.
        prior: optional, stage 2: the release's stage-1 checkpoint, checked to be the prior
            the stage 2 holds, and recorded.
        num_heads: attention heads of the released Transformers (8; shapes cannot show it).

    Raises:
        LsfError: unreadable or truncated file, not a release's layout, the other kind or
            stage, missing / unknown / mis-shaped keys (one message listing them), a --prior
            that does not match.
    """
    src_path, out_path = Path(src).expanduser(), Path(out).expanduser()
    if kind is not None and kind not in RELEASE_KINDS:
        raise LsfError(f"unknown release kind {kind!r}; use one of {', '.join(RELEASE_KINDS)}")
    source = read_lightning_checkpoint(src_path)
    found_stage, _ = detect_release(source.state_dict)
    _check_stage(found_stage, stage, src_path)
    if found_stage == 1 and prior is not None:
        raise LsfError("--prior goes with a stage-2 checkpoint (stage 1 is the prior itself)")
    hubert_shapes = _hubert_shapes(source.state_dict) if found_stage == 2 else None
    weights = map_release_state(source.state_dict, kind, num_heads, hubert_shapes)
    config = _model_name(weights.config, weights.kind)
    identities = IdentityIndex(RELEASE_TRAIN_IDENTITIES)
    common = dict(
        train_config=_provenance(source, weights),
        scaler=MinMaxScaler.release(),
        identity_index=identities,
        face=flame2020_record(),
        model_config=config,
    )
    stage1_data = DataInfo(root="", layout="mead", split="emote", stage1_protocol="release")
    epoch = source.epoch if source.epoch is not None else -1
    step = source.global_step if source.global_step is not None else -1
    if weights.stage == 1:
        meta = CheckpointMeta(stage=1, data=stage1_data, **common)  # type: ignore[arg-type]
        save_checkpoint(out_path, weights.prior, meta, epoch, step)
        mapped = len(weights.prior)
        parameters = sum(v.numel() for v in weights.prior.values())
    else:
        prior_info = (
            _check_prior(weights, Path(prior).expanduser(), num_heads)
            if prior is not None
            else PriorInfo(str(src_path.resolve()), epoch, stage1_data)
        )
        state, spec, encoders = _stage2_parts(weights)
        _check_model(config, spec, state, src_path)
        meta = CheckpointMeta(
            stage=2,
            features=_records(spec, encoders, src_path),
            backbone=spec,
            data=DataInfo(
                root="", layout="mead", split=STAGE2_SPLIT[weights.kind], stage1_protocol="release"
            ),
            prior=prior_info,
            **common,  # type: ignore[arg-type]
        )
        save_checkpoint(out_path, state, meta, epoch, step, encoders=encoders)
        mapped = len(state) + sum(len(e) for e in encoders.values())
        parameters = sum(v.numel() for v in state.values())
    load_checkpoint(out_path)  # what was written reads back
    dropped = len(source.state_dict) - mapped
    return ImportResult(out_path, weights.stage, weights.kind, config.name, mapped, dropped,
                        parameters)  # fmt: skip


def _check_model(
    config: ModelConfig, spec: BackboneSpec, state: dict[str, torch.Tensor], path: Path
) -> None:
    """The converted weights fit `LSFModel` exactly (a rule bug otherwise, not the file's)."""
    from lsf_animation.model.lsf import LSFModel

    with torch.device("meta"):
        model = LSFModel(config, build_backbone(spec))
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in state.items()}
    if expected != got:
        bad = sorted(set(expected) ^ set(got)) or [k for k in got if got[k] != expected[k]]
        raise AssertionError(f"converted {path} does not fit LSFModel: {bad[:5]}")
