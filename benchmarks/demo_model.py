"""How the demo checkpoint scores on the synthetic corpus's unseen test speakers: the paper's
Table 1 for it, and a Table 2 against ablation variants trained on the same corpus and prior.

    .venv/bin/python benchmarks/demo_model.py --data demo_retrain/synthetic_corpus \\
        --cache demo_retrain/cache [--checkpoint C] [--ablations C1 C2 ...] [--samples 10] \\
        [--shape-mode subject]

The corpus is the one `lsf-animation demo --retrain` makes (its features must be in the cache the
checkpoints were trained with). Ablation checkpoints come from `lsf-animation train stage2 --config
demo --set model.variant=V --prior demo_retrain/run/stage1/model.ckpt ...` (README, Evaluation).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main() -> None:
    from lsf_animation.api import DEMO_CHECKPOINT
    from lsf_animation.cli import main as cli

    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--cache", help="Feature cache (default: the checkpoint's).")
    parser.add_argument("--checkpoint", default=str(DEMO_CHECKPOINT))
    parser.add_argument("--ablations", nargs="*", default=[])
    parser.add_argument("--samples", default="10")
    parser.add_argument("--shape-mode", default="subject")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        command = ["evaluate", "--checkpoint", args.checkpoint, "--data", args.data, "-q"]
        command += ["--samples", args.samples, "--shape-mode", args.shape_mode, "--out", tmp]
        if args.cache:
            command += ["--cache", args.cache]
        if args.ablations:
            command += ["--ablations", *args.ablations]
        started = time.perf_counter()
        if cli(command) != 0:
            raise SystemExit("evaluate failed (its message is above)")
        elapsed = time.perf_counter() - started
        table1 = (Path(tmp) / "table1.md").read_text().strip()
        table2 = (Path(tmp) / "table2.md").read_text().strip() if args.ablations else ""
    from record import record

    body = (
        f"`lsf-animation evaluate` on the test speakers of the synthetic corpus (unseen speakers "
        f"saying unseen sentences), {args.samples} samples per clip, shape mode "
        f"{args.shape_mode}; {elapsed / 60:.1f} min on this machine.\n\n" + table1
    )
    if table2:
        body += "\n\n" + table2
    record("Demo model on unseen synthetic speakers", "benchmarks/demo_model.py", body)


if __name__ == "__main__":
    main()
