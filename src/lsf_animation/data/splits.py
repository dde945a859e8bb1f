"""Train/val/test splits of 3DMEAD (docs/specification.md §3).

Split names:

- "emote": EMOTE's identity split, 32/7/8 speakers.
- "lsf": LSF-Animation's stage-2 split, 22/5/5 speakers inside EMOTE's 32 training speakers.
  Stage 1 (the motion prior) depends on `stage1_protocol`: "stage2-train" (default) uses the same
  speakers as stage 2, so the prior never sees the stage-2 validation or test speakers;
  "release" reproduces the released code, which trained the prior on all 32 EMOTE training
  speakers (validating on EMOTE's validation speakers), stage-2 test speakers included.
- "probtalk3d": ProbTalk3D's sentence split, every speaker in every part: neutral sentences
  1-32 / 33-36 / 37-40, emotional 1-24 / 25-27 / 28-30 (train / val / test).
- "synthetic": the speaker lists in `<corpus root>/splits.json`
  (`{"train": [...], "val": [...], "test": [...]}`), as written by the synthetic corpus.

For every split but "lsf", stage 1 and stage 2 use the same parts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from lsf_animation.data.clips import Clip
from lsf_animation.data.emotions import NEUTRAL
from lsf_animation.errors import LsfError, short_list

PARTS = ("train", "val", "test")
SPLIT_NAMES = ("emote", "lsf", "probtalk3d", "synthetic")
STAGE1_PROTOCOLS = ("stage2-train", "release")
SPLITS_FILE = "splits.json"

EMOTE_SPLIT: dict[str, tuple[str, ...]] = {
    "train": (
        "M003", "M005", "M007", "M009", "M011", "M012", "M013", "M019",
        "M022", "M023", "M024", "M025", "M026", "M027", "M028", "M029", "M030", "M031",
        "W009", "W011", "W014", "W015", "W016", "W018", "W019", "W021",
        "W023", "W024", "W025", "W026", "W028", "W029",
    ),
    "val": ("M032", "M033", "M034", "M035", "W033", "W035", "W036"),
    "test": ("M037", "M039", "M040", "M041", "M042", "W037", "W038", "W040"),
}  # fmt: skip
"""EMOTE's identity split (32 / 7 / 8 speakers)."""

LSF_STAGE2_SPLIT: dict[str, tuple[str, ...]] = {
    "train": (
        "W019", "W021", "W023", "W024", "W025", "W026", "W028", "W029",
        "M003", "M005", "M007", "M009", "M011", "M012", "M013", "M019",
        "M022", "M023", "M024", "M025", "M026", "M027",
    ),
    "val": ("M028", "M029", "M030", "M031", "W009"),
    "test": ("W011", "W014", "W015", "W016", "W018"),
}  # fmt: skip
"""LSF-Animation's stage-2 split (22 / 5 / 5 speakers, all EMOTE training speakers)."""

PROBTALK3D_SENTENCES: dict[str, dict[str, tuple[int, int]]] = {
    "neutral": {"train": (1, 32), "val": (33, 36), "test": (37, 40)},
    "emotional": {"train": (1, 24), "val": (25, 27), "test": (28, 30)},
}
"""ProbTalk3D's sentence split: inclusive sentence ranges per part."""


def _check_part(part: str) -> None:
    if part not in PARTS:
        raise LsfError(f"unknown split part {part!r}; choose train, val or test")


def _check_name(name: str) -> None:
    if name not in SPLIT_NAMES:
        raise LsfError(f"unknown split {name!r}; choose one of {', '.join(SPLIT_NAMES)}")


def read_splits_file(corpus_root: str | Path | None) -> dict[str, list[str]]:
    """The speaker lists of `<corpus_root>/splits.json`.

    Raises:
        LsfError: no root given, file missing or malformed.
    """
    if corpus_root is None:
        raise LsfError(
            f"the 'synthetic' split reads {SPLITS_FILE} from the corpus root; give the corpus root"
        )
    path = Path(corpus_root).expanduser() / SPLITS_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as err:
        raise LsfError(
            f"{path} not found; the 'synthetic' split needs the splits file written by the "
            "synthetic corpus (or choose the emote, lsf or probtalk3d split)"
        ) from err
    except (OSError, ValueError) as err:
        raise LsfError(f"cannot read {path} ({err}); expected JSON with train/val/test") from err
    if not isinstance(data, dict) or any(
        not isinstance(data.get(p), list) or not all(isinstance(s, str) for s in data[p])
        for p in PARTS
    ):
        raise LsfError(f'{path} must hold {{"train": [speakers], "val": [...], "test": [...]}}')
    return {p: list(data[p]) for p in PARTS}


