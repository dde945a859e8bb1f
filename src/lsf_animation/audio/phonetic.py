"""The "offline-phonetic" extractor: which English phone is being spoken, at 50 Hz.

PocketSphinx (the `pocketsphinx` wheel, BSD, with its US English acoustic model, dictionary and
word and phone language models inside) finds the phones: when the transcript is known, by forced
alignment of its words' dictionary pronunciations, which gives the exact phones; otherwise by
recognition, either of the words (option `recognizer: words`: the word language model, then the
recognized words aligned like a transcript) or of the phones directly (`allphone`: a phone
bigram, no words; faster, and on LibriVox speech its phone strings are about half wrong against
a sixth from the words). Its acoustic model was trained on real recordings, so the phones it
finds on a real voice are far more stable than spectral features of a model trained on
synthetic speech. English only: the acoustic model, the phone set and the dictionary are US
English; other languages give phone strings of poor quality.

Each 50 Hz frame (HuBERT's grid: frame t covers samples [320 t, 320 t + 400)) holds, per unit,
the share of the frame's 25 ms window the unit occupies, so the row sums to 1 (a one-hot inside a
phone, two nonzero values across a boundary). Units are the 39 phones of the CMU dictionary plus
silence ("phones", 40 columns) or mouth-shape classes of them ("visemes", `VISEMES`). With
option `loudness`, one more column: the frame's level in dB under the utterance's loudest frames
(99th percentile), floored 60 dB down, over 20 (0 = loudest, -3 = silence). It tells how wide
a vowel opens and when the lips are shut (the closure of /P B M/ is silent), which phone
identities alone do not, and it does not depend on the recording's gain. With option `voice`,
the `offline-voice` columns follow (pitch, loudness, tilt, rate, voice quality): how the phones
are said, beside which ones.

PocketSphinx frames: frame i analyses samples [160 i, 160 i + 410) (10 ms hop, 25.6 ms window);
a phone spanning frames [s, e) is placed at [0.01 s + 7.8 ms, 0.01 e + 7.8 ms), the span of its
frames' centres widened by half a hop on each side.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lsf_animation.audio.features import (
    config_fingerprint,
    make_config,
    num_frames_50hz,
    register_extractor,
)
from lsf_animation.audio.offline_motion import frame_energy_db, frame_signal
from lsf_animation.audio.voice_cues import VoiceCueExtractor
from lsf_animation.constants import (
    FEATURE_HOP_SAMPLES,
    FEATURE_RATE_HZ,
    FEATURE_WINDOW_SAMPLES,
    SAMPLE_RATE,
)
from lsf_animation.errors import LsfError

if TYPE_CHECKING:
    from pocketsphinx import Decoder

ALGORITHM_VERSION = 1
"""Bump when the computation changes, so cached features are recomputed."""

SILENCE = "SIL"
PHONES = (
    SILENCE,
    "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH",
    "IH", "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH",
    "UW", "V", "W", "Y", "Z", "ZH",
)  # fmt: skip
"""The CMU dictionary's 39 phones (ARPAbet, no stress) and silence: the "phones" columns."""

VISEME_OF_PHONE: dict[str, str] = {
    SILENCE: "rest",
    **dict.fromkeys(("P", "B", "M"), "bilabial"),
    **dict.fromkeys(("F", "V"), "labiodental"),
    **dict.fromkeys(("TH", "DH"), "dental"),
    **dict.fromkeys(("T", "D", "N", "L"), "alveolar"),
    **dict.fromkeys(("S", "Z"), "sibilant"),
    **dict.fromkeys(("SH", "ZH", "CH", "JH"), "postalveolar"),
    **dict.fromkeys(("K", "G", "NG", "HH"), "velar"),
    "R": "r",
    "W": "w",
    "Y": "j",
    **dict.fromkeys(("AA", "AE", "AH", "AO", "AW", "AY"), "open"),
    **dict.fromkeys(("EH", "EY", "ER"), "mid"),
    **dict.fromkeys(("IY", "IH"), "close_front"),
    **dict.fromkeys(("OW", "OY"), "rounded_mid"),
    **dict.fromkeys(("UW", "UH"), "rounded_close"),
}
"""Each phone's mouth-shape class (the classes of the synthetic corpus's visemes)."""

VISEMES = tuple(dict.fromkeys(VISEME_OF_PHONE.values()))
"""The "visemes" columns, in order."""

