"""Both training stages on in-memory clips: optimizers, frozen prior, codebook init, early
stopping with the best weights, determinism, every Table 2 variant, the checkpoint format."""

from __future__ import annotations

import csv
from pathlib import Path

import lightning as L
import pytest
import torch

from fixtures_train import TINY_MODEL
from lsf_animation.checkpoint import CheckpointMeta, load_checkpoint, write_model_file
from lsf_animation.data.scalers import MinMaxScaler
from lsf_animation.errors import LsfError
from lsf_animation.model.config import VARIANTS, ModelConfig
from lsf_animation.train.config import load_train_config
from lsf_animation.train.run import ClipDataModule, build_stage2_model, fit_stage
from lsf_animation.train.stage1 import Stage1Module
from lsf_animation.train.stage2 import Stage2Module

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TINY = [
    "model.preset=demo",
    *TINY_MODEL,
    "trainer.log_every_n_steps=1",
    "trainer.sanity_val_steps=0",
]


def _meta(model_config: ModelConfig, stage: int) -> CheckpointMeta:
    return CheckpointMeta(scaler=MinMaxScaler.release(), stage=stage, model_config=model_config)


def _stage1(out: Path, make_items, extra: list[str] = (), seed: int = 0):
    cfg = load_train_config(None, [*TINY, f"out={out}", *extra])
    L.seed_everything(seed, verbose=False)
    module = Stage1Module(_meta(cfg.model_config(8, 4), 1), cfg.stage1)
    dm = ClipDataModule(make_items(12, 0), make_items(4, 1), 4)
    result = fit_stage(1, module, dm, cfg, out / "stage1", progress=False, echo=lambda m: None)
    return cfg, module, result


def _metrics(stage_dir: Path) -> list[dict[str, str]]:
    with open(stage_dir / "logs" / "version_0" / "metrics.csv") as f:
        return list(csv.DictReader(f))


def _val_losses(stage_dir: Path) -> list[float]:
    rows = _metrics(stage_dir)
    return [float(r["val/loss"]) for r in rows if r.get("val/loss")]


@pytest.fixture(scope="module")
def prior(tmp_path_factory, make_items):
    out = tmp_path_factory.mktemp("prior")
    _, _, result = _stage1(out, make_items, ["stage1.max_epochs=2", "stage1.lr=1e-3"])
    return load_checkpoint(result.model_file, stage=1)


def test_stage1_optimizer_is_adamw_on_every_parameter(tmp_path):
    cfg = load_train_config(CONFIGS / "paper.yaml", ["model.preset=demo"])
    module = Stage1Module(_meta(cfg.model_config(8, 8), 1), cfg.stage1)
    opt = module.configure_optimizers()
    assert isinstance(opt, torch.optim.AdamW)
    assert opt.defaults["lr"] == 1e-4
    assert sum(p.numel() for g in opt.param_groups for p in g["params"]) == sum(
        p.numel() for p in module.vqvae.parameters()
    )


def test_stage2_optimizer_is_adam_on_the_sie_encoder_only(prior):
    cfg = load_train_config(CONFIGS / "paper.yaml", [*TINY, "features.backbone=null"])
    model = build_stage2_model(cfg, prior, 8, 4)
    module = Stage2Module(model, cfg.stage2, _meta(model.cfg, 2))
    opt = module.configure_optimizers()
    assert type(opt) is torch.optim.Adam
    assert (opt.defaults["lr"], opt.defaults["betas"], opt.defaults["eps"]) == (
        1e-5,
        (0.9, 0.98),
        1e-9,
    )
    in_opt = {id(p) for g in opt.param_groups for p in g["params"]}
    assert in_opt == {id(p) for p in model.sie.parameters()}
    assert not any(p.requires_grad for p in model.prior.parameters())


