"""The paper preset is the authors' released network: parameter count and every parameter
shape, against the release's layout (tests/fixtures_release.py, written from reading the
release; docs/release_architecture.md derives the numbers)."""

from __future__ import annotations

from collections import Counter

import torch

from fixtures_release import lsf_predictor_layout, probtalk3d_predictor_layout, vqvae_layout
from lsf_animation.model.config import paper_config
from lsf_animation.model.lsf import LSFModel

# From the release's arithmetic (docs/release_architecture.md, "Parameter counts").
RELEASE_STAGE1 = 6_375_680  # encoder 3,171,584 + codebook 32,768 + decoder 3,171,328
RELEASE_SIE = 16_262_816  # predictor 16,148,736 (incl. the unused out_norm, 512) + identity MLP
RELEASE_IDENTITY_MLP = 114_080  # 300->256->128->32
RELEASE_OUT_NORM = 512  # built, never applied: not part of our model
RELEASE_PROBTALK3D_STAGE2 = 6_326_272  # the one-hot predictor


def _params(layout) -> dict[str, tuple[int, ...]]:
    return {k: shape for k, (shape, kind) in layout.items() if kind == "param"}


def _count(shapes) -> int:
    return sum(int(torch.Size(s).numel()) for s in shapes)


def _shapes(module: torch.nn.Module) -> Counter:
    return Counter(tuple(p.shape) for p in module.parameters())


def test_release_layout_counts() -> None:
    stage1 = _params(vqvae_layout())
    sie = _params(lsf_predictor_layout())
    assert _count(stage1.values()) == RELEASE_STAGE1
    assert _count(sie.values()) == RELEASE_SIE
    identity = [s for k, s in sie.items() if k.startswith("identity_extractor.")]
    assert _count(identity) == RELEASE_IDENTITY_MLP
    assert _count(_params(probtalk3d_predictor_layout()).values()) == RELEASE_PROBTALK3D_STAGE2


def test_paper_preset_is_the_release_parameter_for_parameter() -> None:
    model = LSFModel(paper_config())
    assert sum(p.numel() for p in model.prior.parameters()) == RELEASE_STAGE1
    assert sum(p.numel() for p in model.sie.parameters()) == RELEASE_SIE - RELEASE_OUT_NORM
    # The full list of shapes, not only their sum.
    assert _shapes(model.prior) == Counter(_params(vqvae_layout()).values())
    release_sie = _params(lsf_predictor_layout())
    del (
        release_sie["feature_predictor.out_norm.weight"],
        release_sie["feature_predictor.out_norm.bias"],
    )
    assert _shapes(model.sie) == Counter(release_sie.values())
    assert sum(p.numel() for p in model.sie.identity.parameters()) == RELEASE_IDENTITY_MLP


def test_one_hot_variant_is_probtalk3d_stage2() -> None:
    model = LSFModel(paper_config("one_hot"))
    assert _shapes(model.sie) == Counter(_params(probtalk3d_predictor_layout()).values())
    assert sum(p.numel() for p in model.sie.parameters()) == RELEASE_PROBTALK3D_STAGE2


def test_paper_preset_runs() -> None:
    model = LSFModel(paper_config()).eval()
    motion = model(torch.randn(1, 11, 768), torch.randn(1, 11, 768), torch.randn(1, 300))
    assert motion.shape == (1, 5, 53) and torch.isfinite(motion).all()
