"""Delineation of every beat of a recording of any length and any number of leads, streamed in blocks.

The resting 12-lead analysis (:mod:`ecgdesk.analysis.ecg12.delineation`) delineates one median beat of a
10 s recording. Here the same boundary rules run beat by beat over a whole recording:

1. The recording is read in blocks (``block_s``), each with ``context_s`` of signal on both sides, so the
   filters and the beat templates see across the block borders; memory stays bounded whatever the length.
   A beat belongs to the block whose core holds its fiducial; one seen again in the next block's context
   is not emitted twice.
2. In each block: baseline removal and low-pass as for the resting ECG, QRS fiducials from the spatial
   energy of all leads, and the dominant QRS shape (beats that correlate with the block's median QRS).
3. A beat of the dominant shape is delineated on its local template: the sample-wise median of the
   ``template_beats`` dominant beats nearest to it in time (itself included). A single beat's P wave is
   often within the noise; the median of its neighbours keeps the waves and drops the noise, and follows
   slow changes (rate, QT) because the neighbours are a few seconds away at most. A beat of another shape
   (PVC, aberrant) is delineated on its own samples, without a P wave when it is premature.
4. Per lead: the global QRS onset/offset (spatial velocity of all leads) and each lead's own P and T;
   with three leads or more each lead keeps half of its own P/T deviation from the median of the leads,
   as on the resting ECG. The fused marks (lead ``all``) take the QRS bounds, and the P and T boundaries
   found on the wave's principal direction (the template projected on the first principal component of
   that wave's samples across the leads, :func:`principal_direction`) with one or two leads, the median of
   the leads' boundaries with three or more (:class:`Fusion`).
5. Only signal the ambulatory quality gate (:mod:`ecgdesk.analysis.quality`) calls analyzable is
   delineated (:mod:`ecgdesk.analysis.waves_gate`, waves-1.7): per lead and 5 s epoch of each block,
   noise, lead-off and ventricular fibrillation are blanked before the block is filtered; a lead that is
   nowhere analyzable in a block's core takes no part in it; a beat where no lead is analyzable, or whose
   fiducial the ambulatory QRS detector does not confirm on a lead analyzable there, is not delineated;
   and a lead gets no marks at a beat where it is not analyzable.
6. Pacemaker stimuli (one or two samples at 500 Hz or more) are cut out of the raw samples before the
   block is filtered (:mod:`ecgdesk.analysis.pacing`, waves-1.9), with the slow decay some recorders
   leave after them (waves-1.10), so that the low-pass does not smear them into a QRS onset or a P wave.
7. Thresholds and choices were made on the tuning half of the QT Database and LUDB records 1-50; the
   other halves are held out (``bench/bench_delineate.py``, ``docs/delineate.md``).
"""

from __future__ import annotations

import enum
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ecgdesk.analysis.ecg12.delineation import (
    DelineationParams,
    Wave,
    WaveKind,
    conditioned,
    delineate_median_lead,
    dominant_beats,
    find_fiducials,
    fuse_boundaries,
    lowpass,
    qrs_bounds,
    qrs_correlation,
)
from ecgdesk.analysis.pacing import without_spikes
from ecgdesk.analysis.waves_gate import CONFIRM_S, block_quality
from ecgdesk.errors import InputError
from ecgdesk.records.recording import Recording

#: waves-1.7: signal the quality gate calls noise, lead-off or fibrillation is not delineated; waves-1.8: the
#: gate of ambulatory 0.5.46 (a flat digital baseline between regular complexes is not a rail); waves-1.9:
#: pacemaker stimuli cut out of the raw samples before filtering (:mod:`ecgdesk.analysis.pacing`); waves-1.10:
#: and the decay a stimulus leaves on some recorders, until the lead is back at its level.
ALGORITHM_VERSION = "waves-1.10"
#: The lead name of the multi-lead (fused) marks in ``waves.csv``.
FUSED = "all"


