"""The evaluation run behind `lsf-animation evaluate`: sample, reconstruct vertices, pool metrics.

For every clip of one part of the checkpoint's split (the test speakers by default), a stage-2
checkpoint draws K motions from the clip's cached speech features; prediction and ground truth
are turned into vertices with the face model (docs/specification.md §4: the 50 expression
coefficients padded with zeros, the jaw as given, every other pose zero) and added to
`eval.metrics.MetricAccumulator`s, one per emotion; the overall result pools them exactly
(frame-weighted MVE/LVE/MEE/CE, sequence-weighted FDD/|FDD|/Diversity).

Shape modes: "zero" (the default, as the paper's release) builds prediction, ground truth and
the FDD template with zero shape; "subject" uses the clip's own shape coefficients for all three.

Runs are deterministic for a seed: each clip's sampling generator is seeded from (seed, clip
position), and the Diversity pairing from the seed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from lsf_animation.checkpoint.encoder_paths import EncoderPaths
from lsf_animation.checkpoint.face_record import check_face
from lsf_animation.checkpoint.features import build_extractors, feature_roles
from lsf_animation.checkpoint.files import Checkpoint, load_checkpoint
from lsf_animation.data.clips import Clip
from lsf_animation.data.corpus import scan_corpus
from lsf_animation.data.dataset import (
    ClipBatch,
    ClipDataset,
    FeatureSource,
    collate_clips,
    speech_batch,
)
from lsf_animation.data.splits import select_clips
from lsf_animation.errors import LsfError
from lsf_animation.eval.metrics import METRIC_KEYS, MetricAccumulator
from lsf_animation.face.flame import FlameLayer, motion_to_vertices
from lsf_animation.face.load import load_face_model
from lsf_animation.face.model import FaceModel
from lsf_animation.model.lsf import LSFModel

SHAPE_MODES = ("zero", "subject")
#: Face used when the checkpoint's training corpus was the synthetic one (made with that face).
SYNTHETIC_SPLIT = "synthetic"

Echo = Callable[[str], None]
#: (model, batch, num_samples, temperature, generator) -> (1, K, T, 53) scaled motion.
Sampler = Callable[[LSFModel, ClipBatch, int, float, torch.Generator], torch.Tensor]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class EvalSettings:
    """What `evaluate` was asked for.

    Attributes:
        data: corpus root.
        split_part: "train", "val" or "test" (of the checkpoint's split).
        samples: K samples per clip (even, or 1: then Diversity is NaN).
        seed: sampling and Diversity-pairing seed.
        temperature: sampling temperature of the codebook softmax.
        face: "builtin", a FLAME file, or None = what the checkpoint's corpus implies.
        shape_mode: "zero" or "subject".
        cache: feature cache directory; None = the one the checkpoint was trained with, else the
            default cache.
        encoders: where the speech encoders are now (replacing the paths stored at training).
    """

    data: Path
    split_part: str = "test"
    samples: int = 10
    seed: int = 0
    temperature: float = 0.2
    face: str | None = None
    shape_mode: str = "zero"
    cache: Path | None = None
    encoders: EncoderPaths | None = None

    def check(self) -> EvalSettings:
        if self.samples < 1 or (self.samples > 1 and self.samples % 2):
            raise LsfError(
                f"--samples {self.samples}: Diversity pairs the samples, so give an even number "
                "(the paper uses 10), or 1 to skip Diversity"
            )
        if self.shape_mode not in SHAPE_MODES:
            raise LsfError(f"--shape-mode must be one of {', '.join(SHAPE_MODES)}")
        if not self.temperature >= 0:
            raise LsfError(f"--temperature must be >= 0, got {self.temperature}")
        if not Path(self.data).expanduser().is_dir():
            raise LsfError(f"--data {self.data} is not a folder; give the corpus root")
        return self


@dataclass
class EvalResult:
    """One checkpoint's evaluation.

    Attributes:
        name: the row name (the model variant).
        checkpoint: its path.
        overall: the pooled metrics (`MetricAccumulator.result()` keys).
        per_emotion: emotion name -> the same dict over that emotion's clips.
    """

    name: str
    checkpoint: Path
    overall: dict[str, float]
    per_emotion: dict[str, dict[str, float]] = field(default_factory=dict)


def combine_results(parts: Sequence[dict[str, float]]) -> dict[str, float]:
    """Pool disjoint groups' results into the result over all of them (frame-weighted MVE, LVE,
    MEE, CE; sequence-weighted FDD, |FDD|, Diversity), as one accumulator over all would."""
    frames = sum(p["num_frames"] for p in parts)
    sequences = sum(p["num_sequences"] for p in parts)
    out: dict[str, float] = {}
    for key in METRIC_KEYS:
        by_frames = key in ("mve_m", "lve_m2", "mee_m2", "ce_m2")
        weight = "num_frames" if by_frames else "num_sequences"
        total = frames if by_frames else sequences
        out[key] = sum(p[key] * p[weight] for p in parts) / total
    out["num_sequences"], out["num_frames"] = sequences, frames
    return out


# -- inputs -------------------------------------------------------------------------------------
def load_eval_checkpoint(path: str | Path) -> Checkpoint:
    """A stage-2 checkpoint (a stage-1 one is refused with what to do)."""
    return load_checkpoint(path, stage=2)


def default_face_spec(checkpoint: Checkpoint) -> str:
    """The face implied by the checkpoint's training corpus: built-in for the synthetic one."""
    split = checkpoint.meta.data.split if checkpoint.meta.data is not None else None
    if split == SYNTHETIC_SPLIT:
        return "builtin"
    raise LsfError(
        f"{checkpoint.path} was trained on a {split!r} split (3DMEAD), whose motion is FLAME "
        "parameters: pass --face PATH to the FLAME model file (with FLAME_masks.pkl or "
        "lve.txt/fdd.txt beside it for the lip and upper-face regions)"
    )