def test_stage1_trains_initializes_the_codebook_and_keeps_best_and_last(tmp_path, make_items):
    _, module, result = _stage1(tmp_path, make_items, ["stage1.max_epochs=3", "stage1.lr=1e-3"])
    losses = _val_losses(result.out_dir)
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert bool(module.codebook_initialized)
    assert result.best.name == "best.ckpt" and result.last.name == "last.ckpt"
    best = load_checkpoint(result.best, stage=1)
    assert best.epoch == min(range(3), key=lambda e: losses[e])
    assert load_checkpoint(result.last).epoch == 2
    rows = _metrics(result.out_dir)
    usage = [r for r in rows if r.get("train/perplexity")]
    assert len(usage) == 3 and all(float(r["train/perplexity"]) > 1 for r in usage)
    # codes unused in an epoch are restarted (all of them, when the batch has enough rows)
    first = usage[0]
    assert float(first["train/restarted_codes"]) == float(first["train/dead_codes"])


def test_early_stopping_stops_after_patience_and_keeps_the_best(tmp_path, make_items):
    # lr 0 and no code restarts: validation loss never improves after the first epoch.
    extra = ["stage1.lr=0", "stage1.patience=2", "stage1.max_epochs=20"]
    _, _, result = _stage1(tmp_path, make_items, [*extra, "stage1.restart_dead_codes=false"])
    assert result.stopped_early
    assert result.epochs == 3  # epoch 0, then 2 epochs without improvement
    assert load_checkpoint(result.best).epoch == 0


def test_keep_last_makes_the_final_epoch_the_model(tmp_path, make_items):
    # lr 0: the best validation loss stays at epoch 0, the last epoch is 2
    extra = ["stage1.lr=0", "stage1.patience=5", "stage1.max_epochs=3", "stage1.keep=last"]
    _, _, result = _stage1(tmp_path, make_items, [*extra, "stage1.restart_dead_codes=false"])
    assert load_checkpoint(result.best).epoch == 0
    assert load_checkpoint(result.model_file).epoch == 2


def test_warmup_trains_with_its_loss_and_validates_with_the_configured_one(tmp_path, make_items):
    extra = ["stage1.max_epochs=2", "stage1.lr=1e-3"]
    l2 = ["model.vqvae.reconstruction_loss=l2"]
    warm = ["stage1.warmup_loss=l2", "stage1.warmup_epochs=2"]
    _, a, ra = _stage1(tmp_path / "a", make_items, [*extra, *l2])
    _, b, rb = _stage1(tmp_path / "b", make_items, [*extra, *warm])
    _, c, _ = _stage1(tmp_path / "c", make_items, extra)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)  # trained on squared error throughout
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)
    # same weights, validated with L1 instead of squared error: errors under 1 weigh more
    la, lb = _val_losses(ra.out_dir), _val_losses(rb.out_dir)
    assert len(la) == len(lb) == 2 and all(vb > va for va, vb in zip(la, lb, strict=True))


def test_early_stopping_waits_for_the_warmup_to_end(tmp_path, make_items):
    extra = ["stage1.lr=0", "stage1.patience=2", "stage1.max_epochs=20"]
    warm = ["stage1.warmup_loss=l2", "stage1.warmup_epochs=4", "stage1.restart_dead_codes=false"]
    _, _, result = _stage1(tmp_path, make_items, [*extra, *warm])
    assert result.stopped_early
    assert result.epochs == 5  # 4 warm-up epochs and one of the configured loss


def test_seeded_cpu_training_is_deterministic(tmp_path, make_items):
    extra = ["stage1.max_epochs=2", "stage1.lr=1e-3"]
    _, a, _ = _stage1(tmp_path / "a", make_items, extra, seed=3)
    _, b, _ = _stage1(tmp_path / "b", make_items, extra, seed=3)
    _, c, _ = _stage1(tmp_path / "c", make_items, extra, seed=4)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_table2_variant_trains_in_stage2(tmp_path, prior, make_items, variant):
    cfg = load_train_config(
        CONFIGS / f"ablation_{variant}.yaml",
        [*TINY, f"out={tmp_path}", "features.backbone=null", "stage2.max_epochs=1"],
    )
    emotion_dim = 4 if cfg.features.emotion is not None else None
    model = build_stage2_model(cfg, prior, 8, emotion_dim)
    prior_before = {k: v.clone() for k, v in model.prior.state_dict().items()}
    sie_before = {k: v.clone() for k, v in model.sie.state_dict().items()}
    module = Stage2Module(model, cfg.stage2, _meta(model.cfg, 2))
    dm = ClipDataModule(make_items(6, 0), make_items(3, 1), 3)
    result = fit_stage(2, module, dm, cfg, tmp_path / "stage2", progress=False, echo=print)
    assert result.best_val_loss is not None
    assert all(torch.equal(v, model.prior.state_dict()[k]) for k, v in prior_before.items())
    assert any(not torch.equal(v, model.sie.state_dict()[k]) for k, v in sie_before.items())
    loaded = load_checkpoint(result.model_file, stage=2)
    assert loaded.model_config.sie.variant == variant
    rebuilt = loaded.build_model()
    assert all(torch.equal(v, rebuilt.state_dict()[k]) for k, v in model.state_dict().items())


