"""Make a demo checkpoint from a config, end to end, and measure it: one command.

Runs, under --work DIR (each step resumes or skips what is done):
1. `lsf-animation synth` (with --augment when asked: training speakers' audio only);
2. `lsf-animation extract` of the config's two speech features with the config's options;
3. `lsf-animation train stage1` and `stage2` with the config;
4. copies the stage-2 model to DIR/demo.ckpt and, unless --no-measure, runs
   benchmarks/real_speech_lips.py (LibriVox phone-level lip measures, with and without the
   transcript for a phonetic model) and benchmarks/demo_model.py (Table 1 on the synthetic
   test speakers), recording their BENCHMARKS.md sections.

    .venv/bin/python benchmarks/demo_recipe.py --config demo_v2 --augment --work /tmp/demo_v2

On a machine whose cores other processes also use, set OMP_NUM_THREADS=1 (two torch threads
each waiting for the other were measured 20x slower than one there).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(command: list[str]) -> None:
    from lsf_animation.cli import main as cli

    print("$ lsf-animation " + " ".join(command), flush=True)
    if cli(command) != 0:
        raise SystemExit(f"failed: lsf-animation {' '.join(command)}")


def main() -> None:
    from lsf_animation.train.config import load_train_config

    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="demo_v2")
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--augment", action="store_true")
    parser.add_argument("--workers", default="2")
    parser.add_argument("--no-measure", action="store_true")
    args = parser.parse_args()
    work = args.work.expanduser()
    corpus, cache, out = work / "synthetic_corpus", work / "cache", work / "run"
    config = load_train_config(args.config)
    run(["synth", "--out", str(corpus), "--workers", args.workers, "-q"]
        + (["--augment"] if args.augment else []))  # fmt: skip
    run(["extract", "--data", str(corpus), "--cache", str(cache), "-q", "--workers", args.workers,
         "--config", args.config])  # fmt: skip
    common = ["--config", args.config, "--data", str(corpus), "--out", str(out), "-q"]
    for stage in ("stage1", "stage2"):
        if (out / stage / "model.ckpt").is_file():
            print(f"already trained: {out / stage / 'model.ckpt'}")
            continue
        resume = ["--resume"] if (out / stage / "checkpoints" / "last.ckpt").is_file() else []
        run(["train", stage, *common, "--cache", str(cache), *resume])
    checkpoint = work / "demo.ckpt"
    shutil.copyfile(out / "stage2" / "model.ckpt", checkpoint)
    print(f"checkpoint: {checkpoint}")
    if args.no_measure:
        return
    python = sys.executable
    lips = [python, str(HERE / "real_speech_lips.py"), "--checkpoint", str(checkpoint)]
    subprocess.run(lips, check=True, cwd=HERE)
    if config.features.motion.name == "offline-phonetic":
        subprocess.run([*lips, "--transcript"], check=True, cwd=HERE)
    table = [python, str(HERE / "demo_model.py"), "--data", str(corpus), "--cache", str(cache)]
    subprocess.run([*table, "--checkpoint", str(checkpoint)], check=True, cwd=HERE)


if __name__ == "__main__":
    main()
