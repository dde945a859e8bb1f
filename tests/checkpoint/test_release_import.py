"""Importing the authors' released checkpoints: every key mapped or dropped by name, the result
animates with the encoders it carries (computing what the release's encoders compute), and
damaged or foreign files are refused with one line and exit code 2.

Release files are written here in the releases' key layouts at tiny sizes
(tests/fixtures_release_files.py, from the layouts in tests/fixtures_release.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fixtures_flame import random_flame_arrays, write_flame_pickle
from fixtures_release_files import (
    SIZES,
    lsf_stage2,
    probtalk3d_stage2,
    stage1,
    tiny_hubert,
    write_lightning,
)
from lsf_animation.api import Animator
from lsf_animation.checkpoint.encoder_paths import EncoderPaths
from lsf_animation.checkpoint.files import ENCODERS_PREFIX, load_checkpoint, read_checkpoint_dict
from lsf_animation.checkpoint.release_import import import_release
from lsf_animation.cli import main
from lsf_animation.data.scalers import MinMaxScaler
from lsf_animation.errors import LsfError
from lsf_animation.model.release_keys import RELEASE_TRAIN_IDENTITIES

HEADS = SIZES.heads


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The release's stage-2 file, its HuBERT and emotion2vec, and the imported checkpoint."""
    root = tmp_path_factory.mktemp("release")
    state, hubert, e2v = lsf_stage2(seed=3)
    src = write_lightning(root / "stage2.ckpt", state)
    out = root / "imported" / "model.ckpt"
    result = import_release(src, out, num_heads=HEADS)
    flame = write_flame_pickle(
        root / "generic_model.pkl", random_flame_arrays(5023, 200, num_expression=50)
    )
    return {"src": src, "state": state, "hubert": hubert, "e2v": e2v, "out": out,
            "result": result, "flame": flame, "root": root}  # fmt: skip


def test_every_key_is_carried_or_dropped_by_name(released: dict) -> None:
    state, result = released["state"], released["result"]
    assert result.stage == 2 and result.kind == "lsf-release"
    assert result.mapped + result.dropped == len(state)
    stored = read_checkpoint_dict(released["out"])["state_dict"]
    training_only = (".pe", "out_norm.weight", "out_norm.bias", "masked_spec_embed")
    dropped = [
        k for k in state
        if k.endswith(training_only) or "_losses." in k or ".AUDIO.decoder." in k
    ]  # fmt: skip
    assert len(dropped) == result.dropped
    assert len(stored) == result.mapped
    ckpt = load_checkpoint(released["out"], stage=2)
    meta = ckpt.meta
    assert meta.model_config.sie.variant == "hifb"
    assert meta.model_config.sie.num_identities == SIZES.identities
    assert meta.scaler == MinMaxScaler.release()
    assert meta.identity_index is not None
    assert meta.identity_index.subjects == tuple(sorted(RELEASE_TRAIN_IDENTITIES))
    assert meta.face is not None and meta.face.kind == "flame2020"
    assert meta.face.num_vertices == 5023
    assert meta.backbone is not None and meta.backbone.frozen_front == "projection"
    records = meta.features
    assert records is not None and records.motion.carried and records.emotion is not None
    assert records.motion.name == "hubert-frozen" and records.emotion.name == "emotion2vec"
    assert set(ckpt.encoders) == {"motion", "emotion"}
    assert all(k.startswith(("model.", ENCODERS_PREFIX)) for k in stored)
    model = ckpt.build_model()  # strict: every weight in place
    assert model.motion_backbone is not None


