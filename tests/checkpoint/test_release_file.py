"""Reading released Lightning checkpoints: weights and hydra hyper-parameters out, no code run.

The checkpoints are written here in the structure PyTorch Lightning 2.1 gives a hydra-built
module: Lightning's top-level keys, optimizer and callback state, and hyper-parameters holding
omegaconf containers (stand-in classes registered under omegaconf's module names while saving,
gone when loading, like a machine without omegaconf) and numpy scalars.
"""

from __future__ import annotations

import pickle
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from fixtures_release import TINY, random_state, vqvae_layout
from lsf_animation.checkpoint.release_file import plain, read_lightning_checkpoint
from lsf_animation.errors import LsfError
from lsf_animation.model.release_keys import map_release_state


class Metadata:
    def __init__(self, ref_type: object, key: object) -> None:
        self.ref_type, self.key = ref_type, key


class AnyNode:
    def __init__(self, value: object) -> None:
        self._metadata = Metadata(object, None)
        self._parent = None
        self._val = value


class DictConfig:
    """Pickles like omegaconf 2.3's DictConfig: __dict__ with `_content` of nodes."""

    def __init__(self, content: dict) -> None:
        self._metadata = Metadata(dict, None)
        self._parent = None
        self._content = {
            k: v if isinstance(v, DictConfig | ListConfig) else AnyNode(v)
            for k, v in content.items()
        }

    def __getstate__(self) -> dict:
        return dict(self.__dict__)

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)


class ListConfig(DictConfig):
    def __init__(self, content: list) -> None:
        self._metadata = Metadata(list, None)
        self._parent = None
        self._content = [AnyNode(v) for v in content]


class Payload:
    """Runs code when unpickled by a plain unpickler: writes the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "ran"))


@pytest.fixture
def omegaconf_like(monkeypatch) -> Iterator[None]:
    """Register the stand-ins as omegaconf's classes while a test saves."""
    names = {
        "omegaconf.base": [Metadata],
        "omegaconf.nodes": [AnyNode],
        "omegaconf.dictconfig": [DictConfig],
        "omegaconf.listconfig": [ListConfig],
    }
    monkeypatch.setitem(sys.modules, "omegaconf", types.ModuleType("omegaconf"))
    for module, classes in names.items():
        mod = types.ModuleType(module)
        for cls in classes:
            monkeypatch.setattr(cls, "__module__", module)
            setattr(mod, cls.__name__, cls)
        monkeypatch.setitem(sys.modules, module, mod)
    yield


def lightning_checkpoint(state: dict[str, torch.Tensor], hparams: object) -> dict:
    """Lightning 2.1's checkpoint dict around a state dict."""
    first = next(iter(state.values()))
    return {
        "epoch": 41,
        "global_step": 123_000,
        "pytorch-lightning_version": "2.1.4",
        "state_dict": state,
        "loops": {"fit_loop": {"state_dict": {}, "epoch_progress": {"total": {"ready": 42}}}},
        "callbacks": {
            "ModelCheckpoint{'monitor': 'total/val', 'mode': 'min'}": {
                "best_model_score": torch.tensor(0.0123),
                "best_model_path": "/data/outputs/checkpoints/epoch=41.ckpt",
                "dirpath": "/data/outputs/checkpoints",
            },
            "EarlyStopping{'monitor': 'total/val', 'mode': 'min'}": {
                "wait_count": 2,
                "best_score": torch.tensor(0.0123),
            },
        },
        "optimizer_states": [
            {
                "state": {0: {"step": torch.tensor(9.0), "exp_avg": torch.zeros_like(first)}},
                "param_groups": [{"lr": 1e-5, "betas": (0.9, 0.98), "params": [0]}],
            }
        ],
        "lr_schedulers": [],
        "hparams_name": "kwargs",
        "hyper_parameters": hparams,
    }


