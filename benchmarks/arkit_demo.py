"""ARKit-52 curves on the demo: how well they reproduce the face, and whether they mean what
their names say.

The demo speech (`lsf-animation demo`: an unseen synthetic speaker, four sentences, happy / sad /
angry / surprised) is animated by the shipped demo model (sample 0, seed 0, as the demo does); the
ARKit targets of the built-in face are fitted to its vertices. The same is done for the motion
the synthetic speaker's own face made (the reference), whose phones and emotions are known
exactly. Phone classes come from eSpeak's phoneme timeline of each sentence.
Run: .venv/bin/python benchmarks/arkit_demo.py
"""

from __future__ import annotations

import numpy as np

from lsf_animation.api import Animator
from lsf_animation.data.synth.generate import FPS, synthesize_clip
from lsf_animation.data.synth.sentences import SENTENCES
from lsf_animation.data.synth.speakers import make_speakers
from lsf_animation.demo import (
    DEMO_SAMPLES,
    DEMO_SCRIPT,
    DEMO_SEED,
    DEMO_SPEAKER_INDEX,
    animate_lines,
    demo_speech,
)
from lsf_animation.export.arkit import fit_arkit
from lsf_animation.face.arkit import ARKIT_NAMES
from lsf_animation.face.builtin import builtin_face
from lsf_animation.face.builtin_arkit import builtin_arkit_targets
from record import markdown_table, record


def demo_phones() -> list[tuple[str, float, float]]:
    """(viseme class, start s, stop s) over the whole demo speech, as `demo_speech` makes it."""
    speaker = make_speakers(max(3, DEMO_SPEAKER_INDEX + 1), DEMO_SEED)[DEMO_SPEAKER_INDEX]
    phones, start = [], 0.0
    for i, (emotion, level, sentence) in enumerate(DEMO_SCRIPT):
        rng = np.random.default_rng([DEMO_SEED, 7, i])
        clip = synthesize_clip(speaker, emotion, level, SENTENCES[sentence], rng)
        phones += [(cls, start + a, start + b) for cls, a, b in clip.phonemes]
        start += clip.num_frames / FPS
    return phones


def centres(phones, classes: set[str], num_frames: int) -> np.ndarray:
    frames = {int(0.5 * (a + b) * FPS) for cls, a, b in phones if cls in classes}
    return np.array(sorted(f for f in frames if f < num_frames), dtype=int)


def mean(weights: np.ndarray, names: tuple[str, ...], frames: np.ndarray) -> float:
    return float(weights[np.ix_(frames, [ARKIT_NAMES.index(n) for n in names])].mean())


def pair(
    weights: np.ndarray, names: tuple[str, ...], a: np.ndarray, b: np.ndarray, digits: int = 2
) -> str:
    """'mean at frames a / mean at frames b'."""
    return f"{mean(weights, names, a):.{digits}f} / {mean(weights, names, b):.{digits}f}"


def main() -> None:
    face = builtin_face()
    targets = builtin_arkit_targets()
    speech = demo_speech()
    animation = animate_lines(Animator.from_checkpoint("demo"), speech, DEMO_SAMPLES, seed=0)
    phones = demo_phones()
    motions = {"demo model (sample 0)": animation.motion[0], "reference face": speech.reference}
    fits = {k: fit_arkit(face, m, speech.shape, targets) for k, m in motions.items()}

    residual_rows = []
    for name, fit in fits.items():
        r = fit.lip_residual_summary()
        residual_rows.append([name, f"{r['mean_mm']:.3f}", f"{r['p95_mm']:.3f}"])

    num_frames = len(speech.reference)
    bilabial = centres(phones, {"bilabial"}, num_frames)
    vowels = centres(phones, {"open", "mid"}, num_frames)
    rounded = centres(phones, {"rounded_mid", "rounded_close", "w"}, num_frames)
    spread = centres(phones, {"close_front"}, num_frames)
    press = ("mouthPressLeft", "mouthPressRight")
    smile = ("mouthSmileLeft", "mouthSmileRight")
    frown = ("mouthFrownLeft", "mouthFrownRight")
    rows = []
    for name, fit in fits.items():
        w = fit.weights
        jaw = motions[name][:, 50]
        corr = np.corrcoef(w[:, ARKIT_NAMES.index("jawOpen")], jaw)[0, 1]
        rows.append(
            [
                name,
                f"{corr:.3f}",
                pair(w, press, bilabial, vowels),
                pair(w, ("mouthClose",), bilabial, vowels, digits=3),
                pair(w, ("mouthPucker",), rounded, spread),
                pair(w, ("mouthFunnel",), rounded, spread),
            ]
        )
    emotion_rows = []
    for name, fit in fits.items():
        cells = [name]
        for line in speech.lines:
            a, b = round(float(line["start_s"]) * FPS), round(float(line["stop_s"]) * FPS)
            every = np.arange(a, min(b, len(fit.weights)))
            s, f = mean(fit.weights, smile, every), mean(fit.weights, frown, every)
            cells.append(f"{s:.2f} / {f:.2f}")
        emotion_rows.append(cells)

    body = f"""Lip residual of the fit (distance between each lip vertex of the animated face and of
its ARKit reconstruction, over every frame and the {len(face.regions["lips"])} lip vertices):

{markdown_table(["motion", "mean (mm)", "95th percentile (mm)"], residual_rows)}

What the curves do at known phones (mean weight at the middle frame of each phone; left/right
targets averaged): {len(bilabial)} bilabials (p, b, m) against {len(vowels)} open and mid vowels,
{len(rounded)} rounded vowels and w against {len(spread)} spread vowels (i, I):

{
        markdown_table(
            [
                "motion",
                "corr(jawOpen, jaw)",
                "mouthPress bilabial / vowel",
                "mouthClose bilabial / vowel",
                "mouthPucker rounded / spread",
                "mouthFunnel rounded / spread",
            ],
            rows,
        )
    }

Mouth corners per sentence (mean mouthSmile / mouthFrown over the sentence):

{markdown_table(["motion", *(str(line["emotion"]) for line in speech.lines)], emotion_rows)}

mouthClose stays small at bilabials on this face: the synthetic corpus closes the lips with the
jaw nearly shut (0.015 rad), and mouthClose is lip closure against an open jaw; the closure
shows up as mouthPress.
"""
    record("ARKit-52 curves on the demo", "benchmarks/arkit_demo.py", body)


if __name__ == "__main__":
    main()
