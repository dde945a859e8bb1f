"""`lsf-animation evaluate` end to end on a tiny corpus with a tiny trained stage-2 checkpoint:
the tables it writes, determinism, a perfect predictor scoring zero, and clear bad-input errors."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from fixtures_mead import FixtureClip, make_mead_corpus
from fixtures_train import TINY_MODEL
from lsf_animation.cli import main
from lsf_animation.eval.metrics import METRIC_KEYS, MetricAccumulator, compute_metrics
from lsf_animation.eval.run import EvalSettings, combine_results, run_evaluation
from lsf_animation.eval.tables import COLUMNS

DEMO = Path(__file__).resolve().parents[2] / "configs" / "demo.yaml"
SPLITS = {"train": ["M001", "W002"], "val": ["W004"], "test": ["M005"]}


def write_corpus(root: Path, parts: tuple[str, ...] = ("train", "val", "test")) -> None:
    """Two clips (neutral, angry) per speaker of `parts`, 3DMEAD layout, and splits.json."""
    speakers = [s for p in parts for s in SPLITS[p]]
    clips = [FixtureClip(s, e, 1, i + 1, 30) for s in speakers for i, e in enumerate((0, 6))]
    make_mead_corpus(root, clips)
    (root / "splits.json").write_text(json.dumps(SPLITS))


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    """Tiny corpus (test speaker M005: neutral and angry clips), its feature cache, a stage-1
    and a stage-2 checkpoint, plus a second stage-2 checkpoint of another variant."""
    root = tmp_path_factory.mktemp("eval")
    corpus, cache, out = root / "corpus", root / "cache", root / "run"
    write_corpus(corpus)
    assert main(["extract", "--data", str(corpus), "--config", str(DEMO),
                 "--cache", str(cache), "-q", "--workers", "1"]) == 0  # fmt: skip
    sets = [a for s in [*TINY_MODEL, "data.batch_size=4"] for a in ("--set", s)]
    common = ["--config", str(DEMO), "--data", str(corpus), "--cache", str(cache), "-q", *sets]
    assert main(["train", "stage1", *common, "--out", str(out), "--max-epochs", "1"]) == 0
    assert main(["train", "stage2", *common, "--out", str(out), "--max-epochs", "1"]) == 0
    other = root / "other"
    assert main(["train", "stage2", *common, "--out", str(other), "--max-epochs", "1",
                 "--prior", str(out / "stage1" / "model.ckpt"),
                 "--set", "model.variant=no_identity"]) == 0  # fmt: skip
    return {
        "corpus": corpus,
        "cache": cache,
        "stage1": out / "stage1" / "model.ckpt",
        "stage2": out / "stage2" / "model.ckpt",
        "other": other / "stage2" / "model.ckpt",
    }


def _args(t: dict[str, Path], out: Path, *extra: str) -> list[str]:
    return ["evaluate", "--checkpoint", str(t["stage2"]), "--data", str(t["corpus"]),
            "--cache", str(t["cache"]), "--out", str(out), "-q", *extra]  # fmt: skip


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_evaluate_writes_table1_with_every_metric_and_per_emotion_rows(trained, tmp_path, capsys):
    assert main(_args(trained, tmp_path, "--samples", "4", "--seed", "3")) == 0
    printed = capsys.readouterr().out
    assert "Table 1" in printed and "MVE" in printed
    md = (tmp_path / "table1.md").read_text()
    for _, label, _ in COLUMNS:
        assert f"{label.replace('|', chr(92) + '|')} (" in md  # |FDD| escaped in markdown
    assert "mm²" in md and "×10⁻⁴ m²" in md
    rows = _rows(tmp_path / "table1.csv")
    groups = [r["group"] for r in rows]
    assert groups == ["overall", "angry", "neutral"]
    overall = rows[0]
    assert int(overall["num_sequences"]) == 2
    for key, _, _ in COLUMNS:
        assert math.isfinite(float(overall[key]))
        if key != "fdd_m2":  # the signed FDD may be of either sign
            assert float(overall[key]) > 0, key
    # mm columns are the metre columns scaled.
    assert float(overall["lve_mm2"]) == pytest.approx(float(overall["lve_m2"]) * 1e6)
    assert float(overall["mve_mm"]) == pytest.approx(float(overall["mve_m"]) * 1e3)
    # The overall row pools the emotions: frame-weighted MVE.
    frames = [int(r["num_frames"]) for r in rows[1:]]
    mve = sum(float(r["mve_m"]) * n for r, n in zip(rows[1:], frames, strict=True)) / sum(frames)
    assert float(overall["mve_m"]) == pytest.approx(mve)
    assert (tmp_path / "metrics.json").is_file()


@pytest.mark.slow
def test_same_seed_same_numbers_and_another_seed_other_samples(trained, tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for out, seed in ((a, "5"), (b, "5"), (c, "6")):
        assert main(_args(trained, out, "--samples", "4", "--seed", seed)) == 0
    assert (a / "table1.csv").read_text() == (b / "table1.csv").read_text()
    assert _rows(a / "table1.csv")[0]["diversity_m"] != _rows(c / "table1.csv")[0]["diversity_m"]


@pytest.mark.slow
def test_perfect_predictor_scores_zero_mve_and_lve(trained):
    """A sampler that returns the ground truth (in the model's scaled units) for every sample."""
    from lsf_animation.checkpoint import load_checkpoint

    scaler = load_checkpoint(trained["stage2"]).scaler
    truth: list[torch.Tensor] = []

    def perfect(model, batch, k, temperature, generator):
        t = int(batch["num_frames"][0])
        scaled = scaler.transform(batch["motion"][0, :t].double())
        truth.append(scaled)
        return scaled[None, None].expand(1, k, t, scaled.shape[-1])

    for mode in ("zero", "subject"):
        settings = EvalSettings(trained["corpus"], samples=2, cache=trained["cache"],
                                shape_mode=mode)  # fmt: skip
        result = run_evaluation(trained["stage2"], settings, progress=False, sampler=perfect)[0]
        for key in ("mve_m", "lve_m2", "mee_m2", "ce_m2", "fdd_m2", "diversity_m"):
            assert result.overall[key] == pytest.approx(0.0, abs=1e-10), (mode, key)
    assert truth


@pytest.mark.slow
def test_ablations_write_table2_one_row_per_variant(trained, tmp_path):
    args = _args(trained, tmp_path, "--samples", "1", "--ablations", str(trained["other"]))
    assert main(args) == 0
    rows = _rows(tmp_path / "table2.csv")
    assert [r["variant"] for r in rows] == ["hifb", "no_identity"]
    assert all(r["num_sequences"] == rows[0]["num_sequences"] for r in rows)  # same clips
    # K = 1: Diversity is n/a, the other metrics are still there.
    assert "n/a" in (tmp_path / "table2.md").read_text()
    assert math.isnan(float(rows[0]["diversity_m"]))
    assert float(rows[0]["mve_m"]) > 0


def _one_line_error(capsys, argv: list[str], *words: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error:"), err
    for word in words:
        assert word in err, err


@pytest.mark.slow
def test_bad_inputs_exit_2_with_one_line(trained, tmp_path, capsys):
    t = trained
    stage1 = [*_args(t, tmp_path), "--checkpoint", str(t["stage1"])]
    _one_line_error(capsys, stage1, "stage 1", "train stage2")
    _one_line_error(capsys, _args(t, tmp_path, "--samples", "3"), "--samples 3", "even")
    empty_cache = [*_args(t, tmp_path), "--cache", str(tmp_path / "empty")]
    _one_line_error(capsys, empty_cache, "lsf-animation extract")
    other = tmp_path / "corpus_without_test_speaker"
    write_corpus(other, ("train", "val"))
    _one_line_error(capsys, [*_args(t, tmp_path), "--data", str(other)], "selects no clips")
    _one_line_error(capsys, [*_args(t, tmp_path), "--face", str(tmp_path / "x.pkl")], "x.pkl")
    _one_line_error(capsys, _args(t, tmp_path, str(t["other"])), "--ablations")
    assert not (tmp_path / "table1.md").exists()


def test_overall_row_pools_the_emotion_groups_like_one_accumulator() -> None:
    rng = np.random.default_rng(0)
    lips, upper = np.arange(3), np.arange(3, 8)
    seqs = [(rng.normal(size=(2, t, 10, 3)), rng.normal(size=(t, 10, 3))) for t in (4, 7, 5)]
    template = rng.normal(size=(10, 3))
    groups = []
    for part in (seqs[:1], seqs[1:]):  # unequal groups: weighting matters
        acc = MetricAccumulator(lips, upper)
        for pred, gt in part:
            acc.add(pred, gt, template)
        groups.append(acc.result())
    pooled = combine_results(groups)
    # K = 2: one pair per sequence, so Diversity does not depend on the shuffle either.
    whole = compute_metrics([p for p, _ in seqs], [g for _, g in seqs], template, lips, upper)
    for key in (*METRIC_KEYS, "num_sequences", "num_frames"):
        assert pooled[key] == pytest.approx(whole[key], rel=1e-12), key
