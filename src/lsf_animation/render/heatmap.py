"""Where a face moves: per-vertex motion statistics and a colour-coded picture of them."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from lsf_animation.errors import LsfError
from lsf_animation.face.model import FaceModel
from lsf_animation.io.atomic import atomic_path
from lsf_animation.render.camera import Camera
from lsf_animation.render.colormap import COLORMAP, apply_colormap
from lsf_animation.render.renderer import FLAT_LIGHTING, MeshRenderer


class DisplacementStatistics:
    """Mean and standard deviation over time of each vertex's frame-to-frame displacement,
    accumulated chunk by chunk (memory bounded by one chunk, whatever the sequence's length).

    `add` the sequence's (t, V, 3) chunks in order (metres); the frame pair across two chunks
    counts too. Chunks' statistics are merged exactly (Chan et al.'s pairwise update of mean
    and sum of squared deviations, float64), so the result equals that of the whole sequence
    up to float rounding.
    """

    def __init__(self) -> None:
        self.pairs = 0
        self._last: np.ndarray | None = None
        self._mean: np.ndarray | None = None
        self._m2: np.ndarray | None = None

    def add(self, chunk: np.ndarray) -> None:
        """Add the next (t, V, 3) frames of the sequence."""
        chunk = np.asarray(chunk)
        if chunk.ndim != 3 or chunk.shape[2] != 3:
            raise LsfError(f"vertices must be (T, V, 3), got shape {chunk.shape}")
        if chunk.shape[0] == 0:
            return
        frames = chunk.astype(np.float64)
        if self._last is not None:
            frames = np.concatenate([self._last[None], frames])
        self._last = frames[-1]
        if frames.shape[0] < 2:
            return
        steps = np.linalg.norm(np.diff(frames, axis=0), axis=2)  # (n, V)
        n = steps.shape[0]
        mean = steps.mean(axis=0)
        m2 = ((steps - mean) ** 2).sum(axis=0)
        if self._mean is None or self._m2 is None:
            self._mean, self._m2 = mean, m2
        else:
            total = self.pairs + n
            delta = mean - self._mean
            self._mean = self._mean + delta * (n / total)
            self._m2 = self._m2 + m2 + delta**2 * (self.pairs * n / total)
        self.pairs += n

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """mean (V,), std (V,) float64, metres per frame, over the frame pairs added.

        Raises:
            LsfError: fewer than 2 frames were added.
        """
        if self._mean is None or self._m2 is None:
            frames = 0 if self._last is None else 1
            raise LsfError(f"displacement statistics need at least 2 frames, got {frames}")
        return self._mean, np.sqrt(self._m2 / self.pairs)


def displacement_statistics(
    vertices: np.ndarray | Iterable[np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation over time of each vertex's frame-to-frame displacement.

    Args:
        vertices: (T, V, 3) positions over T >= 2 frames, metres, or its chunks of frames in
            order (`DisplacementStatistics`).

    Returns:
        mean (V,), std (V,) float64 of |v[t + 1] - v[t]| over the T - 1 frame pairs, metres per
        frame.
    """
    stats = DisplacementStatistics()
    for chunk in [vertices] if isinstance(vertices, np.ndarray) else vertices:
        stats.add(chunk)
    return stats.result()


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _text(
    draw: ImageDraw.ImageDraw,
    xy: tuple[float, float],
    text: str,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
    anchor: str,
) -> None:
    """Black text anchored at xy ("mm": centred, "lm": left-middle), for any Pillow font."""
    if isinstance(font, ImageFont.FreeTypeFont):
        draw.text(xy, text, fill=(0, 0, 0), font=font, anchor=anchor)
        return
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)  # bitmap: no anchors
    x = xy[0] - (right - left) / 2 if anchor[0] == "m" else xy[0]
    draw.text((x, xy[1] - (bottom - top) / 2), text, fill=(0, 0, 0), font=font)


def _format_mm(value_mm: float, step_mm: float) -> str:
    decimals = max(0, min(4, int(np.ceil(-np.log10(step_mm))) + 1)) if step_mm > 0 else 2
    return f"{round(value_mm, decimals) + 0.0:.{decimals}f}"  # + 0.0: no "-0.00"


