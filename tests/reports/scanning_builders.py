"""Findings for report tests, derived from labelled beats (not from the analysis code under test elsewhere).

``findings_from_beats`` computes a plausible Holter summary from beat positions and AAMI letters: HR extremes
(8-beat averages), V runs, couplets, pauses, hourly rows and the per-minute trend. It is a test fixture,
deliberately simple; the real analysis lives in ``ecgdesk.analysis``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np

from ecgdesk.analysis.findings import (
    EctopySummary,
    Episode,
    EpisodeType,
    EventSource,
    Findings,
    HeartRatePoint,
    HeartRateSummary,
    HeartRateTrend,
    HourRow,
    HRVSummary,
    PatientEvent,
    PauseSummary,
    QualityEpochs,
    RecordingInfo,
    Rhythm,
    Summary,
    TemplateSummary,
)

MIT_TO_AAMI = {
    **dict.fromkeys("NLRej", "N"), **dict.fromkeys("AaJS", "S"), **dict.fromkeys("VE", "V"), "F": "F",
    **dict.fromkeys("/fQ", "Q"),
}


def aami_beats(samples: np.ndarray, symbols: list[str]) -> tuple[np.ndarray, np.ndarray]:
    keep = [i for i, s in enumerate(symbols) if s in MIT_TO_AAMI]
    return (np.asarray(samples)[keep].astype(np.int64),
            np.array([MIT_TO_AAMI[symbols[i]] for i in keep], dtype="<U1"))


def _runs(labels: np.ndarray, letter: str) -> list[tuple[int, int]]:
    """(first index, length) of each maximal run of ``letter``."""
    runs, i = [], 0
    while i < labels.size:
        if labels[i] == letter:
            j = i
            while j + 1 < labels.size and labels[j + 1] == letter:
                j += 1
            runs.append((i, j - i + 1))
            i = j + 1
        else:
            i += 1
    return runs


def findings_from_beats(samples: np.ndarray, labels: np.ndarray, fs: float, n_samples: int,
                        start: datetime | None, lead: str = "MLII",
                        events: Sequence[tuple[float, str]] = (),
                        af_spans_s: Sequence[tuple[float, float]] = (),
                        waveform: np.ndarray | None = None) -> Findings:
    duration = n_samples / fs
    t = samples / fs
    rr = np.diff(t)
    hr = 60.0 / rr
    win = 8
    avg = np.convolve(rr, np.ones(win) / win, mode="valid")
    i_min, i_max = int(np.argmax(avg)), int(np.argmin(avg))

    def clock(sec: float) -> str | None:
        return (start + timedelta(seconds=sec)).isoformat() if start else None

    def point(i: int) -> HeartRatePoint:
        sec = float(t[i + win // 2])
        return HeartRatePoint(60.0 / float(avg[i]), sec, clock(sec))

    episodes: list[Episode] = []
    v_runs = _runs(labels, "V")
    for first, n in v_runs:
        a, b = max(first - 1, 0), first + n - 1
        rate = 60.0 / float(np.mean(rr[a:b])) if b > a else None
        kind = EpisodeType.COUPLET if n == 2 else EpisodeType.VT if n >= 3 else None
        if kind is not None:
            episodes.append(Episode(kind, float(t[a]), float(t[b]), int(samples[a]), int(samples[b]), n, rate,
                                    rate, f"{n} V beats"))
    for k in np.flatnonzero(rr >= 1.6).tolist():  # MITDB has few real pauses: a lower test threshold
        episodes.append(Episode(EpisodeType.PAUSE, float(t[k]), float(t[k + 1]), int(samples[k]),
                                int(samples[k + 1]), 2, evidence=f"RR {rr[k]:.2f} s"))
    for a_s, b_s in af_spans_s:
        inside = (t >= a_s) & (t < b_s)
        episodes.append(Episode(EpisodeType.AF, a_s, b_s, int(a_s * fs), int(b_s * fs), int(inside.sum()),
                                float(np.mean(hr[inside[1:]])) if inside[1:].any() else None,
                                evidence="RR irregularity 0.2"))
    episodes.sort(key=lambda e: e.start_s)
    counts = {c: int(np.sum(labels == c)) for c in "NSVFQ"}
    total = int(labels.size)
    vt = [e for e in episodes if e.type is EpisodeType.VT]
    ectopy = EctopySummary(
        v_total=counts["V"], v_isolated=sum(1 for _, n in v_runs if n == 1),
        v_couplets=sum(1 for _, n in v_runs if n == 2), v_triplets=sum(1 for _, n in v_runs if n == 3),
        v_runs=len(vt), v_longest_run_beats=max((n for _, n in v_runs), default=0),
        v_fastest_run_bpm=max((e.max_rate_bpm or 0.0 for e in vt), default=None),
        v_burden_pct=100.0 * counts["V"] / max(total, 1), s_total=counts["S"],
        s_isolated=counts["S"], s_burden_pct=100.0 * counts["S"] / max(total, 1),
    )
    af_time = sum(b - a for a, b in af_spans_s)
    pauses = [e for e in episodes if e.type is EpisodeType.PAUSE]
    longest = max(pauses, key=lambda e: e.duration_s, default=None)
    nn = rr[(labels[1:] == "N") & (labels[:-1] == "N")] * 1000.0
    summary = Summary(
        recording=RecordingInfo("test", None, "wfdb", fs, n_samples, duration, lead, [lead]),
        start_time=clock(0.0), end_time=clock(duration), wear_time_s=duration,
        analyzable_time_s=duration * 0.98, analyzable_pct=98.0, total_beats=total, beats_by_class=counts,
        heart_rate=HeartRateSummary(point(i_min), float(60.0 / np.mean(rr)), point(i_max)),
        ectopy=ectopy, af_burden_pct=100.0 * af_time / duration, af_time_s=af_time,
        pauses=PauseSummary(threshold_s=1.6, count=len(pauses), long_count=0,
                            longest_s=longest.duration_s if longest else None,
                            longest_time_s=longest.start_s if longest else None),
        hrv=HRVSummary(int(nn.size), float(np.std(nn)), None, float(np.sqrt(np.mean(np.diff(nn) ** 2))),
                       float(100.0 * np.mean(np.abs(np.diff(nn)) > 50))),
    )
    hourly = []
    for h in range(int(np.ceil(duration / 3600))):
        sel = (t[1:] >= h * 3600) & (t[1:] < (h + 1) * 3600)
        lab = labels[1:][sel]
        hourly.append(HourRow(h, h * 3600.0, clock(h * 3600.0), int(sel.sum()), float(hr[sel].min()),
                              float(np.mean(hr[sel])), float(hr[sel].max()), int(np.sum(lab == "V")),
                              int(np.sum(lab == "S")), 0.0, min(3600.0, duration - h * 3600)))
    minutes = int(np.ceil(duration / 60))
    idx = np.minimum((t[1:] // 60).astype(int), minutes - 1)
    sums = np.bincount(idx, weights=hr, minlength=minutes)
    n = np.bincount(idx, minlength=minutes)
    trend = [float(s / c) if c else None for s, c in zip(sums, n, strict=True)]
    pe = [PatientEvent(sec, symptom, EventSource.DIARY, Rhythm.SINUS, 72.0, clock(sec))
          for sec, symptom in events]
    templates = []
    if waveform is not None:
        for i, (label, count) in enumerate((c, counts[c]) for c in "NVF" if counts[c]):
            templates.append(TemplateSummary(i + 1, label, count, (waveform * (1 + 0.5 * i)).tolist(), fs,
                                             int(waveform.size // 2)))
    return Findings(summary=summary, episodes=episodes, hourly=hourly,
                    hr_trend=HeartRateTrend(60.0, trend), templates=templates, patient_events=pe,
                    quality=QualityEpochs(10.0, "A" * int(np.ceil(duration / 10))))


def synthetic_long_findings(days: float = 15.0, start: datetime | None = None, seed: int = 7) -> Findings:
    """A multi-day findings set (no recording): per-minute trend, hourly rows, AF episodes, diary events."""
    rng = np.random.default_rng(seed)
    duration = days * 86400.0
    minutes = int(duration // 60)
    base = 70 + 15 * np.sin(np.arange(minutes) / 1440 * 2 * np.pi) + rng.normal(0, 4, minutes)
    trend: list[float | None] = [float(v) for v in base]
    for k in rng.choice(minutes, 200, replace=False).tolist():
        trend[k] = None
    af = []
    for k in range(int(days)):
        a = k * 86400.0 + float(rng.uniform(0, 80000))
        b = a + float(rng.uniform(300, 5000))
        af.append(Episode(EpisodeType.AF, a, b, int(a * 250), int(b * 250), 400, 105.0, 140.0,
                          "RR irregularity 0.25"))
    t_pause, t_vt, t_min = 0.2 * duration + 100, 0.35 * duration + 7, 0.13 * duration
    pause = Episode(EpisodeType.PAUSE, t_pause, t_pause + 3.4, 1, 2, 2, evidence="RR 3.40 s")
    vt = Episode(EpisodeType.VT, t_vt, t_vt + 2.5, 3, 4, 8, 170.0, 182.0, "8 V beats")
    clock0 = start or datetime(2026, 3, 2, 9, 30)
    hourly = [HourRow(h, h * 3600.0, (clock0 + timedelta(hours=h)).isoformat(), 4200, 52.0, 70.0, 120.0, 12,
                      30, 0.0, 3600.0) for h in range(int(np.ceil(duration / 3600)))]
    events = [PatientEvent(float(rng.uniform(0, duration)), "palpitations", EventSource.MARKER, Rhythm.SINUS,
                           80.0) for _ in range(6)]
    total = 4200 * len(hourly)
    summary = Summary(
        recording=RecordingInfo("long", None, "ishne", 250.0, int(duration * 250), duration, "ch1", ["ch1"]),
        start_time=clock0.isoformat(), end_time=(clock0 + timedelta(seconds=duration)).isoformat(),
        wear_time_s=duration, analyzable_time_s=duration * 0.97, analyzable_pct=97.0, total_beats=total,
        beats_by_class={"N": total - 500, "S": 300, "V": 200, "F": 0, "Q": 0},
        heart_rate=HeartRateSummary(HeartRatePoint(41.0, t_min), 71.0, HeartRatePoint(171.0, t_vt + 1)),
        ectopy=EctopySummary(v_total=200, v_runs=1, v_longest_run_beats=8, v_fastest_run_bpm=182.0),
        af_burden_pct=3.1, af_time_s=sum(e.duration_s for e in af),
        pauses=PauseSummary(count=1, long_count=1, longest_s=3.4, longest_time_s=pause.start_s),
        hrv=HRVSummary(),
    )
    episodes = sorted([*af, pause, vt], key=lambda e: e.start_s)
    return Findings(summary=summary, episodes=episodes, hourly=hourly, hr_trend=HeartRateTrend(60.0, trend),
                    patient_events=sorted(events, key=lambda e: e.time_s))


def pdf_text(data: bytes) -> list[str]:
    """The text runs of a matplotlib PDF (its content streams are Flate-compressed, text drawn with TJ)."""
    import re
    import zlib

    runs = []
    for m in re.finditer(rb"stream\n(.*?)endstream", data, re.S):
        try:
            stream = zlib.decompressobj().decompress(m.group(1))
        except zlib.error:
            continue
        for arr in re.finditer(rb"\[(.*?)\]\s*TJ", stream, re.S):
            parts = re.findall(rb"\(((?:\\.|[^\\)])*)\)", arr.group(1))
            runs.append(b"".join(parts).replace(b"\\", b"").decode("latin-1"))
    return runs
