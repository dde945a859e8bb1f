"""Generating synthetic clips and the whole corpus.

A clip: eSpeak NG speaks a sentence in the speaker's voice shifted by the emotion; the phoneme
events drive coarticulated visemes scaled by the speaker's articulation style; the emotion's face
pattern (scaled by level, following the voice's energy), blinks, emphasis brow raises, small
jitter and head motion are added. Everything random is drawn from a generator seeded by
(seed, speaker, emotion, level, sentence), so a clip's bytes do not depend on the order or the
process that made it.

Timing: the 16 kHz audio is padded with silence to a whole number of 40 ms frames, so a clip of
N samples has exactly T = N / 640 motion frames (= round(duration * 25)); frame f covers
[f / 25, (f + 1) / 25) s of the audio.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter1d

from lsf_animation.audio.augment import AugmentConfig, augment_speech
from lsf_animation.audio.phonetic import transcript_file
from lsf_animation.constants import FPS, SAMPLE_RATE, SAMPLES_PER_FRAME
from lsf_animation.data.synth import layout
from lsf_animation.data.synth.emotion import (
    EMOTIONS,
    UPPER_FACE,
    articulation_gain,
    emotional_voice,
    face_pattern,
    levels,
    voice_quality,
)
from lsf_animation.data.synth.espeak import Phoneme, get_synthesizer
from lsf_animation.data.synth.sentences import SENTENCES, sentence_pools
from lsf_animation.data.synth.speakers import Speaker, make_speakers
from lsf_animation.data.synth.visemes import (
    CHANNELS,
    close_lips,
    lip_closure,
    mouth_trajectory,
    phoneme_intervals,
    place_channels,
)
from lsf_animation.errors import LsfError
from lsf_animation.face.builtin import EXPRESSION_NAMES

NUM_EXP = 100
EYE_SHUT = 2.5  # eye_close coefficient that shuts an eye on the built-in face
CAM = (10.0, 0.0, 0.0)  # weak-perspective camera (scale, tx, ty), constant
DEFAULT_IDENTITIES = 24
DEFAULT_SENTENCES = 8
"""Sentences per (speaker, emotion, level): all that the val/test sentence pools hold; the
default corpus then takes about a quarter of the 5-minute budget on 2 cores (BENCHMARKS.md,
"Synthetic corpus")."""


def _e(name: str) -> int:
    return EXPRESSION_NAMES.index(name)


@dataclass(frozen=True)
class SynthClip:
    """One generated clip.

    Attributes:
        audio: (N,) float32 at 16 kHz, N = 640 * T.
        shape: (300,) float32.
        exp: (T, 100) float32 expression coefficients.
        jaw: (T, 3) float32 jaw axis-angle (rad); opening is +x.
        global_pose: (T, 3) float32 head rotation (rad).
        cam: (T, 3) float32.
        phonemes: (viseme class, start s, stop s) on the clip's time axis.
    """

    audio: np.ndarray
    shape: np.ndarray
    exp: np.ndarray
    jaw: np.ndarray
    global_pose: np.ndarray
    cam: np.ndarray
    phonemes: tuple[tuple[str, float, float], ...]

    @property
    def num_frames(self) -> int:
        return len(self.exp)

    @property
    def motion(self) -> np.ndarray:
        """(T, 53) float32: 50 expression coefficients + jaw."""
        return np.concatenate([self.exp[:, :50], self.jaw], axis=1)


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    """Gaussian noise low-passed along axis 0, rescaled to unit standard deviation."""
    noise = gaussian_filter1d(rng.standard_normal(shape), sigma, axis=0, mode="reflect")
    return noise / max(float(noise.std()), 1e-9)


def _frame_energy(audio: np.ndarray, num_frames: int) -> np.ndarray:
    """(T,) loudness per frame in [0, 1]: dB re the clip's loudest frame, 40 dB range."""
    rms = np.sqrt(
        np.mean(
            audio[: num_frames * SAMPLES_PER_FRAME].reshape(num_frames, SAMPLES_PER_FRAME) ** 2,
            axis=1,
        )
    )
    db = 20.0 * np.log10(rms / max(float(rms.max()), 1e-9) + 1e-6)
    return np.clip(1.0 + db / 40.0, 0.0, 1.0)


