"""Writing the synthetic corpus in 3DMEAD's on-disk layout (docs/specification.md §3), atomically
and byte-for-byte deterministically.

  <root>/EMICA-MEAD_flame2020/<SUBJ>/front/<emotion>/level_<k>/<NNN>/shape_pose_cam.hdf5
  <root>/MEAD/<SUBJ>/audio/<emotion>/level_<k>/<NNN>.wav      (16 kHz mono, 16-bit PCM)
  <root>/splits.json                                           {"train": [...], "val", "test"}
  <root>/synth.json                                            how the corpus was made
"""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np

from lsf_animation.constants import SAMPLE_RATE
from lsf_animation.errors import LsfError
from lsf_animation.io.atomic import atomic_path, atomic_write_bytes

RECONSTRUCTIONS = "EMICA-MEAD_flame2020"
AUDIO = "MEAD"
MANIFEST = "synth.json"
SPLITS = "splits.json"
DATASETS = ("shape", "exp", "jaw", "global_pose", "cam")


def motion_path(root: Path, subject: str, emotion: str, level: int, sentence: int) -> Path:
    """The hdf5 of one clip; `sentence` is 1-based (NNN)."""
    return (
        Path(root)
        / RECONSTRUCTIONS
        / subject
        / "front"
        / emotion
        / f"level_{level}"
        / f"{sentence:03d}"
        / "shape_pose_cam.hdf5"
    )


def audio_path(root: Path, subject: str, emotion: str, level: int, sentence: int) -> Path:
    """The wav of one clip; `sentence` is 1-based (NNN)."""
    return (
        Path(root) / AUDIO / subject / "audio" / emotion / f"level_{level}" / f"{sentence:03d}.wav"
    )


def write_motion_hdf5(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write the five datasets, each (1, T, D) float32, without timestamps (same bytes every
    time), to a temporary file renamed over `path`."""
    import h5py

    with (
        atomic_path(path, "a corpus file") as tmp,
        h5py.File(tmp, "w", libver="earliest", track_order=False) as fh,
    ):
        for name in DATASETS:
            data = np.ascontiguousarray(arrays[name], np.float32)[None]
            fh.create_dataset(name, data=data, track_times=False, compression="gzip", shuffle=True)


def write_wav(path: Path, audio: np.ndarray) -> None:
    """Write (N,) float audio in [-1, 1] as 16 kHz 16-bit PCM mono, atomically."""
    pcm = np.round(np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2")
    with atomic_path(path, "a WAV file") as tmp, wave.open(str(tmp), "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(SAMPLE_RATE)
        fh.writeframes(pcm.tobytes())


def write_text(path: Path, text: str) -> None:
    """Write UTF-8 text atomically (a clip's transcript beside its audio)."""
    atomic_write_bytes(path, text.encode("utf-8"), "a transcript")


def write_json(path: Path, data: object) -> None:
    """Write JSON (sorted keys, indented) atomically."""
    with atomic_path(path, "a JSON file") as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def prepare_root(root: Path, manifest: dict) -> None:
    """Make `root` ready for a corpus described by `manifest`.

    A missing or empty folder is fine; so is a previous corpus made with the same settings (its
    finished clips are kept: generation resumes). Anything else is refused, so that a mistyped
    --out never writes into, or next to, unrelated files.
    """
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise LsfError(f"--out {root} is a file; give a folder for the corpus")
    if root.is_dir() and any(root.iterdir()):
        existing = root / MANIFEST
        if not existing.is_file():
            raise LsfError(
                f"--out {root} is not empty and holds no {MANIFEST} (it is not a synthetic "
                "corpus): give a new or empty folder"
            )
        try:
            previous = json.loads(existing.read_text())
        except (OSError, ValueError) as err:
            raise LsfError(f"{existing} is unreadable ({err}): give a new or empty folder") from err
        if previous != manifest:
            raise LsfError(
                f"--out {root} holds a synthetic corpus made with other settings (see "
                f"{existing}): give a new or empty folder, or the same settings to resume"
            )
    write_json(root / MANIFEST, manifest)
