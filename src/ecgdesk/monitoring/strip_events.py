"""Rhythm events read from the strip classifier's own beats: pauses, the heart-rate range, wide-complex runs.

The strip classifier has already found the R peaks (300 Hz, 0.5-40 Hz band). Reading pauses, the rate
range and runs of wide beats from them costs a few milliseconds, where a second, full pass of the
ambulatory engine costs as much as the classifier itself; the triage runs that engine only when it could
still raise the strip's priority (:func:`engine_could_add`).

- **Pause**: an RR interval of at least the engine's ``pause_s`` (2 s) whose inside holds no deflection
  over :data:`QUIET_OF_R` of the beats' R amplitude (the T wave after the first beat and the P wave before
  the next one left out): a beat the detector missed, or noise, is not a pause; nor is an interval over
  samples the recording lacks (:attr:`~ecgdesk.analysis.strips.signal.PreparedStrip.missing`).
- **Rate range**: the mean rate of every ``rate_window_beats`` (8) consecutive intervals, as the engine's
  heart-rate summary; the lowest and the highest.
- **Wide-complex tachycardia** (suspected VT): beats are grouped by the shape of their QRS (correlation of
  at least :data:`SAME_SHAPE` with the beat most others resemble, then again among the rest); a group's
  QRS width is that of its median beat. When the largest group holds most beats, is at least
  :data:`WIDE_QRS_MS` wide and runs faster than ``vt_rate_bpm`` (100) for ``vt_min_beats`` (3) or more
  beats, that run is suspected VT. This is the ambulatory engine's blind spot: it labels beats against its
  dominant template, which on a strip that is mostly VT *is* the VT, and calls the run supraventricular.
  Short V runs among sinus beats are the engine's to find (on MIT-BIH DS1 30-s strips its V-beat labels
  found 23 of 35 strips with a run of 3+ V beats over 100 bpm, where shape groups alone found 5: one lead's
  V beats often correlate with the sinus ones). Sinus or supraventricular tachycardia with bundle branch
  block looks the same on one lead: the run is *suspected* VT and the technician decides.
- **Label V** (the strip classifier's ventricular arrhythmia, decided by a rule before its model: VF or
  ventricular flutter, a run of V beats, a regular wide-complex tachycardia): ``vf`` from where it starts
  to the end of the strip, or ``vt`` over the fast stretch (RR at ``vt_rate_bpm`` or faster, one slower
  interval bridged) that holds its start, so the criteria's duration thresholds (sustained VT) apply.
- **Fastest 3-beat stretch**: the highest rate of two consecutive intervals; below ``vt_rate_bpm`` no run
  of the engine's VT definition can exist, so the engine is not needed for VT.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

import numpy as np

from ecgdesk.analysis.config import AnalysisConfig
from ecgdesk.analysis.strips.features import beat_matrix, qrs_width_ms
from ecgdesk.analysis.strips.signal import PreparedStrip

#: Largest deflection inside a pause, as a share of the median R amplitude (P waves stay below it).
QUIET_OF_R = 0.4
#: What is left out of a pause: the T wave after the first beat, the P wave before the next (seconds).
AFTER_BEAT_S, BEFORE_BEAT_S = 0.45, 0.25
#: Correlation over the QRS (80 ms before R to 120 ms after) that makes two beats the same shape.
SAME_SHAPE = 0.8
#: A group of at least this many beats has a shape; fewer are left ungrouped.
MIN_GROUP = 3
#: QRS width (ms) from which a group is wide (ventricular origin or aberrant conduction).
WIDE_QRS_MS = 120.0
_QRS_FROM_S, _QRS_TO_S = 0.08, 0.12
_R_AT_S = 0.30  # where beat_matrix puts the R peak
_FROM_S = re.compile(r"from (\d+(?:\.\d+)?) s")


@dataclass(frozen=True)
class RhythmEvent:
    """One event seen in a strip, in the vocabulary of the criteria (``vf``, ``vt``, ``pause``, ...)."""

    kind: str
    duration_s: float = 0.0
    rate_bpm: float | None = None
    evidence: str = ""
    start_s: float | None = None  # where in the strip it begins (None: the whole strip)


@dataclass(frozen=True)
class BeatReading:
    """What the strip's beats say: events, the rate range, and the shape groups (for the engine decision)."""

    events: tuple[RhythmEvent, ...] = ()
    low_bpm: float | None = None
    high_bpm: float | None = None
    longest_rr_ratio: float | None = None  # longest RR over the median RR (dropped beats)
    longest_rr_s: float | None = None  # the longest RR (s): one the engine may read a blocked P wave in
    ungrouped: float = 0.0  # share of beats without a shape group (odd beats, noise, chaos)
    fastest_bpm: float | None = None  # the fastest two consecutive intervals (a 3-beat stretch)
    widths_ms: tuple[float, ...] = field(default_factory=tuple)


