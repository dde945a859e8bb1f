"""Speaker and sentence splits of 3DMEAD."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lsf_animation.data.clips import Clip, clip_key
from lsf_animation.data.splits import (
    EMOTE_SPLIT,
    LSF_STAGE2_SPLIT,
    select_clips,
    split_subjects,
    stage_subjects,
)
from lsf_animation.errors import LsfError


def _clip(subject: str, emotion: int = 1, level: int = 1, sentence: int = 1) -> Clip:
    return Clip(
        clip_key(subject, emotion, level, sentence),
        subject,
        emotion,
        level,
        sentence,
        Path("a.wav"),
        Path("m.hdf5"),
        "mead",
    )


ALL_SPEAKERS = sorted({s for part in EMOTE_SPLIT.values() for s in part})
CLIPS = [_clip(s) for s in ALL_SPEAKERS]


def test_emote_and_lsf_speaker_lists() -> None:
    emote = split_subjects("emote")
    assert [len(emote[p]) for p in ("train", "val", "test")] == [32, 7, 8]
    assert len(ALL_SPEAKERS) == 47 and "W017" not in ALL_SPEAKERS
    lsf = split_subjects("lsf")
    assert [len(lsf[p]) for p in ("train", "val", "test")] == [22, 5, 5]
    # the stage-2 split partitions EMOTE's 32 training speakers
    assert sorted(lsf["train"] + lsf["val"] + lsf["test"]) == sorted(emote["train"])
    assert {"W011", "W014", "W015", "W016", "W018"} == set(LSF_STAGE2_SPLIT["test"])
    assert {"M028", "M029", "M030", "M031", "W009"} == set(LSF_STAGE2_SPLIT["val"])


def test_stage1_protocols_for_the_lsf_split() -> None:
    default = select_clips(CLIPS, "lsf", "train", stage=1)
    assert {c.subject for c in default} == set(LSF_STAGE2_SPLIT["train"])
    release = select_clips(CLIPS, "lsf", "train", stage=1, stage1_protocol="release")
    assert {c.subject for c in release} == set(EMOTE_SPLIT["train"])
    assert {"W011", "M028"} <= {c.subject for c in release}  # stage-2 test/val speakers leak in
    assert stage_subjects("lsf", 1, "release")["val"] == list(EMOTE_SPLIT["val"])
    stage2 = select_clips(CLIPS, "lsf", "test", stage=2, stage1_protocol="release")
    assert {c.subject for c in stage2} == set(LSF_STAGE2_SPLIT["test"])


def test_probtalk3d_sentence_split() -> None:
    clips = [_clip("M003", 0, 1, s) for s in range(1, 41)] + [
        _clip("W009", 6, 3, s) for s in range(1, 31)
    ]
    parts = {p: select_clips(clips, "probtalk3d", p) for p in ("train", "val", "test")}
    neutral = {p: [c.sentence for c in v if c.emotion == 0] for p, v in parts.items()}
    emotional = {p: [c.sentence for c in v if c.emotion != 0] for p, v in parts.items()}
    assert neutral == {
        "train": list(range(1, 33)),
        "val": list(range(33, 37)),
        "test": list(range(37, 41)),
    }
    assert emotional == {
        "train": list(range(1, 25)),
        "val": list(range(25, 28)),
        "test": list(range(28, 31)),
    }
    with pytest.raises(LsfError, match="splits by sentence"):
        split_subjects("probtalk3d")


def test_synthetic_split_reads_splits_json(tmp_path: Path) -> None:
    (tmp_path / "splits.json").write_text(
        json.dumps({"train": ["M001", "W002"], "val": ["M003"], "test": ["W004"]})
    )
    clips = [_clip(s) for s in ("M001", "W002", "M003", "W004")]
    got = select_clips(clips, "synthetic", "train", stage=1, corpus_root=tmp_path)
    assert [c.subject for c in got] == ["M001", "W002"]
    assert split_subjects("synthetic", tmp_path)["test"] == ["W004"]
    with pytest.raises(LsfError, match=r"splits\.json not found"):
        select_clips(clips, "synthetic", "train", corpus_root=tmp_path / "other")
    (tmp_path / "splits.json").write_text('{"train": "M001"}')
    with pytest.raises(LsfError, match="must hold"):
        split_subjects("synthetic", tmp_path)


def test_errors_name_the_problem() -> None:
    with pytest.raises(LsfError, match="unknown split 'vocaset'"):
        select_clips(CLIPS, "vocaset", "train")
    with pytest.raises(LsfError, match="unknown split part"):
        select_clips(CLIPS, "lsf", "training")
    with pytest.raises(LsfError, match="stage-1 protocol"):
        select_clips(CLIPS, "lsf", "train", stage=1, stage1_protocol="all")
    synthetic_clips = [_clip("S001"), _clip("S002")]
    with pytest.raises(LsfError) as info:
        select_clips(synthetic_clips, "lsf", "val")
    msg = str(info.value)
    assert "selects no clips" in msg and "M028" in msg and "S001, S002" in msg
