"""Ventricular arrhythmia on a rhythm strip (VT, ventricular flutter, VF), decided before the model.

The strip model learned the CinC 2017 classes, none of which is a ventricular arrhythmia, and a strip in
ventricular flutter or fibrillation has no repeating QRS complex, so without this check it is called
noisy. Two rules, each cheap enough for the batch:

- **flutter / fibrillation**: a 10 s window of the strip (every 5 s; the whole strip when shorter) that the
  ambulatory analysis calls VF (:mod:`ecgdesk.analysis.ventricular`: slow, sinusoid-like or chaotic
  waves, no countable complexes);
- **ventricular tachycardia**: at least :data:`VT_MIN_BEATS` consecutive beats at 100 bpm or more that the
  ambulatory beat classifier calls ventricular, each wide (>= :data:`RUN_QRS_MS`) and of a repeated
  template (handheld strips with a few noisy beats give odd one-off templates), or a strip whose
  dominant complex is wide
  (>= :data:`WIDE_QRS_MS`, above the usual 120 ms because this width estimate runs long on sinus
  tachycardia; the median beat's own estimate >= :data:`MEDIAN_QRS_MS` too) at :data:`WIDE_TACHY_BPM` or
  more, regular, with alike beats: a wide-complex tachycardia is treated as VT until proven otherwise;
- **fast wide-complex rhythm**: a median rate of :data:`FAST_WIDE_BPM` or more whose beats are very wide
  (median beat width >= :data:`FAST_WIDE_QRS_MS`), regular or not, on a signal without the peaked
  distribution of narrow QRS spikes (sample kurtosis <= :data:`FAST_WIDE_KURTOSIS`). Polymorphic VT and
  coarse VF that the detector still counts as fast, wide, unlike beats land here; the model would call
  them AF, other or noisy. A sinus or atrial rhythm with bundle-branch block or pacing is narrower than
  this, or slower, on the shared records (``bench/bench_ventricular_strips.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecgdesk.analysis.strips.signal import PreparedStrip

VT_MIN_BEATS = 4
#: Each beat of a run is at least this wide, and lies this far from the strip's ends.
RUN_QRS_MS = 110.0
EDGE_S = 1.0
VT_RATE_BPM = 100.0
WIDE_QRS_MS = 140.0
WIDE_TACHY_BPM = 120.0
#: A wide-complex tachycardia is regular (RR CV below this), its median beat is wide too and its beats alike.
WIDE_RR_CV = 0.1
MEDIAN_QRS_MS = 120.0
WIDE_BEAT_CORR = 0.9
#: Fast wide-complex rhythm (module docstring). Chosen on the Creighton VF strips (every one missed by the
#: rules above has a rate >= 155 bpm, median width >= 160 ms and kurtosis <= 5.6) with margins, against the
#: false calls on the CinC 2017, LUDB, paced and bundle-branch-block strips.
FAST_WIDE_BPM = 150.0
FAST_WIDE_QRS_MS = 160.0
FAST_WIDE_KURTOSIS = 8.0
WINDOW_S = 10.0
STEP_S = 5.0


@dataclass(frozen=True)
class VentricularFinding:
    kind: str  # "vf" (flutter or fibrillation) or "vt"
    start_s: float
    reason: str


def ventricular_arrhythmia(strip: PreparedStrip) -> VentricularFinding | None:
    """The first ventricular arrhythmia found on the strip, or ``None`` (module docstring)."""
    return _fibrillation(strip) or _tachycardia(strip)


def _fibrillation(strip: PreparedStrip) -> VentricularFinding | None:
    from ecgdesk.analysis.quality import countable_epochs
    from ecgdesk.analysis.ventricular import KURTOSIS_MAX, band_signal, is_vf, vf_measures

    fs = strip.fs
    n = strip.raw.size
    L = int(WINDOW_S * fs)
    starts = [0] if n <= L else sorted({*range(0, n - L + 1, int(STEP_S * fs)), n - L})
    # the VF band signal of the whole strip once, cut into the overlapping windows (filtering each window
    # on its own took a third of the batch's time); the decision is the ambulatory one on each window
    y, rate, step = band_signal(strip.raw, fs)
    for a in starts:
        rows = y[a // step: (a + min(L, n)) // step]
        if rows.size < int(3 * rate):
            continue
        centred = rows - rows.mean()
        m2 = float(np.mean(centred * centred))
        if m2 <= 0 or float(np.mean(centred ** 4)) / (m2 * m2) >= KURTOSIS_MAX:
            continue  # peaked: QRS spikes, not VF (the cheap test first, as the ambulatory check does)
        if not bool(is_vf(vf_measures(rows[None, :], rate))[0]):
            continue
        window = strip.raw[a:a + L]
        peaks = strip.peaks[(strip.peaks >= a) & (strip.peaks < a + L)] - a
        if countable_epochs(window, fs, window.size, peaks)[0]:
            continue  # regular, alike complexes: a tachycardia, judged below
        return VentricularFinding("vf", a / fs, f"ventricular flutter or fibrillation from {a / fs:.0f} s: "
                                                "fast undulating waves without countable QRS complexes")
    return None


def _tachycardia(strip: PreparedStrip) -> VentricularFinding | None:
    from ecgdesk.analysis.beats import BeatClass, classify_beats, extract_beat_features

    peaks = strip.peaks
    if peaks.size < VT_MIN_BEATS + 1:
        return None
    fs = strip.fs
    rr = np.diff(peaks) / fs
    fast = rr <= 60.0 / VT_RATE_BPM
    if not _longest_run(fast) >= VT_MIN_BEATS - 1:
        return None
    features = extract_beat_features(strip.raw, fs, peaks)
    table = classify_beats(features, peaks, fs)
    sizes = {t.template_id: t.n_beats for t in table.templates}
    # a ventricular beat of a run: wide, of a template seen at least VT_MIN_BEATS times, away from the
    # strip's ends (filter start-up), after a fast RR
    inside = (peaks >= EDGE_S * fs) & (peaks < strip.raw.size - EDGE_S * fs)
    repeated = np.array([sizes.get(int(t), 0) >= VT_MIN_BEATS for t in table.template_ids], dtype=bool)
    ventricular = ((table.labels == BeatClass.V.value) & (features.width_ms >= RUN_QRS_MS) & repeated
                   & inside)
    run_fast = np.concatenate([[False], fast])  # the beat ends a fast RR
    start = _first_run(ventricular & run_fast, VT_MIN_BEATS)
    if start is not None:
        return VentricularFinding("vt", peaks[start] / fs,
                                  f"ventricular tachycardia from {peaks[start] / fs:.1f} s: "
                                  f"{VT_MIN_BEATS} or more ventricular beats at >= {VT_RATE_BPM:.0f} bpm")
    dominant = max(table.templates, key=lambda t: t.n_beats, default=None)
    rate = 60.0 / float(np.median(rr))
    if rate < min(WIDE_TACHY_BPM, FAST_WIDE_BPM):
        return None
    from ecgdesk.analysis.strips.features import strip_features

    f = strip_features(strip)
    if (dominant is not None and dominant.width_ms >= WIDE_QRS_MS and rate >= WIDE_TACHY_BPM
            and float(np.std(rr) / np.mean(rr)) < WIDE_RR_CV
            # the median beat's width (the strip features' estimate) must agree, and the beats be alike
            and f.qrs_width_ms >= MEDIAN_QRS_MS and f.beat_corr_mean >= WIDE_BEAT_CORR):
        return VentricularFinding("vt", peaks[0] / fs,
                                  f"wide-complex tachycardia {rate:.0f} bpm, QRS {dominant.width_ms:.0f} ms: "
                                  "ventricular tachycardia until proven otherwise")
    width = float(np.median(features.width_ms))
    if rate >= FAST_WIDE_BPM and width >= FAST_WIDE_QRS_MS and f.kurtosis <= FAST_WIDE_KURTOSIS:
        return VentricularFinding("vt", peaks[0] / fs,
                                  f"fast wide-complex rhythm {rate:.0f} bpm, median QRS {width:.0f} ms: "
                                  "polymorphic VT or fibrillation until proven otherwise")
    return None


def _longest_run(mask: np.ndarray) -> int:
    best = run = 0
    for value in mask.tolist():
        run = run + 1 if value else 0
        best = max(best, run)
    return best


def _first_run(mask: np.ndarray, length: int) -> int | None:
    run = 0
    for i, value in enumerate(mask.tolist()):
        run = run + 1 if value else 0
        if run >= length:
            return i - length + 1
    return None
