"""Speed of the speech-feature extractors and of the feature cache.

- Real-time factor (audio seconds per wall second) of each extractor on 10 s of speech, in one
  process (torch may use both cores), and for the offline extractors also through
  `lsf-animation extract` with 1 and 2 worker processes over corpora of 10 s files (whole run,
  and steady state with the start-up cancelled), i.e. what `extract` gets from both cores.
- Paper-size HuBERT-base and emotion2vec-base with random weights (same cost as the real ones),
  when their modules are present.
- Cache: `FeatureCache.get_or_compute` on a 10 s file, miss (decode + compute + write) vs hit
  (hash the file + read + verify the checksum).

Run: .venv/bin/python benchmarks/feature_speed.py
"""

from __future__ import annotations

import importlib.util
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from lsf_animation.audio.cache import FeatureCache
from lsf_animation.audio.features import FeatureExtractor, get_extractor
from record import call_times, markdown_table, record

SR = 16000
SECONDS = 10.0
LIBRIVOX = Path(__file__).resolve().parents[2] / "shared" / "audio" / "librivox"


def speech_10s() -> np.ndarray:
    """10 s of real speech (LibriVox clips joined) if present, else a synthetic stand-in."""
    clips = [sf.read(p, dtype="float32")[0] for p in sorted(LIBRIVOX.glob("*.wav"))]
    if clips:
        wav = np.concatenate(clips)
        return np.resize(wav, int(SR * SECONDS)).astype(np.float32)
    rng = np.random.default_rng(0)
    t = np.arange(int(SR * SECONDS)) / SR
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)
    wav = env * (np.sin(2 * np.pi * 120 * t) + 0.1 * rng.standard_normal(len(t)))
    return (0.2 * wav).astype(np.float32)


def timed(fn: Callable[[], object], repeats: int) -> float:
    """Median wall seconds of `repeats` calls after one warm-up."""
    return statistics.median(call_times(fn, repeats))


def paper_size_extractors() -> list[tuple[str, FeatureExtractor]]:
    """Random-weight HuBERT-base (full and frozen part) and emotion2vec-base, when available."""
    out: list[tuple[str, FeatureExtractor]] = []
    if importlib.util.find_spec("lsf_animation.audio.hubert") is not None:
        from transformers import HubertConfig, HubertModel

        from lsf_animation.audio.hubert import HubertExtractor

        torch.manual_seed(0)
        model = HubertModel(HubertConfig()).eval()  # base: 12 layers, 768-d, 95 M parameters
        out.append(("hubert (base, random)", HubertExtractor(model=model)))
        out.append(("hubert-frozen (base, random)", HubertExtractor(model=model, frozen_only=True)))
    if importlib.util.find_spec("lsf_animation.audio.emotion2vec") is not None:
        from lsf_animation.audio.data2vec import Data2VecAudioConfig, Data2VecAudioModel
        from lsf_animation.audio.emotion2vec import Emotion2vecExtractor

        model = Data2VecAudioModel(Data2VecAudioConfig())  # emotion2vec_base's architecture
        out.append(("emotion2vec (base, random)", Emotion2vecExtractor(model)))
    return out


def corpus_seconds(wav: np.ndarray, names: list[str], workers: int, files: int) -> float:
    """Wall seconds of `lsf-animation extract` (a fresh process) over `files` copies of `wav`."""
    root = Path(tempfile.mkdtemp(prefix="lsf-bench-"))
    (root / "data").mkdir()
    try:
        for i in range(files):  # distinct bytes per file, else they share cache entries
            sf.write(root / "data" / f"{i}.wav", np.roll(wav, 1000 * i), SR, subtype="PCM_16")
        cmd = [
            sys.executable,
            "-m",
            "lsf_animation.cli",
            "extract",
            "--data",
            str(root / "data"),
            "--features",
            ",".join(names),
            "--cache",
            str(root / "cache"),
            "--workers",
            str(workers),
            "-q",
        ]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        return time.perf_counter() - t0
    finally:
        shutil.rmtree(root)


