"""Atrial flutter with variable conduction, told apart from AF by the arithmetic of its RR intervals.

In flutter the atria beat regularly (typically 240-350/min) and the AV node passes every 2nd, 3rd or 4th
wave. With a steady AV delay every RR interval is then a whole multiple of the flutter cycle, so an
irregular rhythm whose RR intervals all sit near multiples (>= 2) of one cycle in 170-270 ms is flutter
with variable block, not fibrillation: in AF the RR intervals are random and no cycle fits them (the
mean distance to the nearest multiple is then about a fifth to a quarter cycle, and stayed above 0.12
cycle in 1,000 simulated AF runs of 24-44 intervals; the limit here is 0.07).
This is the textbook "RR intervals are multiples of the F-F interval" sign; an AF candidate passing it
becomes a flutter episode with the cycle as evidence. Two guards keep regular patterns of dropped beats
out: most intervals, not just their mean, must fit (a Wenckebach cycle of three intervals can fit on
average), and no multiple of the cycle may fit as well (Mobitz 3:2 at 0.75/1.5 s fits 0.25 s, and 0.75 s
just as well: a slower rhythm with dropped beats). Flutter with a fixed ratio (2:1, 4:1) gives a regular
RR and is not recognised by this rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Flutter cycles tried (s): 220-350 atrial waves a minute.
CYCLES_S = np.arange(0.170, 0.2701, 0.0025)
#: Mean distance of the RR intervals to the nearest whole multiple, in cycles, below which they fit.
MAX_RESIDUAL = 0.07
#: ... and at most a tenth of them further than this from a multiple (a 3-value Wenckebach cycle can fit
#: on average while one interval in three misses).
MAX_WORST_DECILE = 0.12
#: At least this many intervals, and at least two different multiples (variable conduction).
MIN_INTERVALS = 24


@dataclass(frozen=True)
class RRQuantization:
    """The flutter cycle that best explains a set of RR intervals, and how well it does."""

    cycle_s: float
    residual: float  # mean distance to the nearest multiple, in cycles (0 = exact, 0.25 = random)
    ratios: tuple[int, ...]  # the conduction ratios used, sorted
    worst_decile: float  # the 90th percentile of the distances, in cycles
    slower_cycle_s: float | None  # a multiple of the cycle (>= 2x) that fits as well, if any

    @property
    def atrial_rate_bpm(self) -> float:
        return 60.0 / self.cycle_s


def _misfit(rr: np.ndarray, cycles: np.ndarray, min_ratio: int) -> np.ndarray:
    """Per cycle (rows) and interval (columns): distance to the nearest multiple >= ``min_ratio``, cycles."""
    ratio = rr[None, :] / cycles[:, None]
    whole = np.round(ratio)
    return np.where(whole >= min_ratio, np.abs(ratio - whole), 0.5)


def rr_quantization(rr_s: np.ndarray) -> RRQuantization | None:
    """The best cycle in :data:`CYCLES_S` for ``rr_s``; multiples below 2 count as misfits (flutter
    rarely conducts 1:1). ``None`` for fewer than :data:`MIN_INTERVALS` finite intervals."""
    rr = np.asarray(rr_s, dtype=float)
    rr = rr[np.isfinite(rr) & (rr > 0)]
    if rr.size < MIN_INTERVALS:
        return None
    misfit = _misfit(rr, CYCLES_S, 2)
    score = misfit.mean(axis=1)
    best = int(np.argmin(score))
    cycle = float(CYCLES_S[best])
    ratios = tuple(sorted({int(k) for k in np.round(rr / cycle) if k >= 2}))
    # A slower rhythm whose beats drop out (sinus 3:2 or Wenckebach block, blocked PACs) also gives RR
    # intervals on a grid, a coarse one: its cycle, a multiple of the fine one, fits them just as well.
    slower = cycle * np.arange(2, int(1.6 / cycle) + 1)
    slower_fit = _misfit(rr, slower, 1).mean(axis=1) if slower.size else np.zeros(0)
    fits = np.flatnonzero(slower_fit <= max(MAX_RESIDUAL, float(score[best])))
    return RRQuantization(cycle, float(score[best]), ratios, float(np.percentile(misfit[best], 90)),
                          float(slower[fits[-1]]) if fits.size else None)


def is_flutter(q: RRQuantization | None) -> bool:
    """Variable conduction of one flutter cycle: a close fit (mean and 90th percentile), two ratios or
    more, and no slower rhythm that explains the intervals as well."""
    return (q is not None and q.residual <= MAX_RESIDUAL and q.worst_decile <= MAX_WORST_DECILE
            and len(q.ratios) >= 2 and q.slower_cycle_s is None)


def evidence(q: RRQuantization | None) -> str:
    """What a flutter episode's evidence says about its cycle and conduction."""
    if q is None:
        return ""
    conduction = ", ".join(f"{k}:1" for k in q.ratios)
    return (f"RR intervals are multiples of a {1000 * q.cycle_s:.0f} ms flutter cycle (atria "
            f"{q.atrial_rate_bpm:.0f}/min, conduction {conduction}; mean misfit {q.residual:.2f} cycle, "
            f"flutter <= {MAX_RESIDUAL:g}, AF about 0.25)")
