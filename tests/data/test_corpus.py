"""Scanning 3DMEAD corpora (EMICA hdf5 + MEAD audio, ProbTalk3D) and reporting broken clips."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from fixtures_mead import (
    FixtureClip,
    make_mead_corpus,
    make_probtalk3d_corpus,
    mead_audio_stem,
    mead_motion_path,
    write_wav,
)
from lsf_animation.data.clips import read_motion
from lsf_animation.data.corpus import parse_probtalk3d_stem, scan_corpus
from lsf_animation.errors import LsfError

CLIPS = [
    FixtureClip("M003", 0, 1, 1, 20),
    FixtureClip("M003", 6, 2, 3, 26),
    FixtureClip("W009", 1, 3, 12, 31),
]


def _check_clips(corpus, written, layout: str) -> None:  # type: ignore[no-untyped-def]
    assert [c.key for c in corpus.clips] == sorted(written)
    assert corpus.problems == []
    by_key = {c.key: c for c in corpus.clips}
    angry = by_key["M003/angry/level_2/003"]
    assert (angry.subject, angry.emotion, angry.level, angry.sentence) == ("M003", 6, 2, 3)
    assert angry.intensity == 1 and angry.layout == layout and angry.num_frames == 26
    for c in corpus.clips:
        np.testing.assert_array_equal(
            read_motion(c).motion[:, :50], written[c.key]["exp"][0, :, :50]
        )
    assert corpus.subjects() == ["M003", "W009"]


def test_mead_layout_with_m4a_audio(tmp_path: Path) -> None:
    written = make_mead_corpus(tmp_path, CLIPS, audio_format="m4a")
    corpus = scan_corpus(tmp_path)
    assert corpus.layout == "mead"
    _check_clips(corpus, written, "mead")
    assert all(c.audio_path.suffix == ".m4a" for c in corpus.clips)
    assert all(c.audio_seconds == pytest.approx(c.num_frames / 25, abs=0.07) for c in corpus.clips)
    assert "3 clips from 2 speakers, 0 with problems" in corpus.report()


def test_mead_layout_with_wav_audio_and_a_separate_audio_root(tmp_path: Path) -> None:
    audio_root = tmp_path / "elsewhere" / "MEAD-audio"
    written = make_mead_corpus(
        tmp_path / "corpus", CLIPS, audio_format="wav", audio_root=audio_root
    )
    corpus = scan_corpus(tmp_path / "corpus" / "EMICA-MEAD_flame2020", audio_root=audio_root)
    _check_clips(corpus, written, "mead")
    assert all(c.audio_path.is_relative_to(audio_root) for c in corpus.clips)
    # without the audio root there is no audio to be found: a clear error, not 3 problems
    with pytest.raises(LsfError, match="no MEAD audio"):
        scan_corpus(tmp_path / "corpus" / "EMICA-MEAD_flame2020")


def test_mead_layout_with_motion_and_audio_in_one_speaker_tree(tmp_path: Path) -> None:
    written = make_mead_corpus(tmp_path / "c", CLIPS, audio_format="wav", audio_root=tmp_path / "c")
    # move the reconstructions next to the audio: <root>/<SUBJ>/{front,audio}
    for subj in ("M003", "W009"):
        shutil.move(tmp_path / "c" / "EMICA-MEAD_flame2020" / subj / "front", tmp_path / "c" / subj)
    shutil.rmtree(tmp_path / "c" / "EMICA-MEAD_flame2020")
    _check_clips(scan_corpus(tmp_path / "c"), written, "mead")


@pytest.mark.parametrize("numeric", [True, False])
def test_probtalk3d_layout(tmp_path: Path, numeric: bool) -> None:
    written = make_probtalk3d_corpus(tmp_path, CLIPS, numeric=numeric)
    corpus = scan_corpus(tmp_path)
    assert corpus.layout == "probtalk3d"
    _check_clips(corpus, written, "probtalk3d")


def test_probtalk3d_keys_numeric_levels_are_zero_based() -> None:
    assert parse_probtalk3d_stem("M003_001_6_1") == ("M003", 6, 2, 1)
    assert parse_probtalk3d_stem("W040_030_angry_level_3") == ("W040", 6, 3, 30)
    assert parse_probtalk3d_stem("M003_012_contempt_0") == ("M003", 7, 1, 12)
    for bad in ("M003_001_6_3", "M003_001_9_0", "M003_001_6", "M003_000_6_0"):
        with pytest.raises(LsfError):
            parse_probtalk3d_stem(bad)


def test_broken_clips_are_reported_not_dropped(tmp_path: Path) -> None:
    good = FixtureClip("M003", 0, 1, 1, 20)
    no_audio = FixtureClip("M003", 1, 1, 2, 20)
    mismatch = FixtureClip("M003", 2, 1, 3, 40)
    corrupt = FixtureClip("W009", 3, 2, 4, 20)
    make_mead_corpus(tmp_path, [good, no_audio, mismatch, corrupt], audio_format="m4a")
    mead_audio_stem(tmp_path / "MEAD", no_audio).with_suffix(".m4a").unlink()
    write_wav(mead_audio_stem(tmp_path / "MEAD", mismatch).with_suffix(".wav"), 1.0)  # 25 != 40
    mead_audio_stem(tmp_path / "MEAD", mismatch).with_suffix(".m4a").unlink()
    mead_motion_path(tmp_path, corrupt).write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    # audio whose reconstruction is missing, and a stray folder
    write_wav(tmp_path / "MEAD" / "W009" / "audio" / "sad" / "level_2" / "007.wav", 0.5)
    (tmp_path / "EMICA-MEAD_flame2020" / "M003" / "front" / "furious" / "level_1").mkdir(
        parents=True
    )

    corpus = scan_corpus(tmp_path)
    assert [c.key for c in corpus.clips] == [good.key]
    kinds = {p.key: p.kind for p in corpus.problems}
    assert kinds[no_audio.key] == "missing_audio"
    assert kinds[mismatch.key] == "length_mismatch"
    assert kinds[corrupt.key] == "unreadable_motion"
    assert kinds["W009/sad/level_2/007"] == "missing_motion"
    assert "bad_path" in kinds.values()
    assert len(corpus.problems) == 5
    # the length mismatch keeps its clip so a caller may still decide to use it
    mm = next(p for p in corpus.problems if p.kind == "length_mismatch")
    assert mm.clip is not None and mm.clip.num_frames == 40 and "40 frames" in mm.reason
    report = corpus.report()
    expected = [
        "1 clips",
        "5 with problems",
        "missing audio: 1",
        no_audio.key,
        "length mismatch: 1",
        "unreadable motion: 1",
        corrupt.key,
        "missing motion: 1",
    ]
    for text in expected:
        assert text in report


def test_length_tolerance_is_two_frames_or_four_percent(tmp_path: Path) -> None:
    clips = [FixtureClip("M003", 0, 1, s, 100) for s in (1, 2, 3)]
    make_mead_corpus(tmp_path, clips, audio_format="wav")
    # 100 frames: tolerance max(2, 4) = 4 frames; 103 frames of audio passes, 106 does not
    write_wav(mead_audio_stem(tmp_path / "MEAD", clips[1]).with_suffix(".wav"), 103 / 25)
    write_wav(mead_audio_stem(tmp_path / "MEAD", clips[2]).with_suffix(".wav"), 106 / 25)
    corpus = scan_corpus(tmp_path)
    assert [c.sentence for c in corpus.clips] == [1, 2]
    assert [p.key for p in corpus.problems] == [clips[2].key]
    assert len(scan_corpus(tmp_path, check_lengths=False).clips) == 3


def test_report_lists_at_most_five_examples(tmp_path: Path) -> None:
    clips = [FixtureClip("M003", 0, 1, s, 10) for s in range(1, 9)]
    make_mead_corpus(tmp_path, clips, audio_format="wav")
    for c in clips[1:]:
        mead_audio_stem(tmp_path / "MEAD", c).with_suffix(".wav").unlink()
    report = scan_corpus(tmp_path).report()
    assert "missing audio: 7" in report
    assert sum(c.key in report for c in clips[1:]) == 5
    assert "and 2 more" in report


def test_not_a_corpus(tmp_path: Path) -> None:
    with pytest.raises(LsfError, match="does not exist"):
        scan_corpus(tmp_path / "nope")
    (tmp_path / "random").mkdir()
    with pytest.raises(LsfError, match="not a 3DMEAD corpus"):
        scan_corpus(tmp_path)
    with pytest.raises(LsfError, match="unknown corpus layout"):
        scan_corpus(tmp_path, layout="vocaset")