def corpus_rtf(wav: np.ndarray, names: list[str], workers: int) -> tuple[float, float]:
    """(RTF of a whole 16-file run including start-up, steady-state RTF).

    Steady state: the extra audio of a 64-file run over a 16-file run divided by the extra
    time, which cancels the fixed start-up (interpreter, imports, worker processes).
    """
    small, large = 16, 64
    t_small = corpus_seconds(wav, names, workers, small)
    t_large = corpus_seconds(wav, names, workers, large)
    return small * SECONDS / t_small, (large - small) * SECONDS / max(t_large - t_small, 1e-9)


def cache_times(ex: FeatureExtractor, wav_path: Path, repeats: int = 5) -> tuple[float, float]:
    """(miss, hit) median seconds of FeatureCache.get_or_compute on one file."""
    misses, hits = [], []
    for _ in range(repeats):
        root = Path(tempfile.mkdtemp(prefix="lsf-cache-"))
        try:
            cache = FeatureCache(root)
            cache._fingerprint(ex)  # weight hashing is a one-off per process, not per lookup
            t0 = time.perf_counter()
            miss = cache.get_or_compute(ex, wav_path)
            t1 = time.perf_counter()
            hit = cache.get_or_compute(ex, wav_path)
            t2 = time.perf_counter()
            assert np.array_equal(miss, hit)
            misses.append(t1 - t0)
            hits.append(t2 - t1)
        finally:
            shutil.rmtree(root)
    return statistics.median(misses), statistics.median(hits)


def main() -> None:
    wav = speech_10s()
    offline = ["offline-motion", "offline-prosody"]
    extractors = [(n, get_extractor(n)) for n in offline] + paper_size_extractors()
    tmp = Path(tempfile.mkdtemp(prefix="lsf-bench-"))
    wav_path = tmp / "speech10s.wav"
    sf.write(wav_path, wav, SR, subtype="PCM_16")
    rows = []
    try:
        for label, ex in extractors:
            heavy = ex.name in ("hubert", "hubert-frozen", "emotion2vec")
            secs = timed(lambda ex=ex: ex(wav), repeats=3 if heavy else 20)
            miss, hit = cache_times(ex, wav_path, repeats=3 if heavy else 10)
            row = [label, ex.dim, f"{1000 * secs:.1f}", f"{SECONDS / secs:.0f}x"]
            if ex.name in offline:
                for workers in (1, 2):
                    whole, steady = corpus_rtf(wav, [ex.name], workers)
                    row += [f"{whole:.0f}x / {steady:.0f}x"]
            else:
                row += ["-", "-"]
            row += [f"{1000 * miss:.1f}", f"{1000 * hit:.2f}", f"{miss / hit:.0f}x"]
            rows.append(row)
            print(row, flush=True)
        both = ["{:.0f}x / {:.0f}x".format(*corpus_rtf(wav, offline, w)) for w in (1, 2)]
        rows.append(["offline-motion + offline-prosody", "-", "-", "-", *both, "-", "-", "-"])
    finally:
        shutil.rmtree(tmp)
    table = markdown_table(
        [
            "extractor",
            "dim",
            "10 s clip (ms)",
            "RTF, 1 process",
            "RTF, extract 1 worker",
            "RTF, extract 2 workers",
            "cache miss (ms)",
            "cache hit (ms)",
            "miss/hit",
        ],
        rows,
    )
    body = (
        f"{SECONDS:.0f} s of LibriVox speech (16 kHz). RTF = audio seconds per wall second. "
        "'1 process': one call in this process (torch may use both cores). 'extract N workers': "
        "`lsf-animation extract --workers N` on files of 10 s: whole run of 16 files (160 s of "
        "audio; interpreter, imports, worker start-up, decoding and cache writes included) / "
        "steady state (extra audio of a 64-file run over the 16-file run per extra second). "
        "Cache miss = decode + compute + checksum + atomic write; hit = hash the file bytes + "
        "read + verify. HuBERT/emotion2vec rows use random paper-size weights "
        "(same cost as the released ones).\n\n" + table
    )
    record("Speech features", "benchmarks/feature_speed.py", body)


if __name__ == "__main__":
    main()