class Fusion(enum.StrEnum):
    """How the multi-lead P and T boundaries are formed from the leads."""

    PRINCIPAL = "principal"  # delineate the wave on its first principal component across the leads
    MEDIAN = "median"  # median of the per-lead boundaries
    #: The principal component with one or two leads, the median with three or more. With two leads the
    #: median is the mean of a lead that shows the wave and one that may not (QT Database tuning half,
    #: averaged over records: P offset SD 13.6 -> 12.6 ms, T offset missed 1 -> 4 but mean 7.2 -> -4.9 ms
    #: and SD 20.3 -> 18.4 ms); with twelve, the median agrees better with each lead's own cardiologist
    #: marks (LUDB 1-50: P offset SD 28.0 -> 20.4 ms, T offset 26.5 -> 25.3 ms).
    AUTO = "auto"


@dataclass(frozen=True)
class StreamParams:
    """Block sizes, template size and boundary rules of the whole-recording delineation."""

    block_s: float = 30.0
    context_s: float = 5.0
    template_beats: int = 5
    fusion: Fusion = Fusion.AUTO
    #: Pull each lead's P and T boundaries towards their median over the leads (with 3 leads or more).
    lead_pull: bool = True
    #: The resting ECG's boundary rules, with three thresholds chosen on the tuning half of the QT
    #: Database (bench/bench_delineate.py): the T wave low-passed at 15 Hz (T offset mean -10.5 -> -3.0 ms,
    #: averaged over records), the T peak the earliest wave scoring half the most prominent one (T offsets
    #: missed 13 -> 4), the P offset at half the steepest slope (SD 13.2 -> 12.6 ms; 0.4 since waves-1.1).
    #: waves-1.1 (QT Database tuning half, mean / SD over records, ms): the P offset at 0.4 of the steepest
    #: slope, not 0.5 (-2.9 / 12.6 -> -0.9 / 12.6: the same spread, less bias), the QRS offset where the
    #: spatial velocity falls to 0.08 of its peak, not 0.05 (5.2 / 10.3 -> 1.0 / 9.5).
    #: waves-1.4: the P offset at 0.3, chosen on all 32 shared QT Database records, whose two halves
    #: disagree by 12 ms about where the P wave ends: the largest P offset bias over the four references
    #: (both halves, LUDB, pydicom's recording device) falls from 12.3 to 9.7 ms (docs/delineate.md).
    waves: DelineationParams = field(default_factory=lambda: DelineationParams(
        fuse=False, t_lowpass_hz=15.0, t_peak_earliest=0.5, p_off_xi=0.3, qrs_off_xi=0.08))
    #: A beat of the dominant shape takes the mean of its template's QRS bounds and its own samples' bounds,
    #: weighted by this (0: the template alone). The template's bounds barely move from beat to beat,
    #: but the QRS itself does (a delta wave that comes and goes, beat-to-beat conduction changes); the
    #: beat alone is noisier. On the tuning half: QRS onset SD 9.5 -> 8.8 ms, offset 9.5 -> 9.6.
    qrs_own_weight: float = 0.5
    #: Delineate only what the quality gate calls analyzable (module docstring, 5.); False: every beat the
    #: fiducial detector finds, noise or not (waves-1.6 and before).
    quality_gate: bool = True
    #: The beat's own bounds move its template's by at most this (the lead pull's clip, ``lead_clip_ms``):
    #: the beat alone sometimes takes the P wave's last slope for the start of the QRS (sel39: one beat
    #: 52 ms early); within the clip a real change (a delta wave that comes and goes) is still followed.
    #: waves-1.2, tuning half: QRS onset SD 8.8 -> 8.6 ms (sel39 11.9 -> 9.6).
    qrs_own_clip_ms: float = 20.0
    #: The T wave is searched from the QRS offset found at this share of the spatial velocity's peak (the
    #: threshold the T rules were chosen with), whatever ``waves.qrs_off_xi`` reports as the QRS offset: a
    #: QRS offset threshold chosen for the QRS must not move the T search window.
    t_window_xi: float = 0.05
    #: A beat delineated on its template takes, for its P wave, the median over this many template beats
    #: around it (itself included) of the P wave's place relative to each beat's fiducial (0 or 1: its own;
    #: waves-1.6, chosen on the tuning half from 1, 3, 5, 7, 9 and 13, docs/delineate.md).
    steady_p_beats: int = 5
    #: Cut pacemaker stimuli out of the raw samples before filtering (:mod:`ecgdesk.analysis.pacing`,
    #: waves-1.9): the 40 Hz low-pass smears a 1-2 sample stimulus over some 20 ms on each side, where it
    #: passed for the start of a paced QRS or for a P wave.
    pacing_spikes: bool = True


