"""ARKit's 52 blendshapes: their names and a face model's 52 target shapes.

`ARKIT_NAMES` are Apple's ARFaceAnchor.BlendShapeLocation names (camelCase), in the column order
of the CSV files Epic's Live Link Face app records (the order of its "Timecode,BlendShapeCount,
EyeBlinkLeft,EyeLookDownLeft,..." header, read from public importers of those files, e.g.
nmfisher/blender_livelinkface, bpylivelinkface.py, LIVE_LINK_FACE_HEADER): left eye, right eye,
jaw and mouth (JawRight before JawLeft, MouthRight before MouthLeft, as that header has them),
brows, cheeks, nose, tongue.

Targets are per-vertex displacements from a neutral mesh in the face model's topology, metres,
one per name, at full activation (weight 1). The built-in face has its own, sculpted in code
(`face.builtin_arkit`); for FLAME (or any other model) the user supplies them
(`load_arkit_targets`).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lsf_animation.errors import LsfError
from lsf_animation.face.model import FaceModel

ARKIT_NAMES = (
    "eyeBlinkLeft",
    "eyeLookDownLeft",
    "eyeLookInLeft",
    "eyeLookOutLeft",
    "eyeLookUpLeft",
    "eyeSquintLeft",
    "eyeWideLeft",
    "eyeBlinkRight",
    "eyeLookDownRight",
    "eyeLookInRight",
    "eyeLookOutRight",
    "eyeLookUpRight",
    "eyeSquintRight",
    "eyeWideRight",
    "jawForward",
    "jawRight",
    "jawLeft",
    "jawOpen",
    "mouthClose",
    "mouthFunnel",
    "mouthPucker",
    "mouthRight",
    "mouthLeft",
    "mouthSmileLeft",
    "mouthSmileRight",
    "mouthFrownLeft",
    "mouthFrownRight",
    "mouthDimpleLeft",
    "mouthDimpleRight",
    "mouthStretchLeft",
    "mouthStretchRight",
    "mouthRollLower",
    "mouthRollUpper",
    "mouthShrugLower",
    "mouthShrugUpper",
    "mouthPressLeft",
    "mouthPressRight",
    "mouthLowerDownLeft",
    "mouthLowerDownRight",
    "mouthUpperUpLeft",
    "mouthUpperUpRight",
    "browDownLeft",
    "browDownRight",
    "browInnerUp",
    "browOuterUpLeft",
    "browOuterUpRight",
    "cheekPuff",
    "cheekSquintLeft",
    "cheekSquintRight",
    "noseSneerLeft",
    "noseSneerRight",
    "tongueOut",
)
NUM_ARKIT = len(ARKIT_NAMES)
NEUTRAL_NAME = "neutral"


@dataclass(frozen=True)
class ArkitTargets:
    """The 52 ARKit target shapes of one face model.

    Attributes:
        deltas: (52, V, 3) displacement of each vertex at full activation, metres, in
            ARKIT_NAMES order.
        source: where they came from ("builtin", a file or folder path).
    """

    deltas: np.ndarray
    source: str

    def __post_init__(self) -> None:
        if self.deltas.ndim != 3 or self.deltas.shape[0] != NUM_ARKIT or self.deltas.shape[2] != 3:
            raise ValueError(f"ARKit deltas must be (52, V, 3), got {self.deltas.shape}")

    @property
    def num_vertices(self) -> int:
        return int(self.deltas.shape[1])

    def delta(self, name: str) -> np.ndarray:
        """(V, 3) displacement of one target."""
        return self.deltas[ARKIT_NAMES.index(name)]


def _canonical(name: str) -> str:
    return name.strip().lower()


_BY_CANONICAL = {_canonical(n): n for n in ARKIT_NAMES}


def _read_obj_vertices(path: Path) -> np.ndarray:
    rows = []
    try:
        with path.open("r", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("v "):
                    rows.append([float(x) for x in line.split()[1:4]])
    except (OSError, ValueError) as err:
        raise LsfError(f"{path}: not a readable OBJ file ({err})") from err
    if not rows:
        raise LsfError(f"{path}: no vertices (`v x y z` lines)")
    return np.asarray(rows, np.float64)


def _read_shapes(path: Path) -> dict[str, np.ndarray]:
    """name -> (N, 3) array from an .npz or a folder of OBJs (names as given)."""
    if path.is_dir():
        return {p.stem: _read_obj_vertices(p) for p in sorted(path.glob("*.obj"))}
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: np.asarray(data[k], np.float64) for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise LsfError(f"{path}: not a readable .npz file ({err})") from err


def load_arkit_targets(path: str | Path, face: FaceModel) -> ArkitTargets:
    """Read a face model's 52 ARKit target shapes from an .npz or a folder of OBJs.

    Each target is the whole mesh in the face model's topology with that one blendshape fully
    on: `eyeBlinkLeft.obj` ... (a folder) or arrays `eyeBlinkLeft` ... of shape (V, 3) (an .npz),
    names matched without regard to case (Live Link's `EyeBlinkLeft` works too). The neutral
    mesh they are relative to is `neutral` (.obj or array) when present, else the face model's
    template (v_template). Lengths in the face model's units (metres for FLAME).

    Raises:
        LsfError: a missing or unreadable file, missing names, or a vertex count that is not
            the face model's.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise LsfError(f"ARKit targets not found: {path}")
    shapes = {_canonical(k): v for k, v in _read_shapes(path).items()}
    missing = [n for n in ARKIT_NAMES if _canonical(n) not in shapes]
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise LsfError(
            f"{path}: ARKit targets missing for {', '.join(missing[:5])}{more}; give all 52 "
            "names (eyeBlinkLeft ... tongueOut) as OBJ files or .npz arrays"
        )
    neutral = shapes.get(NEUTRAL_NAME, face.v_template)
    v = face.num_vertices
    deltas = np.empty((NUM_ARKIT, v, 3))
    for i, name in enumerate(ARKIT_NAMES):
        mesh = shapes[_canonical(name)]
        if mesh.shape != (v, 3) or neutral.shape != (v, 3):
            bad = mesh.shape if mesh.shape != (v, 3) else neutral.shape
            raise LsfError(
                f"{path}: ARKit target {name} has shape {bad}, but the face model "
                f"{face.name!r} has {v} vertices: the targets must be in its topology ({v}, 3)"
            )
        deltas[i] = mesh - neutral
    if not np.isfinite(deltas).all():
        raise LsfError(f"{path}: ARKit targets contain NaN or inf values")
    return ArkitTargets(deltas, str(path))


def arkit_targets_for(face: FaceModel, path: str | Path | None = None) -> ArkitTargets:
    """The ARKit targets to fit on `face`: the user's (`path`), else the built-in face's own.

    Raises:
        LsfError: no `path` for a face model other than the built-in face.
    """
    if path is not None:
        return load_arkit_targets(path, face)
    if face.name == "builtin":
        from lsf_animation.face.builtin_arkit import builtin_arkit_targets

        return builtin_arkit_targets()
    raise LsfError(
        f"the face model {face.name!r} has no ARKit targets: give its 52 ARKit shapes in its "
        f"topology ({face.num_vertices} vertices) with --arkit-targets, as an .npz of arrays "
        "named eyeBlinkLeft ... tongueOut (plus optional `neutral`) or a folder of OBJs named "
        "eyeBlinkLeft.obj ... tongueOut.obj"
    )
