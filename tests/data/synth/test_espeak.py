"""The eSpeak NG binding: speech with phoneme timing, and the voice parameters take effect."""

from __future__ import annotations

import numpy as np
import pytest

from lsf_animation.data.synth.espeak import VoiceSettings, get_synthesizer
from lsf_animation.errors import LsfError


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))


def test_speech_has_ordered_phoneme_events_inside_the_audio() -> None:
    utterance = get_synthesizer().synthesize("Mama bought a map.", VoiceSettings("en-us+m3"))
    duration = len(utterance.audio) / utterance.sample_rate
    starts = [p.start for p in utterance.phonemes]
    names = [p.name for p in utterance.phonemes]
    assert utterance.sample_rate == 22050
    assert 0.5 < duration < 3.0
    assert starts == sorted(starts) and starts[0] >= 0 and starts[-1] <= duration + 1e-3
    assert names.count("m") >= 3 and "p" in names and "b" in names
    assert _rms(utterance.audio) > 0.01


def test_voice_parameters_change_the_sound() -> None:
    synth = get_synthesizer()
    text = "The harbour is calm in the morning."
    base = synth.synthesize(text, VoiceSettings("en-us+f2", rate=170, volume=100))
    loud = synth.synthesize(text, VoiceSettings("en-us+f2", rate=170, volume=180))
    slow = synth.synthesize(text, VoiceSettings("en-us+f2", rate=110, volume=100))
    assert _rms(loud.audio) > 1.4 * _rms(base.audio)
    assert len(slow.audio) > 1.3 * len(base.audio)
    again = synth.synthesize(text, VoiceSettings("en-us+f2", rate=170, volume=100))
    assert np.array_equal(again.audio, base.audio)  # deterministic


def test_unknown_voice_is_a_user_error() -> None:
    with pytest.raises(LsfError, match="no voice"):
        get_synthesizer().synthesize("hello", VoiceSettings("xx-nonsense"))
