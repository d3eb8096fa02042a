"""Features of the learned ventricular detector studied by ``bench/ventricular_learned.py`` (issue 18; not
shipped: docs/strips.md, "Looked at (issue 18, item 5, 2026-12-08)"). The 40 strip features, the AED
literature's VF measures (Amann et al. 2005: threshold-crossing sample count, VF-filter leakage, kurtosis,
the 12-30 Hz and < 2.5 Hz shares, the dominant peak) on the first 10 s, over 5 s windows every 2.5 s and
below 12 Hz, the mean absolute value of 2 s sub-windows (the bCP / MAV family, Amann et al. 2007), the
Lempel-Ziv complexity (Zhang et al. 1999), the beats' width spread and the rate below the QRS band.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ecgdesk.analysis.strips.features import FEATURE_NAMES

if TYPE_CHECKING:
    from ecgdesk.analysis.strips.signal import PreparedStrip

MODEL_PATH = Path("/tmp/vt55/ventricular_model.json")
MEASURES = ("kurtosis", "tcsc", "leakage", "high_share", "low_share", "peak_hz", "peak_share")
#: The features beyond the strip features, in the model's column order after them.
EXTRA_NAMES: tuple[str, ...] = (
    *(f"w10_{k}" for k in MEASURES), *(f"slow_{k}" for k in ("kurtosis", "tcsc", "leakage")),
    *(f"w5_min_{k}" for k in ("kurtosis", "leakage", "high_share", "low_share")),
    *(f"w5_max_{k}" for k in ("tcsc", "peak_share")),
    "mav_mean", "mav_min", "lz_complexity", "width_med", "width_p90", "frac_wide110", "frac_wide140",
    "rate_below15", "beats_kept_below15", "rate_det",
)
ALL_NAMES: tuple[str, ...] = (*FEATURE_NAMES, *EXTRA_NAMES)
#: Every ventricular training strip is 10 s long and most handheld strips 30 s: a strip's length and beat
#: count would separate the classes by how the strips were cut, so the model does not read them.
DROPPED = ("duration_s", "n_beats")
#: With ``--no-source-cues``: features that read the recorder rather than the rhythm (the share of samples at
#: the strip's extremes: Creighton's recorder clips in VF; the R amplitude: a gain).
SOURCE_CUES = ("frac_clipped", "r_amp_mv")
MODEL_NAMES: tuple[str, ...] = tuple(k for k in ALL_NAMES if k not in DROPPED)


def lz_complexity(y: np.ndarray) -> float:
    """Lempel-Ziv complexity of ``y`` made binary about its median, normalised by n / log2 n (Zhang et al.
    1999: high for VF, low for an organised rhythm); NaN for fewer than 4 samples."""
    s = (y > np.median(y)).astype(np.uint8).tobytes() if y.size else b""
    n = len(s)
    if n < 4:
        return float("nan")
    c, i, k, k_max, start = 1, 0, 1, 1, 1
    while True:
        if s[i + k - 1] == s[start + k - 1]:
            k += 1
            if start + k > n:
                c += 1
                break
        else:
            k_max = max(k, k_max)
            i += 1
            if i == start:
                c += 1
                start += k_max
                if start + 1 > n:
                    break
                i, k, k_max = 0, 1, 1
            else:
                k = 1
    return float(c * np.log2(n) / n)


def extra_features(strip: PreparedStrip) -> list[float]:
    """:data:`EXTRA_NAMES` of the strip (NaN where the strip is too short or has under 3 beats)."""
    from ecgdesk.analysis.beats import extract_beat_features
    from ecgdesk.analysis.ventricular import slow_band, vf_measures

    y, rate, _ = strip.vf_band
    n10 = min(y.size, int(10 * rate))
    if n10 < int(3 * rate):
        return [float("nan")] * len(EXTRA_NAMES)
    m10 = vf_measures(y[None, :n10], rate, peak=True)
    out = [float(m10[k][0]) for k in MEASURES]
    ms = vf_measures(slow_band(y, rate)[None, :n10], rate)
    out += [float(ms[k][0]) for k in ("kurtosis", "tcsc", "leakage")]
    n5, step = int(5 * rate), int(2.5 * rate)
    starts = range(0, max(1, y.size - n5 + 1), step)
    rows = np.array([y[a:a + n5] for a in starts if a + n5 <= y.size])
    m5 = vf_measures(rows if rows.size else y[None, :n10], rate, peak=True)
    out += [float(m5[k].min()) for k in ("kurtosis", "leakage", "high_share", "low_share")]
    out += [float(m5[k].max()) for k in ("tcsc", "peak_share")]
    sub = int(2 * rate)
    parts = np.abs(y[: (y.size // sub) * sub]).reshape(-1, sub)
    mav = parts.mean(axis=1) / np.maximum(parts.max(axis=1), 1e-12)
    out += [float(mav.mean()), float(mav.min()), lz_complexity(y[:n10])]
    p = strip.peaks
    if p.size < 3:
        return out + [float("nan")] * 7
    width = extract_beat_features(strip.raw, strip.fs, p).width_ms
    out += [float(np.median(width)), float(np.percentile(width, 90)), float(np.mean(width >= 110)),
            float(np.mean(width >= 140))]
    low = strip.peaks_below_qrs_band
    out += [60.0 * strip.fs / float(np.median(np.diff(low))) if low.size >= 2 else float("nan"),
            low.size / p.size, 60.0 * strip.fs / float(np.median(np.diff(p)))]
    return out


def feature_row(strip: PreparedStrip) -> np.ndarray:
    """The strip's :data:`ALL_NAMES` features (the strip features, then :func:`extra_features`)."""
    return np.concatenate([strip.features.vector(), np.asarray(extra_features(strip), dtype=np.float64)])


class LearnedDetector:
    """Median imputation, standardisation and a logistic regression, from the exported JSON."""

    def __init__(self, data: dict[str, object]) -> None:
        names = tuple(str(k) for k in data["features"])  # type: ignore[attr-defined]
        if names != MODEL_NAMES:
            raise ValueError(f"{MODEL_PATH.name} was trained on other features; re-run "
                             "bench/ventricular_learned.py train")
        self.columns = np.array([ALL_NAMES.index(k) for k in names])
        self.median = np.asarray(data["median"], dtype=np.float64)
        self.mean = np.asarray(data["mean"], dtype=np.float64)
        self.scale = np.asarray(data["scale"], dtype=np.float64)
        self.coef = np.asarray(data["coef"], dtype=np.float64)
        self.intercept = float(data["intercept"])  # type: ignore[arg-type]
        self.threshold = float(data["threshold"])  # type: ignore[arg-type]

    def probability(self, row: np.ndarray) -> float:
        """The model's probability of flutter / fibrillation / VT for one :func:`feature_row`."""
        x = np.asarray(row, dtype=np.float64)[self.columns]
        x = np.where(np.isfinite(x), x, self.median)
        z = float(((x - self.mean) / self.scale) @ self.coef) + self.intercept
        return float(1.0 / (1.0 + np.exp(-z)))


@lru_cache(maxsize=1)
def default_detector() -> LearnedDetector:
    with open(MODEL_PATH) as handle:
        return LearnedDetector(json.load(handle))
