"""Do the offline motion features follow the words of real speech? (LibriVox clips)

Reads ../shared/audio/librivox (5 clips of one reader + `transcription`), aligns the words with
pocketsphinx's forced alignment (the `test` extra; used only here and in the tests), then:

1. word retrieval: for each word token that also occurs in another clip, is its nearest token
   from the other clips (length-normalized DTW on the features) the same word? Compared with
   chance and with the prosody features;
2. frame-to-frame feature change (RMS over dimensions) inside pauses, inside words and at word
   boundaries;
3. draws docs/offline_motion_features.png: two clips sharing words, waveform, features and the
   frame-to-frame change with the aligned words.

Run: .venv/bin/python benchmarks/offline_motion_words.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from PIL import Image, ImageDraw, ImageFont

from lsf_animation.audio.features import get_extractor
from record import markdown_table, record

ROOT = Path(__file__).resolve().parent.parent
LIBRIVOX = ROOT.parent / "shared" / "audio" / "librivox"
PNG = ROOT / "docs" / "offline_motion_features.png"
PLOT_CLIPS = (  # two clips sharing "he might have been made amiable"
    "sense_and_sensibility_01_austen_64kb-0920",
    "sense_and_sensibility_01_austen_64kb-0930",
)


def align_words(dec: Any, wav: np.ndarray, text: str) -> list[tuple[str, int, int]]:
    """(word, first frame, end frame) at 50 Hz with a pocketsphinx Decoder; pauses are "<sil>"."""
    dec.set_align_text(text)
    dec.start_utt()
    dec.process_raw((np.clip(wav, -1, 1) * 32767).astype(np.int16).tobytes(), full_utt=True)
    dec.end_utt()
    return [
        (re.sub(r"\(\d+\)$", "", s.word), s.start_frame // 2, (s.end_frame + 1) // 2)
        for s in dec.seg()
        if s.word not in ("<s>", "</s>")
    ]


def dtw(a: np.ndarray, b: np.ndarray) -> float:
    """Length-normalized DTW distance (RMS frame distance along the best path)."""
    cost = np.sqrt(((a[:, None] - b[None]) ** 2).mean(-1))
    acc = np.full((len(a) + 1, len(b) + 1), np.inf)
    acc[0, 0] = 0.0
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            acc[i, j] = cost[i - 1, j - 1] + min(acc[i - 1, j], acc[i, j - 1], acc[i - 1, j - 1])
    return float(acc[-1, -1] / (len(a) + len(b)))


def load_clips() -> list[dict]:
    from pocketsphinx import Decoder

    dec = Decoder(loglevel="ERROR")
    clips = []
    for line in (LIBRIVOX / "transcription").read_text().splitlines():
        m = re.match(r"<s> (.*) </s> \((.*)\)", line)
        if not m:
            continue
        text, name = m.groups()
        wav, sr = sf.read(LIBRIVOX / f"{name}.wav", dtype="float32")
        if sr != 16000:
            sys.exit(f"{name}: expected 16 kHz, got {sr}")
        clips.append({"name": name, "text": text, "wav": wav, "words": align_words(dec, wav, text)})
    return clips


def retrieval(clips: list[dict], key: str) -> tuple[int, int, float, float]:
    """(hits, queries, chance rate, same-word / other-word median DTW distance ratio)."""
    tokens = [
        (c["name"], w, c[key][a:b])
        for c in clips
        for w, a, b in c["words"]
        if w != "<sil>" and b - a >= 5
    ]
    hits, queries, chance, same, other = 0, 0, [], [], []
    for clip, word, f in tokens:
        others = [(w, g) for c, w, g in tokens if c != clip]
        if not any(w == word for w, _ in others):
            continue
        dists = [(dtw(f, g), w) for w, g in others]
        hits += min(dists)[1] == word
        queries += 1
        chance.append(np.mean([w == word for w, _ in others]))
        same += [d for d, w in dists if w == word]
        other += [d for d, w in dists if w != word]
    return hits, queries, float(np.mean(chance)), float(np.median(same) / np.median(other))


def frame_change(feats: np.ndarray) -> np.ndarray:
    """RMS over dimensions of the change from the previous frame, (T,) (0 for frame 0)."""
    return np.r_[0.0, np.sqrt((np.diff(feats, axis=0) ** 2).mean(axis=1))]


def change_by_region(clips: list[dict]) -> dict[str, float]:
    regions: dict[str, list[float]] = {"pauses": [], "inside words": [], "word boundaries": []}
    for c in clips:
        d = frame_change(c["motion"])
        for w, a, b in c["words"]:
            inner = list(d[a + 2 : b - 1])
            if w == "<sil>":
                regions["pauses"] += inner
            else:
                regions["inside words"] += inner
                if a > 0:
                    regions["word boundaries"] += list(d[max(a - 1, 1) : a + 2])
    return {k: float(np.mean(v)) for k, v in regions.items()}


# --- drawing ---------------------------------------------------------------------------------

_CMAP = np.array(  # dark blue -> teal -> yellow, for z-scored features in [-2.5, 2.5]
    [[20, 20, 70], [40, 70, 150], [30, 140, 150], [110, 190, 90], [250, 230, 60]], dtype=float
)


def colormap(x: np.ndarray) -> np.ndarray:
    t = np.clip((x + 2.5) / 5.0, 0, 1) * (len(_CMAP) - 1)
    i = np.minimum(t.astype(int), len(_CMAP) - 2)
    f = (t - i)[..., None]
    return ((1 - f) * _CMAP[i] + f * _CMAP[i + 1]).astype(np.uint8)


def draw_clip(c: dict, px_per_frame: int, width: int) -> Image.Image:
    font = ImageFont.load_default()
    feats = c["motion"]
    t = len(feats)
    row_px, wave_h, change_h, label_h, pad = 2, 60, 60, 16, 4
    heat_h = feats.shape[1] * row_px
    height = label_h + wave_h + heat_h + change_h + 3 * pad + 3 * label_h
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    x0 = 0
    # waveform envelope per pixel column
    y = label_h
    wav = c["wav"]
    spp = 320 / px_per_frame
    for x in range(t * px_per_frame):
        seg = wav[int(x * spp) : int((x + 1) * spp) + 1]
        if len(seg):
            lo, hi = float(seg.min()), float(seg.max())
            s = wave_h / 2 / max(1e-6, float(np.abs(wav).max()))
            draw.line(
                [(x0 + x, y + wave_h / 2 - hi * s), (x0 + x, y + wave_h / 2 - lo * s)],
                fill=(90, 90, 90),
            )
    # features: rows = dimensions (log-mel at the bottom, as a spectrogram), columns = frames
    y += wave_h + pad
    rgb = colormap(feats.T[::-1])
    heat = Image.fromarray(rgb).resize((t * px_per_frame, heat_h), Image.NEAREST)
    img.paste(heat, (x0, y))
    # frame-to-frame change
    y2 = y + heat_h + pad
    d = frame_change(feats)
    dmax = float(np.percentile(d, 99)) or 1.0
    pts = [
        (x0 + i * px_per_frame, y2 + change_h - min(d[i] / dmax, 1.0) * change_h) for i in range(t)
    ]
    draw.line(pts, fill=(200, 40, 40), width=1)
    # words (labels on two alternating rows so short neighbours do not overlap), seconds axis
    spoken = [(w, a) for w, a, _ in c["words"] if w != "<sil>"]
    for w, a, _ in c["words"]:
        xa = x0 + a * px_per_frame
        colour = (255, 255, 255) if w != "<sil>" else (200, 200, 200)
        draw.line([(xa, label_h), (xa, y2 + change_h)], fill=colour, width=1)
    for k, (w, a) in enumerate(spoken):
        xa = x0 + a * px_per_frame
        draw.text((xa + 2, y2 + change_h + pad + (k % 2) * label_h), w, fill="black", font=font)
    y3 = y2 + change_h + pad + 2 * label_h
    for sec in range(int(t / 50) + 1):
        xs = x0 + sec * 50 * px_per_frame
        draw.line([(xs, y3), (xs, y3 + 4)], fill="black")
        draw.text((xs + 2, y3 + 2), f"{sec} s", fill=(90, 90, 90), font=font)
    draw.text(
        (x0 + 2, 2),
        f"{c['name']}  (waveform / 86 offline-motion features, "
        "log-mel at the bottom / frame-to-frame change, red)",
        fill="black",
        font=font,
    )
    return img


def draw(clips: list[dict]) -> None:
    chosen = [c for c in clips if c["name"] in PLOT_CLIPS]
    px = 3
    width = max(len(c["motion"]) for c in chosen) * px
    panels = [draw_clip(c, px, width) for c in chosen]
    out = Image.new("RGB", (width, sum(p.height for p in panels) + 10 * len(panels)), "white")
    y = 0
    for p in panels:
        out.paste(p, (0, y))
        y += p.height + 10
    PNG.parent.mkdir(exist_ok=True)
    out.save(PNG, optimize=True)


def main() -> None:
    if not (LIBRIVOX / "transcription").is_file():
        sys.exit(f"no LibriVox clips at {LIBRIVOX}")
    motion, prosody = get_extractor("offline-motion"), get_extractor("offline-prosody")
    clips = load_clips()
    for c in clips:
        c["motion"], c["prosody"] = motion(c["wav"]), prosody(c["wav"])
    rows = []
    for key in ("motion", "prosody"):
        hits, n, chance, ratio = retrieval(clips, key)
        rows.append(
            [f"offline-{key}", f"{hits}/{n} = {hits / n:.0%}", f"{chance:.1%}", f"{ratio:.2f}"]
        )
    change = change_by_region(clips)
    draw(clips)
    body = (
        "Five LibriVox clips of one reader, words aligned with pocketsphinx. Word retrieval: "
        "for each word token that also occurs in another clip, is its nearest token among the "
        "other clips' words (DTW on the features) the same word?\n\n"
        + markdown_table(
            ["features", "nearest token is the same word", "chance", "same/other-word distance"],
            rows,
        )
        + "\n\nFrame-to-frame change of the offline-motion features (RMS over dimensions): "
        + ", ".join(f"{k} {v:.2f}" for k, v in change.items())
        + f".\n\nPlot: `{PNG.relative_to(ROOT)}`.\n"
    )
    record("Offline motion features follow the words", "benchmarks/offline_motion_words.py", body)


if __name__ == "__main__":
    main()
