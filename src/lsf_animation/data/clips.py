"""One training clip of 3DMEAD: where its motion and audio are, its labels, and how to read it.

Two on-disk forms are read (docs/specification.md §3):

- "mead": EMOTE's EMICA reconstructions, one `shape_pose_cam.hdf5` per clip with datasets
  `shape (1,T,300)`, `exp (1,T,100)`, `jaw (1,T,3)` (also `global_pose`, `cam`, unused), and
  MEAD's audio (`.m4a` in the release, `.wav` accepted).
- "probtalk3d": ProbTalk3D's preprocessed `param/<key>.npy` of shape `(1,T,403)` = shape 300 +
  exp 100 + jaw 3, with `wav/<key>.wav`.

Motion is `(T, 53)` float32 at 25 fps: the first 50 expression coefficients, then the jaw's
axis-angle (rad). Shape is the 300 FLAME shape coefficients of the clip: EMICA stores them per
frame, and we take their mean over the frames (they are constant in practice; the mean is robust
if a reconstruction lets them drift). Fewer than 300 stored coefficients are zero-padded, which is
what FLAME does with missing coefficients.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from lsf_animation.constants import NUM_EXPRESSION, NUM_SHAPE
from lsf_animation.data.emotions import emotion_name
from lsf_animation.errors import LsfError

PROBTALK3D_DIM = 403
"""Width of ProbTalk3D's parameter rows: shape 300, expression 100, jaw 3."""

Layout = Literal["mead", "probtalk3d"]


def clip_key(subject: str, emotion: int, level: int, sentence: int) -> str:
    """Layout-independent clip key, e.g. ("M003", 6, 2, 1) -> "M003/angry/level_2/001"."""
    return f"{subject}/{emotion_name(emotion)}/level_{level}/{sentence:03d}"


@dataclass(frozen=True)
class Clip:
    """One clip of the corpus.

    Attributes:
        key: "M003/angry/level_2/001" (same for both layouts).
        subject: speaker id, e.g. "M003".
        emotion: emotion code 0..7 (see `data.emotions`).
        level: intensity level 1..3.
        sentence: sentence number, 1-based.
        audio_path: the clip's audio file.
        motion_path: `shape_pose_cam.hdf5` ("mead") or the `.npy` ("probtalk3d").
        layout: "mead" or "probtalk3d".
        num_frames: motion frames (25 fps) when known from the corpus scan, else None.
        audio_seconds: audio duration (s) when known from the corpus scan, else None.
    """

    key: str
    subject: str
    emotion: int
    level: int
    sentence: int
    audio_path: Path
    motion_path: Path
    layout: Layout
    num_frames: int | None = None
    audio_seconds: float | None = None

    @property
    def emotion_name(self) -> str:
        return emotion_name(self.emotion)

    @property
    def intensity(self) -> int:
        """0-based intensity label (level - 1)."""
        return self.level - 1


@dataclass(frozen=True)
class ClipMotion:
    """A clip's parameters: motion (T, 53) float32 = exp[:50] + jaw (rad), 25 fps; shape (300,)
    float32 (mean over frames); num_frames = T."""

    motion: np.ndarray
    shape: np.ndarray
    num_frames: int


def _frames(arr: np.ndarray, name: str, path: Path) -> np.ndarray:
    """(1, T, D) or (T, D) -> (T, D)."""
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise LsfError(
            f"motion file {path}: dataset {name!r} has shape {arr.shape}, expected (1, T, D)"
        )
    return arr


def _shape_coefficients(arr: np.ndarray, path: Path) -> np.ndarray:
    """(1,T,S), (T,S), (1,S) or (S,) -> (300,) float32, mean over frames, zero-padded."""
    a = np.asarray(arr, dtype=np.float64)
    if a.ndim == 1:
        a = a[None]
    a = a.reshape(-1, a.shape[-1])
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise LsfError(f"motion file {path}: the shape dataset is empty ({arr.shape})")
    mean = a.mean(axis=0)[:NUM_SHAPE]
    out = np.zeros(NUM_SHAPE, dtype=np.float32)
    out[: mean.shape[0]] = mean
    return out


def _finish(exp: np.ndarray, jaw: np.ndarray, shape: np.ndarray, path: Path) -> ClipMotion:
    if exp.shape[1] < NUM_EXPRESSION:
        raise LsfError(
            f"motion file {path}: {exp.shape[1]} expression coefficients, need at least "
            f"{NUM_EXPRESSION}"
        )
    if jaw.shape[1] != 3:
        raise LsfError(f"motion file {path}: jaw has {jaw.shape[1]} values per frame, expected 3")
    if exp.shape[0] != jaw.shape[0]:
        raise LsfError(
            f"motion file {path}: {exp.shape[0]} expression frames but {jaw.shape[0]} jaw frames"
        )
    if exp.shape[0] == 0:
        raise LsfError(f"motion file {path} has no frames")
    motion = np.concatenate([exp[:, :NUM_EXPRESSION], jaw], axis=1).astype(np.float32)
    shape_mean = _shape_coefficients(shape, path)
    if not (np.isfinite(motion).all() and np.isfinite(shape_mean).all()):
        raise LsfError(f"motion file {path} contains NaN or infinite values; exclude this clip")
    return ClipMotion(motion=motion, shape=shape_mean, num_frames=int(motion.shape[0]))


