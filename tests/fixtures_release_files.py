"""Released checkpoints as files: whole stage-1 / stage-2 state dicts in the releases' key
layouts (tiny sizes), with a tiny HuBERT under transformers 4.10's names and a tiny emotion2vec
under fairseq's, saved the way PyTorch Lightning 2.1 saves them.

Import as `from fixtures_release_files import ...`; the layouts come from fixtures_release.py.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch
from transformers import HubertModel

from fixtures_hubert import tiny_hubert_config
from fixtures_release import (
    TINY,
    Sizes,
    lsf_predictor_layout,
    probtalk3d_predictor_layout,
    random_state,
    vqvae_layout,
)
from lsf_animation.audio.data2vec import Data2VecAudioConfig, Data2VecAudioModel

HUBERT = "feature_extractor.audiomodel."
EMOTION2VEC = "audio_model."
LEGACY_WEIGHT_NORM = {
    "parametrizations.weight.original0": "weight_g",
    "parametrizations.weight.original1": "weight_v",
}
TINY_EMOTION2VEC = Data2VecAudioConfig(
    embed_dim=64,
    conv_channels=(16,) * 7,
    conv_pos_depth=2,
    conv_pos_kernel=5,
    conv_pos_groups=4,
    prenet_depth=1,
    depth=1,
    num_heads=4,
    mlp_hidden=64,
    num_extra_tokens=2,
    alibi_scale_shape=(1, 1, 4, 1, 1),
)


SIZES = replace(TINY, feature=64)
"""Tiny, with 64-wide speech features: HuBERT's head count is not stored, and the import reads
it as hidden / 64 (HuBERT-base's 64-wide heads), so the tiny HuBERT has one head of 64."""


def tiny_hubert(seed: int = 0, feature: int = SIZES.feature) -> HubertModel:
    """A tiny HuBERT (eval mode) whose hidden size is the released predictor's input width."""
    torch.manual_seed(seed)
    config = tiny_hubert_config(
        hidden_size=feature, num_attention_heads=max(1, feature // 64), intermediate_size=96
    )
    return HubertModel(config).eval()


def hubert_release_keys(model: HubertModel) -> dict[str, torch.Tensor]:
    """The model's weights as the release's stage-2 module stores them."""
    out = {}
    for key, value in model.state_dict().items():
        for new, old in LEGACY_WEIGHT_NORM.items():
            key = key.replace(new, old)
        out[HUBERT + key] = value.clone()
    return out


def tiny_emotion2vec(seed: int = 0) -> Data2VecAudioModel:
    torch.manual_seed(seed)
    return Data2VecAudioModel(TINY_EMOTION2VEC).eval()


def emotion2vec_release_keys(model: Data2VecAudioModel) -> dict[str, torch.Tensor]:
    """fairseq names under the release's prefix, with the unused pre-training decoder."""
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["modality_encoders.AUDIO.decoder.proj.weight"] = torch.randn(model.cfg.embed_dim, 16)
    return {EMOTION2VEC + k: v for k, v in state.items()}


def lsf_stage2(
    s: Sizes = SIZES, seed: int = 0
) -> tuple[dict[str, torch.Tensor], HubertModel, Data2VecAudioModel]:
    """LSF-Animation's stage-2 state dict, with the HuBERT and emotion2vec it holds."""
    hubert, e2v = tiny_hubert(seed, s.feature), tiny_emotion2vec(seed)
    state = random_state(lsf_predictor_layout(s), seed)
    state |= random_state(vqvae_layout(s, prefix="motion_prior."), seed + 1)
    state |= hubert_release_keys(hubert) | emotion2vec_release_keys(e2v)
    return state, hubert, e2v


def probtalk3d_stage2(
    s: Sizes = SIZES, seed: int = 0
) -> tuple[dict[str, torch.Tensor], HubertModel]:
    hubert = tiny_hubert(seed, s.feature)
    state = random_state(probtalk3d_predictor_layout(s), seed)
    state |= random_state(vqvae_layout(s, prefix="motion_prior."), seed + 1)
    return state | hubert_release_keys(hubert), hubert


def stage1(s: Sizes = SIZES, seed: int = 0) -> dict[str, torch.Tensor]:
    return random_state(vqvae_layout(s), seed + 1)


def write_lightning(path: Path, state: dict[str, torch.Tensor], epoch: int = 7) -> Path:
    """`state` in Lightning 2.1's checkpoint dict (plain hyper-parameters), saved to `path`."""
    torch.save(
        {
            "epoch": epoch,
            "global_step": 1000 * epoch,
            "pytorch-lightning_version": "2.1.4",
            "state_dict": state,
            "loops": {},
            "callbacks": {},
            "optimizer_states": [],
            "lr_schedulers": [],
            "hparams_name": "kwargs",
            "hyper_parameters": {"nfeats": 53},
        },
        path,
    )
    return path