def load_eval_face(spec: str | None, checkpoint: Checkpoint) -> FaceModel:
    """The face model, checked to have the metric regions and enough expression components."""
    face = load_face_model(spec if spec is not None else default_face_spec(checkpoint))
    missing = [r for r in ("lips", "upper_face") if r not in face.regions]
    if missing:
        raise LsfError(
            f"face model {face.name or spec} has no {' / '.join(missing)} vertex region; put "
            "FLAME_masks.pkl (or lve.txt / fdd.txt index lists) beside the model file"
        )
    if face.num_expression < 50:
        raise LsfError(f"face model {face.name or spec} has {face.num_expression} < 50 expressions")
    return check_face(checkpoint.meta.face, face, checkpoint.path)


def feature_sources(
    checkpoint: Checkpoint, cache: Path | None, data: Path, encoders: EncoderPaths | None = None
) -> dict[str, FeatureSource]:
    """The checkpoint's speech-feature streams, read from the cache (never computed), with the
    extractors verified against the fingerprints recorded at training. `cache` None: the cache
    the checkpoint was trained with (else the default cache); `encoders`: where the speech
    encoders are now."""
    records = checkpoint.features
    if records is None:
        raise LsfError(f"{checkpoint.path} names no speech features; it cannot be evaluated")
    roles = feature_roles(checkpoint.model_config)
    extractors = build_extractors(
        records, roles, checkpoint.path, encoders, checkpoint.encoders, checkpoint.meta.backbone
    )
    cache_dir = cache if cache is not None else checkpoint.meta.feature_cache
    return {role: FeatureSource(ex, cache_dir, data) for role, ex in extractors.items()}


def select_eval_clips(
    checkpoint: Checkpoint, data: Path, part: str, echo: Echo = _stderr
) -> list[Clip]:
    """The clips of `part` of the checkpoint's split in the corpus at `data`, in corpus order."""
    info = checkpoint.meta.data
    root = Path(data).expanduser()
    corpus = scan_corpus(root, info.layout if info is not None else "auto")
    if corpus.problems:
        echo(corpus.report())
        echo(f"evaluating the {len(corpus.clips)} clean clips; the problems above are excluded")
    split = info.split if info is not None else SYNTHETIC_SPLIT
    protocol = info.stage1_protocol if info is not None else "stage2-train"
    return select_clips(corpus.clips, split, part, 2, protocol, root)


# -- sampling and vertices ---------------------------------------------------------------------
def model_sampler(
    model: LSFModel, batch: ClipBatch, k: int, temperature: float, generator: torch.Generator
) -> torch.Tensor:
    """`LSFModel.sample` on a collated batch: (B, K, T, 53) scaled motion."""
    motion_features, emotion_features, mask50 = speech_batch(batch, model.sie.uses_emotion_features)
    return model.sample(
        motion_features,
        emotion_features,
        batch["shape"],
        mask=mask50,
        labels=batch.get("labels"),
        num_frames=batch["num_frames"],
        num_samples=k,
        temperature=temperature,
        generator=generator,
    )


def variant_name(checkpoint: Checkpoint) -> str:
    return str(checkpoint.model_config.sie.variant)


def _clip_generator(seed: int, index: int) -> torch.Generator:
    seq = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, index])
    return torch.Generator().manual_seed(int(seq.generate_state(1, np.uint64)[0] >> 1))


