"""Checkpoint metadata: typed on load, stored exactly as it was read, refused when hand-edited."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from lsf_animation.api import DEMO_CHECKPOINT
from lsf_animation.checkpoint import CheckpointMeta, load_checkpoint, read_checkpoint_dict
from lsf_animation.errors import LsfError


def test_the_shipped_checkpoints_metadata_round_trips_unchanged() -> None:
    stored = read_checkpoint_dict(DEMO_CHECKPOINT)["lsf"]
    meta = CheckpointMeta.from_dict(stored, "demo.ckpt")
    assert meta.stage == 2 and meta.features is not None and meta.data is not None
    assert meta.features.motion.name == "offline-phonetic" and meta.data.split == "synthetic"
    assert meta.face is not None and meta.face.kind == "builtin"  # the face it was trained on
    again = meta.to_dict()
    assert again == stored and list(again) == list(stored)  # same keys, values and order


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("stage", "2", r"stage must be one of \[1, 2\]"),
        ("model_config", [], "model_config"),
        ("features", {"motion": "offline-motion"}, "features.motion must be a mapping"),
        ("scaler", {"type": "minmax", "min": [0.0]}, "scaler"),
        ("surprise", 1, r"unknown key\(s\) surprise"),
    ],
)
def test_hand_edited_metadata_is_refused_with_the_key_named(
    tmp_path: Path, key: str, value: object, message: str
) -> None:
    data = read_checkpoint_dict(DEMO_CHECKPOINT)
    edited = dict(data, lsf=copy.deepcopy(data["lsf"]))
    edited["lsf"][key] = value
    path = tmp_path / "edited.ckpt"
    torch.save(edited, path)
    with pytest.raises(LsfError, match=message):
        load_checkpoint(path)
