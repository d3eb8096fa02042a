"""Rhythm episodes from the beat sequence: atrial fibrillation, pauses, sinus brady/tachycardia (AV block:
:mod:`ecgdesk.analysis.av_block`).

**AF.** For each RR interval between supraventricular beats (intervals touching a V/F/Q beat or an
unanalyzable stretch are left out), the successive difference ``|RR[i] - RR[i-1]|`` is divided by the local
mean RR. Its running median over ``af_window_beats`` intervals is the irregularity score: near 0.02-0.05
in sinus rhythm, with or without slow rate changes, and about 0.2 in AF (irregularly irregular RR). AF
starts where the score exceeds ``af_on`` and lasts while it stays above ``af_off`` (hysteresis);
episodes closer than ``af_merge_gap_s`` are merged and those shorter than ``af_min_s`` dropped. Then
the atrial evidence: the P-wave windows (R-300 to R-50 ms) of successive normal beats (each after a normal
beat, :func:`p_wave_consistency`) correlate near 1 in sinus rhythm and near 0 in AF (fibrillatory waves
at random phase); an episode whose correlation exceeds ``af_p_consistency`` keeps a repeating P wave and
is dropped (irregular sinus rhythm, frequent PACs). On CinC 2017 strips (first 900, simple detector, all
beats then) 0.5 dropped none of the AF strips flagged by RR and 8 % of the falsely flagged normal ones.
Episodes whose RR alternates with period 2 (Mobitz 3:2 block, atrial bigeminy: small lag-2 differences,
``af_pattern_ratio``) are not AF either, nor are those whose rhythm
under the ectopic beats is regular: the same score over the RR pairs of three normal beats in a row stays
at or under ``af_on`` (frequent PACs in no pattern; :func:`underlying_irregularity`, algorithm 0.5.35).

**Pauses.** Valid RR intervals of at least ``pause_s`` (counted also at ``long_pause_s``); those holding
a beat the detector missed are dropped by :func:`ecgdesk.analysis.av_block.checked_pauses` (the count of
such intervals goes to the messages).

**Brady/tachy.** The rate over ``rate_window_beats`` valid intervals, outside AF, below ``brady_bpm``
or above ``tachy_bpm`` for at least ``rate_episode_min_s``.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable

import numpy as np
from scipy import ndimage

from ecgdesk.analysis import flutter
from ecgdesk.analysis.config import AnalysisConfig
from ecgdesk.analysis.findings import Episode, EpisodeType
from ecgdesk.analysis.quality import runs
from ecgdesk.analysis.series import BeatSeries

#: Reads samples [start, stop) of the analysed lead in mV.
SegmentReader = Callable[[int, int], np.ndarray]
#: Blocks of normal beats :func:`p_wave_consistency` reads at most (spread evenly over a long episode).
P_CONSISTENCY_BLOCKS = 16


def _episode(kind: EpisodeType, series: BeatSeries, i0: int, i1: int, evidence: str = "") -> Episode:
    """Episode spanning beats i0..i1 (inclusive); rates from the RR intervals inside it."""
    s0, s1 = int(series.samples[i0]), int(series.samples[i1])
    rr = series.rr_s[i0 + 1 : i1 + 1]
    rr = rr[np.isfinite(rr) & (rr > 0)]
    mean_rate = float(60.0 * rr.size / rr.sum()) if rr.size else None
    max_rate = float(60.0 / rr.min()) if rr.size else None
    return Episode(kind, s0 / series.fs, s1 / series.fs, s0, s1, i1 - i0 + 1, mean_rate, max_rate, evidence)


def supraventricular_intervals(series: BeatSeries) -> np.ndarray:
    """Indices i whose RR interval (beat i-1 -> i) is valid and joins two N/S beats."""
    if series.n < 2:
        return np.zeros(0, dtype=np.int64)
    sv = np.isin(series.labels, ("N", "S"))
    ok = series.valid.copy()
    ok[1:] &= sv[1:] & sv[:-1]
    ok[0] = False
    return np.flatnonzero(ok)


def _rr_change(rr: np.ndarray, j: np.ndarray) -> np.ndarray:
    """|RR[j] - RR[j-1]| over the mean of the two: the irregularity of each interval pair ending at ``j``."""
    return np.asarray(np.abs(rr[j] - rr[j - 1]) / (0.5 * (rr[j] + rr[j - 1])))


def af_score(series: BeatSeries, config: AnalysisConfig) -> tuple[np.ndarray, np.ndarray]:
    """(beat indices, irregularity score) on consecutive pairs of supraventricular intervals."""
    idx = supraventricular_intervals(series)
    if idx.size < 3:
        return idx[:0], np.zeros(0)
    consecutive = np.diff(idx) == 1
    rr = series.rr_s
    j = idx[1:][consecutive]
    d = _rr_change(rr, j)
    if d.size == 0:
        return j, d
    w = min(config.af_window_beats, d.size)
    score = ndimage.median_filter(d, size=w, mode="nearest")
    return j, score


def af_episodes(series: BeatSeries, config: AnalysisConfig) -> list[Episode]:
    """AF episodes by RR irregularity with hysteresis, merged and filtered by duration; an irregular
    stretch whose RR intervals are multiples of one flutter cycle is a flutter episode instead
    (:mod:`ecgdesk.analysis.flutter`).

    A run of high score never bridges a stretch without valid intervals (noise, lead off, a V run);
    episodes closer than ``af_merge_gap_s`` are merged, and an episode must hold ``af_min_s`` of
    valid RR time."""
    j, score = af_score(series, config)
    if score.size == 0:
        return []
    high = score > config.af_off
    t = series.times_s
    gap = np.concatenate(([False], np.diff(t[j]) > 5.0))
    spans: list[tuple[int, int]] = []
    for a, b in runs(high):
        cuts = [a, *(np.flatnonzero(gap[a + 1 : b]) + a + 1).tolist(), b]
        for lo, hi in itertools.pairwise(cuts):
            if np.any(score[lo:hi] > config.af_on):
                spans.append((int(j[lo]) - 1, int(j[hi - 1])))  # beats: start of first interval .. last beat
    merged: list[list[int]] = []
    for a, b in spans:
        if merged and t[a] - t[merged[-1][1]] <= config.af_merge_gap_s:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    out = []
    for a, b in merged:
        if valid_seconds(series, a, b) < config.af_min_s:
            continue
        inside = (j > a) & (j <= b)
        med = float(np.median(score[inside])) if np.any(inside) else float("nan")
        pattern = _bigeminal_ratio(series, j[inside])
        repeating = pattern is not None and pattern < config.af_pattern_ratio
        quantized = flutter.rr_quantization(series.rr_s[j[inside]])
        # RR intervals that are multiples of one atrial cycle: flutter. Two alternating intervals fit some
        # cycle by chance (atrial bigeminy 0.50/0.75 s, Mobitz 3:2), so a repeating pattern needs three.
        if flutter.is_flutter(quantized) and quantized is not None and (
                not repeating or len(quantized.ratios) >= 3):
            out.append(_episode(EpisodeType.FLUTTER, series, a, b, flutter.evidence(quantized)))
            continue
        if repeating:
            continue  # RR alternating in a repeating pattern (Mobitz 3:2, atrial bigeminy): not AF
        out.append(
            _episode(EpisodeType.AF, series, a, b, f"RR irregularity {med:.2f} (sinus < {config.af_off:g})")
        )
    return out


def _bigeminal_ratio(series: BeatSeries, j: np.ndarray) -> float | None:
    """median(min(|RR[i]-RR[i-1]|, |RR[i]-RR[i-2]|)) / median(|RR[i]-RR[i-1]|) over intervals ``j``.

    About 0.5 in AF (random RR); near 0 when RR alternates in a pattern of period 2, which a lag-1
    difference calls irregular but a lag-2 difference does not."""
    j = j[j >= 2]
    j = j[series.valid[j - 1]]
    if j.size < 8:
        return None
    rr = series.rr_s
    d1 = np.abs(rr[j] - rr[j - 1])
    d2 = np.abs(rr[j] - rr[j - 2])
    den = float(np.median(d1))
    return float(np.median(np.minimum(d1, d2))) / den if den > 0 else None


def p_windows(series: BeatSeries, idx: np.ndarray, read: SegmentReader) -> np.ndarray:
    """Unit-norm, detrended P-wave windows (R-300 to R-50 ms) of the beats ``idx``, shape (k, width)."""
    fs = series.fs
    a, b = int(0.30 * fs), int(0.05 * fs)
    windows = []
    for i in np.asarray(idx).tolist():
        r = int(series.samples[i])
        if r - a < 0:
            continue
        w = read(r - a, r - b).astype(np.float64)
        if w.size != a - b:
            continue
        w = w - np.linspace(w[0], w[-1], w.size)  # remove the baseline slope
        w -= w.mean()
        norm = float(np.sqrt(np.sum(w * w)))
        if norm > 0:
            windows.append(w / norm)
    return np.array(windows) if windows else np.zeros((0, max(a - b, 1)))


def p_wave_consistency(
    series: BeatSeries, i0: int, i1: int, read: SegmentReader, n_beats: int = 24
) -> float | None:
    """How alike the P-wave windows (R-300 to R-50 ms) of successive normal beats i0..i1 are: the mean
    correlation of consecutive windows over a block of ``n_beats``, the median over blocks spread across
    the stretch (at most :data:`P_CONSISTENCY_BLOCKS`).

    Sinus rhythm repeats the same P wave before each QRS (correlation near 1); in AF the window holds
    fibrillatory waves at random phase (near 0). Only N beats that follow an N beat are read: an ectopic
    beat's window holds its own premature P wave or none, and the window of the beat after it the ectopic
    beat's T wave, so with frequent ectopy consecutive windows differed though every sinus beat kept its P
    wave (MIT-BIH 201 at 1,180 s: 0.28 over all beats, 0.78 over these; algorithm 0.5.40). Several blocks,
    not the middle one alone: a long AF episode may hold a stretch of coarse, organised atrial activity.
    ``None`` when there are too few beats to judge."""
    idx = np.arange(max(i0, 0) + 1, i1 + 1)
    labels = series.labels
    idx = idx[series.valid[idx] & (labels[idx] == "N") & (labels[idx - 1] == "N")]
    if idx.size < 4:
        return None
    starts = np.arange(0, max(idx.size - n_beats, 0) + 1, n_beats)
    if starts.size > P_CONSISTENCY_BLOCKS:
        starts = starts[np.linspace(0, starts.size - 1, P_CONSISTENCY_BLOCKS).round().astype(int)]
    blocks = []
    for start in starts.tolist():
        m = p_windows(series, idx[start : start + n_beats], read)
        if m.shape[0] >= 4:
            blocks.append(float(np.mean(np.sum(m[1:] * m[:-1], axis=1))))
    return float(np.median(blocks)) if blocks else None


def same_p_wave(series: BeatSeries, run: np.ndarray, before: np.ndarray, read: SegmentReader) -> float | None:
    """Correlation of the mean P-wave window of ``run`` beats with that of the ``before`` beats."""
    x, y = p_windows(series, run, read), p_windows(series, before, read)
    if x.shape[0] < 2 or y.shape[0] < 2:
        return None
    mx, my = x.mean(axis=0), y.mean(axis=0)
    den = float(np.linalg.norm(mx) * np.linalg.norm(my))
    return float(mx @ my / den) if den > 0 else None


def underlying_irregularity(series: BeatSeries, i0: int, i1: int) -> tuple[float, int]:
    """(median RR change, pairs) over the consecutive RR pairs of beats i0..i1 whose three beats are all N:
    the irregularity of the rhythm under the ectopic beats, scored as :func:`af_score` does."""
    idx = np.arange(max(i0, 0) + 2, i1 + 1)
    lab, ok = series.labels, series.valid
    j = idx[(lab[idx] == "N") & (lab[idx - 1] == "N") & (lab[idx - 2] == "N") & ok[idx] & ok[idx - 1]]
    if j.size == 0:
        return float("nan"), 0
    return float(np.median(_rr_change(series.rr_s, j))), int(j.size)


def confirm_af(
    series: BeatSeries, af: list[Episode], read: SegmentReader | None, config: AnalysisConfig
) -> list[Episode]:
    """Drop AF episodes whose beats keep a repeating P wave (irregular sinus rhythm, frequent PACs), or whose
    rhythm under the ectopic beats is regular (frequent PACs and PVCs in no pattern), and add the atrial
    evidence to the others. AF is irregular between any two conducted beats; the RR changes between normal
    beats with no ectopic beat beside them must reach the AF onset level too (``af_on``, with at least
    ``af_underlying_pairs`` such pairs; algorithm 0.5.35)."""
    out = []
    for e in af:
        i0 = int(np.searchsorted(series.samples, e.start_sample))
        i1 = int(np.searchsorted(series.samples, e.end_sample, side="right")) - 1
        change, pairs = underlying_irregularity(series, i0, i1)
        if pairs >= config.af_underlying_pairs and change <= config.af_on:
            continue
        c = p_wave_consistency(series, i0, i1, read) if read is not None else None
        if c is not None and c > config.af_p_consistency:
            continue
        note = f"; P-wave consistency {c:.2f} (sinus > {config.af_p_consistency:g})" if c is not None else ""
        if pairs >= config.af_underlying_pairs:
            note += f"; between normal beats {change:.2f}"
        out.append(dataclasses.replace(e, evidence=e.evidence + note))
    return out


def valid_seconds(series: BeatSeries, i0: int, i1: int) -> float:
    """Total length of the valid RR intervals between beats i0 and i1."""
    rr = series.rr_s[i0 + 1 : i1 + 1]
    return float(rr[series.valid[i0 + 1 : i1 + 1]].sum())


def episode_valid_seconds(series: BeatSeries, episode: Episode) -> float:
    """Valid (analyzable) RR time inside an episode."""
    i0 = int(np.searchsorted(series.samples, episode.start_sample))
    i1 = int(np.searchsorted(series.samples, episode.end_sample, side="right")) - 1
    return valid_seconds(series, i0, i1) if i1 > i0 else 0.0


def in_spans(times: np.ndarray, episodes: list[Episode]) -> np.ndarray:
    """Whether each of ``times`` (s, ascending) lies inside one of ``episodes``, both ends included. A slice
    per episode, not a comparison of every time: a 14-day recording has over a million beats and may
    have hundreds of AF episodes."""
    mask = np.zeros(times.shape, dtype=bool)
    for e in episodes:
        mask[np.searchsorted(times, e.start_s) : np.searchsorted(times, e.end_s, side="right")] = True
    return mask


def pause_episodes(series: BeatSeries, config: AnalysisConfig, af: list[Episode]) -> list[Episode]:
    idx = np.flatnonzero(series.valid & (np.nan_to_num(series.rr_s) >= config.pause_s))
    in_af = in_spans(series.times_s[idx], af)
    out = []
    for i, a in zip(idx.tolist(), in_af.tolist(), strict=True):
        s0, s1 = int(series.samples[i - 1]), int(series.samples[i])
        rr = float(series.rr_s[i])
        out.append(
            Episode(
                EpisodeType.PAUSE,
                s0 / series.fs,
                s1 / series.fs,
                s0,
                s1,
                2,
                60.0 / rr,
                60.0 / rr,
                f"RR {rr:.2f} s" + (" during AF" if a else ""),
            )
        )
    return out


def smoothed_rate(
    series: BeatSeries, config: AnalysisConfig, sv_only: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(beat indices, bpm over the last ``rate_window_beats`` valid intervals ending at that beat).

    ``sv_only`` keeps only intervals between two supraventricular beats (sinus rate without ectopy)."""
    idx = supraventricular_intervals(series) if sv_only else np.flatnonzero(series.valid)
    w = config.rate_window_beats
    if idx.size < w:
        return idx[:0], np.zeros(0)
    c = np.concatenate(([0.0], np.cumsum(series.rr_s[idx])))
    mean_rr = (c[w:] - c[:-w]) / w
    return idx[w - 1 :], 60.0 / mean_rr


