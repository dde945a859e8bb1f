"""Can the motion prior (stage 1) express the mouth shapes? Per-channel reconstruction.

The stage-1 VQ-VAE is the vocabulary stage 2 speaks in: a mouth shape it cannot reconstruct
no speech model built on it can produce. For test-speaker clips of a synthetic corpus, ground
truth motion is encoded, quantized and decoded by the prior of each checkpoint (stage 1 or 2);
for each mouth channel: the ground truth's standard deviation, the reconstruction's, and their
correlation.

    .venv/bin/python benchmarks/prior_mouth_channels.py --data CORPUS CKPT [CKPT ...] \
        [--label NAME ...] [--no-record]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

CHANNELS = ("jaw", "mouth_open", "lip_press", "lip_pucker", "lip_funnel", "lip_stretch")


def reconstruction(checkpoint: str, data: Path, clips: int) -> dict[str, tuple[float, ...]]:
    """channel -> (ground-truth std, reconstruction std, correlation)."""
    import h5py
    import torch

    from lsf_animation.checkpoint.files import load_checkpoint
    from lsf_animation.constants import NUM_EXPRESSION
    from lsf_animation.face.builtin import EXPRESSION_NAMES

    ckpt = load_checkpoint(checkpoint)
    prior = ckpt.build_prior().eval()
    test = json.loads((data / "splits.json").read_text())["test"]
    files = sorted(
        f for s in test for f in (data / "EMICA-MEAD_flame2020" / s).rglob("shape_pose_cam.hdf5")
    )[:: max(1, len(test) * 176 // clips)]
    truth, recon = [], []
    for path in files:
        with h5py.File(path) as fh:
            motion = np.concatenate([fh["exp"][0][:, :50], fh["jaw"][0]], axis=1)
        x = torch.from_numpy(ckpt.scaler.transform(motion.astype(np.float32))).float()[None]
        with torch.no_grad():
            out = prior(x).reconstruction[0].numpy()
        truth.append(motion)
        recon.append(ckpt.scaler.inverse(out))
    t, r = np.concatenate(truth), np.concatenate(recon)
    result = {}
    for name in CHANNELS:
        k = NUM_EXPRESSION if name == "jaw" else EXPRESSION_NAMES.index(name)
        corr = float(np.corrcoef(t[:, k], r[:, k])[0, 1])
        result[name] = (float(t[:, k].std()), float(r[:, k].std()), corr)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--clips", type=int, default=40)
    parser.add_argument("--label", nargs="*", default=[], help="a name per checkpoint")
    parser.add_argument("--no-record", action="store_true")
    parser.add_argument("checkpoints", nargs="+")
    args = parser.parse_args()
    labels = args.label or args.checkpoints
    rows = []
    for label, checkpoint in zip(labels, args.checkpoints, strict=True):
        for name, (sd, rsd, corr) in reconstruction(checkpoint, args.data, args.clips).items():
            rows.append([label, name, f"{sd:.3f}", f"{rsd:.3f}", f"{corr:.2f}"])
    from record import markdown_table, record

    body = (
        f"Test-speaker clips of `{args.data.name}` ({args.clips} clips) encoded, quantized and "
        "decoded by each prior; per mouth channel (expression coefficients of the built-in "
        "face): ground truth's standard deviation, the reconstruction's, and their "
        "correlation. A channel the prior cannot reconstruct, stage 2 cannot produce.\n\n"
        + markdown_table(["prior", "channel", "truth std", "reconstruction std", "r"], rows)
    )
    if args.no_record:
        print(body)
    else:
        record("Motion prior: mouth channels", "benchmarks/prior_mouth_channels.py", body)


if __name__ == "__main__":
    main()
