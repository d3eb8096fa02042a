"""Suspected AV block from the beat sequence and the analysed lead, and the diastole reading that also
checks pauses.

**AV block (suspected).** A long RR interval (``avb_rr_factor`` times the preceding median) that holds
a P-like deflection in mid-diastole, as big as the P wave before the last conducted QRS, is a blocked
P wave: second-degree AV block suspected (not among beats too rough to classify, :func:`_rough_near`).
A slow (``avb3_max_bpm``) sustained rhythm whose diastoles mostly hold such deflections, at places that
vary both after the QRS before and before the QRS after (SD >= 80 ms: the P waves march through), is
P-QRS dissociation: complete AV block suspected. Both need over-read.

**Pauses, checked.** A long RR interval that holds a deflection at least half the size of the QRS before it
is a beat the detector missed, not a pause (:func:`checked_pauses`, :func:`undetected_complex`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ecgdesk.analysis.beat_rhythm import window_quantile
from ecgdesk.analysis.config import AnalysisConfig
from ecgdesk.analysis.findings import Episode, EpisodeType
from ecgdesk.analysis.rhythm import SegmentReader, in_spans, pause_episodes
from ecgdesk.analysis.series import BeatSeries

#: Complete block: the atrial deflections' places after the QRS must spread at least this much (SD, s).
AVB3_MIN_PLACE_SPREAD_S = 0.08


@dataclass(frozen=True)
class Diastole:
    """What one RR interval shows (mV): the P before its first QRS, the largest mid-diastolic deflection and
    where it lies (s after that QRS), the diastole's noise level and the first QRS's height."""

    p_ref: float
    mid: float
    mid_at_s: float
    noise: float
    qrs: float


def _smooth(seg: np.ndarray, k: int) -> np.ndarray:
    """``k``-sample moving average, same length (the 40 ms smoothing every P-wave reading uses)."""
    return np.convolve(seg, np.ones(k) / k, mode="same")


def _diastole(seg: np.ndarray, fs: float, r_prev: int, r_next: int) -> Diastole:
    """Read the RR interval ``r_prev -> r_next``; ``seg`` starts 0.4 s before r_prev.

    Deflections are measured on the 40 ms-smoothed signal minus its 0.4 s running median, which removes
    baseline wander but keeps P-wave-sized bumps."""
    k = max(1, int(round(0.04 * fs)))
    sm = _smooth(seg, k)
    hp = sm - ndimage.median_filter(sm, size=max(3, int(0.4 * fs)), mode="nearest")
    rp = 0.4
    i0, i1 = int((rp - 0.26) * fs), int((rp - 0.08) * fs)
    p_ref = float(np.max(np.abs(hp[i0:i1]))) if i1 > i0 else 0.0
    q0, q1 = int((rp - 0.06) * fs), int((rp + 0.06) * fs) + 1
    qrs = float(np.max(np.abs(hp[q0:q1]))) if q1 > q0 else 0.0
    span = (r_next - r_prev) / fs
    lo, hi = int((rp + 0.45) * fs), int((rp + span - 0.3) * fs)
    if hi - lo < int(0.15 * fs):
        return Diastole(p_ref, 0.0, float("nan"), 0.0, qrs)
    window = hp[lo:hi]
    at = int(np.argmax(np.abs(window)))
    noise = 3.0 * float(np.median(np.abs(window - np.median(window)))) / 0.6745
    return Diastole(p_ref, float(abs(window[at])), (lo + at) / fs - rp, noise, qrs)


def undetected_complex(series: BeatSeries, i: int, read: SegmentReader) -> bool:
    """Whether the RR interval ending at beat ``i`` holds a QRS-sized deflection (a beat the detector
    missed), so it is not a pause or a blocked P wave."""
    fs = series.fs
    r0, r1 = int(series.samples[i - 1]), int(series.samples[i])
    if r0 - int(0.4 * fs) < 0:
        return False
    d = _diastole(read(r0 - int(0.4 * fs), r1), fs, r0, r1)
    return d.qrs > 0 and d.mid >= 0.5 * d.qrs


def checked_pauses(
    series: BeatSeries, config: AnalysisConfig, af: list[Episode], read: SegmentReader | None
) -> tuple[list[Episode], int]:
    """Pauses without an undetected complex inside, and how many long RR intervals had one."""
    pauses = pause_episodes(series, config, af)
    if read is None:
        return pauses, 0
    index = np.searchsorted(series.samples, [p.end_sample for p in pauses])
    keep = [p for p, i in zip(pauses, index.tolist(), strict=True) if not undetected_complex(series, i, read)]
    return keep, len(pauses) - len(keep)


def _conducted_p(r1: np.ndarray, read: SegmentReader, fs: float, k: int) -> bool:
    """Whether an atrial-sized wave keeps one place (SD < 30 ms) in the PR window (350-60 ms) before
    each QRS: a conducted P, whatever else the diastoles hold."""
    a, b = int(0.35 * fs), int(0.06 * fs)
    places, sizes = [], []
    for r in r1.tolist():
        seg = read(max(0, r - a - k), r - b + k)
        sm = _smooth(seg, k)[k:-k] if seg.size > 2 * k else seg
        sm = sm - np.median(sm)
        i = int(np.argmax(np.abs(sm)))
        places.append(i / fs)
        sizes.append(float(abs(sm[i])))
    return float(np.median(sizes)) >= 0.04 and float(np.std(places)) < 0.03


def _moving_atrial_waves(
    series: BeatSeries, pick: np.ndarray, read: SegmentReader
) -> tuple[int, float] | None:
    """(diastoles holding an atrial-sized deflection, the smaller SD of its place after the QRS before and
    before the QRS after) over the RR intervals ending at beats ``pick``; None when there are too few.

    The diastoles are aligned on the QRS before them and their median is subtracted first: what keeps its
    place after that QRS (the T wave's tail, a U wave) cancels. A conducted P keeps its place before the
    next QRS (:func:`_conducted_p` vetoes), a dissociated one keeps neither, so both spreads must be large.
    """
    fs = series.fs
    r0 = series.samples[pick - 1].astype(np.int64)
    r1 = series.samples[pick].astype(np.int64)
    lo = int(0.3 * fs)
    hi = int(np.min(r1 - r0)) - int(0.12 * fs)
    if pick.size < 5 or hi - lo < int(0.2 * fs):
        return None
    k = max(1, int(round(0.04 * fs)))
    rows, qrs = [], []
    for a in r0.tolist():
        seg = read(max(0, a - int(0.06 * fs)), a + hi)
        sm = _smooth(seg, k)
        qrs.append(float(np.ptp(sm[: int(0.12 * fs)])))
        rows.append(sm[-(hi - lo):])
    if len({r.size for r in rows}) != 1:
        return None
    diastoles = np.vstack(rows)
    diastoles -= np.median(diastoles, axis=1, keepdims=True)
    residual = diastoles - np.median(diastoles, axis=0)
    at = np.argmax(np.abs(residual), axis=1)
    size = np.abs(residual[np.arange(at.size), at])
    # one noise level for the stretch: a row's own spread grows with the P wave it holds
    noise = 3.0 * float(np.median(np.median(np.abs(residual), axis=1))) / 0.6745
    ok = (size >= 0.04) & (size > noise) & (size < 0.4 * np.asarray(qrs))
    if ok.sum() < 2 or _conducted_p(r1, read, fs, k):
        return int(ok.sum()), 0.0
    after = (lo + at[ok]) / fs
    before = (r1 - r0)[ok] / fs - after
    return int(ok.sum()), float(min(np.std(after), np.std(before)))


#: Beat classes of a conducted beat around a blocked P wave. S counts: in grouped beating the beat before
#: the block comes early for a rhythm that holds the blocked beats' long RRs, and the S model calls it S.
CONDUCTED = ("N", "S")
#: The shortest RR (s) that may hold a blocked P wave (:func:`blocked_p_episodes`).
BLOCKED_P_MIN_RR_S = 1.0


def av_block_episodes(
    series: BeatSeries,
    config: AnalysisConfig,
    read: SegmentReader | None,
    exclude: list[Episode],
    brady: list[Episode],
    max_candidates: int = 2000,
    blocked: list[Episode] | None = None,
) -> list[Episode]:
    """Suspected second-degree (blocked P in a long RR) and complete (P-QRS dissociation) AV block.
    ``blocked``: the second-degree ones when :func:`blocked_p_episodes` has found them already (those
    ending inside ``exclude`` are left out, as they would be found)."""
    if read is None or series.n < 10:
        return []
    if blocked is None:
        out = blocked_p_episodes(series, config, read, exclude, max_candidates)
    else:
        out = [e for e in blocked if not in_spans(np.array([e.end_s]), exclude)[0]]
    return out + _dissociation_episodes(series, config, read, brady)


#: The beats whose RRs a long RR is judged against: from 5 before its own to 3 after it.
RR_AROUND_REACH = (5, 3)
#: Fewest valid RRs among the 9 around a beat for :func:`_rr_around` to give their median.
RR_AROUND_MIN_VALID = 5


def _rr_around(series: BeatSeries) -> np.ndarray:
    """Per beat, the median of the valid RRs among the 9 from 5 before its own to 3 after it (NaN where
    fewer than :data:`RR_AROUND_MIN_VALID` are valid). The recording's first RR, and those over noise,
    are no intervals: read as 0 s they made the median 0 at a strip's start, so that any RR of a second
    there passed for a dropped beat (31 of the 1,546 normal CinC strips were urgent high-grade block;
    algorithm 0.5.42)."""
    rr = np.where(series.valid & np.isfinite(series.rr_s), series.rr_s, np.nan)
    median, valid = window_quantile(rr, np.arange(series.n), 0.5, reach=RR_AROUND_REACH)
    return np.where(valid >= RR_AROUND_MIN_VALID, median, np.nan)


def _rough_near(labels: np.ndarray, i: int) -> bool:
    """Whether a beat among the 9 whose RRs the RR ending at beat ``i`` is judged against
    (:data:`RR_AROUND_REACH`) is Q: a detection the classifier found too rough to read (noise). A long RR
    there, and the median RR it is judged against, are read from a beat series that holds noise, and its
    "blocked P wave" is a smoothed noise bump. The recording's first and last beats are not counted: a
    beat the recording cuts off is Q for that alone."""
    before, after = RR_AROUND_REACH
    around = labels[max(1, i - before):min(labels.size - 1, i + after + 1)]
    return bool(np.any(around == "Q"))


def blocked_p_episodes(
    series: BeatSeries,
    config: AnalysisConfig,
    read: SegmentReader | None,
    exclude: list[Episode],
    max_candidates: int = 2000,
) -> list[Episode]:
    """Suspected second-degree AV block: a long RR between two conducted beats that holds a blocked P."""
    if read is None or series.n < 10:
        return []
    fs = series.fs
    rr = np.nan_to_num(series.rr_s)
    prior = _rr_around(series)
    with np.errstate(invalid="ignore"):
        cand = np.flatnonzero(series.valid & (rr >= config.avb_rr_factor * prior)
                              & (rr >= BLOCKED_P_MIN_RR_S))
    cand = cand[np.isin(series.labels[cand], CONDUCTED) & np.isin(series.labels[cand - 1], CONDUCTED)]
    cand = cand[~in_spans(series.times_s[cand], exclude)][:max_candidates]
    labels = np.asarray(series.labels)
    out: list[Episode] = []
    for i in cand.tolist():
        if _rough_near(labels, i):
            continue
        r0, r1 = int(series.samples[i - 1]), int(series.samples[i])
        start = r0 - int(0.4 * fs)
        if start < 0:
            continue
        d = _diastole(read(start, r1), fs, r0, r1)
        p_ref, mid, noise, qrs = d.p_ref, d.mid, d.noise, d.qrs
        p_sized = 0.6 * p_ref <= mid <= 3.0 * p_ref and mid < 0.4 * qrs
        if p_ref >= 0.04 and p_sized and mid > noise:
            out.append(
                Episode(
                    EpisodeType.AVB2,
                    r0 / fs,
                    r1 / fs,
                    r0,
                    r1,
                    2,
                    60.0 / rr[i],
                    60.0 / rr[i],
                    f"P-like deflection {mid:.2f} mV (P {p_ref:.2f} mV) not followed by a QRS in "
                    f"RR {rr[i]:.2f} s",
                    suspected=True,
                )
            )
    return out


def _dissociation_episodes(
    series: BeatSeries, config: AnalysisConfig, read: SegmentReader, brady: list[Episode]
) -> list[Episode]:
    """Suspected complete AV block: a slow rhythm whose atrial waves keep no place to either QRS."""
    out: list[Episode] = []
    for e in brady:
        if e.mean_rate_bpm is None or e.mean_rate_bpm >= config.avb3_max_bpm:
            continue
        inside = np.flatnonzero((series.samples > e.start_sample) & (series.samples <= e.end_sample))
        inside = inside[series.valid[inside]]
        if inside.size < 5:
            continue
        inside = inside[2:-2]  # the episode's edges hold beats of the rhythm around it
        pick = inside[np.linspace(0, inside.size - 1, min(12, inside.size)).astype(int)]
        waves = _moving_atrial_waves(series, pick, read)
        if waves is None:
            continue
        hits, spread = waves
        if hits >= 0.6 * pick.size and spread >= AVB3_MIN_PLACE_SPREAD_S:
            out.append(
                Episode(
                    EpisodeType.AVB3,
                    e.start_s,
                    e.end_s,
                    e.start_sample,
                    e.end_sample,
                    e.n_beats,
                    e.mean_rate_bpm,
                    e.max_rate_bpm,
                    f"rate {e.mean_rate_bpm:.0f} bpm with atrial deflections in {hits}/{pick.size} "
                    f"diastoles that keep no place to either QRS (SD {spread:.2f} s: P-QRS dissociation)",
                    suspected=True,
                )
            )
    return out


def conducted_not_ectopic(samples: np.ndarray, labels: np.ndarray, blocked: list[Episode],
                          grouped: list[Episode]) -> bool:
    """Relabel N (in place, in ``labels``) the S beats just before a blocked P wave and those inside
    Wenckebach grouped beating (second-degree AV block); whether any was.

    In grouped beating (3:2, Wenckebach) the last conducted beat of a group comes before a longer RR and
    early for a rhythm that holds the blocked beats' long RRs, so the S model calls it S; it is a conducted
    sinus beat (N in AAMI EC57), and counted as S it would turn the block into atrial bigeminy or PACs.
    """
    if not blocked and not grouped:
        return False
    is_s = labels == "S"
    starts = np.array([e.start_sample for e in blocked], dtype=np.int64)
    at = np.searchsorted(samples, starts)
    inside = at < samples.size
    relabel = np.zeros(samples.size, dtype=bool)
    relabel[at[inside][samples[at[inside]] == starts[inside]]] = True
    for e in grouped:
        relabel |= (samples >= e.start_sample) & (samples <= e.end_sample)
    relabel &= is_s
    labels[relabel] = "N"
    return bool(relabel.any())