_ALIGN_SETTINGS: tuple[dict[str, object], ...] = (
    {},
    {"bestpath": False},
    {"bestpath": False, "fsgusefiller": False, "beam": 1e-80, "pbeam": 1e-80, "wbeam": 1e-60},
)
"""Decoder settings forced alignment tries in turn: the word pass sometimes ends off the
transcript's grammar, and then the phone pass cannot start. Measured on 40 synthetic (eSpeak)
clips: 80% aligned with PocketSphinx's defaults, 95% without best-path rescoring, 97.5% with
the three in turn; all five LibriVox clips align with the defaults."""
_PS_HOP_S = 0.010
_PS_OFFSET_S = (410 / 2 - 160 / 2) / SAMPLE_RATE  # frame centre minus half a hop: 7.8 ms


@dataclass(frozen=True)
class PhoneSegment:
    """One phone (a `PHONES` name) from `start_s` to `end_s`, seconds from the audio's start."""

    phone: str
    start_s: float
    end_s: float

    @property
    def centre_s(self) -> float:
        return 0.5 * (self.start_s + self.end_s)


RECOGNIZERS = ("allphone", "words")


@dataclass(frozen=True)
class PhoneticConfig:
    """Settings of the phonetic features (all are part of the fingerprint).

    Attributes:
        units: "phones" (40 columns) or "visemes" (mouth-shape classes, `VISEMES`).
        transcript: the words spoken, for forced alignment (exact phones); None = recognition.
        transcripts: when features are computed for an audio file (`extract`, the feature
            cache), align the words of its transcript file (`transcript_file`) when there is one;
            a bare waveform is still recognized. For training on corpora whose text is known
            (`lsf-animation synth` writes them). Cache entries are keyed by the audio's bytes,
            so a changed transcript file needs its entry removed.
        language_weight: weight of the phone bigram in recognition (PocketSphinx `lw`); 2 agrees
            best with forced alignment on LibriVox (64% of frames, against 60% at the default
            6.5).
        beam: pruning beam of allphone recognition (`beam` and `pbeam`).
        recognizer: how phones are recognized without a transcript: "allphone" (phone decoding)
            or "words" (word decoding, then the words aligned; falls back to allphone where no
            words are found or they cannot be aligned).
        loudness: append the level column (module docstring).
        voice: append the `offline-voice` columns (its default settings).
    """

    units: str = "phones"
    transcript: str | None = None
    transcripts: bool = False
    language_weight: float = 2.0
    beam: float = 1e-20
    recognizer: str = "allphone"
    loudness: bool = False
    voice: bool = False


def _model_dir() -> Path:
    try:
        import pocketsphinx
    except ImportError as err:  # pragma: no cover - a declared dependency
        raise LsfError(
            "the offline-phonetic feature needs the `pocketsphinx` package: "
            "pip install pocketsphinx"
        ) from err
    return Path(pocketsphinx.__file__).parent / "model" / "en-us"


def _check_wav(wav: np.ndarray) -> np.ndarray:
    wav = np.asarray(wav, dtype=np.float32)
    if wav.ndim != 1:
        raise LsfError(f"speech must be a mono (N,) waveform at 16 kHz, got shape {wav.shape}")
    if not np.isfinite(wav).all():
        raise LsfError("the speech contains NaN or inf samples; give finite audio")
    return wav


DITHER = 3e-4
"""Standard deviation of the fixed noise added before decoding (about -70 dB re full scale):
PocketSphinx's front end mistakes digital silence (exact zeros, as in synthetic speech padded
with silence) for speech-free input and then loses most phones (measured on eSpeak speech: 5 of
20 phones found without it, 18 of 20 with it)."""


def _pcm16(wav: np.ndarray) -> bytes:
    """16-bit PCM of `wav` plus the same low noise every time (`DITHER`)."""
    noise = np.random.default_rng(0).standard_normal(len(wav)) * DITHER
    return (np.clip(wav + noise, -1.0, 1.0) * 32767.0).astype(np.int16).tobytes()


def _phone_name(name: str) -> str:
    """PocketSphinx's phone or filler name -> a `PHONES` name (fillers and noise are silence)."""
    return name if name in PHONES else SILENCE


def _segment(name: str, start_frame: int, num_frames: int) -> PhoneSegment:
    start = start_frame * _PS_HOP_S + _PS_OFFSET_S
    return PhoneSegment(_phone_name(name), start, start + num_frames * _PS_HOP_S)


TRANSCRIPT_SUFFIX = ".txt"


def transcript_file(audio_path: Path) -> Path:
    """Where the transcript of an audio file lives: beside it, same stem, `.txt` (UTF-8 words;
    e.g. `001.wav` -> `001.txt`)."""
    return Path(audio_path).with_suffix(TRANSCRIPT_SUFFIX)


