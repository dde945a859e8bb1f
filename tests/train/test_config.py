"""Training configs: the shipped presets, YAML loading, overrides and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from lsf_animation.errors import LsfError
from lsf_animation.model.config import VARIANTS
from lsf_animation.train.config import TrainConfig, load_train_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_paper_preset_follows_the_spec():
    cfg = load_train_config(CONFIGS / "paper.yaml")
    assert (cfg.stage1.optimizer, cfg.stage1.lr) == ("adamw", 1e-4)
    assert (cfg.stage2.optimizer, cfg.stage2.lr) == ("adam", 1e-5)
    assert cfg.stage2.betas == (0.9, 0.98) and cfg.stage2.eps == 1e-9
    assert cfg.stage1.patience == cfg.stage2.patience == 5
    assert cfg.features.motion.name == "hubert-frozen"
    assert cfg.features.emotion is not None and cfg.features.emotion.name == "emotion2vec"
    assert cfg.features.backbone == "hubert-upper"
    assert cfg.data.split == "lsf" and cfg.data.stage1_protocol == "stage2-train"
    model = cfg.model_config(768, 768)
    assert (model.sie.num_layers, model.sie.d_model, model.vqvae.num_layers) == (12, 256, 6)


def test_demo_preset_uses_offline_features_and_small_sizes():
    cfg = load_train_config(CONFIGS / "demo.yaml")
    assert cfg.features.motion.name == "offline-phonetic"
    assert cfg.features.motion.options == {"transcripts": True, "loudness": True,
                                           "recognizer": "words"}  # fmt: skip
    assert cfg.features.emotion is not None and cfg.features.emotion.name == "offline-voice"
    assert cfg.features.backbone is None
    assert cfg.data.split == "synthetic"
    model = cfg.model_config(41, 21)
    assert model.sie.motion_dim == 41 and model.sie.emotion_dim == 21
    assert model.sie.output_head and cfg.stage2.keep == "last"
    assert model.vqvae.reconstruction_loss == "l1"
    assert (cfg.stage1.warmup_loss, cfg.stage1.warmup_epochs) == ("l2", 60)
    assert cfg.stage1.keep == "last" and cfg.stage1.patience >= cfg.stage1.max_epochs
    assert model.sie.d_model < 256 and model.vqvae.hidden_dim < 256


@pytest.mark.parametrize("variant", VARIANTS)
def test_one_ablation_config_per_table2_row(variant):
    cfg = load_train_config(CONFIGS / f"ablation_{variant}.yaml")
    paper = load_train_config(CONFIGS / "paper.yaml")
    assert cfg.model.variant == variant
    assert cfg.model.preset == "paper"
    assert cfg.stage2.lr == paper.stage2.lr and cfg.features.motion == paper.features.motion
    assert cfg.out != paper.out  # rows do not overwrite each other
    model = cfg.model_config(768, 768 if cfg.features.emotion else None)
    assert model.sie.variant == variant


def test_ablation_configs_cover_exactly_the_variants():
    names = {p.stem.removeprefix("ablation_") for p in CONFIGS.glob("ablation_*.yaml")}
    assert names == set(VARIANTS)


def test_overrides_are_typed_yaml_values(tmp_path):
    cfg = load_train_config(
        CONFIGS / "demo.yaml",
        [
            "stage2.lr=5e-6",
            "stage2.betas=[0.8, 0.9]",
            "data.batch_size=3",
            "data.crop=null",
            "trainer.devices=auto",
            "model.sie.num_layers=3",
            f"out={tmp_path}",
        ],
    )
    assert cfg.stage2.lr == 5e-6 and cfg.stage2.betas == (0.8, 0.9)
    assert cfg.data.batch_size == 3 and cfg.data.crop is None
    assert cfg.trainer.devices == "auto"
    assert cfg.model_config(86, 16).sie.num_layers == 3
    assert cfg.out == str(tmp_path)


def test_extends_merges_sections_key_by_key(tmp_path):
    (tmp_path / "base.yaml").write_text(
        "stage2:\n  lr: 2.0e-5\n  patience: 7\ndata:\n  split: lsf\n"
    )
    (tmp_path / "top.yaml").write_text("extends: base.yaml\nstage2:\n  patience: 3\n")
    cfg = load_train_config(tmp_path / "top.yaml")
    assert (cfg.stage2.lr, cfg.stage2.patience, cfg.data.split) == (2e-5, 3, "lsf")


def test_round_trip_through_a_dict():
    cfg = load_train_config(CONFIGS / "paper.yaml")
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("stage1:\n  lr_rate: 0.1\n", r"unknown key\(s\) stage1.lr_rate"),
        ("stage1:\n  lr: fast\n", "stage1.lr must be a number"),
        ("data:\n  batch_size: 2.5\n", "data.batch_size must be an integer"),
        ("data:\n  split: mine\n", "data.split must be one of"),
        ("model:\n  variant: best\n", "model.variant 'best' is not known"),
        ("features:\n  backbone: hubert-upper\n", "set features.motion.name to hubert-frozen"),
        ("features:\n  emotion: null\n", "reads the emotion stream"),
        ("- a\n- b\n", "must hold a mapping"),
        ("stage1: [\n", "not valid YAML"),
        ("stage2:\n  keep: newest\n", "stage2.keep must be best or last"),
        ("stage2:\n  ema_decay: 1.0\n", "stage2.ema_decay must be null or between 0 and 1"),
        ("stage1:\n  warmup_loss: l3\n", "stage1.warmup_loss must be null or one of l1, l2"),
        ("stage1:\n  warmup_epochs: -1\n", "stage1.warmup_epochs must be >= 0"),
    ],
)
def test_bad_configs_name_the_problem(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(LsfError, match=message):
        load_train_config(path)


def test_missing_file_and_bad_override_are_clear(tmp_path):
    with pytest.raises(LsfError, match="not found"):
        load_train_config(tmp_path / "nope.yaml")
    with pytest.raises(LsfError, match=r"section\.key=value"):
        load_train_config(None, ["stage2.lr"])


def test_feature_size_conflict_is_refused():
    cfg = load_train_config(None, ["model.sie.motion_dim=768"])
    with pytest.raises(LsfError, match="taken from the feature"):
        cfg.model_config(86, 16)


def test_shipped_configs_load_by_name_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no configs/ folder here, as after `pip install`
    for name in ("demo", "paper.yaml", "ablation_hifb"):
        by_name = load_train_config(name)
        by_path = load_train_config(CONFIGS / Path(name).with_suffix(".yaml").name)
        assert by_name == by_path
    with pytest.raises(LsfError, match=r"not found.*shipped config name"):
        load_train_config("no_such_preset")
    (tmp_path / "demo.yaml").write_text("name: mine\n")
    assert load_train_config("demo.yaml").name == "mine"  # an existing file wins
