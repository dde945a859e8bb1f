"""Pitch trackers on real speech: our YIN (offline-prosody) against librosa's pYIN (LibriVox).

No reference pitch exists for these recordings, so each tracker is scored against what the
forced-aligned phones (PocketSphinx, the transcript) say about voicing, and against itself:

- voicing errors: frames inside vowels, nasals, liquids and glides (voiced for sure) called
  unvoiced, and frames inside voiceless obstruents /P T K F TH S SH CH HH/ or silence called
  voiced (voiced obstruents, which often devoice, are not scored);
- octave jumps: consecutive voiced frames whose pitch changes by more than 0.7 octave (a
  real voice does not move that far in 20 ms; a tracker that halves or doubles does);
- the spread of the voiced frames' log pitch around the clip's median (a reader's pitch range is
  about half an octave; errors inflate it);
- speed (real-time factor, one core).

    .venv/bin/python benchmarks/pitch_trackers.py          # needs librosa (not a dependency)
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
LIBRIVOX = ROOT.parent / "shared" / "audio" / "librivox"
VOICED = {
    "AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW",
    "M", "N", "NG", "L", "R", "W", "Y",
}  # fmt: skip
UNVOICED = {"P", "T", "K", "F", "TH", "S", "SH", "CH", "HH", "SIL"}


def ours(wav: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(log2 f0, voiced) per 50 Hz frame from the offline-prosody extractor's own columns."""
    from lsf_animation.audio.prosody import ProsodyExtractor

    ex = ProsodyExtractor()
    feats = ex(wav)
    voiced = feats[:, 1] >= ex.config.voicing_threshold
    return feats[:, 0].astype(np.float64), voiced


def pyin(wav: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(log2 f0 re 200 Hz, voiced) from librosa.pyin on the same 50 Hz grid (frame t centred on
    sample 320 t + 200)."""
    import librosa

    n = (len(wav) - 400) // 320 + 1
    padded = np.pad(wav, (0, 1024)).astype(np.float32)
    f0, flag, _ = librosa.pyin(
        padded[200:],
        fmin=60.0,
        fmax=500.0,
        sr=16000,
        frame_length=1024,
        hop_length=320,
        center=True,
    )
    f0, flag = f0[:n], flag[:n]
    return np.log2(np.where(flag, f0, 200.0) / 200.0), flag.astype(bool)


def frame_phones(segments, n: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The phone at each 50 Hz frame's centre."""
    centres = (np.arange(n) * 320 + 200) / 16000
    out = np.full(n, "SIL", dtype=object)
    for s in segments:
        out[(centres >= s.start_s) & (centres < s.end_s)] = s.phone
    return out


def score(log_f0: np.ndarray, voiced: np.ndarray, phones: np.ndarray) -> dict[str, float]:
    sure_voiced = np.isin(phones, list(VOICED))
    sure_unvoiced = np.isin(phones, list(UNVOICED))
    both = voiced[1:] & voiced[:-1]
    jumps = np.abs(np.diff(log_f0))[both] > 0.7
    v = log_f0[voiced]
    return {
        "missed_voiced": float(np.mean(~voiced[sure_voiced])),
        "false_voiced": float(np.mean(voiced[sure_unvoiced])),
        "jumps": int(jumps.sum()),
        "voiced_pairs": int(both.sum()),
        "spread_oct": float(np.percentile(v, 95) - np.percentile(v, 5)) if len(v) else 0.0,
    }


def main() -> None:
    from lsf_animation.audio.load import load_audio
    from lsf_animation.audio.phonetic import PhoneRecognizer
    from record import markdown_table, record

    aligner = PhoneRecognizer()
    totals: dict[str, list[dict[str, float]]] = {"ours (YIN)": [], "librosa pYIN": []}
    seconds = {name: 0.0 for name in totals}
    audio_s = 0.0
    for line in (LIBRIVOX / "transcription").read_text().splitlines():
        text, name = re.match(r"<s> (.*) </s> \((.*)\)", line).groups()
        wav = load_audio(LIBRIVOX / f"{name}.wav")
        audio_s += len(wav) / 16000
        phones = None
        for tracker, fn in (("ours (YIN)", ours), ("librosa pYIN", pyin)):
            start = time.perf_counter()
            log_f0, voiced = fn(wav)
            seconds[tracker] += time.perf_counter() - start
            if phones is None:
                phones = frame_phones(aligner.align(wav, text), len(voiced))
            totals[tracker].append(score(log_f0, voiced, phones))
    rows = []
    for tracker, clips in totals.items():
        rows.append(
            [
                tracker,
                f"{100 * np.mean([c['missed_voiced'] for c in clips]):.1f}%",
                f"{100 * np.mean([c['false_voiced'] for c in clips]):.1f}%",
                f"{sum(c['jumps'] for c in clips)} / {sum(c['voiced_pairs'] for c in clips)}",
                f"{np.mean([c['spread_oct'] for c in clips]):.2f}",
                f"{audio_s / seconds[tracker]:.1f}x",
            ]
        )
    headers = [
        "tracker",
        "voiced phones called unvoiced",
        "voiceless phones / silence called voiced",
        "octave jumps / voiced frame pairs",
        "5-95% pitch spread (octaves)",
        "real-time factor",
    ]
    body = (
        f"{len(totals['ours (YIN)'])} LibriVox clips ({audio_s:.0f} s), 50 Hz frames, phones by "
        "PocketSphinx forced alignment. Voicing errors against the phones (voiced obstruents "
        "not scored); an octave jump is > 0.7 octave between consecutive voiced frames.\n\n"
        + markdown_table(headers, rows)
    )
    record("Pitch trackers on real speech", "benchmarks/pitch_trackers.py", body)


if __name__ == "__main__":
    main()
