"""A picture of a synthetic clip: render it to an mp4 on the built-in face (with its audio), then
tile frames decoded from that mp4 into one PNG strip.

    python -m lsf_animation.data.synth.preview --emotion happy --level 3 \
        --out docs/synth_happy_strip.png
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import av
import numpy as np
from PIL import Image

from lsf_animation.data.synth.generate import synthesize_clip
from lsf_animation.data.synth.layout import write_wav
from lsf_animation.data.synth.sentences import SENTENCES
from lsf_animation.data.synth.speakers import make_speakers
from lsf_animation.errors import LsfError
from lsf_animation.face.load import load_face_model
from lsf_animation.face.motion import make_motion_file
from lsf_animation.render.video import write_motion_video


def mp4_frame_strip(mp4: str | Path, out: str | Path, num_frames: int = 6) -> list[int]:
    """Decode an mp4 with PyAV and write `num_frames` evenly spaced frames side by side as a PNG,
    each cropped to the box around the face (where any picked frame differs from the background).

    Returns:
        The indices of the frames used.
    """
    with av.open(str(mp4)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    if len(frames) < num_frames:
        raise LsfError(f"{mp4} has {len(frames)} frames, fewer than the {num_frames} asked for")
    picks = np.linspace(0, len(frames) - 1, num_frames + 2)[1:-1].round().astype(int).tolist()
    chosen = np.stack([frames[i] for i in picks]).astype(np.int16)
    background = chosen[0, 0, 0]
    ys, xs = np.nonzero((np.abs(chosen - background).sum(axis=-1) > 24).any(axis=0))
    height, width = chosen.shape[1:3]
    top, bottom = max(int(ys.min()) - 6, 0), min(int(ys.max()) + 7, height)
    left, right = max(int(xs.min()) - 6, 0), min(int(xs.max()) + 7, width)
    strip = np.concatenate(list(chosen[:, top:bottom, left:right].astype(np.uint8)), axis=1)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(strip).save(out)
    return picks


def clip_strip(
    out: str | Path,
    emotion: str = "happy",
    level: int = 3,
    sentence: int = 0,
    speaker: int = 1,
    seed: int = 0,
    size: int = 256,
    num_frames: int = 6,
) -> Path:
    """Generate one clip (speaker index, 0-based sentence), render it and write its frame strip."""
    who = make_speakers(max(3, speaker + 1), seed)[speaker]
    clip = synthesize_clip(who, emotion, level, SENTENCES[sentence], np.random.default_rng(seed))
    with tempfile.TemporaryDirectory() as tmp:
        wav, mp4 = Path(tmp) / "clip.wav", Path(tmp) / "clip.mp4"
        write_wav(wav, clip.audio)
        motion = make_motion_file(clip.motion, clip.shape)
        write_motion_video(load_face_model("builtin"), motion, mp4, wav, size=size)
        mp4_frame_strip(mp4, out, num_frames)
    return Path(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--emotion", default="happy")
    parser.add_argument("--level", type=int, default=3)
    parser.add_argument("--sentence", type=int, default=0, help="0-based sentence index")
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args(argv)
    print(clip_strip(args.out, args.emotion, args.level, args.sentence, size=args.size))


if __name__ == "__main__":
    main()
