"""The main job on embedded defaults, and how its checkpoint is made.

`run_demo`: an unseen synthetic speaker (not in any corpus `lsf-animation synth` makes with its
default seed) says a few sentences from the corpus's test pool, each with another emotion; the
shipped demo checkpoint animates each sentence on that speaker's built-in face. Emotion comes from
the voice only, identity from the face's shape only: no labels are given to the model.

How the shipped demo checkpoint is made: `lsf_animation.train.demo_recipe.retrain_demo`.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

import numpy as np

from lsf_animation.api import Animation, Animator, write_animation
from lsf_animation.constants import FPS, SAMPLES_PER_FRAME
from lsf_animation.data.synth.generate import synthesize_clip
from lsf_animation.data.synth.layout import write_wav
from lsf_animation.data.synth.sentences import SENTENCES
from lsf_animation.data.synth.speakers import make_speakers
from lsf_animation.export.base import FileExporter, check_output_dir
from lsf_animation.export.gltf import GltfExporter
from lsf_animation.export.motion_npz import MotionExporter
from lsf_animation.face.motion import make_motion_file

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


class ScriptLine(TypedDict):
    """One sentence of the demo (script.json): its emotion, level, text and times (s)."""

    emotion: str
    level: int
    text: str
    start_s: float
    stop_s: float


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
    lines: list[ScriptLine]


def demo_speech(script: tuple[tuple[str, int, int], ...] = DEMO_SCRIPT) -> DemoSpeech:
    """Synthesize `script` with the demo speaker, one sentence after another."""
    speaker = make_speakers(max(3, DEMO_SPEAKER_INDEX + 1), DEMO_SEED)[DEMO_SPEAKER_INDEX]
    audio, motion, lines = [], [], list[ScriptLine]()
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


def animate_lines(animator: Animator, speech: DemoSpeech, samples: int, seed: int) -> Animation:
    """Animate each sentence of `speech` as its own utterance (as the model was trained: one
    utterance per clip, features normalized over it) and join them: an `Animation` of the whole
    speech, (samples, T, 53). The lines are scripted, as game dialogue is: a model that reads
    phones gets each line's text aligned (`Animator.animate(transcript=)`)."""
    parts = []
    for i, line in enumerate(speech.lines):
        a, b = round(line["start_s"] * FPS), round(line["stop_s"] * FPS)
        piece = speech.audio[a * SAMPLES_PER_FRAME : b * SAMPLES_PER_FRAME]
        text = line["text"] if animator.takes_transcript else None
        result = animator.animate(
            piece, shape=speech.shape, num_samples=samples, seed=seed + i, transcript=text
        )
        parts.append(result.motion)
    return Animation(make_motion_file(np.concatenate(parts, axis=1), speech.shape), animator.face)


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
    (`samples` samples), vertices.npy, animation.mp4 (sample 0, with the speech), heatmaps and
    animation.glb (every sample, for the viewer and other tools).
    Nothing is left behind when it fails.

    Returns:
        The files written, by role.
    """
    folder = check_output_dir(out_dir)
    animator = Animator.from_checkpoint(checkpoint)
    speech = demo_speech()
    animation = animate_lines(animator, speech, samples, seed)
    script = {"subject": speech.subject, "seed": DEMO_SEED, "lines": speech.lines}
    reference = make_motion_file(speech.reference, speech.shape)
    with tempfile.TemporaryDirectory(prefix="lsf-demo-") as tmp:
        wav = Path(tmp) / "speech.wav"
        write_wav(wav, speech.audio)  # muxed into the video, and copied as speech.wav
        extra = [
            FileExporter("audio", "speech.wav", lambda path: shutil.copyfile(wav, path)),
            FileExporter(
                "script",
                "script.json",
                lambda path: path.write_text(json.dumps(script, indent=2) + "\n"),
            ),
            MotionExporter("reference", "reference.npz", reference),
            GltfExporter(),
        ]
        return write_animation(animation, folder, wav, size=size, progress=progress, extra=extra)
