"""Stage-2 training step: cached frozen features vs re-running the frozen encoders.

Paper sizes: random-weight HuBERT-base (its frozen front = CNN + feature projection + first 2
layers; the upper 10 layers are trained as the motion backbone) and emotion2vec_base's
architecture (data2vec 2.0, frozen), the paper's SIE-Encoder (HIFB, 12 layers) and motion prior.
One training step = forward, loss, backward and Adam step of `Stage2Module`, on the same batch:

- cached: the batch holds the frozen front's output and the emotion2vec features (what the
  feature cache gives; this project's training);
- re-run: the batch holds the waveforms, and every step first runs the frozen HuBERT front and
  emotion2vec on them without gradients (what the release did on every step).

Run: .venv/bin/python benchmarks/train_speed.py [--seconds 4] [--batch 1 2] [--steps 4]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from transformers import HubertConfig, HubertModel

from lsf_animation.audio.data2vec import Data2VecAudioConfig, Data2VecAudioModel
from lsf_animation.audio.emotion2vec import layer_normalize
from lsf_animation.audio.features import num_frames_50hz
from lsf_animation.audio.hubert import normalize_waveform, split_hubert
from lsf_animation.checkpoint import CheckpointMeta
from lsf_animation.checkpoint.backbone import HubertUpperLayers
from lsf_animation.data.scalers import MinMaxScaler
from lsf_animation.model.config import paper_config
from lsf_animation.model.lsf import LSFModel
from lsf_animation.train.config import Stage2Section
from lsf_animation.train.stage2 import Stage2Module
from record import markdown_table, record


def build(device: torch.device):
    torch.manual_seed(0)
    hubert = HubertModel(HubertConfig()).eval()  # base: 12 layers, 768-d
    front, upper = split_hubert(hubert, 2)
    emotion2vec = Data2VecAudioModel(Data2VecAudioConfig()).eval().requires_grad_(False)
    model = LSFModel(paper_config("hifb"), HubertUpperLayers(upper)).freeze_prior()
    meta = CheckpointMeta(scaler=MinMaxScaler.release(), stage=2, model_config=model.cfg)
    module = Stage2Module(model, Stage2Section(), meta)
    module.to(device).train()
    return front.to(device).eval(), emotion2vec.to(device), module


def make_batch(seconds: float, batch: int, device: torch.device) -> dict:
    rng = np.random.default_rng(0)
    n = int(seconds * 16000)
    t50 = num_frames_50hz(n)
    t = t50 // 2
    wav = torch.from_numpy((0.1 * rng.standard_normal((batch, n))).astype(np.float32))
    return {
        "wav": wav.to(device),
        "motion": torch.rand(batch, t, 53, device=device),
        "motion_mask": torch.ones(batch, t, dtype=torch.bool, device=device),
        "num_frames": torch.full((batch,), t, dtype=torch.int64, device=device),
        "shape": torch.randn(batch, 300, device=device),
        "feature_mask": torch.ones(batch, 2 * t, dtype=torch.bool, device=device),
        "labels": {},
    }


@torch.no_grad()
def frozen_features(front, emotion2vec, wav: torch.Tensor, t50: int) -> tuple:
    """The frozen streams of one batch: (B, T50, 768) HuBERT front, (B, T50, 768) emotion2vec."""
    h = front(normalize_waveform(wav))[:, :t50]
    e = torch.stack([emotion2vec(layer_normalize(w)[None])[0] for w in wav])[:, :t50]
    return h, e


def step(module, optimizer, batch: dict) -> None:
    optimizer.zero_grad(set_to_none=True)
    loss = module._losses(batch)["loss"]
    loss.backward()
    optimizer.step()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_steps(fn, steps: int, device: torch.device) -> float:
    fn()  # warm-up
    sync(device)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    device = torch.device(args.device)
    front, emotion2vec, module = build(device)
    optimizer = module.configure_optimizers()
    trainable = sum(p.numel() for p in module.trainable_parameters())
    rows = []
    for b in args.batch:
        batch = make_batch(args.seconds, b, device)
        t50 = batch["feature_mask"].shape[1]
        h, e = frozen_features(front, emotion2vec, batch["wav"], t50)
        cached = {**batch, "motion_features": h, "emotion_features": e}

        def rerun(batch=batch, t50=t50) -> None:
            h, e = frozen_features(front, emotion2vec, batch["wav"], t50)
            step(module, optimizer, {**batch, "motion_features": h, "emotion_features": e})

        t_cached = time_steps(lambda cached=cached: step(module, optimizer, cached), args.steps,
                              device)  # fmt: skip
        t_rerun = time_steps(rerun, args.steps, device)
        t_frozen = time_steps(
            lambda batch=batch, t50=t50: frozen_features(front, emotion2vec, batch["wav"], t50),
            args.steps,
            device,
        )
        rows.append([
            b, f"{args.seconds:g} s", f"{t_cached * 1000:.0f}", f"{t_rerun * 1000:.0f}",
            f"{t_frozen * 1000:.0f}", f"{t_rerun / t_cached:.2f}x",
        ])  # fmt: skip
        print(rows[-1], flush=True)
    threads = "" if device.type == "cuda" else f", {torch.get_num_threads()} threads"
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    table = markdown_table(
        ["batch", "clip", "cached step (ms)", "re-run step (ms)", "frozen encoders alone (ms)",
         "speed-up"],
        rows,
    )  # fmt: skip
    body = (
        f"Stage-2 training step (forward + loss + backward + Adam) at paper sizes on {name}"
        f"{threads}: HuBERT-base's upper 10 layers + SIE-Encoder (HIFB, 12 layers) trained "
        f'({trainable / 1e6:.1f} M parameters), prior frozen. "cached" reads the frozen '
        "streams (HuBERT's CNN + projection + first 2 layers, and emotion2vec_base, random "
        'weights) from the batch, as training on the feature cache does; "re-run" computes '
        "them on every step, as the release did. Median of "
        f"{args.steps} steps after a warm-up, same batch.\n\n{table}"
    )
    if args.no_record:
        print(body)
    else:
        record("Training", "benchmarks/train_speed.py", body)


if __name__ == "__main__":
    main()
