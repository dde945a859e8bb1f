"""A small ctypes binding to libespeak-ng (from the `espeakng-loader` wheel): speech with timing.

Only the parts of the C API (speak_lib.h, API revision 12) the corpus generator needs:
synchronous synthesis into memory with phoneme events, voice selection by name (with a `+variant`
suffix) and the rate / pitch / range / volume parameters.

The library keeps global state and is not thread-safe, so there is one synthesizer per process
(`get_synthesizer()`); process pools give each worker its own. Each utterance is synthesized in
a forked child (see `Synthesizer.synthesize`) so that it never depends on the ones before.
"""

from __future__ import annotations

import ctypes
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lsf_animation.errors import LsfError

# espeak_AUDIO_OUTPUT
AUDIO_OUTPUT_SYNCHRONOUS = 2
# espeak_Initialize options
INITIALIZE_PHONEME_EVENTS = 0x0001
# espeak_EVENT_TYPE
EVENT_LIST_TERMINATED = 0
EVENT_WORD = 1
EVENT_SENTENCE = 2
EVENT_END = 5
EVENT_MSG_TERMINATED = 6
EVENT_PHONEME = 7
# espeak_Synth flags
CHARS_UTF8 = 1
ENDPAUSE = 0x1000
# espeak_POSITION_TYPE
POS_CHARACTER = 1
# espeak_PARAMETER
PARAM_RATE = 1
PARAM_VOLUME = 2
PARAM_PITCH = 3
PARAM_RANGE = 4
EE_OK = 0


class _EventId(ctypes.Union):
    _fields_ = (
        ("number", ctypes.c_int),
        ("name", ctypes.c_char_p),
        ("string", ctypes.c_char * 8),
    )


class _Event(ctypes.Structure):
    """espeak_EVENT."""

    _fields_ = (
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),  # ms from the start of the synthesized audio
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    )


_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass(frozen=True)
class VoiceSettings:
    """One voice: `name` like "en-us+m3"; rate in words/min (80..450); pitch and range 0..100;
    volume 0..200 (100 = normal)."""

    name: str = "en-us"
    rate: int = 175
    pitch: int = 50
    range: int = 50
    volume: int = 100


@dataclass(frozen=True)
class Phoneme:
    """A phoneme event: eSpeak's mnemonic (e.g. "a", "aI", "p", "_:" for a pause) and its start
    in seconds from the start of the audio."""

    name: str
    start: float


@dataclass(frozen=True)
class Utterance:
    """Synthesized speech.

    Attributes:
        audio: (N,) float32 in [-1, 1] at `sample_rate`.
        sample_rate: Hz (22050 for eSpeak NG).
        phonemes: phoneme events in time order.
    """

    audio: np.ndarray
    sample_rate: int
    phonemes: tuple[Phoneme, ...]


class Synthesizer:
    """The process's eSpeak NG instance. Use `get_synthesizer()`, not this constructor."""

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError as err:  # pragma: no cover - a declared dependency
            raise LsfError(
                "the synthetic corpus needs the `espeakng-loader` package: pip install "
                "espeakng-loader"
            ) from err
        self._lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib = self._lib
        lib.espeak_Initialize.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int)
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = (_CALLBACK,)
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = (ctypes.c_char_p,)
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int)
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = (
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.POINTER(ctypes.c_uint),
            ctypes.c_void_p,
        )
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synchronize.restype = ctypes.c_int
        lib.espeak_ng_SetRandSeed.argtypes = (ctypes.c_long,)
        lib.espeak_ng_SetRandSeed.restype = ctypes.c_int
        self._libc = ctypes.CDLL(None)  # the process's libc, whose rand() the library also uses
        # The data folder's parent is the `path` argument.
        data_parent = str(Path(espeakng_loader.get_data_path()).parent)
        rate = lib.espeak_Initialize(
            AUDIO_OUTPUT_SYNCHRONOUS, 0, data_parent.encode(), INITIALIZE_PHONEME_EVENTS
        )
        if rate <= 0:
            raise LsfError(f"eSpeak NG failed to initialize with data under {data_parent}")
        self.sample_rate = int(rate)
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[str, int]] = []
        self._callback = _CALLBACK(self._on_audio)  # kept alive: the library holds the pointer
        lib.espeak_SetSynthCallback(self._callback)

    def _on_audio(self, wav, num_samples: int, events) -> int:
        if wav and num_samples > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(num_samples,)).copy())
        i = 0
        while events[i].type != EVENT_LIST_TERMINATED:
            event = events[i]
            if event.type == EVENT_PHONEME:
                name = bytes(event.id.string).split(b"\0", 1)[0].decode("utf-8", "replace")
                self._events.append((name, int(event.audio_position)))
            i += 1
        return 0

    def synthesize(self, text: str, voice: VoiceSettings) -> Utterance:
        """Speak `text` (UTF-8, plain text) with `voice`; returns the audio and phoneme timing.

        The same text and voice give the same samples every time. The library keeps signal
        state from one utterance to the next (and reseeding its noise generators does not clear
        it), so each utterance is synthesized in a forked child of this process, whose library
        state is the one right after initialization.
        """
        if not hasattr(os, "fork"):  # pragma: no cover - Linux and macOS have fork
            return self._synthesize_here(text, voice)
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: synthesize, send back, exit without cleanup
            status = 1
            try:
                os.close(read_fd)
                try:
                    payload = pickle.dumps(self._synthesize_here(text, voice))
                except LsfError as err:
                    payload = pickle.dumps(err)
                with os.fdopen(write_fd, "wb") as pipe:
                    pipe.write(payload)
                status = 0
            finally:
                os._exit(status)
        os.close(write_fd)
        with os.fdopen(read_fd, "rb") as pipe:
            payload = pipe.read()
        _, status = os.waitpid(pid, 0)
        if status != 0 or not payload:
            raise LsfError(f"eSpeak NG crashed while synthesizing {text!r} with {voice}")
        result = pickle.loads(payload)
        if isinstance(result, LsfError):
            raise result
        return result

    def _synthesize_here(self, text: str, voice: VoiceSettings) -> Utterance:
        lib = self._lib
        if lib.espeak_SetVoiceByName(voice.name.encode()) != EE_OK:
            raise LsfError(f"eSpeak NG has no voice {voice.name!r}")
        for param, value in (
            (PARAM_RATE, voice.rate),
            (PARAM_PITCH, voice.pitch),
            (PARAM_RANGE, voice.range),
            (PARAM_VOLUME, voice.volume),
        ):
            lib.espeak_SetParameter(param, int(value), 0)
        self._chunks, self._events = [], []
        lib.espeak_ng_SetRandSeed(1)  # breath noise: its own generator and libc's rand()
        self._libc.srand(1)
        data = text.encode("utf-8") + b"\0"
        status = lib.espeak_Synth(data, len(data), 0, POS_CHARACTER, 0, CHARS_UTF8, None, None)
        if status != EE_OK:
            raise LsfError(f"eSpeak NG failed to synthesize {text!r} (error {status})")
        lib.espeak_Synchronize()
        pcm = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        audio = pcm.astype(np.float32) / 32768.0
        phonemes = tuple(Phoneme(name, ms / 1000.0) for name, ms in self._events)
        return Utterance(audio, self.sample_rate, phonemes)


_SYNTHESIZER: Synthesizer | None = None


def get_synthesizer() -> Synthesizer:
    """The process-wide synthesizer (created on first use)."""
    global _SYNTHESIZER
    if _SYNTHESIZER is None:
        _SYNTHESIZER = Synthesizer()
    return _SYNTHESIZER
