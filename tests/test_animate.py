"""Inference: `Animator` / `animate` and the `lsf-animation animate` command, on a tiny stage-2
checkpoint trained once per session on a small synthetic corpus (demo config at tiny sizes)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from fixtures_train import TINY_MODEL
from lsf_animation import api
from lsf_animation.api import Animator
from lsf_animation.audio.features import get_extractor
from lsf_animation.audio.load import load_audio
from lsf_animation.cli import main
from lsf_animation.errors import LsfError
from lsf_animation.face.identity_files import read_obj_vertices
from lsf_animation.face.load import load_face_model
from lsf_animation.inference import num_output_frames, window_audio, windowed_motion
from lsf_animation.render import video as render_video

DEMO = Path(__file__).resolve().parents[1] / "configs" / "demo.yaml"


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """{"stage1", "stage2": model.ckpt paths, "wav": a corpus utterance}."""
    root = tmp_path_factory.mktemp("animate")
    corpus, cache, out = root / "corpus", root / "cache", root / "run"
    assert main(["synth", "--out", str(corpus), "--identities", "3", "--sentences", "1", "-q"]) == 0
    assert main(["extract", "--data", str(corpus), "--config", str(DEMO),
                 "--cache", str(cache), "-q"]) == 0  # fmt: skip
    sets = [a for s in [*TINY_MODEL, "data.batch_size=8"] for a in ("--set", s)]
    common = ["--config", str(DEMO), "--data", str(corpus), "--cache", str(cache),
              "--out", str(out), "-q", *sets]  # fmt: skip
    assert main(["train", "stage1", *common, "--max-epochs", "1"]) == 0
    assert main(["train", "stage2", *common, "--max-epochs", "1"]) == 0
    wav = max(corpus.rglob("*.wav"), key=lambda p: p.stat().st_size)
    return {"stage1": out / "stage1" / "model.ckpt", "stage2": out / "stage2" / "model.ckpt",
            "wav": wav}  # fmt: skip


@pytest.fixture(scope="session")
def animator(trained: dict[str, Path]) -> Animator:
    return Animator.from_checkpoint(trained["stage2"])


@pytest.fixture(scope="session")
def speech(trained: dict[str, Path]) -> np.ndarray:
    return load_audio(trained["wav"])


# --- windowing, model-independent -------------------------------------------------------------


def test_windows_cover_every_frame_with_bounded_slices_and_crossfade_smoothly() -> None:
    n = 16000 * 61 + 333  # 61.02 s
    seen: list[tuple[int, int]] = []
    offsets = iter([0.0, 10.0, 20.0, 30.0, 40.0])

    def predict(piece: np.ndarray, frames: int, start: int) -> np.ndarray:
        seen.append((len(piece), frames))
        # constant per window, so any jump between windows would show as a step
        return np.full((2, frames, 3), next(offsets), np.float32)

    motion = windowed_motion(np.zeros(n, np.float32), predict, window_frames=500, overlap_frames=50)
    assert motion.shape == (2, round(n / 640), 3)
    assert all(frames <= 500 and length == frames * 640 + 80 for length, frames in seen)
    step = np.abs(np.diff(motion[0, :, 0]))
    # 10 units spread over each >= 50-frame overlap: no frame-to-frame step above 10 / 50
    assert step.max() <= 10 / 50 + 1e-5
    assert motion[0, 0, 0] == 0 and motion[0, -1, 0] == 10.0 * (len(seen) - 1)
    offsets = iter([0.0, 10.0, 20.0, 30.0, 40.0])
    hard_cut = windowed_motion(np.zeros(n, np.float32), predict, 500, 0)
    assert np.abs(np.diff(hard_cut[0, :, 0])).max() == 10.0  # what the cross-fade removes


def test_window_progress_counts_every_frame_once(capsys: pytest.CaptureFixture[str]) -> None:
    n = 16000 * 61 + 333

    def predict(piece: np.ndarray, frames: int, start: int) -> np.ndarray:
        return np.full((1, frames, 3), start, np.float32)

    quiet = windowed_motion(np.zeros(n, np.float32), predict, 500, 50)
    assert capsys.readouterr().err == ""
    shown = windowed_motion(np.zeros(n, np.float32), predict, 500, 50, progress=True)
    np.testing.assert_array_equal(shown, quiet)
    total = round(n / 640)
    assert "animate: 100%" in (err := capsys.readouterr().err) and f" {total}/{total} " in err


def test_frame_count_is_rounded_duration_times_25() -> None:
    assert num_output_frames(16000) == 25
    assert num_output_frames(16000 + 319) == 25
    assert num_output_frames(16000 + 320) == 26  # 0.5 frame rounds up
    piece = window_audio(np.ones(1000, np.float32), 0, 2)
    assert len(piece) == 2 * 640 + 80 and piece[:1000].all() and not piece[1000:].any()


# --- Animator ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_animate_gives_round_duration_frames_in_flame_units(
    animator: Animator, speech: np.ndarray
) -> None:
    cases = [(len(speech), int(len(speech) / 640 + 0.5)), (16017, 25), (32320, 51)]
    for n, frames in cases:  # 32320 samples = 50.5 frames: halves round up
        anim = animator.animate(np.resize(speech, n), seed=0)
        assert anim.motion.shape == (1, frames, 53) and anim.motion.dtype == np.float32
        assert anim.fps == 25
    assert np.isfinite(anim.motion).all()
    vertices = anim.vertices()
    assert vertices.shape == (anim.motion.shape[1], anim.face_model().num_vertices, 3)


@pytest.mark.slow
def test_samples_are_reproducible_by_seed_and_differ_between_seeds(
    animator: Animator, speech: np.ndarray
) -> None:
    a = animator.animate(speech, num_samples=3, temperature=1.0, seed=1).motion
    b = animator.animate(speech, num_samples=3, temperature=1.0, seed=1).motion
    c = animator.animate(speech, num_samples=3, temperature=1.0, seed=2).motion
    assert a.shape[0] == 3
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.slow
def test_short_audio_matches_one_direct_model_pass(animator: Animator, speech: np.ndarray) -> None:
    anim = animator.animate(speech, temperature=0.0)
    t = round(len(speech) / 640)
    padded = np.pad(speech, (0, max(0, t * 640 + 80 - len(speech))))
    feats = {r: torch.from_numpy(ex(padded))[None] for r, ex in animator.extractors.items()}
    with torch.no_grad():
        out = animator.model(feats["motion"], feats.get("emotion"), torch.zeros(1, 300),
                             num_frames=t)  # fmt: skip
    expected = animator.scaler.inverse(out[0].numpy())
    np.testing.assert_allclose(anim.motion[0], expected, atol=1e-5)


@pytest.mark.slow
def test_long_audio_is_windowed_with_exact_frames(animator: Animator, speech: np.ndarray) -> None:
    # 14 s in 4 s windows: several windows and a shifted last one; the cross-fade itself is
    # tested model-free above
    n = 16000 * 14 + 123
    anim = animator.animate(np.resize(speech, n), temperature=0.0, window_seconds=4.0,
                            overlap_seconds=1.0)  # fmt: skip
    assert anim.motion.shape == (1, round(n / 640), 53)
    assert np.isfinite(anim.motion).all()


def test_bad_shapes_are_refused(animator: Animator, speech: np.ndarray) -> None:
    short = speech[:16000]
    with pytest.raises(LsfError, match="at most 300"):
        animator.animate(short, shape=np.zeros(301))
    with pytest.raises(LsfError, match="NaN"):
        animator.animate(short, shape=np.full(10, np.nan))
    with pytest.raises(LsfError, match="vertices"):
        animator.animate(short, neutral_mesh=np.zeros((5, 3)))


@pytest.mark.slow
def test_neutral_mesh_is_fitted_to_the_face_shape(animator: Animator, speech: np.ndarray) -> None:
    face = animator.face
    beta = np.zeros(face.num_shape)
    beta[:3] = [1.0, -0.5, 0.25]
    mesh = face.v_template + face.shapedirs[:, :, : face.num_shape] @ beta
    anim = animator.animate(speech[:16000], neutral_mesh=mesh, seed=0)
    np.testing.assert_allclose(anim.shape[:3], beta[:3], atol=1e-3)
    assert anim.shape.shape == (300,)


def test_stage1_unreadable_and_missing_demo_checkpoints_are_refused(
    trained: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(LsfError, match="stage 2"):
        Animator.from_checkpoint(trained["stage1"])
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(LsfError, match="cannot read checkpoint"):
        Animator.from_checkpoint(junk)
    monkeypatch.setattr(api, "DEMO_CHECKPOINT", tmp_path / "absent" / "demo.ckpt")
    with pytest.raises(LsfError, match=r"demo checkpoint .* is missing.*demo --retrain"):
        Animator.from_checkpoint("demo")


def test_feature_fingerprint_mismatch_is_refused(trained: dict[str, Path], tmp_path: Path) -> None:
    data = torch.load(trained["stage2"], map_location="cpu", weights_only=True)
    data["lsf"]["features"]["motion"]["fingerprint"] = "0123456789abcdef"
    torch.save(data, tmp_path / "other.ckpt")
    with pytest.raises(LsfError, match=r"offline-phonetic.*0123456789abcdef"):
        Animator.from_checkpoint(tmp_path / "other.ckpt")


def test_obj_reader_reads_vertex_lines(tmp_path: Path) -> None:
    path = tmp_path / "m.obj"
    path.write_text("# c\nv 1 2 3\nvn 0 0 1\nv 4 5 6 0.5 0.5 0.5\nf 1 2 2\n")
    np.testing.assert_array_equal(read_obj_vertices(path), [[1, 2, 3], [4, 5, 6]])
    path.write_text("v 1 2\n")
    with pytest.raises(LsfError, match="x y z"):
        read_obj_vertices(path)


# --- CLI --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_cli_writes_every_output_and_prints_the_real_time_factor(
    trained: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mesh = tmp_path / "neutral.obj"
    v = load_face_model("builtin").v_template
    mesh.write_text("".join(f"v {x} {y} {z}\n" for x, y, z in v))
    out = tmp_path / "out"
    ck = ["--checkpoint", str(trained["stage2"])]
    args = ["animate", str(trained["wav"]), *ck, "--out", str(out), "--neutral-mesh", str(mesh),
            "--samples", "2", "--seed", "3", "--obj"]  # fmt: skip
    assert main(args) == 0
    printed, shown = capsys.readouterr()
    assert "real-time factor:" in printed and "animate: 100%" in shown
    names = sorted(p.name for p in out.iterdir())
    assert names == ["animation.mp4", "heatmap_mean.png", "heatmap_std.png", "motion.npz", "obj",
                     "vertices.npy"]  # fmt: skip
    with np.load(out / "motion.npz") as f:
        t = round(len(load_audio(trained["wav"])) / 640)
        assert f["motion"].shape == (2, t, 53) and f["shape"].shape == (300,) and f["fps"] == 25
    assert np.load(out / "vertices.npy").shape == (t, len(v), 3)
    assert len(list((out / "obj").glob("*.obj"))) == t
    assert (out / "animation.mp4").stat().st_size > 1000


def test_a_failed_write_leaves_the_output_folder_as_it_was(
    animator: Animator, speech: np.ndarray, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    anim = animator.animate(speech[:16000], seed=0)

    def broken(*args: object, **kwargs: object) -> None:
        raise LsfError("encoder failed")

    monkeypatch.setattr(render_video, "write_face_video", broken)
    with pytest.raises(LsfError, match="encoder failed"):
        api.write_animation(anim, tmp_path / "new" / "out")
    assert not (tmp_path / "new" / "out").exists()
    old = tmp_path / "old"
    old.mkdir()
    (old / "motion.npz").write_bytes(b"previous run")
    with pytest.raises(LsfError, match="encoder failed"):
        api.write_animation(anim, old)
    assert [p.name for p in old.iterdir()] == ["motion.npz"]
    assert (old / "motion.npz").read_bytes() == b"previous run"
    files = api.write_animation(anim, old, video=False)
    assert sorted(files) == ["heatmap_mean", "heatmap_std", "motion", "vertices"]
    assert sorted(p.name for p in old.iterdir()) == sorted(p.name for p in files.values())


def _bad(tmp_path: Path, trained: dict[str, Path]) -> dict[str, list[str]]:
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros(301))
    nan = tmp_path / "nan.npy"
    np.save(nan, np.full(300, np.nan))
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"\x00" * 100)
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    ck = ["--checkpoint", str(trained["stage2"])]
    wav = str(trained["wav"])
    return {
        "shape": ["animate", wav, *ck, "--shape", str(wrong)],
        "NaN": ["animate", wav, *ck, "--shape", str(nan)],
        "cannot read checkpoint": ["animate", wav, "--checkpoint", str(junk)],
        "stage 2": ["animate", wav, "--checkpoint", str(trained["stage1"])],
        "is a file": ["animate", wav, *ck, "--out", str(a_file / "sub")],
        "audio file not found": ["animate", str(tmp_path / "missing.wav"), *ck],
    }


@pytest.mark.parametrize(
    "case",
    [
        "shape",
        "NaN",
        "cannot read checkpoint",
        "stage 2",
        "is a file",
        "audio file not found",
    ],
)
def test_cli_bad_inputs_exit_2_with_one_line_and_write_nothing(
    case: str,
    trained: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    args = _bad(tmp_path, trained)[case]
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # the default --out would land here
    assert main([*args, "--no-video"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and case in err[0]
    assert list(work.iterdir()) == []


def test_animate_gltf_and_arkit_outputs_are_ready_for_the_viewer(
    trained: dict[str, Path], tmp_path: Path
) -> None:
    from lsf_animation.face.arkit import ARKIT_NAMES
    from lsf_animation.web.server import ViewerServer

    out = tmp_path / "out"
    args = ["animate", str(trained["wav"]), "--checkpoint", str(trained["stage2"]), "--out",
            str(out), "--no-video", "--samples", "2", "--gltf", "--arkit"]  # fmt: skip
    assert main(args) == 0
    names = {p.name for p in out.iterdir()}
    assert {"animation.glb", "arkit.csv", "arkit.json", trained["wav"].name} <= names
    doc = json.loads((out / "arkit.json").read_text())
    assert (
        doc["names"] == list(ARKIT_NAMES)
        and doc["frames"] == np.load(out / "vertices.npy").shape[0]
    )
    manifest = ViewerServer(out).manifest  # what `lsf-animation view OUT` serves
    assert manifest.glb.name == "animation.glb" and manifest.audio is not None
    assert manifest.audio.name == trained["wav"].name


def test_arkit_needs_targets_on_flame_and_says_so_before_any_work(
    trained: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fixtures_flame import random_flame_arrays, write_flame_pickle

    flame = write_flame_pickle(tmp_path / "generic_model.pkl", random_flame_arrays())
    out = tmp_path / "out"
    base = ["animate", str(trained["wav"]), "--checkpoint", str(trained["stage2"]), "--out",
            str(out), "--no-video"]  # fmt: skip
    assert main([*base, "--face", str(flame), "--arkit"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no ARKit targets" in err[0] and "--arkit-targets" in err[0]
    assert main([*base, "--arkit-targets", str(tmp_path)]) == 2
    assert "goes with --arkit" in capsys.readouterr().err
    assert not out.exists()


def test_view_serves_the_folder_on_loopback_until_stopped(tmp_path: Path) -> None:
    import subprocess
    import sys
    import urllib.request

    from lsf_animation.export.gltf import write_glb
    from lsf_animation.face.builtin import builtin_face

    write_glb(tmp_path / "animation.glb", builtin_face(), np.zeros((1, 5, 53)), None, 25.0)
    proc = subprocess.Popen(
        [sys.executable, "-m", "lsf_animation.cli", "view", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        url = line.split()[1]
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url, timeout=10) as page:
            assert page.status == 200 and b"<html" in page.read().lower()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert main(["view", str(tmp_path / "nowhere")]) == 2


def test_transcript_aligns_the_phones_from_text_or_file(
    trained: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`animate --transcript` (the demo config's motion stream is offline-phonetic): the words
    as text or as a file give the same motion, other motion than recognition; a word missing
    from the dictionary is one line, exit 2, nothing written."""
    wav = trained["wav"]
    text_file = wav.with_suffix(".txt")  # synth writes each clip's words beside it
    common = ["animate", str(wav), "--checkpoint", str(trained["stage2"]), "--no-video",
              "--seed", "0"]  # fmt: skip
    motions = []
    for name, transcript in (("text", text_file.read_text()), ("file", str(text_file))):
        assert main([*common, "--out", str(tmp_path / name), "--transcript", transcript]) == 0
        motions.append(np.load(tmp_path / name / "motion.npz")["motion"])
    np.testing.assert_array_equal(motions[0], motions[1])
    assert main([*common, "--out", str(tmp_path / "recognized")]) == 0
    recognized = np.load(tmp_path / "recognized" / "motion.npz")["motion"]
    assert recognized.shape == motions[0].shape and not np.array_equal(recognized, motions[0])
    capsys.readouterr()
    assert main([*common, "--out", str(tmp_path / "bad"), "--transcript", "xqzzyv blorfk"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "pronouncing dictionary" in err[0]
    assert not (tmp_path / "bad").exists()


def test_recognizer_choice_at_inference(
    trained: dict[str, Path], speech: np.ndarray, tmp_path: Path
) -> None:
    """The demo config recognizes words and aligns them; `recognizer="allphone"` (`animate
    --recognizer allphone`) decodes the phones directly for the same model: other phones, other
    motion; naming the checkpoint's own recognizer changes nothing."""
    fresh = Animator.from_checkpoint(trained["stage2"])
    own = fresh.animate(speech, seed=0).motion
    np.testing.assert_array_equal(fresh.animate(speech, seed=0, recognizer="words").motion, own)
    allphone = fresh.animate(speech, seed=0, recognizer="allphone").motion
    assert allphone.shape == own.shape and not np.array_equal(allphone, own)
    common = ["animate", str(trained["wav"]), "--checkpoint", str(trained["stage2"]),
              "--no-video", "--seed", "0", "--out"]  # fmt: skip
    assert main([*common, str(tmp_path / "a"), "--recognizer", "allphone"]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "a" / "motion.npz")["motion"], allphone)
    with pytest.raises(LsfError, match="recognizer must be one of allphone, words"):
        fresh.animate(speech, recognizer="neural")
    fresh.extractors = {**fresh.extractors, "motion": get_extractor("offline-motion")}
    with pytest.raises(LsfError, match="the recognizer applies only to a model whose motion"):
        fresh.animate(speech, recognizer="words")
    with pytest.raises(LsfError, match="leave out the transcript"):
        fresh.animate(speech, transcript="hello")
