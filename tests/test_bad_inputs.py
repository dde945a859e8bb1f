"""Bad input through the command line (issue 17): each case is one line on stderr and exit
code 2, raised before any output is written (the output folder is not even created), never a
traceback; warnings are one plain line and say what really happens."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from lsf_animation.api import DEMO_CHECKPOINT, Animator
from lsf_animation.checkpoint import load_checkpoint
from lsf_animation.cli import main
from lsf_animation.errors import LsfError
from lsf_animation.face.load import load_face_model
from lsf_animation.face.motion import motion_vertices


def _speechlike(path: Path, seconds: float) -> Path:
    t = np.arange(round(seconds * 16000)) / 16000
    wave = 0.4 * np.clip(np.sin(2 * np.pi * 3.5 * t), 0, None) ** 2 * np.sin(2 * np.pi * 160 * t)
    sf.write(path, wave.astype(np.float32), 16000)
    return path


@pytest.fixture
def cli(capsys):
    """Run the CLI; returns (exit code, stderr lines that are not progress bars)."""

    def run(*argv: str) -> tuple[int, list[str]]:
        code = main([str(a) for a in argv])
        err = capsys.readouterr().err
        assert "Traceback" not in err, err
        lines = [ln for ln in err.replace("\r", "\n").splitlines() if ln.strip()]
        return code, [ln for ln in lines if not ln.lstrip().startswith(("video", "framing"))]

    return run


def _refused(cli, pattern: str, *argv: str) -> str:
    code, lines = cli(*argv)
    assert code == 2, lines
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert pattern in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> Path:
    return _speechlike(tmp_path_factory.mktemp("speech") / "speech.wav", 1.0)


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        (np.array(["0.1", "0.2"]), "has values of type <U3 where real numbers are expected"),
        (np.zeros(3, dtype=[("a", "f4"), ("b", "i4")]), "where real numbers are expected"),
        ("npz", "is an .npz archive, not a .npy array"),
    ],
    ids=["strings", "structured", "renamed-npz"],
)
def test_shape_files_that_are_not_numbers(cli, tmp_path, speech, array, expected):
    path = tmp_path / "shape.npy"
    if isinstance(array, str):
        np.savez(tmp_path / "shape.npz", shape=np.zeros(300))
        (tmp_path / "shape.npz").rename(path)
    else:
        np.save(path, array)
    out = tmp_path / "out"
    _refused(cli, expected, "animate", speech, "--shape", path, "--out", out)
    assert not out.exists()


@pytest.mark.parametrize(
    ("scale", "times", "unit"),
    [(1000.0, "1,000", "it looks like millimetres: multiply its coordinates by 0.001"),
     (1e6, "1,000,000", "scale it to metres"), (0.01, "0.01", "scale it to metres")],
)  # fmt: skip
def test_neutral_mesh_in_other_units(cli, tmp_path, speech, scale, times, unit):
    face = load_face_model("builtin")
    mesh = tmp_path / "mesh.npy"
    np.save(mesh, face.v_template * scale)
    out = tmp_path / "out"
    line = _refused(cli, "the face model is in metres", "animate", speech, "--neutral-mesh", mesh,
                    "--out", out)  # fmt: skip
    assert unit in line and f"is {times} times the size of face model 'builtin'" in line
    assert not out.exists()


def test_a_real_head_size_passes_the_scale_check(tmp_path):
    face = load_face_model("builtin")
    animator = Animator.from_checkpoint("demo")
    mesh = face.v_template * 1.3  # a large head, same units
    animation = animator.animate(np.zeros(3200, np.float32) + 1e-3, neutral_mesh=mesh, seed=0)
    assert animation.motion.shape == (1, 5, 53)


def _edited_checkpoint(tmp_path: Path, edit) -> Path:
    data = torch.load(DEMO_CHECKPOINT, weights_only=True)
    edit(data)
    path = tmp_path / "edited.ckpt"
    torch.save(data, path)
    return path


def test_checkpoint_with_nan_weights(cli, tmp_path, speech):
    def poison(data):
        name = next(k for k, v in data["state_dict"].items() if v.is_floating_point())
        data["state_dict"][name] = data["state_dict"][name].clone().fill_(float("nan"))

    path = _edited_checkpoint(tmp_path, poison)
    out = tmp_path / "out"
    line = _refused(cli, "contain NaN or infinite values", "animate", speech, "--checkpoint", path,
                    "--out", out)  # fmt: skip
    assert "use an earlier checkpoint" in line
    assert not out.exists()


@pytest.mark.parametrize(
    ("key", "value"),
    [("stage", "2"), ("stage", 3), ("model_config", ["not", "a", "dict"]),
     ("features", "offline-motion"), ("scaler", None)],
)  # fmt: skip
def test_hand_edited_metadata_is_refused_on_load(cli, tmp_path, speech, key, value):
    path = _edited_checkpoint(tmp_path, lambda data: data["lsf"].__setitem__(key, value))
    with pytest.raises(LsfError, match=rf"metadata of .*{key}"):
        load_checkpoint(path)
    out = tmp_path / "out"
    _refused(cli, key, "animate", speech, "--checkpoint", path, "--out", out)
    assert not out.exists()


def test_render_of_a_plain_npy(cli, tmp_path):
    np.save(tmp_path / "vertices.npy", np.zeros((10, 5, 3), np.float32))
    _refused(cli, "vertices.npy holds vertices, not motion", "render", tmp_path / "vertices.npy",
             "--out", tmp_path / "x.mp4")  # fmt: skip
    assert not (tmp_path / "x.mp4").exists()


@pytest.mark.parametrize(
    ("arrays", "expected"),
    [
        ({"fps": np.array("fast")}, "`fps` is <U4 of shape (), expected one number"),
        ({"fps": np.array([25.0, 30.0])}, "`fps` is float64 of shape (2,), expected one number"),
        ({"fps": np.array(-25.0)}, "expected a positive frame rate"),
        ({"motion": np.full((10, 53), "a")}, "`motion` has values of type <U1"),
        ({"shape": np.array(["x"] * 300)}, "where real numbers are expected"),
    ],
    ids=["fps-string", "fps-vector", "fps-negative", "motion-strings", "shape-strings"],
)
def test_render_of_a_malformed_motion_file(cli, tmp_path, arrays, expected):
    contents = {"motion": np.zeros((10, 53), np.float32), "shape": np.zeros(300, np.float32)}
    np.savez(tmp_path / "motion.npz", **{**contents, **arrays})
    _refused(cli, expected, "render", tmp_path / "motion.npz", "--out", tmp_path / "x.mp4")
    assert not (tmp_path / "x.mp4").exists()


def test_render_out_naming_a_folder_is_refused_before_rendering(cli, tmp_path, monkeypatch):
    np.savez(tmp_path / "motion.npz", motion=np.zeros((10, 53), np.float32))
    (tmp_path / "clip.mp4").mkdir()

    def no_work(*args, **kwargs):
        raise AssertionError("the motion was loaded before --out was checked")

    monkeypatch.setattr("lsf_animation.export.motion_npz.load_motion", no_work)
    clip = tmp_path / "clip.mp4"
    _refused(cli, "it is a folder", "render", tmp_path / "motion.npz", "--out", clip)
    assert list((tmp_path / "clip.mp4").iterdir()) == []


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["render", "M", "--out", "V", "--size", "100000"], "from 16 to 4096, got 100000"),
        (["render", "M", "--out", "V", "--size", "0"], "from 16 to 4096, got 0"),
        (["animate", "A", "--out", "O", "--samples", "10000000"], "1<=x<=100"),
        (["animate", "A", "--out", "O", "--seed", "99999999999999999999999"],
         "0<=x<=9223372036854775807"),
        (["animate", "A", "--out", "O", "--seed", "-1"], "0<=x<=9223372036854775807"),
        (["evaluate", "--checkpoint", "C", "--data", "D", "--samples", "1000000"], "1<=x<=100"),
        (["synth", "--out", "O", "--seed", "-5"], "0<=x<=9223372036854775807"),
        (["demo", "--out", "O", "--seed", "18446744073709551616"], "0<=x<=9223372036854775807"),
    ],
    ids=["render-size-huge", "render-size-zero", "animate-samples", "animate-seed-overflow",
         "animate-seed-negative", "evaluate-samples", "synth-seed", "demo-seed"],
)  # fmt: skip
def test_upper_bounds_are_one_line_errors(cli, tmp_path, speech, argv, expected):
    np.savez(tmp_path / "m.npz", motion=np.zeros((10, 53), np.float32))
    names = {"M": tmp_path / "m.npz", "A": speech, "O": tmp_path / "out", "C": tmp_path / "c",
             "D": tmp_path / "d", "V": tmp_path / "out" / "x.mp4"}  # fmt: skip
    (tmp_path / "out").mkdir()
    _refused(cli, expected, *[names.get(a, a) for a in argv])
    assert list((tmp_path / "out").iterdir()) == []


def test_training_seed_out_of_range(cli, tmp_path):
    _refused(cli, "trainer.seed must be a whole number from 0 to 4294967295", "train", "stage1",
             "--config", "demo", "--out", tmp_path / "run", "--set", "trainer.seed=99999999999")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("ms", [40, 45, 79])
def test_audio_shorter_than_two_frames_is_refused_first(cli, tmp_path, ms, monkeypatch):
    wav = _speechlike(tmp_path / "blip.wav", ms / 1000)

    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded before the audio was checked")

    monkeypatch.setattr(Animator, "from_checkpoint", no_model)
    out = tmp_path / "out"
    _refused(cli, "at least 80 ms (two video frames at 25 fps) is needed", "animate", wav,
             "--out", out)  # fmt: skip
    assert not out.exists()


def test_two_frames_of_audio_animate_with_every_output(cli, tmp_path):
    wav = _speechlike(tmp_path / "blip.wav", 0.08)
    code, lines = cli("animate", wav, "--out", tmp_path / "out", "--seed", "0")
    assert code == 0, lines
    assert (tmp_path / "out" / "heatmap_std.png").is_file()


def test_silent_audio_warns_in_one_true_line(cli, tmp_path):
    wav = tmp_path / "silence.wav"
    sf.write(wav, np.zeros(16000, np.float32), 16000)
    code, lines = cli("animate", wav, "--out", tmp_path / "out", "--no-video", "--seed", "0")
    assert code == 0
    warnings = [ln for ln in lines if "silent" in ln]
    assert len(warnings) == 1 and warnings[0].startswith("warning: audio file "), lines
    assert "the face will still move" in warnings[0]
    assert not any("warnings.warn" in ln or "SilentAudioWarning" in ln for ln in lines)


def test_the_demo_model_moves_the_face_on_silence_as_the_warning_says():
    animator = Animator.from_checkpoint("demo")
    face = animator.face
    lips = face.regions["lips"]
    typical, peaks = [], []
    for seed in range(3):
        animation = animator.animate(np.zeros(16000 * 5, np.float32), seed=seed)
        v = motion_vertices(face, animation.motion_file, 0)
        moved = 1000 * np.linalg.norm(v[:, lips] - face.v_template[lips], axis=2)  # mm
        typical.append(np.median(moved.max(axis=1)))
        peaks.append(moved.max())
    # "about 5 mm in a typical frame, up to about 2 cm"
    assert 2.5 < np.mean(typical) < 10.0, typical
    assert 5.0 < max(peaks) < 30.0, peaks


def test_corpus_files_and_cache_entries_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        root = tmp_path / "corpus"
        assert main(["synth", "--out", str(root), "--identities", "3", "--sentences", "1",
                     "--quiet", "--workers", "1"]) == 0  # fmt: skip
        cache = tmp_path / "cache"
        assert main(["extract", "--data", str(root), "--features", "offline-prosody",
                     "--cache", str(cache), "--workers", "1", "-q"]) == 0  # fmt: skip
    finally:
        os.umask(old)
    written = [p for folder in (root, cache) for p in folder.rglob("*") if p.is_file()]
    assert len(written) > 100
    modes = {oct(p.stat().st_mode & 0o777) for p in written}
    assert modes == {"0o644"}, modes
