"""Running a trained model where it was not trained: configs by their README path from any
folder, render's parent folders, HuBERT paths that are gone, recorded paths made absolute, and
the face a checkpoint's motion belongs to."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fixtures_flame import random_flame_arrays, write_flame_pickle
from lsf_animation.checkpoint.encoder_paths import absolute_paths
from lsf_animation.checkpoint.face_record import (
    builtin_face_record,
    check_face_spec,
    face_record_for_split,
    flame2020_record,
)
from lsf_animation.cli import main
from lsf_animation.errors import LsfError
from lsf_animation.face.builtin import builtin_face
from lsf_animation.face.load import load_face_model
from lsf_animation.train.config import load_train_config


def test_configs_path_of_the_readme_works_from_any_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # no configs/ here, as after `pip install`
    assert load_train_config("configs/paper.yaml") == load_train_config("paper")
    with pytest.raises(LsfError, match=r"mine/paper.yaml not found.*--config paper"):
        load_train_config("mine/paper.yaml")


@pytest.mark.slow
def test_render_makes_the_parent_folders_of_out(tmp_path: Path) -> None:
    motion = np.zeros((5, 53), np.float32)
    motion[:, 50] = 0.2
    np.savez(tmp_path / "m.npz", motion=motion, shape=np.zeros(300))
    out = tmp_path / "a" / "b" / "c.mp4"
    assert main(["render", str(tmp_path / "m.npz"), "--out", str(out), "--size", "64"]) == 0
    assert out.is_file() and out.stat().st_size > 0


def test_a_missing_local_hubert_is_named_never_looked_up(tmp_path, monkeypatch) -> None:
    from lsf_animation.audio.hubert import load_hubert

    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    for spec in ("models/hubert-base-ls960", str(tmp_path / "gone")):
        with pytest.raises(LsfError, match="does not exist"):
            load_hubert(spec)


def test_recorded_paths_are_absolute(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "e2v.pt").write_bytes(b"x")
    options = {"checkpoint": "e2v.pt", "model": "facebook/hubert-base-ls960", "n": 2}
    assert absolute_paths(options) == {
        "checkpoint": str(tmp_path / "e2v.pt"),
        "model": "facebook/hubert-base-ls960",  # a hub id stays as it is
        "n": 2,
    }


def test_a_checkpoint_refuses_the_other_face_and_says_which_to_pass(tmp_path: Path) -> None:
    flame = write_flame_pickle(tmp_path / "generic_model.pkl", random_flame_arrays(5023, 200))
    other = write_flame_pickle(tmp_path / "other.pkl", random_flame_arrays(64, 120))
    builtin_record, flame_record = builtin_face_record(), flame2020_record()
    assert face_record_for_split("synthetic") == builtin_record
    assert face_record_for_split("lsf") == flame_record

    assert check_face_spec(builtin_record, "builtin", "m.ckpt") == "builtin"
    assert check_face_spec(builtin_record, builtin_face(), "m.ckpt") is builtin_face()
    with pytest.raises(LsfError, match=r"built-in face motion.*pass --face builtin"):
        check_face_spec(builtin_record, str(flame), "m.ckpt")
    with pytest.raises(LsfError, match=r"FLAME 2020 motion.*pass --face PATH"):
        check_face_spec(flame_record, "builtin", "m.ckpt")
    assert check_face_spec(flame_record, str(flame), "m.ckpt").num_vertices == 5023
    with pytest.raises(LsfError, match=r"64 vertices.*another face"):
        check_face_spec(flame_record, str(other), "m.ckpt")
    # a record with the file's fingerprint tells two FLAME-topology faces apart
    from dataclasses import replace

    from lsf_animation.face.fingerprint import face_fingerprint

    loaded = load_face_model(flame)
    exact = replace(flame_record, fingerprint=face_fingerprint(loaded), path=str(flame))
    assert check_face_spec(exact, loaded, "m.ckpt") is loaded
    shifted = write_flame_pickle(tmp_path / "x.pkl", random_flame_arrays(5023, 200, seed=1))
    with pytest.raises(LsfError, match="another face"):
        check_face_spec(exact, str(shifted), "m.ckpt")
    # checkpoints written before faces were recorded are not checked
    assert check_face_spec(None, str(other), "m.ckpt") == str(other)