def _groups(strip: PreparedStrip) -> tuple[np.ndarray, list[float]]:
    """Shape group of each R peak (-1: none, or too near an edge to cut) and each group's QRS width."""
    beats, used = beat_matrix(strip.clean, strip.peaks)
    group = np.full(strip.peaks.size, -1, dtype=np.int64)
    if beats.shape[0] < MIN_GROUP:
        return group, []
    fs = strip.fs
    r_at = int(_R_AT_S * fs)
    qrs = beats[:, r_at - int(_QRS_FROM_S * fs) : r_at + int(_QRS_TO_S * fs)]
    qrs = qrs - qrs.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(qrs, axis=1)
    unit = qrs / np.where(norm > 0, norm, 1.0)[:, None]
    alike = (unit @ unit.T) >= SAME_SHAPE
    where = np.searchsorted(strip.peaks, used)
    free = np.ones(beats.shape[0], dtype=bool)
    widths: list[float] = []
    while free.sum() >= MIN_GROUP and len(widths) < 3:
        counts = (alike & free[None, :]).sum(axis=1) * free
        seed = int(np.argmax(counts))
        members = np.flatnonzero(alike[seed] & free)
        if members.size < MIN_GROUP:
            break
        widths.append(qrs_width_ms(np.median(beats[members], axis=0)))
        group[where[members]] = len(widths) - 1
        free[members] = False
    return group, widths


def _known_intervals(strip: PreparedStrip) -> np.ndarray:
    """For each RR interval of the strip, whether the recording has every sample of it (a dropout or lead
    off inside: not known what the heart did there)."""
    peaks = strip.peaks
    if strip.missing is None or peaks.size < 2:
        return np.ones(max(peaks.size - 1, 0), dtype=bool)
    lacking = np.concatenate([[0], np.cumsum(strip.missing)])  # missing samples before each index
    return np.asarray(lacking[peaks[1:]] == lacking[peaks[:-1]])


def _pauses(strip: PreparedStrip, config: AnalysisConfig, known: np.ndarray) -> list[RhythmEvent]:
    peaks, fs, clean = strip.peaks, strip.fs, strip.clean
    if peaks.size < 2:
        return []
    r_amp = float(np.median(np.abs(clean[peaks])))
    events = []
    for (a, b), whole in zip(itertools.pairwise(peaks.tolist()), known.tolist(), strict=True):
        rr = float((b - a) / fs)
        if rr < config.pause_s or not whole:
            continue  # short, or over samples the recording lacks: not known to be a pause
        inside = clean[a + int(AFTER_BEAT_S * fs) : b - int(BEFORE_BEAT_S * fs)]
        if inside.size and float(np.max(np.abs(inside))) > QUIET_OF_R * r_amp:
            continue  # something beat-sized in it: a missed beat or noise
        events.append(
            RhythmEvent("pause", rr, 60.0 / rr, f"no beat for {rr:.1f} s (RR interval)", float(a / fs))
        )
    return events


def _rate_range(
    rr: np.ndarray, window: int, known: np.ndarray | None = None
) -> tuple[float | None, float | None]:
    """The lowest and highest mean rate of ``window`` consecutive intervals, over intervals that are
    ``known`` (:func:`_known_intervals`; all when None)."""
    if known is not None and not known.all():
        runs = np.split(rr, np.flatnonzero(~known))  # each run starts with the unknown interval that cut it
        parts = [_rate_range(run[1:] if i else run, window) for i, run in enumerate(runs)]
        lows = [low for low, _ in parts if low is not None]
        highs = [high for _, high in parts if high is not None]
        return (min(lows) if lows else None), (max(highs) if highs else None)
    if rr.size == 0:
        return None, None
    w = min(window, rr.size)
    sums = np.convolve(rr, np.ones(w), mode="valid")
    bpm = 60.0 * w / sums
    return float(bpm.min()), float(bpm.max())


