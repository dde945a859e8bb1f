"""Training step time of the paper recipe at full size (the numbers behind the README's
per-epoch estimate).

One optimizer step (forward, backward, Adam) at batch size 1, as the release trains, on random
inputs of a typical 3DMEAD clip length:

- stage 1: `MotionVQVAE` (paper preset) on 100 frames (4 s at 25 fps);
- stage 2: `LSFModel` (paper preset, frozen prior) with HuBERT-base's trainable part above the
  cached CNN + projection (`frozen_front=projection`, as the release fine-tunes it) on 200
  feature frames (4 s at 50 Hz); emotion2vec features are cached, not run.

    .venv/bin/python benchmarks/paper_train_step.py
"""

from __future__ import annotations

import time

import torch

T25, T50, REPEATS = 100, 200, 5


def _time(step) -> float:
    step()  # warm-up
    started = time.perf_counter()
    for _ in range(REPEATS):
        step()
    return (time.perf_counter() - started) / REPEATS


def main() -> None:
    from transformers import HubertConfig, HubertModel

    from lsf_animation.audio.hubert import HubertExtractor
    from lsf_animation.checkpoint.backbone import hubert_backbone
    from lsf_animation.model.config import paper_config
    from lsf_animation.model.lsf import LSFModel
    from lsf_animation.model.vqvae import MotionVQVAE
    from record import markdown_table, record

    torch.manual_seed(0)
    cfg = paper_config()
    vq = MotionVQVAE(cfg.vqvae).train()
    opt1 = torch.optim.AdamW(vq.parameters(), 1e-4)
    motion = torch.rand(1, T25, 53)

    def stage1() -> None:
        out = vq(motion)
        loss = (out.reconstruction - motion).abs().mean() + out.latent.pow(2).mean()
        opt1.zero_grad()
        loss.backward()
        opt1.step()

    extractor = HubertExtractor(HubertModel(HubertConfig()), True, 2, "projection")
    backbone, _ = hubert_backbone(extractor)
    model = LSFModel(cfg, backbone).freeze_prior().train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt2 = torch.optim.Adam(trainable, 1e-5)
    hub, emo, shape = torch.randn(1, T50, 768), torch.randn(1, T50, 768), torch.randn(1, 300)

    def stage2() -> None:
        out = model.run(hub, emo, shape)
        loss = (out.latent - out.quantized.detach()).abs().mean() + out.motion.abs().mean()
        opt2.zero_grad()
        loss.backward()
        opt2.step()

    s1, s2 = _time(stage1), _time(stage2)
    n2 = sum(p.numel() for p in trainable)
    rows = [
        ["stage 1 (motion VQ-VAE)", f"{T25} frames", f"{sum(p.numel() for p in vq.parameters()):,}",
         f"{s1 * 1000:.0f} ms"],
        ["stage 2 (SIE-Encoder + HuBERT upper part)", f"{T50} feature frames", f"{n2:,}",
         f"{s2 * 1000:.0f} ms"],
    ]  # fmt: skip
    body = (
        f"One training step (forward, backward, Adam) at batch size 1 on a 4 s clip, "
        f"{torch.get_num_threads()} torch threads, mean of {REPEATS} after a warm-up:\n\n"
        + markdown_table(["stage", "input", "trainable parameters", "step time"], rows)
    )
    record("Paper recipe training step", "benchmarks/paper_train_step.py", body)


if __name__ == "__main__":
    main()