@dataclass(frozen=True)
class BeatWaves:
    """One beat: its fiducial (sample index into the recording), per-lead waves and the fused waves."""

    fiducial: int
    dominant: bool
    leads: tuple[tuple[Wave, ...], ...]
    fused: tuple[Wave, ...]


@dataclass
class Coverage:
    """Seconds of the recording delineated and left out by the quality gate (filled while streaming)."""

    analyzable_s: float = 0.0
    skipped_s: float = 0.0


def _shift(waves: Sequence[Wave], by: int) -> tuple[Wave, ...]:
    return tuple(Wave(w.kind, w.onset + by, w.peak + by, w.offset + by) for w in waves)


@dataclass(frozen=True)
class BeatSignals:
    """One beat window ``(samples, leads)``: the 40 Hz signal and its versions low-passed for P and T."""

    beat: np.ndarray
    smooth: np.ndarray
    t_smooth: np.ndarray

    @classmethod
    def of(cls, beat: np.ndarray, fs: float, params: DelineationParams) -> BeatSignals:
        # Low-passing the template (not the template of low-passed beats) kept the P spread smaller on
        # the tuning half of the QT Database (P onset SD 15.1 -> 13.7 ms, averaged over records).
        smooth = lowpass(beat, fs, params.wave_lowpass_hz)
        t_smooth = lowpass(beat, fs, params.t_lowpass_hz) if params.t_lowpass_hz > 0 else smooth
        return cls(beat, smooth, t_smooth)

    def project(self, direction: np.ndarray) -> BeatSignals:
        return BeatSignals(self.beat @ direction, self.smooth @ direction, self.t_smooth @ direction)


