"""Beat features, morphology templates and AAMI beat classes (N, S, V, F, Q) for ambulatory analysis.

Features are computed per chunk with local context only (:func:`extract_beat_features`): a compact
waveform of each beat (-200..+190 ms at 10 ms steps on the 0.5-40 Hz signal) and its QRS width. The
classification (:func:`classify_beats`) is global, like a Holter system's: beats are grouped into
morphology templates (correlation of the QRS part >= 0.9 with the template), the dominant template is the
reference, and each template is called ventricular when its QRS is unlike the dominant one and wider or
larger (the features of a PVC: a wide, bizarre complex; Hamilton & Tompkins; de Chazal et al. 2004).
Beats of normal shape that come early (RR < 80 % of the local median) are supraventricular premature.
Fusion beats (F) are on-time beats whose QRS is a blend of the dominant and a ventricular template
(:func:`_fusion`); beats the pipeline found only on another lead, where the analysed lead had lost its
signal, are unclassifiable (Q).
"""

from __future__ import annotations

import enum
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import ndimage

from ecgdesk.errors import InputError, check_option, check_positive

#: Waveform times (s) around the R peak at which each beat is sampled.
WAVE_T = np.arange(-0.20, 0.195, 0.01)
QRS_PART = (WAVE_T >= -0.10) & (WAVE_T <= 0.10)
#: The P-wave window before the QRS (also the S model's ``p_corr`` feature).
P_PART = (WAVE_T >= -0.2) & (WAVE_T <= -0.08)
TEMPLATE_CORRELATION = 0.9
MAX_TEMPLATES = 40
_BLOCK = 65536  # beats at a time where a step makes float64 copies of their waveforms
PREMATURE_RR = 0.8
#: Compensatory pause: early beats (median RR before < COMPENSATED_EARLY x the reference) whose RR before
#: and after add up to 2 x the reference within this margin.
COMPENSATED_EARLY = 0.9
COMPENSATED = 0.15
#: A template unlike the dominant one (correlation < 0.5) with this share of premature beats is ventricular.
UNLIKE_EARLY = 0.2
#: A template whose beats come on time (median RR before within ON_TIME x the reference: not premature
#: like a PVC, not late like an escape beat) and whose QRS is smaller than ON_TIME_SMALL x the dominant
#: one is not ventricular, however wide it measures: a small complex stretches the slope-based width
#: over P waves and noise (MIT-BIH 108's normal beats fell into such templates).
ON_TIME = (0.9, 1.2)
ON_TIME_SMALL = 0.7
#: A template whose QRS is this much wider than the dominant one and whose beats are mostly premature is
#: ventricular whatever its correlation: on the 10 ms grid of :data:`WAVE_T` a QRS twice as wide with the
#: same polarity still correlates about 0.85 with the dominant one (MIT-BIH 207, 223), and which side of
#: the 0.85 limit such a template fell on was luck. Wide premature beats conducted with aberrancy are the
#: S model's to veto (their P wave).
WIDE_PREMATURE = 1.5
RUN_RR = 0.9
IRREGULAR_RR = 0.10
#: Fewest RR changes of the underlying rhythm (premature beats set aside) in a 17-beat window for them to
#: count (:func:`_underlying_irregular`).
UNDERLYING_STEPS = 4
#: Sinus rhythm changes by a few per cent from beat to beat, AF by far more: the largest of 3-10 % that
#: kept the simulator's AF out of S (docs/analysis.md).
UNDERLYING_RR = 0.03
#: An irregular stretch whose on-time beats (neither premature nor V) keep the dominant beat's P wave is
#: frequent ectopy, not AF (AF has no P waves), so the S model may judge its beats: the
#: :data:`SINUS_P_QUANTILE` quantile of their P-window correlations with the dominant beat's, over about
#: 17 beats, must exceed :data:`SINUS_P_CORR` (:func:`_sinus_p_kept`). Chosen on DS1 and the simulator's
#: AF (docs/analysis.md, algorithm 0.5.10).
SINUS_P_CORR = 0.7
SINUS_P_QUANTILE = 0.25
RR_REFERENCE_BEATS = 9
#: A paroxysmal SVT run of any length (:func:`_paroxysmal_runs`): at least SVT_MIN_BEATS beats faster
#: than 100 bpm (median RR < SVT_MAX_RR s) starting with a premature beat; it ends where the RR
#: lengthens to >= SVT_SLOWER x the run's recent RR and stays there (median of the next 5 RRs), in one
#: step (that RR >= SVT_SLOWER x the 3 RRs before it: sinus tachycardia slows over many beats), back
#: towards the rhythm before it (those 5 RRs >= PREMATURE_RR x the reference at the onset).
SVT_MIN_BEATS = 3
SVT_MAX_RR = 0.6
SVT_SLOWER = 1.15
#: Fusion: the beat's QRS is a blend lam * dominant + (1 - lam) * ventricular template with lam inside this
#: range, the blend leaves at most FUSION_RESIDUAL of the beat's energy unexplained, and the beat comes on
#: time (RR >= FUSION_MIN_RR x the reference), as a sinus and an ectopic wavefront meeting would.
FUSION_MIX = (0.25, 0.75)
FUSION_RESIDUAL = 0.1
FUSION_MIN_RR = 0.9
FUSION_MIN_TEMPLATE_BEATS = 3


