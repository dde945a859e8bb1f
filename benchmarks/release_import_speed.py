"""The imported paper-size model: import time, file size and `animate` speed on 10 s and 60 s.

A release-layout stage-2 checkpoint at the releases' full sizes is written with random weights
(LSF-Animation's predictor and identity MLP, the stage-1 prior, HuBERT-base under the release's
names, emotion2vec-base under fairseq's; layouts from tests/fixtures_release.py), imported with
`import_release`, and animated on the FLAME topology (a random 5023-vertex FLAME-format model:
FLAME itself is licence-gated). Audio: the demo's synthetic speech tiled to the length. One
sample, 20 s windows with 2 s overlap, no video; time = `Animator.animate` (speech encoders +
model + cross-fade).

    .venv/bin/python benchmarks/release_import_speed.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the release layouts, shared with the tests

LENGTHS_S = (10, 60)


def release_stage2_file(path: Path) -> Path:
    """A full-size LSF-Animation stage-2 Lightning checkpoint with random weights."""
    import torch
    from transformers import HubertConfig, HubertModel

    from fixtures_release import lsf_predictor_layout, random_state, vqvae_layout
    from fixtures_release_files import (
        emotion2vec_release_keys,
        hubert_release_keys,
        write_lightning,
    )
    from lsf_animation.audio.data2vec import Data2VecAudioConfig, Data2VecAudioModel

    torch.manual_seed(0)
    state = random_state(lsf_predictor_layout(), 0, scale=0.02)
    state |= random_state(vqvae_layout(prefix="motion_prior."), 1, scale=0.02)
    state |= hubert_release_keys(HubertModel(HubertConfig()).eval())  # hubert-base-ls960 sizes
    e2v = Data2VecAudioModel(Data2VecAudioConfig()).eval()  # emotion2vec_base sizes
    state |= {k: v for k, v in emotion2vec_release_keys(e2v).items() if ".decoder." not in k}
    return write_lightning(path, state)


def main() -> None:
    import numpy as np
    import torch

    from fixtures_flame import random_flame_arrays, write_flame_pickle
    from lsf_animation.api import Animator
    from lsf_animation.checkpoint.release_import import import_release
    from lsf_animation.demo import demo_speech
    from record import markdown_table, record

    with tempfile.TemporaryDirectory() as tmp:
        src = release_stage2_file(Path(tmp) / "release.ckpt")
        started = time.perf_counter()
        result = import_release(src, Path(tmp) / "model.ckpt")
        import_s = time.perf_counter() - started
        size_mb = result.out.stat().st_size / 2**20
        flame = write_flame_pickle(Path(tmp) / "generic_model.pkl", random_flame_arrays(5023, 9976))
        started = time.perf_counter()
        animator = Animator.from_checkpoint(result.out, face=str(flame))
        load_s = time.perf_counter() - started
        speech = demo_speech().audio
        rows = [["import (release .ckpt -> model.ckpt)", "", f"{import_s:.1f} s", ""],
                ["load (`Animator.from_checkpoint`)", "", f"{load_s:.1f} s", ""]]  # fmt: skip
        animator.animate(np.resize(speech, 16000 * 2), seed=0)  # warm-up
        for seconds in LENGTHS_S:
            wav = np.resize(speech, 16000 * seconds).astype(np.float32)
            started = time.perf_counter()
            anim = animator.animate(wav, seed=0)
            elapsed = time.perf_counter() - started
            rows.append([f"`animate` {seconds} s of audio", anim.motion.shape[1],
                         f"{elapsed:.1f} s", f"{seconds / elapsed:.2f}x"])  # fmt: skip
    body = (
        f"A full-size LSF-Animation release checkpoint with random weights ({result.parameters:,} "
        f"model parameters; HuBERT-base and emotion2vec-base carried), imported: "
        f"{result.mapped} keys mapped, {result.dropped} training-only keys dropped, "
        f"{size_mb:.0f} MB written. `animate` on FLAME topology, one sample, 20 s windows "
        f"(2 s overlap), no video, {torch.get_num_threads()} torch threads:\n\n"
        + markdown_table(["step", "frames", "time", "real-time factor"], rows)
    )
    record("Imported release model", "benchmarks/release_import_speed.py", body)


if __name__ == "__main__":
    main()
