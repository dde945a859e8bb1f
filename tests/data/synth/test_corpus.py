"""The corpus on disk: 3DMEAD layout and shapes, audio/motion lengths, splits, byte-identical
regeneration, resuming, and bad input through the `synth` command."""

from __future__ import annotations

import json
import re
import wave
from pathlib import Path

import h5py
import numpy as np
import pytest

from lsf_animation.cli import main
from lsf_animation.data.synth.emotion import EMOTIONS, levels

ARGS = ["--identities", "3", "--sentences", "1", "--seed", "4", "--quiet"]


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synth") / "corpus"
    assert main(["synth", "--out", str(root), *ARGS, "--workers", "1"]) == 0
    return root


def test_layout_shapes_and_splits(corpus: Path) -> None:
    splits = json.loads((corpus / "splits.json").read_text())
    subjects = sorted(p.name for p in (corpus / "EMICA-MEAD_flame2020").iterdir())
    listed = sorted(s for part in splits.values() for s in part)
    assert listed == subjects == ["M001", "M002", "W001"]
    assert all(len(splits[part]) == 1 for part in ("train", "val", "test"))
    motions = sorted(corpus.glob("EMICA-MEAD_flame2020/*/front/*/level_*/*/shape_pose_cam.hdf5"))
    wavs = sorted(corpus.glob("MEAD/*/audio/*/level_*/*.wav"))
    assert len(motions) == len(wavs) == 3 * sum(len(levels(e)) for e in EMOTIONS)
    sentences_by_subject: dict[str, set[str]] = {}
    for path in motions:
        subject, _, emotion, level, sentence = path.parts[-6:-1]
        assert re.fullmatch(r"[MW]0\d\d", subject) and emotion in EMOTIONS
        assert int(level.removeprefix("level_")) in levels(emotion)
        assert re.fullmatch(r"\d{3}", sentence)
        sentences_by_subject.setdefault(subject, set()).add(sentence)
        wav = corpus / "MEAD" / subject / "audio" / emotion / level / f"{sentence}.wav"
        assert wav.is_file()
        with h5py.File(path, "r") as fh:
            assert set(fh) == {"shape", "exp", "jaw", "global_pose", "cam"}
            num_frames = fh["exp"].shape[1]
            for name, dim in (
                ("shape", 300),
                ("exp", 100),
                ("jaw", 3),
                ("global_pose", 3),
                ("cam", 3),
            ):
                assert fh[name].shape == (1, num_frames, dim) and fh[name].dtype == np.float32
            shape = fh["shape"][0]
            assert np.allclose(shape, shape[0]) and np.abs(shape[0, :20]).max() > 0.1
            assert np.isfinite(fh["exp"][()]).all() and fh["jaw"][0, :, 0].max() > 0.05
    # speakers of different splits say different sentences
    train, test = splits["train"][0], splits["test"][0]
    assert not sentences_by_subject[train] & sentences_by_subject[test]


def test_audio_and_motion_lengths_agree_at_25_fps(corpus: Path) -> None:
    """A clip of N samples at 16 kHz has T = N / 640 = round(duration * 25) motion frames."""
    for wav_path in corpus.glob("MEAD/*/audio/*/level_*/*.wav"):
        subject, _, emotion, level = wav_path.parts[-5:-1]
        motion = (
            corpus
            / "EMICA-MEAD_flame2020"
            / subject
            / "front"
            / emotion
            / level
            / wav_path.stem
            / "shape_pose_cam.hdf5"
        )
        with wave.open(str(wav_path)) as fh:
            assert (fh.getframerate(), fh.getnchannels(), fh.getsampwidth()) == (16000, 1, 2)
            num_samples = fh.getnframes()
        with h5py.File(motion, "r") as fh:
            num_frames = fh["jaw"].shape[1]
        assert num_samples == 640 * num_frames
        assert num_frames == round(num_samples / 16000 * 25)
        assert 1.0 < num_samples / 16000 < 8.0


@pytest.mark.slow
def test_same_seed_same_bytes_with_any_number_of_workers(corpus: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    assert main(["synth", "--out", str(again), *ARGS, "--workers", "2"]) == 0
    assert _files(again) == _files(corpus)
    other = tmp_path / "other"
    args = [*ARGS[:-3], "--seed", "5", "--quiet", "--workers", "1"]
    assert main(["synth", "--out", str(other), *args]) == 0
    mine, theirs = _files(corpus), _files(other)
    assert mine.keys() != theirs.keys() or mine != theirs


def test_resume_completes_a_partial_corpus(corpus: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    for rel, data in _files(corpus).items():
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        (copy / rel).write_bytes(data)
    missing = sorted(copy.glob("MEAD/*/audio/*/level_*/*.wav"))[:3]
    for path in missing:
        path.unlink()
    (copy / "splits.json").unlink()
    assert main(["synth", "--out", str(copy), *ARGS, "--workers", "1"]) == 0
    assert _files(copy) == _files(corpus)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--identities", "2"], "--identities must be at least 3"),
        (["--sentences", "0"], "--sentences must be between 1"),
        (["--sentences", "99"], "--sentences must be between 1"),
    ],
)
def test_bad_numbers_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    out = tmp_path / "c"
    assert main(["synth", "--out", str(out), *extra, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists()


def test_foreign_or_different_output_folder_is_refused(
    corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "holiday.jpg").write_bytes(b"x")
    assert main(["synth", "--out", str(foreign), *ARGS]) == 2
    assert "not a synthetic corpus" in capsys.readouterr().err
    assert sorted(p.name for p in foreign.iterdir()) == ["holiday.jpg"]
    before = _files(corpus)
    assert main(["synth", "--out", str(corpus), "--identities", "4", "--quiet"]) == 2
    assert "other settings" in capsys.readouterr().err
    assert _files(corpus) == before
