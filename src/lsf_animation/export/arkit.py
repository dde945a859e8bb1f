"""ARKit-52 blendshape curves of an animation: a Live Link Face CSV and a JSON file.

`fit_arkit` solves per-frame weights in [0, 1] from the animated vertices (`export.arkit_fit`);
`write_live_link_csv` writes them in the column layout of the CSV files Epic's Live Link Face app
records (so Unreal's Live Link / MetaHuman tooling and Blender add-ons that read those files take
it as is):

    Timecode,BlendShapeCount,EyeBlinkLeft,...,TongueOut,HeadYaw,HeadPitch,HeadRoll,
    LeftEyeYaw,LeftEyePitch,LeftEyeRoll,RightEyeYaw,RightEyePitch,RightEyeRoll

one row per frame: a timecode HH:MM:SS:FF.mmm (FF the frame within the second at the
animation's frame rate, .mmm the sub-frame fraction in thousandths), BlendShapeCount 61 (52
blendshapes + 9 rotations), the 52 weights in `ARKIT_NAMES` order (PascalCase in the header, as
the app writes them) and the head and eye rotations, which are 0 here (the motion has neither).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from lsf_animation.errors import LsfError
from lsf_animation.export.arkit_fit import RIDGE, ArkitFit, ArkitSolver
from lsf_animation.export.base import Exporter, ExportInput
from lsf_animation.face.arkit import ARKIT_NAMES, ArkitTargets, arkit_targets_for
from lsf_animation.face.model import FaceModel
from lsf_animation.io.atomic import atomic_write_bytes

LIVE_LINK_ROTATIONS = (
    "HeadYaw",
    "HeadPitch",
    "HeadRoll",
    "LeftEyeYaw",
    "LeftEyePitch",
    "LeftEyeRoll",
    "RightEyeYaw",
    "RightEyePitch",
    "RightEyeRoll",
)
BLEND_SHAPE_COUNT = len(ARKIT_NAMES) + len(LIVE_LINK_ROTATIONS)  # 61, as the app writes
CSV_NAME = "arkit.csv"
JSON_NAME = "arkit.json"
SOLVER = (
    "bounded least squares per frame over the region the targets move "
    f"(scipy.optimize.lsq_linear, method='bvls', bounds [0, 1], ridge {RIDGE:g})"
)
_CHUNK = 256  # frames of vertices computed at a time when none are given


def live_link_header() -> list[str]:
    """The CSV header: Timecode, BlendShapeCount, the 52 names in PascalCase, 9 rotations."""
    pascal = [n[0].upper() + n[1:] for n in ARKIT_NAMES]
    return ["Timecode", "BlendShapeCount", *pascal, *LIVE_LINK_ROTATIONS]


def timecode(frame: int, fps: float) -> str:
    """HH:MM:SS:FF.mmm of a frame counted from 00:00:00:00 at `fps` frames per second."""
    seconds = frame / fps
    whole = int(np.floor(seconds + 1e-9))
    within = (frame - whole * fps) if float(fps).is_integer() else (seconds - whole) * fps
    ff = int(np.floor(within + 1e-9))
    sub = round((within - ff) * 1000)
    if sub == 1000:
        ff, sub = ff + 1, 0
    h, rem = divmod(whole, 3600)
    m, s = divmod(rem, 60)
    return f"{h:02d}:{m:02d}:{s:02d}:{ff:02d}.{sub:03d}"


def write_live_link_csv(path: str | Path, weights: np.ndarray, fps: float) -> Path:
    """Write (T, 52) weights as a Live Link Face CSV (layout in the module docstring)."""
    weights = np.asarray(weights, np.float64)
    if weights.ndim != 2 or weights.shape[1] != len(ARKIT_NAMES):
        raise ValueError(f"weights must be (T, {len(ARKIT_NAMES)}), got {weights.shape}")
    zeros = ",".join(["0"] * len(LIVE_LINK_ROTATIONS))
    lines = [",".join(live_link_header())]
    for f, row in enumerate(weights):
        values = ",".join(f"{w:.6f}" for w in row)
        lines.append(f"{timecode(f, fps)},{BLEND_SHAPE_COUNT},{values},{zeros}")
    return atomic_write_bytes(path, ("\n".join(lines) + "\n").encode(), "the ARKit CSV")


def write_arkit_json(
    path: str | Path,
    fit: ArkitFit,
    fps: float,
    targets: str,
    face_name: str,
    audio: str | None = None,
) -> Path:
    """Write the weights and the fit's description as JSON: names, fps, frames, weights
    (frames x 52, rounded to 1e-6), solver, targets, lip residual (mm), audio file name."""
    residual = fit.lip_residual_summary()
    doc = {
        "format": "arkit-52",
        "names": list(ARKIT_NAMES),
        "fps": float(fps),
        "frames": int(fit.weights.shape[0]),
        "sample": 0,
        "weights": np.round(fit.weights.astype(np.float64), 6).tolist(),
        "solver": SOLVER,
        "targets": targets,
        "face_model": face_name,
        "lip_residual_mm": {k.removesuffix("_mm"): round(v, 4) for k, v in residual.items()},
        "audio": audio,
    }
    text = json.dumps(doc, separators=(",", ":")) + "\n"
    return atomic_write_bytes(path, text.encode(), "the ARKit JSON")


def _vertex_chunks(face: FaceModel, motion: np.ndarray, shape: np.ndarray) -> Iterator[np.ndarray]:
    from lsf_animation.face.flame import FlameLayer, motion_to_vertices

    layer = FlameLayer(face)
    for start in range(0, len(motion), _CHUNK):
        yield motion_to_vertices(layer, motion[start : start + _CHUNK], shape)


def _neutral(face: FaceModel, shape: np.ndarray) -> np.ndarray:
    s = np.asarray(shape, np.float64).reshape(-1)
    return face.v_template + face.shapedirs[:, :, : s.size] @ s


def fit_arkit(
    face: FaceModel,
    motion: np.ndarray,
    shape: np.ndarray | None,
    targets: ArkitTargets,
    vertices: Iterable[np.ndarray] | None = None,
) -> ArkitFit:
    """ARKit weights of one motion sample.

    Args:
        face: the face model.
        motion: (T, 53) one sample (used for its vertices when `vertices` is None).
        shape: (<= 300,) shape coefficients or None; the neutral is the shaped template.
        targets: the face model's ARKit targets (`arkit_targets_for`).
        vertices: the sample's (T, V, 3) vertices in metres, whole or as chunks of frames.

    Returns:
        The weights (T, 52) and the lip residual.
    """
    shape_arr = np.zeros(0) if shape is None else np.asarray(shape, np.float64)
    if targets.num_vertices != face.num_vertices:
        raise LsfError(
            f"the ARKit targets ({targets.source}) have {targets.num_vertices} vertices but the "
            f"face model {face.name!r} has {face.num_vertices}"
        )
    chunks = vertices if vertices is not None else _vertex_chunks(face, motion, shape_arr)
    if isinstance(chunks, np.ndarray):
        chunks = [chunks]
    solver = ArkitSolver(targets, face.regions.get("lips"))
    return solver.fit(chunks, _neutral(face, shape_arr))


class ArkitExporter(Exporter):
    """arkit.csv (Live Link Face layout) and arkit.json: sample 0 as ARKit-52 curves.

    Args:
        targets: the face model's ARKit targets (.npz or folder of OBJs); None for the built-in
            face's own (other face models then raise a clear LsfError).
    """

    def __init__(self, targets: str | Path | None = None) -> None:
        self.targets = targets
        self.last_fit: ArkitFit | None = None

    def outputs(self) -> dict[str, str]:
        return {"arkit_csv": CSV_NAME, "arkit_json": JSON_NAME}

    def check(self, face: FaceModel) -> None:
        """The LsfError that says what to pass when `face` has no ARKit targets."""
        arkit_targets_for(face, self.targets)

    def write(self, item: ExportInput, folder: Path) -> None:
        targets = arkit_targets_for(item.face, self.targets)
        m = item.motion
        fit = fit_arkit(item.face, m.motion[0], m.shape, targets, item.vertex_chunks(0, "arkit"))
        self.last_fit = fit
        audio_name = None if item.audio is None else item.audio.name
        write_live_link_csv(folder / CSV_NAME, fit.weights, m.fps)
        write_arkit_json(folder / JSON_NAME, fit, m.fps, targets.source, item.face.name, audio_name)