def synthesize_clip(
    speaker: Speaker, emotion: str, level: int, text: str, rng: np.random.Generator
) -> SynthClip:
    """Speak `text` as `speaker` with `emotion` at `level` and make the matching motion."""
    import soxr

    if emotion not in EMOTIONS or level not in levels(emotion):
        raise LsfError(f"no such emotion/level: {emotion} level {level}")
    voice = emotional_voice(speaker.voice, emotion, level)
    utterance = get_synthesizer().synthesize(text, voice)
    speech = soxr.resample(utterance.audio, utterance.sample_rate, SAMPLE_RATE).astype(np.float32)
    speech = voice_quality(speech, SAMPLE_RATE, emotion, level)
    lead = round(rng.uniform(0.15, 0.35) * SAMPLE_RATE)
    tail = round(rng.uniform(0.15, 0.3) * SAMPLE_RATE)
    num_frames = -(-(lead + len(speech) + tail) // SAMPLES_PER_FRAME)
    audio = np.zeros(num_frames * SAMPLES_PER_FRAME, np.float32)
    audio[lead : lead + len(speech)] = speech
    audio += (3e-4 * rng.standard_normal(len(audio))).astype(np.float32)  # room noise floor
    offset = lead / SAMPLE_RATE
    phonemes = [Phoneme(p.name, p.start + offset) for p in utterance.phonemes]
    intervals = phoneme_intervals(phonemes, offset + len(speech) / SAMPLE_RATE)

    style = speaker.style
    gain = articulation_gain(emotion, level)
    mouth = mouth_trajectory(intervals, num_frames)
    channel_gain = {
        "jaw": style.jaw_amplitude,
        "mouth_open": style.jaw_amplitude,
        "lip_pucker": style.round_amplitude,
        "lip_funnel": style.round_amplitude,
        "lip_stretch": style.spread_amplitude,
    }
    exp, jaw_opening = place_channels(
        mouth * gain * np.array([channel_gain.get(c, 1.0) for c in CHANNELS]), NUM_EXP
    )
    jaw = np.zeros((num_frames, 3))
    jaw[:, 0] = jaw_opening

    # Emotion: the level's pattern, breathing with the voice's energy (slowly).
    energy = _frame_energy(audio, num_frames)
    slow = gaussian_filter1d(energy, 5.0, mode="nearest")
    for name, value in face_pattern(emotion, level).items():
        brow = style.brow_activity if name in UPPER_FACE else 1.0
        exp[:, _e(name)] += value * brow * (0.7 + 0.5 * slow)

    # The speaker's mouth-corner habit.
    corner = "lip_corner_up" if style.corner_habit >= 0 else "lip_corner_down"
    exp[:, _e(corner)] += abs(style.corner_habit)

    # Emphasis: brows rise on some stressed vowels.
    frames = np.arange(num_frames)
    for p in phonemes:
        if p.name.startswith("'") and rng.random() < 0.3:
            bump = np.exp(-0.5 * ((frames - p.start * FPS) / 2.5) ** 2)
            exp[:, _e("brow_inner_raise")] += 0.6 * style.brow_activity * bump
            exp[:, _e("brow_outer_raise")] += 0.5 * style.brow_activity * bump

    # Small facial jitter on the named coefficients and the jaw. The unnamed ones (18-49) stay 0:
    # noise there would be unpredictable from speech and min-max scaling would inflate it.
    named = len(EXPRESSION_NAMES)
    exp[:, :named] += 0.04 * _smooth_noise(rng, (num_frames, named), 3.0)
    jaw[:, 0] += 0.003 * _smooth_noise(rng, (num_frames,), 3.0)
    # Bilabials: the lips meet whatever the jaw and the layers above do.
    exp = close_lips(exp, jaw[:, 0], lip_closure(mouth))

    # Blinks (a Poisson process, ~0.3 per second): each lid goes to shut and back in ~0.2 s.
    num_blinks = rng.poisson(0.3 * num_frames / FPS)
    closure = np.zeros(num_frames)
    for centre in rng.uniform(0, num_frames, size=num_blinks):
        closure = np.maximum(closure, np.exp(-0.5 * ((frames - centre) / 1.3) ** 2))
    for name in ("eye_close_left", "eye_close_right"):
        lid = exp[:, _e(name)]
        exp[:, _e(name)] = lid + (EYE_SHUT - lid) * closure

    # Head: slow drift plus nods with the voice's energy.
    pose = 0.02 * _smooth_noise(rng, (num_frames, 3), 8.0)
    pose[:, 0] += 0.03 * gain * (gaussian_filter1d(energy, 3.0, mode="nearest") - 0.5)

    cam = np.tile(np.asarray(CAM), (num_frames, 1))
    return SynthClip(
        audio=audio,
        shape=speaker.shape.astype(np.float32),
        exp=exp.astype(np.float32),
        jaw=jaw.astype(np.float32),
        global_pose=pose.astype(np.float32),
        cam=cam.astype(np.float32),
        phonemes=tuple(intervals),
    )


@dataclass(frozen=True)
class ClipTask:
    """One clip of the corpus: who says which sentence (0-based) with which emotion and level."""

    root: Path
    speaker_index: int
    speaker: Speaker
    emotion: str
    level: int
    sentence: int
    seed: int
    augment: AugmentConfig | None = None

    @property
    def rng(self) -> np.random.Generator:
        code = EMOTIONS.index(self.emotion)
        return np.random.default_rng(
            [self.seed, 2, self.speaker_index, code, self.level, self.sentence]
        )

    @property
    def augment_rng(self) -> np.random.Generator:
        """The audio augmentation's own stream (the motion does not depend on it)."""
        code = EMOTIONS.index(self.emotion)
        return np.random.default_rng(
            [self.seed, 4, self.speaker_index, code, self.level, self.sentence]
        )

    @property
    def paths(self) -> tuple[Path, Path]:
        """(hdf5, wav)."""
        args = (self.root, self.speaker.subject, self.emotion, self.level, self.sentence + 1)
        return layout.motion_path(*args), layout.audio_path(*args)


def measured_jaw_amplitude(speaker: Speaker, num_clips: int = 3) -> float:
    """A speaker's jaw amplitude as the generator realizes it (rad): the 95th percentile of the
    jaw opening in each of `num_clips` neutral clips (sentences 1..num_clips), averaged."""
    return float(
        np.mean(
            [
                np.percentile(
                    synthesize_clip(
                        speaker, "neutral", 1, SENTENCES[k], np.random.default_rng(k)
                    ).jaw[:, 0],
                    95,
                )
                for k in range(num_clips)
            ]
        )
    )


def run_task(task: ClipTask) -> float:
    """Generate and write one clip (skipped when both files exist). Returns its seconds of
    audio."""
    motion_file, audio_file = task.paths
    text_file = transcript_file(audio_file)
    if motion_file.is_file() and audio_file.is_file() and text_file.is_file():
        return 0.0
    clip = synthesize_clip(
        task.speaker, task.emotion, task.level, SENTENCES[task.sentence], task.rng
    )
    arrays = {
        "shape": np.tile(clip.shape, (clip.num_frames, 1)),
        "exp": clip.exp,
        "jaw": clip.jaw,
        "global_pose": clip.global_pose,
        "cam": clip.cam,
    }
    audio = clip.audio
    if task.augment is not None:
        audio, _ = augment_speech(audio, task.augment_rng, task.augment)
    layout.write_motion_hdf5(motion_file, arrays)
    layout.write_text(text_file, SENTENCES[task.sentence] + "\n")
    layout.write_wav(audio_file, audio)
    return len(audio) / SAMPLE_RATE


def speaker_splits(speakers: list[Speaker]) -> dict[str, list[str]]:
    """Speaker-disjoint splits: about a sixth each for val and test (at least one), the rest
    train. Speakers alternate male/female, so each part mixes both."""
    n = len(speakers)
    n_test = max(1, round(n / 6))
    n_val = max(1, round(n / 6))
    ids = [s.subject for s in speakers]
    return {
        "train": ids[: n - n_val - n_test],
        "val": ids[n - n_val - n_test : n - n_test],
        "test": ids[n - n_test :],
    }


def plan_corpus(
    root: Path, identities: int, sentences: int, seed: int, augment: AugmentConfig | None = None
) -> tuple[list[Speaker], dict[str, list[str]], list[ClipTask]]:
    """Speakers, their splits and every clip task of a corpus; `augment` applies to the
    training speakers' audio only (validation and test stay clean)."""
    speakers = make_speakers(identities, seed)
    splits = speaker_splits(speakers)
    pools = sentence_pools()
    smallest = min(len(p) for p in pools.values())
    if not 1 <= sentences <= smallest:
        raise LsfError(
            f"--sentences must be between 1 and {smallest} (each split has its own "
            f"{smallest}+ sentences), got {sentences}"
        )
    part_of = {subject: part for part, ids in splits.items() for subject in ids}
    tasks = []
    for index, speaker in enumerate(speakers):
        pool = np.asarray(pools[part_of[speaker.subject]])
        for code, emotion in enumerate(EMOTIONS):
            for level in levels(emotion):
                rng = np.random.default_rng([seed, 3, index, code, level])
                for sentence in sorted(rng.choice(pool, sentences, replace=False).tolist()):
                    aug = augment if part_of[speaker.subject] == "train" else None
                    tasks.append(
                        ClipTask(Path(root), index, speaker, emotion, level, sentence, seed, aug)
                    )
    return speakers, splits, tasks


@dataclass(frozen=True)
class CorpusReport:
    """What `generate_corpus` made: clips, hours of audio (this run), bytes on disk, seconds."""

    root: Path
    clips: int
    identities: int
    audio_hours: float
    bytes: int
    seconds: float

    def summary(self) -> str:
        return (
            f"{self.clips} clips of {self.identities} identities in {self.root} "
            f"({self.audio_hours:.2f} h of new audio, {self.bytes / 1e6:.0f} MB, "
            f"{self.seconds:.0f} s)"
        )


def _results(tasks: list[ClipTask], workers: int) -> Iterator[float]:
    if workers == 1:
        yield from map(run_task, tasks)
        return
    # Spawned workers: each loads its own eSpeak NG (the library is not thread- or fork-safe).
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers) as pool:
        yield from pool.imap_unordered(run_task, tasks, chunksize=8)


