"""Phone-level lip sync on real speech (LibriVox), against a loudness follower.

For each clip of ../shared/audio/librivox (or --clips DIR holding WAVs and a Sphinx-style
`transcription` file): PocketSphinx forced alignment of the transcript gives the phones
(`audio.phonetic.PhoneRecognizer.align`); the checkpoint animates the clip (built-in face, zero
shape, one sample, seed 0); the lip aperture (distance between the upper- and lower-lip midline
vertices where the lips meet, `face.measure.lip_gap`) and the mouth width are read at each
phone's centre frame and scored by `eval.phone_lips`: bilabials closed (relative aperture
< 0.2), rounding ratio (width at /UW OW W/ over width at /IY EH IH/), open-vowel median
aperture, best lag of the aperture against the speech envelope, and the envelope correlation at
lag 0. The loudness follower is the envelope itself used as the aperture (and a constant
width): what a model that only follows loudness would score. The corpus articulation is the
synthetic corpus's own mouth motion (`data.synth.visemes`, neutral, no speaker style) made from
the aligned phones: what a model that learned its training corpus perfectly, and heard every
phone right, would score.

    .venv/bin/python benchmarks/real_speech_lips.py                   # the packaged demo model
    .venv/bin/python benchmarks/real_speech_lips.py --checkpoint runs/x/stage2/model.ckpt \
        --no-record --json x.json                                      # an experiment
    .venv/bin/python benchmarks/real_speech_lips.py --checkpoint C --transcript   # phonetic
        # models: their offline-phonetic stream aligned to the transcript instead of recognized
    .venv/bin/python benchmarks/real_speech_lips.py --recognizer allphone   # phonetic models:
        # phones recognized another way than the checkpoint's own
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
LIBRIVOX = ROOT.parent / "shared" / "audio" / "librivox"
GOALS = "bilabials closed >= 85%, rounding ratio <= 0.95, best lag within +-20 ms, open-vowel "
GOALS += "median >= 0.5, envelope r >= 0.55"


def read_transcription(folder: Path) -> dict[str, str]:
    """Clip name -> words, from lines "<s> words </s> (name)"."""
    out = {}
    for line in (folder / "transcription").read_text().splitlines():
        m = re.match(r"\s*(?:<s>)?\s*(.*?)\s*(?:</s>)?\s*\(([^)]+)\)\s*$", line)
        if m:
            out[m.group(2)] = m.group(1)
    return out


def measure_checkpoint(
    checkpoint: str,
    folder: Path,
    use_transcript: bool = False,
    seeds: int = 1,
    recognizer: str | None = None,
) -> dict[str, dict]:
    """{"clips": {name: [PhoneLipSync per seed]}, "baseline": {name: PhoneLipSync},
    "articulation": {name: PhoneLipSync}}."""
    from lsf_animation.api import Animator
    from lsf_animation.audio.load import load_audio
    from lsf_animation.audio.phonetic import PhoneRecognizer
    from lsf_animation.eval.lipsync import speech_envelope
    from lsf_animation.eval.phone_lips import phone_lip_sync
    from lsf_animation.face.flame import FlameLayer, motion_to_vertices
    from lsf_animation.face.measure import lip_gap, mouth_width

    animator = Animator.from_checkpoint(checkpoint)
    layer = FlameLayer(animator.face)
    phonetic = animator.checkpoint.features.motion.name == "offline-phonetic"
    aligner = PhoneRecognizer()
    clips, baseline, articulation = {}, {}, {}
    for name, text in sorted(read_transcription(folder).items()):
        wav = load_audio(folder / f"{name}.wav")
        phones = aligner.align(wav, text)
        transcript = text if use_transcript and phonetic else None
        clips[name] = []
        for seed in range(seeds):
            anim = animator.animate(wav, seed=seed, transcript=transcript, recognizer=recognizer)
            verts = anim.vertices()
            aperture = lip_gap(animator.face, verts)
            width = mouth_width(animator.face, verts)
            envelope = speech_envelope(wav, len(aperture))
            clips[name].append(phone_lip_sync(aperture, width, envelope, phones))
        baseline[name] = phone_lip_sync(envelope, np.full(len(envelope), 0.05), envelope, phones)
        verts = motion_to_vertices(layer, corpus_articulation(phones, len(envelope)))
        articulation[name] = phone_lip_sync(
            lip_gap(animator.face, verts), mouth_width(animator.face, verts), envelope, phones
        )
    return {"clips": clips, "baseline": baseline, "articulation": articulation}


def corpus_articulation(phones, num_frames: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    """(T, 53) the synthetic corpus's neutral mouth motion for PhoneSegments, lips closed on
    the bilabials as the corpus closes them."""
    from lsf_animation.audio.phonetic import VISEME_OF_PHONE
    from lsf_animation.constants import MOTION_DIM, NUM_EXPRESSION
    from lsf_animation.data.synth.visemes import (
        close_lips,
        lip_closure,
        mouth_trajectory,
        place_channels,
    )

    intervals = [(VISEME_OF_PHONE[p.phone], p.start_s, p.end_s) for p in phones]
    mouth = mouth_trajectory(intervals, num_frames)
    exp, jaw = place_channels(mouth, NUM_EXPRESSION)
    motion = np.zeros((num_frames, MOTION_DIM), np.float32)
    motion[:, :NUM_EXPRESSION] = close_lips(exp, jaw, lip_closure(mouth))
    motion[:, NUM_EXPRESSION] = jaw  # jaw opening: the first axis of the jaw's rotation
    return motion


def summary(result) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Pooled numbers of a PhoneLipSync as a flat dict."""
    return {
        "bilabials": len(result.bilabial_apertures),
        "bilabials_closed": result.bilabials_closed,
        "rounding_ratio": result.rounding_ratio,
        "open_vowel_median": result.open_vowel_median,
        "lag_ms": result.lag_ms,
        "frame_lags_ms": [int(40 * x) for x in result.frame_lags],
        "envelope_r": result.mean_envelope_r,
    }


