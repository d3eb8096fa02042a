"""Ventricular arrhythmia on a rhythm strip (VT, ventricular flutter, VF), decided before the model.

The strip model learned the CinC 2017 classes, none of which is a ventricular arrhythmia, and a strip in
ventricular flutter or fibrillation has no repeating QRS complex, so without this check it is called
noisy. Two rules, each cheap enough for the batch:

- **flutter / fibrillation**: a 10 s window of the strip (every 5 s; the whole strip when shorter) that the
  ambulatory analysis calls VF (:mod:`ecgdesk.analysis.ventricular`: slow, sinusoid-like or chaotic
  waves, no countable complexes); and, when none of the rules here found anything, a 5 s window (every
  2.5 s, :data:`SHORT_WINDOW_S`) that the ambulatory epoch test calls VF, its slow-wave rule included
  (:func:`ecgdesk.analysis.ventricular.is_vf_epoch`): fibrillation that fills only part of every 10 s
  window, beside its onset or an artefact (strips 1.7.0);
- **ventricular tachycardia**: at least :data:`VT_MIN_BEATS` consecutive beats at 100 bpm or more that the
  ambulatory beat classifier calls ventricular, each wide (>= :data:`RUN_QRS_MS`) and of a repeated
  template (:data:`RUN_TEMPLATE_BEATS`; handheld strips with a few noisy beats give odd one-off templates),
  each at least :data:`EDGE_S` from the strip's start (the filters' start-up) and :data:`END_EDGE_S` from
  its end (only the beat window runs off there; an event recorder stores the arrhythmia's onset near the
  strip's end, strips 1.8.0), or a strip whose
  dominant complex is wide
  (>= :data:`WIDE_QRS_MS`, above the usual 120 ms because this width estimate runs long on sinus
  tachycardia; the median beat's own estimate >= :data:`MEDIAN_QRS_MS` too) at :data:`WIDE_TACHY_BPM` or
  more, regular, with alike beats: a wide-complex tachycardia is treated as VT until proven otherwise;
- **fast wide-complex rhythm**: a median rate of :data:`FAST_WIDE_BPM` or more whose beats are very wide
  (median span of steep slope around each beat, :func:`ecgdesk.analysis.beat_waves.steep_span_ms`, >=
  :data:`FAST_WIDE_QRS_MS`), regular or not, on a signal without the peaked
  distribution of narrow QRS spikes (sample kurtosis <= :data:`FAST_WIDE_KURTOSIS`). Polymorphic VT and
  coarse VF that the detector still counts as fast, wide, unlike beats land here; the model would call
  them AF, other or noisy. A sinus or atrial rhythm with bundle-branch block or pacing is narrower than
  this, or slower, on the shared records (``bench/bench_ventricular_strips.py``). Muscle noise that the
  detector counts as fast wide beats makes the same picture, so the call is confirmed below the QRS band
  (:func:`_slow_below_qrs_band`, strips 1.6.2): low-passed at 15 Hz (the top of the QRS band), where VT
  complexes and VF waves still are and most EMG is not, the strip's beats must still come at
  :data:`VT_RATE_BPM` or faster, or it is no tachycardia there and the rule stands down; nor does it fire
  on a strip with most of its power above 40 Hz (:data:`FAST_WIDE_HF_SHARE_MAX`: broadband noise, as a
  floating input gives; strips 1.7.1);
- **run unlike the strip's own narrow beat** (issue 18): the strip's own conducted beat is its most common
  narrow template (>= :data:`REF_MIN_BEATS` beats, QRS <= :data:`REF_NARROW_MS`); a run of
  :data:`UNLIKE_RUN_BEATS` or more consecutive beats at 100 bpm or more, none of that template and each
  unlike it (QRS correlation < :data:`UNLIKE_CORR`), with a wide median beat (>= :data:`RUN_QRS_MS`), a
  regular run (longest RR <= :data:`UNLIKE_RUN_RR_SPREAD` x the shortest, as monomorphic VT is) and
  faster than the conducted beats (median RR <= :data:`UNLIKE_RUN_ACCELERATION` x theirs: an
  accelerating focus, where a rate-related bundle-branch block in AF runs at the rhythm's own rate). A run
  that reaches the strip's end (its last beat the last before the end margin, the strip ending before the
  next beat would come) needs only :data:`UNLIKE_END_RUN_BEATS`: it goes on beyond the strip (strips 1.8.0).
  Multiform runs whose beats the template classifier labels N (MIT-BIH 205) land here; VT with no
  conducted beat on the strip is left to the rules above;
- **fibrillation under noise** (:func:`fibrillation_through_noise`, issue 18), asked by the classifier
  only for a strip the checks after this module would call noisy: the flutter / fibrillation test's own
  limits read on the window's part below 12 Hz, without its 12-30 Hz limit, and one dominant oscillation
  there (the ambulatory quality gate reads its noise epochs the same way). Muscle noise over VF raises
  that share and the leakage past the limits (``bench/bench_ventricular_robust.py``: Creighton cu13's VF
  and MIT-BIH 207's flutter with muscle noise at 12 dB were called noisy), while the fibrillation waves
  themselves lie below 12 Hz.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ecgdesk.analysis.strips.signal import PreparedStrip

if TYPE_CHECKING:
    from ecgdesk.analysis.beats import BeatFeatures, BeatTable

VT_MIN_BEATS = 4
#: Each beat of a run is at least this wide, and lies this far from the strip's start (the filters' and
#: the detector's start-up) ...
RUN_QRS_MS = 110.0
EDGE_S = 1.0
#: ... and this far from its end (strips 1.8.0). Nothing starts up at the end: only the beat window of a
#: beat closer than 200 ms to the end (:func:`ecgdesk.analysis.beat_waves.window_half`) runs off the strip.
#: An event recorder stores its trigger, the arrhythmia's onset, near the strip's end, and a 1 s margin there
#: hid most of a run that starts 2-4 s before the end. Chosen by leave-one-record-out
#: (``bench/ventricular_end_loro.py``, docs/strips.md "strips 1.8.0").
END_EDGE_S = 0.2
#: A run's ventricular beat is of a template seen at least this often on the strip (handheld strips with a
#: few noisy beats give odd one-off templates). 3 and 2 were measured with the end limits (strips 1.8.0):
#: they find multiform runs (MIT-BIH 203, Creighton cu02) but call 2 and 9 CinC strips `V`.
RUN_TEMPLATE_BEATS = VT_MIN_BEATS
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
#: ... and no more than this share of the strip's power above 40 Hz (the strip features' ``hf_power_ratio``):
#: a strip that is mostly broadband noise (white noise sampled at 250 Hz or more: 0.63-0.75) is no
#: rhythm. Fibrillation and VT lie below 40 Hz; under synthetic muscle noise at 6 dB the strips this rule
#: calls `V` reach 0.34, and at 0 to -6 dB the VF, flutter and VT strips keep their calls at 0.6 but for
#: one VT strip at -6 dB (docs/strips.md, strips 1.7.1).
FAST_WIDE_HF_SHARE_MAX = 0.6
WINDOW_S = 10.0
#: Flutter / fibrillation is also looked for in windows of this length (every half of it) when no other
#: rule of this module found anything: a strip where VF fills only part of every 10 s window (its onset, a
#: shock's or a compression's artefact beside it) passes the window's limits nowhere else. These windows
#: take the ambulatory epochs' whole test, its slow-wave rule too: slow, large waves (motion artefact on a
#: handheld strip, a wide rhythm at 100 bpm) pass the four limits in 5 s (docs/strips.md, strips 1.7.0).
SHORT_WINDOW_S = 5.0
#: Run unlike the strip's own narrow beat (module docstring). The narrow limit, correlation and width are
#: set from the usual QRS limits, not fitted; the run length, RR spread and acceleration were chosen by
#: leave-one-record-out over the VT strips of MIT-BIH 203/205/223 and Creighton cu02 (on each held-out
#: record the least strict setting from a small grid that adds no V call on any strip without VT: CinC
#: 2017, LUDB, MIT-BIH/SVDB minutes without VT, paced and bundle-branch block; docs/strips.md).
REF_MIN_BEATS = 3
REF_NARROW_MS = 100.0
UNLIKE_CORR = 0.7
UNLIKE_RUN_BEATS = 6
UNLIKE_RUN_RR_SPREAD = 1.5
UNLIKE_RUN_ACCELERATION = 0.75
#: A run unlike the narrow beat that reaches the strip's end goes on beyond it (the strip was cut while it
#: ran): this many beats are enough there, its other conditions unchanged (strips 1.8.0; chosen with
#: :data:`END_EDGE_S`).
UNLIKE_END_RUN_BEATS = 4


@dataclass(frozen=True)
class VentricularFinding:
    kind: str  # "vf" (flutter or fibrillation) or "vt"
    start_s: float
    reason: str


def ventricular_arrhythmia(strip: PreparedStrip) -> VentricularFinding | None:
    """The first ventricular arrhythmia found on the strip, or ``None`` (module docstring)."""
    band = strip.vf_band[0]
    return (_fibrillation(strip, band, WINDOW_S, _strict_vf, _UNDULATING) or _tachycardia(strip)
            or _fibrillation(strip, band, SHORT_WINDOW_S, _epoch_vf, _UNDULATING))


_UNDULATING = ": fast undulating waves without countable QRS complexes"


def _strict_vf(windows: np.ndarray, rate: float) -> np.ndarray:
    from ecgdesk.analysis.ventricular import is_vf, vf_measures

    return is_vf(vf_measures(windows, rate))


def _epoch_vf(windows: np.ndarray, rate: float) -> np.ndarray:
    from ecgdesk.analysis.ventricular import is_vf_epoch, vf_measures

    return is_vf_epoch(vf_measures(windows, rate))


def _fibrillation(strip: PreparedStrip, y: np.ndarray, seconds: float,
                  decide: Callable[[np.ndarray, float], np.ndarray],
                  detail: str) -> VentricularFinding | None:
    """Flutter / fibrillation in a window of ``seconds`` (every half of it) of ``y`` (the strip's VF band
    signal, :attr:`~ecgdesk.analysis.strips.signal.PreparedStrip.vf_band`, or a part of it) that ``decide``
    passes (rows of windows and their rate -> one bool a row), with no countable complexes in it; the
    reason ends with ``detail``."""
    from ecgdesk.analysis.ventricular import KURTOSIS_MAX

    # the band signal of the whole strip once, cut into the overlapping windows (filtering each window on
    # its own took a third of the batch's time); the windows of one length are judged together
    _, rate, step = strip.vf_band
    windows = list(_windows(strip, y, rate, step, seconds))
    fibrillating = np.zeros(len(windows), dtype=bool)
    for size in {rows.size for _, rows in windows}:
        same = np.flatnonzero([rows.size == size for _, rows in windows])
        block = np.stack([windows[i][1] for i in same])
        centred = block - block.mean(axis=1, keepdims=True)
        m2 = np.mean(centred * centred, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            peaked = ~(np.mean(centred ** 4, axis=1) / (m2 * m2) < KURTOSIS_MAX)
        # peaked: QRS spikes, not VF (the cheap test first, as the ambulatory check does; every test here
        # holds the same kurtosis limit)
        candidates = np.flatnonzero((m2 > 0) & ~peaked)
        if candidates.size:
            fibrillating[same[candidates]] = decide(block[candidates], rate)
    for i in np.flatnonzero(fibrillating):
        a = windows[i][0]
        if _countable(strip, a, seconds):
            continue
        start = a / strip.fs
        return VentricularFinding("vf", start,
                                  f"ventricular flutter or fibrillation from {start:.0f} s{detail}")
    return None


def fibrillation_through_noise(strip: PreparedStrip) -> VentricularFinding | None:
    """VF under high-frequency noise, for a strip about to be called noisy (module docstring), or ``None``.

    Muscle noise lifts the 12-30 Hz share and the leakage of :func:`ecgdesk.analysis.ventricular.is_vf`'s
    window past its limits, so a fibrillating heart under a trembling or moving patient reads as noise.
    Here each window's part below :data:`~ecgdesk.analysis.ventricular.FIBRILLATION_TOP_HZ`, where VF waves
    lie and muscle noise mostly does not, is read by
    :func:`~ecgdesk.analysis.ventricular.is_vf_under_noise` (the strict limits without the 12-30 Hz one, and
    one dominant oscillation). Only for strips the other checks would call noisy: elsewhere the strict
    test stands."""
    from ecgdesk.analysis.ventricular import FIBRILLATION_TOP_HZ, is_vf_under_noise, slow_band

    y, rate, _ = strip.vf_band
    return _fibrillation(strip, slow_band(y, rate), WINDOW_S, is_vf_under_noise,
                         f", under noise: undulating waves below {FIBRILLATION_TOP_HZ:.0f} Hz without "
                         "countable QRS complexes")


def _windows(strip: PreparedStrip, y: np.ndarray, rate: float, step: int,
             seconds: float = WINDOW_S) -> Iterator[tuple[int, np.ndarray]]:
    """(start sample, rows of ``y``) of each window of ``seconds`` every half of it (the whole strip when
    shorter) long enough to measure (3 s)."""
    fs = strip.fs
    n = strip.raw.size
    L = int(seconds * fs)
    starts = [0] if n <= L else sorted({*range(0, n - L + 1, int(seconds / 2 * fs)), n - L})
    for a in starts:
        rows = y[a // step: (a + min(L, n)) // step]
        if rows.size >= int(3 * rate):
            yield a, rows


def _countable(strip: PreparedStrip, a: int, seconds: float = WINDOW_S) -> bool:
    """Regular, alike complexes in the window of ``seconds`` from sample ``a``: a tachycardia, judged by the
    VT rules."""
    from ecgdesk.analysis.quality import countable_epochs

    L = int(seconds * strip.fs)
    window = strip.raw[a:a + L]
    peaks = strip.peaks[(strip.peaks >= a) & (strip.peaks < a + L)] - a
    return bool(countable_epochs(window, strip.fs, window.size, peaks)[0])


def _tachycardia(strip: PreparedStrip) -> VentricularFinding | None:
    from ecgdesk.analysis.beat_waves import steep_span_ms
    from ecgdesk.analysis.beats import classify_beats, extract_beat_features

    peaks = strip.peaks
    if peaks.size < VT_MIN_BEATS + 1:
        return None
    fs = strip.fs
    rr = np.diff(peaks) / fs
    fast = rr <= 60.0 / VT_RATE_BPM
    if not _longest_run(fast) >= VT_MIN_BEATS - 1:
        return None
    features = extract_beat_features(strip.raw, fs, peaks)
    candidates = run_candidates(peaks, fs, strip.raw.size)
    rate = 60.0 / float(np.median(rr))
    if (rate < min(WIDE_TACHY_BPM, FAST_WIDE_BPM)
            and not _may_hold_run(features.width_ms, candidates, peaks, fs, strip.raw.size)):
        return None  # no rule below can fire: the beat classifier (most of this check's time) is skipped
    table = classify_beats(features, peaks, fs)
    found = ventricular_run(features, table, peaks, fs, strip.raw.size)
    if found is not None:
        return found
    dominant = max(table.templates, key=lambda t: t.n_beats, default=None)
    if rate < min(WIDE_TACHY_BPM, FAST_WIDE_BPM):
        return None
    f = strip.features
    if (dominant is not None and dominant.width_ms >= WIDE_QRS_MS and rate >= WIDE_TACHY_BPM
            and float(np.std(rr) / np.mean(rr)) < WIDE_RR_CV
            # the median beat's width (the strip features' estimate) must agree, and the beats be alike
            and f.qrs_width_ms >= MEDIAN_QRS_MS and f.beat_corr_mean >= WIDE_BEAT_CORR):
        return VentricularFinding("vt", peaks[0] / fs,
                                  f"wide-complex tachycardia {rate:.0f} bpm, QRS {dominant.width_ms:.0f} ms: "
                                  "ventricular tachycardia until proven otherwise")
    width = float(np.median(steep_span_ms(strip.raw, fs, peaks)))
    if (rate >= FAST_WIDE_BPM and width >= FAST_WIDE_QRS_MS and f.kurtosis <= FAST_WIDE_KURTOSIS
            and f.hf_power_ratio <= FAST_WIDE_HF_SHARE_MAX and not _slow_below_qrs_band(strip)):
        return VentricularFinding("vt", peaks[0] / fs,
                                  f"fast wide-complex rhythm {rate:.0f} bpm, median QRS {width:.0f} ms: "
                                  "polymorphic VT or fibrillation until proven otherwise")
    return None


def run_candidates(peaks: np.ndarray, fs: float, size: int) -> np.ndarray:
    """Which beats may belong to a run: after a fast RR (>= :data:`VT_RATE_BPM`), at least
    :data:`EDGE_S` after the strip's start and :data:`END_EDGE_S` before its end (``size`` samples)."""
    inside = (peaks >= EDGE_S * fs) & (peaks < size - END_EDGE_S * fs)
    fast = np.concatenate([[False], np.diff(peaks) / fs <= 60.0 / VT_RATE_BPM])  # the beat ends a fast RR
    return np.asarray(inside & fast, dtype=bool)