class _RecordWeights(L.Callback):
    """The SIE-Encoder's weights after every optimizer step, as trained (not averaged)."""

    def __init__(self) -> None:
        self.steps: list[dict[str, torch.Tensor]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        sie = pl_module.model.sie.state_dict()
        self.steps.append({k: v.detach().clone() for k, v in sie.items()})


def test_ema_decay_makes_the_model_the_moving_average_of_the_weights(tmp_path, prior, make_items):
    sets = [*TINY, f"out={tmp_path}", "features.backbone=null", "stage2.max_epochs=2",
            "stage2.lr=1e-3", "stage2.keep=last", "stage2.ema_decay=0.6"]  # fmt: skip
    cfg = load_train_config(CONFIGS / "ablation_hifb.yaml", sets)
    model = build_stage2_model(cfg, prior, 8, 4)
    prior_before = {k: v.clone() for k, v in model.prior.state_dict().items()}
    module = Stage2Module(model, cfg.stage2, _meta(model.cfg, 2))
    record = _RecordWeights()
    dm = ClipDataModule(make_items(6, 0), make_items(3, 1), 3)
    result = fit_stage(2, module, dm, cfg, tmp_path / "stage2", progress=False,
                       echo=lambda m: None, callbacks=[record])  # fmt: skip
    assert len(record.steps) == 4  # 2 epochs x 2 batches
    expected = dict(record.steps[0])
    for step in record.steps[1:]:
        expected = {k: 0.6 * expected[k] + 0.4 * step[k] for k in expected}
    averaged = load_checkpoint(result.model_file, stage=2).build_model()
    for name, value in averaged.sie.state_dict().items():
        torch.testing.assert_close(value, expected[name], rtol=1e-5, atol=1e-6)
    trained = record.steps[-1]
    assert any(not torch.equal(v, trained[k]) for k, v in averaged.sie.state_dict().items())
    # the frozen prior is not touched by the averaging, to the bit
    assert all(torch.equal(v, averaged.prior.state_dict()[k]) for k, v in prior_before.items())
    # the training checkpoint also keeps the weights as trained, to go on from them
    raw = torch.load(result.last, weights_only=True)["current_model_state"]
    assert all(torch.equal(raw[f"model.sie.{k}"], v) for k, v in trained.items())


def test_model_file_drops_training_state(tmp_path, prior, make_items):
    _, _, result = _stage1(tmp_path, make_items, ["stage1.max_epochs=1"])
    raw = torch.load(result.best, weights_only=True)
    slim = torch.load(result.model_file, weights_only=True)
    assert "optimizer_states" in raw and "optimizer_states" not in slim
    assert slim["lsf"]["scaler"] == raw["lsf"]["scaler"]
    copy = write_model_file(result.best, tmp_path / "copy.ckpt")
    assert load_checkpoint(copy).stage == 1


def test_checkpoint_errors_are_clear(tmp_path, prior):
    with pytest.raises(LsfError, match="not found"):
        load_checkpoint(tmp_path / "none.ckpt")
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"this is not a checkpoint" * 10)
    with pytest.raises(LsfError, match="cannot read checkpoint"):
        load_checkpoint(garbage)
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(prior.path.read_bytes()[:5000])
    with pytest.raises(LsfError, match="cannot read checkpoint"):
        load_checkpoint(truncated)
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(LsfError, match="not an lsf-animation checkpoint"):
        load_checkpoint(foreign)
    with pytest.raises(LsfError, match=r"stage 1 .* checkpoint, but a stage 2"):
        load_checkpoint(prior.path, stage=2)
    with pytest.raises(LsfError, match="stage 2"):
        prior.build_model()
