"""The public Python API: what the CLI's subcommands call."""

from __future__ import annotations

import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from lsf_animation.errors import LsfError
from lsf_animation.export.motion_npz import MotionFile
from lsf_animation.face.identity_files import check_shape
from lsf_animation.face.model import FaceModel


def motion_vertices(face: FaceModel, motion_file: MotionFile, sample: int = 0) -> np.ndarray:
    """Vertices of one motion sample on a face.

    Args:
        face: the face model (FLAME or the built-in face).
        motion_file: motion (K, T, 53) and shape (300,).
        sample: which of the K samples.

    Returns:
        (T, V, 3) float32 vertices in metres.
    """
    from lsf_animation.face.flame import FlameLayer, motion_to_vertices

    num_samples = motion_file.motion.shape[0]
    if not 0 <= sample < num_samples:
        raise LsfError(f"sample {sample} does not exist: the motion holds {num_samples} sample(s)")
    return motion_to_vertices(FlameLayer(face), motion_file.motion[sample], motion_file.shape)


def render_video(
    face: FaceModel,
    motion_file: MotionFile,
    out: str | Path,
    audio: str | Path | None = None,
    sample: int = 0,
    size: int = 512,
    progress: bool = False,
) -> Path:
    """Render one motion sample on a face to an mp4 (H.264, yuv420p), with the audio muxed in.

    Args:
        face: the face model.
        motion_file: motion (K, T, 53) at `motion_file.fps` and shape (300,).
        out: the .mp4 to write (written atomically).
        audio: an audio file to mux in, or None for a silent video.
        sample: which of the K samples to render.
        size: frame width and height in pixels.
        progress: show a progress bar on stderr.

    Returns:
        The path written.
    """
    vertices = motion_vertices(face, motion_file, sample)
    return write_video(face, vertices, out, motion_file.fps, audio, size, progress)


def write_video(
    face: FaceModel,
    vertices: np.ndarray,
    out: str | Path,
    fps: float = 25.0,
    audio: str | Path | None = None,
    size: int = 512,
    progress: bool = False,
) -> Path:
    """Render a vertex sequence (T, V, 3) of `face` to an mp4 at `fps`, with the audio muxed in.

    The camera frames the whole sequence; the file is written atomically. See `render_video`.
    """
    from lsf_animation.render.camera import Camera
    from lsf_animation.render.renderer import MeshRenderer
    from lsf_animation.render.video import write_mp4

    if size < 16 or size % 2:
        raise LsfError(f"--size must be an even number of pixels >= 16, got {size}")
    out = Path(out)
    camera = Camera.framing(vertices, size, size)
    renderer = MeshRenderer(face.faces, face.vertex_colors, camera, size, size)
    frames = tqdm(
        renderer.render_sequence(vertices),
        total=len(vertices),
        desc="render",
        unit="frame",
        disable=not progress,
    )
    write_mp4(frames, out, fps=fps, audio=audio, num_frames=len(vertices))
    return out


def write_heatmaps(face: FaceModel, vertices: np.ndarray, mean_png: Path, std_png: Path) -> None:
    """The paper's Fig. 4 for a vertex sequence (T, V, 3): mean and std of each vertex's
    frame-to-frame displacement, drawn on the neutral template."""
    from lsf_animation.render.heatmap import displacement_statistics, write_heatmap_png

    mean, std = displacement_statistics(vertices)
    for path, values, label in ((mean_png, mean, "mean"), (std_png, std, "std")):
        title = f"{label} frame-to-frame displacement"
        write_heatmap_png(face.v_template, face.faces, values, path, title=title)


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


@dataclass
class Animation:
    """The result of `Animator.animate`.

    Attributes:
        motion: (K, T, 53) float32 in FLAME units (50 expression coefficients + jaw axis-angle
            in radians), T = round(audio seconds x 25).
        shape: (300,) float32 shape coefficients of the face it was made for.
        fps: frames per second (25).
        face: the face model `vertices()` uses by default, or its `load_face_model` spec
            (loaded on first use).
    """

    motion: np.ndarray
    shape: np.ndarray
    fps: float
    face: FaceModel | str = "builtin"

    def face_model(self) -> FaceModel:
        """The default face, loaded on first use."""
        if not isinstance(self.face, FaceModel):
            from lsf_animation.face.load import load_face_model

            self.face = load_face_model(self.face)
        return self.face

    @property
    def motion_file(self) -> MotionFile:
        from lsf_animation.export.motion_npz import make_motion_file

        return make_motion_file(self.motion, self.shape, self.fps)

    def vertices(self, face: FaceModel | None = None, sample: int = 0) -> np.ndarray:
        """(T, V, 3) float32 vertices in metres of one sample on `face` (default: self.face)."""
        return motion_vertices(face or self.face_model(), self.motion_file, sample)


