"""Vertex-space metrics (docs/specification.md §4, ProbTalk3D's definitions) as pure functions on
numpy arrays.

Conventions, shared by every function here:

- Vertices are in metres. A sequence's prediction is ``pred`` of shape (K, T, V, 3) (K samples,
  T frames, V vertices), its ground truth ``gt`` is (T, V, 3), its neutral ``template`` (V, 3).
- Region index arrays (``lips`` for LVE/MEE/CE, ``upper_face`` for FDD) are 1-D integer vertex
  indices, e.g. ``FaceModel.regions["lips"]``.
- Distances (MVE, Diversity) are in metres (``_m``); squared distances (LVE, MEE, CE, FDD) are in
  square metres (``_m2``). :func:`to_millimetres` converts a result dict to mm / mm².
- "Averages over frames pool all frames of all test sequences": MVE, LVE, MEE and CE are
  frame-weighted over the whole test set (a 200-frame sequence counts twice as much as a 100-frame
  one). FDD and Diversity are per-sequence values averaged over sequences.

:class:`MetricAccumulator` adds sequences one at a time (memory bounded by one sequence) and
:func:`compute_metrics` does the same computation on lists of sequences; both give the same dict.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lsf_animation.errors import LsfError

METRIC_KEYS = ("mve_m", "lve_m2", "mee_m2", "ce_m2", "fdd_m2", "fdd_abs_m2", "diversity_m")


# --- validation -----------------------------------------------------------------------------


def _as_float(array: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(array)
    if not np.issubdtype(array.dtype, np.number):
        raise LsfError(f"{name} must be a numeric array of vertex positions, not {array.dtype}")
    array = array.astype(np.float64, copy=False)
    if not np.all(np.isfinite(array)):
        raise LsfError(f"{name} contains NaN or infinite values; check the decoded vertices")
    return array


def _check_vertices(array: np.ndarray, name: str, ndim: int, layout: str) -> np.ndarray:
    array = _as_float(array, name)
    if array.ndim != ndim or array.shape[-1] != 3:
        raise LsfError(f"{name} must have shape {layout}, got {array.shape}")
    if array.size == 0:
        raise LsfError(f"{name} is empty (shape {array.shape}); it needs at least one frame")
    return array


def _check_region(indices: np.ndarray, name: str, num_vertices: int | None = None) -> np.ndarray:
    indices = np.asarray(indices)
    if indices.ndim != 1 or indices.size == 0 or not np.issubdtype(indices.dtype, np.integer):
        raise LsfError(
            f"region {name!r} must be a non-empty 1-D array of integer vertex indices, "
            f"got shape {indices.shape} dtype {indices.dtype}; take it from FaceModel.regions"
        )
    if indices.min() < 0 or (num_vertices is not None and indices.max() >= num_vertices):
        raise LsfError(
            f"region {name!r} has vertex indices outside [0, {num_vertices}) "
            f"(min {indices.min()}, max {indices.max()}); it belongs to a different face model"
        )
    return indices.astype(np.int64, copy=False)


def _check_sequence(
    pred: np.ndarray, gt: np.ndarray, template: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pred = _check_vertices(pred, "pred", 4, "(K samples, T frames, V vertices, 3)")
    gt = _check_vertices(gt, "gt", 3, "(T frames, V vertices, 3)")
    if pred.shape[1:] != gt.shape:
        raise LsfError(
            f"pred {pred.shape} and gt {gt.shape} disagree: pred must be (K, T, V, 3) with the "
            "ground truth's T frames and V vertices"
        )
    template = _check_vertices(template, "template", 2, "(V vertices, 3)")
    if template.shape[0] != gt.shape[1]:
        raise LsfError(
            f"template has {template.shape[0]} vertices but the sequence has {gt.shape[1]}"
        )
    return pred, gt, template


def _check_pairable(num_samples: int) -> None:
    if num_samples < 2 or num_samples % 2:
        raise LsfError(
            f"Diversity pairs the samples, so it needs an even number of at least 2 samples; "
            f"got {num_samples}. Draw an even number of samples (the paper uses --samples 10)"
        )


# --- per-sequence building blocks -------------------------------------------------------------


def vertex_error_per_frame_m(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Mean over all vertices of the L2 distance, per frame.

    Args:
        pred: (T, V, 3) predicted vertices, metres.
        gt: (T, V, 3) ground-truth vertices, metres.
    Returns:
        (T,) metres.
    """
    return np.linalg.norm(np.asarray(pred) - np.asarray(gt), axis=-1).mean(axis=-1)


