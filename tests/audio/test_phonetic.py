"""The offline-phonetic extractor: frame grid, determinism, recognition vs. alignment, the
transcript path, errors."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pocketsphinx")

from lsf_animation.audio.features import check_features, get_extractor, num_frames_50hz
from lsf_animation.audio.phonetic import (
    PHONES,
    SILENCE,
    VISEME_OF_PHONE,
    VISEMES,
    PhoneRecognizer,
    PhoneSegment,
    frame_occupancy,
)
from lsf_animation.errors import LsfError

LIBRIVOX = Path(__file__).resolve().parents[3] / "shared" / "audio" / "librivox"
SENTENCE = "my mother made a blue umbrella"


@pytest.fixture(scope="module")
def espeak_speech() -> np.ndarray:
    """eSpeak NG saying SENTENCE, 16 kHz, with 0.3 s of silence around it."""
    import soxr

    from lsf_animation.data.synth.espeak import VoiceSettings, get_synthesizer

    utt = get_synthesizer().synthesize(SENTENCE, VoiceSettings())
    speech = soxr.resample(utt.audio, utt.sample_rate, 16000).astype(np.float32)
    pad = np.zeros(4800, np.float32)
    return np.concatenate([pad, speech, pad])


def _runs(labels: np.ndarray) -> list[int]:
    """Collapse repeats: [3, 3, 5, 5, 3] -> [3, 5, 3]."""
    return [int(x) for i, x in enumerate(labels) if i == 0 or x != labels[i - 1]]


def test_frame_grid_and_shape_contract(espeak_speech: np.ndarray) -> None:
    for units, dim in (("phones", len(PHONES)), ("visemes", len(VISEMES))):
        ex = get_extractor("offline-phonetic", units=units)
        assert ex.dim == dim and ex.rate_hz == 50.0
        for n in (0, 399, 400, 721, 16000, len(espeak_speech)):
            wav = espeak_speech[:n]
            feats = ex(wav)
            check_features(ex, wav, feats)
            assert feats.shape[0] == num_frames_50hz(n)
            np.testing.assert_allclose(feats.sum(axis=1), 1.0, atol=1e-5)
            assert (feats >= 0.0).all()


def test_loudness_column_follows_the_level_whatever_the_gain(espeak_speech: np.ndarray) -> None:
    plain = get_extractor("offline-phonetic", transcript=SENTENCE)
    loud = get_extractor("offline-phonetic", transcript=SENTENCE, loudness=True)
    assert loud.dim == plain.dim + 1 and loud.fingerprint() != plain.fingerprint()
    feats = loud(espeak_speech)
    check_features(loud, espeak_speech, feats)
    np.testing.assert_array_equal(feats[:, :-1], plain(espeak_speech))
    level = feats[:, -1]
    assert level.min() >= -3.0 and level.max() <= 0.0
    assert level[:10].max() == -3.0  # the leading 0.3 s of silence
    speaking = feats[:, PHONES.index(SILENCE)] < 0.5
    assert np.median(level[speaking]) > -1.0  # within 20 dB of the loudest frames
    quiet = loud(espeak_speech * 0.01)  # 40 dB down: the same relative level
    np.testing.assert_allclose(quiet[:, -1][speaking], level[speaking], atol=1e-3)


def test_voice_option_appends_the_offline_voice_columns(espeak_speech: np.ndarray) -> None:
    voice = get_extractor("offline-voice")
    both = get_extractor("offline-phonetic", transcript=SENTENCE, loudness=True, voice=True)
    assert both.dim == len(PHONES) + 1 + voice.dim
    feats = both(espeak_speech)
    check_features(both, espeak_speech, feats)
    np.testing.assert_array_equal(feats[:, len(PHONES) + 1 :], voice(espeak_speech))
    fingerprints = {
        get_extractor("offline-phonetic", transcript=SENTENCE, **options).fingerprint()
        for options in ({}, {"loudness": True}, {"voice": True}, {"loudness": True, "voice": True})
    }
    assert len(fingerprints) == 4


def test_occupancy_shares_a_frame_across_a_boundary() -> None:
    # A phone from 0 to 30 ms then another: frame 0 ([0, 25) ms) is all the first, frame 1
    # ([20, 45) ms) 40/60, frame 2 ([40, 65) ms) all the second; after 70 ms silence.
    segs = [PhoneSegment("M", 0.0, 0.030), PhoneSegment("AA", 0.030, 0.070)]
    occ = frame_occupancy(segs, 4, PHONES, {p: p for p in PHONES})
    m, aa, sil = PHONES.index("M"), PHONES.index("AA"), PHONES.index(SILENCE)
    np.testing.assert_allclose(occ[0, [m, aa]], [1.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(occ[1, [m, aa]], [0.4, 0.6], atol=1e-6)
    np.testing.assert_allclose(occ[2, aa], 1.0, atol=1e-6)
    np.testing.assert_allclose(occ[3, [aa, sil]], [0.4, 0.6], atol=1e-6)


def test_deterministic_whatever_was_decoded_before(espeak_speech: np.ndarray) -> None:
    ex = get_extractor("offline-phonetic")
    first = ex(espeak_speech)
    ex(np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1)
    np.testing.assert_array_equal(ex(espeak_speech), first)
    np.testing.assert_array_equal(get_extractor("offline-phonetic")(espeak_speech), first)
    assert ex.fingerprint() == get_extractor("offline-phonetic").fingerprint()
    assert get_extractor("offline-phonetic", units="visemes").fingerprint() != ex.fingerprint()
    assert get_extractor("offline-phonetic", transcript="a").fingerprint() != ex.fingerprint()


def test_transcript_gives_its_phones_in_order(espeak_speech: np.ndarray) -> None:
    ex = get_extractor("offline-phonetic", transcript=SENTENCE)
    labels = ex(espeak_speech).argmax(axis=1)
    spoken = [PHONES[i] for i in _runs(labels) if PHONES[i] != SILENCE]
    # The CMU dictionary's pronunciations, word after word.
    expected = [
        "M",
        "AY",
        "M",
        "AH",
        "DH",
        "ER",
        "M",
        "EY",
        "D",
        "AH",
        "B",
        "L",
        "UW",
        "AH",
        "M",
        "B",
        "R",
        "EH",
        "L",
        "AH",
    ]
    assert spoken == expected
    # The phones sit where the speech is: silence in the padding.
    assert PHONES[labels[5]] == SILENCE and PHONES[labels[-5]] == SILENCE
    # Recognition without the transcript finds most of the same frames' mouth shapes.
    recognized = get_extractor("offline-phonetic")(espeak_speech).argmax(axis=1)
    vis = np.array([VISEME_OF_PHONE[p] for p in PHONES])
    assert np.mean(vis[recognized] == vis[labels]) > 0.6


def test_real_speech_recognition_mostly_matches_forced_alignment() -> None:
    """LibriVox: allphone recognition against forced alignment of the transcript, frame by
    frame (measured: 63% of frames' phones and 70% of their mouth-shape classes agree)."""
    sf = pytest.importorskip("soundfile")
    if not (LIBRIVOX / "transcription").is_file():
        pytest.skip("no LibriVox clips")
    recognizer = get_extractor("offline-phonetic")
    vis = np.array([VISEME_OF_PHONE[p] for p in PHONES])
    phone_agree, viseme_agree = [], []
    for line in (LIBRIVOX / "transcription").read_text().splitlines():
        text, clip = re.match(r"<s> (.*) </s> \((.*)\)", line).groups()
        wav, _ = sf.read(LIBRIVOX / f"{clip}.wav", dtype="float32")
        aligned = get_extractor("offline-phonetic", transcript=text)(wav).argmax(axis=1)
        recognized = recognizer(wav).argmax(axis=1)
        phone_agree.append(np.mean(aligned == recognized))
        viseme_agree.append(np.mean(vis[aligned] == vis[recognized]))
        # The aligned words come in the transcript's order.
        words = [w for w in text.split() if w != "a"]
        assert len(_runs(aligned)) > len(words)
    assert np.mean(phone_agree) > 0.5 and np.mean(viseme_agree) > 0.6


def _phone_error_rate(reference: list[str], hypothesis: list[str]) -> float:
    """Edit distance between phone strings over the reference's length."""
    row = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        prev, row[0] = row[0], i
        for j, hyp in enumerate(hypothesis, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ref != hyp))
    return row[-1] / len(reference)


