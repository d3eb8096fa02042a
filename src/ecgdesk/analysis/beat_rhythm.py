"""The RR rules of beat classification: premature beats, their runs, compensatory pauses and
irregularly irregular (AF-like) stretches, from the R-peak times alone (and, for the last, the beats' P
windows). :mod:`ecgdesk.analysis.beats` applies them to its templates (docs/analysis.md)."""

from __future__ import annotations

import statistics

import numpy as np
from scipy import ndimage

PREMATURE_RR = 0.8
#: Beats at a time where a step makes float64 copies (or sorted windows) of their rows: memory stays flat
#: on a 14-day recording (the beat classifier's blocks too, :mod:`ecgdesk.analysis.beats`).
ROW_BLOCK = 65536
#: Compensatory pause: early beats (median RR before < COMPENSATED_EARLY x the reference) whose RR before
#: and after add up to 2 x the reference within this margin.
COMPENSATED_EARLY = 0.9
COMPENSATED = 0.15
#: Interpolated PVCs: the beat after them comes one reference RR after the beat before them, within this
#: margin (:func:`after_interpolated`; 0.2 and 0.3 gave the same on DS1, 0.1 less).
INTERPOLATED_RR = 0.2
RUN_RR = 0.9
#: A stretch of premature beats starts a run only when its first RR is also shorter than this x the RR
#: before it: a sinus rate speeding up over a few beats crosses PREMATURE_RR x the lagging reference RR
#: with no abrupt step (MIT-BIH 230 at 1,564 s, 85 -> 94 bpm over 6 beats; 0.85 gave the same on DS1,
#: 0.95 kept most of those beats S; algorithm 0.5.20).
ABRUPT_RR = 0.9
IRREGULAR_RR = 0.10
#: Fewest RR changes of the underlying rhythm (premature beats set aside) in a 17-beat window for them to
#: count (:func:`underlying_irregular`).
UNDERLYING_STEPS = 4
#: Sinus rhythm changes by a few per cent from beat to beat, AF by far more: the largest of 3-10 % that
#: kept the simulator's AF out of S (docs/analysis.md).
UNDERLYING_RR = 0.03
#: An irregular stretch whose on-time beats (neither premature nor V) keep the dominant beat's P wave is
#: frequent ectopy, not AF (AF has no P waves), so the S model may judge its beats: the
#: :data:`SINUS_P_QUANTILE` quantile of their P-window correlations with the dominant beat's, over about
#: 17 beats, must exceed :data:`SINUS_P_CORR` (:func:`sinus_p_kept`). Chosen on DS1 and the simulator's
#: AF (docs/analysis.md, algorithm 0.5.10). A recording whose P waves are small or noisy correlates less
#: even in its regular stretches: there the limit is the level its regular stretches reach
#: (:func:`sinus_p_limit`), never under :data:`SINUS_P_FLOOR`, the correlation the template rules call
#: alike (algorithm 0.5.14).
SINUS_P_CORR = 0.7
SINUS_P_QUANTILE = 0.25
SINUS_P_FLOOR = 0.5
#: Fewest beats outside irregular stretches for the recording's own P level to count.
SINUS_P_REGULAR_BEATS = 100
RR_REFERENCE_BEATS = 9
#: A paroxysmal SVT run of any length (:func:`paroxysmal_runs`): at least SVT_MIN_BEATS beats faster
#: than 100 bpm (median RR < SVT_MAX_RR s) starting with a premature beat; it ends where the RR
#: lengthens to >= SVT_SLOWER x the run's recent RR and stays there (median of the next 5 RRs), in one
#: step (that RR >= SVT_SLOWER x the 3 RRs before it: sinus tachycardia slows over many beats), back
#: towards the rhythm before it (those 5 RRs >= PREMATURE_RR x the reference at the onset).
SVT_MIN_BEATS = 3
SVT_MAX_RR = 0.6
SVT_SLOWER = 1.15
#: A paroxysmal run passes through at most this many beats the irregularity test flags between regular
#: ones (:func:`brief_irregular`): the run's own onset, and the odd longer RR inside it, change the RR enough
#: for the 17-beat test to flag two or three beats (SVDB 809's 105-beat SVT: two at 128 Hz, three at 250
#: Hz), while AF's irregular stretches last longer. Chosen on DS1: 1 and 2 change nothing there, 3 to 6
#: give the same (209: 3 S beats more, 1 false) (algorithm 0.5.16).
SVT_BRIDGE = 3


