"""Inference speed and peak memory of `Animator.animate` against audio length.

Each length runs in its own process (so peak RSS is that run's): real-time factor = audio
seconds / animate seconds (features + model + cross-fade; no video, no vertices), and the
process's peak resident memory. Audio: a synthetic-corpus utterance tiled to the length.

    .venv/bin/python benchmarks/animate_speed.py [--checkpoint C]

Without --checkpoint, a throwaway demo-size checkpoint is trained first (configs/demo.yaml,
3 identities, 1 epoch per stage: the weights do not change the speed).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LENGTHS_S = [10, 60, 600]


def _train(work: Path) -> tuple[Path, Path]:
    from lsf_animation.cli import main

    corpus, cache, out = work / "corpus", work / "cache", work / "run"
    assert main(["synth", "--out", str(corpus), "--identities", "3", "--sentences", "1", "-q"]) == 0
    assert main(["extract", "--data", str(corpus), "--features", "offline-motion,offline-prosody",
                 "--cache", str(cache), "-q"]) == 0  # fmt: skip
    common = ["--config", str(ROOT / "configs" / "demo.yaml"), "--data", str(corpus),
              "--cache", str(cache), "--out", str(out), "-q", "--max-epochs", "1"]  # fmt: skip
    for stage in ("stage1", "stage2"):
        assert main(["train", stage, *common]) == 0
    return out / "stage2" / "model.ckpt", max(corpus.rglob("*.wav"), key=lambda p: p.stat().st_size)


def _one(checkpoint: str, wav_path: str, seconds: float) -> None:
    import numpy as np

    from lsf_animation.api import Animator
    from lsf_animation.audio.load import load_audio

    animator = Animator.from_checkpoint(checkpoint)
    wav = np.resize(load_audio(wav_path), int(seconds * 16000))
    started = time.perf_counter()
    anim = animator.animate(wav, seed=0)
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"frames": anim.motion.shape[1], "elapsed": elapsed, "peak_mb": peak_mb}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint")
    parser.add_argument("--wav")
    parser.add_argument("--one", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        _one(args.checkpoint, args.wav, args.one)
        return
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint, wav = _train(Path(tmp))
        if args.checkpoint:
            checkpoint = Path(args.checkpoint)
        rows = []
        for seconds in LENGTHS_S:
            cmd = [sys.executable, __file__, "--checkpoint", str(checkpoint), "--wav", str(wav),
                   "--one", str(seconds)]  # fmt: skip
            done = subprocess.run(cmd, check=True, capture_output=True, text=True)
            result = json.loads(done.stdout.strip().splitlines()[-1])
            rtf = seconds / result["elapsed"]
            rows.append(
                [
                    f"{seconds} s",
                    result["frames"],
                    f"{result['elapsed']:.2f} s",
                    f"{rtf:.0f}x",
                    f"{result['peak_mb']:.0f} MB",
                ]
            )
    from record import markdown_table, record

    body = (
        "`Animator.animate` (demo-size model, offline features, 20 s windows with 2 s overlap, "
        "one sample, no video), one process per length:\n\n"
        + markdown_table(["audio", "frames", "animate time", "real-time factor", "peak RSS"], rows)
    )
    record("Inference speed and memory", "benchmarks/animate_speed.py", body)


if __name__ == "__main__":
    main()