class Animator:
    """A trained stage-2 model ready to animate speech; build with `from_checkpoint`."""

    def __init__(self, checkpoint: Any, face: FaceModel | str = "builtin") -> None:
        from lsf_animation.audio.features import get_extractor
        from lsf_animation.model.loading import skip_weight_init
        from lsf_animation.model.variants import USES_EMOTION_FEATURES

        self.checkpoint = checkpoint
        self.scaler = checkpoint.scaler
        self._face = face
        features = checkpoint.features
        if not features or not features.get("motion"):
            raise LsfError(f"{checkpoint.path} names no speech features; it cannot animate speech")
        uses_emotion = checkpoint.model_config.sie.variant in USES_EMOTION_FEATURES
        # The extractors first: building HuBERT's one imports transformers, whose weight init
        # `skip_weight_init` then also skips for the motion backbone.
        self.extractors: dict[str, Any] = {}
        for role, spec in features.items():
            if spec is None or (role == "emotion" and not uses_emotion):
                continue
            extractor = get_extractor(spec["name"], **dict(spec.get("options") or {}))
            if extractor.fingerprint() != spec["fingerprint"]:
                raise LsfError(
                    f"the {role} speech feature {spec['name']!r} built here (options "
                    f"{spec.get('options') or {}}) has fingerprint {extractor.fingerprint()}, "
                    f"but {checkpoint.path} was trained on fingerprint {spec['fingerprint']}: "
                    "its configuration or encoder weights differ from the ones used in "
                    "training; give the same weights (options) or retrain stage 2"
                )
            self.extractors[role] = extractor
        if uses_emotion and "emotion" not in self.extractors:
            raise LsfError(f"{checkpoint.path}: the model reads emotion features but none named")
        with skip_weight_init():  # build_model loads every weight strictly right after
            self.model = checkpoint.build_model()

    @classmethod
    def from_checkpoint(cls, path: str | Path, face: FaceModel | str = "builtin") -> Animator:
        """Load a stage-2 checkpoint (`model.ckpt` from `lsf-animation train stage2`), or
        "demo" for the packaged demo checkpoint. `face` is the face model (or its
        `load_face_model` spec) used for neutral meshes and `Animation.vertices`."""
        from lsf_animation.train.checkpoint import load_checkpoint

        if isinstance(path, str) and path == "demo":
            path = _demo_checkpoint()
        return cls(load_checkpoint(path, stage=2), face)

    @property
    def face(self) -> FaceModel:
        if not isinstance(self._face, FaceModel):
            from lsf_animation.face.load import load_face_model

            self._face = load_face_model(self._face)
        return self._face

    parallel_streams: bool = True
    """Compute the two speech streams of a window at the same time (see `_features`)."""

    def _features(self, wav: np.ndarray) -> dict[str, torch.Tensor]:
        """Speech features of one window by role, (1, T50, D) each; the motion stream has
        already been through the model's motion backbone (HuBERT's upper layers in the paper
        preset), so each stream carries a similar share of the work.

        With two streams, `parallel_streams` and >= 2 torch threads, the streams run at the
        same time in two threads, each with half of torch's threads: on 2 cores two
        single-threaded encoders keep both cores busy with no synchronization between them,
        where one encoder after the other on 2 threads waits at every operator's barrier
        (and loses much more when another process shares the cores). Same results either way
        up to float rounding.
        """
        backbone = self.model.motion_backbone

        def stream(role: str, extractor: Any) -> torch.Tensor:
            with torch.inference_mode():
                x = torch.from_numpy(np.ascontiguousarray(extractor(wav)))[None]
                if role == "motion" and backbone is not None:
                    x = backbone(x, None)
            return x

        threads = torch.get_num_threads()
        if len(self.extractors) < 2 or threads < 2 or not self.parallel_streams:
            return {role: stream(role, ex) for role, ex in self.extractors.items()}
        torch.set_num_threads(threads // 2)  # inherited by the worker threads started below
        try:
            with ThreadPoolExecutor(len(self.extractors)) as pool:
                futures = {
                    role: pool.submit(stream, role, ex) for role, ex in self.extractors.items()
                }
                return {role: future.result() for role, future in futures.items()}
        finally:
            torch.set_num_threads(threads)

    def _predict(
        self,
        wav: np.ndarray,
        frames: int,
        shape: torch.Tensor,
        num_samples: int,
        temperature: float,
        generator: torch.Generator,
    ) -> np.ndarray:
        """One window: audio slice -> (K, frames, 53) in FLAME units."""
        feats = self._features(wav)
        motion = self.model.sample(
            feats["motion"],
            feats.get("emotion"),
            shape,
            num_frames=frames,
            num_samples=num_samples,
            temperature=temperature,
            generator=generator,
            apply_backbone=False,
        )[0]
        if motion.shape[1] != frames:
            raise LsfError(f"the model made {motion.shape[1]} frames for {frames} requested")
        return np.asarray(self.scaler.inverse(motion.numpy()), dtype=np.float32)

    def animate(
        self,
        audio: str | Path | np.ndarray,
        shape: np.ndarray | None = None,
        neutral_mesh: np.ndarray | None = None,
        num_samples: int = 1,
        temperature: float = 0.2,
        seed: int | None = None,
        window_seconds: float = WINDOW_SECONDS,
        overlap_seconds: float = OVERLAP_SECONDS,
    ) -> Animation:
        """Animate speech.

        Args:
            audio: an audio file, or a (N,) float32 mono waveform at 16 kHz.
            shape: (<=300,) shape coefficients of the face (zero-padded to 300), or None.
            neutral_mesh: (V, 3) neutral mesh in the face model's topology, in metres; its
                shape coefficients are fitted (`face.fit.fit_shape`). Not with `shape`.
            num_samples: K motion samples.
            temperature: code-sampling temperature (0 = deterministic argmin codes).
            seed: seeds the sampling (None = random).
            window_seconds, overlap_seconds: audio longer than one window is animated window by
                window with this overlap and a linear cross-fade (`lsf_animation.inference`).

        Returns:
            An `Animation` of round(duration x 25) frames.
        """
        from lsf_animation.audio.load import load_audio
        from lsf_animation.inference import FPS, seeded_generator, windowed_motion

        if shape is not None and neutral_mesh is not None:
            raise LsfError("give either shape coefficients or a neutral mesh, not both")
        if num_samples < 1:
            raise LsfError(f"the number of samples must be >= 1, got {num_samples}")
        if not temperature >= 0:
            raise LsfError(f"the temperature must be >= 0, got {temperature}")
        window = round(window_seconds * FPS)
        overlap = round(overlap_seconds * FPS)
        if window < 2 * FPS or not 0 <= overlap < window // 2:
            raise LsfError(
                "windows must be at least 2 s long and overlap by less than half a window"
            )
        if neutral_mesh is not None:
            from lsf_animation.face.fit import fit_shape

            coeffs = fit_shape(self.face, neutral_mesh)[:300]
            coeffs = check_shape(coeffs, "fitted neutral mesh")
        else:
            coeffs = check_shape(np.zeros(300) if shape is None else shape)
        if isinstance(audio, (str, Path)):
            wav = load_audio(audio)
        else:
            wav = np.asarray(audio, dtype=np.float32)
            if wav.ndim != 1 or wav.size < 640:
                raise LsfError("audio arrays must be (N,) float32 at 16 kHz, at least 40 ms")
            if not np.isfinite(wav).all():
                raise LsfError("the audio contains NaN or inf samples")
        shape_t = torch.from_numpy(coeffs)[None]
        generator = seeded_generator(seed)
        with torch.inference_mode():
            motion = windowed_motion(
                wav,
                lambda piece, frames: self._predict(
                    piece, frames, shape_t, num_samples, temperature, generator
                ),
                window,
                overlap,
            )
        return Animation(motion, coeffs, float(FPS), self._face)


def check_output_dir(out: str | Path) -> Path:
    """LsfError unless `out` is a folder that exists or can be created, and can be written."""
    out = Path(out).expanduser()
    probe = out
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise LsfError(f"output folder {out}: {probe} is a file, not a folder; use another --out")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise LsfError(f"output folder {out}: {probe} is not writable; choose another --out")
    return out


def write_animation(
    animation: Animation,
    out: str | Path,
    audio: str | Path | None = None,
    video: bool = True,
    obj: bool = False,
    size: int = 512,
    progress: bool = False,
) -> dict[str, Path]:
    """Write an animation's files into folder `out`, all or nothing.

    Files: motion.npz (`motion` (K, T, 53), `shape`, `fps`), vertices.npy (sample 0, (T, V, 3)
    metres), heatmap_mean.png and heatmap_std.png (frame-to-frame vertex displacement), with
    `video` animation.mp4 (sample 0, `audio` muxed in), with `obj` obj/frame_*.obj. Everything
    is written into a hidden folder inside `out` first and moved into place only when complete;
    files of the same names from an earlier run are replaced.

    Returns:
        The paths written, by role.
    """
    from lsf_animation.export.motion_npz import save_motion
    from lsf_animation.export.obj import save_obj_sequence
    from lsf_animation.export.vertices import save_vertices

    out = check_output_dir(out)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=out))
    names = {
        "motion": "motion.npz",
        "vertices": "vertices.npy",
        "heatmap_mean": "heatmap_mean.png",
        "heatmap_std": "heatmap_std.png",
    }
    if video:
        names["video"] = "animation.mp4"
    if obj:
        names["obj"] = "obj"
    try:
        face = animation.face_model()
        save_motion(staging / names["motion"], animation.motion_file)
        vertices = animation.vertices(face)
        save_vertices(staging / names["vertices"], vertices)
        write_heatmaps(
            face, vertices, staging / names["heatmap_mean"], staging / names["heatmap_std"]
        )
        if obj:
            save_obj_sequence(staging / names["obj"], vertices, face.faces, face.vertex_colors)
        if video:
            write_video(
                face, vertices, staging / names["video"], animation.fps, audio, size, progress
            )
        result = {}
        for role, name in names.items():
            dest = out / name
            if dest.is_dir():
                shutil.rmtree(dest)
            os.replace(staging / name, dest)
            result[role] = dest
        return result
    except BaseException:
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
