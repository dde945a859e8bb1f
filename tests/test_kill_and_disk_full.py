"""The command line under SIGTERM, SIGKILL and a full disk (issue 17).

SIGTERM (timeouts, `docker stop`) unwinds like Ctrl-C: every cleanup runs, the command says so
in one line and exits with 143, and no hidden partial output is left. SIGKILL cannot be
handled, so its leftovers are removed by the next run into the same folder. A full disk (a
small tmpfs mounted in a private user and mount namespace, skipped where the system does not
allow one) is one line naming what, where and how much, exit code 2, and leaves nothing behind.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lsf_animation.cli import main
from lsf_animation.export.motion_npz import save_motion
from lsf_animation.face.motion import MotionFile

CLI = [sys.executable, "-m", "lsf_animation.cli"]


def _speechlike(path: Path, seconds: float, pitch: float = 160.0) -> Path:
    t = np.arange(int(seconds * 16000)) / 16000
    envelope = np.clip(np.sin(2 * np.pi * 3.5 * t), 0, None) ** 2
    sf.write(path, (0.4 * envelope * np.sin(2 * np.pi * pitch * t)).astype(np.float32), 16000)
    return path


def _motion_file(path: Path, frames: int) -> Path:
    t = np.arange(frames)[:, None]
    motion = (0.5 * np.sin(0.2 * t + np.arange(53))).astype(np.float32)
    motion[:, 50] = 0.1 + 0.1 * np.sin(0.4 * t[:, 0])
    motion[:, 51:] = 0.0
    save_motion(path, MotionFile(motion[None], np.zeros(300, np.float32)))
    return path


def _hidden(folder: Path) -> list[str]:
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def _one_line_error(stderr: str, start: str) -> str:
    assert "Traceback" not in stderr, stderr[-3000:]
    last = [line for line in stderr.replace("\r", "\n").splitlines() if line.strip()][-1]
    assert last.startswith(start), stderr[-3000:]
    return last


def _start_and_wait_for(cmd: list[str], appeared, timeout: float = 120) -> subprocess.Popen:
    """Start `cmd`, return once `appeared()` is true (the process is mid-way)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip
    deadline = time.monotonic() + timeout
    while not appeared():
        if proc.poll() is not None:
            raise AssertionError(f"finished too early ({proc.returncode}): {proc.stderr.read()}")
        assert time.monotonic() < deadline, "the run did not get there in time"
        time.sleep(0.02)
    return proc


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> Path:
    return _speechlike(tmp_path_factory.mktemp("audio") / "speech.wav", 40.0)


@pytest.mark.slow
def test_sigterm_during_animate_cleans_up_and_says_so(tmp_path, speech):
    out = tmp_path / "out"
    proc = _start_and_wait_for(
        [*CLI, "animate", str(speech), "--out", str(out)],
        lambda: any(n.startswith(".partial-") for n in _hidden(out)),
    )
    time.sleep(0.5)  # inside the export (vertices, heatmaps, video)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143
    assert "terminated" in _one_line_error(stderr, "terminated (SIGTERM)")
    assert not out.exists()  # the run created it, so it is removed again


@pytest.mark.slow
def test_sigterm_during_render_leaves_no_partial_video(tmp_path):
    motion = _motion_file(tmp_path / "motion.npz", 3000)
    mp4 = tmp_path / "videos" / "long.mp4"
    mp4.parent.mkdir()
    proc = _start_and_wait_for(
        [*CLI, "render", str(motion), "--out", str(mp4), "--size", "64"],
        lambda: bool(_hidden(mp4.parent)),
    )
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143
    _one_line_error(stderr, "terminated (SIGTERM)")
    assert list(mp4.parent.iterdir()) == []


@pytest.mark.slow
def test_the_next_run_removes_what_a_sigkill_left(tmp_path, speech):
    out = tmp_path / "out"
    out.mkdir()
    proc = _start_and_wait_for(
        [*CLI, "animate", str(speech), "--out", str(out)],
        lambda: any(n.startswith(".partial-") for n in _hidden(out)),
    )
    time.sleep(0.5)
    proc.kill()
    proc.communicate()
    left = _hidden(out)
    assert left, "SIGKILL leaves the staging folder behind (nothing can remove it then)"
    short = _speechlike(tmp_path / "short.wav", 2.0)
    assert main(["animate", str(short), "--out", str(out), "--no-video", "--seed", "0"]) == 0
    assert _hidden(out) == []
    assert (out / "motion.npz").is_file()