def evaluate_checkpoint(
    checkpoint: Checkpoint,
    clips: Sequence[Clip],
    face: FaceModel,
    settings: EvalSettings,
    progress: bool = True,
    sampler: Sampler = model_sampler,
    name: str | None = None,
) -> EvalResult:
    """Sample every clip with the checkpoint's model and pool the metrics.

    Args:
        checkpoint: a stage-2 `Checkpoint`.
        clips: the clips to evaluate (`select_eval_clips`).
        face: the `FaceModel` (its "lips" and "upper_face" regions are the metric regions).
        settings: samples, seed, temperature, shape mode, cache.
        sampler: draws (1, K, T, 53) scaled motion for a one-clip batch (tests replace it).
        name: row name; default the model variant.
    """
    if not clips:
        raise LsfError(f"no clips to evaluate in {settings.data} ({settings.split_part} part)")
    model = checkpoint.build_model()
    scaler = checkpoint.scaler
    sources = feature_sources(checkpoint, settings.cache, Path(settings.data), settings.encoders)
    # scaler=None: items carry the raw ground-truth motion; unseen speakers get label 0 (as in
    # validation) for the variants that read an identity label.
    dataset = ClipDataset(
        clips, None, sources, identities=checkpoint.identity_index, unknown_identity=0
    )
    layer = FlameLayer(face)
    lips, upper = face.regions["lips"], face.regions["upper_face"]
    accumulators: dict[str, MetricAccumulator] = {}
    zero_motion = np.zeros((1, 53), np.float32)
    template_zero = motion_to_vertices(layer, zero_motion, None)[0]
    bar = tqdm(range(len(dataset)), desc=name or variant_name(checkpoint), unit="clip",
               disable=not progress)  # fmt: skip
    for index in bar:
        item = dataset[index]
        batch = collate_clips([item])
        with torch.inference_mode():
            scaled = sampler(
                model, batch, settings.samples, settings.temperature,
                _clip_generator(settings.seed, index),
            )  # fmt: skip
        t = int(item["num_frames"])
        pred = scaler.inverse(scaled[0, :, :t].detach().cpu().numpy().astype(np.float64))
        if pred.shape[0] != settings.samples:
            raise LsfError(f"the sampler returned {pred.shape[0]} samples, not {settings.samples}")
        gt = np.asarray(item["motion"], np.float64)
        shape = np.asarray(item["shape"]) if settings.shape_mode == "subject" else None
        if shape is not None and shape.shape[0] > face.num_shape:
            shape = shape[: face.num_shape]  # coefficients the face has no basis for are unused
        template = template_zero if shape is None else motion_to_vertices(
            layer, zero_motion, shape)[0]  # fmt: skip
        pred_v = motion_to_vertices(layer, pred, shape)
        gt_v = motion_to_vertices(layer, gt, shape)
        emotion = clips[index].emotion_name
        if emotion not in accumulators:
            accumulators[emotion] = MetricAccumulator(lips, upper, settings.seed)
        accumulators[emotion].add(pred_v, gt_v, template)
    per_emotion = {e: accumulators[e].result() for e in sorted(accumulators)}
    overall = combine_results(list(per_emotion.values()))
    return EvalResult(name or variant_name(checkpoint), checkpoint.path, overall, per_emotion)


def run_evaluation(
    checkpoint_path: str | Path,
    settings: EvalSettings,
    ablations: Sequence[str | Path] = (),
    progress: bool = True,
    echo: Echo = _stderr,
    sampler: Sampler = model_sampler,
) -> list[EvalResult]:
    """Evaluate the checkpoint (and each ablation checkpoint on the same clips).

    Returns the results, the main checkpoint's first. Rows are named by variant; repeated
    variants get the checkpoint file's parent folders appended to tell them apart.
    """
    settings.check()
    main = load_eval_checkpoint(checkpoint_path)
    others = [load_eval_checkpoint(p) for p in ablations]
    face = load_eval_face(settings.face, main)
    for other in others:
        check_face(other.meta.face, face, other.path)
    echo(
        f"metric regions of {face.name or 'the face'}: lips {len(face.regions['lips'])} "
        f"vertices (LVE), upper face {len(face.regions['upper_face'])} vertices (FDD)"
    )
    clips = select_eval_clips(main, Path(settings.data), settings.split_part, echo)
    checkpoints = [main, *others]
    names = [variant_name(c) for c in checkpoints]
    for i, n in enumerate(names):
        if names.count(n) > 1:
            names[i] = f"{n} ({Path(checkpoints[i].path).parent})"
    return [
        evaluate_checkpoint(c, clips, face, settings, progress, sampler, n)
        for c, n in zip(checkpoints, names, strict=True)
    ]
