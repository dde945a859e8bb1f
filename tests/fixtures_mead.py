"""Tiny 3DMEAD corpora in the real on-disk formats, written by tests into tmp_path.

- `write_emica_hdf5`: EMICA's `shape_pose_cam.hdf5` (shape (1,T,300), exp (1,T,100), jaw (1,T,3),
  global_pose (1,T,3), cam (1,T,3), float32).
- `write_wav` / `write_m4a`: 16 kHz mono tones (m4a = AAC in an MP4 container, as MEAD ships).
- `make_mead_corpus`: `<root>/EMICA-MEAD_flame2020/...` + `<root>/MEAD/...` (or another audio
  root); `make_probtalk3d_corpus`: `<root>/param/*.npy` + `<root>/wav/*.wav`.

Import as `from fixtures_mead import ...` (tests/conftest.py puts tests/ on sys.path).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import av
import h5py
import numpy as np
import soundfile

from lsf_animation.data.emotions import EMOTIONS

SR = 16000
FPS = 25


@dataclass(frozen=True)
class FixtureClip:
    subject: str
    emotion: int
    level: int
    sentence: int
    frames: int

    @property
    def key(self) -> str:
        return f"{self.subject}/{EMOTIONS[self.emotion]}/level_{self.level}/{self.sentence:03d}"


def fixture_params(clip: FixtureClip) -> dict[str, np.ndarray]:
    """Deterministic per-clip parameters (1, T, D) float32, distinct per clip."""
    seed = zlib.crc32(clip.key.encode())
    rng = np.random.default_rng(seed)
    t = clip.frames
    base_shape = rng.normal(size=300).astype(np.float32)
    return {
        # shape drifts slightly over frames so "mean over frames" is observable
        "shape": (base_shape[None] + 0.01 * rng.normal(size=(t, 300)))[None].astype(np.float32),
        "exp": rng.normal(size=(1, t, 100)).astype(np.float32),
        "jaw": (0.1 * rng.normal(size=(1, t, 3))).astype(np.float32),
        "global_pose": (0.05 * rng.normal(size=(1, t, 3))).astype(np.float32),
        "cam": rng.normal(size=(1, t, 3)).astype(np.float32),
    }


def write_emica_hdf5(path: Path, params: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        for name, arr in params.items():
            f.create_dataset(name, data=arr)


def tone(seconds: float, freq: float = 220.0) -> np.ndarray:
    n = round(seconds * SR)
    return (0.3 * np.sin(2 * np.pi * freq * np.arange(n) / SR)).astype(np.float32)


def write_wav(path: Path, seconds: float, freq: float = 220.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), tone(seconds, freq), SR, subtype="PCM_16")


def write_m4a(path: Path, seconds: float, freq: float = 220.0) -> None:
    """AAC in MP4, 16 kHz mono."""
    path.parent.mkdir(parents=True, exist_ok=True)
    wav = tone(seconds, freq)
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=SR, layout="mono")
        frame = av.AudioFrame.from_ndarray(wav[None], format="fltp", layout="mono")
        frame.sample_rate = SR
        frame.pts = 0
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def write_audio(path_stem: Path, seconds: float, fmt: str, freq: float = 220.0) -> Path:
    path = path_stem.with_name(path_stem.name + "." + fmt)
    (write_m4a if fmt == "m4a" else write_wav)(path, seconds, freq)
    return path


def mead_motion_path(root: Path, c: FixtureClip) -> Path:
    return (
        root / "EMICA-MEAD_flame2020" / c.subject / "front" / EMOTIONS[c.emotion]
        / f"level_{c.level}" / f"{c.sentence:03d}" / "shape_pose_cam.hdf5"
    )  # fmt: skip


def mead_audio_stem(audio_root: Path, c: FixtureClip) -> Path:
    return (
        audio_root / c.subject / "audio" / EMOTIONS[c.emotion] / f"level_{c.level}"
        / f"{c.sentence:03d}"
    )  # fmt: skip


def make_mead_corpus(
    root: Path,
    clips: list[FixtureClip],
    audio_format: str = "wav",
    audio_root: Path | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """Write the clips in the 3DMEAD layout; audio lasts exactly frames / 25 s. Returns the
    parameters written, per clip key."""
    audio_root = audio_root if audio_root is not None else root / "MEAD"
    written = {}
    for i, c in enumerate(clips):
        params = fixture_params(c)
        write_emica_hdf5(mead_motion_path(root, c), params)
        write_audio(mead_audio_stem(audio_root, c), c.frames / FPS, audio_format, 150.0 + 20 * i)
        written[c.key] = params
    return written


def probtalk3d_stem(c: FixtureClip, numeric: bool = True) -> str:
    """ProbTalk3D's key: numeric emotion code and 0-based level, or names and level_k."""
    if numeric:
        return f"{c.subject}_{c.sentence:03d}_{c.emotion}_{c.level - 1}"
    return f"{c.subject}_{c.sentence:03d}_{EMOTIONS[c.emotion]}_level_{c.level}"


def make_probtalk3d_corpus(
    root: Path, clips: list[FixtureClip], numeric: bool = True
) -> dict[str, dict[str, np.ndarray]]:
    """Write the clips in ProbTalk3D's layout: param/<stem>.npy (1, T, 403) and wav/<stem>.wav."""
    written = {}
    for i, c in enumerate(clips):
        params = fixture_params(c)
        arr = np.concatenate([params["shape"], params["exp"], params["jaw"]], axis=2)
        stem = probtalk3d_stem(c, numeric)
        (root / "param").mkdir(parents=True, exist_ok=True)
        np.save(root / "param" / f"{stem}.npy", arr)
        write_wav(root / "wav" / f"{stem}.wav", c.frames / FPS, 150.0 + 20 * i)
        written[c.key] = params
    return written