def test_real_speech_phones_from_recognized_words_beat_allphone() -> None:
    """LibriVox: phone error rate against forced alignment of the transcript (silence left
    out), allphone decoding against recognized words aligned (measured: 0.47 and 0.14)."""
    sf = pytest.importorskip("soundfile")
    if not (LIBRIVOX / "transcription").is_file():
        pytest.skip("no LibriVox clips")
    recognizer = PhoneRecognizer()
    allphone, words = [], []
    for line in (LIBRIVOX / "transcription").read_text().splitlines():
        text, clip = re.match(r"<s> (.*) </s> \((.*)\)", line).groups()
        wav, _ = sf.read(LIBRIVOX / f"{clip}.wav", dtype="float32")
        spoken = [s.phone for s in recognizer.align(wav, text) if s.phone != SILENCE]
        for found, out in ((recognizer.recognize(wav), allphone),
                           (recognizer.recognize_aligned(wav), words)):  # fmt: skip
            out.append(_phone_error_rate(spoken, [s.phone for s in found if s.phone != SILENCE]))
    assert np.mean(words) < 0.25 and np.mean(words) < 0.6 * np.mean(allphone)


def test_word_recognizer_option(espeak_speech: np.ndarray) -> None:
    words = get_extractor("offline-phonetic", recognizer="words")
    allphone = get_extractor("offline-phonetic")
    default = get_extractor("offline-phonetic", recognizer="allphone")
    assert allphone.fingerprint() == default.fingerprint()  # the features cached before it
    assert words.fingerprint() != allphone.fingerprint()
    feats = words(espeak_speech)
    assert feats.shape == allphone(espeak_speech).shape
    np.testing.assert_allclose(feats.sum(axis=1), 1.0, atol=1e-5)
    # eSpeak's voice is heard as "my mother like a gorilla": the first words' phones, in order
    found = PhoneRecognizer().recognize_words(espeak_speech)
    assert found[:2] == ["my", "mother"]
    spoken = [PHONES[i] for i in _runs(feats.argmax(axis=1)) if PHONES[i] != SILENCE]
    assert spoken[:6] == ["M", "AY", "M", "AH", "DH", "ER"]
    # no words in silence: the allphone phones stand in
    silence = np.zeros(16000, np.float32)
    np.testing.assert_array_equal(words(silence), allphone(silence))
    assert PhoneRecognizer().recognize_words(silence) == []
    with pytest.raises(LsfError, match="recognizer must be one of allphone, words"):
        get_extractor("offline-phonetic", recognizer="neural")


