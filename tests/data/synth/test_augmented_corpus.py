"""`synth --augment`: the training speakers' audio sounds recorded, everything else stays."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lsf_animation.cli import main

ARGS = ["--identities", "3", "--sentences", "1", "--seed", "4", "--quiet", "--workers", "1"]


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.mark.slow
def test_augment_changes_only_the_training_speakers_audio(tmp_path: Path) -> None:
    plain, augmented, again = tmp_path / "plain", tmp_path / "aug", tmp_path / "again"
    assert main(["synth", "--out", str(plain), *ARGS]) == 0
    assert main(["synth", "--out", str(augmented), "--augment", *ARGS]) == 0
    assert main(["synth", "--out", str(again), "--augment", *ARGS]) == 0
    a, b = _files(plain), _files(augmented)
    assert _files(again) == b  # the same seed gives the same bytes
    assert set(a) == set(b)
    train = json.loads((plain / "splits.json").read_text())["train"]
    changed = {name for name in a if a[name] != b[name]}
    wavs = {name for name in a if name.endswith(".wav")}
    train_wavs = {name for name in wavs if name.split("/")[1] in train}
    assert changed - {"synth.json"} <= train_wavs  # motion and held-out audio untouched
    assert len(changed & train_wavs) > 0.6 * len(train_wavs)  # most (not all: some stay clean)
    manifest = json.loads((augmented / "synth.json").read_text())
    assert manifest["augment_train_audio"]["reverb"] == 0.5
    assert "augment_train_audio" not in json.loads((plain / "synth.json").read_text())
    # Resuming an augmented corpus without --augment is refused (other settings).
    assert main(["synth", "--out", str(augmented), *ARGS]) == 2
