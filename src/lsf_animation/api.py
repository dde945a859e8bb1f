"""The public Python API: `Animator` animates speech with a trained model; `write_animation`
writes the result's files. The CLI's `animate` and `demo` are thin wrappers over these."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
import torch

from lsf_animation.audio.load import Waveform
from lsf_animation.checkpoint.build import build_model
from lsf_animation.checkpoint.encoder_paths import EncoderPaths
from lsf_animation.checkpoint.face_record import check_face, check_face_spec
from lsf_animation.checkpoint.features import build_extractors, feature_roles
from lsf_animation.checkpoint.files import Checkpoint, load_checkpoint
from lsf_animation.constants import FPS, MAX_SAMPLES, NUM_SHAPE
from lsf_animation.errors import LsfError
from lsf_animation.export.base import (
    Exporter,
    ExportInput,
    FileExporter,
    OutputFolder,
    write_outputs,
)
from lsf_animation.export.heatmaps import HeatmapExporter
from lsf_animation.export.motion_npz import MotionExporter
from lsf_animation.export.obj import ObjExporter
from lsf_animation.export.vertices import VerticesExporter
from lsf_animation.export.video import VideoExporter
from lsf_animation.face.identity_files import FaceShape
from lsf_animation.face.load import load_face_model
from lsf_animation.face.model import FaceModel
from lsf_animation.face.motion import MotionFile, motion_vertices
from lsf_animation.inference.streams import MODEL_LANE, SpeechStreams, WorkerLanes
from lsf_animation.inference.windows import seeded_generator, windowed_motion

if TYPE_CHECKING:
    from lsf_animation.audio.features import FeatureExtractor
    from lsf_animation.audio.phonetic import PhoneSegment, PhoneticExtractor

DEMO_CHECKPOINT = Path(__file__).resolve().parent / "assets" / "demo.ckpt"
"""The packaged demo checkpoint (`lsf-animation demo --retrain` makes it again)."""

WINDOW_SECONDS = 20.0
OVERLAP_SECONDS = 2.0


def _demo_checkpoint() -> Path:
    if not DEMO_CHECKPOINT.is_file():
        raise LsfError(
            f"the packaged demo checkpoint {DEMO_CHECKPOINT} is missing (an incomplete install?); "
            "reinstall lsf-animation, or make one with `lsf-animation demo --retrain --work DIR` "
            "and pass --checkpoint DIR/demo.ckpt"
        )
    return DEMO_CHECKPOINT


class Animation:
    """The result of `Animator.animate`: motion samples for one face.

    Attributes:
        motion_file: the motion (K, T, 53), the face's shape (300,) and the frame rate, as one
            value (checked once, when it was made).
        face: the face model `vertices()` uses by default, or its `load_face_model` spec
            (loaded on first use).
    """

    def __init__(self, motion_file: MotionFile, face: FaceModel | str = "builtin") -> None:
        self.motion_file = motion_file
        self.face = face

    @property
    def motion(self) -> np.ndarray:
        """(K, T, 53) float32 in FLAME units (50 expression coefficients + jaw axis-angle in
        radians), T = round(audio seconds x 25)."""
        return self.motion_file.motion

    @property
    def shape(self) -> np.ndarray:
        """(300,) float32 shape coefficients of the face it was made for."""
        return self.motion_file.shape

    @property
    def fps(self) -> float:
        return self.motion_file.fps

    def face_model(self) -> FaceModel:
        """The default face, loaded on first use."""
        if not isinstance(self.face, FaceModel):
            self.face = load_face_model(self.face)
        return self.face

    def vertices(self, face: FaceModel | None = None, sample: int = 0) -> np.ndarray:
        """(T, V, 3) float32 vertices in metres of one sample on `face` (default: self.face)."""
        return motion_vertices(face or self.face_model(), self.motion_file, sample)


@dataclass(frozen=True)
class _Request:
    """One `animate` call's checked settings."""

    shape: torch.Tensor  # (1, 300)
    num_samples: int
    temperature: float
    generator: torch.Generator
    phones: list[PhoneSegment] | None = None  # the whole utterance's, aligned to a transcript
    recognizing: PhoneticExtractor | None = None  # the motion stream with another recognizer


