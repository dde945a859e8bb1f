"""A stage's data: the corpus scanned and split, the motion scaler, the speech-feature sources.

Stage 2 never computes speech features: it reads the ones `lsf-animation extract` cached, through
one `FeatureSource` per stream, built from the run config's extractor names and options.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lsf_animation.audio.features import get_extractor
from lsf_animation.checkpoint.features import feature_record
from lsf_animation.checkpoint.metadata import DataInfo, FeatureRecords
from lsf_animation.data.clips import Clip
from lsf_animation.data.corpus import scan_corpus
from lsf_animation.data.dataset import ClipDataset, FeatureSource, fit_motion_scaler
from lsf_animation.data.identities import IdentityIndex
from lsf_animation.data.scalers import MinMaxScaler
from lsf_animation.data.splits import select_clips
from lsf_animation.errors import LsfError
from lsf_animation.train.config import TrainConfig

Echo = Callable[[str], None]


def stderr_echo(message: str) -> None:
    """The default progress printer of the training code: one line on stderr."""
    print(message, file=sys.stderr, flush=True)


@dataclass
class StageData:
    """The datasets of one stage and what the checkpoint records about them."""

    train: ClipDataset
    val: ClipDataset
    scaler: MinMaxScaler
    identity_index: IdentityIndex
    info: DataInfo


def feature_sources(
    cfg: TrainConfig, data_dir: Path | None
) -> tuple[dict[str, FeatureSource], FeatureRecords]:
    """The stage-2 speech streams of `cfg`, read from its feature cache, and their records for
    the checkpoint (name, options, fingerprint, size)."""
    sources: dict[str, FeatureSource] = {}
    records = {}
    for role in ("motion", "emotion"):
        spec = getattr(cfg.features, role)
        if spec is None:
            continue
        extractor = get_extractor(spec.name, **spec.options)
        sources[role] = FeatureSource(extractor, cfg.features.cache, data_dir, spec.options)
        records[role] = feature_record(extractor, spec.options)
    return sources, FeatureRecords(**records)


def prepare_data(
    cfg: TrainConfig,
    stage: int,
    scaler: MinMaxScaler | None = None,
    identity_index: IdentityIndex | None = None,
    features: dict[str, FeatureSource] | None = None,
    echo: Echo = stderr_echo,
) -> StageData:
    """Scan the corpus, split it for `stage`, fit the scaler (unless given) and build datasets.

    Args:
        cfg: the run config (`data` section).
        stage: 1 or 2.
        scaler: the motion scaler to use (stage 2: the prior's); None = fit on the training clips.
        identity_index: speaker labels; None = the stage-2 training speakers.
        features: role -> FeatureSource (stage 2); None for stage 1.
    """
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

    def pick(part: str, which: int) -> list[Clip]:
        return select_clips(corpus.clips, d.split, part, which, d.stage1_protocol, root)

    train_clips, val_clips = pick("train", stage), pick("val", stage)
    if scaler is None:
        scaler = fit_motion_scaler(train_clips)
    if identity_index is None:
        identity_index = IdentityIndex.from_clips(pick("train", 2))
    seed, preload = cfg.trainer.seed, d.preload
    train = ClipDataset(
        train_clips, scaler, features, d.crop, seed=seed, identities=identity_index,
        preload=preload, length_match=d.length_match,
    )  # fmt: skip
    # Validation speakers of a speaker split have no identity label of their own: the label
    # variants condition them on the first training speaker.
    val = ClipDataset(
        val_clips, scaler, features, None, seed=seed, identities=identity_index,
        unknown_identity=0, preload=preload, length_match=d.length_match,
    )  # fmt: skip
    info = DataInfo(
        root=str(root),
        layout=corpus.layout,
        split=d.split,
        stage1_protocol=d.stage1_protocol,
        train_subjects=tuple(sorted({c.subject for c in train_clips})),
        val_subjects=tuple(sorted({c.subject for c in val_clips})),
        train_clips=len(train_clips),
        val_clips=len(val_clips),
        excluded_clips=len(corpus.problems),
    )
    return StageData(train, val, scaler, identity_index, info)