def lip_error_per_frame_m2(pred: np.ndarray, gt: np.ndarray, lips: np.ndarray) -> np.ndarray:
    """Max over lip vertices of the squared L2 distance, per frame (the LVE before averaging).

    Args:
        pred: (..., T, V, 3) predicted vertices, metres; leading axes (e.g. samples) are kept.
        gt: (T, V, 3) ground-truth vertices, metres.
        lips: (L,) lip vertex indices.
    Returns:
        (..., T) square metres.
    """
    diff = np.asarray(pred)[..., lips, :] - np.asarray(gt)[..., lips, :]
    return np.square(diff).sum(axis=-1).max(axis=-1)


def upper_face_dynamics_m2(
    vertices: np.ndarray, template: np.ndarray, upper_face: np.ndarray
) -> float:
    """Std over time of ‖v − template‖² per upper-face vertex, averaged over those vertices.

    Args:
        vertices: (T, V, 3) metres.
        template: (V, 3) neutral face, metres.
        upper_face: (U,) upper-face vertex indices.
    Returns:
        Square metres (population std, ddof = 0, as numpy's default).
    """
    offsets = np.asarray(vertices)[:, upper_face] - np.asarray(template)[upper_face]
    return float(np.square(offsets).sum(axis=-1).std(axis=0).mean())


def fdd_sequence_m2(
    pred: np.ndarray, gt: np.ndarray, template: np.ndarray, upper_face: np.ndarray
) -> float:
    """Signed upper-face dynamics deviation of one sequence: ground truth minus prediction.

    Positive when the ground truth's upper face moves more than the prediction's.

    Args:
        pred: (T, V, 3) predicted vertices (sample 0), metres.
        gt: (T, V, 3) ground-truth vertices, metres.
        template: (V, 3) neutral face, metres.
        upper_face: (U,) upper-face vertex indices.
    Returns:
        Square metres.
    """
    return upper_face_dynamics_m2(gt, template, upper_face) - upper_face_dynamics_m2(
        pred, template, upper_face
    )


def diversity_sequence_m(samples: np.ndarray, rng: np.random.Generator) -> float:
    """Mean L2 distance between randomly paired samples of one sequence.

    The K samples are shuffled with ``rng`` into K/2 disjoint pairs; each pair's mean L2 distance
    over frames and vertices is averaged over the pairs.

    Args:
        samples: (K, T, V, 3) metres, K even and >= 2 (the paper uses K = 10).
        rng: the generator that draws the shuffle (advanced by one permutation).
    Returns:
        Metres.
    """
    samples = np.asarray(samples)
    _check_pairable(samples.shape[0])
    pairs = rng.permutation(samples.shape[0]).reshape(-1, 2)
    per_pair = [
        np.linalg.norm(samples[a] - samples[b], axis=-1).mean(dtype=np.float64) for a, b in pairs
    ]
    return float(np.mean(per_pair))


# --- pooling over the test set ----------------------------------------------------------------