class Animator:
    """A trained stage-2 model ready to animate speech; build with `from_checkpoint`.

    Args:
        checkpoint: a loaded stage-2 checkpoint.
        face: the face model (or its `load_face_model` spec) used for neutral meshes and
            `Animation.vertices`; it must be the face the checkpoint was trained on, when the
            checkpoint records one (`checkpoint.face_record`).
        num_threads: torch CPU threads to animate with; None = the caller's current count. The
            caller's own setting is never changed (see `inference.streams`).
        parallel_streams: with two speech streams and >= 2 threads, compute them side by side,
            each on half of the threads (same results up to float rounding).
        encoders: where the speech encoders are now, replacing the paths stored at training.
    """

    def __init__(
        self,
        checkpoint: Checkpoint,
        face: FaceModel | str = "builtin",
        num_threads: int | None = None,
        parallel_streams: bool = True,
        encoders: EncoderPaths | None = None,
    ) -> None:
        checkpoint.require_stage(2)
        if checkpoint.features is None:
            raise LsfError(f"{checkpoint.path} names no speech features; it cannot animate speech")
        if num_threads is not None and num_threads < 1:
            raise LsfError(f"num_threads must be at least 1, got {num_threads}")
        self.checkpoint = checkpoint
        self.scaler = checkpoint.scaler
        self.num_threads = num_threads
        self.parallel_streams = parallel_streams
        self._face = check_face_spec(checkpoint.meta.face, face, checkpoint.path)
        roles = feature_roles(checkpoint.model_config)
        self.extractors = build_extractors(
            checkpoint.features,
            roles,
            checkpoint.path,
            encoders,
            checkpoint.encoders,
            checkpoint.meta.backbone,
        )
        self.model = build_model(checkpoint)
        self.streams = SpeechStreams(self.extractors, self.model.motion_backbone)

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        face: FaceModel | str = "builtin",
        num_threads: int | None = None,
        parallel_streams: bool = True,
        encoders: EncoderPaths | None = None,
    ) -> Animator:
        """Load a stage-2 checkpoint (`model.ckpt` from `lsf-animation train stage2` or
        `lsf-animation import-checkpoint`), or "demo" for the packaged demo checkpoint; the
        other arguments as for `Animator`."""
        if isinstance(path, str) and path == "demo":
            path = _demo_checkpoint()
        checkpoint = load_checkpoint(path, stage=2)
        return cls(checkpoint, face, num_threads, parallel_streams, encoders)

    @property
    def face(self) -> FaceModel:
        if not isinstance(self._face, FaceModel):
            loaded = load_face_model(self._face)
            self._face = check_face(self.checkpoint.meta.face, loaded, self.checkpoint.path)
        return self._face

    def _lanes(self) -> WorkerLanes:
        threads = self.num_threads or torch.get_num_threads()
        roles = self.streams.roles
        parallel = self.parallel_streams and len(roles) >= 2 and threads >= 2
        return WorkerLanes(threads, roles if parallel else ())

    def _sample(self, feats: dict[str, torch.Tensor], frames: int, req: _Request) -> np.ndarray:
        with torch.inference_mode():
            motion = self.model.sample(
                feats["motion"],
                feats.get("emotion"),
                req.shape,
                num_frames=frames,
                num_samples=req.num_samples,
                temperature=req.temperature,
                generator=req.generator,
                apply_backbone=False,
            )[0]
        if motion.shape[1] != frames:
            raise LsfError(f"the model made {motion.shape[1]} frames for {frames} requested")
        return np.asarray(self.scaler.inverse(motion.numpy()), dtype=np.float32)

    def window_features(self, wav: np.ndarray) -> dict[str, torch.Tensor]:
        """The model's input streams for one window of audio, (1, T50, D) by role, computed as
        `animate` computes them (the motion stream already through the motion backbone)."""
        with self._lanes() as lanes:
            return self.streams.compute_all(lanes, wav)

    def _predict(
        self, lanes: WorkerLanes, wav: np.ndarray, frames: int, start: int, req: _Request
    ) -> np.ndarray:
        """One window: audio slice of the frames from `start` -> (K, frames, 53) in FLAME
        units."""
        replaced: dict[str, FeatureExtractor] = {}
        if req.phones is not None:
            motion = cast("PhoneticExtractor", self.extractors["motion"])
            replaced["motion"] = motion.reading(req.phones, start / FPS)
        elif req.recognizing is not None:
            replaced["motion"] = req.recognizing
        feats = self.streams.compute_all(lanes, wav, replaced)
        return lanes.submit(MODEL_LANE, self._sample, feats, frames, req).result()

    @property
    def takes_transcript(self) -> bool:
        """Whether `animate(transcript=...)` applies: the motion stream is offline-phonetic."""
        from lsf_animation.audio.phonetic import PhoneticExtractor

        return isinstance(self.extractors["motion"], PhoneticExtractor)

    def _require_phonetic(self, option: str) -> None:
        if not self.takes_transcript:
            raise LsfError(
                f"{option} applies only to a model whose motion stream is offline-phonetic; this "
                f"checkpoint's is {self.extractors['motion'].name!r}: leave out {option}"
            )

    def _aligned_phones(self, wav: Waveform, transcript: str) -> list[PhoneSegment]:
        """The phones of the whole utterance aligned to `transcript`, for a model whose motion
        stream is offline-phonetic."""
        self._require_phonetic("the transcript")
        motion = cast("PhoneticExtractor", self.extractors["motion"])
        return motion.align_utterance(wav.samples, transcript)

    def _shape(
        self, shape: np.ndarray | FaceShape | None, neutral_mesh: np.ndarray | None
    ) -> FaceShape:
        """The face's checked shape from either input (the mean face for neither)."""
        if shape is not None and neutral_mesh is not None:
            raise LsfError("give either shape coefficients or a neutral mesh, not both")
        if isinstance(shape, FaceShape):
            return shape
        if neutral_mesh is not None:
            # Imported when needed: fitting's scipy.linalg costs ~0.5 s at start-up.
            from lsf_animation.face.fit import fit_shape

            return FaceShape.from_array(
                fit_shape(self.face, neutral_mesh)[:NUM_SHAPE], "fitted neutral mesh"
            )
        return FaceShape.zero() if shape is None else FaceShape.from_array(shape)

    def animate(
        self,
        audio: str | os.PathLike[str] | np.ndarray | Waveform,
        shape: np.ndarray | FaceShape | None = None,
        neutral_mesh: np.ndarray | None = None,
        num_samples: int = 1,
        temperature: float = 0.2,
        seed: int | None = None,
        window_seconds: float = WINDOW_SECONDS,
        overlap_seconds: float = OVERLAP_SECONDS,
        transcript: str | None = None,
        recognizer: str | None = None,
        progress: bool = False,
    ) -> Animation:
        """Animate speech.

        Args:
            audio: an audio file, a (N,) float32 mono waveform at 16 kHz, or a `Waveform`.
            shape: (<=300,) shape coefficients of the face (zero-padded to 300), a checked
                `FaceShape`, or None for the mean face.
            neutral_mesh: (V, 3) neutral mesh in the face model's topology, in metres; its
                shape coefficients are fitted (`face.fit.fit_shape`). Not with `shape`.
            num_samples: K motion samples, 1 to `constants.MAX_SAMPLES` (100).
            temperature: code-sampling temperature (0 = deterministic argmin codes).
            seed: seeds the sampling, 0 to `constants.MAX_SEED` (None = random).
            window_seconds, overlap_seconds: audio longer than one window is animated window by
                window with this overlap and a linear cross-fade (`lsf_animation.inference`).
            transcript: the words spoken (English), for a model whose motion stream is
                offline-phonetic: the phones are then aligned to them over the whole audio
                (exact phones) instead of recognized window by window.
            recognizer: for such a model without a transcript, how the phones are recognized:
                "words" (the words, then aligned: more exact phones) or "allphone" (the phones
                directly: several times faster); None = the checkpoint's own setting.
            progress: show a progress bar of the frames animated (stderr), window by window.

        Returns:
            An `Animation` of round(duration x 25) frames.
        """
        if not 1 <= num_samples <= MAX_SAMPLES:
            raise LsfError(
                f"the number of samples must be from 1 to {MAX_SAMPLES}, got {num_samples}"
            )
        if not temperature >= 0:
            raise LsfError(f"the temperature must be >= 0, got {temperature}")
        window = round(window_seconds * FPS)
        overlap = round(overlap_seconds * FPS)
        if window < 2 * FPS or not 0 <= overlap < window // 2:
            raise LsfError(
                "windows must be at least 2 s long and overlap by less than half a window"
            )
        coeffs = self._shape(shape, neutral_mesh)
        if isinstance(audio, Waveform):
            wav = audio
        elif isinstance(audio, np.ndarray):
            wav = Waveform.from_array(audio)
        else:
            wav = Waveform.read(audio)
        recognizing = None
        if recognizer is not None:
            self._require_phonetic("the recognizer")
            phonetic = cast("PhoneticExtractor", self.extractors["motion"])
            recognizing = phonetic.recognizing(recognizer)
        phones = None if transcript is None else self._aligned_phones(wav, transcript)
        shape_row = torch.from_numpy(coeffs.coefficients)[None]
        req = _Request(
            shape_row, num_samples, temperature, seeded_generator(seed), phones, recognizing
        )
        with self._lanes() as lanes:
            motion = windowed_motion(
                wav.samples,
                lambda piece, frames, start: self._predict(lanes, piece, frames, start, req),
                window,
                overlap,
                progress,
            )
        return Animation(MotionFile(motion, coeffs.coefficients, float(FPS)), self._face)


