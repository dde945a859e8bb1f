"""The inference speed-ups change the time, not the result.

- Windows: the fewest, equal-length, evenly spaced windows that still overlap enough.
- emotion2vec's conv stack as matrix products on (T, C) rows equals the textbook formulation.
- Loading without random init loads exactly the checkpoint's weights, and restores torch's init.
- The two speech streams computed at the same time (HuBERT front + motion backbone next to
  emotion2vec) give the same motion as one after the other and as a direct model pass.

The paper path is exercised at tiny sizes: a small HuBERT saved with `save_pretrained`, a small
emotion2vec in the official checkpoint layout and a stage-2 checkpoint with HuBERT's upper
layers as the motion backbone.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import HubertModel

from fixtures_hubert import tiny_hubert_config
from lsf_animation.api import Animator
from lsf_animation.audio.data2vec import ConvFeatureEncoder, Data2VecAudioConfig, Data2VecAudioModel
from lsf_animation.audio.emotion2vec import Emotion2vecExtractor, load_emotion2vec
from lsf_animation.audio.hubert import HubertExtractor
from lsf_animation.checkpoint import (
    CheckpointMeta,
    FeatureRecord,
    FeatureRecords,
    load_checkpoint,
    save_checkpoint,
)
from lsf_animation.checkpoint.backbone import hubert_backbone
from lsf_animation.data.scalers import MinMaxScaler
from lsf_animation.errors import LsfError
from lsf_animation.inference import window_plan, windowed_motion
from lsf_animation.model.config import demo_config
from lsf_animation.model.lsf import LSFModel

TINY_E2V = Data2VecAudioConfig(
    embed_dim=32,
    conv_channels=(16,) * 7,
    conv_pos_depth=2,
    conv_pos_kernel=5,
    conv_pos_groups=4,
    prenet_depth=1,
    depth=1,
    num_heads=2,
    mlp_hidden=64,
    alibi_scale_shape=(1, 1, 2, 1, 1),
)


def test_windows_are_fewest_equal_evenly_spaced_and_overlap_enough() -> None:
    rng = random.Random(0)
    cases = [(1500, 500, 50), (501, 500, 50), (15000, 500, 50), (10, 500, 50), (1000, 500, 0)]
    cases += [(rng.randint(1, 5000), w, rng.randint(0, w // 2 - 1)) for w in (50, 100, 500)
              for _ in range(200)]  # fmt: skip
    for total, window, overlap in cases:
        starts, length = window_plan(total, window, overlap)
        assert starts[0] == 0 and starts[-1] + length == total and length <= window
        hops = np.diff(starts)
        assert (hops > 0).all() and (length - hops >= overlap).all()
        assert hops.size == 0 or hops.max() - hops.min() <= 1  # evenly spaced
        n = len(starts)
        if n > 1:  # one window fewer cannot cover `total`, even at full length
            assert (n - 1) * window - (n - 2) * overlap < total
            # no shorter common length would do with n windows
            assert n * (length - 1) - (n - 1) * overlap < total


def test_sixty_seconds_run_fewer_frames_than_full_length_windows() -> None:
    seen: list[int] = []

    def predict(piece: np.ndarray, frames: int) -> np.ndarray:
        seen.append(frames)
        return np.zeros((1, frames, 2), np.float32)

    motion = windowed_motion(np.zeros(60 * 16000, np.float32), predict, 500, 50)
    assert motion.shape == (1, 1500, 2)
    # 4 windows of 413 frames; full-length windows with a moved-back last one ran 2000
    assert seen == [413] * 4


def test_emotion2vec_conv_stack_on_rows_equals_the_textbook_one() -> None:
    torch.manual_seed(0)
    enc = ConvFeatureEncoder(TINY_E2V).eval()
    for _, _, norm, _ in enc.conv_layers:  # non-trivial LayerNorm parameters
        torch.nn.init.normal_(norm[1].weight, 1.0, 0.2)
        torch.nn.init.normal_(norm[1].bias, 0.0, 0.2)
    wav = torch.randn(2, 8000)
    x = wav[:, None, :]
    for conv, _, norm, _ in enc.conv_layers:
        x = conv(x).transpose(1, 2)
        x = F.gelu(norm[1](x)).transpose(1, 2)
    with torch.no_grad():
        out = enc(wav)
    assert out.shape == x.shape == (2, 16, 24)
    torch.testing.assert_close(out, x, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("meta_from", [0, 10**12], ids=["meta-device build", "direct build"])
def test_loading_a_model_leaves_torch_global_state_alone(
    tiny_paper_checkpoint: Path, meta_from: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("lsf_animation.checkpoint.build.META_BUILD_MIN_WEIGHTS", meta_from)
    # The random generator is left as it was (a small model's initialization, discarded for the
    # checkpoint's tensors, runs on a forked generator), neither torch.nn.init nor the thread
    # count is touched, and nothing stays on the meta device.
    init, threads = torch.nn.init.kaiming_uniform_, torch.get_num_threads()
    animator = Animator.from_checkpoint(tiny_paper_checkpoint, num_threads=1)
    torch.manual_seed(0)
    rng = torch.get_rng_state()
    model = load_checkpoint(tiny_paper_checkpoint, stage=2).build_model()
    animator.animate(_speech(1.0), seed=0)
    assert torch.equal(torch.get_rng_state(), rng)
    assert torch.nn.init.kaiming_uniform_ is init and torch.get_num_threads() == threads
    assert not any(p.is_meta for p in model.parameters())
    assert not any(b.is_meta for b in model.buffers())
    reference = load_checkpoint(tiny_paper_checkpoint, stage=2).state_dict
    assert all(torch.equal(v, reference[k]) for k, v in model.state_dict().items())


def _save_tiny_emotion2vec(path: Path) -> dict[str, torch.Tensor]:
    torch.manual_seed(1)
    model = Data2VecAudioModel(TINY_E2V)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    torch.save({"cfg": {"model": {"num_heads": 2}}, "model": state}, path)
    return state


def test_emotion2vec_loads_exactly_the_checkpoint_weights(tmp_path: Path) -> None:
    state = _save_tiny_emotion2vec(tmp_path / "e2v.pt")
    model = load_emotion2vec(tmp_path / "e2v.pt")
    loaded = model.state_dict()
    assert loaded.keys() == state.keys()
    for key, value in state.items():
        assert torch.equal(loaded[key], value), key
    assert not any(p.requires_grad for p in model.parameters())


@pytest.fixture(scope="module")
def tiny_paper_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stage-2 checkpoint of the paper's structure at tiny sizes (hubert-frozen + upper
    layers as backbone, emotion2vec, HIFB)."""
    root = tmp_path_factory.mktemp("tiny_paper")
    torch.manual_seed(0)
    hubert_cfg = tiny_hubert_config(
        num_hidden_layers=3, num_attention_heads=2, num_conv_pos_embedding_groups=2
    )
    HubertModel(hubert_cfg).save_pretrained(root / "hubert")
    _save_tiny_emotion2vec(root / "e2v.pt")
    motion = HubertExtractor(str(root / "hubert"), frozen_only=True)
    emotion = Emotion2vecExtractor(root / "e2v.pt")
    options = {
        "motion": {"model": str(root / "hubert")},
        "emotion": {"checkpoint": str(root / "e2v.pt")},
    }
    features = FeatureRecords(
        **{
            role: FeatureRecord(ex.name, options[role], ex.fingerprint(), 32)
            for role, ex in (("motion", motion), ("emotion", emotion))
        }
    )
    backbone, spec = hubert_backbone(motion)
    model = LSFModel(demo_config("hifb", 32, 32), backbone).freeze_prior()
    scaler = MinMaxScaler.fit([np.random.default_rng(0).normal(size=(50, 53))])
    meta = CheckpointMeta(
        scaler=scaler, features=features, backbone=spec, stage=2, model_config=model.cfg
    )
    return save_checkpoint(root / "model.ckpt", model.state_dict(), meta)