def principal_direction(beat: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """The unit direction across the leads along which the samples ``[lo, hi)`` vary most.

    The direction is where the wave (P or T) is largest, so the projection carries it with the best
    signal-to-noise ratio the leads allow, without choosing a lead. Its sign makes the wave's largest
    excursion positive: the boundary rules do not care, but plots read more easily.
    """
    n_leads = beat.shape[1]
    lo, hi = max(0, lo), min(beat.shape[0], hi)
    if n_leads == 1 or hi - lo < 3:  # an empty or too short stretch (a wave at the window's edge, in noise)
        return np.full(n_leads, 1.0 / np.sqrt(n_leads))
    segment = beat[lo:hi] - beat[lo:hi].mean(axis=0)
    if not np.any(segment):
        return np.full(n_leads, 1.0 / np.sqrt(n_leads))
    _, _, vt = np.linalg.svd(segment, full_matrices=False)
    direction = vt[0]
    part = segment @ direction
    return -direction if abs(part.min()) > abs(part.max()) else direction


def _only(waves: list[Wave], kind: WaveKind) -> list[Wave]:
    return [w for w in waves if w.kind is kind]


def _fused_waves(sig: BeatSignals, fid: int, fs: float, on: int, off: int, t_from: int, rr_s: float,
                 per_lead: list[list[Wave]], params: StreamParams, has_p: bool) -> tuple[Wave, ...]:
    """The multi-lead marks of one beat window: QRS bounds shared, P and T by the fusion rule."""
    out = _only(per_lead[0], WaveKind.QRS)
    n_leads = sig.beat.shape[1]
    if params.fusion is Fusion.MEDIAN or n_leads == 1 or (params.fusion is Fusion.AUTO and n_leads >= 3):
        for kind in (WaveKind.P, WaveKind.T):
            found = [w for waves in per_lead for w in waves if w.kind is kind]
            if found:
                out.append(Wave(kind, int(round(np.median([w.onset for w in found]))),
                                int(round(np.median([w.peak for w in found]))),
                                int(round(np.median([w.offset for w in found])))))
        return tuple(sorted(out, key=lambda w: w.peak))
    ms = fs / 1000.0
    if has_p:
        p = sig.project(principal_direction(sig.beat, on - int(320 * ms), on - int(20 * ms)))
        out += _only(delineate_median_lead(p.beat, fid, fs, on, off, rr_s, params.waves, True, p.smooth,
                                           p.t_smooth), WaveKind.P)
    t_hi = fid + int(min(600.0, 700.0 * rr_s) * ms)
    t = sig.project(principal_direction(sig.t_smooth, t_from + int(40 * ms), t_hi))
    out += _only(delineate_median_lead(t.beat, fid, fs, on, off, rr_s, params.waves, False, t.smooth,
                                       t.t_smooth, t_from), WaveKind.T)
    return tuple(sorted(out, key=lambda w: w.peak))


def delineate_window(sig: BeatSignals, fid: int, fs: float, rr_s: float, params: StreamParams,
                     has_p: bool = True,
                     own: np.ndarray | None = None) -> tuple[list[list[Wave]], tuple[Wave, ...]]:
    """Per-lead and fused waves of one beat window with its fiducial at ``fid``.

    ``own``: the beat's own samples when ``sig`` is its template; its QRS bounds are then mixed with the
    template's (``params.qrs_own_weight``).
    """
    xi = params.waves
    on, off = qrs_bounds(sig.beat, fid, fs, xi.qrs_on_xi, xi.qrs_off_xi)
    t_from = qrs_bounds(sig.beat, fid, fs, xi.qrs_on_xi, params.t_window_xi)[1]
    if own is not None and params.qrs_own_weight > 0:
        w = params.qrs_own_weight
        own_on, own_off = qrs_bounds(own, fid, fs, xi.qrs_on_xi, xi.qrs_off_xi)
        clip = params.qrs_own_clip_ms * fs / 1000.0
        on = int(round(on + np.clip(w * (own_on - on), -clip, clip)))
        off = int(round(off + np.clip(w * (own_off - off), -clip, clip)))
    per_lead = [delineate_median_lead(sig.beat[:, li], fid, fs, on, off, rr_s, xi, has_p,
                                      sig.smooth[:, li], sig.t_smooth[:, li], t_from)
                for li in range(sig.beat.shape[1])]
    fused = _fused_waves(sig, fid, fs, on, off, t_from, rr_s, per_lead, params, has_p)
    if params.lead_pull:
        # As on the resting ECG: each lead keeps part of its own P/T deviation from the median of the leads.
        per_lead = fuse_boundaries(per_lead, fs, params.waves.lead_weight, params.waves.lead_clip_ms)
    return per_lead, fused


def _window(rr_s: float, fs: float) -> tuple[int, int]:
    pre = min(0.40, 0.55 * rr_s)
    post = min(0.70, 0.85 * rr_s)
    return int(round(pre * fs)), int(round(post * fs))


BlockBeat = tuple[int, bool, list[list[Wave]], tuple[Wave, ...]]


def delineate_block(filtered: np.ndarray, fs: float, params: StreamParams,
                    keep: tuple[int, int] | None = None) -> list[BlockBeat]:
    """The beats of one filtered block: (fiducial, dominant, per-lead waves, fused waves), block indices.

    Only beats with their fiducial in ``keep`` (``[from, to)``, default the whole block) are delineated;
    the others still serve as template beats.
    """
    fiducials = find_fiducials(filtered, fs)
    if fiducials.size < 2:
        return []
    rr = np.diff(fiducials) / fs
    rr_s = float(np.median(rr))
    pre, post = _window(rr_s, fs)
    n = filtered.shape[0]
    dominant = dominant_beats(filtered, fiducials, fs)
    shape_ok = qrs_correlation(filtered, fiducials, fs) > 0.85 if fiducials.size >= 3 else np.ones(
        fiducials.size, dtype=bool)
    complete = (fiducials - pre >= 0) & (fiducials + post <= n)
    # Templates come from beats of the dominant shape; a premature one of that shape (sinus arrhythmia,
    # most PACs) still shares its waves' shape, so it is delineated on the template too.
    pool = np.flatnonzero(dominant & complete)
    if pool.size == 0:
        pool = np.flatnonzero(shape_ok & complete)
    stack = (np.stack([filtered[f - pre:f + post] for f in fiducials[pool]]) if pool.size
             else np.zeros((0, pre + post, filtered.shape[1])))
    k = max(1, params.template_beats)
    keep_from, keep_to = keep if keep is not None else (0, n)
    out = []
    on_template = []
    for index, f in enumerate(fiducials):
        if not keep_from <= f < keep_to:
            continue
        premature = index > 0 and rr[index - 1] < 0.8 * rr_s
        templated = bool(shape_ok[index] and pool.size)
        if templated:
            nearest = np.argsort(np.abs(fiducials[pool] - f), kind="stable")[:k]
            sig = BeatSignals.of(np.median(stack[nearest], axis=0), fs, params.waves)
            own = filtered[f - pre:f + post] if f - pre >= 0 and f + post <= n else None
            per_lead, fused = delineate_window(sig, pre, fs, rr_s, params, has_p=True, own=own)
        elif f - pre >= 0 and f + post <= n:
            sig = BeatSignals.of(filtered[f - pre:f + post], fs, params.waves)
            per_lead, fused = delineate_window(sig, pre, fs, rr_s, params, has_p=not premature)
        else:
            continue
        by = int(f) - pre
        out.append((int(f), bool(dominant[index]), [list(_shift(w, by)) for w in per_lead],
                    _shift(fused, by)))
        on_template.append(templated)
    return steady_p_waves(out, np.asarray(on_template, dtype=bool), params.steady_p_beats)


def _p_place(waves: Sequence[Wave], fiducial: int) -> np.ndarray:
    """(onset, peak, offset) of the P wave relative to the beat's fiducial; NaN without one."""
    p = next((w for w in waves if w.kind is WaveKind.P), None)
    if p is None:
        return np.full(3, np.nan)
    return np.array([p.onset, p.peak, p.offset], dtype=float) - fiducial


def _with_p(waves: Sequence[Wave], at: np.ndarray) -> tuple[Wave, ...]:
    onset, peak, offset = (int(round(v)) for v in at)
    return tuple(Wave(w.kind, onset, peak, offset) if w.kind is WaveKind.P else w for w in waves)


def steady_p_waves(beats: list[BlockBeat], on_template: np.ndarray, n: int) -> list[BlockBeat]:
    """Each template beat's P waves placed at the median of their place over ``n`` template beats around it.

    The template (the median of a few neighbours) already keeps the P wave's shape; its boundaries still
    move from beat to beat with what noise is left, while the PR interval of one rhythm barely does. The
    median of the P wave's place relative to the beat's fiducial over the neighbouring template beats
    keeps a real change that lasts (a PR interval that lengthens over several beats) and drops the rest.
    Beats of another shape keep their own marks.
    """
    index = np.flatnonzero(on_template)
    if n <= 1 or index.size < 2:
        return beats
    half = n // 2
    n_leads = len(beats[index[0]][2])
    # place[j, lead (the fused marks last), boundary]
    place = np.array([[_p_place(w, beats[i][0]) for w in (*beats[i][2], beats[i][3])] for i in index])
    out = list(beats)
    for j, i in enumerate(index):
        near = place[max(0, j - half): j + half + 1]
        f, dominant, per_lead, fused = beats[i]
        new = []
        for lead, waves in enumerate((*per_lead, fused)):
            known = near[:, lead][~np.isnan(near[:, lead, 0])]
            if np.isnan(place[j, lead, 0]) or known.shape[0] < 2:
                new.append(tuple(waves))
            else:
                new.append(_with_p(waves, f + np.median(known, axis=0)))
        out[i] = (f, dominant, [list(w) for w in new[:n_leads]], new[n_leads])
    return out


def delineate_recording(recording: Recording, leads: Sequence[str | int] | None = None,
                        params: StreamParams | None = None,
                        progress: Callable[[float], object] | None = None,
                        coverage: Coverage | None = None) -> Iterator[BeatWaves]:
    """Delineate every beat of ``recording`` (the chosen ``leads``, default all), block by block.

    ``progress`` is called with the seconds of signal done after each block; ``coverage``, when given,
    adds up the seconds delineated and left out as noise, lead-off or fibrillation. Sample indices are
    into the whole recording.
    """
    params = params or StreamParams()
    fs = recording.fs
    if recording.n_samples < int(2 * fs):
        raise InputError("signal", f"needs at least 2 s of signal to delineate, the recording has "
                         f"{recording.n_samples / fs:.2f} s", recording.path)
    coverage = coverage if coverage is not None else Coverage()
    last = -(10 ** 12)
    refractory = int(0.2 * fs)
    within = int(round(CONFIRM_S * fs))
    for chunk in recording.iter_chunks(params.block_s, params.context_s, leads):
        core_s = (chunk.core_stop - chunk.core_start) / fs
        data = np.asarray(chunk.data, dtype=np.float64)
        finite = np.isfinite(data)
        if not finite.any() or data.shape[0] < int(2 * fs):
            coverage.skipped_s += core_s
            if progress:
                progress(core_s)
            continue
        data = np.where(finite, data, 0.0)
        core = slice(chunk.core_start - chunk.start, chunk.core_stop - chunk.start)
        quality = block_quality(data, fs) if params.quality_gate else None
        clean = quality.analyzable if quality is not None else np.ones(data.shape, dtype=bool)
        usable = np.asarray(clean[core].any(axis=0))  # leads analyzable somewhere in the core
        known = np.asarray(clean[core].any(axis=1))
        coverage.analyzable_s += float(known.sum()) / fs
        coverage.skipped_s += float((~known).sum()) / fs
        if not usable.any():
            if progress:
                progress(core_s)
            continue
        # Noise blanked before filtering: the fiducial detector's thresholds follow the block's energy,
        # and a noisy stretch would raise them over the clean beats beside it.
        raw = np.where(clean, data, 0.0)[:, usable]
        if params.pacing_spikes:
            raw = without_spikes(raw, fs)[0]
        filtered = conditioned(raw, fs)
        final = chunk.core_stop >= recording.n_samples
        # Beats a little before the core may have been missed by the previous block (a fiducial that
        # moved across the border by a sample); those already emitted are skipped below.
        keep = (max(0, chunk.core_start - chunk.start - refractory),
                data.shape[0] if final else chunk.core_stop - chunk.start)
        by = chunk.start
        for f, dominant, per_lead, fused in delineate_block(filtered, fs, params, keep):
            sample = chunk.start + f
            at = clean[min(f, clean.shape[0] - 1)]
            if sample <= last + refractory or (sample >= chunk.core_stop and not final) or not at.any():
                continue
            if quality is not None and not quality.confirms(f, at, within):
                continue
            last = sample
            yield BeatWaves(sample, dominant, _lead_marks(per_lead, usable, at, by), _shift(fused, by))
        if progress:
            progress(core_s)


def _lead_marks(per_lead: list[list[Wave]], usable: np.ndarray, at: np.ndarray,
                by: int) -> tuple[tuple[Wave, ...], ...]:
    """Each lead's marks at one beat: those of the leads delineated in its block (``usable``) where the
    lead is analyzable at the beat (``at``), none elsewhere."""
    marks = iter(per_lead)
    out = []
    for use, ok in zip(usable.tolist(), at.tolist(), strict=True):
        waves = next(marks) if use else []
        out.append(_shift(waves, by) if ok else ())
    return tuple(out)


@dataclass(frozen=True)
class WavesSummary:
    """What :func:`write_waves_csv` wrote: beats, rows, and the median fused intervals (ms)."""

    path: Path
    beats: int
    rows: int
    leads: tuple[str, ...]
    seconds: float
    pr_ms: float | None
    qrs_ms: float | None
    qt_ms: float | None
    skipped_s: float = 0.0  # seconds left out as noise, lead-off or fibrillation on every lead


def _median_ms(values: list[int], fs: float) -> float | None:
    return round(float(np.median(values)) * 1000.0 / fs, 1) if values else None


def write_waves_csv(recording: Recording, target: Path, leads: Sequence[str | int] | None = None,
                    params: StreamParams | None = None,
                    progress: Callable[[float], object] | None = None) -> WavesSummary:
    """Delineate ``recording`` and write ``lead,wave,onset,peak,offset`` rows to ``target``, beat by beat.

    Rows are streamed to a temporary file beside ``target`` that replaces it only when every beat is
    done, so an interrupted run never leaves a half-written ``waves.csv`` (nor destroys an older one).
    For each beat: the rows of each lead (P, QRS, T in time order), then the fused rows (lead ``all``).
    A recording without a single QRS complex in its analyzable signal (flat, lead-off, noise, not an ECG)
    raises :class:`InputError` and leaves ``target`` as it was.
    """
    indices = range(recording.n_leads) if leads is None else [recording.lead_index(lead) for lead in leads]
    names = tuple(recording.lead_names[i] for i in indices)
    if any(name.lower() == FUSED for name in names):
        raise InputError("leads", f"a lead is named {FUSED!r}, the name waves.csv gives the multi-lead "
                         f"marks; choose the other leads with --leads", recording.path)
    fs = recording.fs
    target = Path(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    beats = rows = 0
    pr: list[int] = []
    qrs: list[int] = []
    qt: list[int] = []
    coverage = Coverage()
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write("lead,wave,onset,peak,offset\n")
            for beat in delineate_recording(recording, leads, params, progress, coverage):
                beats += 1
                lines: list[str] = []
                for name, waves in zip((*names, FUSED), (*beat.leads, beat.fused), strict=True):
                    lines.extend(f"{name},{w.kind.value},{w.onset},{w.peak},{w.offset}\n" for w in waves)
                rows += len(lines)
                handle.write("".join(lines))
                kinds = {w.kind: w for w in beat.fused}
                if WaveKind.QRS in kinds and beat.dominant:
                    q = kinds[WaveKind.QRS]
                    qrs.append(q.offset - q.onset)
                    if WaveKind.P in kinds:
                        pr.append(q.onset - kinds[WaveKind.P].onset)
                    if WaveKind.T in kinds:
                        qt.append(kinds[WaveKind.T].offset - q.onset)
        if beats == 0:
            raise InputError("signal", _nothing_found(recording.duration_s, names, coverage), recording.path)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return WavesSummary(target, beats, rows, names, recording.duration_s, _median_ms(pr, fs),
                        _median_ms(qrs, fs), _median_ms(qt, fs), round(coverage.skipped_s, 3))


def _nothing_found(seconds: float, names: Sequence[str], coverage: Coverage) -> str:
    leads = ", ".join(names)
    if coverage.analyzable_s <= 0:
        return (f"no analyzable signal in {seconds:.1f} s (leads {leads}): the quality gate calls all of it "
                "noise, lead-off (flat) or fibrillation")
    skipped = (f"; {coverage.skipped_s:.1f} s of noise, lead-off or fibrillation not delineated"
               if coverage.skipped_s > 0 else "")
    return (f"no QRS complex found in {seconds:.1f} s of signal (leads {leads}): flat, lead-off or not an "
            f"ECG{skipped}")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
