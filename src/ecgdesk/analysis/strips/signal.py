"""Signal preparation for short rhythm strips.

Every strip is brought to :data:`FS` (300 Hz, the rate of the handheld recorders the model was trained
on) and band-passed 0.5-40 Hz for the features. R peaks come from the project's QRS detector
(:func:`ecgdesk.analysis.detection.detect_qrs`) run on the resampled strip, so the features (and the
model trained on them) depend on that detector: re-run ``bench/train_strips.py`` when it changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING

import numpy as np
from scipy import signal as sps

from ecgdesk.analysis.detection import detect_qrs
from ecgdesk.analysis.mains import without_mains

if TYPE_CHECKING:
    from ecgdesk.analysis.strips.features import StripFeatures

#: Rate every strip is resampled to before features are computed.
FS = 300
#: The top of the QRS detector's 5-15 Hz band (Pan and Tompkins 1985). QRS complexes, wide VT complexes and
#: VF waves lie below it, most of a trembling patient's EMG above it: beats the detector no longer finds
#: once the strip is low-passed here were noise.
QRS_BAND_TOP_HZ = 15.0


@dataclass(frozen=True)
class PreparedStrip:
    """A strip at :data:`FS`: the raw and the 0.5-40 Hz signal in mV, and its R-peak sample indices."""

    raw: np.ndarray
    clean: np.ndarray
    peaks: np.ndarray
    fs: int = FS
    #: Samples (at :data:`FS`) the recording did not have (WFDB's invalid value, NaN), set to 0 in ``raw``;
    #: None when every sample was there. Nothing is read from them: a gap is no pause.
    missing: np.ndarray | None = None

    @property
    def duration_s(self) -> float:
        return self.clean.size / self.fs

    @cached_property
    def peaks_below_qrs_band(self) -> np.ndarray:
        """R peaks the detector finds on the raw strip low-passed at :data:`QRS_BAND_TOP_HZ` (fourth-order
        Butterworth, zero phase); computed once, on first use."""
        if self.raw.size < self.fs:
            return np.zeros(0, dtype=np.int64)
        low = sps.sosfiltfilt(_lowpass(QRS_BAND_TOP_HZ, self.fs), self.raw)
        return detect_qrs(low, self.fs).samples.astype(np.int64)

    @cached_property
    def vf_band(self) -> tuple[np.ndarray, float, int]:
        """The strip as the ventricular flutter / fibrillation tests read it
        (:func:`ecgdesk.analysis.ventricular.band_signal`: the 1-30 Hz signal at about 100 Hz, its rate and
        block length); computed once, on first use, for the several windows and tests that read it."""
        from ecgdesk.analysis.ventricular import band_signal

        return band_signal(self.raw, self.fs)

    @cached_property
    def features(self) -> StripFeatures:
        """The strip's features (:func:`ecgdesk.analysis.strips.features.strip_features`); computed once,
        on first use: the VT check reads them for a fast strip, the classifier for every strip it reaches."""
        from ecgdesk.analysis.strips.features import strip_features

        return strip_features(self)


@lru_cache(maxsize=8)
def _band(low: float, high: float, fs: int, order: int = 2) -> np.ndarray:
    return np.asarray(sps.butter(order, [low, high], btype="bandpass", fs=fs, output="sos"))


@lru_cache(maxsize=4)
def _lowpass(cutoff: float, fs: int) -> np.ndarray:
    return np.asarray(sps.butter(4, cutoff, btype="lowpass", fs=fs, output="sos"))


def resample_to_fs(ecg: np.ndarray, fs: float) -> np.ndarray:
    """The strip resampled to :data:`FS` (polyphase; unchanged when already at 300 Hz)."""
    x = np.asarray(ecg, dtype=np.float64)
    if abs(fs - FS) < 1e-6:
        return x
    from fractions import Fraction

    ratio = Fraction(FS / fs).limit_denominator(1000)
    return np.asarray(sps.resample_poly(x, ratio.numerator, ratio.denominator))


def clean_signal(x: np.ndarray) -> np.ndarray:
    """0.5-40 Hz zero-phase band-pass of a strip at :data:`FS`."""
    return np.asarray(sps.sosfiltfilt(_band(0.5, 40.0, FS), x))


def prepare(ecg: np.ndarray, fs: float) -> PreparedStrip:
    """Resample, notch mains hum (:mod:`ecgdesk.analysis.mains`), band-pass and detect: what every strip
    feature starts from."""
    x = resample_to_fs(ecg, fs)
    missing = _missing_at_fs(ecg, x.size)
    x = without_mains(np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0), FS)
    clean = clean_signal(x) if x.size > 30 else x - (x.mean() if x.size else 0.0)
    peaks = detect_qrs(x, FS).samples.astype(np.int64) if x.size >= FS else np.zeros(0, dtype=np.int64)
    return PreparedStrip(raw=x, clean=clean, peaks=peaks, missing=missing)


def _missing_at_fs(ecg: np.ndarray, size: int) -> np.ndarray | None:
    """Which of the ``size`` samples at :data:`FS` stand for samples the recording did not have (each maps
    to the original sample at the same time), or None when it had them all."""
    finite = np.isfinite(np.asarray(ecg, dtype=np.float64))
    if finite.all() or finite.size == 0:
        return None
    at = np.minimum((np.arange(size) * (finite.size / max(size, 1))).astype(np.int64), finite.size - 1)
    return ~finite[at]
