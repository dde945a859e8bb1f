"""One interface for every output format, and the writer that runs them all or nothing.

An `Exporter` writes one format (one file or folder, or a few) for an `ExportInput`: the motion
(K samples, the face's shape, the rate), the face model it drives and the speech it goes with.
It does not know how the motion was made. `write_outputs` runs the requested exporters into a
hidden staging folder inside the output folder and moves their files into place only when every
one of them succeeded, so a failure (or Ctrl-C, or SIGTERM in the CLI) leaves the folder as it
was; a staging folder left by a killed run is removed by the next run into that folder.
Exporters read the vertices chunk by chunk (`ExportInput.vertex_chunks`), as many times as they
need, so memory does not grow with the length of the motion. An existing output is replaced
only when it is what the exporter writes (a folder in a file's place, or an `obj/` holding other
files than OBJ frames, is refused before anything is written).

Formats: `export.motion_npz.MotionExporter` (motion.npz), `export.vertices.VerticesExporter`
(vertices.npy), `export.obj.ObjExporter` (obj/), `export.video.VideoExporter` (animation.mp4),
`export.heatmaps.HeatmapExporter` (heatmap_mean.png, heatmap_std.png), `FileExporter` (any file
a caller writes itself).
"""

from __future__ import annotations

import os
import shutil
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lsf_animation.errors import LsfError
from lsf_animation.face.flame import FlameLayer
from lsf_animation.face.model import FaceModel
from lsf_animation.face.motion import MotionFile, motion_vertices, vertex_chunks
from lsf_animation.io.atomic import make_staging_folder, remove_stale, write_error


@dataclass
class ExportInput:
    """What the exporters write out.

    Attributes:
        motion: the motion samples (K, T, 53), the face's shape and the frame rate.
        face: the face model the motion drives.
        audio: the speech file the motion was made from (muxed into videos), or None.
        progress: exporters show progress bars on stderr.
    """

    motion: MotionFile
    face: FaceModel
    audio: Path | None = None
    progress: bool = False
    _layer: FlameLayer | None = field(default=None, init=False, repr=False)
    _bars: list[Generator[np.ndarray, None, None]] = field(
        default_factory=list, init=False, repr=False
    )

    def vertex_chunks(self, sample: int = 0, desc: str | None = None) -> Iterator[np.ndarray]:
        """The (T, V, 3) float32 vertices in metres of one sample, `VERTEX_CHUNK_FRAMES` frames
        at a time, computed on demand: each call starts over, and memory stays bounded (only
        the face's FLAME layer is kept between calls). With `progress` and a `desc`, a
        progress bar named `desc` counts the frames."""
        if self._layer is None:
            self._layer = FlameLayer(self.face)
        chunks = vertex_chunks(self.face, self.motion, sample, layer=self._layer)
        if not (self.progress and desc):
            return chunks
        counted = _counted(chunks, self.motion.num_frames, desc)
        self._bars.append(counted)
        return counted

    def close_progress(self) -> None:
        """Close the progress bars of passes that stopped early (a failed write), so that they
        are finished on the terminal before the error is printed."""
        for bar in self._bars:
            bar.close()
        self._bars.clear()

    def vertices(self, sample: int = 0) -> np.ndarray:
        """All (T, V, 3) float32 vertices in metres of one sample at once (T x V x 12 bytes:
        2.2 GB for 20 minutes on the built-in face); exporters use `vertex_chunks`."""
        return motion_vertices(self.face, self.motion, sample)


def _counted(
    chunks: Iterator[np.ndarray], total: int, desc: str
) -> Generator[np.ndarray, None, None]:
    from tqdm import tqdm

    with tqdm(total=total, unit="frame", desc=desc) as bar:
        for chunk in chunks:
            yield chunk
            bar.update(len(chunk))


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

    def refuse_replacing(self, dest: Path) -> str | None:
        """Why the existing `dest` (one of `outputs()` in the output folder) must not be
        replaced, or None when it may be. By default a file is replaced and a folder is not
        (it is not something this exporter wrote)."""
        if dest.is_dir() and not dest.is_symlink():
            return "it is a folder"
        return None


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


def check_destinations(out: str | Path | OutputFolder, exporters: Sequence[Exporter]) -> None:
    """LsfError, before anything is written, when one of the exporters' outputs exists in `out`
    and is not something the exporter may replace (`Exporter.refuse_replacing`)."""
    out = check_output_dir(out).path
    for exporter in exporters:
        for name in exporter.outputs().values():
            dest = out / name
            reason = exporter.refuse_replacing(dest) if dest.exists() else None
            if reason is not None:
                raise LsfError(
                    f"{dest} already exists and {reason}; lsf-animation replaces only what it "
                    "wrote itself: move it away or choose another output folder"
                )


def write_outputs(
    item: ExportInput, out: str | Path | OutputFolder, exporters: Sequence[Exporter]
) -> dict[str, Path]:
    """Run `exporters` in order and put their files into folder `out`, all or nothing.

    Everything is written into a hidden folder inside `out` first and moved into place only when
    complete; files of the same names from an earlier run are replaced, anything else that
    stands in the way is refused before any work (`check_destinations`). A folder `out` that
    did not exist is removed again when anything fails. Staging folders and temporaries that
    killed runs left in `out` are removed first (`io.atomic.remove_stale`).

    Returns:
        The paths written, by role.

    Raises:
        LsfError: an exporter cannot write its format for this face, `out` cannot be written
            (a full disk included), an output is in the way, or an exporter fails on the input;
            nothing is left under a final name then.
    """
    names: dict[str, str] = {}
    owner: dict[str, Exporter] = {}
    for exporter in exporters:
        for role, name in exporter.outputs().items():
            if name in names.values() or role in names:
                raise ValueError(f"two exporters write {role!r} / {name!r}")
            names[role], owner[role] = name, exporter
    for exporter in exporters:
        exporter.check(item.face)
    out = check_output_dir(out).path
    remove_stale(out)
    check_destinations(out, exporters)
    created = not out.exists()
    staging: Path | None = None
    try:
        out.mkdir(parents=True, exist_ok=True)
        staging = make_staging_folder(out)
        for exporter in exporters:
            exporter.write(item, staging)
        result = {}
        for role, name in names.items():
            dest = out / name
            if dest.exists() or dest.is_symlink():
                reason = owner[role].refuse_replacing(dest)  # it may have changed meanwhile
                if reason is not None:
                    raise LsfError(f"{dest} appeared while writing and {reason}; nothing moved")
                if dest.is_dir() and not dest.is_symlink():
                    os.replace(dest, staging / f".replaced-{name}")  # removed with the staging
            os.replace(staging / name, dest)
            result[role] = dest
        return result
    except BaseException as err:
        if created:
            shutil.rmtree(out, ignore_errors=True)
        if isinstance(err, OSError):
            raise write_error("the outputs", out, err) from err
        if isinstance(err, LsfError) and staging is not None:
            # name the output the user asked for, not the hidden staging folder it was written in
            raise LsfError(str(err).replace(f"{staging}{os.sep}", f"{out}{os.sep}")) from err
        raise
    finally:
        item.close_progress()
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
