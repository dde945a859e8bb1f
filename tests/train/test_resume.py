"""Training can be interrupted anywhere and continued exactly (issue 17).

- A run killed (SIGKILL) after some epoch and resumed with `--resume` ends with bit-identical
  weights to a run that was never interrupted, in stage 1 (random crops, shuffling, dead-code
  restarts) and stage 2 (dropout, shuffling).
- A full disk while a checkpoint is written is one line saying what to run next, never leaves a
  truncated checkpoint, and that command then works; --resume with only best.ckpt continues.
- Checkpoints follow the umask like every other output.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from fixtures_train import TINY_MODEL
from lsf_animation.cli import main

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TINY = [*TINY_MODEL, "data.batch_size=4", "data.crop=24", "stage1.lr=1e-3", "stage2.lr=1e-3",
        "stage1.patience=1000", "stage2.patience=1000"]  # fmt: skip
EPOCHS = 8


def _args(stage: str, corpus: dict, out: Path, *extra: str) -> list[str]:
    sets = [a for s in TINY for a in ("--set", s)]
    return ["train", stage, "--config", str(CONFIGS / "demo.yaml"), "--data",
            str(corpus["root"]), "--cache", str(corpus["cache"]), "--out", str(out), "-q",
            *sets, *extra]  # fmt: skip


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["state_dict"]


def _assert_identical(a: Path, b: Path) -> None:
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    diff = max(float((wa[k].double() - wb[k].double()).abs().max()) for k in wa)
    assert diff == 0.0, f"resumed weights differ by up to {diff}"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, write_corpus):
    base = tmp_path_factory.mktemp("resume")
    root, cache = base / "corpus", base / "cache"
    write_corpus(root)
    assert main(["extract", "--data", str(root), "--config", "demo",
                 "--cache", str(cache), "--workers", "1", "-q"]) == 0  # fmt: skip
    return {"root": root, "cache": cache, "base": base}


@pytest.fixture(scope="module")
def uninterrupted(corpus):
    """Both stages trained for EPOCHS epochs without interruption."""
    out = corpus["base"] / "uninterrupted"
    for stage in ("stage1", "stage2"):
        assert main(_args(stage, corpus, out, "--max-epochs", str(EPOCHS))) == 0
    return out


@pytest.mark.slow
def test_stage1_killed_and_resumed_ends_bit_identical(corpus, uninterrupted, tmp_path):
    out = tmp_path / "killed"
    last = out / "stage1" / "checkpoints" / "last.ckpt"
    cmd = [sys.executable, "-m", "lsf_animation.cli",
           *_args("stage1", corpus, out, "--max-epochs", str(EPOCHS))]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not last.exists():
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.01)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    killed_at = torch.load(last, weights_only=True)["epoch"]
    assert killed_at < EPOCHS - 1  # killed mid-run
    assert main(_args("stage1", corpus, out, "--max-epochs", str(EPOCHS), "--resume")) == 0
    assert torch.load(last, weights_only=True)["epoch"] == EPOCHS - 1
    _assert_identical(last, uninterrupted / "stage1" / "checkpoints" / "last.ckpt")
    _assert_identical(out / "stage1" / "model.ckpt", uninterrupted / "stage1" / "model.ckpt")


@pytest.mark.slow
def test_sigterm_stops_training_in_one_line_and_resume_continues(corpus, tmp_path):
    out = tmp_path / "terminated"
    last = out / "stage1" / "checkpoints" / "last.ckpt"
    cmd = [sys.executable, "-m", "lsf_animation.cli",
           *_args("stage1", corpus, out, "--max-epochs", "500")]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not last.exists():
        assert proc.poll() is None, proc.stderr.read()[-2000:]
        assert time.monotonic() < deadline, "no checkpoint within 120 s"
        time.sleep(0.01)
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err[-2000:]
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("terminated (SIGTERM)")
    left = [p.name for p in last.parent.iterdir()]
    assert sorted(left) in (["best.ckpt", "last.ckpt"], ["last.ckpt"]), left  # no temporaries
    epoch = torch.load(last, weights_only=True)["epoch"]
    assert main(_args("stage1", corpus, out, "--max-epochs", str(epoch + 2), "--resume")) == 0
    assert torch.load(last, weights_only=True)["epoch"] == epoch + 1


@pytest.mark.slow
def test_stage2_stopped_and_resumed_ends_bit_identical(corpus, uninterrupted, tmp_path):
    out = tmp_path / "stopped"
    prior = ["--prior", str(uninterrupted / "stage1" / "model.ckpt")]
    assert main(_args("stage2", corpus, out, "--max-epochs", "3", *prior)) == 0
    assert main(_args("stage2", corpus, out, "--max-epochs", str(EPOCHS), "--resume", *prior)) == 0
    _assert_identical(out / "stage2" / "checkpoints" / "last.ckpt",
                      uninterrupted / "stage2" / "checkpoints" / "last.ckpt")  # fmt: skip


@pytest.mark.slow
def test_stage2_with_weight_averaging_resumes_bit_identical(corpus, uninterrupted, tmp_path):
    prior = ["--prior", str(uninterrupted / "stage1" / "model.ckpt"), "--set",
             "stage2.ema_decay=0.9"]  # fmt: skip
    whole, stopped = tmp_path / "whole", tmp_path / "stopped"
    assert main(_args("stage2", corpus, whole, "--max-epochs", "4", *prior)) == 0
    assert main(_args("stage2", corpus, stopped, "--max-epochs", "2", *prior)) == 0
    assert main(_args("stage2", corpus, stopped, "--max-epochs", "4", "--resume", *prior)) == 0
    for name in ("checkpoints/last.ckpt", "model.ckpt"):
        _assert_identical(stopped / "stage2" / name, whole / "stage2" / name)
    last = torch.load(whole / "stage2" / "checkpoints" / "last.ckpt", weights_only=True)
    trained, averaged = last["current_model_state"], last["state_dict"]
    assert any(not torch.equal(trained[k], averaged[k]) for k in averaged)


@pytest.mark.slow
def test_resume_continues_from_best_when_last_was_never_written(corpus, tmp_path, capsys):
    out = tmp_path / "half"
    assert main(_args("stage1", corpus, out, "--max-epochs", "1")) == 0
    checkpoints = out / "stage1" / "checkpoints"
    (checkpoints / "last.ckpt").unlink()  # as if stopped between writing best and last
    (out / "stage1" / "model.ckpt").unlink()
    assert main(_args("stage1", corpus, out, "--max-epochs", "2")) == 2
    assert "pass --resume" in capsys.readouterr().err
    assert main(_args("stage1", corpus, out, "--max-epochs", "2", "--resume")) == 0
    assert torch.load(checkpoints / "last.ckpt", weights_only=True)["epoch"] == 1


@pytest.mark.slow
def test_checkpoints_follow_the_umask(corpus, uninterrupted):
    # the module fixture ran under the test session's umask; run one epoch under 022
    out = corpus["base"] / "umask"
    old = os.umask(0o022)
    try:
        assert main(_args("stage1", corpus, out, "--max-epochs", "1")) == 0
    finally:
        os.umask(old)
    stage = out / "stage1"
    for path in (stage / "checkpoints" / "best.ckpt", stage / "checkpoints" / "last.ckpt",
                 stage / "model.ckpt"):  # fmt: skip
        assert path.stat().st_mode & 0o777 == 0o644, path


from test_kill_and_disk_full import needs_tmpfs, run_on_small_disk  # noqa: E402


@needs_tmpfs
@pytest.mark.slow
def test_disk_full_during_training_names_the_command_that_continues(corpus, uninterrupted,
                                                                     tmp_path):  # fmt: skip
    size = (uninterrupted / "stage1" / "checkpoints" / "best.ckpt").stat().st_size
    disk = tmp_path / "disk"
    out = disk / "run"
    train = _args("stage1", corpus, out, "--max-epochs", "2")
    # room for the logs and one checkpoint, not two: best.ckpt of epoch 0 is written, last.ckpt
    # fails; then with room again, the command the message names finishes the run
    (code, _, err, left, broken), (code2, _, err2, left2, broken2) = run_on_small_disk(
        disk, f"{(size * 3 // 2 + 96 * 1024) // 1024}k",
        [train, ["@remount", "64m"], [*train, "--resume"]],
    )
    assert code == 2, err[-2000:]
    assert "Traceback" not in err
    line = err.strip().splitlines()[-1]
    assert line.startswith("error: cannot write the training checkpoint to")
    assert "the disk is full" in line and "rerun the same command with --resume" in line
    ckpts = [k for k in left if k.endswith(".ckpt")]
    assert ckpts == ["run/stage1/checkpoints/best.ckpt"] and broken == []  # complete, or absent
    assert not any(Path(k).name.startswith(".") for k in left)  # no temporaries
    assert code2 == 0, err2[-2000:]
    assert "run/stage1/model.ckpt" in left2 and "run/stage1/checkpoints/last.ckpt" in left2
    assert broken2 == []


@needs_tmpfs
@pytest.mark.slow
def test_disk_full_before_the_first_checkpoint_says_to_start_over(corpus, tmp_path):
    disk = tmp_path / "disk"
    train = _args("stage1", corpus, disk / "run", "--max-epochs", "1")
    (code, _, err, left, _), (code2, _, err2, _, _) = run_on_small_disk(
        disk, "48k", [train, ["@remount", "64m"], train]
    )
    assert code == 2 and "Traceback" not in err
    line = err.strip().splitlines()[-1]
    assert "the disk is full" in line and "rerun the same command (no epoch was saved" in line
    assert not any(k.endswith(".ckpt") or Path(k).name.startswith(".") for k in left)
    assert code2 == 0, err2[-2000:]
