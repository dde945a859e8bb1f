"""On real speech, does the demo model's mouth follow the voice?

For each LibriVox clip in ../shared/audio/librivox: animate it with the checkpoint (built-in face,
zero shape, one sample, seed 0), measure the lip aperture of the predicted vertices
(`face.measure.lip_aperture`) and correlate it with the speech envelope (RMS per 40 ms frame,
`eval.lipsync`), at lag 0 and at the best lag within +-2 frames (80 ms).

    .venv/bin/python benchmarks/librivox_lips.py [--checkpoint C]   # default: the packaged demo
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

LIBRIVOX = Path(__file__).resolve().parents[2] / "shared" / "audio" / "librivox"


def main() -> None:
    from lsf_animation.api import Animator
    from lsf_animation.audio.load import load_audio
    from lsf_animation.eval.lipsync import lagged_correlation, speech_envelope
    from lsf_animation.face.measure import lip_aperture

    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint", default="demo")
    args = parser.parse_args()
    animator = Animator.from_checkpoint(args.checkpoint)
    rows, scores = [], []
    for path in sorted(LIBRIVOX.glob("*.wav")):
        wav = load_audio(path)
        animation = animator.animate(wav, seed=0)
        aperture = lip_aperture(animator.face, animation.vertices())
        envelope = speech_envelope(wav, len(aperture))
        result = lagged_correlation(aperture, envelope)
        scores.append(result.r_at_zero)
        rows.append(
            [
                path.stem,
                f"{len(wav) / 16000:.1f} s",
                f"{result.r_at_zero:.2f}",
                f"{result.best_lag * 40:+d} ms",
                f"{result.r_best:.2f}",
                f"{1000 * np.ptp(aperture):.1f} mm",
            ]
        )
    from record import markdown_table, record

    headers = ["clip", "length", "r (lag 0)", "best lag", "r (best lag)", "aperture range"]
    body = (
        f"Checkpoint `{args.checkpoint}`, built-in face, zero shape, one sample (seed 0). "
        "Pearson r "
        "between the predicted lip aperture and the speech envelope (RMS per 40 ms frame); a "
        "positive lag means the mouth moves after the sound.\n\n"
        + markdown_table(headers, rows)
        + f"\n\nMean r at lag 0 over {len(scores)} clips: {np.mean(scores):.2f}."
    )
    record("Lip aperture follows real speech (LibriVox)", "benchmarks/librivox_lips.py", body)


if __name__ == "__main__":
    main()
