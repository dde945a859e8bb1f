"""The embedded-defaults pipeline end to end: `synth` -> `extract` -> `train stage1` -> `train
stage2` on a small synthetic corpus, from the CLI, with the demo config at tiny sizes."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from fixtures_train import TINY_MODEL
from lsf_animation.checkpoint import load_checkpoint
from lsf_animation.cli import main

DEMO = Path(__file__).resolve().parents[2] / "configs" / "demo.yaml"
TINY = [
    *TINY_MODEL,
    "data.batch_size=8",
]


def _val_losses(stage_dir: Path) -> list[float]:
    with open(stage_dir / "logs" / "version_0" / "metrics.csv") as f:
        return [float(r["val/loss"]) for r in csv.DictReader(f) if r.get("val/loss")]


@pytest.mark.slow
def test_synthetic_corpus_trains_both_stages_and_validation_loss_falls(tmp_path: Path) -> None:
    corpus, cache, out = tmp_path / "corpus", tmp_path / "cache", tmp_path / "run"
    assert main(["synth", "--out", str(corpus), "--identities", "4", "--sentences", "1", "-q"]) == 0
    assert main(["extract", "--data", str(corpus), "--config", str(DEMO),
                 "--cache", str(cache), "-q"]) == 0  # fmt: skip
    sets = [a for s in TINY for a in ("--set", s)]
    common = ["--config", str(DEMO), "--data", str(corpus), "--cache", str(cache),
              "--out", str(out), "-q", *sets]  # fmt: skip
    assert main(["train", "stage1", *common, "--max-epochs", "5"]) == 0
    assert main(["train", "stage2", *common, "--max-epochs", "3"]) == 0
    for stage in (1, 2):
        losses = _val_losses(out / f"stage{stage}")
        assert min(losses[1:]) < losses[0], (stage, losses)
    checkpoint = load_checkpoint(out / "stage2" / "model.ckpt")
    assert checkpoint.stage == 2
    names = [f.name for f in checkpoint.features.by_role().values()]
    assert names == ["offline-phonetic", "offline-voice"]