def transcript_words(text: str) -> list[str]:
    """Lower-case words of a transcript: letters, digits and inner apostrophes; punctuation and
    sentence markers (<s>, </s>) dropped."""
    text = re.sub(r"</?s>", " ", text.lower())
    return [w.strip("'") for w in re.findall(r"[a-z0-9']+", text) if w.strip("'")]


class PhoneRecognizer:
    """PocketSphinx decoders for forced alignment and allphone recognition (built on first use;
    one instance per thread: a decoder is not thread-safe). They log only fatal errors: a failed
    alignment attempt is expected (the next settings are tried) and surfaces as an LsfError."""

    def __init__(self, language_weight: float = 2.0, beam: float = 1e-20) -> None:
        self.language_weight = language_weight
        self.beam = beam
        self._aligners: list[Decoder] = []
        self._allphone: Decoder | None = None
        self._words: Decoder | None = None

    def __getstate__(self) -> dict[str, object]:  # decoders are rebuilt in another process
        return {**self.__dict__, "_aligners": [], "_allphone": None, "_words": None}

    def _decode(self, decoder: Decoder, wav: np.ndarray) -> None:
        # The front end keeps state (noise estimate) from one utterance to the next: reset it,
        # so the phones of a clip do not depend on the clips decoded before it.
        decoder.reinit_feat()
        decoder.start_utt()
        decoder.process_raw(_pcm16(wav), full_utt=True)
        decoder.end_utt()

    def recognize(self, wav: np.ndarray) -> list[PhoneSegment]:
        """Phones of (N,) float32 16 kHz speech by allphone decoding, in time order."""
        from pocketsphinx import Decoder

        wav = _check_wav(wav)
        if self._allphone is None:
            model = _model_dir()
            self._allphone = Decoder(
                loglevel="FATAL",
                allphone=str(model / "en-us-phone.lm.bin"),
                lw=self.language_weight,
                beam=self.beam,
                pbeam=self.beam,
            )
        if len(wav) < FEATURE_WINDOW_SAMPLES:
            return []
        self._decode(self._allphone, wav)
        return [
            _segment(s.word, s.start_frame, s.end_frame + 1 - s.start_frame)
            for s in self._allphone.seg() or ()  # None when nothing was decoded
        ]

    def recognize_words(self, wav: np.ndarray) -> list[str]:
        """Words of (N,) float32 16 kHz speech by decoding with PocketSphinx's US English word
        language model and dictionary (fillers and noise left out)."""
        from pocketsphinx import Decoder

        wav = _check_wav(wav)
        if len(wav) < FEATURE_WINDOW_SAMPLES:
            return []
        if self._words is None:
            # PocketSphinx's default search. Its speed limits (maxhmmpf 3000, maxwpf 10) decoded
            # 1.4x faster and gave the same phones on the LibriVox clips, but heard eSpeak's
            # voices worse (phone error 0.512 against 0.491 on 40 test-speaker clips), and the
            # demo model's emotions on them came through less (happy - sad corners 0.33
            # against 0.41); without the second (fwdflat) pass as well, "my mother" became
            # "modern".
            model = _model_dir()
            self._words = Decoder(
                loglevel="FATAL",
                hmm=str(model / "en-us"),
                lm=str(model / "en-us.lm.bin"),
                dict=str(model / "cmudict-en-us.dict"),
            )
        self._decode(self._words, wav)
        hyp = self._words.hyp()
        if hyp is None:
            return []
        # fillers (<sil>, [NOISE]) and alternate-pronunciation marks (the(2)) are not words
        return transcript_words(re.sub(r"<[^>]*>|\[[^]]*\]|\(\d+\)", " ", hyp.hypstr))

    def recognize_aligned(self, wav: np.ndarray) -> list[PhoneSegment]:
        """Phones of (N,) float32 16 kHz speech: its recognized words (`recognize_words`)
        aligned like a transcript; allphone recognition where no words are found or they cannot
        be aligned (`align` refuses speech too short to align, too)."""
        words = self.recognize_words(wav)
        if words:
            try:
                return self.align(wav, " ".join(words))
            except LsfError:
                pass
        return self.recognize(wav)

    def align(self, wav: np.ndarray, transcript: str) -> list[PhoneSegment]:
        """Phones of (N,) float32 16 kHz speech saying `transcript`, by forced alignment.

        Raises:
            LsfError: an empty transcript, words missing from the pronouncing dictionary, or
                speech the transcript cannot be aligned to.
        """
        from pocketsphinx import Decoder

        wav = _check_wav(wav)
        words = transcript_words(transcript)
        if not words:
            raise LsfError("the transcript has no words; give the text that is spoken")
        if not self._aligners:
            self._aligners = [Decoder(loglevel="FATAL", **_ALIGN_SETTINGS[0])]
        unknown = sorted({w for w in words if self._aligners[0].lookup_word(w) is None})
        if unknown:
            raise LsfError(
                f"the transcript has words missing from the US English pronouncing dictionary: "
                f"{', '.join(unknown[:10])}; spell them as they sound with dictionary words, or "
                "leave out the transcript"
            )
        if len(wav) < 10 * FEATURE_WINDOW_SAMPLES:
            raise LsfError("the speech is too short to align a transcript to (under 0.25 s)")
        alignment, error = None, "no path through the transcript"
        for level, settings in enumerate(_ALIGN_SETTINGS):
            if level == len(self._aligners):  # the fallbacks are built when first needed
                self._aligners.append(Decoder(loglevel="FATAL", **settings))
            dec = self._aligners[level]
            try:
                dec.set_align_text(" ".join(words))
                self._decode(dec, wav)
                dec.set_alignment()
                self._decode(dec, wav)
                alignment = dec.get_alignment()
            except RuntimeError as err:
                error = str(err)
            if alignment is not None:
                break
        if alignment is None:
            raise LsfError(
                f"could not align the transcript to the speech ({error}); check that the "
                "transcript is what is said"
            )
        return [_segment(p.name, p.start, p.duration) for word in alignment for p in word]


