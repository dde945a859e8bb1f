"""Synthetic corpus: size and generation time of the default corpus on 2 cores, and how much of
what the model must learn it carries (emotion from audio, articulation style from shape).

Run: .venv/bin/python benchmarks/synth_speed.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import wave
from pathlib import Path

import h5py
import numpy as np

from lsf_animation.audio.features import get_extractor
from lsf_animation.data.synth.emotion import EMOTIONS
from lsf_animation.data.synth.generate import (
    DEFAULT_IDENTITIES,
    DEFAULT_SENTENCES,
    generate_corpus,
    measured_jaw_amplitude,
)
from lsf_animation.data.synth.speakers import make_speakers
from record import markdown_table, record

WORKERS = 2


def _read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as fh:
        return np.frombuffer(fh.readframes(fh.getnframes()), "<i2").astype(np.float32) / 32768


def emotion_accuracy(root: Path, per_speaker: bool) -> tuple[float, float]:
    """Accuracy of a linear classifier of the emotion from per-clip offline-prosody statistics,
    trained on the train speakers, on the unseen test speakers; and the same restricted to level
    3. Statistics are standardized per speaker (`per_speaker`: knowing each speaker's baseline
    voice) or over the training clips (one utterance at a time, as the model hears it)."""
    splits = json.loads((root / "splits.json").read_text())
    extractor = get_extractor("offline-prosody")
    rows = []
    for part in ("train", "test"):
        for subject in splits[part]:
            for wav in sorted((root / "MEAD" / subject / "audio").glob("*/level_*/*.wav")):
                frames = extractor(_read_wav(wav))
                voiced = frames[frames[:, 1] > 0.5]
                stats = np.concatenate([voiced.mean(axis=0), voiced.std(axis=0)])
                level = int(wav.parent.name.removeprefix("level_"))
                rows.append((part, subject, EMOTIONS.index(wav.parent.parent.name), level, stats))
    x = np.array([r[4] for r in rows])
    train = np.array([r[0] == "train" for r in rows])
    groups = [np.array([r[1] == s for r in rows]) for s in {r[1] for r in rows}]
    for mine in groups if per_speaker else [np.ones(len(rows), bool)]:
        ref = x[mine & train] if not per_speaker else x[mine]
        x[mine] = (x[mine] - ref.mean(axis=0)) / (ref.std(axis=0) + 1e-6)
    y = np.array([r[2] for r in rows])
    level = np.array([r[3] for r in rows])
    design = np.c_[x, np.ones(len(x))]
    weights = np.linalg.lstsq(design[train], np.eye(len(EMOTIONS))[y[train]], rcond=None)[0]
    correct = (design[~train] @ weights).argmax(axis=1) == y[~train]
    return float(correct.mean()), float(correct[level[~train] == 3].mean())


def style_r_squared(num_speakers: int = 60, held_out: int = 15) -> float:
    """R² on held-out speakers of a linear fit from the 20 named shape coefficients to the
    measured jaw amplitude (95th percentile of jaw opening over 3 neutral clips)."""
    speakers = make_speakers(num_speakers, seed=123)
    amplitude = np.array([measured_jaw_amplitude(s) for s in speakers])
    design = np.c_[np.array([s.shape[:20] for s in speakers]), np.ones(num_speakers)]
    n = num_speakers - held_out
    weights = np.linalg.lstsq(design[:n], amplitude[:n], rcond=None)[0]
    truth, pred = amplitude[n:], design[n:] @ weights
    return float(1 - ((truth - pred) ** 2).sum() / ((truth - truth.mean()) ** 2).sum())


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "corpus"
        start = time.perf_counter()
        report = generate_corpus(root, workers=WORKERS)
        seconds = time.perf_counter() - start
        with h5py.File(next(root.rglob("*.hdf5"))) as fh:
            frames_check = fh["exp"].shape
        print(f"generated {report.summary()}; first clip exp {frames_check}", file=sys.stderr)
        accuracy = {mode: emotion_accuracy(root, mode) for mode in (True, False)}
    r2 = style_r_squared()
    table = markdown_table(
        [
            "identities",
            "sentences / (speaker, emotion, level)",
            "clips",
            "audio (h)",
            "size on disk (MB)",
            f"generation time, {WORKERS} workers (s)",
        ],
        [
            [
                DEFAULT_IDENTITIES,
                DEFAULT_SENTENCES,
                report.clips,
                f"{report.audio_hours:.2f}",
                f"{report.bytes / 1e6:.0f}",
                f"{seconds:.0f}",
            ]
        ],
    )
    quality = markdown_table(
        ["check", "value"],
        [
            *(
                [
                    "emotion from audio alone, 8 classes, unseen test speakers (chance 0.125), "
                    + ("standardized per speaker" if mode else "one utterance at a time"),
                    f"{accuracy[mode][0]:.2f} (level 3: {accuracy[mode][1]:.2f})",
                ]
                for mode in (True, False)
            ),
            ["jaw amplitude from shape, linear fit, R² on 15 held-out speakers", f"{r2:.2f}"],
        ],
    )
    body = (
        "`lsf-animation synth` with its defaults (the budget is 5 minutes on 2 cores).\n\n"
        f"{table}\n\n"
        "What the corpus carries for the model. Emotion: per-clip mean and spread of the "
        "offline-prosody features, least-squares linear classifier trained on the corpus's train "
        "speakers, standardized per speaker (each speaker's baseline voice known) or over the "
        "training clips (one utterance at a time, as the model hears it). Style: measured from "
        "generated motion.\n\n"
        f"{quality}\n"
    )
    record("Synthetic corpus", "benchmarks/synth_speed.py", body)


if __name__ == "__main__":
    main()
