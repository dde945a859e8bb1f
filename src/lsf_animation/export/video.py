"""animation.mp4: sample 0 rendered on the face (CPU renderer), H.264 with the speech as AAC,
in bounded memory (the vertices are read in chunks twice: framing, then rendering)."""

from __future__ import annotations

from pathlib import Path

from lsf_animation.export.base import Exporter, ExportInput
from lsf_animation.render.frame_size import check_frame_size


class VideoExporter(Exporter):
    """animation.mp4 of sample 0 at the motion's frame rate, the speech muxed in.

    Args:
        size: frame width and height in pixels (even, 16 to 4096; checked here, before any
            work).
        progress: show progress bars on stderr.
    """

    def __init__(self, size: int = 512, progress: bool = False) -> None:
        self.size, self.progress = check_frame_size(size), progress

    def outputs(self) -> dict[str, str]:
        return {"video": "animation.mp4"}

    def write(self, item: ExportInput, folder: Path) -> None:
        # Imported here: the renderer's numba kernels cost ~0.5 s to import, only for videos.
        from lsf_animation.render.video import write_face_video

        write_face_video(
            item.face, lambda: item.vertex_chunks(0), folder / "animation.mp4", item.motion.fps,
            item.audio, self.size, self.progress,
        )  # fmt: skip
