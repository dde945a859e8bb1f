"""Does an emotion stream carry the emotion? A linear probe on the synthetic corpus.

For each extractor (default: offline-prosody and offline-voice): per-clip statistics (mean and
standard deviation over the voiced frames) of every training-speaker clip train a linear
least-squares classifier of the 8 emotions; it is scored on the unseen test speakers, one
utterance at a time (statistics standardized over the training clips, no speaker baseline) and
knowing each speaker's baseline (standardized per speaker). Chance is 12.5%.

    .venv/bin/python benchmarks/emotion_cues.py --data CORPUS [--features a,b] [--no-record]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def clip_statistics(root: Path, name: str) -> list[tuple[str, str, int, int, np.ndarray]]:
    """(part, subject, emotion code, level, statistics) of each train and test clip."""
    from lsf_animation.audio.features import get_extractor
    from lsf_animation.audio.load import load_audio
    from lsf_animation.data.synth.emotion import EMOTIONS

    splits = json.loads((root / "splits.json").read_text())
    extractor = get_extractor(name)
    rows = []
    for part in ("train", "test"):
        for subject in splits[part]:
            for wav in sorted((root / "MEAD" / subject / "audio").glob("*/level_*/*.wav")):
                frames = extractor(load_audio(wav))
                voiced = frames[frames[:, 1] > 0.5]
                stats = np.concatenate([voiced.mean(axis=0), voiced.std(axis=0)])
                level = int(wav.parent.name.removeprefix("level_"))
                code = EMOTIONS.index(wav.parent.parent.name)
                rows.append((part, subject, code, level, stats))
    return rows


def probe(rows: list, per_speaker: bool) -> tuple[float, float]:  # type: ignore[type-arg]
    """(accuracy on the test speakers, accuracy at level 3)."""
    x = np.array([r[4] for r in rows], np.float64)
    train = np.array([r[0] == "train" for r in rows])
    if per_speaker:
        for subject in {r[1] for r in rows}:
            mine = np.array([r[1] == subject for r in rows])
            x[mine] = (x[mine] - x[mine].mean(axis=0)) / (x[mine].std(axis=0) + 1e-6)
    else:
        x = (x - x[train].mean(axis=0)) / (x[train].std(axis=0) + 1e-6)
    y = np.array([r[2] for r in rows])
    level = np.array([r[3] for r in rows])
    design = np.c_[x, np.ones(len(x))]
    targets = np.eye(8)[y[train]]
    weights = np.linalg.lstsq(design[train], targets, rcond=None)[0]
    correct = (design[~train] @ weights).argmax(axis=1) == y[~train]
    return float(correct.mean()), float(correct[level[~train] == 3].mean())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--features", default="offline-prosody,offline-voice")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    rows = []
    for name in args.features.split(","):
        stats = clip_statistics(args.data, name)
        one, one3 = probe(stats, per_speaker=False)
        base, base3 = probe(stats, per_speaker=True)
        dim = len(stats[0][4]) // 2
        rows.append(
            [f"`{name}` ({dim})", f"{one:.2f} ({one3:.2f})", f"{base:.2f} ({base3:.2f})"]
        )
    from record import markdown_table, record

    body = (
        f"Corpus `{args.data.name}` (test speakers unseen; chance 0.125). Accuracy of a linear "
        "probe of the 8 emotions from per-clip means and standard deviations of the voiced "
        "frames' features (level 3 in brackets).\n\n"
        + markdown_table(
            ["emotion stream (dim)", "one utterance at a time", "knowing the speaker's baseline"],
            rows,
        )
    )
    if args.no_record:
        print(body)
    else:
        record("Emotion cues in the voice (synthetic corpus)", "benchmarks/emotion_cues.py", body)


if __name__ == "__main__":
    main()