def frame_occupancy(
    segments: list[PhoneSegment], num_frames: int, units: tuple[str, ...], unit_of: dict[str, str]
) -> np.ndarray:
    """(num_frames, len(units)) float32: per 50 Hz frame, the share of its 25 ms window each unit
    occupies; time no segment covers counts as `unit_of[SILENCE]`. Rows sum to 1."""
    out = np.zeros((num_frames, len(units)), np.float64)
    if num_frames == 0:
        return out.astype(np.float32)
    column = {u: i for i, u in enumerate(units)}
    window_s = FEATURE_WINDOW_SAMPLES / SAMPLE_RATE
    hop_s = FEATURE_HOP_SAMPLES / SAMPLE_RATE
    starts = np.arange(num_frames) * hop_s
    for seg in segments:
        first = max(0, int(np.floor((seg.start_s - window_s) / hop_s)))
        last = min(num_frames, int(np.ceil(seg.end_s / hop_s)) + 1)
        if first >= last:
            continue
        s = starts[first:last]
        overlap = np.clip(np.minimum(seg.end_s, s + window_s) - np.maximum(seg.start_s, s), 0, None)
        out[first:last, column[unit_of[seg.phone]]] += overlap / window_s
    covered = out.sum(axis=1)
    out[:, column[unit_of[SILENCE]]] += np.clip(1.0 - covered, 0.0, None)
    out /= np.maximum(out.sum(axis=1, keepdims=True), 1e-9)
    return out.astype(np.float32)


