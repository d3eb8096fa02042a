"""Pacemaker stimulus artefacts ("pacing spikes") found in the raw samples and cut out before delineation.

A pacemaker's output pulse lasts 0.1-2 ms with a rise time under 0.1 ms (the test pulses of IEC
60601-2-25 and 60601-2-27; AHA/ACCF/HRS recommendations for the standardisation of the ECG, Kligfield et
al. 2007: pacemaker stimuli may be as short as 0.5 ms). After a recorder's anti-aliasing filter it is a
deflection of one or two samples at 250-500 Hz, far steeper than anything the heart makes: the steepest
physiological deflection, a QRS upstroke, spreads its slope over 10 ms or more. Left in, the 40 Hz
low-pass of the delineation smears the spike over some 20 ms on each side, where it passes for the start
of the QRS (a ventricular-paced beat's onset marked before the stimulus) or for a P wave (atrial pacing,
a ventricular stimulus after a sensed P wave).

A spike is therefore defined by its time course, not its amplitude (which depends on the lead, the pacing
electrodes' polarity and the recorder's gain; LUDB rescales every lead):

* an edge: the change over one sample interval of at most ``EDGE_MS`` (the pulse's rise);
* steep against the signal around it: at least ``STEEP_RATIO`` times the largest one-sample change of the
  same lead from ``QUIET_NEAR_MS`` to ``QUIET_FAR_MS`` on either side (a physiological slope is about as
  steep a few milliseconds away; a stimulus is not);
* large: at least ``MIN_SHARE`` of the lead's largest one-sample change over the block (a lone
  quantisation step is not a stimulus) and ``NOISE_RATIO`` times the spread of its one-sample changes
  (the largest of white noise's steps is not one either).

The samples of a spike, from ``CUT_BEFORE_MS`` before its edge to ``CUT_AFTER_MS`` after it (the pulse,
its opposite-phase recharge and the filter's ringing), are replaced by the straight line between the
samples on either side, as pacemaker-pulse rejection of electrocardiographs does. Some recorders leave a
slow decay after the pulse (the coupling capacitor recharging: LUDB record 72, some 20 ms); while the
lead is still on its way back to its level before the spike, the cut goes on, at most ``DECAY_MAX_MS``
after the edge, so that the decay is not left for a P wave or the start of a QRS. Recordings without
spikes are left untouched, sample for sample.
"""

from __future__ import annotations

import numpy as np

#: Longest rise of a stimulus edge seen as one step (ms): pulses rise in under 0.1 ms and last <= 2 ms.
EDGE_MS = 2.0
#: The step must be this many times steeper than every step of the lead in the windows beside it.
STEEP_RATIO = 4.0
#: The windows beside the step: from 4 ms (past a pulse's own recharge) to 12 ms (the rise of a QRS).
QUIET_NEAR_MS = 4.0
QUIET_FAR_MS = 12.0
#: Share of the lead's steepest step in the block a spike must reach, so that small noise steps are kept.
MIN_SHARE = 0.25
#: The step must exceed this many robust standard deviations of the lead's steps (median |step| / 0.6745).
NOISE_RATIO = 8.0
#: A step with a neighbour step in the same direction larger than this share of it has a rise of two
#: samples or more: a fast physiological or digital edge, not a stimulus.
SAME_WAY_SHARE = 0.5
#: The samples cut: 2 ms before the step to 12 ms after it. 12 ms chosen on LUDB 1-50 (its ventricular-
#: paced records 8, 34, 45) from 6, 12 and 20 ms: QRS onset SD 9.2, 8.9, 8.9 ms, mean moved least by 12.
CUT_BEFORE_MS = 2.0
CUT_AFTER_MS = 12.0
#: The cut goes on past ``CUT_AFTER_MS`` while the lead is still returning to its level before the spike,
#: up to this long after the edge: twice the longest decay seen (LUDB 72, some 20 ms). A lead that has
#: stopped returning (a QRS or P wave leaving the baseline) ends the cut before.
DECAY_MAX_MS = 40.0
#: Back at its level: within this many robust SDs of the lead's one-sample steps (its noise), and within
#: ``DECAY_SHARE`` of the spike's step at least (a digitally flat lead has no noise to go by). Neither was
#: chosen on a benchmark; LUDB 1-50 is the same with them (docs/delineate.md, waves-1.10).
DECAY_NOISE = 3.0
DECAY_SHARE = 0.02
#: The level before the spike: the median of this many samples before the cut.
LEVEL_SAMPLES = 3


