"""The main job on embedded defaults, and how its checkpoint is made.

`run_demo`: an unseen synthetic speaker (not in any corpus `lsf-animation synth` makes with its
default seed) says a few sentences from the corpus's test pool, each with another emotion; the
shipped demo checkpoint animates each sentence on that speaker's built-in face. Emotion comes from
the voice only, identity from the face's shape only: no labels are given to the model.

`retrain_demo`: what made the shipped checkpoint, in one call: the default synthetic corpus, its
offline features, then stage 1 and stage 2 of the `demo` config. An interrupted run resumes.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lsf_animation.constants import FPS, SAMPLES_PER_FRAME
from lsf_animation.data.synth.generate import DEFAULT_IDENTITIES, DEFAULT_SENTENCES
from lsf_animation.data.synth.sentences import SENTENCES

DEMO_SEED = 2026
"""Speakers depend on (seed, index); the corpus's default seed is 0, so this speaker is unseen."""
DEMO_SPEAKER_INDEX = 1

DEMO_SCRIPT: tuple[tuple[str, int, int], ...] = (
    ("happy", 3, 46),
    ("sad", 3, 43),
    ("angry", 3, 44),
    ("surprised", 3, 42),
)
"""(emotion, level, 0-based sentence index): sentences from the corpus's test pool."""

DEMO_SAMPLES = 3
DEMO_FEATURES = "offline-motion,offline-prosody"


@dataclass(frozen=True)
class DemoSpeech:
    """The demo's speech and the motion the synthetic speaker's face made while saying it.

    Attributes:
        audio: (N,) float32 mono at 16 kHz, N = 640 T.
        reference: (T, 53) float32 motion (50 expression + 3 jaw) at 25 fps.
        shape: (300,) float32 shape coefficients of the speaker's built-in face.
        subject: the speaker's id.
        lines: per sentence: emotion, level, text, start and stop (s).
    """

    audio: np.ndarray
    reference: np.ndarray
    shape: np.ndarray
    subject: str
    lines: list[dict[str, object]]


def demo_speech(script: tuple[tuple[str, int, int], ...] = DEMO_SCRIPT) -> DemoSpeech:
    """Synthesize `script` with the demo speaker, one sentence after another."""
    from lsf_animation.data.synth.generate import synthesize_clip
    from lsf_animation.data.synth.speakers import make_speakers

    speaker = make_speakers(max(3, DEMO_SPEAKER_INDEX + 1), DEMO_SEED)[DEMO_SPEAKER_INDEX]
    audio, motion, lines = [], [], []
    start = 0.0
    for i, (emotion, level, sentence) in enumerate(script):
        rng = np.random.default_rng([DEMO_SEED, 7, i])
        clip = synthesize_clip(speaker, emotion, level, SENTENCES[sentence], rng)
        audio.append(clip.audio)
        motion.append(clip.motion)
        stop = start + clip.num_frames / FPS
        lines.append(
            {
                "emotion": emotion,
                "level": level,
                "text": SENTENCES[sentence],
                "start_s": round(start, 3),
                "stop_s": round(stop, 3),
            }
        )
        start = stop
    return DemoSpeech(
        np.concatenate(audio), np.concatenate(motion), speaker.shape, speaker.subject, lines
    )


def animate_lines(animator: Any, speech: DemoSpeech, samples: int, seed: int) -> Any:
    """Animate each sentence of `speech` as its own utterance (as the model was trained: one
    utterance per clip, features normalized over it) and join them: an `Animation` of the whole
    speech, (samples, T, 53)."""
    from lsf_animation.api import Animation

    parts = []
    for i, line in enumerate(speech.lines):
        a, b = round(float(line["start_s"]) * FPS), round(float(line["stop_s"]) * FPS)
        piece = speech.audio[a * SAMPLES_PER_FRAME : b * SAMPLES_PER_FRAME]
        result = animator.animate(piece, shape=speech.shape, num_samples=samples, seed=seed + i)
        parts.append(result.motion)
    return Animation(np.concatenate(parts, axis=1), speech.shape, FPS, animator.face)