class MetricAccumulator:
    """Adds test sequences one at a time and reports the pooled metrics.

    Memory is bounded by one sequence: only running sums are kept.

    Args:
        lips: (L,) lip vertex indices (LVE, MEE, CE).
        upper_face: (U,) upper-face vertex indices (FDD).
        seed: seeds the generator that pairs samples for Diversity; the same seed and sequence
            order give the same result.

    With K = 1 sample per sequence, MEE and CE equal LVE and Diversity is NaN (undefined).
    """

    def __init__(self, lips: np.ndarray, upper_face: np.ndarray, seed: int = 0) -> None:
        self.lips = _check_region(lips, "lips")
        self.upper_face = _check_region(upper_face, "upper_face")
        self._rng = np.random.default_rng(seed)
        self._num_samples: int | None = None
        self._num_vertices: int | None = None
        self.num_sequences = 0
        self.num_frames = 0
        self._sum_mve = 0.0
        self._sum_lve = 0.0
        self._sum_mee = 0.0
        self._sum_ce = 0.0
        self._sum_fdd = 0.0
        self._sum_fdd_abs = 0.0
        self._sum_diversity = 0.0

    def add(self, pred: np.ndarray, gt: np.ndarray, template: np.ndarray) -> None:
        """Add one sequence.

        Args:
            pred: (K, T, V, 3) predicted samples, metres (sample 0 is the one for MVE/LVE/FDD).
            gt: (T, V, 3) ground truth, metres.
            template: (V, 3) the neutral face the FDD offsets are measured from, metres.
        """
        pred, gt, template = _check_sequence(pred, gt, template)
        num_samples, num_frames, num_vertices, _ = pred.shape
        if self._num_samples is None:
            _check_region(self.lips, "lips", num_vertices)
            _check_region(self.upper_face, "upper_face", num_vertices)
            self._num_samples, self._num_vertices = num_samples, num_vertices
        elif (num_samples, num_vertices) != (self._num_samples, self._num_vertices):
            raise LsfError(
                f"sequence {self.num_sequences} has {num_samples} samples of {num_vertices} "
                f"vertices, but earlier ones had {self._num_samples} of {self._num_vertices}; "
                "evaluate every sequence with the same --samples and face model"
            )
        if num_samples > 1:
            _check_pairable(num_samples)  # K = 1 is allowed (Diversity NaN); odd K > 1 is not

        lve_per_sample = lip_error_per_frame_m2(pred, gt, self.lips)  # (K, T)
        self._sum_mve += float(vertex_error_per_frame_m(pred[0], gt).sum())
        self._sum_lve += float(lve_per_sample[0].sum())
        # MEE needs the sample mean only on the lips: average those vertices alone.
        mean_lips = pred[:, :, self.lips].mean(axis=0)
        all_lips = np.arange(self.lips.size)
        self._sum_mee += float(lip_error_per_frame_m2(mean_lips, gt[:, self.lips], all_lips).sum())
        self._sum_ce += float(lve_per_sample.sum(axis=1).min())
        fdd = fdd_sequence_m2(pred[0], gt, template, self.upper_face)
        self._sum_fdd += fdd
        self._sum_fdd_abs += abs(fdd)
        if num_samples >= 2:
            self._sum_diversity += diversity_sequence_m(pred, self._rng)
        self.num_sequences += 1
        self.num_frames += num_frames

    def result(self) -> dict[str, float]:
        """The pooled metrics: keys :data:`METRIC_KEYS` (metres / square metres), plus
        ``num_sequences`` and ``num_frames``.

        ``fdd_abs_m2`` is the mean over sequences of the per-sequence |FDD| (so under- and
        over-animated sequences do not cancel out as they can in the signed ``fdd_m2``).
        """
        if self.num_sequences == 0:
            raise LsfError("no sequences were added to the metric accumulator; the split is empty")
        frames, sequences = self.num_frames, self.num_sequences
        pairs = self._num_samples is not None and self._num_samples >= 2
        diversity = self._sum_diversity / sequences if pairs else float("nan")
        return {
            "mve_m": self._sum_mve / frames,
            "lve_m2": self._sum_lve / frames,
            "mee_m2": self._sum_mee / frames,
            "ce_m2": self._sum_ce / frames,
            "fdd_m2": self._sum_fdd / sequences,
            "fdd_abs_m2": self._sum_fdd_abs / sequences,
            "diversity_m": diversity,
            "num_sequences": sequences,
            "num_frames": frames,
        }


