"""The main job on embedded defaults, for now: the built-in face performing a scripted utterance.

Until the trained demo checkpoint exists, `lsf-animation demo` renders a fixed, scripted
performance: babbled syllables (jaw and lip shapes in time with a synthetic voiced sound), a smile
that grows over the utterance, brow raises on stressed syllables and blinks. It exercises the whole
output path (motion file, FLAME layer, renderer, video with audio, motion heatmaps).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter1d

from lsf_animation.face.builtin import EXPRESSION_NAMES

FPS = 25
SAMPLE_RATE = 16000

# Vowel classes: (jaw opening rad, lip round, lip spread, F1 Hz, F2 Hz)
_VOWELS = {
    "a": (0.26, 0.0, 0.2, 750.0, 1200.0),
    "e": (0.14, 0.0, 0.8, 500.0, 1900.0),
    "i": (0.07, 0.0, 1.0, 300.0, 2300.0),
    "o": (0.18, 0.9, 0.0, 500.0, 900.0),
    "u": (0.08, 1.0, 0.0, 320.0, 800.0),
}


@dataclass(frozen=True)
class ScriptedPerformance:
    """A scripted utterance.

    Attributes:
        motion: (T, 53) float32: 50 expression coefficients + 3 jaw axis-angle (rad), at 25 fps.
        audio: (N,) float32 mono waveform at 16 kHz, N = T * 640.
    """

    motion: np.ndarray
    audio: np.ndarray


def _expr(name: str) -> int:
    return EXPRESSION_NAMES.index(name)


def scripted_performance(seconds: float = 5.0, seed: int = 0) -> ScriptedPerformance:
    """Build a babbled utterance of `seconds` with matching motion and audio (deterministic)."""
    rng = np.random.default_rng(seed)
    num_frames = round(seconds * FPS)
    hop = SAMPLE_RATE // FPS
    motion = np.zeros((num_frames, 53), np.float64)
    amplitude = np.zeros(num_frames)  # voice loudness per frame
    formants = np.zeros((num_frames, 2))
    formants[:] = (500.0, 1500.0)

    t = 0.25  # lead-in silence (s)
    while t < seconds - 0.4:
        if rng.random() < 0.15:  # a pause between phrases: lips pressed
            start, stop = int(t * FPS), int((t + 0.3) * FPS)
            motion[start:stop, _expr("lip_press")] = 1.0
            t += 0.3
            continue
        length = rng.uniform(0.16, 0.28)
        vowel = str(rng.choice(list(_VOWELS)))
        jaw, round_, spread, f1, f2 = _VOWELS[vowel]
        start, stop = int(t * FPS), max(int((t + length) * FPS), int(t * FPS) + 2)
        stressed = rng.random() < 0.25
        gain = 1.3 if stressed else 1.0
        motion[start:stop, 50] = jaw * gain
        motion[start:stop, _expr("mouth_open")] = 1.2 * jaw / 0.26 * gain
        motion[start:stop, _expr("lip_pucker")] = 1.5 * round_
        motion[start:stop, _expr("lip_funnel")] = 1.0 * round_
        motion[start:stop, _expr("lip_stretch")] = 1.0 * spread
        if stressed:
            motion[start:stop, _expr("brow_inner_raise")] = 1.5
            motion[start:stop, _expr("brow_outer_raise")] = 1.2
        amplitude[start:stop] = gain
        formants[start:stop] = (f1, f2)
        t += length + rng.uniform(0.02, 0.08)

    # Coarticulation: neighbouring syllables blend, nothing steps.
    motion = gaussian_filter1d(motion, sigma=1.2, axis=0, mode="nearest")
    amplitude = gaussian_filter1d(amplitude, sigma=0.8, mode="nearest")
    formants = gaussian_filter1d(formants, sigma=1.0, axis=0, mode="nearest")

    # A smile growing over the utterance, and blinks.
    grow = np.clip(np.linspace(-0.3, 1.2, num_frames), 0.0, 1.0)
    motion[:, _expr("lip_corner_up")] += 1.8 * grow
    motion[:, _expr("cheek_raise")] += 1.2 * grow
    for blink in rng.uniform(0.5, seconds - 0.3, size=max(1, int(seconds / 2.5))):
        centre = blink * FPS
        shut = 2.5 * np.exp(-0.5 * ((np.arange(num_frames) - centre) / 1.2) ** 2)
        motion[:, _expr("eye_close_left")] += shut
        motion[:, _expr("eye_close_right")] += shut

    audio = _voice(amplitude, formants, hop, rng)
    return ScriptedPerformance(motion.astype(np.float32), audio)


def _voice(
    amplitude: np.ndarray, formants: np.ndarray, hop: int, rng: np.random.Generator
) -> np.ndarray:
    """A voiced babble: harmonics of a falling pitch, weighted by two formant peaks per frame."""
    num_samples = len(amplitude) * hop
    frame_t = (np.arange(len(amplitude)) + 0.5) * hop
    sample_t = np.arange(num_samples)
    amp = np.interp(sample_t, frame_t, amplitude)
    f1 = np.interp(sample_t, frame_t, formants[:, 0])
    f2 = np.interp(sample_t, frame_t, formants[:, 1])
    f0 = (
        150.0
        - 25.0 * sample_t / num_samples
        + 6.0 * np.sin(2 * np.pi * 0.7 * sample_t / SAMPLE_RATE)
    )
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    signal = np.zeros(num_samples)
    for k in range(1, 30):
        freq = k * f0
        weight = np.exp(-0.5 * ((freq - f1) / 120.0) ** 2) + 0.6 * np.exp(
            -0.5 * ((freq - f2) / 180.0) ** 2
        )
        signal += weight * np.sin(k * phase) / np.sqrt(k)
    signal = signal * amp + 0.003 * rng.standard_normal(num_samples)
    return (0.5 * signal / max(np.abs(signal).max(), 1e-9)).astype(np.float32)


def run_demo(out_dir: str | Path, seconds: float = 5.0, size: int = 512) -> dict[str, Path]:
    """Write the scripted demo into `out_dir`: motion.npz, speech.wav, demo.mp4 and heatmaps.

    Returns:
        The files written, by role.
    """
    from lsf_animation.api import motion_vertices, write_heatmaps, write_video
    from lsf_animation.data.synth.layout import write_wav
    from lsf_animation.export.motion_npz import make_motion_file, save_motion
    from lsf_animation.face.load import load_face_model

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    face = load_face_model("builtin")
    performance = scripted_performance(seconds)
    motion_file = make_motion_file(performance.motion, np.zeros(300, np.float32))
    files = {
        "motion": out / "motion.npz",
        "audio": out / "speech.wav",
        "video": out / "demo.mp4",
        "heatmap_mean": out / "heatmap_mean.png",
        "heatmap_std": out / "heatmap_std.png",
    }
    save_motion(files["motion"], motion_file)
    write_wav(files["audio"], performance.audio)
    vertices = motion_vertices(face, motion_file)
    write_video(face, vertices, files["video"], FPS, files["audio"], size, progress=True)
    write_heatmaps(face, vertices, files["heatmap_mean"], files["heatmap_std"])
    return files
