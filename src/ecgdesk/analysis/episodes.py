"""Ectopy: ventricular and supraventricular runs, bigeminy/trigeminy, counts and burdens.

Runs are maximal sequences of consecutive beats of one class (V, or S). A run's rate is taken over the
intervals that end on its beats (the coupling interval included), so a 3-beat run has 3 intervals.

- V: 1 beat isolated, 2 a couplet, >= ``vt_min_beats`` at > ``vt_rate_bpm`` a VT run (non-sustained, or
  sustained when it lasts ``sustained_s``); a 3-beat run is also counted as a triplet; slower runs
  are reported as triplets (idioventricular rhythm) with that evidence.
- S: 1 isolated, 2-3 couplets (by label). SVT runs: >= ``svt_min_beats`` narrow beats at > ``svt_rate_bpm``
  with abrupt onset (see :func:`svt_spans`), not within 2 s of AF, and (given the signal) whose mean P-wave
  window differs from that of the 8 beats before (correlation <= ``svt_same_p``; the same P wave means
  sinus tachycardia), a test applied to runs slower than 120 bpm, where the P wave is clear of the T
  wave. Runs sustained for ``sustained_s`` below ``svt_sustained_min_bpm`` are left to the sinus
  tachycardia episodes (SVT is rarely that slow for that long) unless the classifier calls at least
  :data:`SVT_SLOW_S_SHARE` of their beats S.
  S beats inside AF count as conducted (N) beats: irregular conduction makes many of them premature.
- Bigeminy / trigeminy: at least ``geminy_min_ectopics`` V beats each separated by exactly one / two
  other beats. A bigeminal rhythm sustained for ``sustained_s`` above ``vt_rate_bpm`` whose beats between
  the V beats are wide too (:func:`alternate_and_conducted_widths`) is ventricular tachycardia of two
  alternating forms, not bigeminy: no beat of it is conducted (algorithm 0.5.38), and its other beats are
  V too (0.5.39; :attr:`Ectopy.made_ventricular`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ecgdesk.analysis.beat_rhythm import SVT_SLOWER
from ecgdesk.analysis.beat_waves import beat_windows, qrs_width_ms, window_half
from ecgdesk.analysis.config import AnalysisConfig
from ecgdesk.analysis.findings import EctopySummary, Episode, EpisodeType
from ecgdesk.analysis.mains import without_mains
from ecgdesk.analysis.quality import is_noise, runs
from ecgdesk.analysis.rhythm import SegmentReader, in_spans, same_p_wave
from ecgdesk.analysis.series import BeatSeries


@dataclass(frozen=True)
class Ectopy:
    summary: EctopySummary
    episodes: list[Episode]
    #: Beats (indices into the series) not labelled V that a bigeminal VT makes V (:func:`bigeminal_vt`):
    #: the caller relabels its beat table with them, so the counts agree with the episodes.
    made_ventricular: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


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


#: Fewest valid RRs among the 8 before a beat for an SVT onset to be seen there (:func:`svt_spans`).
SVT_KNOWN_BEFORE = 4
#: A sustained run slower than ``svt_sustained_min_bpm`` is still SVT when the classifier calls at least this
#: share of its beats S (their P wave or timing is not sinus; algorithm 0.5.37).
SVT_SLOW_S_SHARE = 0.5


def svt_spans(series: BeatSeries, labels: np.ndarray, config: AnalysisConfig) -> list[tuple[int, int]]:
    """Beat spans [a, b) of candidate SVT runs: narrow-complex tachycardia of abrupt onset.

    A run starts on a supraventricular (N or S) beat whose RR is fast: under both 60/``svt_rate_bpm`` and
    80 % of the median of the 8 RR before it (abrupt onset: sinus tachycardia speeds up gradually). It
    goes on over N or S beats while each RR stays under that limit. Beat-to-beat classifiers often call
    the beats of a regular run N (only the first is premature), so labels are not required to be S.
    The median is of the valid ones among those 8, and the onset is seen only where at least
    :data:`SVT_KNOWN_BEFORE` are. A fast rhythm already going where the recording starts, or where a stretch
    of noise ends, has no onset to tell an SVT from sinus tachycardia: there it is a run only faster than
    ``svt_sustained_min_bpm``, the rate sinus tachycardia seldom keeps at rest (an event strip in SVT at
    180 bpm from its first beat must still raise an SVT event), and only if it ends as an SVT does, abruptly
    or at the recording's end (:func:`_unseen_onset_ends_as_svt`, algorithm 0.5.41); slower, or slowing by
    degrees, the rate episodes report it. Up to
    algorithm 0.5.35 any fast first beats counted as an abrupt onset (MIT-BIH 215's first 17 s at 113
    bpm)."""
    rr, valid = series.rr_s, series.valid
    n = series.n
    if n < config.svt_min_beats + 8:
        return []
    fast = 60.0 / config.svt_rate_bpm
    sv = np.isin(labels, ("N", "S"))
    rr0 = np.where(np.isfinite(rr), rr, np.inf)
    # the median of the valid ones among the 8 intervals before each beat
    history = np.where(valid & np.isfinite(rr), rr, np.inf)
    windows = np.sort(np.lib.stride_tricks.sliding_window_view(
        np.concatenate((np.full(8, np.inf), history)), 8)[:n], axis=1)
    known = np.sum(np.isfinite(windows), axis=1)
    middle = np.maximum(known - 1, 0)
    before = 0.5 * (np.take_along_axis(windows, (middle // 2)[:, None], axis=1)[:, 0]
                    + np.take_along_axis(windows, ((middle + 1) // 2)[:, None], axis=1)[:, 0])
    limit = np.where(known >= SVT_KNOWN_BEFORE, np.minimum(fast, 0.8 * before),
                     60.0 / config.svt_sustained_min_bpm)
    onset = sv & valid & (rr0 < limit)
    onset[1:] &= ~(sv[:-1] & valid[:-1] & (rr0[:-1] < limit[:-1]))  # the previous beat was not fast already
    ok = sv & valid
    clean = np.concatenate(([False], ok[1:] & ok[:-1]))  # the RR into the beat joins two such beats
    out: list[tuple[int, int]] = []
    last_end = -1
    for a in np.flatnonzero(onset).tolist():
        if a < last_end:
            continue
        j = a + 1
        while j < n and sv[j] and valid[j] and rr0[j] < limit[a]:
            j += 1
        if j - a >= config.svt_min_beats and (
                known[a] >= SVT_KNOWN_BEFORE or _unseen_onset_ends_as_svt(rr0, ok, clean, a, j, limit[a])):
            out.append((a, j))
            last_end = j
    return out


#: Most beats an unseen-onset run may be interrupted by (an ectopic beat, a moment of noise) and still go
#: on as the same rhythm (:func:`_unseen_onset_ends_as_svt`).
SVT_INTERRUPTION_BEATS = 3


def _unseen_onset_ends_as_svt(rr: np.ndarray, ok: np.ndarray, clean: np.ndarray, a: int, j: int,
                              limit: float) -> bool:
    """Whether a fast run [a, j) whose onset was not seen (the recording's start, the end of a noisy
    stretch) ends as an SVT does: abruptly (the RR after it, and the median of the 5 clean RRs from that
    one, at least ``SVT_SLOWER`` x its last 3 RRs), or fast to the recording's end (an event strip in SVT
    from its first beat). Where at most :data:`SVT_INTERRUPTION_BEATS` beats interrupt it (an ectopic beat,
    noise, one long RR of a blocked or missed beat) and the rhythm after them is as fast, the same rhythm
    goes on and is judged where it ends. A fast rhythm that slows by degrees is sinus tachycardia, which
    the rate episodes report (SVDB 848: 158 bpm from its first beat, all normal beats; one beat called V
    cut it into a 199 s SVT; algorithm 0.5.41). ``ok``: N or S and valid, per beat; ``clean``: the RR into
    the beat joins two such beats."""
    n = rr.size
    while j < n:
        k = j
        while k < n and not clean[k]:
            k += 1
        if k >= n or k - j > SVT_INTERRUPTION_BEATS:
            return True  # nothing left to judge it by
        ahead = np.flatnonzero(clean[k:min(n, k + 12)]) + k
        after = rr[ahead[:5]]
        resumes = ahead[(ahead > k) & (rr[ahead] < limit)]
        fast_again = (after.size > 1 and float(np.median(after[1:])) < limit and resumes.size > 0
                      and resumes[0] - j <= SVT_INTERRUPTION_BEATS)
        if rr[k] < limit or fast_again:
            j = int(k if rr[k] < limit else resumes[0]) + 1
            while j < n and ok[j] and rr[j] < limit:
                j += 1
            continue
        before = rr[a + 1:k][clean[a + 1:k]][-3:]
        if before.size == 0:
            return True
        recent = float(np.median(before))
        return bool(rr[k] >= SVT_SLOWER * recent and float(np.median(after)) >= SVT_SLOWER * recent)
    return True


def _noisy_run(series: BeatSeries, a: int, b: int, read: SegmentReader, config: AnalysisConfig) -> bool:
    """Whether the signal under beats a..b-1 is noise (beats found at the ragged edge of a noisy stretch)."""
    pad = int(0.2 * series.fs)
    s0 = max(0, int(series.samples[a]) - pad)
    return is_noise(read(s0, int(series.samples[b - 1]) + pad), config)


def _near(t0: float, t1: float, spans: list[Episode], margin: float) -> bool:
    return any(e.start_s - margin <= t1 and t0 <= e.end_s + margin for e in spans)


#: Beats between the V beats of a sustained fast bigeminal rhythm wider than this times the conducted (N)
#: beats around it are not conducted either: the template rules' "wide" (``beats.WIDE_TEMPLATE``).
ALTERNATES_WIDE = 1.25
#: The conducted beats the alternating ones are compared with: N beats within this of the rhythm (s).
CONDUCTED_NEAR_S = 60.0
#: Fewest such conducted beats, and fewest alternating beats, for the comparison.
CONDUCTED_MIN_BEATS = 8
#: Most beats of each kind whose width is measured (evenly spread), and the signal read around each (s).
WIDTH_SAMPLE_BEATS = 32
WIDTH_CONTEXT_S = 1.5


def _widths_ms(series: BeatSeries, beats: np.ndarray, read: SegmentReader) -> np.ndarray:
    """QRS widths (ms) of up to :data:`WIDTH_SAMPLE_BEATS` of ``beats`` (indices into ``series``, evenly
    spread), each measured as the beat features measure it on a few seconds read around it: a sustained
    rhythm may last hours, and reading all of it at once would not."""
    fs = series.fs
    half = window_half(fs)
    context = int(WIDTH_CONTEXT_S * fs)
    chosen = beats[np.unique(np.linspace(0, beats.size - 1, min(beats.size, WIDTH_SAMPLE_BEATS)).astype(int))]
    out = np.full(chosen.size, np.nan)
    for k, at in enumerate(series.samples[chosen]):
        a = max(0, int(at) - context)
        x = np.nan_to_num(np.asarray(read(a, int(at) + context), dtype=np.float64))
        if x.size > 2 * half:
            window = beat_windows(without_mains(x, fs), fs, np.array([int(at) - a]), half)
            out[k] = qrs_width_ms(window, half, fs)[0]
    return out


def alternate_and_conducted_widths(series: BeatSeries, labels: np.ndarray, i0: int, i1: int,
                                   read: SegmentReader) -> tuple[float, float] | None:
    """(median width of the non-V beats of beats ``i0..i1``, median width of the N beats within
    :data:`CONDUCTED_NEAR_S` outside them), in ms; None without enough of either.

    In ventricular bigeminy every other beat is conducted and as narrow as the patient's other conducted
    beats. When the beats between the V beats are wide as well (MIT-BIH 223's 55 s and 39 s of VT at
    105-107 bpm: 1.5 and 1.4 times its sinus beats' width, labelled N because they fall in the sinus
    template on the classifier's coarse grid), none of the rhythm is conducted."""
    inside = np.arange(i0, i1 + 1)
    alternates = inside[labels[inside] != "V"]
    t0, t1 = series.samples[i0], series.samples[i1]
    near_s = int(CONDUCTED_NEAR_S * series.fs)
    outside = (((series.samples >= t0 - near_s) & (series.samples < t0))
               | ((series.samples > t1) & (series.samples <= t1 + near_s)))
    conducted = np.flatnonzero(outside & (labels == "N"))
    if alternates.size < CONDUCTED_MIN_BEATS or conducted.size < CONDUCTED_MIN_BEATS:
        return None
    widths = [_widths_ms(series, group, read) for group in (alternates, conducted)]
    if not all(np.isfinite(w).any() for w in widths):
        return None
    return float(np.nanmedian(widths[0])), float(np.nanmedian(widths[1]))


def geminy_patterns(labels: np.ndarray, gap: int, min_ectopics: int) -> list[tuple[int, int]]:
    """(first, last V beat) of each stretch of at least ``min_ectopics`` V beats each ``gap`` beats after
    the one before (2: bigeminy, 3: trigeminy)."""
    v_idx = np.flatnonzero(labels == "V")
    if v_idx.size < min_ectopics:
        return []
    return [(int(v_idx[a]), int(v_idx[b])) for a, b in runs(np.diff(v_idx) == gap)
            if b - a + 1 >= min_ectopics]


def bigeminal_vt(series: BeatSeries, labels: np.ndarray, config: AnalysisConfig, read: SegmentReader | None
                 ) -> list[tuple[int, int, str]]:
    """(first beat, last beat, evidence) of each bigeminal pattern (V beats every other beat, at least
    ``geminy_min_ectopics``) that lasts ``sustained_s``, runs faster than ``vt_rate_bpm`` and whose beats
    between the V beats are over :data:`ALTERNATES_WIDE` times as wide as the conducted beats around it
    (:func:`alternate_and_conducted_widths`): ventricular tachycardia of two alternating forms."""
    if read is None:
        return []
    out = []
    for i0, i1 in geminy_patterns(labels, 2, config.geminy_min_ectopics):
        if (series.samples[i1] - series.samples[i0]) / series.fs < config.sustained_s:
            continue
        mean_rate, _ = _run_rate(series, i0 + 1, i1 + 1)
        if mean_rate is None or mean_rate <= config.vt_rate_bpm:
            continue
        widths = alternate_and_conducted_widths(series, labels, i0, i1, read)
        if widths is not None and widths[0] > ALTERNATES_WIDE * widths[1]:
            out.append((i0, i1, f"V beats alternating with beats {widths[0]:.0f} ms wide (conducted beats "
                                f"nearby {widths[1]:.0f} ms): all ventricular"))
    return out


def ectopy(
    series: BeatSeries, config: AnalysisConfig, af: list[Episode], read: SegmentReader | None = None
) -> Ectopy:
    """Runs, patterns, counts and burdens of V and S beats (``read`` enables the P-wave test of SVT)."""
    labels = series.labels
    if af and series.n:
        # conducted beats in AF are irregular, not supraventricular ectopics
        labels = np.where(in_spans(series.times_s, af) & (labels == "S"), "N", labels)
    n = series.n
    episodes: list[Episode] = []
    alternating = bigeminal_vt(series, labels, config, read)
    made_ventricular = np.zeros(0, dtype=np.int64)
    if alternating:
        inside = np.concatenate([np.arange(i0, i1 + 1) for i0, i1, _ in alternating])
        made_ventricular = inside[np.isin(labels[inside], ("N", "S", "F"))]
        labels = labels.copy()
        labels[made_ventricular] = "V"
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
            if read is not None and _noisy_run(series, a, b, read, config):
                continue
            if mean_rate is not None and mean_rate > config.vt_rate_bpm:
                notes = "".join(f"; {note}" for i0, i1, note in alternating if a <= i1 and i0 < b)
                ep = _run_episode(EpisodeType.VT, series, a, b, config,
                                  f"{k} V beats at {mean_rate:.0f} bpm{notes}")
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
    for a, b in svt_spans(series, labels, config):
        k = b - a
        mean_rate, _ = _run_rate(series, a, b)
        t0, t1 = series.samples[a] / series.fs, series.samples[b - 1] / series.fs
        if mean_rate is None or mean_rate <= config.svt_rate_bpm or _near(t0, t1, af, 2.0):
            continue
        n_s = int(np.count_nonzero(labels[a:b] == "S"))
        if (t1 - t0 >= config.sustained_s and mean_rate < config.svt_sustained_min_bpm
                and n_s < SVT_SLOW_S_SHARE * k):
            continue  # a narrow regular rhythm this slow for this long: sinus tachycardia (rate episodes)
        # the pre-QRS window shows the P wave only while it is clear of the previous T wave (RR >= 0.5 s);
        # faster runs rely on their abrupt onset alone
        if read is not None and a >= 8 and float(np.median(series.rr_s[a:b])) >= 0.5:
            same = same_p_wave(series, np.arange(a, min(b, a + 16)), np.arange(a - 8, a), read)
            if same is not None and same > config.svt_same_p:
                continue  # the P wave before each QRS is the sinus one: sinus tachycardia
        if read is not None and _noisy_run(series, a, b, read, config):
            continue
        episodes.append(
            _run_episode(EpisodeType.SVT, series, a, b, config, f"{k} beats ({n_s} S) at {mean_rate:.0f} bpm")
        )
        n_svt += 1
        s_fast = mean_rate if s_fast is None else max(s_fast, mean_rate)
    n_big, n_tri = 0, 0
    for gap, kind in ((2, EpisodeType.BIGEMINY), (3, EpisodeType.TRIGEMINY)):
        for i0, i1 in geminy_patterns(labels, gap, config.geminy_min_ectopics):
            s0, s1 = int(series.samples[i0]), int(series.samples[i1])
            n_ect = (i1 - i0) // gap + 1
            episodes.append(
                Episode(kind, s0 / series.fs, s1 / series.fs, s0, s1, i1 - i0 + 1, None, None,
                        f"{n_ect} V beats every {gap} beats")
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
    return Ectopy(summary, episodes, made_ventricular)