def rate_episodes(series: BeatSeries, config: AnalysisConfig, exclude: list[Episode]) -> list[Episode]:
    """Sustained sinus bradycardia and tachycardia (outside AF and other excluded episodes)."""
    idx, bpm = smoothed_rate(series, config, sv_only=True)
    if idx.size == 0:
        return []
    outside = ~in_spans(series.times_s[idx], exclude)
    # gaps in the valid sequence (noise, lead off) split episodes
    broken = np.concatenate(([False], np.diff(series.samples[idx]) > 5 * series.fs))
    out: list[Episode] = []
    for kind, flag in (
        (EpisodeType.BRADY, bpm < config.brady_bpm),
        (EpisodeType.TACHY, bpm > config.tachy_bpm),
    ):
        mask = flag & outside
        for a, b in runs(mask):
            cut = np.flatnonzero(broken[a + 1 : b]) + a + 1
            for lo, hi in zip(np.concatenate(([a], cut)), np.concatenate((cut, [b])), strict=True):
                i0 = int(idx[lo]) - config.rate_window_beats + 1
                i0 = max(i0, 0)
                i1 = int(idx[hi - 1])
                if (series.samples[i1] - series.samples[i0]) / series.fs < config.rate_episode_min_s:
                    continue
                r = bpm[lo:hi]
                out.append(
                    _episode(
                        kind,
                        series,
                        i0,
                        i1,
                        f"{config.rate_window_beats}-beat rate {r.min():.0f}-{r.max():.0f} bpm",
                    )
                )
    return out


def overlap(a: Episode, b: Episode) -> bool:
    return a.start_sample <= b.end_sample and b.start_sample <= a.end_sample
