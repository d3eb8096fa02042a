"""Stand-ins the demo uses only while the real parts are not installed in this build.

* :func:`write_standin_patch`: a plain multi-day patch recording (one lead) with a few events, written in
  10-minute blocks through :func:`ecgdesk.records.open_writer` (never the whole signal in memory), for
  when :mod:`ecgdesk.records.simulator` has no ambulatory ``simulate``. Beats are P-QRS-T shapes made of
  Gaussian bumps placed with numpy; the rhythm is sinus with a day/night rate, with atrial fibrillation
  episodes (irregular RR, no P, small f-waves), pauses, isolated PVCs (wide, premature, compensatory
  pause) and patient-triggered markers.
* :func:`standin_engine`: a beat engine for :func:`ecgdesk.analysis.pipeline.analyze` (the pipeline's
  ``engine`` hook) for when :mod:`ecgdesk.analysis.beats` is missing: band-pass + peak picking, and wide
  beats (QRS wider than 100 ms at half height) called V, others N.

Both are deliberately simple: they keep ``ecgdesk demo`` running end to end, they are not the product's
simulator or classifier, and the demo says when it uses them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from scipy.signal import butter, find_peaks, sosfiltfilt

from ecgdesk.records import EventKind, EventMarker, Lead, PatientInfo, open_writer

BLOCK_S = 600.0
# (offset from R in s, width in s, amplitude in mV) of each bump
_NORMAL = (
    (-0.17, 0.022, 0.12),
    (-0.03, 0.010, -0.10),
    (0.0, 0.011, 1.0),
    (0.03, 0.010, -0.22),
    (0.26, 0.05, 0.28),
)
_NO_P = _NORMAL[1:]
_PVC = ((-0.01, 0.035, 1.3), (0.07, 0.035, -0.5), (0.32, 0.07, -0.4))
NORMAL, AF_BEAT, PVC = 0, 1, 2


def _shape(bumps: tuple[tuple[float, float, float], ...], fs: float) -> tuple[np.ndarray, int]:
    """The beat waveform from -0.35 s to +0.55 s around R, and the index of R in it."""
    t = np.arange(int(-0.35 * fs), int(0.55 * fs)) / fs
    wave = np.zeros(t.size)
    for off, width, amp in bumps:
        wave += amp * np.exp(-0.5 * ((t - off) / width) ** 2)
    return wave, int(0.35 * fs)


@dataclass
class PatchPlan:
    """Beat times and kinds for the whole recording, plus the event list the demo reports."""

    beats_s: np.ndarray
    kinds: np.ndarray
    af_spans: list[tuple[float, float]] = field(default_factory=list)
    markers: list[tuple[float, str]] = field(default_factory=list)


def plan_patch(days: float, seed: int = 2468) -> PatchPlan:
    """Beat times for ``days`` of recording: circadian sinus rate, AF episodes, pauses, PVCs."""
    rng = np.random.default_rng(seed)
    total = days * 86400.0
    n_af = max(1, int(round(days / 2)))
    af_spans = []
    for k in range(n_af):
        start = (k + 0.3 + 0.4 * rng.random()) * total / n_af
        af_spans.append((start, start + rng.uniform(20, 60) * 60))
    pauses = [total * f for f in (0.21, 0.57, 0.83)]
    times: list[np.ndarray] = []
    kinds: list[np.ndarray] = []
    t = 0.5
    step = 3600.0  # plan an hour at a time, vectorised
    while t < total - 1.0:
        n = int(step / 0.35)
        hour = ((t / 3600.0) + 9) % 24  # the recording starts at 09:00
        base = 60.0 / (68 + 10 * np.cos((hour - 15) / 24 * 2 * np.pi))
        rr = base * (1 + 0.04 * np.sin(np.arange(n) * 2 * np.pi / 4.2) + 0.02 * rng.standard_normal(n))
        kind = np.full(n, NORMAL)
        beat_t = t + np.cumsum(rr)
        for a, b in af_spans:
            inside = (beat_t >= a) & (beat_t < b)
            if inside.any():
                rr[inside] = rng.uniform(0.38, 1.05, int(inside.sum()))
                kind[inside] = AF_BEAT
        beat_t = t + np.cumsum(rr)
        pvc = (rng.random(n) < 0.012) & (kind == NORMAL)
        pvc[:-1] &= ~pvc[1:]
        rr_pvc = rr.copy()
        idx = np.flatnonzero(pvc)
        idx = idx[(idx > 0) & (idx < n - 1)]
        rr_pvc[idx] = 0.62 * rr[idx]
        rr_pvc[idx + 1] = 2 * rr[idx] - rr_pvc[idx]
        kind[idx] = PVC
        beat_t = t + np.cumsum(rr_pvc)
        for p in pauses:
            j = int(np.searchsorted(beat_t, p))
            if 0 < j < n and kind[j] == NORMAL:
                beat_t[j:] += 3.2 - rr_pvc[j]
        keep = beat_t < min(t + step, total - 0.6)
        times.append(beat_t[keep])
        kinds.append(kind[keep])
        t = float(beat_t[keep][-1]) if keep.any() else t + step
    markers = [
        (af_spans[0][0] + 120.0, "palpitations"),
        (pauses[0] + 1.0, "dizziness"),
        (total * 0.4, "chest discomfort"),
    ]
    return PatchPlan(np.concatenate(times), np.concatenate(kinds), af_spans, markers)


def write_standin_patch(
    out_dir: Path,
    days: float,
    fs: float = 250.0,
    name: str = "patch",
    seed: int = 2468,
    start: datetime | None = None,
    progress: Any = None,
) -> Path:
    """Write the planned patch recording as WFDB in ``out_dir``; returns the header path."""
    rng = np.random.default_rng(seed + 1)
    plan = plan_patch(days, seed)
    start = start or datetime(2026, 11, 2, 9, 0, 0)
    n_total = int(days * 86400 * fs)
    shapes = [_shape(_NORMAL, fs), _shape(_NO_P, fs), _shape(_PVC, fs)]
    markers = [
        EventMarker(int(s * fs), label, EventKind.PATIENT_TRIGGERED) for s, label in sorted(plan.markers)
    ]
    beat_samples = np.round(plan.beats_s * fs).astype(np.int64)
    block = int(BLOCK_S * fs)
    by_kind = [beat_samples[plan.kinds == kind] for kind in range(len(shapes))]  # each sorted
    writer = open_writer(
        out_dir,
        name,
        "wfdb",
        fs,
        [Lead("ECG")],
        start_time=start,
        patient=PatientInfo(patient_id="DEMO-0001"),
        device="ECG Desk demo patch (stand-in)",
        events=markers,
    )
    pad = max(wave.size for wave, _ in shapes)
    # noise and baseline wander repeat every block (cheap; the beats and rhythm never repeat)
    base_t = np.arange(block) / fs
    wander = (0.015 * rng.standard_normal(block) + 0.08 * np.sin(2 * np.pi * 0.22 * base_t)).astype(
        np.float32
    )
    f_wave = (0.05 * np.sin(2 * np.pi * 6.0 * base_t)).astype(np.float32)
    with writer:
        for lo in range(0, n_total, block):
            hi = min(lo + block, n_total)
            n = hi - lo
            acc = np.zeros(n + 2 * pad)
            for (wave, r), samples_of_kind in zip(shapes, by_kind, strict=True):
                a, b = np.searchsorted(samples_of_kind, [lo + r - wave.size, hi + r])
                if b > a:
                    starts = samples_of_kind[a:b] - lo - r + pad
                    idx = (starts[:, None] + np.arange(wave.size)[None, :]).ravel()
                    acc += np.bincount(idx, weights=np.tile(wave, b - a), minlength=acc.size)[: acc.size]
            x = acc[pad : pad + n].astype(np.float32) + wander[:n]
            for a_s, b_s in plan.af_spans:
                i0, i1 = max(0, int(a_s * fs) - lo), min(n, int(b_s * fs) - lo)
                if i1 > i0:
                    x[i0:i1] += f_wave[i0:i1]
            writer.write(x[:, None])
            if progress is not None:
                progress(n / fs)
    return out_dir / f"{name}.hea"


# ------------------------------------------------------------------------------------------ beat engine
@dataclass(frozen=True)
class _Features:
    widths_s: np.ndarray
    sums: np.ndarray  # (2, window) summed waveforms of narrow and wide beats
    counts: np.ndarray  # (2,)


@dataclass(frozen=True)
class StandinTemplate:
    template_id: int
    label: str
    n_beats: int
    waveform: np.ndarray


@dataclass(frozen=True)
class StandinBeats:
    samples: np.ndarray
    labels: np.ndarray
    template_ids: np.ndarray
    templates: list[StandinTemplate]
    fs: float


WIDE_S = 0.06


def _detect(ecg: np.ndarray, fs: float) -> np.ndarray:
    if ecg.size < int(fs):
        return np.zeros(0, dtype=np.int64)
    sos = butter(2, [5.0, min(25.0, 0.45 * fs)], btype="band", fs=fs, output="sos")
    y = np.abs(sosfiltfilt(sos, ecg))
    height = 0.35 * float(np.percentile(y, 99.5))
    if height <= 0:
        return np.zeros(0, dtype=np.int64)
    peaks, _ = find_peaks(y, height=height, distance=int(0.25 * fs))
    w = int(0.05 * fs)
    idx = np.clip(peaks[:, None] + np.arange(-w, w + 1)[None, :], 0, ecg.size - 1)
    return np.unique(idx[np.arange(peaks.size), np.argmax(np.abs(ecg[idx]), axis=1)]).astype(np.int64)


def _features(ecg: np.ndarray, fs: float, samples: np.ndarray) -> _Features:
    w = int(0.3 * fs)
    idx = np.clip(samples[:, None] + np.arange(-w, w + 1)[None, :], 0, ecg.size - 1)
    win = ecg[idx]
    centred = win - np.median(win, axis=1, keepdims=True)
    core = np.abs(centred[:, w - int(0.12 * fs) : w + int(0.12 * fs) + 1])
    widths = (core > 0.5 * core.max(axis=1, keepdims=True)).sum(axis=1) / fs
    wide = widths > WIDE_S
    sums = np.stack([centred[~wide].sum(axis=0), centred[wide].sum(axis=0)])
    return _Features(widths, sums, np.array([int((~wide).sum()), int(wide.sum())]))


def _concat(parts: list[_Features]) -> _Features:
    return _Features(
        np.concatenate([p.widths_s for p in parts]),
        np.sum(np.stack([p.sums for p in parts]), axis=0),
        np.sum(np.stack([p.counts for p in parts]), axis=0),
    )


def _classify(features: _Features, samples: np.ndarray, fs: float) -> StandinBeats:
    wide = features.widths_s > WIDE_S
    ids = wide.astype(np.int32)
    labels = np.where(wide, "V", "N").astype("<U1")
    templates = [
        StandinTemplate(k, label, int(features.counts[k]), features.sums[k] / max(1, int(features.counts[k])))
        for k, label in ((0, "N"), (1, "V"))
        if features.counts[k]
    ]
    return StandinBeats(samples, labels, ids, templates, fs)


def standin_engine() -> Any:
    """The stand-in beat engine as the pipeline's ``BeatEngine``."""
    from ecgdesk.analysis.pipeline import BeatEngine

    return BeatEngine(_detect, _features, _concat, _classify)