def ventricular_run(features: BeatFeatures, table: BeatTable, peaks: np.ndarray, fs: float,
                    size: int) -> VentricularFinding | None:
    """The two run rules (module docstring) on the strip's classified beats (``size``: the strip's
    samples), or ``None``."""
    from ecgdesk.analysis.beats import BeatClass

    candidates = run_candidates(peaks, fs, size)
    # a ventricular beat of a run: wide, of a template seen at least VT_MIN_BEATS times, a candidate
    sizes = {t.template_id: t.n_beats for t in table.templates}
    repeated = np.array([sizes.get(int(t), 0) >= RUN_TEMPLATE_BEATS for t in table.template_ids], dtype=bool)
    ventricular = ((table.labels == BeatClass.V.value) & (features.width_ms >= RUN_QRS_MS) & repeated
                   & candidates)
    start = _first_run(ventricular, VT_MIN_BEATS)
    if start is not None:
        return VentricularFinding("vt", peaks[start] / fs,
                                  f"ventricular tachycardia from {peaks[start] / fs:.1f} s: "
                                  f"{VT_MIN_BEATS} or more ventricular beats at >= {VT_RATE_BPM:.0f} bpm")
    unlike = _run_unlike_narrow_beat(features, table, peaks, fs, candidates, size)
    if unlike is not None:
        start, beats = unlike
        at_end = " to the strip's end" if beats < UNLIKE_RUN_BEATS else ""
        return VentricularFinding("vt", peaks[start] / fs,
                                  f"ventricular tachycardia from {peaks[start] / fs:.1f} s: "
                                  f"{beats} or more wide beats at >= {VT_RATE_BPM:.0f} bpm{at_end} unlike "
                                  "the strip's narrow beat")
    return None