def compute_metrics(
    preds: Sequence[np.ndarray],
    gts: Sequence[np.ndarray],
    templates: Sequence[np.ndarray] | np.ndarray,
    lips: np.ndarray,
    upper_face: np.ndarray,
    seed: int = 0,
) -> dict[str, float]:
    """All metrics over a list of sequences at once (same values as :class:`MetricAccumulator`).

    Args:
        preds: per sequence (K, T_i, V, 3) predicted samples, metres.
        gts: per sequence (T_i, V, 3) ground truth, metres.
        templates: per sequence (V, 3) neutral faces, or one (V, 3) array shared by all
            (zero-shape mode).
        lips, upper_face: region vertex indices.
        seed: seeds the Diversity pairing.
    Returns:
        The dict described in :meth:`MetricAccumulator.result`.
    """
    if len(preds) != len(gts):
        raise LsfError(f"got {len(preds)} predictions but {len(gts)} ground-truth sequences")
    if len(preds) == 0:
        raise LsfError("no sequences to evaluate; the split is empty")
    if isinstance(templates, np.ndarray) and templates.ndim == 2:
        templates = [templates] * len(preds)
    if len(templates) != len(preds):
        raise LsfError(f"got {len(templates)} templates for {len(preds)} sequences")
    lips = _check_region(lips, "lips")
    upper_face = _check_region(upper_face, "upper_face")
    checked = [_check_sequence(p, g, t) for p, g, t in zip(preds, gts, templates, strict=True)]
    sample_counts = {p.shape[0] for p, _, _ in checked}
    vertex_counts = {g.shape[1] for _, g, _ in checked}
    if len(sample_counts) > 1 or len(vertex_counts) > 1:
        raise LsfError(
            f"sequences differ in sample count {sorted(sample_counts)} or vertex count "
            f"{sorted(vertex_counts)}; evaluate every sequence with the same settings"
        )
    num_samples, num_vertices = sample_counts.pop(), vertex_counts.pop()
    _check_region(lips, "lips", num_vertices)
    _check_region(upper_face, "upper_face", num_vertices)

    # Frame-pooled metrics: concatenate the per-frame values of all sequences, then average.
    mve = np.concatenate([vertex_error_per_frame_m(p[0], g) for p, g, _ in checked])
    lve_k = [lip_error_per_frame_m2(p, g, lips) for p, g, _ in checked]  # each (K, T_i)
    lve = np.concatenate([per_sample[0] for per_sample in lve_k])
    mee = np.concatenate([lip_error_per_frame_m2(p.mean(axis=0), g, lips) for p, g, _ in checked])
    best = [per_sample[np.argmin(per_sample.sum(axis=1))] for per_sample in lve_k]
    ce = np.concatenate(best)
    fdd = np.array([fdd_sequence_m2(p[0], g, t, upper_face) for p, g, t in checked])
    if num_samples >= 2:
        rng = np.random.default_rng(seed)
        diversity = float(np.mean([diversity_sequence_m(p, rng) for p, _, _ in checked]))
    else:
        diversity = float("nan")
    return {
        "mve_m": float(mve.mean()),
        "lve_m2": float(lve.mean()),
        "mee_m2": float(mee.mean()),
        "ce_m2": float(ce.mean()),
        "fdd_m2": float(fdd.mean()),
        "fdd_abs_m2": float(np.abs(fdd).mean()),
        "diversity_m": diversity,
        "num_sequences": len(checked),
        "num_frames": int(mve.size),
    }


def to_millimetres(metrics: dict[str, float]) -> dict[str, float]:
    """The same values in millimetres: ``*_m`` keys become ``*_mm`` (x 1e3) and ``*_m2`` keys
    become ``*_mm2`` (x 1e6); other keys (counts) are copied unchanged."""
    converted: dict[str, float] = {}
    for key, value in metrics.items():
        if key.endswith("_m2"):
            converted[key[:-3] + "_mm2"] = value * 1e6
        elif key.endswith("_m"):
            converted[key[:-2] + "_mm"] = value * 1e3
        else:
            converted[key] = value
    return converted