class PhoneticExtractor:
    """Phones (or viseme classes) at 50 Hz from PocketSphinx; see the module docstring.

    Output: (num_frames_50hz(N), 40) for units "phones", (.., len(VISEMES)) for "visemes",
    then the level column with option `loudness` and the `offline-voice` columns with `voice`.
    """

    name = "offline-phonetic"
    rate_hz = float(FEATURE_RATE_HZ)

    def __init__(self, **options: object) -> None:
        self.config = make_config(PhoneticConfig, self.name, options)
        c = self.config
        self.units: tuple[str, ...]
        if c.units == "phones":
            self.units, self._unit_of = PHONES, {p: p for p in PHONES}
        elif c.units == "visemes":
            self.units, self._unit_of = VISEMES, VISEME_OF_PHONE
        else:
            raise LsfError(
                f"offline-phonetic units must be 'phones' or 'visemes', got {c.units!r}"
            )
        if c.recognizer not in RECOGNIZERS:
            raise LsfError(
                f"offline-phonetic recognizer must be one of {', '.join(RECOGNIZERS)}, got "
                f"{c.recognizer!r}"
            )
        if c.transcript is not None and not transcript_words(c.transcript):
            raise LsfError("the transcript has no words; give the text that is spoken")
        if not c.language_weight > 0 or not 0 < c.beam < 1:
            raise LsfError(
                "offline-phonetic needs language_weight > 0 and 0 < beam < 1, got "
                f"{c.language_weight} and {c.beam}"
            )
        self.voice = VoiceCueExtractor() if c.voice else None
        self.dim = len(self.units) + int(c.loudness) + (self.voice.dim if self.voice else 0)
        self.recognizer = PhoneRecognizer(c.language_weight, c.beam)
        self._given: list[PhoneSegment] | None = None
        self.recognize_if_unaligned = False
        """Fall back to recognition when the transcript cannot be aligned (words missing from
        the dictionary, no path): set for corpus transcript files (`for_file`), where one odd
        clip must not stop the extraction; a transcript given by the user fails loudly."""

    def fingerprint(self) -> str:
        """Hash of the extractor name, config and PocketSphinx's version (its model files)."""
        from importlib.metadata import version

        config = asdict(self.config)
        for option, default in (("loudness", False), ("voice", False), ("recognizer", "allphone")):
            if config[option] == default:
                del config[option]  # options added later: features without them keep their hash
        if self.voice is not None:
            config["voice"] = self.voice.fingerprint()
        return config_fingerprint(
            {
                "name": self.name,
                "version": ALGORITHM_VERSION,
                "pocketsphinx": version("pocketsphinx"),
                **config,
            }
        )

    def for_file(self, audio_path: Path) -> PhoneticExtractor:
        """The extractor to use on this audio file: with option `transcripts`, one aligning the
        words of its transcript file when it exists; otherwise this one."""
        path = transcript_file(audio_path)
        if not self.config.transcripts or self.config.transcript is not None or not path.is_file():
            return self
        options = {**asdict(self.config), "transcript": path.read_text(encoding="utf-8")}
        aligned = PhoneticExtractor(**options)
        aligned.recognizer = self.recognizer  # its decoders load once (about 0.4 s each)
        aligned.recognize_if_unaligned = True
        return aligned

    def align_utterance(self, wav: np.ndarray, transcript: str) -> list[PhoneSegment]:
        """The phones of a whole utterance, (N,) float32 16 kHz, by forced alignment of the
        words it says (LsfError when they cannot be aligned)."""
        return self.recognizer.align(wav, transcript)

    def reading(self, segments: Sequence[PhoneSegment], offset_s: float) -> PhoneticExtractor:
        """This extractor computing its features from the given phones (an utterance aligned
        as a whole, `align_utterance`) instead of finding them: for the window of that
        utterance that starts `offset_s` seconds in. Same features, same fingerprint."""
        reader = copy.copy(self)
        reader._given = [
            PhoneSegment(s.phone, s.start_s - offset_s, s.end_s - offset_s) for s in segments
        ]
        return reader

    def recognizing(self, recognizer: str) -> PhoneticExtractor:
        """This extractor recognizing phones with `recognizer` (`RECOGNIZERS`) where no
        transcript gives them, its decoders shared: at inference, speed against accuracy.
        Features of the other recognizer estimate the same phones."""
        other = PhoneticExtractor(**{**asdict(self.config), "recognizer": recognizer})
        other.recognizer = self.recognizer
        return other

    def phones(self, wav: np.ndarray) -> list[PhoneSegment]:
        """The phone segments the features are made from (given, aligned or recognized)."""
        if self._given is not None:
            return self._given
        if self.config.transcript is not None:
            try:
                return self.recognizer.align(wav, self.config.transcript)
            except LsfError:
                if not self.recognize_if_unaligned:
                    raise
        if self.config.recognizer == "words":
            return self.recognizer.recognize_aligned(wav)
        return self.recognizer.recognize(wav)

    def __call__(self, wav: np.ndarray) -> np.ndarray:
        """(N,) float32 16 kHz -> (num_frames_50hz(N), dim) float32: the units' shares
        (summing to 1), then the optional columns."""
        wav = _check_wav(wav)
        n = num_frames_50hz(len(wav))
        if n == 0:
            return np.zeros((0, self.dim), np.float32)
        parts = [frame_occupancy(self.phones(wav), n, self.units, self._unit_of)]
        if self.config.loudness:
            parts.append(relative_level(wav)[:, None])
        if self.voice is not None:
            parts.append(self.voice(wav))
        return np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]


def relative_level(wav: np.ndarray, floor_db: float = 60.0) -> np.ndarray:
    """(N,) float32 16 kHz -> (num_frames_50hz(N),) float32: each 25 ms frame's level in dB
    under the utterance's 99th-percentile frame, floored at `floor_db` down, over 20."""
    frames = frame_signal(wav)
    if len(frames) == 0:
        return np.zeros(0, np.float32)
    level_db = frame_energy_db(frames)
    level_db -= float(np.percentile(level_db, 99))
    return (np.clip(level_db, -floor_db, 0.0) / 20.0).astype(np.float32)


register_extractor("offline-phonetic", PhoneticExtractor)
