"""The paper's metrics (docs/specification.md §4) on tiny hand-built sequences whose
answers can be worked out on paper."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lsf_animation.errors import LsfError
from lsf_animation.eval.metrics import (
    METRIC_KEYS,
    MetricAccumulator,
    compute_metrics,
    diversity_sequence_m,
    fdd_sequence_m2,
    lip_error_per_frame_m2,
    to_millimetres,
    upper_face_dynamics_m2,
    vertex_error_per_frame_m,
)

# A 4-vertex "face": vertices 0, 1 are the lips, 2, 3 the upper face.
V = 4
LIPS = np.array([0, 1])
UPPER = np.array([2, 3])
TEMPLATE = np.zeros((V, 3))


def still(num_frames: int, num_samples: int | None = None) -> np.ndarray:
    """All-zero vertices: (T, V, 3), or (K, T, V, 3) when num_samples is given."""
    shape = (num_frames, V, 3) if num_samples is None else (num_samples, num_frames, V, 3)
    return np.zeros(shape)


def both(preds, gts, templates=TEMPLATE, seed=0) -> tuple[dict, dict]:
    """The batch result and the accumulator's result for the same sequences."""
    batch = compute_metrics(preds, gts, templates, LIPS, UPPER, seed=seed)
    acc = MetricAccumulator(LIPS, UPPER, seed=seed)
    for i, (pred, gt) in enumerate(zip(preds, gts, strict=True)):
        acc.add(pred, gt, templates if np.ndim(templates) == 2 else templates[i])
    return batch, acc.result()


def test_mve_is_mean_euclidean_distance_of_sample_0():
    pred = still(2, num_samples=2)
    pred[0, 0, 0] = [0.3, 0.4, 0.0]  # 0.5 m away (L2, not the 0.7 of an L1 sum)
    pred[0, 0, 3] = [1.5, 0.0, 0.0]
    pred[0, 1, :, 2] = 2.0  # frame 1: every vertex 2 m away
    pred[1] += 100.0  # other samples do not enter MVE
    assert vertex_error_per_frame_m(pred[0], still(2)) == pytest.approx([0.5, 2.0])
    batch, acc = both([pred], [still(2)])
    assert batch["mve_m"] == pytest.approx(1.25)
    assert acc["mve_m"] == pytest.approx(1.25)


def test_lve_takes_the_squared_max_over_lip_vertices_only():
    pred = still(2, num_samples=2)
    pred[0, 0, 0] = [0.3, 0.4, 0.0]  # squared distance 0.25
    pred[0, 0, 1] = [0.1, 0.0, 0.0]  # 0.01, not the max
    pred[0, :, 2] = 10.0  # upper-face vertex: ignored by LVE
    pred[0, 1, 1] = [0.0, 0.0, 0.2]  # frame 1: 0.04
    assert lip_error_per_frame_m2(pred[0], still(2), LIPS) == pytest.approx([0.25, 0.04])
    batch, acc = both([pred], [still(2)])
    assert batch["lve_m2"] == pytest.approx(0.145)
    assert acc["lve_m2"] == pytest.approx(0.145)


def test_frame_averages_pool_all_frames_not_sequences():
    # Sequence A: 1 frame, every vertex 1 m off; sequence B: 3 frames, 3 m off.
    pred_a = still(1, num_samples=2)
    pred_a[:, :, :, 0] = 1.0
    pred_b = still(3, num_samples=2)
    pred_b[:, :, :, 0] = 3.0
    batch, acc = both([pred_a, pred_b], [still(1), still(3)])
    for result in (batch, acc):
        assert result["num_frames"] == 4
        assert result["num_sequences"] == 2
        # frame-weighted (1 + 3 * 3) / 4, not the per-sequence mean (1 + 3) / 2
        assert result["mve_m"] == pytest.approx(2.5)
        assert result["lve_m2"] == pytest.approx((1 + 3 * 9) / 4)
        assert result["mee_m2"] == pytest.approx((1 + 3 * 9) / 4)
        assert result["ce_m2"] == pytest.approx((1 + 3 * 9) / 4)


def test_mee_is_the_lve_of_the_sample_mean():
    pred = still(1, num_samples=2)
    pred[0, 0, 0, 0] = 0.4
    pred[1, 0, 0, 0] = 0.0  # the mean sample is 0.2 m off: MEE 0.04, while LVE is 0.16
    batch, acc = both([pred], [still(1)])
    for result in (batch, acc):
        assert result["lve_m2"] == pytest.approx(0.16)
        assert result["mee_m2"] == pytest.approx(0.04)

    opposite = still(1, num_samples=2)
    opposite[0, 0, 0, 0] = 0.2
    opposite[1, 0, 0, 0] = -0.2  # errors cancel in the mean
    batch, acc = both([opposite], [still(1)])
    assert batch["mee_m2"] == pytest.approx(0.0)
    assert acc["mee_m2"] == pytest.approx(0.0)


