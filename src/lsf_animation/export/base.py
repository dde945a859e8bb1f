"""One interface for every output format, and the writer that runs them all or nothing.

An `Exporter` writes one format (one file or folder, or a few) for an `ExportInput`: the motion
(K samples, the face's shape, the rate), the face model it drives and the speech it goes with.
It does not know how the motion was made. `write_outputs` runs the requested exporters into a
hidden staging folder inside the output folder and moves their files into place only when every
one of them succeeded, so a failure (or Ctrl-C) leaves the folder as it was.

Formats: `export.motion_npz.MotionExporter` (motion.npz), `export.vertices.VerticesExporter`
(vertices.npy), `export.obj.ObjExporter` (obj/), `export.video.VideoExporter` (animation.mp4),
`export.heatmaps.HeatmapExporter` (heatmap_mean.png, heatmap_std.png), `FileExporter` (any file
a caller writes itself).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lsf_animation.errors import LsfError
from lsf_animation.face.model import FaceModel
from lsf_animation.face.motion import MotionFile, motion_vertices


@dataclass
class ExportInput:
    """What the exporters write out.

    Attributes:
        motion: the motion samples (K, T, 53), the face's shape and the frame rate.
        face: the face model the motion drives.
        audio: the speech file the motion was made from (muxed into videos), or None.
    """

    motion: MotionFile
    face: FaceModel
    audio: Path | None = None
    _vertices: dict[int, np.ndarray] = field(default_factory=dict, init=False, repr=False)

    def vertices(self, sample: int = 0) -> np.ndarray:
        """(T, V, 3) float32 vertices in metres of one sample, computed once and shared by the
        exporters that need them."""
        if sample not in self._vertices:
            self._vertices[sample] = motion_vertices(self.face, self.motion, sample)
        return self._vertices[sample]


class Exporter(ABC):
    """One output format."""

    @abstractmethod
    def outputs(self) -> dict[str, str]:
        """Role -> the file (or folder) name this exporter writes into the output folder."""

    @abstractmethod
    def write(self, item: ExportInput, folder: Path) -> None:
        """Write the files named by `outputs()` into `folder` (an empty staging folder)."""

    def check(self, face: FaceModel) -> None:  # noqa: B027 (optional hook, no-op by default)
        """Raise LsfError, before any work, when this format cannot be written for `face`."""


class FileExporter(Exporter):
    """A file the caller writes itself (a transcript, a copy of the speech, a JSON note).

    Args:
        role: its role in `write_outputs`' result.
        name: its file name.
        write: `write(path)` writes the file.
    """

    def __init__(self, role: str, name: str, write: Callable[[Path], object]) -> None:
        self.role, self.name, self._write = role, name, write

    def outputs(self) -> dict[str, str]:
        return {self.role: self.name}

    def write(self, item: ExportInput, folder: Path) -> None:
        self._write(folder / self.name)


@dataclass(frozen=True)
class OutputFolder:
    """An output folder checked once (`check_output_dir`): it exists or can be created, and can
    be written."""

    path: Path


def check_output_dir(out: str | Path | OutputFolder) -> OutputFolder:
    """LsfError unless `out` is a folder that exists or can be created, and can be written."""
    if isinstance(out, OutputFolder):
        return out
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
    return OutputFolder(out)


def write_outputs(
    item: ExportInput, out: str | Path | OutputFolder, exporters: Sequence[Exporter]
) -> dict[str, Path]:
    """Run `exporters` in order and put their files into folder `out`, all or nothing.

    Everything is written into a hidden folder inside `out` first and moved into place only when
    complete; files of the same names from an earlier run are replaced. A folder `out` that did
    not exist is removed again when anything fails.

    Returns:
        The paths written, by role.

    Raises:
        LsfError: an exporter cannot write its format for this face, or `out` cannot be
            written; nothing is written then.
    """
    names: dict[str, str] = {}
    for exporter in exporters:
        for role, name in exporter.outputs().items():
            if name in names.values() or role in names:
                raise ValueError(f"two exporters write {role!r} / {name!r}")
            names[role] = name
    for exporter in exporters:
        exporter.check(item.face)
    out = check_output_dir(out).path
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=out))
    try:
        for exporter in exporters:
            exporter.write(item, staging)
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
