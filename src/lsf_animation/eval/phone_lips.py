"""Phone-level lip-sync measures: does the mouth make each phone's shape, on time?

For speech with no captured motion, the phones (from forced alignment of the transcript) say
what the lips must do at each moment. The mouth is read at each phone's centre frame:

- bilabials /P B M/ must close the lips: the share of them whose relative aperture (0 = the
  clip's most closed frame, 1 = its most open) is under 0.2;
- rounded /UW OW W/ against spread /IY EH IH/: the mean mouth width at the former over the mean
  at the latter (1 = no rounding; rounding lips narrow the mouth);
- open vowels /AA AE AH AO AW AY/ must open it: their median relative aperture;
- timing: the lag (ms; > 0 = the mouth moves after the sound) at which the aperture correlates
  best with the speech envelope, refined between frames by a parabola through the correlations
  at the best frame lag and its neighbours; and the correlation at lag 0 (which alone cannot
  tell lip-sync from following loudness).

Pure functions on per-frame arrays (aperture and width from `face.measure`, the envelope from
`eval.lipsync`) and phone segments (`audio.phonetic.PhoneSegment`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lsf_animation.audio.phonetic import PhoneSegment

BILABIALS = ("P", "B", "M")
ROUNDED = ("UW", "OW", "W")
SPREAD = ("IY", "EH", "IH")
OPEN_VOWELS = ("AA", "AE", "AH", "AO", "AW", "AY")
CLOSED_BELOW = 0.2
"""A bilabial counts as closed under this relative aperture."""
MAX_LAG_FRAMES = 3


def relative_aperture(aperture: np.ndarray) -> np.ndarray:
    """(T,) aperture scaled to the clip's own range: 0 at its most closed frame, 1 at its most
    open (all zeros when it never moves)."""
    a = np.asarray(aperture, np.float64)
    span = float(a.max() - a.min()) if len(a) else 0.0
    return (a - a.min()) / span if span > 0 else np.zeros_like(a)


def centre_frames(segments: Sequence[PhoneSegment], num_frames: int, fps: float) -> np.ndarray:
    """(len(segments),) int: the frame holding each segment's centre (frame f covers
    [f / fps, (f + 1) / fps) s), clipped to the clip."""
    centres = np.array([s.centre_s for s in segments], np.float64)
    return np.clip(np.floor(centres * fps).astype(np.int64), 0, max(num_frames - 1, 0))


@dataclass(frozen=True)
class PhoneLipSync:
    """The lip measures of one clip (or several pooled), kept as per-phone values.

    Attributes:
        bilabial_apertures: relative aperture at each /P B M/ centre.
        rounded_widths, spread_widths: mouth width (m) at each /UW OW W/ and /IY EH IH/ centre.
        open_apertures: relative aperture at each open-vowel centre.
        lags_ms: refined best lag of each clip (ms, > 0 = mouth late).
        frame_lags: best whole-frame lag of each clip.
        envelope_r: Pearson r of aperture and envelope at lag 0, per clip.
    """

    bilabial_apertures: np.ndarray
    rounded_widths: np.ndarray
    spread_widths: np.ndarray
    open_apertures: np.ndarray
    lags_ms: np.ndarray
    frame_lags: np.ndarray
    envelope_r: np.ndarray

    @property
    def bilabials_closed(self) -> float:
        """Share of bilabials with relative aperture < 0.2 (nan without bilabials)."""
        a = self.bilabial_apertures
        return float(np.mean(a < CLOSED_BELOW)) if len(a) else float("nan")

    @property
    def rounding_ratio(self) -> float:
        """Mean width at rounded phones / mean width at spread ones (nan if either is absent)."""
        if not len(self.rounded_widths) or not len(self.spread_widths):
            return float("nan")
        return float(self.rounded_widths.mean() / self.spread_widths.mean())

    @property
    def open_vowel_median(self) -> float:
        return float(np.median(self.open_apertures)) if len(self.open_apertures) else float("nan")

    @property
    def lag_ms(self) -> float:
        """Median over clips of the refined best lag (ms)."""
        return float(np.median(self.lags_ms)) if len(self.lags_ms) else float("nan")

    @property
    def mean_envelope_r(self) -> float:
        return float(np.mean(self.envelope_r)) if len(self.envelope_r) else float("nan")


def refined_lag(aperture: np.ndarray, envelope: np.ndarray) -> tuple[int, float]:
    """(best whole-frame lag within +-MAX_LAG_FRAMES, the lag refined by a parabola through the
    correlations at it and its two neighbours, in frames)."""
    lags = range(-MAX_LAG_FRAMES - 1, MAX_LAG_FRAMES + 2)
    r = {lag: _r_at(aperture, envelope, lag) for lag in lags}
    inner = range(-MAX_LAG_FRAMES, MAX_LAG_FRAMES + 1)
    best = max(inner, key=lambda lag: r[lag])
    a, b, c = r[best - 1], r[best], r[best + 1]
    denom = a - 2 * b + c
    shift = 0.5 * (a - c) / denom if denom < 0 else 0.0
    return best, best + float(np.clip(shift, -0.5, 0.5))


def _r_at(motion: np.ndarray, envelope: np.ndarray, lag: int) -> float:
    """Pearson r of motion[t + lag] and envelope[t] (0 when either is constant)."""
    if lag >= 0:
        a, b = motion[lag:], envelope[: len(envelope) - lag]
    else:
        a, b = motion[:lag], envelope[-lag:]
    if len(a) < 3 or a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def phone_lip_sync(
    aperture: np.ndarray,
    width: np.ndarray,
    envelope: np.ndarray,
    segments: Sequence[PhoneSegment],
    fps: float = 25.0,
) -> PhoneLipSync:
    """The measures of one clip.

    Args:
        aperture: (T,) lip aperture (any unit; scaled to the clip's range here).
        width: (T,) mouth width in metres.
        envelope: (T,) speech envelope on the same frames.
        segments: the clip's phones (`PHONES` names) in seconds.
        fps: frame rate of the three signals.
    """
    aperture = np.asarray(aperture, np.float64)
    if not aperture.shape == np.shape(width) == np.shape(envelope) or aperture.ndim != 1:
        raise ValueError(
            f"need equal (T,) signals, got {aperture.shape}, {np.shape(width)}, "
            f"{np.shape(envelope)}"
        )
    rel = relative_aperture(aperture)
    width = np.asarray(width, np.float64)
    frames = centre_frames(segments, len(aperture), fps)
    phones = np.array([s.phone for s in segments], dtype=object)

    def at(values: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
        return values[frames[np.isin(phones, names)]] if len(frames) else np.zeros(0)

    frame_lag, lag = refined_lag(aperture, np.asarray(envelope, np.float64))
    return PhoneLipSync(
        bilabial_apertures=at(rel, BILABIALS),
        rounded_widths=at(width, ROUNDED),
        spread_widths=at(width, SPREAD),
        open_apertures=at(rel, OPEN_VOWELS),
        lags_ms=np.array([1000.0 * lag / fps]),
        frame_lags=np.array([frame_lag]),
        envelope_r=np.array([_r_at(aperture, np.asarray(envelope, np.float64), 0)]),
    )


def pool(clips: Sequence[PhoneLipSync]) -> PhoneLipSync:
    """All clips' phones and lags together (ratios and medians then run over the pooled values)."""
    return PhoneLipSync(
        *(
            np.concatenate([getattr(c, name) for c in clips])
            for name in PhoneLipSync.__dataclass_fields__
        )
    )