def spike_edges(x: np.ndarray, fs: float) -> np.ndarray:
    """Sample indices ``i`` of one lead (1-D) where the step ``x[i+1] - x[i]`` is a pacing stimulus's edge."""
    if 1000.0 / fs > EDGE_MS or x.size < 8:  # a sample interval over 2 ms: a QRS upstroke is one step too
        return np.zeros(0, dtype=np.int64)
    step = np.abs(np.diff(x))
    top = float(step.max()) if step.size else 0.0
    if top <= 0:
        return np.zeros(0, dtype=np.int64)
    near = max(1, int(round(QUIET_NEAR_MS * fs / 1000.0)))
    far = max(near + 1, int(round(QUIET_FAR_MS * fs / 1000.0)))
    # The largest step in [i - far, i - near] and in [i + near, i + far]: a running maximum shifted.
    width = far - near + 1
    if step.size < width:
        return np.zeros(0, dtype=np.int64)
    # run[j] = max(step[j : j + width]); before i: it starts at i - far, after i: at i + near.
    run = np.lib.stride_tricks.sliding_window_view(step, width).max(axis=1)
    run = np.concatenate((run, np.zeros(width - 1)))
    before = np.zeros_like(step)
    after = np.zeros_like(step)
    before[far:] = run[:step.size - far]
    after[:step.size - near] = run[near:]
    quiet = np.maximum(before, after)
    floor = max(MIN_SHARE * top, NOISE_RATIO * float(np.median(step)) / 0.6745)
    # The edge is one step: the steps next to it in the same direction are at most half of it (a pulse's
    # recharge, in the opposite direction, may be as large).
    signed = np.diff(x)
    prev = np.concatenate(([0.0], signed[:-1]))
    nxt = np.concatenate((signed[1:], [0.0]))
    lone = (np.maximum(prev * signed, nxt * signed) <= SAME_WAY_SHARE * signed ** 2)
    candidate = (step >= floor) & (step >= STEEP_RATIO * quiet) & lone
    edges = np.flatnonzero(candidate)
    # A biphasic pulse gives two adjacent edges; keep the larger of each run.
    out: list[int] = []
    for i in edges.tolist():
        if out and i - out[-1] <= near:
            if step[i] > step[out[-1]]:
                out[-1] = i
            continue
        out.append(i)
    return np.asarray(out, dtype=np.int64)


def spike_mask(ecg: np.ndarray, fs: float, decay: bool = True) -> np.ndarray:
    """``(n_samples,)`` boolean: samples within a pacing spike on any lead of ``ecg`` (samples, leads).
    ``decay=False``: the fixed cut only, without the decay that follows (see :func:`without_spikes`).

    A stimulus reaches every lead at once, so a spike found on one lead is cut from all of them (on a lead
    where it is small it is still there, below the detector's thresholds).
    """
    n = ecg.shape[0]
    mask = np.zeros(n, dtype=bool)
    before = max(1, int(round(CUT_BEFORE_MS * fs / 1000.0)))
    after = max(2, int(round(CUT_AFTER_MS * fs / 1000.0)))
    longest = max(after, int(round(DECAY_MAX_MS * fs / 1000.0))) if decay else after
    settle = max(2, int(round(QUIET_NEAR_MS * fs / 1000.0)))  # past the pulse and its recharge
    for lead in range(ecg.shape[1]):
        x = ecg[:, lead]
        noise = DECAY_NOISE * float(np.median(np.abs(np.diff(x)))) / 0.6745 if x.size > 1 else 0.0
        for i in spike_edges(x, fs).tolist():
            start = max(0, i - before + 1)
            end = _decay_end(x, i, start, i + after, i + longest, settle, noise)
            mask[start:min(n, end + 1)] = True
    return mask


def without_spikes(ecg: np.ndarray, fs: float, decay: bool = True) -> tuple[np.ndarray, int]:
    """``ecg`` with its pacing spikes replaced by straight lines, and how many spikes were cut.

    ``decay=False`` cuts the fixed ``CUT_AFTER_MS`` only. The decay's end is judged against the lead's
    noise and its level before the spike, which mains hum moves: with 0.1 mV of hum the decay of LUDB
    45's stimuli is no longer seen, so a reader whose output must not change with hum (the resting 12-lead
    statements) cuts the fixed span alone."""
    mask = spike_mask(ecg, fs, decay)
    if not mask.any() or (~mask).sum() < 2:  # nothing to cut, or nothing left to bridge from
        return ecg, 0
    out = np.array(ecg, dtype=np.float64, copy=True)
    idx = np.arange(ecg.shape[0])
    good = ~mask
    for lead in range(ecg.shape[1]):
        out[mask, lead] = np.interp(idx[mask], idx[good], ecg[good, lead])
    starts = np.flatnonzero(mask & ~np.concatenate(([False], mask[:-1])))
    return out, int(starts.size)


def _decay_end(x: np.ndarray, edge: int, start: int, end: int, longest: int, settle: int,
               noise: float) -> int:
    """The last sample to cut after the spike at ``edge``: ``end``, or later where the pulse left a decay.

    A decay: from ``settle`` samples after the edge to the sample after ``end`` the lead stays on one side
    of its level before ``start``, further from it than ``noise`` (and ``DECAY_SHARE`` of the spike's
    step), ends nearer it than it started, and returns fastest right after the pulse. The cut then goes
    on while the lead is still returning to that level. A QRS that starts within the fixed cut, as after
    a ventricular stimulus, is back at the level first: no decay.
    """
    n = x.size
    first = edge + settle
    if start < 1 or end + 3 >= n or first > end:
        return end
    level = float(np.median(x[max(0, start - LEVEL_SAMPLES):start]))
    near = max(noise, DECAY_SHARE * abs(float(x[edge + 1] - x[edge])))
    off = x[first:end + 2] - level
    side = 1.0 if off[-1] > 0 else -1.0
    away = np.abs(x - level)
    drop = -np.diff(away[edge + 1:end + 2])
    # A capacitor's decay is steepest right after the pulse; the slow return of an S wave after a steep
    # one-sample QRS downstroke (taken for a stimulus: LUDB 43) starts flat and speeds up.
    if not (np.all(side * off > near) and abs(off[-1]) < abs(off[0]) and drop[0] > 0
            and drop[0] >= drop.max()):
        return end
    while end < min(longest, n - 3) and away[end + 1] > near:
        # Still returning: one of the next two samples is nearer the level (a one-sample wiggle of noise
        # or quantisation does not end the decay; a wave leaving the level does).
        if min(away[end + 2], away[end + 3]) >= away[end + 1]:
            break
        end += 1
    return end
