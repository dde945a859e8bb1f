"""MP4 writing: H.264 video (yuv420p) with an optional AAC audio track, through PyAV.

The file appears only when it is complete: it is written to a hidden temporary file in the same
folder and renamed over `path` at the end; on any error the temporary file is deleted (and one
left by a killed run is removed by the next write into that folder, `io.atomic.remove_stale`).
A face video of any length is made in bounded memory: its vertices are read in chunks twice,
once for the bounding box the camera frames and once to render and encode frame by frame.
"""

from __future__ import annotations

import contextlib
import itertools
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from lsf_animation.errors import LsfError
from lsf_animation.face.flame import FlameLayer
from lsf_animation.face.model import FaceModel
from lsf_animation.face.motion import MotionFile, vertex_chunks
from lsf_animation.io.atomic import atomic_path, remove_stale
from lsf_animation.render.camera import Camera, vertex_bounds
from lsf_animation.render.frame_size import check_frame_size
from lsf_animation.render.renderer import MeshRenderer

# Sample rates the AAC encoder accepts; other rates are resampled to 48 kHz.
AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)


def _even_frame(frame: np.ndarray, index: int, size: tuple[int, int] | None) -> np.ndarray:
    """Check one frame and pad it by edge replication to even width and height (yuv420p)."""
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise LsfError(
            f"video frame {index} must be an (H, W, 3) uint8 RGB image, got shape {frame.shape} "
            f"and dtype {frame.dtype}"
        )
    if size is not None and frame.shape[:2] != size:
        raise LsfError(
            f"video frame {index} is {frame.shape[1]}x{frame.shape[0]} but the first frame was "
            f"{size[1]}x{size[0]}; all frames must have the same size"
        )
    pad_h, pad_w = frame.shape[0] % 2, frame.shape[1] % 2
    if pad_h or pad_w:
        frame = np.pad(frame, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    return np.ascontiguousarray(frame)


def _open_audio(audio: str | Path) -> av.container.InputContainer:
    path = Path(audio)
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise LsfError(f"cannot read audio file {path} ({exc}); is it an audio file?") from exc
    if not container.streams.audio:
        container.close()
        raise LsfError(f"{path} has no audio stream; give a file with sound in it")
    return container


def _encode_audio(
    source: av.container.InputContainer, stream: av.audio.stream.AudioStream, name: str
) -> list[av.Packet]:
    """Decode the first audio stream of `source`, resample it for AAC and encode it (all of it).

    Returns the AAC packets in order (audio is small: about 1 MB per minute).
    """
    ctx = stream.codec_context
    resampler = av.AudioResampler(
        format=ctx.format.name, layout=ctx.layout.name, rate=ctx.sample_rate, frame_size=1024
    )
    time_base = Fraction(1, ctx.sample_rate)
    packets: list[av.Packet] = []
    samples = 0

    def encode(frames: list[av.AudioFrame]) -> None:
        nonlocal samples
        for frame in frames:
            frame.pts = samples
            frame.time_base = time_base
            samples += frame.samples
            packets.extend(stream.encode(frame))

    try:
        for frame in source.decode(audio=0):
            encode(resampler.resample(frame))
    except av.FFmpegError as exc:
        raise LsfError(f"cannot decode audio file {name} ({exc})") from exc
    encode(resampler.resample(None))
    packets.extend(stream.encode(None))
    if samples == 0:
        raise LsfError(f"audio file {name} contains no samples")
    return packets


def check_video_path(path: str | Path) -> Path:
    """`path` as a Path if an mp4 can be written there: its folder exists, and it is not a
    folder itself. Stale temporaries of killed runs in that folder are removed."""
    path = Path(path)
    if path.is_dir():
        raise LsfError(f"cannot write the video to {path}: it is a folder; name the .mp4 file")
    if not path.parent.is_dir():
        raise LsfError(f"cannot write {path}: folder {path.parent} does not exist")
    remove_stale(path.parent)
    return path


def write_mp4(
    frames: Iterable[np.ndarray],
    path: str | Path,
    fps: float = 25,
    audio: str | Path | None = None,
    num_frames: int | None = None,
    crf: int = 18,
    preset: str = "fast",
    progress: bool = False,
    threads: int = 0,
) -> Path:
    """Encode RGB frames as an H.264 mp4, optionally with an audio track.

    Args:
        frames: (H, W, 3) uint8 RGB images, all the same size (odd sizes are padded by one pixel
            to even, as yuv420p requires); consumed lazily, so a generator of rendered frames
            never needs all frames in memory.
        path: output file (written as mp4 whatever its suffix); its folder must exist.
        fps: frames per second.
        audio: an audio file in any format ffmpeg reads (wav, m4a, mp3, flac...), muxed in as AAC
            at its own sample rate where AAC allows it (else 48 kHz); the track keeps the audio's
            own duration, neither padded nor cut to the video's.
        num_frames: if given, write exactly this many frames: stop after them, and fail if
            `frames` has fewer. Also the progress bar's total.
        crf: x264 constant rate factor (lower = better quality, bigger file; 18 is visually
            lossless for renders).
        preset: x264 speed preset ("ultrafast" ... "veryslow").
        progress: show a progress bar on stderr.
        threads: x264 encoder threads (0 = as many as it likes).

    Returns:
        The path written.
    """
    path = check_video_path(path)
    if fps <= 0:
        raise LsfError(f"fps must be positive, got {fps}")
    if num_frames is not None and num_frames <= 0:
        raise LsfError(f"num_frames must be positive, got {num_frames}")
    frame_iter = iter(frames)
    first = next(frame_iter, None)
    if first is None:
        raise LsfError("no video frames to write; the animation is empty")
    first_image = _even_frame(first, 0, None)
    source = _open_audio(audio) if audio is not None else None
    container = None
    try:
        with atomic_path(path, "the video", make_parents=False) as tmp:
            container = av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"})
            _encode(container, first_image.shape, itertools.chain([first], frame_iter), fps,
                    num_frames, crf, preset, progress, threads, source, str(audio))  # fmt: skip
            container.close()
            container = None
    except BaseException:
        if container is not None:
            with contextlib.suppress(Exception):  # the original error matters more
                container.close()
        raise
    finally:
        if source is not None:
            source.close()
    return path


def _encode(
    container: av.container.OutputContainer,
    first_shape: tuple[int, ...],
    frames: Iterable[np.ndarray],
    fps: float,
    num_frames: int | None,
    crf: int,
    preset: str,
    progress: bool,
    threads: int,
    source: av.container.InputContainer | None,
    audio_name: str,
) -> None:
    """Add the H.264 (and AAC) streams to `container` and encode everything into it."""
    rate = Fraction(fps).limit_denominator(1001)
    vstream = container.add_stream(
        "libx264", rate=rate, options={"crf": str(crf), "preset": preset}
    )
    vstream.codec_context.thread_count = threads
    vstream.width, vstream.height = first_shape[1], first_shape[0]
    vstream.pix_fmt = "yuv420p"
    vstream.time_base = 1 / rate
    audio_packets: deque[av.Packet] = deque()
    if source is not None:
        in_rate = source.streams.audio[0].codec_context.sample_rate
        in_channels = source.streams.audio[0].codec_context.channels
        astream = container.add_stream(
            "aac",
            rate=in_rate if in_rate in AAC_RATES else 48000,
            layout="mono" if in_channels == 1 else "stereo",
        )
        audio_packets.extend(_encode_audio(source, astream, audio_name))
    _write_video(container, vstream, frames, num_frames, progress, audio_packets)


def _seconds(packet: av.Packet) -> Fraction:
    """A muxed packet's presentation time in seconds."""
    return (packet.pts or 0) * (packet.time_base or Fraction(1))


def _write_video(
    container: av.container.OutputContainer,
    vstream: av.video.stream.VideoStream,
    frames: Iterable[np.ndarray],
    num_frames: int | None,
    progress: bool,
    audio_packets: deque[av.Packet],
) -> None:
    """Encode and mux the video frames, interleaving the pre-encoded audio packets by time."""
    size: tuple[int, int] | None = None
    count = 0
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=num_frames, unit="frame", desc="video")

    def mux(packets: list[av.Packet]) -> None:
        for packet in packets:
            if packet.dts is not None and packet.time_base is not None:
                now = packet.dts * packet.time_base
                while audio_packets and _seconds(audio_packets[0]) <= now:
                    container.mux(audio_packets.popleft())
            container.mux(packet)

    try:
        for frame in frames:
            if num_frames is not None and count >= num_frames:
                break
            raw = np.asarray(frame)
            image = _even_frame(raw, count, size)
            size = size or (raw.shape[0], raw.shape[1])
            vframe = av.VideoFrame.from_ndarray(image, format="rgb24")
            vframe.pts = count
            mux(vstream.encode(vframe))
            count += 1
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    if num_frames is not None and count < num_frames:
        raise LsfError(f"expected {num_frames} video frames but got only {count}")
    mux(vstream.encode(None))
    while audio_packets:
        container.mux(audio_packets.popleft())