def test_carried_encoders_compute_what_the_release_encoders_compute(released: dict) -> None:
    """HuBERT = carried CNN + projection, then the model's backbone; emotion2vec as carried."""
    from lsf_animation.audio.emotion2vec import layer_normalize
    from lsf_animation.audio.hubert import normalize_waveform

    animator = Animator.from_checkpoint(released["out"], face=str(released["flame"]))
    wav = np.random.default_rng(0).normal(size=16000).astype(np.float32)
    feats = animator.window_features(wav)
    x = torch.from_numpy(wav)[None]
    with torch.no_grad():
        want_motion = released["hubert"](normalize_waveform(x)).last_hidden_state
        want_emotion = released["e2v"](layer_normalize(x[0])[None])
    torch.testing.assert_close(feats["motion"], want_motion, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(feats["emotion"], want_emotion, atol=1e-4, rtol=1e-4)


def test_imported_model_animates_on_flame_and_refuses_the_builtin_face(released: dict) -> None:
    animator = Animator.from_checkpoint(released["out"], face=str(released["flame"]))
    wav = np.random.default_rng(1).normal(scale=0.1, size=32000).astype(np.float32)
    animation = animator.animate(wav, seed=0)
    assert animation.motion.shape == (1, 50, 53) and np.isfinite(animation.motion).all()
    assert animation.vertices().shape == (50, 5023, 3)
    with pytest.raises(LsfError, match=r"FLAME 2020.*--face PATH"):
        Animator.from_checkpoint(released["out"], face="builtin")
    small = write_flame_pickle(released["root"] / "small.pkl", random_flame_arrays(64, 120))
    with pytest.raises(LsfError, match="another face"):
        Animator.from_checkpoint(released["out"], face=str(small))


def test_encoder_paths_replace_stale_recorded_paths_and_are_checked(
    released: dict, tmp_path: Path
) -> None:
    """A checkpoint that names its HuBERT by a path that is gone (trained on another machine):
    refused naming the path; `--hubert DIR` replaces it, checked against the fingerprint."""
    from dataclasses import replace

    from lsf_animation.audio.hubert import HubertExtractor
    from lsf_animation.checkpoint.features import feature_record
    from lsf_animation.checkpoint.files import save_checkpoint

    moved = tmp_path / "assets" / "hubert-base-ls960"
    released["hubert"].save_pretrained(moved)
    options = {"model": "/gone/hubert-base-ls960", "num_frozen": 2, "frozen_front": "projection"}
    extractor = HubertExtractor(moved, frozen_only=True, frozen_front="projection")
    ckpt = load_checkpoint(released["out"])
    records = replace(ckpt.features, motion=feature_record(extractor, options))
    stale = tmp_path / "stale.ckpt"
    emotion = {"emotion": ckpt.encoders["emotion"]}
    save_checkpoint(stale, ckpt.state_dict, replace(ckpt.meta, features=records), encoders=emotion)
    flame = str(released["flame"])

    with pytest.raises(LsfError, match="/gone/hubert-base-ls960 does not exist"):
        Animator.from_checkpoint(stale, flame)
    for paths in (EncoderPaths(hubert=moved), EncoderPaths.from_options(assets=moved.parent)):
        animator = Animator.from_checkpoint(stale, flame, encoders=paths)
        assert animator.extractors["motion"].fingerprint() == records.motion.fingerprint
    other = tmp_path / "other"
    tiny_hubert(seed=99).save_pretrained(other)
    with pytest.raises(LsfError, match="fingerprint"):
        Animator.from_checkpoint(stale, flame, encoders=EncoderPaths(hubert=other))
    with pytest.raises(LsfError, match="nowhere"):
        EncoderPaths.from_options(hubert=tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LsfError, match="holds neither"):
        EncoderPaths.from_options(assets=tmp_path / "empty")


def test_stage1_and_probtalk3d_import(tmp_path: Path) -> None:
    src = write_lightning(tmp_path / "prior.ckpt", stage1(seed=3))
    out = tmp_path / "prior_model.ckpt"
    result = import_release(src, out, num_heads=HEADS)
    ckpt = load_checkpoint(out, stage=1)
    assert result.stage == 1 and ckpt.scaler == MinMaxScaler.release()
    assert ckpt.model_config.vqvae.quantizer_layout == "release"
    ckpt.build_prior()
    with pytest.raises(LsfError, match=r"stage-1 checkpoint.*--stage 1"):
        import_release(src, tmp_path / "x.ckpt", stage=2, num_heads=HEADS)

    state, _ = probtalk3d_stage2(seed=4)
    p_src = write_lightning(tmp_path / "probtalk3d.ckpt", state)
    p_out = tmp_path / "probtalk3d_model.ckpt"
    assert import_release(p_src, p_out, kind="probtalk3d", num_heads=HEADS).kind == "probtalk3d"
    p_ckpt = load_checkpoint(p_out, stage=2)
    assert p_ckpt.model_config.sie.variant == "one_hot"
    assert p_ckpt.features is not None and p_ckpt.features.emotion is None
    p_ckpt.build_model()
    with pytest.raises(LsfError, match="use --kind probtalk3d"):
        import_release(p_src, tmp_path / "y.ckpt", kind="lsf-release", num_heads=HEADS)


def test_prior_must_match_the_one_stage2_holds(released: dict, tmp_path: Path) -> None:
    matching = {k[len("motion_prior.") :]: v for k, v in released["state"].items()
                if k.startswith("motion_prior.")}  # fmt: skip
    good = write_lightning(tmp_path / "good_prior.ckpt", matching)
    out = tmp_path / "with_prior.ckpt"
    import_release(released["src"], out, prior=good, num_heads=HEADS)
    assert load_checkpoint(out).meta.prior.path == str(good.resolve())
    bad = write_lightning(tmp_path / "bad_prior.ckpt", stage1(seed=50))
    with pytest.raises(LsfError, match="not the motion prior"):
        import_release(released["src"], tmp_path / "z.ckpt", prior=bad, num_heads=HEADS)


def _refused(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_corrupted_release_files_are_one_line_and_exit_2(
    released: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = dict(released["state"])
    out = tmp_path / "out.ckpt"

    missing = dict(state)
    del missing["feature_predictor.fusion_blocks.1.attn.q.weight"]
    src = write_lightning(tmp_path / "missing.ckpt", missing)
    line = _refused(["import-checkpoint", str(src), "--out", str(out)], capsys)
    assert "missing keys" in line and "fusion_blocks.1.attn.q.weight" in line

    shaped = dict(state)
    shaped["feature_predictor.audio_blocks.0.net.1.fn.fn.l1.bias"] = torch.zeros(7)
    src = write_lightning(tmp_path / "shape.ckpt", shaped)
    line = _refused(["import-checkpoint", str(src), "--out", str(out)], capsys)
    assert "mis-shaped" in line and "audio_blocks.0.net.1.fn.fn.l1.bias" in line

    extra = dict(state) | {"feature_predictor.surprise.weight": torch.zeros(2)}
    src = write_lightning(tmp_path / "extra.ckpt", extra)
    line = _refused(["import-checkpoint", str(src), "--out", str(out)], capsys)
    assert "unknown keys" in line and "feature_predictor.surprise.weight" in line

    cut = tmp_path / "cut.ckpt"
    cut.write_bytes(released["src"].read_bytes()[:5000])
    assert "not a readable PyTorch checkpoint" in _refused(
        ["import-checkpoint", str(cut), "--out", str(out)], capsys
    )
    assert not out.exists()


def test_cli_imports_and_animates(
    released: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's path: import-checkpoint, then animate with --face on FLAME."""
    import soundfile as sf

    # the CLI reads the release's 8 heads; these tiny sizes divide by 8 too
    out = tmp_path / "model.ckpt"
    assert main(["import-checkpoint", str(released["src"]), "--out", str(out)]) == 0
    assert "imported lsf-release stage 2" in capsys.readouterr().out
    wav = tmp_path / "speech.wav"
    sf.write(wav, np.random.default_rng(2).normal(scale=0.1, size=24000), 16000)
    args = ["animate", str(wav), "--checkpoint", str(out), "--no-video", "--out",
            str(tmp_path / "anim")]  # fmt: skip
    line = _refused(args, capsys)  # the built-in face is the default: refused
    assert "--face PATH" in line
    assert main([*args, "--face", str(released["flame"])]) == 0
    assert np.load(tmp_path / "anim" / "motion.npz")["motion"].shape == (1, 38, 53)