class BeatClass(enum.StrEnum):
    """AAMI EC57 beat classes."""

    N = "N"  # normal and bundle-branch-block beats
    S = "S"  # supraventricular ectopic
    V = "V"  # ventricular ectopic
    F = "F"  # fusion
    Q = "Q"  # unclassifiable or paced


@dataclass
class BeatFeatures:
    """Per-beat features of one chunk or of the whole recording (after :func:`concat_features`)."""

    waveforms: np.ndarray  # (n, len(WAVE_T)) float32, mV, baseline at the PR segment
    width_ms: np.ndarray  # (n,) float32

    def __len__(self) -> int:
        return int(self.width_ms.size)


@dataclass(frozen=True)
class Template:
    """A morphology class: its label, how many beats, and the mean beat (at the recording's rate)."""

    template_id: int
    label: BeatClass
    n_beats: int
    waveform: np.ndarray  # mean beat, mV, R peak at the centre sample
    width_ms: float


@dataclass
class BeatTable:
    """Every beat: R-peak sample, AAMI label, template id (-1: none), and the templates."""

    samples: np.ndarray
    labels: np.ndarray
    template_ids: np.ndarray
    templates: list[Template] = field(default_factory=list)
    fs: float = 0.0

    def __len__(self) -> int:
        return int(self.samples.size)

    def counts(self) -> dict[str, int]:
        return {c.value: int(np.sum(self.labels == c.value)) for c in BeatClass}

    def relabel_template(self, template_id: int, label: BeatClass | str) -> BeatTable:
        """A technician's edit: every beat of ``template_id`` becomes ``label`` (a new table)."""
        new = BeatClass(check_option("label", str(label), [c.value for c in BeatClass]))
        if not any(t.template_id == template_id for t in self.templates):
            raise InputError("template", f"no template {template_id}; templates are "
                                         f"{[t.template_id for t in self.templates]}")
        labels = np.where(self.template_ids == template_id, new.value, self.labels)
        templates = [replace(t, label=new) if t.template_id == template_id else t for t in self.templates]
        return BeatTable(self.samples, labels, self.template_ids, templates, self.fs)

    def relabel_beat(self, index: int, label: BeatClass | str) -> BeatTable:
        """A technician's edit of one beat (a new table)."""
        new = BeatClass(check_option("label", str(label), [c.value for c in BeatClass]))
        if not 0 <= index < self.samples.size:
            raise InputError("beat", f"must be 0..{self.samples.size - 1}, got {index}")
        labels = self.labels.copy()
        labels[index] = new.value
        return BeatTable(self.samples, labels, self.template_ids, list(self.templates), self.fs)


