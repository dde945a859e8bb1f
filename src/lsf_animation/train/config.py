"""Typed training configuration, loaded from YAML with per-run overrides.

A config file (configs/paper.yaml, configs/demo.yaml, configs/ablation_<variant>.yaml) has the
sections of `TrainConfig`; any key left out keeps its default. A file may start from another
with `extends: other.yaml` (relative to its own folder): the two are merged key by key, the
extending file winning. Per-run overrides are dotted keys with YAML values, applied last:
`["stage2.lr=5e-6", "data.batch_size=4", "model.sie.num_layers=6"]`.

Unknown keys and wrongly typed values raise `LsfError` naming the key and the file, so a typo
never silently trains the wrong model.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from lsf_animation.constants import MAX_TRAIN_SEED
from lsf_animation.data.clips import Layout
from lsf_animation.data.length_match import LENGTH_MATCH
from lsf_animation.data.splits import SPLIT_NAMES, STAGE1_PROTOCOLS
from lsf_animation.errors import LsfError
from lsf_animation.io.typed_dict import from_dict, to_dict
from lsf_animation.model.config import RECONSTRUCTION_LOSSES, VARIANTS, ModelConfig, preset
from lsf_animation.model.variants import USES_EMOTION_FEATURES

BACKBONES = ("hubert-upper",)


@dataclass
class ModelSection:
    """Which model: a preset's sizes, a Table 2 variant and per-key overrides.

    Attributes:
        preset: "paper" or "demo" (`lsf_animation.model.config.preset`).
        variant: Table 2 row (`sie.variant`).
        vqvae, sie: keys of `VQVAEConfig` / `SIEConfig` replacing the preset's values. The
            feature sizes (`sie.motion_dim`, `sie.emotion_dim`) come from the extractors.
    """

    preset: str = "demo"
    variant: str = "hifb"
    vqvae: dict[str, Any] = field(default_factory=dict)
    sie: dict[str, Any] = field(default_factory=dict)


@dataclass
class FeatureSpec:
    """One speech feature: an extractor name (`audio.features.get_extractor`) and its options."""

    name: str = "offline-motion"
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class FeaturesSection:
    """The speech features of stage 2, read from the feature cache (`lsf-animation extract`).

    Attributes:
        motion: the motion stream (paper: "hubert-frozen", HuBERT's frozen front).
        emotion: the emotion stream (paper: "emotion2vec"); None for variants that read none.
        backbone: trainable module run on the cached motion features inside the model:
            "hubert-upper" = HuBERT's layers after the frozen ones (needs motion
            "hubert-frozen"); None = the features go straight into the SIE-Encoder.
        cache: feature cache directory; None = `audio.cache.default_cache_dir()`.
    """

    motion: FeatureSpec = field(default_factory=FeatureSpec)
    emotion: FeatureSpec | None = field(default_factory=lambda: FeatureSpec(name="offline-prosody"))
    backbone: str | None = None
    cache: str | None = None

    def streams(self) -> list[FeatureSpec]:
        """The motion stream and, when there is one, the emotion stream."""
        return [s for s in (self.motion, self.emotion) if s is not None]

    def extract_options(self) -> dict[str, dict[str, Any]]:
        """Per-feature extractor options, as `audio.extract.extract_corpus` takes them."""
        return {s.name: dict(s.options or {}) for s in self.streams()}


@dataclass
class DataSection:
    """The corpus and how it is split and batched.

    Attributes:
        root: corpus root (3DMEAD or ProbTalk3D layout, or the synthetic corpus).
        layout: "auto", "mead" or "probtalk3d".
        split: "synthetic" (the corpus's splits.json), "lsf" (the paper's stage-2 split),
            "emote" (EMOTE's identity split) or "probtalk3d" (sentence split).
        stage1_protocol: "stage2-train" (stage 1 sees the stage-2 training speakers only) or
            "release" (the authors' 32 speakers, which include the stage-2 test speakers).
        batch_size: clips per batch (whole clips, padded; the release used 1).
        crop: random crops of at most this many 25 fps frames for training; None = whole clips.
        num_workers: DataLoader worker processes.
        preload: read all motion and features into memory before training (small corpora).
        length_match: "trim" (cut features and motion to 2:1 lengths) or "interpolate"
            (resample them, as the authors' release does; `lsf_animation.data.length_match`).
    """

    root: str | None = None
    layout: str = "auto"
    split: str = "synthetic"
    stage1_protocol: str = "stage2-train"
    batch_size: int = 8
    crop: int | None = None
    num_workers: int = 0
    preload: bool = False
    length_match: str = "trim"


@dataclass
class StageSection:
    """Optimizer and stopping of one stage.

    Attributes:
        optimizer: "adamw" or "adam".
        lr, betas, eps, weight_decay: optimizer settings.
        max_epochs: upper bound on epochs.
        patience: early stopping: epochs without a validation-loss improvement before stopping.
        min_delta: smallest decrease that counts as an improvement.
        gradient_clip: clip the gradient norm to this value; None = no clipping.
        batch_size: replaces `data.batch_size` for this stage when set.
        keep: which epoch becomes the stage's model.ckpt: "best" (lowest validation loss) or
            "last" (the final one; pair it with a patience of at least max_epochs).
        ema_decay: keep an exponential moving average of the weights, updated after every
            optimizer step with this decay (Lightning's `WeightAveraging`); validation, the
            checkpoints and model.ckpt then hold the average (training goes on from the raw
            weights, which the checkpoints also keep). None = the weights as trained.
    """

    optimizer: str = "adam"
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    max_epochs: int = 100
    patience: int = 5
    min_delta: float = 0.0
    gradient_clip: float | None = None
    batch_size: int | None = None
    keep: str = "best"
    ema_decay: float | None = None


@dataclass
class Stage1Section(StageSection):
    """Stage 1 (motion prior): AdamW, lr 1e-4 (docs/specification.md §2).

    Attributes:
        restart_dead_codes: at each epoch end, codes no training frame chose in that epoch are
            moved onto latents of the last batch (keeps the codebook in use).
        warmup_loss: the reconstruction error ("l1" or "l2") the first `warmup_epochs` epochs
            train with instead of `vqvae.reconstruction_loss`; None = no warm-up. Validation
            (early stopping, the best epoch) always uses `vqvae.reconstruction_loss`, and early
            stopping waits until the warm-up is over; the best epoch can still fall in the
            warm-up (`keep: last` keeps the final one).
        warmup_epochs: how many epochs the warm-up lasts.
    """

    optimizer: str = "adamw"
    lr: float = 1e-4
    weight_decay: float = 0.01
    restart_dead_codes: bool = True
    warmup_loss: str | None = None
    warmup_epochs: int = 0


@dataclass
class Stage2Section(StageSection):
    """Stage 2 (SIE-Encoder, prior frozen): Adam, lr 1e-5, betas (0.9, 0.98), eps 1e-9.

    Attributes:
        prior: the stage-1 checkpoint; None = `<out>/stage1/model.ckpt`.
    """

    optimizer: str = "adam"
    lr: float = 1e-5
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-9
    prior: str | None = None


@dataclass
class TrainerSection:
    """Lightning Trainer settings.

    Attributes:
        seed: seeds Python, numpy and torch (and DataLoader workers).
        deterministic: "auto" = deterministic algorithms on CPU, warn-only on GPU (some CUDA
            kernels have no deterministic form); or true / false.
        accelerator: "auto", "cpu", "gpu", ...
        devices: devices per node ("auto" or a number).
        num_nodes: machines.
        strategy: "auto", "ddp", "ddp_spawn", "fsdp", ...
        precision: Lightning precision ("32-true", "bf16-mixed", ...).
        log_every_n_steps: how often step metrics are logged.
        sanity_val_steps: validation batches run before training to catch errors early.
        num_threads: torch CPU threads; None = torch's default.
    """

    seed: int = 0
    deterministic: bool | Literal["auto"] = "auto"
    accelerator: str = "auto"
    devices: int | str = 1
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str = "32-true"
    log_every_n_steps: int = 10
    sanity_val_steps: int = 1
    num_threads: int | None = None


@dataclass
class TrainConfig:
    """Everything a training run needs besides the data itself.

    Attributes:
        name: run name (logs, checkpoint metadata).
        out: output folder; stage N writes `<out>/stage<N>/`.
    """

    name: str = "run"
    out: str = "runs/run"
    model: ModelSection = field(default_factory=ModelSection)
    features: FeaturesSection = field(default_factory=FeaturesSection)
    data: DataSection = field(default_factory=DataSection)
    stage1: Stage1Section = field(default_factory=Stage1Section)
    stage2: Stage2Section = field(default_factory=Stage2Section)
    trainer: TrainerSection = field(default_factory=TrainerSection)

    def validate(self) -> TrainConfig:
        """Check values that types alone do not; return self. Raises LsfError."""
        if self.model.variant not in VARIANTS:
            raise LsfError(
                f"model.variant {self.model.variant!r} is not known; use one of "
                f"{', '.join(VARIANTS)}."
            )
        if self.data.split not in SPLIT_NAMES:
            raise LsfError(
                f"data.split must be one of {', '.join(SPLIT_NAMES)}, got {self.data.split!r}"
            )
        if self.data.length_match not in LENGTH_MATCH:
            raise LsfError(
                f"data.length_match must be one of {', '.join(LENGTH_MATCH)}, got "
                f"{self.data.length_match!r}"
            )
        if self.data.stage1_protocol not in STAGE1_PROTOCOLS:
            raise LsfError(
                f"data.stage1_protocol must be one of {', '.join(STAGE1_PROTOCOLS)}, got "
                f"{self.data.stage1_protocol!r}"
            )
        if self.data.layout not in ("auto", *get_args(Layout)):
            raise LsfError(
                f"data.layout must be auto, mead or probtalk3d, got {self.data.layout!r}"
            )
        if not 0 <= self.trainer.seed <= MAX_TRAIN_SEED:
            raise LsfError(
                f"trainer.seed must be a whole number from 0 to {MAX_TRAIN_SEED}, got "
                f"{self.trainer.seed}"
            )
        if self.data.crop is not None and self.data.crop < 2:
            raise LsfError(f"data.crop must be at least 2 frames or null, got {self.data.crop}")
        for name, stage in (("stage1", self.stage1), ("stage2", self.stage2)):
            if stage.optimizer not in ("adam", "adamw"):
                raise LsfError(f"{name}.optimizer must be adam or adamw, got {stage.optimizer!r}")
            if stage.lr < 0 or stage.max_epochs < 1 or stage.patience < 0:
                raise LsfError(f"{name}: lr must be >= 0, max_epochs >= 1 and patience >= 0")
            if stage.keep not in ("best", "last"):
                raise LsfError(f"{name}.keep must be best or last, got {stage.keep!r}")
            if stage.ema_decay is not None and not 0 < stage.ema_decay < 1:
                raise LsfError(
                    f"{name}.ema_decay must be null or between 0 and 1 (e.g. 0.999), got "
                    f"{stage.ema_decay}"
                )
            batch = stage.batch_size or self.data.batch_size
            if batch < 1:
                raise LsfError(f"{name}: the batch size must be at least 1, got {batch}")
        warmup = self.stage1.warmup_loss
        if warmup is not None and warmup not in RECONSTRUCTION_LOSSES:
            raise LsfError(
                f"stage1.warmup_loss must be null or one of {', '.join(RECONSTRUCTION_LOSSES)}, "
                f"got {warmup!r}"
            )
        if self.stage1.warmup_epochs < 0:
            raise LsfError(f"stage1.warmup_epochs must be >= 0, got {self.stage1.warmup_epochs}")
        if self.features.backbone is not None:
            if self.features.backbone not in BACKBONES:
                raise LsfError(
                    f"features.backbone must be null or one of {', '.join(BACKBONES)}, got "
                    f"{self.features.backbone!r}"
                )
            if self.features.motion.name != "hubert-frozen":
                raise LsfError(
                    "features.backbone hubert-upper runs HuBERT's upper layers on the cached "
                    "output of its frozen front: set features.motion.name to hubert-frozen"
                )
        if self.model.variant in USES_EMOTION_FEATURES and self.features.emotion is None:
            raise LsfError(
                f"model.variant {self.model.variant} reads the emotion stream: set "
                "features.emotion (e.g. emotion2vec or offline-prosody)"
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (tuples as lists), e.g. for a checkpoint or a YAML dump."""
        return to_dict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "config") -> TrainConfig:
        """Inverse of `to_dict`; unknown keys and bad types raise LsfError naming `source`."""
        return from_dict(cls, d, source).validate()

    def model_config(self, motion_dim: int | None, emotion_dim: int | None) -> ModelConfig:
        """The `ModelConfig` of this run: the preset, the variant, the overrides and the
        extractors' feature sizes."""
        base = preset(self.model.preset, self.model.variant).to_dict()
        for section in ("vqvae", "sie"):
            base[section].update(copy.deepcopy(getattr(self.model, section)))
        for key, dim in (("motion_dim", motion_dim), ("emotion_dim", emotion_dim)):
            if dim is None:
                continue
            given = self.model.sie.get(key)
            if given is not None and int(given) != dim:
                raise LsfError(
                    f"model.sie.{key} is {given} but the configured feature has {dim} "
                    f"dimensions; remove model.sie.{key} (it is taken from the feature)"
                )
            base["sie"][key] = dim
        base["sie"]["variant"] = self.model.variant
        base["name"] = self.model.preset
        return ModelConfig.from_dict(base)


PACKAGED_CONFIGS = Path(__file__).resolve().parents[1] / "configs"
"""The shipped configs (demo, paper, ablation_<variant>), also reachable by bare name."""


def resolve_config_path(path: str | Path) -> Path:
    """`path` itself when it exists, else a shipped config named like it ("demo", "paper.yaml",
    "ablation_hifb", or "configs/paper.yaml" as the README writes it, from any folder), so an
    installed package needs no checkout; else `path` (reported missing)."""
    given = Path(path)
    if given.exists() or given.parent not in (Path("."), Path("configs")):
        return given
    packaged = PACKAGED_CONFIGS / given.with_suffix(".yaml").name
    return packaged if packaged.is_file() else given


def load_train_config(
    path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()
) -> TrainConfig:
    """Read a YAML config (following `extends:`), apply dotted overrides and validate.

    Args:
        path: the YAML file, or a shipped config's name ("demo", "paper", "ablation_hifb");
            None = all defaults.
        overrides: "dotted.key=value" strings; values are parsed as YAML ("1e-5" is a number).

    Raises:
        LsfError: the file is missing or not valid YAML, an override is malformed, a key is
            unknown or a value has the wrong type.
    """
    if path is not None:
        path = resolve_config_path(path)
    raw: dict[str, Any] = {} if path is None else _read_yaml(path, seen=())
    source = "defaults" if path is None else str(path)
    for item in overrides:
        _apply_override(raw, item)
    if overrides:
        source += " with overrides " + " ".join(overrides)
    return TrainConfig.from_dict(raw, source)


def parse_value(text: str) -> Any:
    """A YAML scalar or flow value: "5" -> 5, "1e-5" -> 1e-05, "[0.9, 0.98]" -> list, "null"."""
    import yaml

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str):
        try:
            return float(value)  # YAML 1.1 reads "1e-5" as a string
        except ValueError:
            return value
    return value


def _apply_override(raw: dict[str, Any], item: str) -> None:
    key, sep, text = item.partition("=")
    parts = key.strip().split(".")
    if not sep or not all(parts):
        raise LsfError(f"override {item!r} is not of the form section.key=value")
    node = raw
    for part in parts[:-1]:
        nxt = node.setdefault(part, {})
        if not isinstance(nxt, dict):
            raise LsfError(f"override {item!r}: {part} is not a section")
        node = nxt
    node[parts[-1]] = parse_value(text.strip())


def _read_yaml(path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    import yaml

    path = path.expanduser()
    if not path.is_file():
        shipped = (PACKAGED_CONFIGS / path.with_suffix(".yaml").name).is_file()
        hint = f"--config {path.stem} (the shipped one)" if shipped else "a shipped config name"
        raise LsfError(
            f"config file {path} not found; give a YAML file or {hint} (shipped: demo, paper, "
            "ablation_<variant>)"
        )
    if path.resolve() in seen:
        raise LsfError(f"config file {path} extends itself (through {seen[-1]})")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise LsfError(f"config file {path} is not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise LsfError(f"config file {path} must hold a mapping of sections, not {type(data)}")
    base_name = data.pop("extends", None)
    if base_name is None:
        return data
    base = _read_yaml(path.parent / str(base_name), (*seen, path.resolve()))
    return _merge(base, data)


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out