def row(label: str, s: dict[str, float]) -> list[str]:
    lags = s["frame_lags_ms"]
    frame_lags = (
        ", ".join(f"{x:+d}" for x in lags)
        if len(lags) <= 1
        else (f"{sum(x == 0 for x in lags)}/{len(lags)} at 0")
    )
    return [
        label,
        str(s["bilabials"]),
        f"{100 * s['bilabials_closed']:.0f}%",
        f"{s['rounding_ratio']:.3f}",
        f"{s['open_vowel_median']:.2f}",
        f"{s['lag_ms']:+.0f} ms ({frame_lags})",
        f"{s['envelope_r']:.2f}",
    ]


def main() -> None:
    from lsf_animation.audio.phonetic import RECOGNIZERS
    from lsf_animation.eval.phone_lips import pool

    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint", default="demo")
    parser.add_argument("--clips", type=Path, default=LIBRIVOX)
    parser.add_argument("--transcript", action="store_true")
    parser.add_argument("--recognizer", choices=RECOGNIZERS,
                        help="phonetic models without --transcript: recognize this way instead "
                        "of the checkpoint's own")  # fmt: skip
    parser.add_argument("--no-record", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--seeds", type=int, default=5, help="samples pooled in the last row")
    args = parser.parse_args()
    recognizer = None if args.transcript else args.recognizer
    result = measure_checkpoint(
        args.checkpoint, args.clips, args.transcript, args.seeds, recognizer
    )
    model = {name: runs[0] for name, runs in result["clips"].items()}
    base, articulation = result["baseline"], result["articulation"]
    pooled = {
        "model": summary(pool(list(model.values()))),
        "baseline": summary(pool(list(base.values()))),
        "articulation": summary(pool(list(articulation.values()))),
        "model_seeds": summary(pool([r for runs in result["clips"].values() for r in runs])),
    }
    rows = [row(f"`{name[-4:]}` model", summary(model[name])) for name in model]
    rows += [row(f"`{name[-4:]}` loudness", summary(base[name])) for name in base]
    rows += [row(f"`{name[-4:]}` articulation", summary(art)) for name, art in articulation.items()]
    rows.append(row("**pooled, model**", pooled["model"]))
    rows.append(row("**pooled, loudness follower**", pooled["baseline"]))
    rows.append(row("pooled, corpus articulation", pooled["articulation"]))
    rows.append(row(f"pooled, model, seeds 0-{args.seeds - 1}", pooled["model_seeds"]))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "checkpoint": args.checkpoint,
                    "transcript": args.transcript,
                    "pooled": pooled,
                    "clips": {k: summary(v) for k, v in model.items()},
                    "seeds": args.seeds,
                },
                indent=1,
            )
        )
    from record import markdown_table, record

    headers = [
        "clip",
        "/P B M/",
        "closed",
        "rounding ratio",
        "open-vowel median",
        "best lag (whole frames)",
        "envelope r",
    ]
    body = (
        f"Checkpoint `{args.checkpoint}`"
        + (" (phonetic stream aligned to the transcript)" if args.transcript else "")
        + (f" (phones recognized by `{recognizer}`)" if recognizer else "")
        + f", {len(model)} clips of `{args.clips.name}`, built-in face, zero shape, one sample "
        "(seed 0). Phones by PocketSphinx forced alignment of the transcript; the mouth is read "
        "at each phone's centre frame (aperture scaled to the clip's range, 0 = most closed). "
        "Lag > 0: the mouth moves after the sound (parabola-refined median over clips; the "
        "whole-frame lags in brackets). The loudness follower is the speech envelope used as "
        "the aperture; the corpus articulation is the synthetic corpus's own mouth motion "
        "made from the aligned phones (what a model that learned its corpus perfectly and "
        "heard every phone right would do); on a clip whose loud frames fall on closed or "
        "rounded phones it correlates weakly with the envelope however exact it is. "
        f"Goal: {GOALS}. The last row pools {args.seeds} "
        "samples (seeds) of every clip: with 29 bilabials, one sample's closed share moves by "
        "several points from seed to seed.\n\n" + markdown_table(headers, rows)
    )
    if args.no_record:
        print(body)
    else:
        section = "Phone-level lip sync on real speech"
        if args.transcript:
            section += ", with the transcript"
        elif recognizer:
            section += f", phones by {recognizer}"
        record(section, "benchmarks/real_speech_lips.py", body)


if __name__ == "__main__":
    main()
