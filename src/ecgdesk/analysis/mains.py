"""Mains hum: 50 or 60 Hz interference from the power grid, taken out before a beat's shape is read.

A recorder on a patient picks up the grid's field through the leads and the skin. The detector's QRS band
ignores it, but the R peak is placed, and each beat's waveform read, on the lead itself, where 0.1 mV of
60 Hz hum moved the R peak of 1,804 of MIT-BIH 203's 2,994 beats by a sample or more and split templates
(DS1: V +P 97.5 -> 94.8 %, S +P 78.9 -> 76.0 %). Narrow notches at both grid frequencies (a recording
does not say which grid it was made on), as an ECG recorder's mains filter, take it out of every
recording alike: a notch that only some recordings or stretches got would make their beats read
differently.

The callers that read beats notch the lead once and hand it to the detector and the beat features: the
streaming analysis per chunk (its context seconds absorb the filter's edges),
:func:`ecgdesk.analysis.beats.analyze_beats` and the strip preparation; the resting 12-lead and the
delineation notch every lead before their filters. The quality gate reads the lead as recorded.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import signal as sps

#: The grid frequencies, and the notches' quality factor (each about 2 Hz wide: grids keep within 0.2 Hz).
MAINS_HZ = (50.0, 60.0)
MAINS_Q = 30.0


@lru_cache(maxsize=8)
def _notches(fs: float) -> tuple[np.ndarray, np.ndarray] | None:
    """The notches below this rate's Nyquist frequency as one filter (b, a), or ``None``."""
    sections = [np.concatenate(sps.iirnotch(f0, MAINS_Q, fs)) for f0 in MAINS_HZ if f0 < fs / 2 - 1.0]
    return sps.sos2tf(np.vstack(sections)) if sections else None


def without_mains(x: np.ndarray, fs: float) -> np.ndarray:
    """``x`` (mV; one lead, or samples x leads) with 50 and 60 Hz notched out, forward and backward (no
    phase shift). The signal is extended by a second of its own mirror image at each end first, so that
    the notches' ringing (they settle in about 0.2 s) spends itself there and a recording's first and last
    beats keep their shape. Missing samples (NaN) stay missing; the notches run over them as zeros."""
    ba = _notches(float(fs))
    x = np.asarray(x, dtype=np.float64)
    if ba is None or x.shape[0] < 2:
        return x
    finite = np.isfinite(x)
    whole = bool(finite.all())
    out = sps.filtfilt(*ba, x if whole else np.where(finite, x, 0.0), axis=0,
                       padlen=min(x.shape[0] - 1, int(fs)))
    if not whole:
        out[~finite] = np.nan
    return out