def _slow_below_qrs_band(strip: PreparedStrip) -> bool:
    """Whether the detector, run on the strip low-passed at the top of the QRS band
    (:attr:`~ecgdesk.analysis.strips.signal.PreparedStrip.peaks_below_qrs_band`), finds its beats slower than
    :data:`VT_RATE_BPM` (median RR): the fast beats were above that band, i.e. noise. With fewer than two
    beats found there is no evidence either way (False)."""
    peaks = strip.peaks_below_qrs_band
    if peaks.size < 2:
        return False
    return 60.0 * strip.fs / float(np.median(np.diff(peaks))) < VT_RATE_BPM


def _run_unlike_narrow_beat(features: BeatFeatures, table: BeatTable, peaks: np.ndarray, fs: float,
                            candidates: np.ndarray, size: int) -> tuple[int, int] | None:
    """First beat of a run unlike the strip's own narrow beat (module docstring) and the run length asked
    for (:data:`UNLIKE_RUN_BEATS`, or :data:`UNLIKE_END_RUN_BEATS` for a run reaching the strip's end), or
    ``None``."""
    from ecgdesk.analysis.beats import QRS_PART

    narrow = [t for t in table.templates if t.n_beats >= REF_MIN_BEATS and t.width_ms <= REF_NARROW_MS]
    if not narrow:
        return None
    reference = max(narrow, key=lambda t: t.n_beats).template_id
    qrs = np.asarray(features.waveforms, dtype=np.float64)[:, QRS_PART]
    qrs = qrs - qrs.mean(axis=1, keepdims=True)
    unit = qrs / np.maximum(np.linalg.norm(qrs, axis=1, keepdims=True), 1e-12)
    own = table.template_ids == reference
    centre = unit[own].mean(axis=0)
    corr = unit @ (centre / max(float(np.linalg.norm(centre)), 1e-12))
    unlike = candidates & ~own & (corr < UNLIKE_CORR)
    rr = np.diff(peaks).astype(np.float64)
    if not own[1:].any():
        return None
    own_rr = float(np.median(rr[own[1:]]))

    def vt(i: int, n: int) -> bool:
        run_rr = rr[i - 1:i + n - 1]  # the RR ending at each beat of the run (i >= 1: beat 0 is never fast)
        return bool(unlike[i:i + n].all() and float(np.median(features.width_ms[i:i + n])) >= RUN_QRS_MS
                    and run_rr.max() <= UNLIKE_RUN_RR_SPREAD * run_rr.min()
                    and float(np.median(run_rr)) <= UNLIKE_RUN_ACCELERATION * own_rr)

    n = UNLIKE_RUN_BEATS
    for i in range(max(peaks.size - n + 1, 0)):
        if vt(i, n):
            return i, n
    # a shorter run that reaches the strip's end: its last beat is the last one before the end margin, and
    # the strip ends before the run's next beat would come (no beat missing after it)
    last = _last_before_end(peaks, fs, size)
    m = UNLIKE_END_RUN_BEATS
    i = last - m + 1
    if m < n and i >= 1 and (size - 1 - peaks[last]) <= rr[i - 1:last].max() and vt(i, m):
        while i > 1 and unlike[i - 1]:
            i -= 1  # report the run from its first unlike beat
        return i, m
    return None


