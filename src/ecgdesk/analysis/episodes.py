"""Ectopy: ventricular and supraventricular runs, bigeminy/trigeminy, counts and burdens.

Runs are maximal sequences of consecutive beats of one class (V, or S). A run's rate is taken over the
intervals that end on its beats (the coupling interval included), so a 3-beat run has 3 intervals.

- V: 1 beat isolated, 2 a couplet, >= ``vt_min_beats`` at > ``vt_rate_bpm`` a VT run (non-sustained, or
  sustained when it lasts ``sustained_s``); a 3-beat run is also counted as a triplet; slower runs
  are reported as triplets (idioventricular rhythm) with that evidence.
- S: 1 isolated, 2-3 couplets, >= ``svt_min_beats`` at > ``svt_rate_bpm`` an SVT run (see
  :func:`svt_spans`: a run begins on an S beat and may go on over fast N-labelled beats). S beats inside AF
  count as conducted (N) beats: irregular conduction makes many of them premature.
- Bigeminy / trigeminy: at least ``geminy_min_ectopics`` V beats each separated by exactly one / two
  other beats.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecgdesk.analysis.config import AnalysisConfig
from ecgdesk.analysis.findings import EctopySummary, Episode, EpisodeType
from ecgdesk.analysis.quality import runs
from ecgdesk.analysis.series import BeatSeries


@dataclass(frozen=True)
class Ectopy:
    summary: EctopySummary
    episodes: list[Episode]


def _run_rate(series: BeatSeries, a: int, b: int) -> tuple[float | None, float | None]:
    rr = series.rr_s[a:b]
    rr = rr[np.isfinite(rr) & (rr > 0)]
    if rr.size == 0:
        return None, None
    return float(60.0 * rr.size / rr.sum()), float(60.0 / rr.min())


def _run_episode(
    kind: EpisodeType, series: BeatSeries, a: int, b: int, config: AnalysisConfig, evidence: str
) -> Episode:
    mean_rate, max_rate = _run_rate(series, a, b)
    s0 = int(series.samples[a - 1]) if a > 0 else int(series.samples[a])
    s1 = int(series.samples[b - 1])
    sustained = (s1 - s0) / series.fs >= config.sustained_s
    return Episode(
        kind,
        s0 / series.fs,
        s1 / series.fs,
        s0,
        s1,
        b - a,
        mean_rate,
        max_rate,
        evidence + (", sustained" if sustained else ""),
        sustained=sustained,
    )


def svt_spans(
    series: BeatSeries, labels: np.ndarray, s_runs: list[tuple[int, int]], config: AnalysisConfig
) -> list[tuple[int, int]]:
    """Beat spans [a, b) of candidate SVT runs.

    A run starts on an S beat and goes on over S or N beats while each RR stays fast: under both
    60/``svt_rate_bpm`` and 80 % of the median of the 8 RR before the run (so a beat-to-beat classifier
    that calls later beats of a regular run N, as they are no longer premature, does not split it,
    while a PAC during sinus tachycardia does not start one)."""
    rr, valid = series.rr_s, series.valid
    fast = 60.0 / config.svt_rate_bpm
    out: list[tuple[int, int]] = []
    last_end = -1
    for a, b in s_runs:
        if a < last_end:
            continue
        before = rr[max(1, a - 8) : a]
        before = before[np.isfinite(before)]
        limit = min(fast, 0.8 * float(np.median(before))) if before.size else fast
        j = a + 1
        while j < series.n and labels[j] in ("S", "N") and valid[j] and rr[j] < limit:
            j += 1
        end = max(j, b)
        if end - a >= config.svt_min_beats:
            out.append((a, end))
            last_end = end
    return out


def ectopy(series: BeatSeries, config: AnalysisConfig, af: list[Episode]) -> Ectopy:
    """Runs, patterns, counts and burdens of V and S beats."""
    labels = series.labels
    if af and series.n:
        # conducted beats in AF are irregular, not supraventricular ectopics
        t = series.times_s
        in_af = np.zeros(series.n, dtype=bool)
        for e in af:
            in_af[np.searchsorted(t, e.start_s) : np.searchsorted(t, e.end_s, side="right")] = True
        labels = np.where(in_af & (labels == "S"), "N", labels)
    n = series.n
    episodes: list[Episode] = []
    v_runs = runs(labels == "V")
    s_runs = runs(labels == "S")
    v_len = np.array([b - a for a, b in v_runs], dtype=int)
    s_len = np.array([b - a for a, b in s_runs], dtype=int)
    n_vt = n_vt_sus = 0
    v_fast: float | None = None
    for a, b in v_runs:
        k = b - a
        if k == 2:
            episodes.append(_run_episode(EpisodeType.COUPLET, series, a, b, config, "2 V beats"))
        elif k >= config.vt_min_beats:
            mean_rate, _ = _run_rate(series, a, b)
            if mean_rate is not None and mean_rate > config.vt_rate_bpm:
                ep = _run_episode(EpisodeType.VT, series, a, b, config, f"{k} V beats at {mean_rate:.0f} bpm")
                episodes.append(ep)
                n_vt += 1
                n_vt_sus += int(ep.sustained)
                v_fast = mean_rate if v_fast is None else max(v_fast, mean_rate)
            else:
                rate = f"{mean_rate:.0f}" if mean_rate is not None else "?"
                episodes.append(
                    _run_episode(
                        EpisodeType.TRIPLET,
                        series,
                        a,
                        b,
                        config,
                        f"{k} V beats at {rate} bpm (slow, idioventricular)",
                    )
                )
    n_svt = 0
    s_fast: float | None = None
    s_couplets = 0
    for a, b in s_runs:
        if 2 <= b - a < config.svt_min_beats:
            s_couplets += 1
    for a, b in svt_spans(series, labels, s_runs, config):
        k = b - a
        mean_rate, _ = _run_rate(series, a, b)
        if mean_rate is None or mean_rate <= config.svt_rate_bpm:
            continue
        n_s = int(np.count_nonzero(labels[a:b] == "S"))
        episodes.append(
            _run_episode(EpisodeType.SVT, series, a, b, config, f"{k} beats ({n_s} S) at {mean_rate:.0f} bpm")
        )
        n_svt += 1
        s_fast = mean_rate if s_fast is None else max(s_fast, mean_rate)
    n_big, n_tri = 0, 0
    v_idx = np.flatnonzero(labels == "V")
    if v_idx.size >= config.geminy_min_ectopics:
        gaps = np.diff(v_idx)
        for gap, kind in ((2, EpisodeType.BIGEMINY), (3, EpisodeType.TRIGEMINY)):
            for a, b in runs(gaps == gap):
                n_ect = b - a + 1
                if n_ect < config.geminy_min_ectopics:
                    continue
                i0, i1 = int(v_idx[a]), int(v_idx[b])
                s0, s1 = int(series.samples[i0]), int(series.samples[i1])
                episodes.append(
                    Episode(
                        kind,
                        s0 / series.fs,
                        s1 / series.fs,
                        s0,
                        s1,
                        i1 - i0 + 1,
                        None,
                        None,
                        f"{n_ect} V beats every {gap} beats",
                    )
                )
                if kind is EpisodeType.BIGEMINY:
                    n_big += 1
                else:
                    n_tri += 1
    v_total = int((labels == "V").sum())
    s_total = int((labels == "S").sum())
    summary = EctopySummary(
        v_total=v_total,
        v_isolated=int((v_len == 1).sum()),
        v_couplets=int((v_len == 2).sum()),
        v_triplets=int((v_len == 3).sum()),
        v_runs=n_vt,
        v_runs_sustained=n_vt_sus,
        v_longest_run_beats=int(v_len.max()) if v_len.size else 0,
        v_fastest_run_bpm=v_fast,
        v_bigeminy_episodes=n_big,
        v_trigeminy_episodes=n_tri,
        v_burden_pct=100.0 * v_total / n if n else 0.0,
        s_total=s_total,
        s_isolated=int((s_len == 1).sum()),
        s_couplets=s_couplets,
        svt_runs=n_svt,
        s_longest_run_beats=int(s_len.max()) if s_len.size else 0,
        s_fastest_run_bpm=s_fast,
        s_burden_pct=100.0 * s_total / n if n else 0.0,
    )
    episodes.sort(key=lambda e: e.start_sample)
    return Ectopy(summary, episodes)
