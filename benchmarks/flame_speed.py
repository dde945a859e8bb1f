"""FLAME layer speed: our FlameLayer / motion_to_vertices against smplx's FLAME, and load times.

Uses a random model with FLAME's sizes (5023 vertices, 9976 faces, 300 + 100 blendshapes) written
to a temporary folder in the official pickle formats; no FLAME data is needed.
Run: .venv/bin/python benchmarks/flame_speed.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from fixtures_flame import (
    FLAME_FACES,
    FLAME_VERTICES,
    random_flame_arrays,
    write_chumpy_pickle,
    write_smplx_flame_folder,
)
from lsf_animation.face.flame import FlameLayer, motion_to_vertices
from lsf_animation.face.flame_file import load_flame_file
from record import markdown_table, record

T = 1500  # one minute at 25 fps, the evaluation's longest sequences
CHUNKS = (128, T)
ROUNDS = 5
THREADS = (1, torch.get_num_threads())


def best_times(fns: dict[str, Callable[[], object]], rounds: int = ROUNDS) -> dict[str, float]:
    """Fastest wall time (s) of each function over `rounds` interleaved rounds, after a warm-up.

    Interleaving keeps the ratios fair when other processes load the machine.
    """
    for fn in fns.values():
        fn()
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def smplx_runner(folder: Path, dtype: torch.dtype, motion: np.ndarray, shape: np.ndarray):
    """smplx.FLAME on the whole motion as one batch (what a user of smplx would write)."""
    import smplx

    model = smplx.FLAME(
        model_path=str(folder),
        num_betas=300,
        num_expression_coeffs=50,
        dtype=dtype,
        batch_size=len(motion),
    )
    m = torch.from_numpy(motion).to(dtype)
    betas = torch.from_numpy(shape).to(dtype)[None].expand(len(motion), -1)
    zeros = torch.zeros(len(motion), 3, dtype=dtype)

    def run() -> None:
        with torch.inference_mode():
            model(
                betas=betas,
                expression=m[:, :50],
                jaw_pose=m[:, 50:],
                global_orient=zeros,
                neck_pose=zeros,
                leye_pose=zeros,
                reye_pose=zeros,
                transl=zeros,
            )

    return run


def main() -> None:
    rows, load_rows = [], []
    rng = np.random.default_rng(0)
    motion = rng.normal(scale=0.5, size=(T, 53)).astype(np.float32)
    shape = rng.normal(size=300).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        arrays = random_flame_arrays(FLAME_VERTICES, FLAME_FACES)
        pkl = write_smplx_flame_folder(folder, arrays)
        chumpy_pkl = write_chumpy_pickle(folder / "generic_model.pkl", arrays)
        loads = best_times(
            {
                "FLAME 2023-style": lambda: load_flame_file(pkl),
                "FLAME 2020-style (chumpy)": lambda: load_flame_file(chumpy_pkl),
            }
        )
        load_rows = [[name, f"{t:.2f}"] for name, t in loads.items()]
        face = load_flame_file(pkl)

        for threads in sorted(set(THREADS)):
            torch.set_num_threads(threads)
            for dtype in (torch.float32, torch.float64):
                layer = FlameLayer(face, dtype=dtype)
                fns = {"smplx.FLAME, one batch": smplx_runner(folder, dtype, motion, shape)}
                for chunk in CHUNKS:
                    fns[f"ours, motion_to_vertices chunk={chunk}"] = (
                        lambda layer=layer, chunk=chunk: motion_to_vertices(
                            layer, motion, shape, chunk
                        )
                    )
                times = best_times(fns)
                t_smplx = times["smplx.FLAME, one batch"]
                for what, t in times.items():
                    dtype_name = str(dtype).removeprefix("torch.")
                    speedup = f"{t_smplx / t:.2f}x"
                    rows.append([threads, dtype_name, what, f"{t:.3f}", f"{T / t:.0f}", speedup])

    body = (
        f"Vertices of a {T}-frame motion (50 expression + jaw, one 300-coefficient shape) on a "
        f"random model with FLAME's sizes ({FLAME_VERTICES} vertices). Best of {ROUNDS} "
        "interleaved rounds after a warm-up; speed-up = smplx time / our time in the same "
        "rounds. Ours returns float32 numpy (T, V, 3); smplx's time excludes any conversion.\n\n"
        + markdown_table(
            ["threads", "dtype", "what", "seconds", "frames/s", "speed-up vs smplx"], rows
        )
        + "\n\nLoading a model file with FLAME's sizes into a FaceModel (seconds):\n\n"
        + markdown_table(["file", "seconds"], load_rows)
    )
    record("FLAME layer", "benchmarks/flame_speed.py", body)


if __name__ == "__main__":
    main()