def _speech(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * 16000)) / 16000
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)
    noise = np.random.default_rng(0).standard_normal(len(t))
    return (0.2 * env * (np.sin(2 * np.pi * 150 * t) + 0.2 * noise)).astype(np.float32)


def test_parallel_streams_give_the_sequential_and_the_direct_motion(
    tiny_paper_checkpoint: Path,
) -> None:
    animator = Animator.from_checkpoint(tiny_paper_checkpoint)
    assert animator.model.motion_backbone is not None
    wav = _speech(3.0)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # parallel streams need >= 2 threads
    try:
        animator.parallel_streams = True
        parallel = animator.animate(wav, num_samples=2, temperature=0.5, seed=3).motion
        assert torch.get_num_threads() == 2  # restored after the worker threads
        animator.parallel_streams = False
        sequential = animator.animate(wav, num_samples=2, temperature=0.5, seed=3).motion
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_allclose(parallel, sequential, atol=1e-5)
    # the direct pass: features from the extractors, the backbone inside the model
    t = round(len(wav) / 640)
    padded = np.pad(wav, (0, t * 640 + 80 - len(wav)))
    feats = {r: torch.from_numpy(ex(padded))[None] for r, ex in animator.extractors.items()}
    generator = torch.Generator().manual_seed(3)
    with torch.inference_mode():
        direct = animator.model.sample(feats["motion"], feats["emotion"], torch.zeros(1, 300),
                                       num_frames=t, num_samples=2, temperature=0.5,
                                       generator=generator)  # fmt: skip
    expected = animator.scaler.inverse(direct[0].numpy())
    np.testing.assert_allclose(parallel, expected, atol=1e-5)


def test_emotion2vec_conv_stack_says_when_the_audio_is_too_short() -> None:
    enc = ConvFeatureEncoder(TINY_E2V).eval()
    assert enc(torch.zeros(1, 400)).shape == (1, 16, 1)  # one 25 ms window: one frame
    assert enc.receptive_field == 400
    with pytest.raises(LsfError, match="399 samples; at least 400"):
        enc(torch.zeros(1, 399))


def test_emotion2vec_conv_stack_runs_under_bfloat16_autocast() -> None:
    torch.manual_seed(0)
    enc = ConvFeatureEncoder(TINY_E2V).eval()
    wav = torch.randn(1, 8000)
    with torch.no_grad():
        ref = enc(wav)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = enc(wav)
    assert low.shape == ref.shape
    assert (low.float() - ref).abs().max() < 0.1 * ref.abs().max()