def run_demo(
    out_dir: str | Path,
    checkpoint: str | Path = "demo",
    samples: int = DEMO_SAMPLES,
    seed: int = 0,
    size: int = 512,
    progress: bool = True,
) -> dict[str, Path]:
    """Animate the demo speech into `out_dir`.

    Files: speech.wav, script.json (the sentences, emotions and times), reference.npz (the
    synthetic speaker's own motion, for comparison), and `api.write_animation`'s motion.npz
    (`samples` samples), vertices.npy, animation.mp4 (sample 0, with the speech) and heatmaps.
    Nothing is left behind when it fails.

    Returns:
        The files written, by role.
    """
    from lsf_animation.api import Animator, check_output_dir, write_animation
    from lsf_animation.data.synth.layout import write_wav
    from lsf_animation.export.motion_npz import make_motion_file, save_motion

    out = check_output_dir(out_dir)
    animator = Animator.from_checkpoint(checkpoint)
    speech = demo_speech()
    animation = animate_lines(animator, speech, samples, seed)
    created = not out.exists()
    with tempfile.TemporaryDirectory(prefix="lsf-demo-") as tmp:
        staged = {
            "audio": Path(tmp) / "speech.wav",
            "script": Path(tmp) / "script.json",
            "reference": Path(tmp) / "reference.npz",
        }
        write_wav(staged["audio"], speech.audio)
        script = {"subject": speech.subject, "seed": DEMO_SEED, "lines": speech.lines}
        staged["script"].write_text(json.dumps(script, indent=2) + "\n")
        save_motion(staged["reference"], make_motion_file(speech.reference, speech.shape))
        files = write_animation(
            animation, out, audio=staged["audio"], video=True, size=size, progress=progress
        )
        try:
            for role, path in staged.items():
                files[role] = out / path.name
                shutil.move(path, files[role])
        except BaseException:
            if created:
                shutil.rmtree(out, ignore_errors=True)
            raise
    return files


def retrain_demo(
    work: str | Path,
    identities: int = DEFAULT_IDENTITIES,
    sentences: int = DEFAULT_SENTENCES,
    max_epochs: int | None = None,
    workers: int = 2,
    progress: bool = True,
    echo: Callable[[str], None] = print,
) -> Path:
    """Make the demo checkpoint from nothing: corpus, features, stage 1, stage 2.

    Writes under `work`: synthetic_corpus/, cache/ (features), run/stage{1,2}/ and demo.ckpt
    (a copy of run/stage2/model.ckpt). Each step resumes what an interrupted call left.

    Args:
        identities, sentences: the corpus size (defaults: the shipped checkpoint's).
        max_epochs: caps both stages (quick checks); None = the config's.

    Returns:
        The path of the new demo.ckpt.
    """
    from lsf_animation.audio.extract import extract_corpus
    from lsf_animation.data.synth.generate import generate_corpus
    from lsf_animation.train.config import load_train_config
    from lsf_animation.train.run import train_stage

    work = Path(work).expanduser()
    corpus, cache, run = work / "synthetic_corpus", work / "cache", work / "run"
    echo(f"[1/4] synthetic corpus: {corpus}")
    echo(generate_corpus(corpus, identities, sentences, 0, workers, progress=progress).summary())
    echo(f"[2/4] speech features: {cache}")
    report = extract_corpus(corpus, DEMO_FEATURES.split(","), cache, workers, progress=progress)
    echo(report.summary())
    if report.failed:
        raise RuntimeError(f"feature extraction failed for {len(report.failed)} synthetic clips")
    overrides = [f"data.root={corpus}", f"out={run}", f"features.cache={cache}"]
    for stage in (1, 2):
        echo(f"[{stage + 2}/4] training stage {stage}: {run / f'stage{stage}'}")
        sets = overrides + ([f"stage{stage}.max_epochs={max_epochs}"] if max_epochs else [])
        model_file = run / f"stage{stage}" / "model.ckpt"
        if model_file.is_file():
            echo(f"already trained: {model_file}")
            continue
        resume = (run / f"stage{stage}" / "checkpoints" / "last.ckpt").is_file()
        train_stage(stage, load_train_config("demo", sets), resume=resume, progress=progress,
                    echo=echo)  # fmt: skip
    target = work / "demo.ckpt"
    partial = target.with_name(".demo.ckpt.partial")
    shutil.copyfile(run / "stage2" / "model.ckpt", partial)
    os.replace(partial, target)
    return target