def _tmpfs_works() -> bool:
    if shutil.which("unshare") is None or sys.platform != "linux":
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"],
        capture_output=True,
    )
    return probe.returncode == 0


needs_tmpfs = pytest.mark.skipif(
    not _tmpfs_works(), reason="no user namespaces to mount a small tmpfs (a full disk) in"
)


def run_on_small_disk(mount: Path, size: str, commands: list[list[str]]) -> list[tuple]:
    """Run CLI `commands` one after the other with a tmpfs of `size` mounted on `mount` (in a
    private mount namespace; gone afterwards). Returns (exit code, stdout, stderr, files on the
    tmpfs with their sizes, checkpoints there that do not load) of each."""
    mount.mkdir(exist_ok=True)
    script = Path(__file__).with_name("small_disk_runner.py")
    argv = ["unshare", "-rm", sys.executable, str(script), str(mount), size]
    argv += [a for cmd in commands for a in ("--", *cmd)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    import json

    return [tuple(r) for r in json.loads(done.stdout.strip().splitlines()[-1])]


@needs_tmpfs
@pytest.mark.slow
def test_disk_full_while_the_video_is_written(tmp_path):
    wav = _speechlike(tmp_path / "ten.wav", 10.0)
    disk = tmp_path / "disk"
    # motion.npz and the heatmaps (about 170 kB) fit, the 250 kB video does not
    (code, _, stderr, files, _), = run_on_small_disk(
        disk, "300k", [["animate", str(wav), "--out", str(disk / "out"), "--no-vertices"]]
    )
    assert code == 2
    line = _one_line_error(stderr, "error: cannot write the video to")
    assert re.search(r"the disk is full \([\d.]+ [kM]B written before it filled; [\d.]+ [kM]B "
                     r"free there now\)", line), line
    assert files == {}  # nothing half-written left, not even the folder it created


@needs_tmpfs
@pytest.mark.slow
def test_disk_full_in_render_and_in_the_vertices(tmp_path):
    motion = _motion_file(tmp_path / "motion.npz", 250)
    wav = _speechlike(tmp_path / "ten.wav", 10.0)
    disk = tmp_path / "disk"
    (render_code, _, render_err, after_render, _), (code, _, stderr, after, _) = run_on_small_disk(
        disk, "64k", [["render", str(motion), "--out", str(disk / "x.mp4")],
                      ["animate", str(wav), "--out", str(disk / "out"), "--no-video"]],
    )  # fmt: skip
    assert render_code == 2 and after_render == {}
    _one_line_error(render_err, "error: cannot write the video to")
    assert code == 2 and after == {}
    assert "the disk is full" in _one_line_error(stderr, "error: cannot write")


@needs_tmpfs
@pytest.mark.slow
def test_disk_full_in_extract_and_synth(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(12):
        _speechlike(corpus / f"clip{i:02d}.wav", 2.0, pitch=120.0 + 10 * i)
    disk = tmp_path / "disk"
    extract = ["extract", "--data", str(corpus), "--features", "offline-motion",
               "--cache", str(disk / "cache"), "--workers", "1", "-q"]  # fmt: skip
    synth = ["synth", "--out", str(disk / "synthetic"), "--identities", "3", "--sentences", "1",
             "--workers", "1", "-q"]  # fmt: skip
    (code, _, err, left, _), (code2, _, err2, left2, _) = run_on_small_disk(
        disk, "40k", [extract, ["@remount", "40k"], synth]
    )
    assert code == 2 and not any(Path(name).name.startswith(".") for name in left)
    line = _one_line_error(err, "error: cannot write speech features to")
    assert "the disk is full" in line and "run extract again" in line
    assert code2 == 2
    assert "the disk is full" in _one_line_error(err2, "error: cannot write")
    assert not any(Path(name).name.startswith(".") for name in left2)  # no temporaries