def test_ce_picks_the_sample_with_the_lowest_summed_lve_per_sequence():
    # Per-frame LVE of each sample (lip vertex 0 offset along x, squared).
    offsets = np.array([[0.2, 0.2], [0.1, 0.3], [0.25, 0.0], [0.3, 0.3]])
    pred = still(2, num_samples=4)
    pred[:, :, 0, 0] = offsets
    # sums: 0.08, 0.10, 0.0625, 0.18 -> sample 2, whose frames give 0.0625 and 0 -> CE 0.03125
    # (a per-frame minimum over samples would give (0.01 + 0) / 2 = 0.005 instead)
    batch, acc = both([pred], [still(2)])
    for result in (batch, acc):
        assert result["ce_m2"] == pytest.approx(0.03125)
        assert result["lve_m2"] == pytest.approx(0.04)  # sample 0 only

    # Across sequences the best sample is chosen per sequence and the frames pooled.
    short = still(1, num_samples=4)
    short[:, 0, 1, 1] = [0.5, 0.1, 0.4, 0.3]  # best: sample 1, 0.01 on its one frame
    batch, acc = both([pred, short], [still(2), still(1)])
    for result in (batch, acc):
        assert result["ce_m2"] == pytest.approx((0.0625 + 0.0 + 0.01) / 3)


def test_fdd_is_ground_truth_minus_prediction_and_signed():
    gt = still(2)
    gt[1, 2, 0] = 1.0  # ||v - t||^2 of vertex 2 over time: 0, 1 -> std 0.5
    gt[:, 3, 0] = [1.0, 2.0]  # vertex 3: 1, 4 -> std 1.5
    pred = still(2, num_samples=2)
    pred[0, :, 2:, 0] = 1.0  # the prediction's upper face is held still: std 0
    assert upper_face_dynamics_m2(gt, TEMPLATE, UPPER) == pytest.approx(1.0)
    # ground truth more variable than the prediction -> positive
    assert fdd_sequence_m2(pred[0], gt, TEMPLATE, UPPER) == pytest.approx(1.0)
    assert fdd_sequence_m2(gt, pred[0], TEMPLATE, UPPER) == pytest.approx(-1.0)

    # Two sequences of opposite sign cancel in FDD but not in |FDD|.
    swapped = np.stack([gt, gt])
    batch, acc = both([pred, swapped], [gt, pred[0]])
    for result in (batch, acc):
        assert result["fdd_m2"] == pytest.approx(0.0)
        assert result["fdd_abs_m2"] == pytest.approx(1.0)


def test_fdd_measures_offsets_from_the_template():
    template = np.zeros((V, 3))
    template[2:, 0] = 1.0
    gt = still(2)
    gt[:, 2:, 0] = [[1.0, 1.0], [2.0, 2.0]]  # offsets 0 then 1 -> squared 0, 1 -> std 0.5
    # Without the template the squared norms would be 1, 4 -> std 1.5.
    assert upper_face_dynamics_m2(gt, template, UPPER) == pytest.approx(0.5)
    pred = np.broadcast_to(template, (1, 2, V, 3))
    batch, acc = both([pred], [gt], templates=[template])
    assert batch["fdd_m2"] == pytest.approx(0.5)
    assert acc["fdd_m2"] == pytest.approx(0.5)


def test_diversity_over_ten_samples_in_five_pairs():
    # Samples 0..8 each move their own vertex 1 m; sample 9 moves none. Any two of 0..8 then
    # differ on 2 of 9 vertices (mean 2/9 m); a pair with sample 9 differs on 1 (1/9 m). Whatever
    # the shuffle, exactly one of the 5 pairs holds sample 9: (4 * 2/9 + 1/9) / 5 = 0.2 m.
    samples = np.zeros((10, 3, 9, 3))
    for i in range(9):
        samples[i, :, i, 0] = 1.0
    for seed in (0, 1, 7):
        assert diversity_sequence_m(samples, np.random.default_rng(seed)) == pytest.approx(0.2)


def test_diversity_pairs_follow_the_seeded_shuffle():
    # Sample i is offset i m everywhere, so a pair (a, b) scores |a - b|: the value depends on the
    # pairing, which is consecutive entries of default_rng(seed).permutation(K).
    samples = np.zeros((10, 2, 3, 3))
    samples[..., 0] = np.arange(10)[:, None, None]
    order = np.random.default_rng(5).permutation(10).reshape(5, 2)
    expected = np.abs(order[:, 0] - order[:, 1]).mean()
    assert diversity_sequence_m(samples, np.random.default_rng(5)) == pytest.approx(expected)
    repeat = diversity_sequence_m(samples, np.random.default_rng(5))
    assert repeat == diversity_sequence_m(samples, np.random.default_rng(5))

    # Averaged over pairs, then over sequences (not frame-weighted): a 5-frame sequence of
    # identical samples (diversity 0) halves the 2-frame sequence's value.
    seq_a = np.zeros((10, 2, V, 3))
    seq_a[..., 0] = np.arange(10)[:, None, None]
    seq_b = np.ones((10, 5, V, 3))
    rng = np.random.default_rng(3)
    expected_a = diversity_sequence_m(seq_a, rng)
    batch, acc = both([seq_a, seq_b], [still(2), still(5)], seed=3)
    assert batch["diversity_m"] == pytest.approx(expected_a / 2)
    assert acc["diversity_m"] == pytest.approx(expected_a / 2)