VertexChunks = Callable[[], Iterable[np.ndarray]]
"""Makes a fresh iterator over a vertex sequence's chunks ((t, V, 3), metres) at each call, so a
sequence can be read twice (framing, then rendering) without ever being whole in memory."""


def write_face_video(
    face: FaceModel,
    vertices: np.ndarray | VertexChunks,
    path: str | Path,
    fps: float = 25.0,
    audio: str | Path | None = None,
    size: int = 512,
    progress: bool = False,
) -> Path:
    """Render a vertex sequence of `face` to an H.264 mp4 at `fps`, with the audio muxed in.

    Args:
        vertices: (T, V, 3) metres, or a `VertexChunks` that yields it chunk by chunk: the
            sequence is read twice, once for the camera that frames all of it and once to
            render, so memory stays bounded whatever its length.
        size: frame width and height (`render.frame_size.check_frame_size`).
        progress: progress bars on stderr (framing, then video).

    The file is written atomically. Raises LsfError for a bad size, a path that is a folder,
    or when writing fails.
    """
    check_frame_size(size)
    check_video_path(path)
    chunks: VertexChunks = (lambda: [vertices]) if isinstance(vertices, np.ndarray) else vertices
    lo, hi, num_frames = vertex_bounds(_with_progress(chunks(), progress, "framing"))
    if num_frames == 0:
        raise LsfError("no video frames to write; the animation is empty")
    camera = Camera.framing_box(lo, hi, size, size)
    renderer = MeshRenderer(face.faces, face.vertex_colors, camera, size, size)
    frames = renderer.render_chunks(chunks(), camera)
    return write_mp4(frames, path, fps=fps, audio=audio, num_frames=num_frames, progress=progress)


def _with_progress(
    chunks: Iterable[np.ndarray], progress: bool, desc: str
) -> Iterator[np.ndarray]:
    """The chunks, counting their frames on a progress bar when asked."""
    if not progress:
        yield from chunks
        return
    from tqdm import tqdm

    with tqdm(unit="frame", desc=desc) as bar:
        for chunk in chunks:
            yield chunk
            bar.update(len(chunk))


def write_motion_video(
    face: FaceModel,
    motion_file: MotionFile,
    path: str | Path,
    audio: str | Path | None = None,
    sample: int = 0,
    size: int = 512,
    progress: bool = False,
) -> Path:
    """Render one sample of a motion on a face to an mp4 (see `write_face_video`), computing
    its vertices chunk by chunk (`face.motion.vertex_chunks`)."""
    motion_file.check_sample(sample)
    layer = FlameLayer(face)
    return write_face_video(
        face, lambda: vertex_chunks(face, motion_file, sample, layer=layer), path,
        motion_file.fps, audio, size, progress,
    )  # fmt: skip
