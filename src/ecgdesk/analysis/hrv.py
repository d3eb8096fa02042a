"""Heart rate (min/mean/max with times, hourly table, per-minute trend) and time-domain HRV.

- Rates use valid RR intervals only (both beats and everything between them analyzable). Minimum and
  maximum are the extreme ``rate_window_beats``-interval averages of intervals between supraventricular
  beats (ectopic coupling intervals and V runs left out; runs have their own rates); the mean is
  valid intervals over their total time.
- HRV (Task Force 1996) uses normal-to-normal intervals: valid intervals between two N beats that
  differ from the previous NN interval by less than 20 %. SDNN is their standard deviation, SDANN the
  standard deviation of ``sdann_segment_s`` segment means (segments with at least half their time in NN
  intervals), rMSSD the root mean square of successive differences, pNN50 the share of successive
  differences above 50 ms.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from ecgdesk.analysis.config import AnalysisConfig
from ecgdesk.analysis.findings import (
    Episode,
    HeartRatePoint,
    HeartRateSummary,
    HeartRateTrend,
    HourRow,
    HRVSummary,
)
from ecgdesk.analysis.quality import ANALYZABLE, epoch_seconds
from ecgdesk.analysis.rhythm import smoothed_rate
from ecgdesk.analysis.series import BeatSeries


def clock(start: datetime | None, seconds: float) -> str | None:
    return (start + timedelta(seconds=seconds)).isoformat(timespec="seconds") if start is not None else None


def heart_rate_summary(
    series: BeatSeries, config: AnalysisConfig, start: datetime | None
) -> HeartRateSummary:
    idx, bpm = smoothed_rate(series, config, sv_only=True)
    rr = series.rr_s[series.valid]
    mean = float(60.0 * rr.size / rr.sum()) if rr.size else None
    if idx.size == 0:
        return HeartRateSummary(None, mean, None, config.rate_window_beats)
    w = config.rate_window_beats
    # time of a window: midway between its first and last beat
    first = np.maximum(idx - w, 0)
    mid_t = 0.5 * (series.samples[first] + series.samples[idx]) / series.fs
    lo, hi = int(np.argmin(bpm)), int(np.argmax(bpm))
    return HeartRateSummary(
        HeartRatePoint(float(bpm[lo]), float(mid_t[lo]), clock(start, float(mid_t[lo]))),
        mean,
        HeartRatePoint(float(bpm[hi]), float(mid_t[hi]), clock(start, float(mid_t[hi]))),
        w,
    )


def _binned_rates(series: BeatSeries, bin_s: float, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """(number of valid intervals, sum of their RR) per time bin of the beat ending them."""
    v = np.flatnonzero(series.valid)
    b = np.minimum((series.samples[v] / series.fs // bin_s).astype(np.int64), n_bins - 1)
    count = np.bincount(b, minlength=n_bins).astype(float)
    total = np.bincount(b, weights=series.rr_s[v], minlength=n_bins)
    return count, total


def _analyzable_per_bin(series: BeatSeries, config: AnalysisConfig, bin_s: float, n_bins: int) -> np.ndarray:
    lengths = epoch_seconds(series.states, series.n_samples, series.fs, config)
    ok = np.where(series.states == ANALYZABLE, lengths, 0.0)
    ep_start = np.arange(series.states.shape[0]) * series.epoch_len / series.fs
    b = np.minimum((ep_start // bin_s).astype(np.int64), n_bins - 1)
    return np.bincount(b, weights=ok, minlength=n_bins)


def hr_trend(series: BeatSeries, config: AnalysisConfig) -> HeartRateTrend:
    bin_s = config.hr_trend_s
    n_bins = max(1, int(np.ceil(series.n_samples / series.fs / bin_s)))
    count, total = _binned_rates(series, bin_s, n_bins)
    ok = _analyzable_per_bin(series, config, bin_s, n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        bpm = 60.0 * count / total
    keep = (count > 0) & (ok >= 0.5 * bin_s)
    return HeartRateTrend(bin_s, [round(float(x), 1) if k else None for x, k in zip(bpm, keep, strict=True)])


def _overlap(episodes: list[Episode], a: float, b: float) -> float:
    return float(sum(max(0.0, min(e.end_s, b) - max(e.start_s, a)) for e in episodes))


def hourly_table(
    series: BeatSeries, config: AnalysisConfig, af: list[Episode], start: datetime | None
) -> list[HourRow]:
    duration = series.n_samples / series.fs
    n_h = max(1, int(np.ceil(duration / 3600.0)))
    hour = np.minimum((series.samples / series.fs // 3600).astype(np.int64), n_h - 1)
    beats = np.bincount(hour, minlength=n_h)
    v = np.bincount(hour, weights=(series.labels == "V"), minlength=n_h).astype(int)
    s = np.bincount(hour, weights=(series.labels == "S"), minlength=n_h).astype(int)
    count, total = _binned_rates(series, 3600.0, n_h)
    ok = _analyzable_per_bin(series, config, 3600.0, n_h)
    idx, bpm = smoothed_rate(series, config, sv_only=True)
    rate_hour = np.minimum((series.samples[idx] / series.fs // 3600).astype(np.int64), n_h - 1)
    rows = []
    for h in range(n_h):
        r = bpm[rate_hour == h]
        mean = float(60.0 * count[h] / total[h]) if count[h] else None
        rows.append(
            HourRow(
                h,
                3600.0 * h,
                clock(start, 3600.0 * h),
                int(beats[h]),
                float(r.min()) if r.size else None,
                mean,
                float(r.max()) if r.size else None,
                int(v[h]),
                int(s[h]),
                _overlap(af, 3600.0 * h, 3600.0 * (h + 1)),
                float(ok[h]),
            )
        )
    return rows


def nn_intervals(series: BeatSeries) -> tuple[np.ndarray, np.ndarray]:
    """(indices of the beats ending NN intervals, the intervals in s), ectopy-filtered."""
    if series.n < 3:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    normal = series.labels == "N"
    ok = series.valid.copy()
    ok[1:] &= normal[1:] & normal[:-1]
    ok[0] = False
    idx = np.flatnonzero(ok)
    rr = series.rr_s[idx]
    prev = np.concatenate(([np.nan], rr[:-1]))
    contiguous = np.concatenate(([False], np.diff(idx) == 1))
    change = np.abs(rr - prev) / prev
    keep = ~contiguous | (change < 0.2) | ~np.isfinite(change)
    keep &= (rr > 0.3) & (rr < 2.0)
    return idx[keep], rr[keep]


def hrv(series: BeatSeries, config: AnalysisConfig) -> HRVSummary:
    idx, nn = nn_intervals(series)
    if nn.size < 3:
        return HRVSummary(int(nn.size))
    ms = nn * 1000.0
    pair = np.diff(idx) == 1
    sd = np.diff(ms)[pair]
    seg = (series.samples[idx] / series.fs // config.sdann_segment_s).astype(np.int64)
    n_seg = int(seg.max()) + 1
    cnt = np.bincount(seg, minlength=n_seg)
    tot = np.bincount(seg, weights=nn, minlength=n_seg)
    full = tot >= 0.5 * config.sdann_segment_s
    means = tot[full] / cnt[full] * 1000.0
    return HRVSummary(
        n_nn=int(nn.size),
        sdnn_ms=float(np.std(ms, ddof=1)),
        sdann_ms=float(np.std(means, ddof=1)) if means.size >= 2 else None,
        rmssd_ms=float(np.sqrt(np.mean(sd**2))) if sd.size else None,
        pnn50_pct=float(100.0 * np.mean(np.abs(sd) > 50.0)) if sd.size else None,
    )