def generate_corpus(
    out: str | Path,
    identities: int = DEFAULT_IDENTITIES,
    sentences: int = DEFAULT_SENTENCES,
    seed: int = 0,
    workers: int = 2,
    progress: bool = False,
    augment: AugmentConfig | None = None,
) -> CorpusReport:
    """Generate the synthetic corpus under `out` in the 3DMEAD layout (see `layout`).

    With `augment`, the training speakers' audio goes through `audio.augment.augment_speech`
    (rooms, noise, bands, codecs, vocal-tract length, loudness), drawn per clip from the seed;
    their motion is the same as without. An interrupted run resumes when called again with the
    same settings.
    """
    from tqdm import tqdm

    if workers < 1:
        raise LsfError(f"--workers must be at least 1, got {workers}")
    root = Path(out)
    start = time.perf_counter()
    speakers, splits, tasks = plan_corpus(root, identities, sentences, seed, augment)
    manifest = {
        "generator": "lsf-animation synth",
        "format": 1,
        "seed": seed,
        "identities": identities,
        "sentences_per_level": sentences,
        "fps": FPS,
        "sample_rate": SAMPLE_RATE,
        "sentences": {f"{i + 1:03d}": text for i, text in enumerate(SENTENCES)},
    }
    if augment is not None:  # only then, so unaugmented corpora keep their manifest
        manifest["augment_train_audio"] = asdict(augment)
    layout.prepare_root(root, manifest)
    seconds = 0.0
    bar = tqdm(total=len(tasks), desc="synth", unit="clip", disable=not progress)
    for clip_seconds in _results(tasks, min(workers, len(tasks))):
        seconds += clip_seconds
        bar.update()
    bar.close()
    layout.write_json(root / layout.SPLITS, splits)
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    return CorpusReport(
        root, len(tasks), len(speakers), seconds / 3600, size, time.perf_counter() - start
    )
