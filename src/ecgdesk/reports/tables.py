"""The report's text content, computed once and shown by both the PDF and the HTML.

:func:`summary_sections` turns :class:`~ecgdesk.analysis.findings.Findings` into the labelled rows of
the summary page; :func:`hourly_rows` formats the hourly table; :class:`Clock` writes recording times the
way a reader of a multi-day report needs them ("Day 3 14:22:05").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from ecgdesk.analysis.findings import EpisodeType, Findings, HeartRatePoint
from ecgdesk.reports.context import ReportHeader, ScanningReportContext

DASH = "\u2014"


@dataclass(frozen=True)
class Row:
    label: str
    value: str


@dataclass(frozen=True)
class Section:
    title: str
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class HourlyRow:
    """One formatted row of the hourly table."""

    time: str
    beats: str
    min_hr: str
    mean_hr: str
    max_hr: str
    v_beats: str
    s_beats: str
    af_min: str
    analyzable_min: str

    def cells(self) -> tuple[str, ...]:
        return (self.time, self.beats, self.min_hr, self.mean_hr, self.max_hr, self.v_beats, self.s_beats,
                self.af_min, self.analyzable_min)


HOURLY_COLUMNS = ("Hour", "Beats", "Min HR", "Mean HR", "Max HR", "V beats", "S beats", "AF min",
                  "Analyzable min")


def parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class Clock:
    """Formats seconds from the recording start as clock times (or elapsed time without a start)."""

    start: datetime | None
    duration_s: float

    @property
    def multi_day(self) -> bool:
        if self.start is None:
            return self.duration_s > 86400
        end = self.start + timedelta(seconds=self.duration_s)
        return end.date() != self.start.date()

    def day_of(self, seconds: float) -> int:
        """1-based day of the recording (calendar day with a start time, 24 h blocks without)."""
        if self.start is None:
            return int(seconds // 86400) + 1
        return ((self.start + timedelta(seconds=seconds)).date() - self.start.date()).days + 1

    def at(self, seconds: float | None, with_day: bool | None = None) -> str:
        if seconds is None:
            return DASH
        show_day = self.multi_day if with_day is None else with_day
        if self.start is None:
            total = int(round(seconds))
            d, rem = divmod(total, 86400)
            hms = f"{rem // 3600:02d}:{rem % 3600 // 60:02d}:{rem % 60:02d}"
            return f"+{d}d {hms}" if d or show_day else f"+{hms}"
        t = self.start + timedelta(seconds=seconds)
        return f"Day {self.day_of(seconds)} {t:%H:%M:%S}" if show_day else f"{t:%H:%M:%S}"

    def datetime_at(self, seconds: float) -> str:
        if self.start is None:
            return self.at(seconds, with_day=True)
        return f"{self.start + timedelta(seconds=seconds):%Y-%m-%d %H:%M:%S}"


def recording_start(ctx: ScanningReportContext) -> datetime | None:
    """The clock start: the header's, else the findings', else the recording's (``None`` if unknown)."""
    if ctx.header.recording_start is not None:
        return ctx.header.recording_start
    parsed = parse_iso(ctx.findings.summary.start_time)
    if parsed is not None:
        return parsed
    return ctx.recording.start_time if ctx.recording is not None else None


def clock_for(ctx: ScanningReportContext) -> Clock:
    return Clock(recording_start(ctx), ctx.findings.summary.recording.duration_s)


def duration_text(seconds: float | None) -> str:
    """``3 d 04 h 12 min`` / ``4 h 12 min`` / ``12 min 5 s``."""
    if seconds is None:
        return DASH
    total = int(round(seconds))
    d, rem = divmod(total, 86400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    if d:
        return f"{d} d {h:02d} h {m:02d} min"
    if h:
        return f"{h} h {m:02d} min"
    return f"{m} min {s} s"


def num(value: float | int | None, digits: int = 0, unit: str = "") -> str:
    if value is None:
        return DASH
    text = f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,d}"
    return f"{text} {unit}".rstrip()


def _hr_point(point: HeartRatePoint | None, clock: Clock) -> str:
    if point is None:
        return DASH
    return f"{point.bpm:.0f} bpm at {clock.at(point.time_s)}"


def header_rows(header: ReportHeader, clock: Clock, findings: Findings) -> tuple[list[Row], list[Row]]:
    """Left (patient and order) and right (recording) columns of the header block."""
    s = findings.summary
    birth = header.birth_date.isoformat() if isinstance(header.birth_date, date) else DASH
    ordering = header.ordering_physician or DASH
    if header.ordering_npi:
        ordering += f" (NPI {header.ordering_npi})"
    start = header.recording_start or clock.start
    end = header.recording_end or (start + timedelta(seconds=s.recording.duration_s) if start else None)
    wear = header.wear_time_s if header.wear_time_s is not None else s.wear_time_s
    analyzable = header.analyzable_time_s if header.analyzable_time_s is not None else s.analyzable_time_s
    pct = f" ({100.0 * analyzable / wear:.1f} % of wear)" if wear else ""
    left = [
        Row("Patient", header.patient_name or DASH),
        Row("Patient ID", header.patient_id or s.recording.patient_id or DASH),
        Row("Birth date / sex", f"{birth} / {header.sex or DASH}"),
        Row("Ordering physician", ordering),
        Row("Indication", "; ".join(header.indications) or DASH),
        Row("Facility", header.facility or DASH),
    ]
    right = [
        Row("Study", f"{header.study_id or DASH}   (report version {header.report_version})"),
        Row("Device", header.device or s.recording.device or DASH),
        Row("Start", f"{start:%Y-%m-%d %H:%M:%S}" if start else DASH),
        Row("End", f"{end:%Y-%m-%d %H:%M:%S}" if end else DASH),
        Row("Wear time", duration_text(wear)),
        Row("Analyzable time", duration_text(analyzable) + pct),
    ]
    return left, right


