"""heatmap_mean.png, heatmap_std.png: where sample 0 moves the face (the paper's Fig. 4),
accumulated over the vertices chunk by chunk."""

from __future__ import annotations

from pathlib import Path

from lsf_animation.export.base import Exporter, ExportInput


class HeatmapExporter(Exporter):
    """Mean and standard deviation of each vertex's frame-to-frame displacement, drawn on the
    neutral template."""

    def outputs(self) -> dict[str, str]:
        return {"heatmap_mean": "heatmap_mean.png", "heatmap_std": "heatmap_std.png"}

    def write(self, item: ExportInput, folder: Path) -> None:
        # Imported here: the renderer's numba kernels cost ~0.5 s to import.
        from lsf_animation.render.heatmap import write_motion_heatmaps

        write_motion_heatmaps(
            item.face, item.vertex_chunks(0, "heatmaps"), folder / "heatmap_mean.png",
            folder / "heatmap_std.png",
        )