def test_bad_input_is_a_clear_error(espeak_speech: np.ndarray) -> None:
    ex = get_extractor("offline-phonetic")
    with pytest.raises(LsfError, match="mono"):
        ex(np.zeros((2, 16000), np.float32))
    with pytest.raises(LsfError, match="NaN"):
        ex(np.full(16000, np.nan, np.float32))
    with pytest.raises(LsfError, match="units"):
        get_extractor("offline-phonetic", units="letters")
    with pytest.raises(LsfError, match="unknown option"):
        get_extractor("offline-phonetic", language="fr")
    with pytest.raises(LsfError, match="no words"):
        get_extractor("offline-phonetic", transcript=" ... ")
    with pytest.raises(LsfError, match="dictionary: zzxqv"):
        get_extractor("offline-phonetic", transcript="my zzxqv")(espeak_speech)
    with pytest.raises(LsfError, match="align"):
        PhoneRecognizer().align(np.zeros(32000, np.float32), SENTENCE)


def test_transcript_files_are_aligned_when_extracting(
    tmp_path: Path, espeak_speech: np.ndarray
) -> None:
    """With `transcripts`, the cache aligns the transcript beside an audio file (recognizes
    when there is none, or when it cannot be aligned); a bare waveform is recognized."""
    import soundfile as sf

    from lsf_animation.audio.cache import FeatureCache

    # Distinct audio per file: cache entries are keyed by the audio's bytes.
    variants = {name: espeak_speech[k:] for k, name in enumerate(("said", "none", "odd"))}
    for name, text in (("said", SENTENCE), ("none", None), ("odd", "my zzxqv")):
        sf.write(tmp_path / f"{name}.wav", variants[name], 16000, subtype="FLOAT")
        if text is not None:
            (tmp_path / f"{name}.txt").write_text(text + "\n")
    ex = get_extractor("offline-phonetic", transcripts=True)
    assert ex.fingerprint() != get_extractor("offline-phonetic").fingerprint()
    cache = FeatureCache(tmp_path / "cache")
    aligned = get_extractor("offline-phonetic", transcript=SENTENCE)(variants["said"])
    recognizer = get_extractor("offline-phonetic")
    assert not np.array_equal(aligned, recognizer(variants["said"]))
    np.testing.assert_array_equal(cache.get_or_compute(ex, tmp_path / "said.wav"), aligned)
    for name in ("none", "odd"):
        got = cache.get_or_compute(ex, tmp_path / f"{name}.wav")
        np.testing.assert_array_equal(got, recognizer(variants[name]))
    np.testing.assert_array_equal(ex(variants["said"]), recognizer(variants["said"]))


def test_a_window_reads_its_part_of_the_whole_utterances_alignment(
    espeak_speech: np.ndarray,
) -> None:
    """`animate --transcript` aligns the whole utterance once; each inference window then
    reads its own stretch of those phones, as if the whole utterance had been computed."""
    from lsf_animation.audio.phonetic import PhoneticExtractor

    ex = get_extractor("offline-phonetic")
    assert isinstance(ex, PhoneticExtractor)
    segments = ex.align_utterance(espeak_speech, SENTENCE)
    whole = get_extractor("offline-phonetic", transcript=SENTENCE)(espeak_speech)
    start_frame = 20  # a window starting 0.8 s in (25 fps frames; 640 samples each)
    piece = espeak_speech[start_frame * 640 : start_frame * 640 + 30 * 640 + 80]
    window = ex.reading(segments, start_frame / 25)(piece)
    np.testing.assert_allclose(window, whole[2 * start_frame : 2 * start_frame + 60], atol=1e-6)
    assert ex.reading(segments, 0.0).fingerprint() == ex.fingerprint()
    with pytest.raises(LsfError, match="missing from the US English pronouncing dictionary"):
        ex.align_utterance(espeak_speech, "my mother made a blue xqzzyv")