def write_heatmap_png(
    vertices: np.ndarray,
    faces: np.ndarray,
    values: np.ndarray,
    path: str | Path,
    vmin: float | None = None,
    vmax: float | None = None,
    title: str | None = None,
    width: int = 640,
    height: int = 512,
    camera: Camera | None = None,
) -> Path:
    """Render a mesh coloured by per-vertex values, with a colour bar in millimetres.

    Args:
        vertices: (V, 3) the mesh to draw (usually the neutral face), metres.
        faces: (F, 3) vertex indices.
        values: (V,) per-vertex values in metres (e.g. `displacement_statistics` output).
        path: output PNG file; its folder must exist.
        vmin, vmax: colour scale limits in metres (default: the values' min and max); values
            outside clamp to the end colours.
        title: text drawn above the mesh.
        width, height: size of the whole picture in pixels (mesh, colour bar and title).
        camera: default frames the mesh from the front.

    Returns:
        The path written.
    """
    vertices = np.asarray(vertices, np.float64)
    values = np.asarray(values, np.float64)
    path = Path(path)
    if vertices.ndim != 2 or vertices.shape[1] != 3:
        raise LsfError(f"vertices must be (V, 3), got shape {vertices.shape}")
    if values.shape != (vertices.shape[0],):
        raise LsfError(
            f"values must have one entry per vertex ({vertices.shape[0]}), got shape {values.shape}"
        )
    if not np.all(np.isfinite(values)):
        raise LsfError("heatmap values contain NaN or infinite entries")
    if not path.parent.is_dir():
        raise LsfError(f"cannot write {path}: folder {path.parent} does not exist")
    bar_panel = max(72, width // 7)
    title_h = 28 if title else 0
    mesh_w, mesh_h = width - bar_panel, height - title_h
    if mesh_w < 16 or mesh_h < 16:
        raise LsfError(f"heatmap size {width}x{height} is too small; use at least 160x160")
    lo = float(values.min()) if vmin is None else float(vmin)
    hi = float(values.max()) if vmax is None else float(vmax)
    if hi <= lo:
        hi = lo + 1e-6

    renderer = MeshRenderer(
        faces,
        vertex_colors=apply_colormap(values, lo, hi),
        camera=camera,
        width=mesh_w,
        height=mesh_h,
        supersample=2,
        lighting=FLAT_LIGHTING,
        background=(1.0, 1.0, 1.0),
    )
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    canvas.paste(Image.fromarray(renderer.render(vertices)), (0, title_h))
    draw = ImageDraw.Draw(canvas)
    if title:
        _text(draw, (width // 2, title_h // 2), title, _font(16), "mm")

    # colour bar: high values at the top
    bar_x0, bar_w = mesh_w + 8, 16
    bar_y0, bar_y1 = title_h + int(0.12 * mesh_h), title_h + int(0.88 * mesh_h)
    ramp = COLORMAP[::-1][np.linspace(0, COLORMAP.shape[0] - 1, bar_y1 - bar_y0).astype(int)]
    bar = np.repeat((255 * ramp).round().astype(np.uint8)[:, None], bar_w, axis=1)
    canvas.paste(Image.fromarray(bar), (bar_x0, bar_y0))
    draw.rectangle((bar_x0 - 1, bar_y0 - 1, bar_x0 + bar_w, bar_y1), outline=(0, 0, 0))
    font = _font(12)
    ticks = np.linspace(lo, hi, 5)
    step_mm = (hi - lo) * 1000.0 / 4
    for v in ticks:
        y = bar_y1 - (v - lo) / (hi - lo) * (bar_y1 - bar_y0)
        draw.line((bar_x0 + bar_w, y, bar_x0 + bar_w + 4, y), fill=(0, 0, 0))
        _text(draw, (bar_x0 + bar_w + 7, y), _format_mm(v * 1000.0, step_mm), font, "lm")
    _text(draw, (bar_x0 + bar_w // 2, bar_y0 - 14), "mm", font, "mm")

    with atomic_path(path, "the heatmap", make_parents=False) as tmp:
        canvas.save(tmp, format="PNG")
    return path


def write_motion_heatmaps(
    face: FaceModel,
    vertices: np.ndarray | Iterable[np.ndarray],
    mean_png: str | Path,
    std_png: str | Path,
) -> None:
    """The paper's Fig. 4 for a vertex sequence (T, V, 3) of `face`, whole or in chunks of
    frames: mean and std of each vertex's frame-to-frame displacement, drawn on the neutral
    template."""
    mean, std = displacement_statistics(vertices)
    for path, values, label in ((mean_png, mean, "mean"), (std_png, std, "std")):
        title = f"{label} frame-to-frame displacement"
        write_heatmap_png(face.v_template, face.faces, values, path, title=title)