def _windows(x: np.ndarray, fs: float, samples: np.ndarray, half: int) -> np.ndarray:
    """Each beat's samples ``-half..+half`` around R as the beats see them: a 10 ms moving average (drops
    noise above ~40 Hz) minus the baseline (1 s moving mean, evaluated on 50 ms block means at the
    window's ends and drawn as a straight line between them). Costs O(beats x window), plus one cheap
    pass of block means, instead of a band-pass over the whole signal."""
    smooth = max(0, int(round(0.005 * fs)))
    offs = np.arange(-half - smooth, half + smooth + 1)
    raw = x[np.clip(samples[:, None] + offs[None, :], 0, x.size - 1)]
    if smooth:
        c = np.concatenate([np.zeros((raw.shape[0], 1)), np.cumsum(raw, axis=1)], axis=1)
        raw = (c[:, 2 * smooth + 1:] - c[:, : -2 * smooth - 1]) / (2 * smooth + 1)
    k = max(1, int(round(0.05 * fs)))
    m = max(1, x.size // k)
    blocks = x[: m * k].reshape(m, k) @ np.full(k, 1.0 / k) if x.size >= k else np.array([x.mean()])
    cb = np.concatenate([[0.0], np.cumsum(blocks)])
    reach = 10  # blocks either side: a 1 s mean

    def baseline(at: np.ndarray) -> np.ndarray:
        b = np.clip(at // k, 0, blocks.size - 1)
        lo, hi = np.maximum(b - reach, 0), np.minimum(b + reach + 1, blocks.size)
        return (cb[hi] - cb[lo]) / (hi - lo)

    start, end = baseline(samples - half), baseline(samples + half)
    ramp = np.linspace(0.0, 1.0, raw.shape[1])
    return raw - (start[:, None] + (end - start)[:, None] * ramp[None, :])


def extract_beat_features(ecg: np.ndarray, fs: float, samples: np.ndarray) -> BeatFeatures:
    """Features of the beats at ``samples`` (indices into ``ecg``, one lead, mV; NaN counts as 0)."""
    fs = check_positive("fs", fs)
    x = np.nan_to_num(np.asarray(ecg, dtype=np.float64))
    samples = np.asarray(samples, dtype=np.int64)
    n = samples.size
    if n == 0 or x.size == 0:
        return BeatFeatures(np.zeros((n, WAVE_T.size), np.float32), np.zeros(n, np.float32))
    half = int(np.ceil(0.2 * fs)) + 1
    win = _windows(x, fs, samples, half)
    waves = win[:, np.round(WAVE_T * fs).astype(np.int64) + half]
    # Baseline: the PR segment (70-50 ms before R), so a wandering level does not change the shape.
    pr = (WAVE_T >= -0.07) & (WAVE_T <= -0.05)
    waves = waves - waves[:, pr].mean(axis=1, keepdims=True)
    # QRS width: the span around R where the slope exceeds 15 % of the beat's steepest slope.
    qrs = int(round(0.12 * fs))
    seg = win[:, half - qrs - 1: half + qrs + 2]
    slope = np.abs(seg[:, 2:] - seg[:, :-2])
    steep = slope >= 0.15 * slope.max(axis=1, keepdims=True)
    first = np.argmax(steep, axis=1)
    last = steep.shape[1] - 1 - np.argmax(steep[:, ::-1], axis=1)
    width = (last - first) / fs * 1000.0
    return BeatFeatures(waves.astype(np.float32), width.astype(np.float32))


def concat_features(parts: Sequence[BeatFeatures]) -> BeatFeatures:
    if not parts:
        return BeatFeatures(np.zeros((0, WAVE_T.size), np.float32), np.zeros(0, np.float32))
    return BeatFeatures(np.concatenate([p.waveforms for p in parts]),
                        np.concatenate([p.width_ms for p in parts]))


def _normalised(qrs: np.ndarray) -> np.ndarray:
    """Each row centred and scaled to unit length, in float32: a 14-day recording has over a million rows."""
    centred = np.asarray(qrs, dtype=np.float32) - qrs.mean(axis=1, keepdims=True, dtype=np.float32)
    norm = np.linalg.norm(centred, axis=1, keepdims=True)
    centred /= np.where(norm > 0, norm, np.float32(1.0))
    return centred


def _beat_priority(samples: np.ndarray, salt: int) -> np.ndarray:
    """A pseudo-random rank per beat drawn from its own R-peak sample (a multiplicative hash), not from its
    index: a beat more or fewer elsewhere leaves every other beat's rank, and so the template seeds, as
    they were (a draw by index rebuilt a record's templates when one beat came or went)."""
    mixed = (np.asarray(samples, dtype=np.uint64) + np.uint64(salt)) * np.uint64(0x9E3779B97F4A7C15)
    return mixed ^ (mixed >> np.uint64(29))


def _cluster(unit: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """Greedy templates: the most typical unassigned beat seeds one; beats correlating >= 0.9 join it."""
    n = unit.shape[0]
    ids = np.full(n, -1, dtype=np.int32)
    sample_order = np.argsort(_beat_priority(samples, 0), kind="stable")
    candidate_order = np.argsort(_beat_priority(samples, 1), kind="stable")
    for template in range(MAX_TEMPLATES):
        free = np.flatnonzero(ids < 0)
        if free.size == 0:
            break
        # Seed: the free beat most like a sample of the other free beats (a typical member, not an outlier).
        sample = sample_order[ids[sample_order] < 0][:200]
        candidates = candidate_order[ids[candidate_order] < 0][:50]
        typical = candidates[np.argmax((unit[candidates] @ unit[sample].T).mean(axis=1))]
        # Scores of every beat (one float each) instead of copies of the free rows: memory stays flat.
        near = free[(unit @ unit[typical])[free] >= TEMPLATE_CORRELATION]
        centre = unit[near].mean(axis=0)
        centre /= max(float(np.linalg.norm(centre)), 1e-12)
        joined = free[(unit @ centre)[free] >= TEMPLATE_CORRELATION]
        if joined.size == 0:
            joined = np.asarray([typical])
        ids[joined] = template
    return ids


def _rr_context(samples: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
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


def _compensated(rr_prev: np.ndarray, reference: np.ndarray, members: np.ndarray) -> bool:
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


def _supraventricular_runs(rr_prev: np.ndarray, reference: np.ndarray, premature: np.ndarray) -> np.ndarray:
    """Premature beats and the beats that continue their run, as in an SVT where only the first beat is
    premature: the RR stays short (< 90 % of the reference RR at the run's onset) and is no longer than
    1.15x the previous RR."""
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


def _paroxysmal_runs(rr_prev: np.ndarray, reference: np.ndarray, premature: np.ndarray,
                     normal: np.ndarray) -> np.ndarray:
    """Beats of paroxysmal SVT runs too long for :func:`_supraventricular_runs`, whose rate the reference
    RR has taken (MIT-BIH 207 and 209: runs of 40-100 beats). Such a run starts abruptly (its first beat
    premature against the rhythm before it) and stops abruptly, back towards that rhythm; sinus
    tachycardia warms up and cools down over many beats instead (docs/analysis.md). Only beats of
    ``normal`` shape (not ventricular, outside irregular stretches) take part; a run that such a beat
    interrupts, whose end is not abrupt, or that is no tachycardia (median RR >= :data:`SVT_MAX_RR`) is
    not one. A run still going at the recording's end counts (its onset was abrupt; its end is not
    seen)."""
    n = rr_prev.size
    out = np.zeros(n, dtype=bool)
    if n < SVT_MIN_BEATS + 1:
        return out
    rr = np.nan_to_num(rr_prev, nan=np.inf)
    # the median of the RR and the 4 after it (the last RR repeated at the recording's end): whether a
    # slower rate lasts
    ahead = ndimage.median_filter(rr, size=5, origin=-2, mode="nearest")
    values = rr.tolist()  # the loop takes medians of a few RRs: Python's sort is faster than numpy's there
    starts = np.flatnonzero(premature & normal)
    starts = starts[starts + SVT_MIN_BEATS <= n]
    # the loop below, vectorised for a run's first beats: most premature beats are single PACs
    long_enough = np.ones(starts.size, dtype=bool)
    for step in range(1, SVT_MIN_BEATS):
        at = starts + step
        recent = np.median(rr[starts[:, None] + np.arange(step)], axis=1)
        slower = (rr[at] >= SVT_SLOWER * recent) & (ahead[at] >= SVT_SLOWER * recent)
        back = np.minimum(rr[at], ahead[at]) >= PREMATURE_RR * reference[starts]
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
            if min(rr[k], ahead[k]) >= min(SVT_SLOWER * recent, PREMATURE_RR * reference[i]):
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


def _irregular(rr_prev: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Beats inside an irregularly irregular stretch (AF-like): over about 17 beats, the median RR change
    at every lag of 1, 2 and 3 beats exceeds 10 % of the reference RR. Bigeminy and trigeminy repeat at
    lag 2 or 3, so they stay regular; so do sinus rhythm and its slow changes. Frequent premature beats
    that repeat in no pattern pass that test too (SVDB 842, 852, 854; MIT-BIH 220): the stretch is
    AF-like only if the RRs left once each premature beat and the beat after it are set aside also
    change by more than :data:`UNDERLYING_RR` from one to the next (:func:`_underlying_irregular`)."""
    n = rr_prev.size
    irregular = np.ones(n, dtype=bool)
    rr = np.nan_to_num(rr_prev, nan=float(np.nanmedian(rr_prev)) if n > 1 else 1.0)
    for lag in (1, 2, 3):
        if n <= lag + 1:
            return np.zeros(n, dtype=bool)
        change = np.concatenate([np.zeros(lag), np.abs(rr[lag:] - rr[:-lag])]) / reference
        irregular &= ndimage.median_filter(change, size=min(17, n), mode="nearest") > IRREGULAR_RR
    candidates = np.flatnonzero(irregular)
    irregular[candidates] = _underlying_irregular(rr_prev, reference, candidates)
    return irregular


def _underlying_irregular(rr_prev: np.ndarray, reference: np.ndarray, beats: np.ndarray) -> np.ndarray:
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
    size = min(17, n)
    padded = np.concatenate([np.full(size // 2, np.nan), step, np.full(size - 1 - size // 2, np.nan)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, size)
    out = np.ones(beats.size, dtype=bool)
    # blocks of rows: a 14-day recording in AF would otherwise sort a copy of every window at once
    for first in range(0, beats.size, 65536):
        rows = beats[first:first + 65536]
        ordered = np.sort(windows[rows], axis=1)  # NaN last
        counts = np.isfinite(ordered).sum(axis=1)
        at = np.arange(rows.size)
        median = (ordered[at, np.maximum((counts - 1) // 2, 0)] + ordered[at, np.maximum(counts // 2, 0)]) / 2
        with np.errstate(invalid="ignore"):
            out[first:first + rows.size] = (counts < UNDERLYING_STEPS) | (median > UNDERLYING_RR)
    return out


def correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of ``a`` (or of ``a``) with ``b``."""
    a = a - a.mean(axis=-1, keepdims=True)
    b = b - b.mean()
    return np.asarray((a @ b) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b), 1e-12))


def _p_correlation(waves: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Correlation of each beat's P window with ``reference`` (the dominant beat's)."""
    out = np.empty(len(waves))
    for first in range(0, out.size, 65536):  # blocks: no float64 copy of a million P windows at once
        p = np.asarray(waves[first:first + 65536, P_PART], dtype=np.float64)
        out[first:first + p.shape[0]] = correlation(p, reference)
    return out


def _sinus_p_kept(p_corr: np.ndarray, on_time: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """Whether the on-time beats around each of ``beats`` (indices) keep the dominant beat's P wave: over
    about 17 beats, the :data:`SINUS_P_QUANTILE` quantile of ``p_corr`` among the ``on_time`` beats
    exceeds :data:`SINUS_P_CORR`. Frequent PACs leave sinus P waves before the beats between them; AF has
    none, only fibrillatory waves at random phase. With fewer than :data:`UNDERLYING_STEPS` on-time beats
    in the window nothing is known: False."""
    n = p_corr.size
    size = min(17, n)
    values = np.where(on_time, p_corr, np.nan)
    padded = np.concatenate([np.full(size // 2, np.nan), values, np.full(size - 1 - size // 2, np.nan)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, size)
    out = np.zeros(beats.size, dtype=bool)
    for first in range(0, beats.size, 65536):  # blocks: a long recording in AF is mostly candidates
        ordered = np.sort(windows[beats[first:first + 65536]], axis=1)  # NaN last
        counts = np.isfinite(ordered).sum(axis=1)
        # np.nanquantile's linear interpolation, on sorted rows (it loops over rows in Python)
        at = SINUS_P_QUANTILE * np.maximum(counts - 1, 0)
        low = np.floor(at).astype(np.int64)
        high = np.minimum(low + 1, np.maximum(counts - 1, 0))
        rows = np.arange(ordered.shape[0])
        level = ordered[rows, low] + (at - low) * (ordered[rows, high] - ordered[rows, low])
        out[first:first + rows.size] = (counts >= UNDERLYING_STEPS) & (level > SINUS_P_CORR)
    return out


@dataclass
class RuleState:
    """The template rules' result, before the S model and the fusion test (:func:`rule_state`)."""

    labels: np.ndarray
    ids: np.ndarray
    templates: list[Template]
    dominant: int
    rr_prev: np.ndarray
    reference: np.ndarray
    irregular: np.ndarray
    #: N beats the S model may call S: outside on-time small templates and AF-like stretches (irregular
    #: ones whose on-time beats do not keep the dominant P wave, :func:`_sinus_p_kept`)
    s_candidates: np.ndarray


def rule_state(features: BeatFeatures, samples: np.ndarray, fs: float) -> RuleState:
    """Templates, their N / V labels and the RR rules' S beats (module docstring)."""
    waves = np.asarray(features.waveforms, dtype=np.float32)  # no float64 copy of a million waveforms
    n = samples.size
    unit = _normalised(waves[:, QRS_PART])
    ids = _cluster(unit, samples)
    rr_prev, reference = _rr_context(samples, fs)
    premature = rr_prev < PREMATURE_RR * reference
    sizes = np.bincount(ids[ids >= 0], minlength=MAX_TEMPLATES)
    dominant = int(np.argmax(sizes))
    dom_unit = unit[ids == dominant].mean(axis=0)
    dom_unit /= max(float(np.linalg.norm(dom_unit)), 1e-12)
    dom_width = float(np.median(features.width_ms[ids == dominant]))
    # np.ix_ takes only the QRS columns of the rows: the dominant template is most of the recording
    dom_amp = float(np.median(np.ptp(waves[np.ix_(ids == dominant, QRS_PART)], axis=1)))
    labels = np.full(n, BeatClass.N.value, dtype="<U1")
    odd = np.zeros(n, dtype=bool)
    templates: list[Template] = []
    half = int(round(0.2 * fs))
    t_out = np.arange(-half, half + 1) / fs
    for template in np.unique(ids):
        members = np.flatnonzero(ids == template)
        corr = float(unit[members].mean(axis=0) @ dom_unit) / max(
            float(np.linalg.norm(unit[members].mean(axis=0))), 1e-12)
        width = float(np.median(features.width_ms[members]))
        amp = float(np.median(np.ptp(waves[np.ix_(members, QRS_PART)], axis=1)))
        early = float(np.mean(premature[members]))
        wide_or_big = width > 1.25 * dom_width or amp > 1.6 * dom_amp or _compensated(
            rr_prev, reference, members)
        # a shape unlike the dominant one is ventricular only with a ventricular feature: wide, large or
        # often early. On-time beats of normal width and size are a conducted beat seen differently (an
        # axis or electrode shift: MIT-BIH 114's V5 lead splits its normal beats into 4 such templates).
        ventricular = template != dominant and (
            (corr < 0.5 and (wide_or_big or early > UNLIKE_EARLY))
            or (corr < 0.85 and (wide_or_big or early > 0.5))
            or (width > WIDE_PREMATURE * dom_width and early > 0.5))
        if ventricular and amp < ON_TIME_SMALL * dom_amp and not _compensated(rr_prev, reference, members):
            with np.errstate(invalid="ignore"):
                timing = rr_prev[members] / reference[members]
            timing = timing[np.isfinite(timing)]
            if timing.size and ON_TIME[0] <= float(np.median(timing)) <= ON_TIME[1]:
                ventricular = False
                # an odd-shaped, on-time template: its few early beats are noise or extra detections
                # shortening the RR (108), not premature atrial beats
                odd[members] = True
        label = BeatClass.V if ventricular else BeatClass.N
        if template >= 0:
            mean = _mean_rows(waves, ids == template, slice(None))
            templates.append(Template(int(template), label, int(members.size),
                                      np.interp(t_out, WAVE_T, mean).astype(np.float32), width))
        labels[members] = label.value
    irregular = _irregular(rr_prev, reference)
    ectopic = _supraventricular_runs(rr_prev, reference, premature) & ~irregular
    normal = (labels != BeatClass.V.value) & ~irregular & ~odd
    ectopic |= _paroxysmal_runs(rr_prev, reference, premature, normal)
    labels[(labels == BeatClass.N.value) & ectopic & ~odd] = BeatClass.S.value
    # the RR rules stay away from every irregular stretch; the S model only from those without P waves
    af_like = irregular.copy()
    if irregular.any():
        dom_p = np.median(waves[np.ix_(ids == dominant, P_PART)], axis=0).astype(np.float64)
        on_time = ~premature & (labels != BeatClass.V.value)
        candidates = np.flatnonzero(irregular)
        af_like[candidates] = ~_sinus_p_kept(_p_correlation(waves, dom_p), on_time, candidates)
    s_candidates = (labels == BeatClass.N.value) & ~af_like & ~odd
    return RuleState(labels, ids, templates, dominant, rr_prev, reference, irregular, s_candidates)


def classify_beats(features: BeatFeatures, samples: np.ndarray, fs: float) -> BeatTable:
    """AAMI labels for every beat of the recording, from its features and R-peak samples."""
    from ecgdesk.analysis.beat_model import (
        beat_matrix,
        default_model,
        early_for_its_rhythm,
        not_ventricular,
        rhythm_features,
        supraventricular,
    )

    samples = np.asarray(samples, dtype=np.int64)
    n = samples.size
    if n != len(features):
        raise InputError("features", f"{len(features)} feature rows for {n} beats")
    if n == 0:
        return BeatTable(samples, np.zeros(0, "<U1"), np.zeros(0, np.int32), [], fs)
    state = rule_state(features, samples, fs)
    labels, ids, templates = state.labels, state.ids, state.templates
    # the S model (trained on MIT-BIH DS1) adds premature atrial beats the RR rules miss
    # and vetoes the rules' V calls on beats it finds plainly not ventricular
    candidates = state.s_candidates
    rule_v = labels == BeatClass.V.value
    if default_model() is not None and (candidates.any() or rule_v.any()) and n >= 3:
        # only the beats the model may change get its features (a fifth of a recording with frequent
        # ectopy, a few per cent of most): the model's S needs a beat early for its rhythm
        rhythm = rhythm_features(samples, fs, state.reference)
        rows = (candidates & early_for_its_rhythm(rhythm)) | rule_v
        at = np.flatnonzero(rows)
        matrix = beat_matrix(features.waveforms, features.width_ms, samples, fs, ids, state.reference,
                             state.irregular, rule_v, rows=rows, rhythm=rhythm)
        labels[at[supraventricular(matrix, candidates[rows])]] = BeatClass.S.value
        labels[at[not_ventricular(matrix, rule_v[rows])]] = BeatClass.N.value
    waves = np.asarray(features.waveforms, dtype=np.float32)
    ventricular_ids = [t.template_id for t in templates
                       if t.label is BeatClass.V and t.n_beats >= FUSION_MIN_TEMPLATE_BEATS]
    if ventricular_ids:
        fused = _fusion(waves, ids, state.dominant, ventricular_ids)
        with np.errstate(invalid="ignore"):
            on_time = state.rr_prev >= FUSION_MIN_RR * state.reference
        labels[fused & on_time & (labels != BeatClass.S.value)] = BeatClass.F.value
    return BeatTable(samples, labels, ids, templates, fs)


def _fusion(waves: np.ndarray, ids: np.ndarray, dominant: int, ventricular_ids: list[int]) -> np.ndarray:
    """Beats whose QRS (mV) is a blend of the dominant and one ventricular template (:data:`FUSION_MIX`).
    Rows go through in blocks: a 14-day recording's beats times the QRS window, in float64, several
    times over, set the whole analysis's peak memory."""
    normal = _mean_rows(waves, ids == dominant, QRS_PART)
    fused = np.zeros(ids.size, dtype=bool)
    for template in ventricular_ids:
        # each beat as a * normal + b * ventricular, both weights free: a normal beat that is only larger or
        # smaller (respiration, a lead shift) is all normal (b ~ 0), not part ventricular
        basis = np.stack([normal, _mean_rows(waves, ids == template, QRS_PART)]).astype(np.float32)
        gram = (basis @ basis.T).astype(np.float64)
        if abs(float(np.linalg.det(gram))) <= 1e-12 * float(np.trace(gram)) ** 2:
            continue
        blend = np.concatenate([_blends(waves[i:i + _BLOCK, QRS_PART], basis, gram)
                                for i in range(0, ids.size, _BLOCK)])
        if int(blend.sum()) <= int((ids == template).sum()):
            fused |= blend
    return fused


def _mean_rows(waves: np.ndarray, members: np.ndarray, columns: np.ndarray | slice) -> np.ndarray:
    """Mean (float64) of the ``members`` rows of ``waves`` over ``columns``, a block of rows at a time."""
    total = np.zeros(np.zeros(waves.shape[1])[columns].size)
    for i in range(0, members.size, _BLOCK):
        total += waves[i:i + _BLOCK, columns][members[i:i + _BLOCK]].sum(axis=0, dtype=np.float64)
    return total / max(int(members.sum()), 1)


def _blends(qrs: np.ndarray, basis: np.ndarray, gram: np.ndarray) -> np.ndarray:
    """Which beats (rows of ``qrs``) are a blend of the two ``basis`` shapes (:func:`_fusion`)."""
    energy = np.maximum(np.einsum("ij,ij->i", qrs, qrs, dtype=np.float64), 1e-12)
    weights = np.linalg.solve(gram, (basis @ qrs.T).astype(np.float64)).T
    a, b = weights[:, 0], weights[:, 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        share = b / (a + b)
    left = qrs - weights @ basis.astype(np.float64)
    residual = np.einsum("ij,ij->i", left, left, dtype=np.float64)
    return np.asarray((a > 0) & (b > 0) & (share >= FUSION_MIX[0]) & (share <= FUSION_MIX[1])
                      & (residual <= FUSION_RESIDUAL * energy))


def analyze_beats(ecg: np.ndarray, fs: float) -> BeatTable:
    """Detect, describe and classify the beats of an in-memory lead (tests, short recordings)."""
    from ecgdesk.analysis.detection import detect_qrs

    samples = detect_qrs(ecg, fs).samples
    return classify_beats(extract_beat_features(ecg, fs, samples), samples, fs)
