"""Choosing the face model: the built-in face or a FLAME model file."""

from __future__ import annotations

from pathlib import Path

from lsf_animation.errors import LsfError
from lsf_animation.face.model import FaceModel

BUILTIN = "builtin"
MODEL_SUFFIXES = (".pkl", ".pickle", ".npz")
# File names tried, in order, when the spec is a folder (FLAME 2020, FLAME 2023, smplx naming).
MODEL_FILENAMES = (
    "generic_model.pkl",
    "flame2023.pkl",
    "flame2023_no_jaw.pkl",
    "flame2023_Open.pkl",
    "FLAME_NEUTRAL.pkl",
)


def load_face_model(spec: str | Path = BUILTIN) -> FaceModel:
    """The face model named by `spec`.

    Args:
        spec: "builtin" for the built-in face (no files needed), a FLAME .pkl/.npz path, or a
            folder holding one of generic_model.pkl, flame2023*.pkl, FLAME_NEUTRAL.pkl.
    """
    if isinstance(spec, str) and spec.strip().lower() == BUILTIN:
        from lsf_animation.face.builtin import builtin_face  # lazy: generated on first use

        return builtin_face()

    from lsf_animation.face.flame_file import load_flame_file

    path = Path(spec).expanduser()
    if path.is_dir():
        for name in MODEL_FILENAMES:
            if (path / name).is_file():
                return load_flame_file(path / name)
        raise LsfError(
            f"face model folder {path} holds none of {', '.join(MODEL_FILENAMES)}; give the "
            "model file itself, or 'builtin'"
        )
    if path.suffix.lower() not in MODEL_SUFFIXES and not path.is_file():
        raise LsfError(
            f"unknown face model {str(spec)!r}: use 'builtin' or the path to a FLAME model file "
            "(.pkl or .npz)"
        )
    return load_flame_file(path)
