"""Fixtures: a tiny learnable 3DMEAD-layout corpus and in-memory items shaped like ClipDataset's.

`write_tiny_corpus(root)`: a few speakers, clips of about 1.5 s whose audio is a tone with
syllable-like bursts and whose jaw and first expression coefficients follow the audio's
envelope (so stage 2 has something to learn from the speech), plus an emotion-dependent offset.
Written with the same file writers as the data tests (EMICA hdf5, 16 kHz wav, splits.json).

`tiny_items(n, seed, dm, de)`: ClipDataset-like items without files, for module-level tests
(fixture `make_items`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile

from fixtures_mead import FPS, SR, FixtureClip, mead_motion_path, write_emica_hdf5

SPLITS = {"train": ["M001", "W002", "M003"], "val": ["W004"], "test": ["M005"]}


def _clip_signals(rng: np.random.Generator, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """(audio (frames * 640,), envelope (frames,) in [0, 1])."""
    n = frames * SR // FPS
    t = np.arange(n) / SR
    rate = rng.uniform(3.0, 5.0)
    env = np.clip(np.sin(2 * np.pi * rate * t + rng.uniform(0, 6)), 0, None) ** 2
    env *= (t > 0.15) & (t < frames / FPS - 0.15)
    audio = 0.4 * env * np.sin(2 * np.pi * rng.uniform(120, 220) * t)
    audio += 0.002 * rng.standard_normal(n)
    frame_env = env[: frames * (SR // FPS)].reshape(frames, -1).mean(axis=1)
    return audio.astype(np.float32), frame_env / max(frame_env.max(), 1e-6)


def write_tiny_corpus(
    root: Path, clips_per_speaker: int = 4, frames: int = 40, seed: int = 0
) -> list[FixtureClip]:
    """Write the corpus under `root`; returns its clips."""
    rng = np.random.default_rng(seed)
    written = []
    for subject in [s for part in SPLITS.values() for s in part]:
        shape = rng.normal(size=300).astype(np.float32)
        for i in range(clips_per_speaker):
            emotion, level = (0, 1) if i % 2 == 0 else (6, 1 + i % 3)
            clip = FixtureClip(subject, emotion, level, i + 1, frames)
            audio, env = _clip_signals(rng, frames)
            exp = 0.05 * rng.standard_normal((frames, 100)).astype(np.float32)
            exp[:, 0] += 2.0 * env
            exp[:, 1] += 0.8 * (emotion == 6)
            jaw = np.zeros((frames, 3), np.float32)
            jaw[:, 0] = 0.3 * env
            params = {
                "shape": np.repeat(shape[None, None], frames, axis=1),
                "exp": exp[None],
                "jaw": jaw[None],
                "global_pose": np.zeros((1, frames, 3), np.float32),
                "cam": np.zeros((1, frames, 3), np.float32),
            }
            write_emica_hdf5(mead_motion_path(root, clip), params)
            wav = (
                root / "MEAD" / subject / "audio" / ("neutral" if emotion == 0 else "angry")
                / f"level_{level}" / f"{i + 1:03d}.wav"
            )  # fmt: skip
            wav.parent.mkdir(parents=True, exist_ok=True)
            soundfile.write(str(wav), audio, SR, subtype="PCM_16")
            written.append(clip)
    (root / "splits.json").write_text(json.dumps(SPLITS))
    return written


def tiny_items(n: int, seed: int = 0, dm: int = 8, de: int = 4) -> list[dict]:
    """ClipDataset-like items (scaled motion in [0, 1], features at 50 Hz) without files."""
    rng = np.random.default_rng(seed)
    items = []
    for i in range(n):
        t = int(rng.integers(16, 32))
        phase = rng.uniform(0, 6)
        motion = 0.5 + 0.3 * np.sin(np.arange(t)[:, None] * 0.3 + phase + np.arange(53) * 0.1)
        items.append(
            {
                "key": f"S{i % 3}/neutral/level_1/{i:03d}",
                "motion": motion.astype(np.float32),
                "shape": np.full(300, 0.1 * (i % 3), np.float32),
                "num_frames": t,
                "start": 0,
                "labels": {"identity": i % 3, "emotion": i % 8, "intensity": i % 3},
                "motion_features": rng.standard_normal((2 * t, dm)).astype(np.float32),
                "emotion_features": rng.standard_normal((2 * t, de)).astype(np.float32),
            }
        )
    return items


@pytest.fixture(scope="session")
def make_items():
    return tiny_items


@pytest.fixture(scope="session")
def write_corpus():
    return write_tiny_corpus
