"""Nothing is lost (issue 17): an export never deletes what it did not write, and the hidden
temporaries of killed runs are removed by the next run into the same folder, but never those
of a live process or of another machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lsf_animation.api import Animation, write_animation
from lsf_animation.errors import LsfError
from lsf_animation.face.load import load_face_model
from lsf_animation.face.motion import MotionFile
from lsf_animation.io import atomic
from lsf_animation.io.atomic import (
    atomic_write_bytes,
    make_staging_folder,
    remove_stale,
    temporary_sibling,
)


@pytest.fixture(scope="module")
def animation() -> Animation:
    motion = np.zeros((1, 6, 53), np.float32)
    motion[0, :, 50] = np.linspace(0.0, 0.2, 6)
    return Animation(MotionFile(motion, np.zeros(300, np.float32)), load_face_model("builtin"))


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return int(proc.stdout)


def test_obj_folder_with_the_users_files_is_refused_before_anything_is_written(
    tmp_path, animation
):
    own = tmp_path / "obj" / "my_model.obj"
    own.parent.mkdir()
    own.write_text("v 0 0 0\n")
    with pytest.raises(LsfError, match=r"obj already exists and it holds files that are not OBJ"):
        write_animation(animation, tmp_path, video=False, obj=True)
    assert own.read_text() == "v 0 0 0\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["obj"]  # nothing else written
    assert [p.name for p in own.parent.iterdir()] == ["my_model.obj"]


def test_an_earlier_obj_export_is_replaced_whole(tmp_path, animation):
    old = tmp_path / "obj"
    old.mkdir()
    for i in range(9):  # a longer earlier export: its extra frames must not linger
        (old / f"frame_{i:05d}.obj").write_text("old")
    write_animation(animation, tmp_path, video=False, obj=True)
    frames = sorted(p.name for p in old.iterdir())
    assert frames == [f"frame_{i:05d}.obj" for i in range(6)]
    assert all(p.read_text() != "old" for p in old.iterdir())


def test_a_folder_named_like_an_output_file_is_refused(tmp_path, animation):
    (tmp_path / "motion.npz").mkdir()
    (tmp_path / "motion.npz" / "keep.txt").write_text("mine")
    with pytest.raises(LsfError, match=r"motion.npz already exists and it is a folder"):
        write_animation(animation, tmp_path, video=False)
    assert (tmp_path / "motion.npz" / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["motion.npz"]


def test_stale_temporaries_of_killed_processes_are_removed_and_no_others(tmp_path, monkeypatch):
    dead, host = _dead_pid(), atomic._host()
    stale_dir = tmp_path / f".partial-{host}-{dead}-0123456789ab"
    stale_file = tmp_path / f".animation.mp4.{host}-{dead}-0123456789ab.part"
    stale_old = tmp_path / f".obj.{host}-{dead}-0123456789ab.old"
    live = make_staging_folder(tmp_path)  # this process: alive
    live_file = temporary_sibling(tmp_path / "vertices.npy")
    other_host = tmp_path / f".partial-otherhost{host}-{dead}-0123456789ab"
    not_ours = [tmp_path / ".partial-stuff", tmp_path / f".x.{host}-{dead}-short.part",
                tmp_path / "notes.part"]  # fmt: skip
    stale_dir.mkdir()
    (stale_dir / "animation.mp4").write_bytes(b"x" * 1000)
    for path in (stale_file, stale_old, live_file, *not_ours):
        path.write_bytes(b"x")
    other_host.mkdir()
    removed = remove_stale(tmp_path)
    assert sorted(removed) == sorted([stale_dir, stale_file, stale_old])
    left = {p.name for p in tmp_path.iterdir()}
    assert left == {live.name, live_file.name, other_host.name, *(p.name for p in not_ours)}


def test_every_atomic_write_and_export_cleans_its_folder_first(tmp_path, animation):
    dead, host = _dead_pid(), atomic._host()
    stale = tmp_path / f".partial-{host}-{dead}-0123456789ab"
    stale.mkdir()
    (stale / "vertices.npy").write_bytes(b"x" * 100)
    write_animation(animation, tmp_path, video=False)
    assert not stale.exists()
    part = tmp_path / "sub" / f".a.bin.{host}-{dead}-0123456789ab.part"
    part.parent.mkdir()
    part.write_bytes(b"x")
    atomic_write_bytes(tmp_path / "sub" / "b.bin", b"data")
    assert sorted(p.name for p in part.parent.iterdir()) == ["b.bin"]


def test_outputs_follow_the_umask(tmp_path, animation):
    old = os.umask(0o022)
    try:
        files = write_animation(animation, tmp_path / "out", video=False, obj=True)
    finally:
        os.umask(old)
    for path in files.values():
        assert path.stat().st_mode & 0o777 == (0o755 if path.is_dir() else 0o644), path
    assert (Path(files["obj"]) / "frame_00000.obj").stat().st_mode & 0o777 == 0o644
