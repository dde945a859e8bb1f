"""`lsf-animation demo`: the main job on embedded defaults, with the packaged demo checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from lsf_animation.api import DEMO_CHECKPOINT, Animator
from lsf_animation.cli import main
from lsf_animation.data.synth.speakers import make_speakers
from lsf_animation.demo import DEMO_SCRIPT, animate_lines, demo_speech, run_demo
from lsf_animation.eval.lipsync import lagged_correlation, speech_envelope
from lsf_animation.export.motion_npz import load_motion
from lsf_animation.face.builtin import EXPRESSION_NAMES, builtin_face
from lsf_animation.face.measure import lip_aperture


@pytest.fixture(scope="module")
def speech():
    return demo_speech()


@pytest.fixture(scope="module")
def animation(speech):
    return animate_lines(Animator.from_checkpoint("demo"), speech, samples=3, seed=0)


def test_demo_checkpoint_is_small_and_packaged() -> None:
    assert DEMO_CHECKPOINT.stat().st_size < 20 * 2**20


def test_demo_speaker_is_unseen_and_says_each_scripted_emotion(speech) -> None:
    corpus_shapes = [s.shape for s in make_speakers(99, 0)]  # any default-seed corpus
    assert min(np.abs(speech.shape - s).max() for s in corpus_shapes) > 0.1
    assert [line["emotion"] for line in speech.lines] == [e for e, _, _ in DEMO_SCRIPT]
    assert len(speech.audio) == 640 * len(speech.reference)
    assert speech.lines[-1]["stop_s"] == pytest.approx(len(speech.reference) / 25)


def test_demo_model_opens_the_mouth_with_the_voice(speech, animation) -> None:
    frames = len(speech.reference)
    assert animation.motion.shape == (3, frames, 53)
    energy = speech_envelope(speech.audio, frames)
    jaw = animation.motion[0, :, 50]
    assert np.corrcoef(energy, jaw)[0, 1] > 0.4
    # and it follows this speaker's own jaw better than a constant would
    ref = speech.reference[:, 50]
    assert np.abs(jaw - ref).mean() < 0.6 * np.abs(ref - ref.mean()).mean()


def test_demo_model_takes_the_emotion_from_the_voice(speech, animation) -> None:
    """No labels reach the model: sad and surprised brows come from the voice alone."""

    def mean(emotion: str, name: str) -> float:
        line = next(line for line in speech.lines if line["emotion"] == emotion)
        a, b = round(line["start_s"] * 25), round(line["stop_s"] * 25)
        return float(animation.motion[:, a:b, EXPRESSION_NAMES.index(name)].mean())

    assert mean("sad", "brow_inner_raise") > mean("happy", "brow_inner_raise") + 0.3
    assert mean("surprised", "brow_outer_raise") > mean("happy", "brow_outer_raise") + 0.3
    assert mean("surprised", "brow_outer_raise") > mean("sad", "brow_outer_raise") + 0.3


def test_demo_samples_differ_but_the_seed_repeats(speech, animation) -> None:
    assert np.abs(animation.motion[0] - animation.motion[1]).mean() > 1e-4
    again = animate_lines(Animator.from_checkpoint("demo"), speech, samples=3, seed=0)
    np.testing.assert_array_equal(again.motion, animation.motion)


@pytest.mark.slow
def test_demo_writes_every_output(tmp_path: Path, speech) -> None:
    files = run_demo(tmp_path / "out", samples=2, size=128, progress=False)
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert names == {
        "speech.wav",
        "script.json",
        "reference.npz",
        "motion.npz",
        "vertices.npy",
        "animation.mp4",
        "heatmap_mean.png",
        "heatmap_std.png",
        "animation.glb",
    }
    frames = len(speech.reference)
    assert load_motion(files["motion"]).motion.shape == (2, frames, 53)
    np.testing.assert_allclose(load_motion(files["reference"]).motion[0], speech.reference)
    script = json.loads(files["script"].read_text())
    assert [line["text"] for line in script["lines"]] == [line["text"] for line in speech.lines]
    with av.open(str(files["video"])) as container:
        assert len(container.streams.audio) == 1
        assert sum(1 for _ in container.decode(video=0)) == frames


def test_demo_bad_options_exit_2_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "d"
    assert main(["demo", "--out", str(out), "--max-epochs", "1"]) == 2
    assert "go with --retrain" in capsys.readouterr().err
    assert main(["demo", "--out", str(out), "--retrain", "--checkpoint", "x.ckpt"]) == 2
    assert "leave out --checkpoint" in capsys.readouterr().err
    assert main(["demo", "--out", str(out), "--checkpoint", str(tmp_path / "none.ckpt")]) == 2
    assert "none.ckpt" in capsys.readouterr().err
    (tmp_path / "file").write_text("")
    assert main(["demo", "--out", str(tmp_path / "file" / "d")]) == 2
    assert "is a file" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.slow
def test_retrain_makes_a_checkpoint_the_demo_runs_with(tmp_path: Path) -> None:
    work, out = tmp_path / "work", tmp_path / "out"
    args = ["demo", "--retrain", "--work", str(work), "--out", str(out), "-q"]
    quick = ["--identities", "3", "--sentences", "1", "--max-epochs", "1", "--samples", "1"]
    assert main(args + quick) == 0
    assert (work / "demo.ckpt").is_file() and (out / "animation.mp4").is_file()
    first = (work / "demo.ckpt").read_bytes()
    assert main(args + quick) == 0  # a rerun finds every step done and changes nothing
    assert (work / "demo.ckpt").read_bytes() == first


def test_retrain_failure_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from lsf_animation.audio.extract import ExtractReport
    from lsf_animation.train import demo_recipe

    def failing_extract(corpus: Path, *args: object, **kwargs: object) -> ExtractReport:
        report = ExtractReport(files=1)
        report.failed.append((corpus / "a.wav", "decoder error"))
        return report

    monkeypatch.setattr(demo_recipe, "extract_corpus", failing_extract)
    args = ["demo", "--retrain", "--work", str(tmp_path / "w"), "--out", str(tmp_path / "o"), "-q",
            "--identities", "3", "--sentences", "1"]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: feature extraction failed")
    assert "a.wav: decoder error" in err[0] and not (tmp_path / "o").exists()


LIBRIVOX = Path(__file__).resolve().parents[2] / "shared" / "audio" / "librivox"
REAL_CLIPS = sorted(LIBRIVOX.glob("*.wav"))


@pytest.mark.skipif(not REAL_CLIPS, reason="no LibriVox clips beside the repository")
def test_animate_real_speech_with_no_checkpoint_uses_the_demo_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wav = REAL_CLIPS[0]
    assert main(["animate", str(wav), "--out", str(tmp_path), "--no-video", "--seed", "0"]) == 0
    assert "real-time factor" in capsys.readouterr().out
    motion = load_motion(tmp_path / "motion.npz")
    frames = round(sf.info(str(wav)).duration * 25)
    assert motion.motion.shape == (1, frames, 53)
    # the mouth follows the voice on real speech
    from lsf_animation.audio.load import load_audio

    face = builtin_face()
    aperture = lip_aperture(face, np.load(tmp_path / "vertices.npy"))
    envelope = speech_envelope(load_audio(wav), frames)
    # The model articulates phones rather than following loudness alone (this clip: r 0.38 at
    # the best lag; phone-level measures in tests/eval/test_real_speech_lips.py), and the mouth
    # opens with the voice.
    assert lagged_correlation(aperture, envelope).r_best > 0.3