def summary_sections(findings: Findings, clock: Clock) -> list[Section]:
    """The summary page, section by section (heart rate, ectopy, AF, pauses, AV block, HRV)."""
    s = findings.summary
    e = s.ectopy
    hr = s.heart_rate
    by = s.beats_by_class
    af = findings.episodes_of(EpisodeType.AF, EpisodeType.FLUTTER)
    longest_af = max(af, key=lambda x: x.duration_s, default=None)
    brady = findings.episodes_of(EpisodeType.BRADY)
    tachy = findings.episodes_of(EpisodeType.TACHY)
    avb2 = findings.episodes_of(EpisodeType.AVB2)
    avb3 = findings.episodes_of(EpisodeType.AVB3)
    p = s.pauses
    sections = [
        Section("Heart rate", (
            Row("Minimum", _hr_point(hr.min, clock)),
            Row("Mean", num(hr.mean_bpm, 0, "bpm")),
            Row("Maximum", _hr_point(hr.max, clock)),
            Row("Total beats", num(s.total_beats)),
            Row("By class N / S / V / F / Q", " / ".join(num(by.get(c, 0)) for c in "NSVFQ")),
            Row("Bradycardia / tachycardia episodes", f"{len(brady)} / {len(tachy)}"),
        )),
        Section("Ventricular ectopy", (
            Row("Total V beats (burden)", f"{num(e.v_total)} ({e.v_burden_pct:.2f} %)"),
            Row("Isolated / couplets / triplets", f"{num(e.v_isolated)} / {num(e.v_couplets)} / "
                                                  f"{num(e.v_triplets)}"),
            Row("VT runs (sustained)", f"{num(e.v_runs)} ({num(e.v_runs_sustained)})"),
            Row("Longest / fastest run", f"{num(e.v_longest_run_beats)} beats / "
                                         f"{num(e.v_fastest_run_bpm, 0, 'bpm')}"),
            Row("Bigeminy / trigeminy episodes", f"{e.v_bigeminy_episodes} / {e.v_trigeminy_episodes}"),
        )),
        Section("Supraventricular ectopy", (
            Row("Total S beats (burden)", f"{num(e.s_total)} ({e.s_burden_pct:.2f} %)"),
            Row("Isolated / couplets", f"{num(e.s_isolated)} / {num(e.s_couplets)}"),
            Row("SVT runs", num(e.svt_runs)),
            Row("Longest / fastest run", f"{num(e.s_longest_run_beats)} beats / "
                                         f"{num(e.s_fastest_run_bpm, 0, 'bpm')}"),
        )),
        Section("Atrial fibrillation / flutter", (
            Row("AF burden", f"{s.af_burden_pct:.1f} % ({duration_text(s.af_time_s)})"),
            Row("Episodes", num(len(af))),
            Row("Longest episode", DASH if longest_af is None else
                f"{duration_text(longest_af.duration_s)} from {clock.at(longest_af.start_s)}"),
        )),
        Section("Pauses and AV conduction", (
            Row(f"Pauses \u2265 {p.threshold_s:.1f} s / \u2265 {p.long_threshold_s:.1f} s",
                f"{p.count} / {p.long_count}"),
            Row("Longest RR", DASH if p.longest_s is None else
                f"{p.longest_s:.2f} s at {clock.at(p.longest_time_s)}"),
            Row("Suspected 2nd / 3rd degree AV block", f"{len(avb2)} / {len(avb3)} episodes"),
        )),
        Section("Heart rate variability (NN intervals)", (
            Row("SDNN / SDANN", f"{num(s.hrv.sdnn_ms, 0, 'ms')} / {num(s.hrv.sdann_ms, 0, 'ms')}"),
            Row("rMSSD / pNN50", f"{num(s.hrv.rmssd_ms, 0, 'ms')} / {num(s.hrv.pnn50_pct, 1, '%')}"),
        )),
    ]
    return sections


def hourly_rows(findings: Findings, clock: Clock) -> list[HourlyRow]:
    rows = []
    for h in findings.hourly:
        if clock.start is not None:
            t = clock.start + timedelta(seconds=h.start_s)
            label = f"D{clock.day_of(h.start_s)} {t:%H:%M}" if clock.multi_day else f"{t:%H:%M}"
        else:
            label = clock.at(h.start_s)
        rows.append(HourlyRow(
            time=label, beats=num(h.beats), min_hr=num(h.min_hr_bpm), mean_hr=num(h.mean_hr_bpm),
            max_hr=num(h.max_hr_bpm), v_beats=num(h.v_beats), s_beats=num(h.s_beats),
            af_min=num(h.af_s / 60.0, 1) if h.af_s else "0",
            analyzable_min=num(h.analyzable_s / 60.0, 0),
        ))
    return rows


def wrap(text: str, width: int) -> list[str]:
    """Text wrapped to ``width`` characters, paragraphs kept (empty lines preserved)."""
    import textwrap

    lines: list[str] = []
    for para in text.strip().splitlines():
        lines.extend(textwrap.wrap(para, width) or [""])
    return lines