@pytest.mark.parametrize("num_samples", [1, 3, 9])
def test_diversity_needs_an_even_number_of_samples(num_samples):
    with pytest.raises(LsfError, match="even number"):
        diversity_sequence_m(np.zeros((num_samples, 2, V, 3)), np.random.default_rng(0))


def test_odd_sample_count_is_refused_but_a_single_sample_is_not():
    with pytest.raises(LsfError, match="even number"):
        MetricAccumulator(LIPS, UPPER).add(still(2, num_samples=3), still(2), TEMPLATE)
    with pytest.raises(LsfError, match="even number"):
        compute_metrics([still(2, num_samples=3)], [still(2)], TEMPLATE, LIPS, UPPER)

    pred = still(2, num_samples=1)
    pred[0, :, 0, 0] = 0.1
    batch, acc = both([pred], [still(2)])
    for result in (batch, acc):
        assert math.isnan(result["diversity_m"])
        assert result["mee_m2"] == pytest.approx(result["lve_m2"])
        assert result["ce_m2"] == pytest.approx(result["lve_m2"])


def test_accumulator_equals_batch_on_random_sequences():
    rng = np.random.default_rng(42)
    lengths = [3, 7, 1, 5]
    preds = [rng.normal(scale=1e-3, size=(10, t, V, 3)) for t in lengths]
    gts = [rng.normal(scale=1e-3, size=(t, V, 3)) for t in lengths]
    templates = [rng.normal(scale=1e-2, size=(V, 3)) for _ in lengths]
    batch, acc = both(preds, gts, templates, seed=11)
    assert set(METRIC_KEYS) <= set(batch)
    assert batch.keys() == acc.keys()
    for key in batch:
        assert acc[key] == pytest.approx(batch[key], rel=1e-12), key
    assert batch["num_frames"] == sum(lengths)
    assert batch["diversity_m"] > 0
    # a different seed pairs the samples differently
    assert (
        compute_metrics(preds, gts, templates, LIPS, UPPER, seed=12)["diversity_m"]
        != (batch["diversity_m"])
    )


def test_millimetre_conversion():
    paper = {"mve_m": 1.2244e-3, "lve_m2": 1.0985e-4, "fdd_abs_m2": 0.4724e-6, "num_frames": 7}
    mm = to_millimetres(paper)
    assert mm == pytest.approx(
        {"mve_mm": 1.2244, "lve_mm2": 109.85, "fdd_abs_mm2": 0.4724, "num_frames": 7}
    )


def test_builtin_face_regions_drive_lve_and_fdd():
    from lsf_animation.face.builtin import builtin_face

    face = builtin_face()
    lips, upper = face.regions["lips"], face.regions["upper_face"]
    gt = np.broadcast_to(face.v_template, (3, *face.v_template.shape)).copy()
    pred = gt[None].copy()
    pred[0, :, lips, 1] -= 0.002  # lips 2 mm lower; upper face untouched
    result = compute_metrics([pred], [gt], face.v_template, lips, upper)
    assert result["lve_m2"] == pytest.approx(4e-6)
    assert result["fdd_m2"] == pytest.approx(0.0)
    assert result["mve_m"] == pytest.approx(0.002 * lips.size / face.num_vertices)


@pytest.mark.parametrize(
    ("pred", "gt", "template", "match"),
    [
        (np.zeros((2, V, 3)), still(2), TEMPLATE, "pred must have shape"),
        (still(2, 2), still(3), TEMPLATE, "disagree"),
        (still(2, 2), np.zeros((2, V, 2)), TEMPLATE, "gt must have shape"),
        (still(2, 2), still(2), np.zeros((V + 1, 3)), "template has 5 vertices"),
        (np.full((2, 2, V, 3), np.nan), still(2), TEMPLATE, "NaN"),
        (still(0, 2), still(0), TEMPLATE, "empty"),
    ],
)
def test_bad_shapes_are_refused(pred, gt, template, match):
    with pytest.raises(LsfError, match=match):
        MetricAccumulator(LIPS, UPPER).add(pred, gt, template)
    with pytest.raises(LsfError, match=match):
        compute_metrics([pred], [gt], template, LIPS, UPPER)


def test_bad_regions_and_inconsistent_sequences_are_refused():
    with pytest.raises(LsfError, match="outside"):
        MetricAccumulator(np.array([0, V]), UPPER).add(still(1, 2), still(1), TEMPLATE)
    with pytest.raises(LsfError, match="non-empty 1-D"):
        MetricAccumulator(np.array([], dtype=int), UPPER)
    with pytest.raises(LsfError, match="integer"):
        compute_metrics([still(1, 2)], [still(1)], TEMPLATE, LIPS, np.array([2.0, 3.0]))
    acc = MetricAccumulator(LIPS, UPPER)
    with pytest.raises(LsfError, match="no sequences"):
        acc.result()
    acc.add(still(1, 2), still(1), TEMPLATE)
    with pytest.raises(LsfError, match="same --samples"):
        acc.add(still(1, 4), still(1), TEMPLATE)
