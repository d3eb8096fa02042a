"""Patient-triggered events: markers in the recording or a diary CSV, with the rhythm at each.

The diary is a CSV with the header ``time,symptom``; ``time`` is an ISO 8601 clock time (the recording
must then have a start time) or seconds from the start of the recording. A bad row raises
:class:`~ecgdesk.errors.InputError` naming the file, the row and the field.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from ecgdesk.analysis.config import AnalysisConfig
from ecgdesk.analysis.findings import Episode, EpisodeType, EventSource, PatientEvent, Rhythm
from ecgdesk.analysis.hrv import clock
from ecgdesk.analysis.quality import ANALYZABLE, VENTRICULAR
from ecgdesk.analysis.series import BeatSeries
from ecgdesk.errors import InputError
from ecgdesk.records.recording import EventKind, Recording


@dataclass(frozen=True)
class DiaryEntry:
    time_s: float
    symptom: str
    source: EventSource


def read_diary(path: Path, start_time: datetime | None, duration_s: float) -> list[DiaryEntry]:
    """Rows of a ``time,symptom`` diary CSV as seconds from the start of the recording."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as error:
        raise InputError("diary", f"cannot read the diary: {error.strerror or error}", path) from None
    rows = list(csv.reader(text.splitlines()))
    if not rows or [c.strip().lower() for c in rows[0][:2]] != ["time", "symptom"]:
        raise InputError("header", "the first line must be the header 'time,symptom'", path)
    out = []
    for n, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) < 2:
            raise InputError(f"row {n}", f"expected 2 columns (time,symptom), got {len(row)}", path)
        raw, symptom = row[0].strip(), row[1].strip()
        if not symptom:
            raise InputError(f"row {n}.symptom", "is empty", path)
        t = _parse_time(raw, start_time, path, n)
        if not 0 <= t <= duration_s:
            raise InputError(
                f"row {n}.time",
                f"{raw!r} is {t:.1f} s from the start, outside the recording (0 to {duration_s:.1f} s)",
                path,
            )
        out.append(DiaryEntry(t, symptom, EventSource.DIARY))
    return out


def _parse_time(raw: str, start_time: datetime | None, path: Path, n: int) -> float:
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        raise InputError(
            f"row {n}.time", f"{raw!r} is neither seconds from the start nor an ISO 8601 time", path
        ) from None
    if start_time is None:
        raise InputError(
            f"row {n}.time",
            f"{raw!r} is a clock time but the recording has no start time; give seconds from the start",
            path,
        )
    if (when.tzinfo is None) != (start_time.tzinfo is None):
        when = when.replace(tzinfo=start_time.tzinfo)
    return (when - start_time).total_seconds()


def marker_entries(recording: Recording) -> list[DiaryEntry]:
    return [
        DiaryEntry(m.sample / recording.fs, m.label or "event", EventSource.MARKER)
        for m in recording.events
        if m.kind is EventKind.PATIENT_TRIGGERED
    ]


_PRIORITY = (
    (EpisodeType.VT, Rhythm.VT),
    (EpisodeType.AF, Rhythm.AF),
    (EpisodeType.FLUTTER, Rhythm.FLUTTER),
    (EpisodeType.SVT, Rhythm.SVT),
    (EpisodeType.AVB3, Rhythm.AV_BLOCK),
    (EpisodeType.AVB2, Rhythm.AV_BLOCK),
    (EpisodeType.PAUSE, Rhythm.PAUSE),
)


def patient_events(
    entries: list[DiaryEntry],
    series: BeatSeries,
    episodes: list[Episode],
    config: AnalysisConfig,
    start_time: datetime | None,
    window_s: float = 5.0,
) -> list[PatientEvent]:
    """The rhythm and heart rate within ``window_s`` of each event."""
    out = []
    t_beats = series.times_s
    for entry in sorted(entries, key=lambda e: e.time_s):
        t = entry.time_s
        near = [e for e in episodes if e.start_s - window_s <= t <= e.end_s + window_s]
        kinds = sorted({e.type for e in near}, key=lambda k: k.value)
        sel = np.flatnonzero((t_beats >= t - window_s) & (t_beats <= t + window_s))
        sel = sel[series.valid[sel]]
        rr = series.rr_s[sel]
        hr = float(60.0 * rr.size / rr.sum()) if rr.size else None
        ep = min(int(t * series.fs) // series.epoch_len, series.states.shape[0] - 1)
        rhythm = Rhythm.UNANALYZABLE
        state = int(series.states[max(ep, 0)]) if series.states.shape[0] else -1
        if state == VENTRICULAR or EpisodeType.VF in kinds:
            rhythm = Rhythm.VF
        elif state == ANALYZABLE and hr is not None:
            rhythm = next((r for k, r in _PRIORITY if k in kinds), None) or (
                Rhythm.SINUS_BRADY
                if hr < config.brady_bpm
                else Rhythm.SINUS_TACHY
                if hr > config.tachy_bpm
                else Rhythm.SINUS
            )
        out.append(
            PatientEvent(round(t, 3), entry.symptom, entry.source, rhythm, hr, clock(start_time, t), kinds)
        )
    return out
