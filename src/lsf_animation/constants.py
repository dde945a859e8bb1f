"""The numbers of the domain, declared once and imported everywhere.

Audio enters at 16 kHz mono. Speech features run at 50 Hz on HuBERT's frame grid (a 400-sample,
25 ms window every 320 samples, 20 ms); motion runs at 25 fps, so one motion frame is two feature
frames and 640 audio samples. A motion frame is 50 FLAME expression coefficients followed by the
jaw's axis-angle rotation (3 values, radians); a face's identity is 300 FLAME shape coefficients.
"""

from __future__ import annotations

SAMPLE_RATE = 16000
"""Hz: every waveform after loading (`audio.load`) and every extractor's input."""

FPS = 25
"""Motion frames per second (3DMEAD's rate, the model's output rate)."""

FEATURE_RATE_HZ = 50
"""Speech-feature frames per second (HuBERT's and emotion2vec's rate)."""

FEATURE_WINDOW_SAMPLES = 400
"""Samples one 50 Hz feature frame sees (25 ms), as HuBERT's convolutional stack."""

FEATURE_HOP_SAMPLES = SAMPLE_RATE // FEATURE_RATE_HZ
"""Samples between 50 Hz feature frames (320, 20 ms)."""

SAMPLES_PER_FRAME = SAMPLE_RATE // FPS
"""Audio samples per 25 fps motion frame (640, 40 ms)."""

FEATURES_PER_FRAME = FEATURE_RATE_HZ // FPS
"""50 Hz feature frames joined into one motion frame (2)."""

NUM_EXPRESSION = 50
"""FLAME expression coefficients per motion frame (of FLAME's 100)."""

JAW_DIM = 3
"""Jaw rotation per motion frame: axis-angle, radians."""

MOTION_DIM = NUM_EXPRESSION + JAW_DIM
"""Values per motion frame (53)."""

NUM_SHAPE = 300
"""FLAME shape (identity) coefficients of a face."""

FACE_NUM_EXPRESSION = 100
"""Expression directions of a FLAME-format face model (FLAME 2020/2023 and the built-in face);
the motion drives the first `NUM_EXPRESSION` of them, the rest stay zero."""

MAX_SAMPLES = 100
"""Most motion samples one input is animated with (memory grows with K: the model samples the K
in one batch, and the motion is K x T x 53 float32)."""

MAX_SEED = 2**63 - 1
"""Largest sampling seed (torch's generators take 64-bit seeds); seeds are 0 to MAX_SEED."""

MAX_TRAIN_SEED = 2**32 - 1
"""Largest training seed (numpy's legacy global generator, which training seeds, takes 32 bits)."""