def _wide_dominant(
    strip: PreparedStrip, group: np.ndarray, widths: list[float], config: AnalysisConfig
) -> list[RhythmEvent]:
    """Runs of the dominant shape group when that group is wide and fast (module docstring)."""
    fs, peaks = strip.fs, strip.peaks
    dominant = group == 0
    if not widths or widths[0] < WIDE_QRS_MS or dominant.sum() < 0.5 * peaks.size:
        return []
    events = []
    edges = np.flatnonzero(np.diff(np.concatenate(([0], dominant.astype(np.int8), [0]))))
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        if b - a < config.vt_min_beats:
            continue
        rr = np.diff(peaks[a:b]) / fs
        rate = 60.0 / float(rr.mean())
        if rate <= config.vt_rate_bpm:
            continue
        duration = float((peaks[b - 1] - peaks[a]) / fs + rr.mean())
        events.append(
            RhythmEvent(
                "vt",
                duration,
                rate,
                f"wide-complex tachycardia: {b - a} beats at {rate:.0f} bpm, QRS {widths[0]:.0f} ms, the "
                "strip's dominant shape; suspected VT (SVT with bundle branch block looks alike)",
                float(peaks[a] / fs),
            )
        )
    return events


def read_beats(strip: PreparedStrip, config: AnalysisConfig | None = None) -> BeatReading:
    """Pauses, rate range and wide-complex runs of a prepared strip (module docstring)."""
    config = config or AnalysisConfig()
    peaks = strip.peaks
    rr = np.diff(peaks) / strip.fs
    known = _known_intervals(strip)
    low, high = _rate_range(rr, config.rate_window_beats, known)
    group, widths = _groups(strip)
    events = _pauses(strip, config, known) + _wide_dominant(strip, group, widths, config)
    pairs = rr[:-1] + rr[1:]
    return BeatReading(
        events=tuple(events),
        low_bpm=low,
        high_bpm=high,
        longest_rr_ratio=float(rr.max() / np.median(rr)) if rr.size >= 2 else None,
        longest_rr_s=float(rr.max()) if rr.size else None,
        ungrouped=float(np.mean(group < 0)) if group.size else 1.0,
        fastest_bpm=float(120.0 / pairs.min()) if pairs.size else None,
        widths_ms=tuple(round(w, 1) for w in widths),
    )


def ventricular_events(
    reason: str, strip: PreparedStrip | None, duration_s: float, config: AnalysisConfig | None = None
) -> list[RhythmEvent]:
    """The event behind the classifier's label V, read from its reason and the strip's beats (docstring)."""
    config = config or AnalysisConfig()
    found = _FROM_S.search(reason)
    start = float(found.group(1)) if found else 0.0
    if "fibrillation" in reason or "flutter" in reason:
        return [RhythmEvent("vf", max(duration_s - start, 0.0), None, reason, start)]
    if strip is None or strip.peaks.size < 3:
        return [RhythmEvent("vt", max(duration_s - start, 0.0), None, reason, start)]
    times = strip.peaks / strip.fs
    rr = np.diff(times)
    fast = rr <= 60.0 / config.vt_rate_bpm
    # the fast stretch holding the beat nearest the reported start, in both directions
    at = int(np.argmin(np.abs(times - start)))
    first = min(at, rr.size)
    while first > 0 and (fast[first - 1] or (first > 1 and fast[first - 2])):
        first -= 1
    last = first
    while last < rr.size and (fast[last] or (last + 1 < rr.size and fast[last + 1])):
        last += 1
    if last == first:
        return [RhythmEvent("vt", 0.0, None, reason, start)]
    run = rr[first:last]
    rate = 60.0 / float(run.mean())
    return [RhythmEvent("vt", float(times[last] - times[first]), rate, reason, float(times[first]))]