ArkitOption = bool | str | Path
"""`arkit=`: False (no curves), True (the built-in face's own targets) or the path of the face
model's ARKit targets (.npz or folder of OBJs)."""


def standard_exporters(
    video: bool = True,
    obj: bool = False,
    size: int = 512,
    progress: bool = False,
    gltf: bool = False,
    arkit: ArkitOption = False,
    audio: Path | None = None,
    vertices: bool = True,
) -> list[Exporter]:
    """The files `lsf-animation animate` writes: motion.npz, vertices.npy (unless `vertices` is
    False), the heatmaps, and optionally animation.mp4, the OBJ sequence, animation.glb (with a
    copy of `audio` beside it, which the viewer plays) and the ARKit-52 curves."""
    exporters: list[Exporter] = [MotionExporter()]
    if vertices:
        exporters.append(VerticesExporter())
    exporters.append(HeatmapExporter())
    if obj:
        exporters.append(ObjExporter())
    if video:
        exporters.append(VideoExporter(size, progress))
    # Imported when asked for: the ARKit solver's scipy.optimize costs ~0.5 s to import.
    if gltf:
        from lsf_animation.export.gltf import GltfExporter

        exporters.append(GltfExporter())
        if audio is not None:
            source = audio
            exporters.append(
                FileExporter("audio", source.name, lambda path: shutil.copyfile(source, path))
            )
    if arkit is not False:
        from lsf_animation.export.arkit import ArkitExporter

        exporters.append(ArkitExporter(None if arkit is True else arkit))
    return exporters