def hydra_hparams(marker: Path | None = None) -> dict:
    hp = {
        "nfeats": 53,
        "split_path": "datasets/mead-splits-pred",
        "one_hot_dim": ListConfig([32, 8, 3]),
        "resumed_training": False,
        "feature_predictor": DictConfig(
            {
                "_target_": "framework.model.feature_predictor.transformer_pred.Predictor",
                "latent_dim": 256,
                "num_layers": 12,
                "num_heads": 8,
                "intermediate_size": 384,
                "quant_factor": 0,
            }
        ),
        "motion_prior": DictConfig({"n_embed": 256, "zquant_dim": 128, "folder_prior": "???"}),
        "n_params_trainable": np.int64(16_262_816),
    }
    if marker is not None:
        hp["hook"] = Payload(marker)
    return hp


def test_weights_and_plain_hyper_parameters_without_running_code(
    tmp_path: Path, omegaconf_like: None
) -> None:
    state = random_state(vqvae_layout(TINY), seed=1)
    marker = tmp_path / "ran.txt"
    path = tmp_path / "last.ckpt"
    torch.save(lightning_checkpoint(state, hydra_hparams(marker)), path)
    for name in ("omegaconf", "omegaconf.base", "omegaconf.nodes", "omegaconf.dictconfig"):
        sys.modules.pop(name)  # reading happens where omegaconf is not installed
    with pytest.raises(pickle.UnpicklingError):  # torch's own safe loader refuses it
        torch.load(path, weights_only=True)

    ckpt = read_lightning_checkpoint(path)
    assert not marker.exists()  # the payload was never called
    assert not ckpt.weights_only
    assert ckpt.epoch == 41 and ckpt.global_step == 123_000 and ckpt.lightning_version == "2.1.4"
    assert "optimizer_states" in ckpt.top_level_keys
    assert set(ckpt.state_dict) == set(state)
    for key, value in state.items():
        torch.testing.assert_close(ckpt.state_dict[key], value, rtol=0, atol=0)
    hp = ckpt.hyper_parameters
    assert hp["feature_predictor"]["num_heads"] == 8
    assert hp["feature_predictor"]["latent_dim"] == 256
    assert hp["one_hot_dim"] == [32, 8, 3]
    assert hp["motion_prior"]["folder_prior"] == "???"
    assert hp["n_params_trainable"] == 16_262_816
    assert hp["hook"].startswith("<")  # the payload stays an inert placeholder
    # and the weights convert
    assert map_release_state(ckpt.state_dict, num_heads=TINY.heads).stage == 1


def test_plain_checkpoints_use_the_weights_only_loader(tmp_path: Path) -> None:
    state = random_state(vqvae_layout(TINY), seed=2)
    path = tmp_path / "plain.ckpt"
    torch.save(lightning_checkpoint(state, {"nfeats": 53, "one_hot_dim": [32, 8, 3]}), path)
    ckpt = read_lightning_checkpoint(path)
    assert ckpt.weights_only and ckpt.hyper_parameters == {"nfeats": 53, "one_hot_dim": [32, 8, 3]}
    bare = tmp_path / "bare.pt"
    torch.save(state, bare)
    assert set(read_lightning_checkpoint(bare).state_dict) == set(state)


def test_unreadable_files_are_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LsfError, match="does not exist"):
        read_lightning_checkpoint(tmp_path / "absent.ckpt")
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(LsfError, match="not a readable PyTorch checkpoint"):
        read_lightning_checkpoint(junk)
    path = tmp_path / "cut.ckpt"
    torch.save(lightning_checkpoint(random_state(vqvae_layout(TINY)), {}), path)
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(LsfError, match="not a readable PyTorch checkpoint"):
        read_lightning_checkpoint(path)
    empty = tmp_path / "empty.ckpt"
    torch.save({"state_dict": {}, "epoch": 1}, empty)
    with pytest.raises(LsfError, match="no model weights"):
        read_lightning_checkpoint(empty)


def test_plain_converts_nested_values() -> None:
    assert plain({"a": (1, 2.5, "x"), 3: [None, True]}) == {"a": [1, 2.5, "x"], "3": [None, True]}
    assert plain(np.float32(0.5)) == 0.5