def read_mead_motion(path: str | Path) -> ClipMotion:
    """Read an EMICA `shape_pose_cam.hdf5` (datasets `shape`, `exp`, `jaw`)."""
    import h5py

    p = Path(path)
    try:
        with h5py.File(p, "r") as f:
            missing = [k for k in ("shape", "exp", "jaw") if k not in f]
            if missing:
                raise LsfError(
                    f"motion file {p} lacks the dataset(s) {', '.join(missing)}; expected an "
                    "EMICA shape_pose_cam.hdf5 with shape, exp and jaw"
                )
            exp = _frames(np.asarray(f["exp"][()]), "exp", p)
            jaw = _frames(np.asarray(f["jaw"][()]), "jaw", p)
            shape = np.asarray(f["shape"][()])
    except OSError as err:
        raise LsfError(f"cannot read motion file {p} ({err}); is it a complete HDF5 file?") from err
    return _finish(exp, jaw, shape, p)


def read_probtalk3d_motion(path: str | Path) -> ClipMotion:
    """Read a ProbTalk3D `param/<key>.npy` of shape (1, T, 403) = shape 300 + exp 100 + jaw 3."""
    p = Path(path)
    try:
        arr = np.load(p, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise LsfError(f"cannot read motion file {p} ({err}); is it a complete .npy file?") from err
    arr = _frames(np.asarray(arr), "param", p)
    if arr.shape[1] != PROBTALK3D_DIM:
        raise LsfError(
            f"motion file {p} has {arr.shape[1]} values per frame, expected {PROBTALK3D_DIM} "
            "(shape 300 + exp 100 + jaw 3)"
        )
    return _finish(arr[:, 300:400], arr[:, 400:403], arr[:, :300], p)


def read_motion(clip: Clip) -> ClipMotion:
    """The clip's motion (T, 53) and shape (300,); LsfError naming the file when unreadable."""
    if clip.layout == "mead":
        return read_mead_motion(clip.motion_path)
    if clip.layout == "probtalk3d":
        return read_probtalk3d_motion(clip.motion_path)
    raise LsfError(f"clip {clip.key}: unknown layout {clip.layout!r}")


def motion_num_frames(path: str | Path, layout: Layout) -> int:
    """Frame count of a motion file from its header only (no data read).

    Raises:
        LsfError: unreadable or malformed file.
    """
    p = Path(path)
    if layout == "mead":
        import h5py

        try:
            with h5py.File(p, "r") as f:
                if "exp" not in f:
                    raise LsfError(f"motion file {p} has no 'exp' dataset")
                shape = f["exp"].shape
        except OSError as err:
            raise LsfError(f"cannot read motion file {p} ({err})") from err
    else:
        try:
            shape = np.load(p, mmap_mode="r", allow_pickle=False).shape
        except (OSError, ValueError) as err:
            raise LsfError(f"cannot read motion file {p} ({err})") from err
    if len(shape) == 3 and shape[0] == 1:
        return int(shape[1])
    if len(shape) == 2:
        return int(shape[0])
    raise LsfError(f"motion file {p} has an array of shape {shape}, expected (1, T, D)")


_SOUNDFILE_SUFFIXES = {".wav", ".flac", ".ogg"}


def audio_duration(path: str | Path) -> float:
    """Duration (s) of an audio file from its header: soundfile for wav/flac/ogg, the container's
    duration (PyAV) for m4a and the rest. No decoding.

    Raises:
        LsfError: unreadable file or no duration in the header.
    """
    p = Path(path)
    if p.suffix.lower() in _SOUNDFILE_SUFFIXES:
        import soundfile

        try:
            info = soundfile.info(str(p))
        except (RuntimeError, OSError) as err:  # soundfile raises LibsndfileError(RuntimeError)
            raise LsfError(f"cannot read audio file {p} ({err})") from err
        if info.samplerate <= 0:
            raise LsfError(f"audio file {p} reports a sample rate of {info.samplerate}")
        return float(info.frames) / float(info.samplerate)
    import av

    try:
        with av.open(str(p)) as container:
            if not container.streams.audio:
                raise LsfError(f"{p} has no audio stream")
            stream = container.streams.audio[0]
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
            if container.duration is not None:
                return float(container.duration) / av.time_base
    except av.error.FFmpegError as err:
        raise LsfError(f"cannot read audio file {p} ({err})") from err
    raise LsfError(f"audio file {p} has no duration in its header")