def write_animation(
    animation: Animation,
    out: str | Path | OutputFolder,
    audio: str | Path | None = None,
    video: bool = True,
    obj: bool = False,
    size: int = 512,
    progress: bool = False,
    gltf: bool = False,
    arkit: ArkitOption = False,
    extra: Sequence[Exporter] = (),
    vertices: bool = True,
) -> dict[str, Path]:
    """Write an animation's files into folder `out`, all or nothing (`export.base`).

    Files: motion.npz (`motion` (K, T, 53), `shape`, `fps`), with `vertices` vertices.npy
    (sample 0, (T, V, 3) metres: 12 bytes per vertex and frame, 2.2 GB for 20 minutes on the
    built-in face), heatmap_mean.png and heatmap_std.png (frame-to-frame vertex displacement),
    with `video` animation.mp4 (sample 0, `audio` muxed in), with `obj` obj/frame_*.obj, with
    `gltf` animation.glb (every sample) and a copy of the audio for the viewer, with `arkit`
    arkit.csv and arkit.json (see `ArkitOption`), and whatever the `extra` exporters write.
    Files of the same names from an earlier run are replaced; anything else in their way (a
    folder named like an output file, an obj/ with files other than OBJ frames) is refused.
    Memory does not grow with the animation's length beyond the motion itself: every format is
    written from vertices computed chunk by chunk.

    Raises:
        LsfError: before anything is written, when `arkit` needs targets the face model has not
            (FLAME: give its ARKit targets) or an output is in the way; or when an output
            cannot be written (a full disk says so in one line).

    Returns:
        The paths written, by role.
    """
    audio_path = None if audio is None else Path(audio)
    exporters = [
        *extra,
        *standard_exporters(video, obj, size, progress, gltf, arkit, audio_path, vertices),
    ]
    item = ExportInput(animation.motion_file, animation.face_model(), audio_path, progress)
    return write_outputs(item, out, exporters)
