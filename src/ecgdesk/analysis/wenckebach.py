"""Suspected Mobitz I (Wenckebach) second-degree AV block from the rhythm's grouped beating.

In Wenckebach block the PR interval lengthens beat by beat until a P wave is not conducted, then the cycle
starts again. On the RR intervals that reads as *grouped beating*: a pause after every ``n`` conducted beats
(the same ``n`` each time), the RR just before the pause no longer than the first RR of the group (the PR
increments shrink), and the pause shorter than twice the shortest RR (it holds one P-P cycle plus the PR
shortening). The blocked P wave itself often hides in the T wave, so this rule works on the RR pattern alone
and, like every AV block finding, is only *suspected*: the evidence names the pattern for the over-read. The
groups must repeat one another interval by interval (within 10 %), as the cycles of one Wenckebach period
do; chance pauses in an irregular rhythm rarely do (one false run of 4 groups in 1,000 random AF-like series
of 300 beats; AF and flutter stretches are excluded before). Premature beats break a group (atrial or
ventricular trigeminy is not Wenckebach), and a pause of exactly two RR intervals is Mobitz II's or a sinus
pause's, not this. A beat the classifier calls S still counts as conducted when its RR is no shorter than
:data:`NOT_PREMATURE` times the RR before it: the last beat of a group comes before the pause, which makes
the S model call it S, but a premature atrial beat comes clearly earlier than the beat before it.
"""

from __future__ import annotations

import numpy as np

from ecgdesk.analysis.findings import Episode, EpisodeType
from ecgdesk.analysis.series import BeatSeries

#: A pause is at least this many times the median RR of the group before it ...
PAUSE_FACTOR = 1.3
#: ... and shorter than this many times the group's shortest RR (a blocked beat, not a missed one).
PAUSE_MAX_FACTOR = 1.9
#: Conducted beats between pauses (group sizes 3:2 to 6:5).
GROUP_BEATS = (1, 2, 3, 4, 5)
#: Consecutive pauses at the same spacing needed ...
MIN_GROUPS = 4
#: ... each group repeating the one before it, interval by interval, within this fraction.
REPEAT_TOLERANCE = 0.1
#: An S beat whose RR is at least this fraction of the RR before it is not premature there (a conducted
#: beat of the group); a premature atrial beat's coupling interval is shorter.
NOT_PREMATURE = 0.9


def _pauses(rr: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Indices i whose RR (beat i-1 -> i) is a Wenckebach-sized pause after a shortening group of one of
    the :data:`GROUP_BEATS` sizes (vectorised: one pass per group size)."""
    found = np.zeros(rr.size, dtype=bool)
    for n in GROUP_BEATS:
        if rr.size < n + 2:
            continue
        # groups[j] = rr[j + 1 .. j + n], the n intervals before the candidate pause i = j + n + 1
        groups = np.lib.stride_tricks.sliding_window_view(rr[1:-1], n)
        valid = np.lib.stride_tricks.sliding_window_view(ok[1:-1], n).all(axis=1)
        i = np.arange(groups.shape[0]) + n + 1
        pause = rr[i]
        # abrupt both ways (a blocked beat), unlike the smooth swings of sinus arrhythmia
        after = np.append(rr, np.inf)[i + 1]  # the RR after the pause
        abrupt = (pause >= PAUSE_FACTOR * groups[:, -1]) & (after * PAUSE_FACTOR <= pause)
        hit = (valid & ok[i] & abrupt & (pause >= PAUSE_FACTOR * np.median(groups, axis=1))
               & (pause < PAUSE_MAX_FACTOR * groups.min(axis=1)) & (groups[:, -1] <= groups[:, 0] + 0.01))
        found[i[hit]] = True
    return np.flatnonzero(found)


def _same_group(rr: np.ndarray, a: int, b: int) -> bool:
    """Whether the group ending in pause ``b`` repeats the one ending in pause ``a`` (every interval within
    :data:`REPEAT_TOLERANCE` of its counterpart): Wenckebach cycles repeat, chance pauses do not."""
    n = b - a
    if a - n < 0:
        return False
    return bool(np.all(np.abs(rr[b - n + 1:b + 1] - rr[a - n + 1:a + 1]) <= REPEAT_TOLERANCE
                       * rr[a - n + 1:a + 1]))


def wenckebach_episodes(series: BeatSeries, exclude: list[Episode]) -> list[Episode]:
    """Suspected Mobitz I episodes: at least :data:`MIN_GROUPS` pauses at one beat spacing."""
    n = series.n
    if n < 8:
        return []
    rr = np.nan_to_num(series.rr_s)
    before = np.concatenate(([np.inf], rr[:-1]))
    conducted = (series.labels == "N") | ((series.labels == "S") & (rr >= NOT_PREMATURE * before))
    ok = series.valid & conducted & np.concatenate(([False], conducted[:-1]))
    for e in exclude:
        ok &= ~((series.samples >= e.start_sample) & (series.samples <= e.end_sample))
    pauses = _pauses(rr, ok)
    out: list[Episode] = []
    start = 0
    while start < pauses.size:
        step = int(pauses[start + 1] - pauses[start]) if start + 1 < pauses.size else 0
        stop = start + 1
        while (stop < pauses.size and pauses[stop] - pauses[stop - 1] == step and 2 <= step <= 6
               and _same_group(rr, int(pauses[stop - 1]), int(pauses[stop]))):
            stop += 1
        if stop - start >= MIN_GROUPS:
            i0, i1 = int(pauses[start]) - step, int(pauses[stop - 1])
            s0, s1 = int(series.samples[max(0, i0)]), int(series.samples[i1])
            rrs = rr[i0 + 1:i1 + 1]
            mean_rate = 60.0 * rrs.size / float(rrs.sum()) if rrs.size else None
            out.append(Episode(
                EpisodeType.AVB2, s0 / series.fs, s1 / series.fs, s0, s1, i1 - i0 + 1, mean_rate,
                60.0 / float(rrs.min()) if rrs.size else None,
                f"grouped beating: a pause every {step} beats ({stop - start} groups, pause "
                f"{float(np.median(rr[pauses[start:stop]])):.2f} s under twice the shortest RR, RR "
                "shortening before each pause): Wenckebach (Mobitz I) pattern",
                suspected=True))
            start = stop
        else:
            start += 1
    return out