def _last_before_end(peaks: np.ndarray, fs: float, size: int) -> int:
    """Index of the last beat at least :data:`END_EDGE_S` before the strip's end (-1 when none)."""
    return int(np.searchsorted(peaks, size - END_EDGE_S * fs)) - 1


def _may_hold_run(width_ms: np.ndarray, candidates: np.ndarray, peaks: np.ndarray, fs: float,
                  size: int) -> bool:
    """Whether either run rule could fire on these beats whatever their classes: :data:`VT_MIN_BEATS`
    consecutive candidates each at least :data:`RUN_QRS_MS` wide, or :data:`UNLIKE_RUN_BEATS` consecutive
    ones (:data:`UNLIKE_END_RUN_BEATS` ending at the last beat before the end margin) whose median width is
    (the two rules' width and run conditions, without the classifier's)."""
    if _first_run(candidates & (width_ms >= RUN_QRS_MS), VT_MIN_BEATS) is not None:
        return True
    n = UNLIKE_RUN_BEATS
    if any(candidates[i:i + n].all() and float(np.median(width_ms[i:i + n])) >= RUN_QRS_MS
           for i in range(candidates.size - n + 1)):
        return True
    last = _last_before_end(peaks, fs, size)
    i = last - UNLIKE_END_RUN_BEATS + 1
    return bool(i >= 0 and candidates[i:last + 1].all()
                and float(np.median(width_ms[i:last + 1])) >= RUN_QRS_MS)


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
