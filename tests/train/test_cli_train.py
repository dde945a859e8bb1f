"""`lsf-animation extract` + `train stage1|stage2` end to end on a tiny 3DMEAD-layout corpus:
validation loss falls, checkpoints are self-contained, resume after SIGKILL, 2-process DDP."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from fixtures_train import TINY_MODEL
from lsf_animation.audio.features import get_extractor
from lsf_animation.checkpoint import load_checkpoint
from lsf_animation.cli import main
from lsf_animation.train.config import load_train_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TINY = [
    *TINY_MODEL,
    "data.batch_size=4",
    "trainer.log_every_n_steps=1",
    "stage2.lr=1e-3",
]


def _sets(extra: list[str] = ()) -> list[str]:
    return [a for s in [*TINY, *extra] for a in ("--set", s)]


def _args(stage: str, corpus: dict, out: Path, *extra: str) -> list[str]:
    return [
        "train",
        stage,
        "--config",
        str(CONFIGS / "demo.yaml"),
        "--data",
        str(corpus["root"]),
        "--cache",
        str(corpus["cache"]),
        "--out",
        str(out),
        "-q",
        *extra,
    ]


def _metrics(stage_dir: Path, version: int = 0) -> list[dict[str, str]]:
    with open(stage_dir / "logs" / f"version_{version}" / "metrics.csv") as f:
        return list(csv.DictReader(f))


def _val_losses(stage_dir: Path) -> list[float]:
    return [float(r["val/loss"]) for r in _metrics(stage_dir) if r.get("val/loss")]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, write_corpus):
    base = tmp_path_factory.mktemp("train_cli")
    root, cache = base / "corpus", base / "cache"
    write_corpus(root)
    code = main(["extract", "--data", str(root), "--config", "demo", "--cache", str(cache),
                 "--workers", "1", "-q"])  # fmt: skip
    assert code == 0
    return {"root": root, "cache": cache, "base": base}


@pytest.fixture(scope="module")
def trained(corpus):
    """Both stages trained from the CLI; stage 2 with the extractors made unusable, so any
    recomputation of features during training would fail."""
    out = corpus["base"] / "run"
    assert main([*_args("stage1", corpus, out, "--max-epochs", "4"), *_sets()]) == 0
    from lsf_animation.audio.offline_motion import OfflineMotionExtractor
    from lsf_animation.audio.prosody import ProsodyExtractor

    def refuse(self, wav):
        raise AssertionError("a speech feature was recomputed during training")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(OfflineMotionExtractor, "__call__", refuse)
        mp.setattr(ProsodyExtractor, "__call__", refuse)
        assert main([*_args("stage2", corpus, out, "--max-epochs", "4"), *_sets()]) == 0
    return out


@pytest.mark.slow
def test_both_stages_train_from_the_cli_and_validation_loss_falls(trained):
    for stage in (1, 2):
        losses = _val_losses(trained / f"stage{stage}")
        assert len(losses) == 4
        assert losses[-1] < losses[0], (stage, losses)
        best = load_checkpoint(trained / f"stage{stage}" / "checkpoints" / "best.ckpt")
        assert best.epoch == min(range(4), key=lambda e: losses[e])  # the best weights are kept


@pytest.mark.slow
def test_stage2_model_file_is_self_contained(trained):
    ckpt = load_checkpoint(trained / "stage2" / "model.ckpt", stage=2)
    prior = load_checkpoint(trained / "stage1" / "model.ckpt", stage=1)
    assert ckpt.scaler == prior.scaler  # stage 2 works in the prior's motion scaling
    assert ckpt.identity_index.subjects == ("M001", "M003", "W002")
    assert ckpt.meta.data.val_subjects == ("W004",)
    demo = load_train_config("demo").features
    for stream, spec in zip(("motion", "emotion"), demo.streams(), strict=True):
        identity = ckpt.features.by_role()[stream]
        extractor = get_extractor(spec.name, **spec.options)
        assert identity.name == spec.name
        assert identity.fingerprint == extractor.fingerprint()
        assert identity.dim == extractor.dim
    model = ckpt.build_model()
    t50 = 40
    feats = torch.randn(1, t50, ckpt.features.motion.dim)
    emo = torch.randn(1, t50, ckpt.features.emotion.dim)
    motion = model(feats, emo, torch.zeros(1, 300))
    assert motion.shape == (1, t50 // 2, 53)
    assert ckpt.meta.train_config["stage2"]["lr"] == 1e-3


@pytest.mark.slow
def test_existing_runs_are_not_overwritten_and_resume_needs_a_run(trained, corpus, capsys):
    assert main([*_args("stage1", corpus, trained), *_sets()]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main([*_args("stage1", corpus, corpus["base"] / "empty", "--resume"), *_sets()]) == 2
    assert "nothing to resume" in capsys.readouterr().err


@pytest.mark.slow
def test_stage2_without_cached_features_says_to_run_extract(trained, corpus, capsys):
    args = _args("stage2", corpus, corpus["base"] / "nocache", "--prior",
                 str(trained / "stage1" / "model.ckpt"))  # fmt: skip
    args[args.index("--cache") + 1] = str(corpus["base"] / "empty_cache")
    assert main([*args, *_sets()]) == 2
    err = capsys.readouterr().err
    # the command to run, with the config's extractor options
    assert "lsf-animation extract" in err and "offline-phonetic" in err
    assert "--option offline-phonetic.transcripts=true" in err


@pytest.mark.slow
def test_stage2_refuses_a_stage2_checkpoint_as_prior(trained, corpus, capsys):
    args = _args("stage2", corpus, corpus["base"] / "wrong_prior", "--prior",
                 str(trained / "stage2" / "model.ckpt"))  # fmt: skip
    assert main([*args, *_sets()]) == 2
    assert "stage-1 checkpoint" in capsys.readouterr().err


def _subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.mark.slow
def test_resume_after_sigkill_continues_from_the_last_epoch(corpus, tmp_path):
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "lsf_animation.cli",
           *_args("stage1", corpus, out, "--max-epochs", "500"),
           *_sets(["stage1.patience=1000", "stage1.lr=1e-3"])]  # fmt: skip
    last = out / "stage1" / "checkpoints" / "last.ckpt"
    proc = subprocess.Popen(cmd, env=_subprocess_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not last.exists():
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "no checkpoint within 60 s"
            time.sleep(0.02)
        time.sleep(0.3)  # well inside a later epoch
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    saved = torch.load(last, weights_only=True)
    epoch, step = saved["epoch"], saved["global_step"]
    assert epoch < 499  # killed mid-run
    target = epoch + 3
    resume = [*_args("stage1", corpus, out, "--max-epochs", str(target), "--resume"),
              *_sets(["stage1.patience=1000", "stage1.lr=1e-3"])]  # fmt: skip
    assert main(resume) == 0
    after = torch.load(last, weights_only=True)
    assert after["epoch"] == target - 1
    assert after["global_step"] == step + 2 * 3  # 3 batches per epoch, 2 more epochs
    resumed_epochs = {int(r["epoch"]) for r in _metrics(out / "stage1", version=1)}
    assert resumed_epochs == {epoch + 1, epoch + 2}


@pytest.mark.slow
def test_ddp_two_processes_on_cpu(corpus, tmp_path):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "lsf_animation.cli",
           *_args("stage1", corpus, out, "--max-epochs", "2", "--devices", "2", "--strategy",
                  "ddp", "--accelerator", "cpu"),
           *_sets(["trainer.num_threads=1"])]  # fmt: skip
    run = subprocess.run(cmd, env=_subprocess_env(), capture_output=True, timeout=120)
    assert run.returncode == 0, run.stderr.decode()[-3000:]
    last = torch.load(out / "stage1" / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["epoch"] == 1
    # 12 training clips, batch 4: 3 steps per epoch alone, 2 when two processes share them.
    assert last["global_step"] == 2 * 2
    assert load_checkpoint(out / "stage1" / "model.ckpt", stage=1).stage == 1


@pytest.mark.slow
def test_paper_path_trains_hubert_upper_layers_on_cached_front(trained, corpus, tmp_path):
    """The paper preset's wiring at tiny size: hubert-frozen features from the cache, HuBERT's
    upper layers trained inside the model and stored in (and rebuilt from) the checkpoint."""
    from transformers import HubertConfig, HubertModel

    torch.manual_seed(0)
    hubert_dir = tmp_path / "hubert"
    config = HubertConfig(hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                          intermediate_size=64, conv_dim=(16,) * 7, num_conv_pos_embeddings=16,
                          num_conv_pos_embedding_groups=4)  # fmt: skip
    HubertModel(config).save_pretrained(hubert_dir)
    assert main(["extract", "--data", str(corpus["root"]), "--features", "hubert-frozen",
                 "--option", f"hubert-frozen.model={hubert_dir}", "--cache",
                 str(corpus["cache"]), "--workers", "1", "-q"]) == 0  # fmt: skip
    # options replaced whole: the demo config's phonetic options are not HuBERT's
    extra = ["features.motion.name=hubert-frozen",
             f"features.motion.options={{model: {hubert_dir}}}",
             "features.backbone=hubert-upper"]  # fmt: skip
    args = _args("stage2", corpus, tmp_path / "run", "--max-epochs", "2", "--prior",
                 str(trained / "stage1" / "model.ckpt"))  # fmt: skip
    assert main([*args, *_sets(extra)]) == 0
    ckpt = load_checkpoint(tmp_path / "run" / "stage2" / "model.ckpt", stage=2)
    assert ckpt.meta.backbone.num_frozen == 2
    upper = {k for k in ckpt.state_dict if k.startswith("motion_backbone.")}
    assert upper and all(k.startswith("motion_backbone.part.layers.0.") for k in upper)
    original = HubertModel.from_pretrained(hubert_dir).encoder.layers[2].state_dict()
    model = ckpt.build_model()  # no HuBERT files needed
    tuned = model.motion_backbone.part.layers[0].state_dict()
    assert any(not torch.equal(original[k], tuned[k]) for k in original)
    assert ckpt.features.motion.options == {"model": str(hubert_dir)}
