"""`lsf-animation extract` and `extract_corpus`: corpus walk, caching, resume, errors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lsf_animation.audio.cache import FeatureCache, audio_key
from lsf_animation.audio.extract import extract_corpus, find_audio_files, parse_feature_names
from lsf_animation.audio.features import get_extractor
from lsf_animation.audio.offline_motion import OfflineMotionExtractor
from lsf_animation.cli import main
from lsf_animation.errors import LsfError

SR = 16000
FEATURES = ["offline-motion", "offline-prosody"]


def make_corpus(root: Path) -> list[Path]:
    """A tiny corpus in MEAD's and ProbTalk3D's layouts; returns its audio files (sorted)."""
    rng = np.random.default_rng(0)
    files = [
        root / "MEAD" / "M003" / "audio" / "angry" / "level_1" / "001.wav",
        root / "MEAD" / "M003" / "audio" / "neutral" / "level_1" / "002.WAV",
        root / "MEAD" / "W009" / "audio" / "happy" / "level_3" / "003.flac",
        root / "wav" / "M003_front_angry_1_001.wav",
    ]
    for i, f in enumerate(files):
        f.parent.mkdir(parents=True, exist_ok=True)
        wav = 0.1 * rng.standard_normal(int(SR * (0.3 + 0.1 * i))).astype(np.float32)
        sf.write(f, wav, SR)
    (root / "MEAD" / "README.txt").write_text("not audio")
    hidden = root / ".lsf_cache" / "x.wav"
    hidden.parent.mkdir()
    sf.write(hidden, np.zeros(SR, np.float32), SR)
    return sorted(files)


def read_wav(path: Path) -> np.ndarray:
    return sf.read(path, dtype="float32")[0]


def test_find_audio_files_walks_both_layouts(tmp_path: Path) -> None:
    files = make_corpus(tmp_path)
    assert sorted(find_audio_files(tmp_path)) == files


def test_parse_feature_names() -> None:
    assert parse_feature_names(" offline-motion, offline-prosody,offline-motion") == FEATURES
    with pytest.raises(LsfError, match="unknown speech feature 'mfcc'"):
        parse_feature_names("offline-motion,mfcc")
    with pytest.raises(LsfError, match="empty"):
        parse_feature_names(" , ")


def test_extract_fills_the_cache_then_hits(tmp_path: Path) -> None:
    files = make_corpus(tmp_path / "data")
    cache_dir = tmp_path / "cache"
    report = extract_corpus(
        tmp_path / "data", FEATURES, cache_dir, workers=1, progress=False, load=read_wav
    )
    assert report.files == 4 and report.computed == {n: 4 for n in FEATURES}
    cache = FeatureCache(cache_dir)
    for name in FEATURES:
        ex = get_extractor(name)
        for f in files:
            np.testing.assert_array_equal(cache.lookup(ex, f), ex(read_wav(f)))
    again = extract_corpus(
        tmp_path / "data", FEATURES, cache_dir, workers=1, progress=False, load=read_wav
    )
    assert again.computed == {} and again.cached == {n: 4 for n in FEATURES}


def test_interrupted_run_resumes(tmp_path: Path) -> None:
    """Simulate a killed run: half the entries already cached (one extractor for one file)."""
    files = make_corpus(tmp_path / "data")
    cache = FeatureCache(tmp_path / "cache")
    motion = get_extractor("offline-motion")
    done = [cache.entry_path(motion, audio_key(f)) for f in files[:2]]
    for f in files[:2]:
        cache.get_or_compute(motion, f, load=read_wav)
    cache.get_or_compute(get_extractor("offline-prosody"), files[0], load=read_wav)
    stamps = [p.stat().st_mtime_ns for p in done]
    report = extract_corpus(
        tmp_path / "data", FEATURES, cache.root, workers=1, progress=False, load=read_wav
    )
    assert report.computed == {"offline-motion": 2, "offline-prosody": 3}
    assert report.cached == {"offline-motion": 2, "offline-prosody": 1}
    assert [p.stat().st_mtime_ns for p in done] == stamps  # not rewritten


def test_ctrl_c_midway_then_rerun_completes(tmp_path: Path) -> None:
    files = make_corpus(tmp_path / "data")
    seen: list[Path] = []

    def load_then_interrupt(path: Path) -> np.ndarray:
        seen.append(path)
        if len(seen) == 3:
            raise KeyboardInterrupt
        return read_wav(path)

    with pytest.raises(KeyboardInterrupt):
        extract_corpus(
            tmp_path / "data",
            FEATURES,
            tmp_path / "cache",
            workers=1,
            progress=False,
            load=load_then_interrupt,
        )
    report = extract_corpus(
        tmp_path / "data", FEATURES, tmp_path / "cache", workers=1, progress=False, load=read_wav
    )
    assert report.cached == {n: 2 for n in FEATURES}
    assert report.computed == {n: 2 for n in FEATURES}
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.name.startswith(".tmp-")]
    assert len(files) == 4


@pytest.mark.slow
def test_cli_extract_with_two_workers(tmp_path: Path, capsys) -> None:
    files = make_corpus(tmp_path / "data")
    (tmp_path / "data" / "wav" / "broken.wav").write_bytes(b"RIFF not really a wav")
    args = [
        "extract",
        "--data",
        str(tmp_path / "data"),
        "--features",
        ",".join(FEATURES),
        "--cache",
        str(tmp_path / "cache"),
        "--workers",
        "2",
        "-q",
    ]
    assert main(args) == 2  # the broken file fails, the rest is cached
    err = capsys.readouterr().err
    assert "broken.wav" in err and err.strip().splitlines()[-1].startswith("error: 1 of 5")
    (tmp_path / "data" / "wav" / "broken.wav").unlink()
    before = os.environ.get("OMP_NUM_THREADS")
    assert main(args) == 0
    assert os.environ.get("OMP_NUM_THREADS") == before  # the workers' setting does not leak
    out = capsys.readouterr().out
    assert "4 audio files" in out and "offline-motion: 0 computed, 4 cached" in out
    cache = FeatureCache(tmp_path / "cache")
    assert all(cache.lookup(get_extractor(n), f) is not None for n in FEATURES for f in files)


def test_cli_option_reaches_the_extractor(tmp_path: Path, capsys) -> None:
    files = make_corpus(tmp_path / "data")
    args = [
        "extract",
        "--data",
        str(tmp_path / "data"),
        "--features",
        "offline-motion",
        "--option",
        "offline-motion.n_mels=32",
        "--option",
        "offline-motion.normalize=false",
        "--cache",
        str(tmp_path / "cache"),
        "--workers",
        "1",
        "-q",
    ]
    assert main(args) == 0
    ex = OfflineMotionExtractor(n_mels=32, normalize=False)
    feats = FeatureCache(tmp_path / "cache").lookup(ex, files[0])
    assert feats is not None and feats.shape[1] == 32 + 3 * 13 + 7
    assert FeatureCache(tmp_path / "cache").lookup(OfflineMotionExtractor(), files[0]) is None


def test_cli_config_extracts_its_streams_with_their_options(tmp_path: Path) -> None:
    """`extract --config demo` caches exactly what `train stage2 --config demo` reads."""
    from lsf_animation.train.config import load_train_config

    files = make_corpus(tmp_path / "data")
    args = ["extract", "--data", str(tmp_path / "data"), "--config", "demo"]
    assert main([*args, "--cache", str(tmp_path / "cache"), "--workers", "1", "-q"]) == 0
    cache = FeatureCache(tmp_path / "cache")
    streams = load_train_config("demo").features.streams()
    assert [s.name for s in streams] == ["offline-phonetic", "offline-voice"]
    for spec in streams:
        assert cache.lookup(get_extractor(spec.name, **spec.options), files[0]) is not None
    # the phonetic stream was computed with the config's option, not the default
    assert cache.lookup(get_extractor("offline-phonetic"), files[0]) is None


@pytest.mark.parametrize(
    ("setup", "extra", "message"),
    [
        ("missing", [], "does not exist"),
        ("file", [], "is not a directory"),
        ("empty", [], "no audio files"),
        ("corpus", ["--features", "offline-motion,nope"], "unknown speech feature 'nope'"),
        ("corpus", ["--option", "offline-motion.bogus=1"], "unknown option(s) bogus"),
        ("corpus", ["--option", "hubert.model=x"], "not in --features"),
        ("corpus", ["--option", "n_mels=3"], "FEATURE.KEY=VALUE"),
        ("corpus", ["--config", "demo"], "--features NAMES or --config CONFIG"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(
    tmp_path: Path, capsys, setup: str, extra: list[str], message: str
) -> None:
    data = tmp_path / "data"
    if setup == "file":
        data.write_text("x")
    elif setup == "empty":
        data.mkdir()
    elif setup == "corpus":
        make_corpus(data)
    code = main(
        [
            "extract",
            "--data",
            str(data),
            "--features",
            "offline-motion",
            "--cache",
            str(tmp_path / "cache"),
            "-q",
            *extra,
        ]
    )
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert not (tmp_path / "cache").exists()