def _check_stage(stage: int, stage1_protocol: str) -> None:
    if stage not in (1, 2):
        raise LsfError(f"stage must be 1 or 2, got {stage!r}")
    if stage1_protocol not in STAGE1_PROTOCOLS:
        raise LsfError(
            f"unknown stage-1 protocol {stage1_protocol!r}; choose {' or '.join(STAGE1_PROTOCOLS)}"
        )


def split_subjects(name: str, corpus_root: str | Path | None = None) -> dict[str, list[str]]:
    """Speakers per part of a speaker split ("emote", "lsf" = the stage-2 split, "synthetic").

    Raises:
        LsfError: unknown name; "probtalk3d" (a sentence split: use `select_clips`); a missing or
            malformed splits.json.
    """
    _check_name(name)
    if name == "emote":
        return {p: list(EMOTE_SPLIT[p]) for p in PARTS}
    if name == "lsf":
        return {p: list(LSF_STAGE2_SPLIT[p]) for p in PARTS}
    if name == "synthetic":
        return read_splits_file(corpus_root)
    raise LsfError(
        "'probtalk3d' splits by sentence, with every speaker in every part; it has no speaker "
        "lists (use select_clips)"
    )


def stage_subjects(
    name: str,
    stage: int = 2,
    stage1_protocol: str = "stage2-train",
    corpus_root: str | Path | None = None,
) -> dict[str, list[str]]:
    """Speakers per part that a training stage uses (differs from `split_subjects` only for
    "lsf" at stage 1 with the "release" protocol)."""
    _check_stage(stage, stage1_protocol)
    if name == "lsf" and stage == 1 and stage1_protocol == "release":
        return {p: list(EMOTE_SPLIT[p]) for p in PARTS}
    return split_subjects(name, corpus_root)


def in_probtalk3d_part(clip: Clip, part: str) -> bool:
    """Whether the clip's sentence falls in `part` of ProbTalk3D's sentence split."""
    group = "neutral" if clip.emotion == NEUTRAL else "emotional"
    lo, hi = PROBTALK3D_SENTENCES[group][part]
    return lo <= clip.sentence <= hi


def select_clips(
    clips: Sequence[Clip],
    split_name: str,
    part: str,
    stage: int = 2,
    stage1_protocol: str = "stage2-train",
    corpus_root: str | Path | None = None,
) -> list[Clip]:
    """The clips of one part of a split, in their input order.

    Args:
        clips: e.g. `scan_corpus(root).clips`.
        split_name: "emote", "lsf", "probtalk3d" or "synthetic" (see the module docstring).
        part: "train", "val" or "test".
        stage: 1 (motion prior) or 2 (SIE-Encoder).
        stage1_protocol: "stage2-train" or "release" (only changes "lsf" at stage 1).
        corpus_root: where splits.json is (the "synthetic" split only).

    Raises:
        LsfError: unknown split, part, stage or protocol; or the selection is empty (the message
            lists the speakers or sentences expected and those the corpus has).
    """
    _check_name(split_name)
    _check_part(part)
    if split_name == "probtalk3d":
        _check_stage(stage, stage1_protocol)
        chosen = [c for c in clips if in_probtalk3d_part(c, part)]
        if not chosen:
            ranges = PROBTALK3D_SENTENCES
            raise LsfError(
                f"split 'probtalk3d' part {part!r} selects no clips: it takes neutral sentences "
                f"{ranges['neutral'][part][0]}-{ranges['neutral'][part][1]} and emotional "
                f"sentences {ranges['emotional'][part][0]}-{ranges['emotional'][part][1]}; the "
                f"corpus has sentences {short_list({f'{c.sentence:03d}' for c in clips})}"
            )
        return chosen
    subjects = set(stage_subjects(split_name, stage, stage1_protocol, corpus_root)[part])
    chosen = [c for c in clips if c.subject in subjects]
    if not chosen:
        protocol = f", stage-1 protocol {stage1_protocol!r}" if stage == 1 else ""
        raise LsfError(
            f"split {split_name!r} part {part!r} (stage {stage}{protocol}) selects no clips: it "
            f"expects speakers {short_list(subjects)}; the corpus has speakers "
            f"{short_list({c.subject for c in clips})}. Choose the split that matches the corpus "
            "(the synthetic corpus uses 'synthetic')"
        )
    return chosen
