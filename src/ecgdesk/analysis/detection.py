"""QRS detection on one ECG lead: band-pass energy, adaptive thresholds, search-back, R-peak placement.

The method follows Pan & Tompkins (1985) and Hamilton & Tompkins (1986), vectorised with numpy/scipy so
that a 24 h recording takes about a second:

1. NaN samples are no signal (set to zero; no beat is placed there). The lead is averaged over blocks of
   ``k`` samples down to a working rate of 100-200 Hz (a boxcar is a cheap anti-alias filter; the QRS
   energy lies below 40 Hz), then a 5-20 Hz band-pass (2nd-order Butterworth, forward only; its group
   delay is removed) keeps the QRS and drops wander, most of the P and T energy and mains hum.
2. The squared derivative is integrated over 120 ms: one smooth hump per QRS complex.
3. Candidates are the humps' maxima at least 200 ms apart (the refractory period). A candidate is a beat
   when it exceeds 20 % of the local QRS level: the 90th percentile of the candidate heights among the
   ~25 neighbouring candidates (about 8 s; a few strong beats set it, noise does not). A floor from the
   median absolute deviation of the energy and from the 99th percentile of the candidate heights keeps
   flat or very quiet stretches free of beats. Of two beats closer than 250 ms, one whose hump is under
   40 % of its neighbour's is a large P or T wave and is dropped (Pan & Tompkins' T-wave test, made
   symmetric: MIT-BIH 108's large P waves; fewer false beats on 104, SVDB 805 and 854 too); a couplet or
   a fast run has humps of like size. A close pair that stands alone (longer intervals on both sides: one
   P or T wave beside each QRS, not a run) loses its smaller hump already under 70 % of the other.
4. Search-back: where an RR interval is longer than 1.35x the local median RR, the largest candidate inside
   it that reaches a lower threshold (6 %) is added (a small or wide beat the first pass missed).
   Then a beat under 300 ms (and 0.6 of the local RR) after the one before it whose steepest band slope
   is under 0.6 of that beat's is a T wave and is dropped (Pan & Tompkins' slope test): a PVC's large T
   wave has a hump as big as the PVC's, but rises at half a QRS's slope.
5. Each beat is placed on the R peak of the raw lead: the largest deviation from the window's median
   within 80 ms of the hump, after a 10 ms smoothing, keeping the polarity that dominates the lead; where
   that largest value lies at the window's edge (within 10 ms), the beat's QRS has the other polarity (a
   paced or ventricular complex on a lead whose conducted beats are upright) and its own extreme is taken.

With several leads (:func:`detect_qrs_multilead`), the primary lead's beats are kept and its unexplained
RR gaps are bridged with another lead's beats where the primary lost its signal (a blocked, railed
amplifier) or where that lead agrees with the primary around the gap; a bridged stretch must keep
plausible RR intervals. A real pause (no beat on any lead, baseline kept) stays a pause. With three leads
or more (a 12-lead record), the other leads also vote: a gap beat must show on two of them, and a primary
beat none of them shows, where two of them follow the rhythm, is a wave of the primary lead alone.

Amplitude does not matter (every threshold is relative) and any sampling rate from 125 to 1000 Hz works
(every width is in seconds).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage, signal

from ecgdesk.errors import InputError, check_positive

REFRACTORY_S = 0.2
INTEGRATION_S = 0.12
LEVEL_NEIGHBOURS = 25
LEVEL_PERCENTILE = 90
THRESHOLD = 0.2
SEARCHBACK_RR = 1.35
SEARCHBACK_THRESHOLD = 0.06
SEARCHBACK_MIN_RR = 0.5
SEARCHBACK_PASSES = 4
PEAK_WINDOW_S = 0.08
SMOOTH_S = 0.01
WORK_RATE = 100.0
#: A beat this close (s) to a neighbour whose hump is over 1 / CLOSE_RATIO times its own is a P or T wave
#: (chosen on every shared MIT-BIH and SVDB record together: no record's sensitivity may fall by more than
#: a beat or two, and the +P of all of them counts, not of 108 alone).
CLOSE_S = 0.25
CLOSE_RATIO = 0.4
#: Of an *isolated* close pair (the intervals on both sides over PAIR_ISOLATION times the pair's own), the
#: smaller hump is dropped when under PAIR_RATIO of the other: a P or T wave detected beside every QRS
#: makes short-long-short-long intervals, while real beats that close come in runs (VT, a fast SVT) whose
#: neighbouring intervals are as short (chosen on the shared MIT-BIH records; SVDB, LUDB, QTDB unseen).
PAIR_RATIO = 0.7
PAIR_ISOLATION = 1.5
#: A beat this soon (s, and under T_WAVE_RR of the local RR) after the one before it whose steepest slope is
#: under T_WAVE_SLOPE of that beat's is a T wave (Pan & Tompkins' test, at 360 ms and half the slope). The
#: QT interval shortens with the rate, so at a fast rate a T wave's steep limb comes before 0.6 of the RR
#: (Bazett: a QT of 0.44 s x sqrt(RR)); a beat later than that is premature, not a T wave. Slope and time
#: chosen on the shared MIT-BIH records (no real beat of them dropped); SVDB, LUDB and QTDB checked.
#: The slope is the 5-20 Hz band's, within SLOPE_WINDOW_S of the beat's hump.
T_WAVE_S = 0.3
T_WAVE_RR = 0.6
T_WAVE_SLOPE = 0.6
SLOPE_WINDOW_S = 0.06


@dataclass(frozen=True)
class QRSResult:
    """R-peak sample indices (sorted, unique) of one lead, and its sampling rate."""

    samples: np.ndarray
    fs: float

    @property
    def times_s(self) -> np.ndarray:
        return self.samples / self.fs

    def __len__(self) -> int:
        return int(self.samples.size)


def _decimate(x: np.ndarray, k: int) -> np.ndarray:
    """Means of consecutive blocks of ``k`` samples (the tail shorter than ``k`` is dropped), float32."""
    if k == 1:
        return x.astype(np.float32)
    m = x.size // k
    return (x[:m * k].reshape(m, k) @ np.full(k, 1.0 / k)).astype(np.float32)


def _moving_sum(x: np.ndarray, width: int) -> np.ndarray:
    """Centred moving sum over ``width`` samples, float32 (the edges repeat the nearest full window)."""
    n = x.size
    width = min(width, n)
    c = np.zeros(n + 1, dtype=np.float64)
    np.cumsum(x, dtype=np.float64, out=c[1:])
    out = np.empty(n, dtype=np.float32)
    half = width // 2
    valid = n + 1 - width
    out[half:half + valid] = c[width:] - c[:valid]
    out[:half] = out[half]
    out[half + valid:] = out[half + valid - 1]
    return out


@functools.lru_cache(maxsize=16)
def _band(fs: float) -> tuple[np.ndarray, int]:
    """The 5-20 Hz band-pass at ``fs`` (float32 SOS) and its group delay at 12 Hz in samples; cached,
    since short strips are detected by the thousand and the design costs more than the filtering."""
    sos = signal.butter(2, [5.0, 20.0], btype="band", fs=fs, output="sos")
    _, gd = signal.group_delay(signal.sos2tf(sos), w=[12.0], fs=fs)
    return sos.astype(np.float32), int(round(float(gd[0])))


def _energy(x: np.ndarray, fs: float) -> np.ndarray:
    """Integrated squared slope of the 5-20 Hz band (delay-compensated), at the working rate ``fs``."""
    return _energy_and_slope(x, fs)[0]


def _energy_and_slope(x: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_energy` and the squared slope it integrates (both delay-compensated)."""
    sos, delay = _band(fs)
    band = signal.sosfilt(sos, x - np.float32(np.median(x[:: max(1, x.size // 4096)])))
    d = np.empty_like(band)
    d[:-1] = band[1:] - band[:-1]
    d[-1] = 0.0
    d *= d
    energy = _moving_sum(d, max(1, int(round(INTEGRATION_S * fs))))
    if delay > 0:
        energy = np.concatenate([energy[delay:], np.zeros(delay, energy.dtype)])
        d = np.concatenate([d[delay:], np.zeros(delay, d.dtype)])
    return energy, d


def _local_level(heights: np.ndarray) -> np.ndarray:
    """For each candidate, the 90th percentile of the heights of its ~25 neighbouring candidates."""
    size = min(LEVEL_NEIGHBOURS, heights.size)
    return ndimage.percentile_filter(heights, LEVEL_PERCENTILE, size=size, mode="nearest")


def _place_on_r(x: np.ndarray, fs: float, near: np.ndarray) -> np.ndarray:
    """Move each approximate position to the R peak of the raw lead (dominant polarity)."""
    if near.size == 0:
        return near
    half = max(1, int(round(PEAK_WINDOW_S * fs)))
    offsets = np.arange(-half, half + 1)
    idx = np.clip(near[:, None] + offsets[None, :], 0, x.size - 1)
    seg = x[idx]
    smooth = max(1, int(round(SMOOTH_S * fs)))
    if smooth > 1:  # a centred moving average along each window
        c = np.concatenate([np.zeros((seg.shape[0], 1)), np.cumsum(seg, axis=1)], axis=1)
        seg = np.pad((c[:, smooth:] - c[:, :-smooth]) / smooth, ((0, 0), (smooth // 2, (smooth - 1) // 2)),
                     mode="edge")
    # The lead's dominant polarity, decided over (up to 2000) beats, keeps the R peak on the same wave
    # every beat; the window's median is its baseline.
    probe = seg[:: max(1, seg.shape[0] // 2000)]
    probe = probe - np.median(probe, axis=1, keepdims=True)
    positive = np.median(probe.max(axis=1)) >= np.median(-probe.min(axis=1))
    pick = np.argmax(seg if positive else -seg, axis=1)
    # A largest value within a smoothing width of the window's ends is no peak of this beat: the lead is still
    # rising into a neighbouring wave (a paced or ventricular complex of the other polarity, whose T wave or
    # recovery the window reaches). The beat's own extreme of the other polarity is its R peak then.
    edge = max(1, int(round(SMOOTH_S * fs)))
    other = np.argmax(-seg if positive else seg, axis=1)
    at_edge = (pick < edge) | (pick >= seg.shape[1] - edge)
    inside = (other >= edge) & (other < seg.shape[1] - edge)
    pick = np.where(at_edge & inside, other, pick)
    return idx[np.arange(idx.shape[0]), pick]


def detect_qrs(ecg: np.ndarray, fs: float) -> QRSResult:
    """Detect the QRS complexes of a 1-D ECG (mV, any gain) sampled at ``fs`` Hz.

    NaN samples (lead off, gaps) are treated as no signal: no beat is placed in a NaN stretch.
    """
    fs = check_positive("fs", fs)
    if not 50.0 <= fs <= 10_000.0:
        raise InputError("fs", f"must be a plausible ECG sampling rate (50-10000 Hz), got {fs:g}")
    x = np.asarray(ecg, dtype=np.float64)
    if x.ndim != 1:
        raise InputError("ecg", f"must be one lead (1-D), got shape {x.shape}")
    empty = QRSResult(np.zeros(0, dtype=np.int64), fs)
    if x.size < int(0.5 * fs):
        return empty
    finite = np.isfinite(x)
    all_finite = bool(finite.all())
    if not all_finite:
        if not finite.any():
            return empty
        x = np.where(finite, x, 0.0)
    k = max(1, int(fs // WORK_RATE))
    wfs = fs / k
    small = _decimate(x, k)
    if small.size < 16:
        return empty
    energy, slope2 = _energy_and_slope(small, wfs)
    if not all_finite:
        energy[~finite[: small.size * k: k]] = 0.0
    distance = max(1, int(round(REFRACTORY_S * wfs)))
    candidates, props = signal.find_peaks(energy, distance=distance, height=0.0)
    if candidates.size == 0:
        return empty
    heights = props["peak_heights"]
    # A floor: flat, railed or very quiet stretches must give no beats.
    probe = energy[:: max(1, energy.size // 200_000)]
    mad = float(np.median(np.abs(probe - np.median(probe))))
    floor = max(2.0 * mad, 0.002 * float(np.percentile(heights, 99)), 1e-30)
    level = _local_level(heights)
    keep = (heights >= THRESHOLD * level) & (heights > floor)
    keep[keep] = ~_weak_neighbour(candidates[keep], heights[keep], wfs)
    beats = candidates[keep]
    if beats.size >= 3:
        beats = _search_back(beats, candidates, heights, level, floor, wfs)
        beats = beats[~_slow_after_beat(beats, slope2, wfs)]
    beats = _place_on_r(x, fs, beats * k + k // 2)
    beats = np.sort(beats)
    if beats.size > 1:  # two humps placed on one R peak, or closer than half a refractory period
        beats = beats[np.concatenate([[True], np.diff(beats) >= int(REFRACTORY_S * fs) // 2])]
    return QRSResult(beats.astype(np.int64), fs)


#: Share of a signal, not analyzable, from which the detector's floor is the noise's: the floor is twice the
#: median absolute deviation of the energy over the whole signal, a median statistic, which holds while
#: less than half of the signal is noise and follows the noise from half on. There the analysis finds the
#: beats again in each stretch between the noise, read on its own (ambulatory 0.5.45).
FLOOR_BREAKDOWN = 0.5


def _weak_neighbour(beats: np.ndarray, heights: np.ndarray, fs: float) -> np.ndarray:
    """Beats closer than :data:`CLOSE_S` to a neighbouring beat whose hump is over 1 / :data:`CLOSE_RATIO`
    times their own: a large P or T wave next to its QRS (Pan & Tompkins' T-wave test, made symmetric). Two
    real beats that close (a couplet, a fast run) have humps of like size.

    Where the close pair stands alone (both neighbouring intervals over :data:`PAIR_ISOLATION` times its
    own), the smaller hump goes already under :data:`PAIR_RATIO` of the other: one P or T wave counted
    beside each QRS (MIT-BIH 108's large P waves on a small, noisy QRS) gives alternating short and long
    intervals, whereas real beats under 250 ms apart come in runs whose other intervals are as short.
    """
    weak = np.zeros(beats.size, dtype=bool)
    if beats.size < 2:
        return weak
    rr = np.diff(beats).astype(float)
    close = rr < CLOSE_S * fs
    before = np.concatenate([[np.inf], rr[:-1]])
    after = np.concatenate([rr[1:], [np.inf]])
    alone = close & (before > PAIR_ISOLATION * rr) & (after > PAIR_ISOLATION * rr)
    limit = np.where(alone, PAIR_RATIO, CLOSE_RATIO)
    ratio = heights[:-1] / np.maximum(heights[1:], 1e-30)
    weak[:-1] |= close & (ratio < limit)
    weak[1:] |= close & (ratio > 1.0 / limit)
    return weak


def _slow_after_beat(beats: np.ndarray, slope2: np.ndarray, fs: float) -> np.ndarray:
    """Beats within :data:`T_WAVE_S` and :data:`T_WAVE_RR` of the local RR after the beat before them whose
    steepest slope (the squared slope ``slope2`` of the 5-20 Hz band, within :data:`SLOPE_WINDOW_S`) is
    under :data:`T_WAVE_SLOPE` of that beat's: a T wave (Pan & Tompkins' slope test). A large T wave after
    a PVC makes an energy hump as big as the PVC's own, but it rises at a fraction of a QRS's slope; a
    second QRS that early (a couplet, VT) is as steep. A dropped beat is not the reference of the next."""
    drop = np.zeros(beats.size, dtype=bool)
    rr = np.diff(beats)
    _, local = _long_rr(beats)
    close = np.flatnonzero((rr < T_WAVE_S * fs) & (rr < T_WAVE_RR * local))
    if close.size == 0:
        return drop
    half = max(1, int(round(SLOPE_WINDOW_S * fs)))
    at = np.unique(np.concatenate([close, close + 1]))
    idx = np.clip(beats[at][:, None] + np.arange(-half, half + 1)[None, :], 0, slope2.size - 1)
    steepest = dict(zip(at.tolist(), slope2[idx].max(axis=1).tolist(), strict=True))
    reference = -1
    for i in close.tolist():
        if not drop[i]:
            reference = i
        elif reference < 0 or beats[i + 1] - beats[reference] >= T_WAVE_S * fs:
            continue  # the beat before was a T wave, and the kept one before it is too far back
        if steepest[i + 1] < T_WAVE_SLOPE ** 2 * steepest[reference]:
            drop[i + 1] = True
    return drop


def _long_rr(beats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(indices i of the RR intervals beats[i] -> beats[i + 1] longer than SEARCHBACK_RR x the local
    median RR, that local median for every interval): the gaps a search-back or another lead may fill."""
    rr = np.diff(beats)
    local = ndimage.median_filter(rr.astype(float), size=min(9, rr.size), mode="nearest")
    return np.flatnonzero(rr > SEARCHBACK_RR * local), local


def _search_back(beats: np.ndarray, candidates: np.ndarray, heights: np.ndarray, level: np.ndarray,
                 floor: float, fs: float) -> np.ndarray:
    """Fill RR gaps longer than 1.35x the local median RR with the largest lower-threshold candidate.

    A candidate must lie at least half the local RR after the previous beat (a T wave does not
    qualify: ectopic beats rarely come earlier than that) and a refractory period before the next one.
    Repeated a few times, so a stretch of several small beats is filled beat by beat.
    """
    margin = int(REFRACTORY_S * fs)
    ok = (heights >= SEARCHBACK_THRESHOLD * level) & (heights > floor)
    pool, pool_h = candidates[ok], heights[ok]
    for _ in range(SEARCHBACK_PASSES):
        gaps, local = _long_rr(beats)
        if gaps.size == 0:
            break
        start = beats[gaps] + np.maximum(margin, (SEARCHBACK_MIN_RR * local[gaps]).astype(np.int64))
        lo = np.searchsorted(pool, start, side="left")
        hi = np.searchsorted(pool, beats[gaps + 1] - margin, side="right")
        added = [pool[a + int(np.argmax(pool_h[a:b]))] for a, b in zip(lo, hi, strict=True) if b > a]
        if not added:
            break
        beats = np.sort(np.concatenate([beats, np.asarray(added, dtype=beats.dtype)]))
    return beats


#: A backup lead's beat fills a primary-lead gap only when the backup also has beats within this many
#: seconds of the two primary beats around the gap (the two leads agree where both are readable).
BACKUP_AGREEMENT_S = 0.1


@dataclass(frozen=True)
class MultiLeadQRS:
    """R-peak samples from several leads: the primary lead's beats plus those a backup lead supplied
    where the primary lost them, and which lead gave each beat."""

    samples: np.ndarray
    source_lead: np.ndarray  # lead index (column of the input) of each beat
    fs: float
    primary: int = 0

    @property
    def from_backup(self) -> np.ndarray:
        """True for beats found only on a backup lead."""
        return np.asarray(self.source_lead != self.primary)

    def __len__(self) -> int:
        return int(self.samples.size)


def lost_gaps(x: np.ndarray, fs: float, beats: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """For each gap ``(left, right)`` of the primary lead ``x``: did the lead lose its signal there?

    Lost means the slow part of the signal (a 200 ms moving mean, which a QRS barely moves) strays from
    its level around the gap by more than the lead's typical QRS height: an amplifier blocked or railed
    by a movement, as in MIT-BIH 208. A real pause keeps its baseline and is never called lost.
    """
    half = max(1, int(round(PEAK_WINDOW_S * fs)))
    idx = np.clip(beats[:: max(1, beats.size // 500)][:, None] + np.arange(-half, half + 1), 0, x.size - 1)
    qrs_height = float(np.median(np.ptp(x[idx], axis=1)))
    width = max(1, int(round(0.2 * fs)))
    context = int(5 * fs)
    lost = np.zeros(left.size, dtype=bool)
    for i, (a, b) in enumerate(zip(left, right, strict=True)):
        lo, hi = max(0, int(a) - context), min(x.size, int(b) + context)
        slow = _moving_sum(np.nan_to_num(x[lo:hi]).astype(np.float32), width) / width
        inside = slow[int(a) - lo:int(b) - lo]
        lost[i] = inside.size > 0 and float(np.max(np.abs(inside - np.median(slow)))) > qrs_height
    return lost


def near_any(a: np.ndarray, b: np.ndarray, tol: int) -> np.ndarray:
    """For each sample of ``a``, whether the sorted samples ``b`` hold one within ``tol`` samples."""
    a, b = np.asarray(a), np.asarray(b)
    if a.size == 0 or b.size == 0:
        return np.zeros(a.size, dtype=bool)
    j = np.clip(np.searchsorted(b, a), 1, max(b.size - 1, 1))
    near = np.minimum(np.abs(b[np.minimum(j, b.size - 1)] - a), np.abs(b[j - 1] - a))
    return np.asarray(near <= tol)


def fill_gaps_from_backup(primary: np.ndarray, backup: np.ndarray, fs: float,
                          lost: np.ndarray | None = None) -> np.ndarray:
    """Indices into ``backup`` of the beats that fill the primary lead's unexplained RR gaps.

    A gap is an RR interval longer than 1.35x the local median RR of the primary (the search-back rule).
    The backup lead's beats inside it (a refractory period away from both ends) are taken when the
    backup agrees with the primary on both beats that bound the gap, or when the primary lost its signal
    in the gap (``lost``, one flag per RR interval of ``primary``, see :func:`lost_gaps`).
    So a saturated stretch of the primary is bridged, while a real pause (no beat on any lead, baseline
    kept) or a noisy backup lead adds nothing.
    """
    primary = np.asarray(primary, dtype=np.int64)
    backup = np.asarray(backup, dtype=np.int64)
    empty = np.zeros(0, dtype=np.int64)
    if primary.size < 3 or backup.size == 0:
        return empty
    gaps, local = _long_rr(primary)
    if gaps.size == 0:
        return empty
    tol = int(round(BACKUP_AGREEMENT_S * fs))
    margin = int(REFRACTORY_S * fs)

    left, right = primary[gaps], primary[gaps + 1]
    ok = near_any(left, backup, tol) & near_any(right, backup, tol)
    if lost is not None:
        ok |= np.asarray(lost, dtype=bool)[gaps]
    picked: list[np.ndarray] = []
    for a, b, ref in zip(left[ok], right[ok], local[gaps][ok], strict=True):
        lo = np.searchsorted(backup, a + margin, side="left")
        hi = np.searchsorted(backup, b - margin, side="right")
        # every interval of the bridged stretch must be a plausible RR: a backup lead that fires faster
        # than that is reading noise there, and gives nothing
        if hi > lo and np.diff(np.concatenate([[a], backup[lo:hi], [b]])).min() >= SEARCHBACK_MIN_RR * ref:
            picked.append(np.arange(lo, hi))
    return np.concatenate(picked) if picked else empty


#: A beat of the analysed lead that no other lead shows, where at least this many other leads show the beats
#: before and after it, is a wave of the analysed lead alone (:func:`confirmed_by_others`).
CONFIRMING_LEADS = 2


def confirmed_by_others(primary: np.ndarray, others: list[np.ndarray], tol: int) -> np.ndarray:
    """Which beats of ``primary`` (sorted samples) to keep, given the beats each other lead shows: all of
    them, but a beat no other lead has within ``tol`` samples while at least :data:`CONFIRMING_LEADS` other
    leads have both the beat before it and the beat after it. Those leads follow the rhythm there and see
    no QRS: the analysed lead counted a wave of its own (a tall T wave in lead aVL or III, a pacing spike
    in V1; LUDB 80, 64, 45). A Holter's one other lead cannot outvote the analysed lead, so this needs
    :data:`CONFIRMING_LEADS` of them."""
    primary = np.asarray(primary, dtype=np.int64)
    if primary.size < 3 or len(others) < CONFIRMING_LEADS:
        return np.ones(primary.size, dtype=bool)
    before = np.concatenate([[primary[0]], primary[:-1]])
    after = np.concatenate([primary[1:], [primary[-1]]])
    seen = np.zeros(primary.size, dtype=bool)
    following = np.zeros(primary.size, dtype=np.int64)
    for beats in others:
        seen |= near_any(primary, beats, tol)
        following += near_any(before, beats, tol) & near_any(after, beats, tol)
    inner = np.ones(primary.size, dtype=bool)
    inner[[0, -1]] = False
    return np.asarray(seen | ~inner | (following < CONFIRMING_LEADS))


def bridge_with_backup(
    ecg: np.ndarray,
    fs: float,
    primary: int,
    samples: np.ndarray,
    detect: Callable[[np.ndarray, float], np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """``samples`` (the primary lead's beats) with the other leads' beats that fill its lost stretches
    (:func:`fill_gaps_from_backup`), and the source lead of each; ``detect`` finds a lead's beats. With more
    than one other lead, a beat for a gap the primary did not lose must be found on two of them, and a
    primary beat the other leads do not confirm is dropped (:func:`confirmed_by_others`)."""
    samples = np.asarray(samples, dtype=np.int64)
    if ecg.shape[1] == 1 or samples.size < 3:
        return samples, np.full(samples.size, primary, dtype=np.int16)
    others = [lead for lead in range(ecg.shape[1]) if lead != primary]
    found: dict[int, np.ndarray] = {}

    def beats_of(lead: int) -> np.ndarray:
        if lead not in found:
            found[lead] = np.asarray(detect(np.asarray(ecg[:, lead], dtype=np.float64), fs), dtype=np.int64)
        return found[lead]

    tol = int(round(BACKUP_AGREEMENT_S * fs))
    if len(others) >= CONFIRMING_LEADS:
        samples = samples[confirmed_by_others(samples, [beats_of(lead) for lead in others], tol)]
    source = np.full(samples.size, primary, dtype=np.int16)
    if samples.size < 3:
        return samples, source
    lead_x = np.asarray(ecg[:, primary], dtype=np.float64)
    gaps, _ = _long_rr(samples)
    if gaps.size == 0:
        return samples, source
    lost = np.zeros(samples.size - 1, dtype=bool)
    lost[gaps] = lost_gaps(lead_x, fs, samples, samples[gaps], samples[gaps + 1])
    base = samples
    for lead in others:
        backup = beats_of(lead)
        add = backup[fill_gaps_from_backup(base, backup, fs, lost)]
        if len(others) >= CONFIRMING_LEADS:
            # With several backup leads (a 12-lead record), a beat in a gap the analysed lead did not lose
            # must show on a second one: one lead of eleven alone reads a fibrillatory or T wave in a long
            # RR of AF (LUDB 38). A lost stretch may have one readable lead left, and is bridged as before.
            in_lost = lost[np.clip(np.searchsorted(base, add) - 1, 0, lost.size - 1)]
            confirmed = np.zeros(add.size, dtype=bool)
            for other in others:
                if other != lead:
                    confirmed |= near_any(add, beats_of(other), tol)
            add = add[in_lost | confirmed]
        # a beat another backup lead already supplied is not added twice
        add = add[~near_any(add, samples, int(REFRACTORY_S * fs))]
        if add.size:
            order = np.argsort(np.concatenate([samples, add]), kind="stable")
            samples = np.concatenate([samples, add])[order]
            source = np.concatenate([source, np.full(add.size, lead, dtype=np.int16)])[order]
    return samples, source


def detect_qrs_multilead(ecg: np.ndarray, fs: float, primary: int = 0) -> MultiLeadQRS:
    """Detect beats on lead ``primary`` of ``ecg`` (samples x leads) and bridge its lost stretches with
    the other leads, as multi-channel Holter systems do (:func:`bridge_with_backup`)."""
    x = np.asarray(ecg)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or not 0 <= primary < x.shape[1]:
        raise InputError("primary", f"must index a lead of the {x.shape[1] if x.ndim == 2 else 0}-lead "
                         f"signal, got {primary}")

    def detect(lead: np.ndarray, rate: float) -> np.ndarray:
        return detect_qrs(lead, rate).samples

    samples, source = bridge_with_backup(x, fs, primary, detect(np.asarray(x[:, primary]), fs), detect)
    return MultiLeadQRS(samples, source, fs, primary)