def rr_context(samples: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Per beat: the RR before it (s; NaN for the first) and the reference RR, the median of the 9 RRs
    before it (a run of ectopic beats does not pull its own reference down)."""
    rr_prev = np.concatenate([[np.nan], np.diff(samples) / fs])
    if samples.size < 3:
        return rr_prev, np.full(samples.size, np.inf)
    rr = rr_prev[1:]
    size = min(RR_REFERENCE_BEATS, rr.size)
    centred = ndimage.median_filter(rr, size=size, mode="nearest")
    # centred[j] covers rr[j - size // 2 .. j + (size - 1) // 2]; shift it to end just before each RR.
    shift = (size - 1) // 2 + 1
    reference = np.concatenate([np.full(shift + 1, centred[0]), centred[: samples.size - shift - 1]])
    return rr_prev, reference


def compensated(rr_prev: np.ndarray, reference: np.ndarray, members: np.ndarray) -> bool:
    """Whether a template's beats typically come early and are followed by a full compensatory pause
    (RR before + RR after within COMPENSATED of twice the reference: the sinus node was not reset, the
    mark of a ventricular premature beat; an atrial one resets it and the sum falls short)."""
    before = rr_prev[members] / reference[members]
    after = rr_prev[np.minimum(members + 1, rr_prev.size - 1)] / reference[members]
    ok = np.isfinite(before) & np.isfinite(after) & (members + 1 < rr_prev.size)
    if np.count_nonzero(ok) < 3:
        return False
    total = float(np.median(before[ok] + after[ok]))
    return float(np.median(before[ok])) < COMPENSATED_EARLY and abs(total - 2.0) <= COMPENSATED


def after_interpolated(ventricular: np.ndarray, rr_prev: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Beats right after one or more ventricular beats that come one reference RR (within
    :data:`INTERPOLATED_RR`) after the last beat before those: the ventricular beats were interpolated
    and left the sinus rhythm untouched, so the beat is on time, early only against them (SVDB 805: 175
    such beats were called S)."""
    ventricular = np.asarray(ventricular, dtype=bool)
    n = ventricular.size
    if n < 3:
        return np.zeros(n, dtype=bool)
    time = np.cumsum(np.nan_to_num(rr_prev, nan=0.0))
    index = np.arange(n)
    last_other = np.maximum.accumulate(np.where(~ventricular, index, -1))  # the last non-V beat up to each
    before = np.concatenate([[-1], last_other[:-1]])  # ... before each beat
    after = np.concatenate([[False], ventricular[:-1]]) & (before >= 0)
    span = time - time[np.maximum(before, 0)]
    with np.errstate(invalid="ignore"):
        return np.asarray(after & (np.abs(span - reference) <= INTERPOLATED_RR * reference))


def abrupt_stretches(premature: np.ndarray, rr_prev: np.ndarray) -> np.ndarray:
    """The ``premature`` beats in stretches of consecutive premature beats whose first beat comes abruptly
    (RR < :data:`ABRUPT_RR` x the RR before it)."""
    premature = np.asarray(premature, dtype=bool)
    stretch, count = ndimage.label(premature)
    if count == 0:
        return premature
    first = np.flatnonzero(premature & ~np.concatenate([[False], premature[:-1]]))
    with np.errstate(invalid="ignore"):
        abrupt = rr_prev[first] < ABRUPT_RR * np.concatenate([[np.inf], rr_prev[:-1]])[first]
    return premature & np.concatenate([[False], abrupt])[stretch]


def supraventricular_runs(rr_prev: np.ndarray, reference: np.ndarray, premature: np.ndarray) -> np.ndarray:
    """Premature beats and the beats that continue their run, as in an SVT where only the first beat is
    premature: the RR stays short (< 90 % of the reference RR at the run's onset) and is no longer than
    1.15x the previous RR. A stretch of premature beats that does not start abruptly
    (:func:`abrupt_stretches`) is a sinus rate speeding up, not a run."""
    premature = abrupt_stretches(premature, rr_prev)
    idx = np.arange(rr_prev.size)
    last_premature = np.maximum.accumulate(np.where(premature, idx, -1))
    onset_reference = reference[np.maximum(last_premature, 0)]
    with np.errstate(invalid="ignore"):
        previous = np.concatenate([[np.inf], rr_prev[:-1]])
        continues = (rr_prev < RUN_RR * onset_reference) & (rr_prev <= 1.15 * previous)
    # A run is followed for at most 2 x RR_REFERENCE_BEATS beats: by then the reference has the new rate.
    continues &= idx - last_premature <= 2 * RR_REFERENCE_BEATS
    breaks = ~(premature | continues)
    last_break = np.maximum.accumulate(np.where(breaks, idx, -1))
    in_run = (last_premature >= 0) & (last_premature > last_break)
    # A run that does not return to the reference rate within that limit was a rate change (sinus
    # tachycardia starting, the end of a slow escape rhythm): none of its beats is ectopic.
    ends = np.flatnonzero(breaks)
    onset = np.maximum(last_premature, 0)
    # Likewise a run must end by returning to the onset's reference RR, and stay there (the median of the
    # next 5 RRs): a rhythm that simply became faster and stays faster had no ectopic run.
    end = np.append(ends, idx.size)[np.searchsorted(ends, onset)]
    after = ndimage.median_filter(np.nan_to_num(rr_prev, nan=np.inf), size=5, mode="nearest")
    after = after[np.minimum(end + 3, idx.size - 1)]
    with np.errstate(invalid="ignore"):
        back = rr_prev[np.minimum(end, idx.size - 1)] >= RUN_RR * reference[onset]
        returned = (end >= idx.size) | (back & (after >= RUN_RR * reference[onset]))
    return in_run & (end - onset <= 2 * RR_REFERENCE_BEATS) & returned


def paroxysmal_runs(rr_prev: np.ndarray, reference: np.ndarray, premature: np.ndarray,
                     normal: np.ndarray) -> np.ndarray:
    """Beats of paroxysmal SVT runs too long for :func:`supraventricular_runs`, whose rate the reference
    RR has taken (MIT-BIH 207 and 209: runs of 40-100 beats). Such a run starts abruptly (its first beat
    premature against the rhythm before it) and stops abruptly, back towards that rhythm; sinus
    tachycardia warms up and cools down over many beats instead (docs/analysis.md). Two RRs in a row as
    long as the reference at the onset end the run, however fast the RRs after them (one alone may be a
    missed beat). Only beats of ``normal`` shape (not ventricular, outside irregular stretches but brief
    ones) take part; a run that such a beat interrupts, whose end is not abrupt, or that is no
    tachycardia (median RR >= :data:`SVT_MAX_RR`) is not one. A run still going at the recording's end
    counts (its onset was abrupt; its end is not seen)."""
    n = rr_prev.size
    out = np.zeros(n, dtype=bool)
    if n < SVT_MIN_BEATS + 1:
        return out
    rr = np.nan_to_num(rr_prev, nan=np.inf)
    # the median of the RR and the 4 after it (the last RR repeated at the recording's end): whether a
    # slower rate lasts
    ahead = ndimage.median_filter(rr, size=5, origin=-2, mode="nearest")
    # the shorter of each RR and the one after it: two RRs in a row at least this long
    pair = np.minimum(rr, np.append(rr[1:], rr[-1]))
    values = rr.tolist()  # the loop takes medians of a few RRs: Python's sort is faster than numpy's there
    starts = np.flatnonzero(premature & normal)
    starts = starts[starts + SVT_MIN_BEATS <= n]
    # the loop below, vectorised for a run's first beats: most premature beats are single PACs
    long_enough = np.ones(starts.size, dtype=bool)
    for step in range(1, SVT_MIN_BEATS):
        at = starts + step
        recent = np.median(rr[starts[:, None] + np.arange(step)], axis=1)
        slower = (rr[at] >= SVT_SLOWER * recent) & (ahead[at] >= SVT_SLOWER * recent)
        back = ((np.minimum(rr[at], ahead[at]) >= PREMATURE_RR * reference[starts])
                | (pair[at] >= reference[starts]))
        long_enough &= normal[at] & ~slower & ~back
    done = -1
    for i in starts[long_enough].tolist():
        if i <= done:
            continue
        k = i + 1
        ended = False
        slow = int(rr[i] >= SVT_MAX_RR)
        while k < n and normal[k]:
            # the run ends where its rate slows for good, or where the rhythm before it is back
            recent = statistics.median(values[max(i, k - RR_REFERENCE_BEATS):k])
            if pair[k] >= reference[i] or min(rr[k], ahead[k]) >= min(SVT_SLOWER * recent,
                                                                      PREMATURE_RR * reference[i]):
                ended = True
                break
            slow += int(rr[k] >= SVT_MAX_RR)
            k += 1
            if k - i >= 2 * RR_REFERENCE_BEATS and 2 * slow >= k - i:
                break  # no tachycardia (median RR >= SVT_MAX_RR) after 18 beats: a rate step, not a run
        run = rr[i:k]
        if k - i < SVT_MIN_BEATS or float(np.median(run)) >= SVT_MAX_RR:
            continue
        if ended:
            abrupt = rr[k] >= SVT_SLOWER * statistics.median(values[max(i, k - 3):k])
            if not (abrupt and ahead[k] >= PREMATURE_RR * reference[i]):
                continue
        elif k < n:  # a ventricular beat or an irregular stretch broke it off, or it was too slow
            continue
        out[i:k] = True
        done = k - 1
    return out


def brief_irregular(irregular: np.ndarray) -> np.ndarray:
    """Beats of irregular stretches of at most :data:`SVT_BRIDGE` beats with a regular beat on each side."""
    irregular = np.asarray(irregular, dtype=bool)
    stretch, count = ndimage.label(irregular)
    if count == 0:
        return np.zeros(irregular.size, dtype=bool)
    sizes = np.bincount(stretch)
    brief = sizes <= SVT_BRIDGE
    brief[0] = False
    # a stretch at either end of the recording has no regular beat on that side
    brief[stretch[0]] = brief[stretch[-1]] = False
    return brief[stretch]


def irregular_stretches(rr_prev: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Beats inside an irregularly irregular stretch (AF-like): over about 17 beats, the median RR change
    at every lag of 1, 2 and 3 beats exceeds 10 % of the reference RR. Bigeminy and trigeminy repeat at
    lag 2 or 3, so they stay regular; so do sinus rhythm and its slow changes. Frequent premature beats
    that repeat in no pattern pass that test too (SVDB 842, 852, 854; MIT-BIH 220): the stretch is
    AF-like only if the RRs left once each premature beat and the beat after it are set aside also
    change by more than :data:`UNDERLYING_RR` from one to the next (:func:`underlying_irregular`)."""
    n = rr_prev.size
    irregular = np.ones(n, dtype=bool)
    rr = np.nan_to_num(rr_prev, nan=float(np.nanmedian(rr_prev)) if n > 1 else 1.0)
    for lag in (1, 2, 3):
        if n <= lag + 1:
            return np.zeros(n, dtype=bool)
        change = np.concatenate([np.zeros(lag), np.abs(rr[lag:] - rr[:-lag])]) / reference
        irregular &= ndimage.median_filter(change, size=min(17, n), mode="nearest") > IRREGULAR_RR
    candidates = np.flatnonzero(irregular)
    irregular[candidates] = underlying_irregular(rr_prev, reference, candidates)
    return irregular


def underlying_irregular(rr_prev: np.ndarray, reference: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """Whether the underlying rhythm around each of ``beats`` (indices) is irregular: the median change
    between successive RRs, neither of them premature (< :data:`PREMATURE_RR` x the reference) nor right
    after a premature one, over about 17 beats, exceeds :data:`UNDERLYING_RR` of the reference. With
    fewer than :data:`UNDERLYING_STEPS` such changes in the window nothing is known: True."""
    n = rr_prev.size
    with np.errstate(invalid="ignore"):
        premature = rr_prev < PREMATURE_RR * reference
    ok = ~premature & ~np.concatenate([[False], premature[:-1]]) & np.isfinite(rr_prev)
    step = np.full(n, np.nan)
    both = np.concatenate([[False], ok[1:] & ok[:-1]])
    with np.errstate(invalid="ignore"):
        step[both] = (np.abs(np.diff(rr_prev))[both[1:]]) / reference[both]
    median, counts = window_quantile(step, beats, 0.5)
    with np.errstate(invalid="ignore"):
        return (counts < UNDERLYING_STEPS) | (median > UNDERLYING_RR)


def window_quantile(values: np.ndarray, beats: np.ndarray, q: float,
                    reach: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """For each of ``beats`` (indices): the ``q`` quantile of the finite ``values`` in its window (NaN where
    it holds none), and how many finite values that window holds. The window of beat ``i`` is
    ``values[i - before : i + after + 1]`` for ``reach = (before, after)``; by default ~17 beats centred."""
    if reach is None:
        size = min(17, values.size)
        reach = (size // 2, size - 1 - size // 2)
    before, after = reach
    padded = np.concatenate([np.full(before, np.nan), values, np.full(after, np.nan)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, before + after + 1)
    level = np.empty(beats.size)
    counts = np.empty(beats.size, dtype=np.int64)
    # blocks of rows: a 14-day recording in AF would otherwise sort a copy of every window at once
    for first in range(0, beats.size, ROW_BLOCK):
        ordered = np.sort(windows[beats[first:first + ROW_BLOCK]], axis=1)  # NaN last
        found = np.isfinite(ordered).sum(axis=1)
        # np.nanquantile's linear interpolation, on sorted rows (it loops over rows in Python)
        at = q * np.maximum(found - 1, 0)
        low = np.floor(at).astype(np.int64)
        high = np.minimum(low + 1, np.maximum(found - 1, 0))
        rows = np.arange(ordered.shape[0])
        below = ordered[rows, low]
        level[first:first + rows.size] = below + (at - low) * (ordered[rows, high] - below)
        counts[first:first + rows.size] = found
    return level, counts


def p_wave_level(p_corr: np.ndarray, on_time: np.ndarray, beats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each of ``beats`` (indices): the :data:`SINUS_P_QUANTILE` quantile of ``p_corr`` among the
    ``on_time`` beats of its ~17-beat window, and how many on-time beats that window holds."""
    return window_quantile(np.where(on_time, p_corr, np.nan), beats, SINUS_P_QUANTILE)


def sinus_p_limit(p_corr: np.ndarray, on_time: np.ndarray, regular: np.ndarray) -> float:
    """The P level (:func:`p_wave_level`) an irregular stretch must exceed to keep the sinus P wave: the
    median level of the recording's ``regular`` beats (those outside irregular stretches), between
    :data:`SINUS_P_FLOOR` and :data:`SINUS_P_CORR`. Small or noisy P waves (SVDB 854: 0.55) correlate
    less with the dominant one wherever they are, so an absolute limit would call every irregular stretch
    of such a recording AF-like; with too few regular beats, the absolute limit."""
    rows = np.flatnonzero(regular)
    if rows.size < SINUS_P_REGULAR_BEATS:
        return SINUS_P_CORR
    # every few beats is enough for a median (a 14-day recording has a million regular beats)
    level, counts = p_wave_level(p_corr, on_time, rows[:: max(1, rows.size // 4096)])
    level = level[counts >= UNDERLYING_STEPS]
    if level.size == 0:
        return SINUS_P_CORR
    return float(np.clip(np.median(level), SINUS_P_FLOOR, SINUS_P_CORR))


def sinus_p_kept(p_corr: np.ndarray, on_time: np.ndarray, beats: np.ndarray,
                 limit: float = SINUS_P_CORR) -> np.ndarray:
    """Whether the on-time beats around each of ``beats`` (indices) keep the dominant beat's P wave: over
    about 17 beats, the :data:`SINUS_P_QUANTILE` quantile of ``p_corr`` among the ``on_time`` beats
    exceeds ``limit`` (:func:`sinus_p_limit`). Frequent PACs leave sinus P waves before the beats between
    them; AF has none, only fibrillatory waves at random phase. With fewer than :data:`UNDERLYING_STEPS`
    on-time beats in the window nothing is known: False."""
    level, counts = p_wave_level(p_corr, on_time, beats)
    return (counts >= UNDERLYING_STEPS) & (level > limit)
