"""Which face a checkpoint's motion belongs to: recording it, and refusing another face.

A model trained on the synthetic corpus speaks the built-in face's coefficients; one trained on
3DMEAD (or imported from the authors' release) speaks FLAME 2020's. Rendering either on the
other face puts every coefficient on the wrong basis and silently gives a wrong animation, so
`Animator` and `evaluate` check the face against the checkpoint's `FaceRecord` and refuse with
the `--face` to pass. Checkpoints without a record (written before it existed) are not checked.
"""

from __future__ import annotations

from pathlib import Path

from lsf_animation.checkpoint.metadata import FaceRecord
from lsf_animation.errors import LsfError
from lsf_animation.face.fingerprint import FLAME_NUM_VERTICES, face_fingerprint
from lsf_animation.face.model import FaceModel

BUILTIN = "builtin"
FLAME2020 = "flame2020"
SYNTHETIC_SPLIT = "synthetic"


def builtin_face_record() -> FaceRecord:
    """The record of the built-in face (generates it once, ~1 s)."""
    from lsf_animation.face.builtin import builtin_face

    face = builtin_face()
    return FaceRecord(BUILTIN, face.num_vertices, face_fingerprint(face), BUILTIN)


def flame2020_record() -> FaceRecord:
    """FLAME 2020 without its file at hand: only the topology (5023 vertices) is checked."""
    return FaceRecord(FLAME2020, FLAME_NUM_VERTICES, None, None)


def face_record_for_split(split: str) -> FaceRecord:
    """The face of a training corpus: the synthetic corpus is made with the built-in face;
    every other split is 3DMEAD, tracked with FLAME 2020."""
    return builtin_face_record() if split == SYNTHETIC_SPLIT else flame2020_record()


def _wanted(record: FaceRecord) -> str:
    if record.kind == BUILTIN:
        return "--face builtin"
    hint = f" (trained with {record.path})" if record.path and record.path != BUILTIN else ""
    return f"--face PATH to the FLAME 2020 model file, generic_model.pkl{hint}"


def _trained_on(record: FaceRecord) -> str:
    return "the built-in face" if record.kind == BUILTIN else "FLAME 2020"


def check_face(record: FaceRecord | None, face: FaceModel, source: str | Path) -> FaceModel:
    """`face`, or LsfError when `source`'s motion was trained for another face."""
    if record is None:
        return face
    is_builtin = face.name == BUILTIN
    if record.kind == BUILTIN:
        ok = is_builtin and (
            record.fingerprint is None or face_fingerprint(face) == record.fingerprint
        )
    else:
        ok = not is_builtin and face.num_vertices == record.num_vertices
        if ok and record.fingerprint is not None:
            ok = face_fingerprint(face) == record.fingerprint
    if not ok:
        what = "the built-in face" if is_builtin else f"{face.name or 'the face'}"
        raise LsfError(
            f"{source} was trained on {_trained_on(record)} motion, but {what} "
            f"({face.num_vertices} vertices) is another face: its coefficients would move the "
            f"wrong vertices; pass {_wanted(record)}"
        )
    return face


def check_face_spec(
    record: FaceRecord | None, face: FaceModel | str, source: str | Path
) -> FaceModel | str:
    """Check a face given as a model or a `load_face_model` spec; returns it (loaded when the
    check needed the file). "builtin" for a built-in record stays a spec (loaded when used)."""
    if record is None:
        return face
    if isinstance(face, FaceModel):
        return check_face(record, face, source)
    is_builtin = face.strip().lower() == BUILTIN
    if is_builtin and record.kind == BUILTIN:
        return face
    if is_builtin or record.kind == BUILTIN:
        what = "the built-in face" if is_builtin else f"face {face}"
        raise LsfError(
            f"{source} was trained on {_trained_on(record)} motion and cannot be rendered on "
            f"{what}: its coefficients would move the wrong vertices; pass {_wanted(record)}"
        )
    from lsf_animation.face.load import load_face_model

    return check_face(record, load_face_model(face), source)
