"""Diary CSV parsing: accepted forms and errors that name the file, row and field."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from ambulatory_beatgen import BeatBuilder

from ecgdesk.analysis import rhythm
from ecgdesk.analysis.config import AnalysisConfig
from ecgdesk.analysis.diary import patient_events, read_diary
from ecgdesk.analysis.findings import EventSource, Rhythm
from ecgdesk.analysis.series import BeatSeries
from ecgdesk.errors import InputError

START = datetime(2024, 3, 1, 8, 0, 0)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "diary.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_seconds_and_iso_times(tmp_path: Path) -> None:
    path = write(tmp_path, "time,symptom\n30,palpitations\n2024-03-01T08:10:00,dizzy\n\n")
    rows = read_diary(path, START, 3600.0)
    assert [(r.time_s, r.symptom, r.source) for r in rows] == [(30.0, "palpitations", EventSource.DIARY),
                                                               (600.0, "dizzy", EventSource.DIARY)]


@pytest.mark.parametrize(
    ("text", "start", "field", "reason"),
    [
        ("when,what\n1,x\n", START, "header", "time,symptom"),
        ("time,symptom\n10,ok\nyesterday,chest pain\n", START, "row 3.time", "neither seconds"),
        ("time,symptom\n10\n", START, "row 2", "2 columns"),
        ("time,symptom\n10, \n", START, "row 2.symptom", "empty"),
        ("time,symptom\n7200,late\n", START, "row 2.time", "outside the recording"),
        ("time,symptom\n2024-03-01T08:10:00,x\n", None, "row 2.time", "no start time"),
    ],
)
def test_bad_rows_name_file_row_and_field(tmp_path: Path, text: str, start: datetime | None, field: str,
                                          reason: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InputError) as info:
        read_diary(path, start, 3600.0)
    assert info.value.field == field and reason in info.value.reason and info.value.source == str(path)
    assert path.read_text(encoding="utf-8") == text


def test_rhythm_at_events() -> None:
    cfg = AnalysisConfig()
    b = BeatBuilder(seed=5).sinus(300).af(200).sinus(200)
    samples, labels, n = b.arrays()
    s = BeatSeries.build(samples, labels, b.fs, n, None, cfg)
    af = rhythm.af_episodes(s, cfg)
    from ecgdesk.analysis.diary import DiaryEntry
    entries = [DiaryEntry(100.0, "tired", EventSource.MARKER), DiaryEntry(400.0, "racing", EventSource.DIARY)]
    ev = patient_events(entries, s, af, cfg, START)
    assert [e.rhythm for e in ev] == [Rhythm.SINUS, Rhythm.AF]
    assert ev[1].hr_bpm is not None and 80 < ev[1].hr_bpm < 130
    assert ev[0].clock_time == "2024-03-01T08:01:40"
    states = np.ones(-(-n // 2500), dtype=np.uint8)
    s2 = BeatSeries.build(samples, labels, b.fs, n, states, cfg)
    assert patient_events(entries, s2, [], cfg, None)[0].rhythm is Rhythm.UNANALYZABLE
