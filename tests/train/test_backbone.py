"""HuBERT's upper layers as the stage-2 motion backbone (the paper preset), on a tiny HuBERT."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import HubertModel

from fixtures_hubert import tiny_hubert_config
from lsf_animation.audio.hubert import HubertExtractor, normalize_waveform
from lsf_animation.checkpoint.backbone import build_backbone, hubert_backbone


@pytest.fixture(scope="module")
def extractor():
    torch.manual_seed(0)
    config = tiny_hubert_config()
    return HubertExtractor(HubertModel(config).eval(), frozen_only=True)


def _wav(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.1 * rng.standard_normal(int(16000 * seconds))).astype(np.float32)


def test_upper_layers_on_cached_front_equal_the_full_model(extractor):
    backbone, _ = hubert_backbone(extractor)
    backbone.eval()
    wav = _wav(1.0, 0)
    cached = torch.from_numpy(extractor(wav))[None]  # what the feature cache holds
    with torch.no_grad():
        full = extractor.model(normalize_waveform(torch.from_numpy(wav)[None])).last_hidden_state
        ours = backbone(cached, torch.ones(cached.shape[:2], dtype=torch.bool))
    torch.testing.assert_close(ours, full, atol=1e-5, rtol=1e-5)


def test_padding_does_not_change_valid_frames(extractor):
    backbone, _ = hubert_backbone(extractor)
    backbone.eval()
    short, long = extractor(_wav(0.6, 1)), extractor(_wav(1.0, 2))
    batch = torch.zeros(2, len(long), long.shape[1])
    batch[0, : len(short)] = torch.from_numpy(short)
    batch[1] = torch.from_numpy(long)
    mask = torch.zeros(2, len(long), dtype=torch.bool)
    mask[0, : len(short)] = True
    mask[1] = True
    with torch.no_grad():
        padded = backbone(batch, mask)
        alone = backbone(torch.from_numpy(short)[None], None)
    torch.testing.assert_close(padded[0, : len(short)], alone[0], atol=1e-5, rtol=1e-5)
    assert torch.all(padded[0, len(short) :] == 0)


def test_backbone_rebuilds_from_its_checkpoint_spec(extractor):
    backbone, spec = hubert_backbone(extractor)
    rebuilt = build_backbone(spec)
    rebuilt.load_state_dict(backbone.state_dict())
    x = torch.randn(1, 20, 32)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt.eval()(x), backbone.eval()(x))
    # only the layers above the cut are trainable parts of the model
    assert len(backbone.part.layers) == 2
    assert all(p.requires_grad for p in backbone.parameters())


def test_projection_front_backbone_equals_the_full_model_and_rebuilds():
    torch.manual_seed(4)
    ext = HubertExtractor(
        HubertModel(tiny_hubert_config()).eval(), frozen_only=True, frozen_front="projection"
    )
    backbone, spec = hubert_backbone(ext)
    assert spec.frozen_front == "projection"
    backbone.eval()
    short, long = _wav(0.6, 5), _wav(1.0, 6)
    cached = [torch.from_numpy(ext(w)) for w in (short, long)]
    batch = torch.zeros(2, len(cached[1]), cached[1].shape[1])
    batch[0, : len(cached[0])], batch[1] = cached[0], cached[1]
    mask = torch.zeros(2, len(cached[1]), dtype=torch.bool)
    mask[0, : len(cached[0])] = True
    mask[1] = True
    with torch.no_grad():
        full = ext.model(normalize_waveform(torch.from_numpy(long)[None])).last_hidden_state
        torch.testing.assert_close(backbone(cached[1][None], None), full, atol=1e-5, rtol=1e-5)
        padded = backbone(batch, mask)
        alone = backbone(cached[0][None], None)
        torch.testing.assert_close(padded[0, : len(cached[0])], alone[0], atol=1e-5, rtol=1e-5)
        rebuilt = build_backbone(spec)
        rebuilt.load_state_dict(backbone.state_dict())
        torch.testing.assert_close(rebuilt.eval()(batch, mask), padded)
    frozen = [n for n, p in rebuilt.named_parameters() if not p.requires_grad]
    assert frozen and all(n.startswith(("part.layers.0.", "part.layers.1.")) for n in frozen)
