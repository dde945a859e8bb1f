"""glTF and ARKit export: file size and seconds for 60 s of animation.

The motion is the shipped demo model's output on the demo speech (about 13 s, the same as
`lsf-animation demo`), repeated to 60 s (1500 frames at 25 fps). Faces: the built-in face
(5,998 vertices, no pose correctives) and a random model with FLAME's sizes (5,023 vertices,
9,976 triangles, pose correctives: 50 expression + 9 jaw corrective morph targets), written in
FLAME's file format. Times are the fastest of a few runs after a warm-up (face model loading
excluded, the file write included).
Run: .venv/bin/python benchmarks/gltf_export.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from fixtures_flame import FLAME_FACES, FLAME_VERTICES, random_flame_arrays, write_flame_pickle
from lsf_animation.api import Animator
from lsf_animation.demo import DEMO_SAMPLES, animate_lines, demo_speech
from lsf_animation.export.arkit import ArkitExporter
from lsf_animation.export.base import ExportInput
from lsf_animation.export.gltf import GltfExporter
from lsf_animation.face.builtin import builtin_face
from lsf_animation.face.load import load_face_model
from lsf_animation.face.motion import make_motion_file
from record import markdown_table, record

SECONDS = 60
FPS = 25
ROUNDS = 3


def demo_motion() -> tuple[np.ndarray, np.ndarray]:
    """(3, 1500, 53) demo-model motion repeated to 60 s, and the speaker's shape."""
    speech = demo_speech()
    animation = animate_lines(Animator.from_checkpoint("demo"), speech, DEMO_SAMPLES, seed=0)
    reps = -(-SECONDS * FPS // animation.motion.shape[1])
    motion = np.concatenate([animation.motion] * reps, axis=1)[:, : SECONDS * FPS]
    return motion, speech.shape


def fastest(fn, rounds: int = ROUNDS) -> float:
    fn()
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    motion, shape = demo_motion()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        flame = load_face_model(
            write_flame_pickle(
                tmp_path / "flame" / "generic_model.pkl",
                random_flame_arrays(FLAME_VERTICES, FLAME_FACES),
            )
        )
        faces = {"built-in face": builtin_face(), "FLAME-size model": flame}
        rows = []
        for face_name, face in faces.items():
            for samples in (1, DEMO_SAMPLES):
                for normals in (True, False):
                    out = tmp_path / f"{face_name}-{samples}-{normals}"
                    exporter = GltfExporter(normals=normals)
                    part = motion[:samples]

                    def run(exporter=exporter, out=out, face=face, part=part) -> None:
                        item = ExportInput(make_motion_file(part, shape, FPS), face)
                        exporter.write(item, out)

                    seconds = fastest(run)
                    size = (out / "animation.glb").stat().st_size
                    flag = "yes" if normals else "no"
                    rows.append(
                        [face_name, samples, flag, f"{size / 1e6:.2f} MB", f"{seconds:.2f} s"]
                    )
        gltf_table = markdown_table(
            ["face", "samples", "normals", ".glb size", "export time"], rows
        )

        arkit = ArkitExporter()
        out = tmp_path / "arkit"
        face = builtin_face()
        seconds = fastest(  # vertices included: a fresh input each time
            lambda: arkit.write(ExportInput(make_motion_file(motion[:1], shape, FPS), face), out)
        )
        csv_size = (out / "arkit.csv").stat().st_size
        json_size = (out / "arkit.json").stat().st_size
    body = f"""60 s of the demo model's motion (1500 frames at 25 fps, the demo's samples repeated).

{gltf_table}

Without normals the file holds positions only, and viewers shade the moving face with the rest
pose's normals (or flat). Per sample, the animation adds 1500 frames x (the morph weights: 50,
or 59 with FLAME's jaw correctives; jaw rotation 4; jaw translation 3) float32 values, about
0.35 MB; the rest is the mesh and its morph targets.

ARKit-52 curves of sample 0 of the same 60 s on the built-in face (vertices, fit and both
files): {seconds:.1f} s, {1e3 * seconds / (SECONDS * FPS):.1f} ms per frame; arkit.csv
{csv_size / 1e6:.2f} MB, arkit.json {json_size / 1e6:.2f} MB.
"""
    record("glTF and ARKit export", "benchmarks/gltf_export.py", body)


if __name__ == "__main__":
    main()
