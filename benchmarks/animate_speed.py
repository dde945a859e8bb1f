"""Inference speed and peak memory of `Animator.animate` against audio length.

Each length runs in its own process (so peak RSS is that run's): real-time factor = audio
seconds / animate seconds (features + model + cross-fade; no video, no vertices), and the
process's peak resident memory. Audio: the demo's synthetic speech (`demo.demo_speech`), tiled
to the length, saved as a WAV file. A model whose motion stream is offline-phonetic runs with
each recognizer (`animate(recognizer=)`): its phones are most of the time.

    .venv/bin/python benchmarks/animate_speed.py [--checkpoint C]   # default: the packaged demo
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

LENGTHS_S = [10, 60, 600]


def _one(checkpoint: str, wav_path: str, seconds: float, recognizer: str | None) -> None:
    import numpy as np

    from lsf_animation.api import Animator
    from lsf_animation.audio.load import load_audio

    animator = Animator.from_checkpoint(checkpoint)
    wav = np.resize(load_audio(wav_path), int(seconds * 16000))
    started = time.perf_counter()
    anim = animator.animate(wav, seed=0, recognizer=recognizer)
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"frames": anim.motion.shape[1], "elapsed": elapsed, "peak_mb": peak_mb}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint")
    parser.add_argument("--wav")
    parser.add_argument("--one", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--recognizer", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        _one(args.checkpoint, args.wav, args.one, args.recognizer)
        return
    from lsf_animation.api import Animator
    from lsf_animation.data.synth.layout import write_wav
    from lsf_animation.demo import demo_speech

    checkpoint = args.checkpoint or "demo"
    motion = Animator.from_checkpoint(checkpoint).checkpoint.features.motion  # type: ignore[union-attr]
    own = motion.options.get("recognizer", "allphone")
    recognizers: list[str | None] = [own, "allphone" if own == "words" else "words"]
    if motion.name != "offline-phonetic":
        recognizers = [None]
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        write_wav(wav, demo_speech().audio)
        rows = []
        for recognizer in recognizers:
            for seconds in LENGTHS_S:
                cmd = [sys.executable, __file__, "--checkpoint", checkpoint, "--wav", str(wav),
                       "--one", str(seconds)]  # fmt: skip
                if recognizer is not None:
                    cmd += ["--recognizer", recognizer]
                done = subprocess.run(cmd, check=True, capture_output=True, text=True)
                result = json.loads(done.stdout.strip().splitlines()[-1])
                rtf = seconds / result["elapsed"]
                rows.append(
                    [
                        f"{seconds} s",
                        recognizer or "-",
                        result["frames"],
                        f"{result['elapsed']:.2f} s",
                        f"{rtf:.1f}x" if rtf < 10 else f"{rtf:.0f}x",
                        f"{result['peak_mb']:.0f} MB",
                    ]
                )
    from record import markdown_table, record

    header = ["audio", "phones", "frames", "animate time", "real-time factor", "peak RSS"]
    body = (
        f"`Animator.animate` (checkpoint `{checkpoint}`, offline features, 20 s windows with "
        "2 s overlap, one sample, no video), one process per length; phones: how the "
        f"offline-phonetic stream recognizes them (`{own}` is the checkpoint's own):\n\n"
        + markdown_table(header, rows)
    )
    record("Inference speed and memory", "benchmarks/animate_speed.py", body)


if __name__ == "__main__":
    main()
